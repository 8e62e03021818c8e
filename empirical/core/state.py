"""Model state discipline shared by every measurement: explicit BatchNorm mode, bit-exact restore.

Every instrument that perturbs weights or runs forward passes in train mode wraps its work in
``preserved(model, bn_mode)``: parameters, buffers (BN running statistics, ``num_batches_tracked``)
and the train/eval flags of every submodule are snapshotted and put back bit for bit afterwards,
even when the work raises.
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn

from ..names import BN_MODES


def check_bn_mode(bn_mode: str) -> str:
    if bn_mode not in BN_MODES:
        raise ValueError(f"bn_mode must be one of {BN_MODES}, got {bn_mode!r}")
    return bn_mode


def _tensors(model: nn.Module) -> dict:
    """Every parameter and every buffer, non-persistent buffers included (``state_dict`` omits those)."""
    return {**dict(model.named_parameters()), **dict(model.named_buffers())}


def snapshot(model: nn.Module) -> dict:
    """Copies of all parameters and buffers, and each submodule's training flag."""
    return {
        "tensors": {k: v.detach().clone() for k, v in _tensors(model).items()},
        "training": {name: m.training for name, m in model.named_modules()},
    }


def _same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bitwise equality (tells -0.0 from 0.0 and matches NaN payloads, unlike ``torch.equal``)."""
    return (a.shape == b.shape and a.dtype == b.dtype
            and torch.equal(a.detach().reshape(-1).view(torch.uint8), b.detach().reshape(-1).view(torch.uint8)))


def restore(model: nn.Module, snap: dict) -> None:
    """Write a snapshot back in place (same storage, so optimizers and references stay valid). Only tensors whose
    bits changed are written: an untouched tensor keeps its autograd version counter, so a graph that other code
    holds over the model (saved parameters, eval-mode BN statistics) stays usable."""
    with torch.no_grad():
        for k, v in _tensors(model).items():
            if not _same_bits(v, snap["tensors"][k]):
                v.copy_(snap["tensors"][k])
    for name, m in model.named_modules():
        m.training = snap["training"][name]


@contextlib.contextmanager
def preserved(model: nn.Module, bn_mode: str = "eval"):
    """Run the body with the whole model in ``bn_mode`` ('eval' or 'train'), then restore everything."""
    check_bn_mode(bn_mode)
    snap = snapshot(model)
    model.train(bn_mode == "train")
    try:
        yield model
    finally:
        restore(model, snap)


def state_equal(a: dict, b: dict) -> bool:
    """Bit-exact equality of two snapshots (used by the tests of every instrument)."""
    ta, tb = a["tensors"], b["tensors"]
    return (ta.keys() == tb.keys() and a["training"] == b["training"]
            and all(torch.equal(ta[k], tb[k]) for k in ta))
