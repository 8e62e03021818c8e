"""Adversarial Weight Perturbation (Wu, Xia, Wang 2020), as in the official ``utils_awp.py``.

One ascent step on a separate *proxy* copy of the model (so that the real model's BatchNorm buffers and
optimizer state are untouched), then a layer-wise rescale: for every tensor ``w_l`` of the parameter set
'weights' of ``empirical.core.params`` (conv and linear weights; biases and BN parameters are never perturbed)

    d_l = grad_{w_l} L(proxy)          (the official code takes one SGD step and uses proxy - w: lr cancels)
    v_l = gamma * ||w_l||_F * d_l / (||d_l||_F + 1e-20)     so that ||v_l|| = gamma ||w_l|| exactly.

Training then adds v to w, computes the update at w + v, restores w (subtracts v) and lets the optimizer
apply that update to w.
"""
from __future__ import annotations

import torch
from torch import nn

from ..core.params import select_params


def awp_direction(model: nn.Module, proxy: nn.Module, loss_fn, gamma: float) -> dict[str, torch.Tensor]:
    """Perturbation v (name -> tensor) for the current batch. ``loss_fn(module) -> scalar`` is the loss the
    proxy ascends (CE on adversarial inputs for AT-AWP; CE + beta*KL for TRADES-AWP). The proxy receives a
    copy of the model's state and runs in train mode (as in the official code); its buffers are discarded."""
    if gamma < 0:
        raise ValueError(f"AWP gamma must be >= 0, got {gamma!r}")
    proxy.load_state_dict(model.state_dict())
    proxy.train()
    named = select_params(proxy, "weights")
    grads = torch.autograd.grad(loss_fn(proxy), [p for _, p in named], allow_unused=True)
    weights = dict(select_params(model, "weights"))
    out = {}
    for (name, _), g in zip(named, grads):
        w = weights[name].detach()
        d = torch.zeros_like(w) if g is None else g.detach()
        out[name] = gamma * w.norm() * d / (d.norm() + 1e-20)
    return out


@torch.no_grad()
def apply_perturbation(model: nn.Module, v: dict[str, torch.Tensor], sign: float) -> None:
    """In place: w_l <- w_l + sign * v_l (sign +1 to perturb, -1 to restore)."""
    params = dict(model.named_parameters())
    for name, t in v.items():
        params[name].add_(t, alpha=sign)
