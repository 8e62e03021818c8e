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


def _channels_last(t: torch.Tensor) -> torch.Tensor:
    """A copy of the 4-D tensor with the strides of channels_last, (C H W, 1, W C, C). ``contiguous`` would leave a
    one-channel kernel with its old strides, which it counts as both layouts, and that the convolution does not."""
    return torch.empty_like(t, memory_format=torch.channels_last).copy_(t)


def _cpu_kernels(model) -> list[nn.Parameter]:
    """The 4-D parameters (convolution kernels) of a module on the CPU not yet in channels_last strides."""
    if not isinstance(model, nn.Module):
        return []
    return [p for p in model.parameters()
            if p.dim() == 4 and p.device.type == "cpu"
            and p.stride() != (p.shape[1] * p.shape[2] * p.shape[3], 1, p.shape[3] * p.shape[1], p.shape[1])]


def to_cpu_channels_last(model: nn.Module) -> nn.Module:
    """Put the model's CPU convolution kernels in channels_last layout, in place (the values are unchanged; only
    the strides are). oneDNN's NHWC kernels are the fast ones on the CPU: a LeNet(4) forward-backward ran about 2x
    faster and a small CIFAR-10 CNN about 1.3x (bench/results/peers.json)."""
    for p in _cpu_kernels(model):
        p.data = _channels_last(p.data)
    return model


@contextlib.contextmanager
def cpu_channels_last(model):
    """``to_cpu_channels_last`` for the body only: afterwards every kernel holds its original tensor again (the
    same storage and strides, so references, optimizers and held graphs see what they saw before). A no-op for
    callables that are not modules and for kernels already in that layout."""
    swapped = [(p, p.data) for p in _cpu_kernels(model)]
    try:
        for p, data in swapped:
            p.data = _channels_last(data)
        yield model
    finally:
        for p, data in swapped:
            p.data = data
