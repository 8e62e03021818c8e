"""Per-epoch training measurements: full-batch gradient norm, per-layer weight norms, dead ReLU fractions.

All of them leave the model bit-exactly as they found it (``empirical.core.state.preserved``) and never touch
``.grad`` of the parameters.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..attacks import pgd
from ..core.batching import slices
from ..core.state import preserved


def full_batch_grad_norm(model: nn.Module, x, y, *, eps=0.0, attack=None, bn_mode="eval",
                         batch_size=500) -> float:
    """||grad_w L(w)||_2 over all parameters, with L the mean CE over the whole set (x, y) (Liu et al. 2020
    §4.3 use the full-batch gradient of the adversarial loss). With eps > 0 each example is replaced by its
    PGD adversarial example (``attack``: extra pgd keyword arguments, e.g. steps, step_size, norm) computed at
    the current weights. Accumulated over mini-batches as sum_b (sum of losses in b) / N."""
    attack = dict(attack or {})
    params = [p for p in model.parameters() if p.requires_grad]
    total = [torch.zeros_like(p) for p in params]
    n = x.shape[0]
    with preserved(model, bn_mode):
        for sl in slices(n, batch_size):
            xb, yb = x[sl], y[sl]
            if eps > 0:
                xb = xb + pgd(model, xb, yb, eps=eps, **attack)
            loss = F.cross_entropy(model(xb).float(), yb, reduction="sum") / n
            for t, g in zip(total, torch.autograd.grad(loss, params, allow_unused=True)):
                if g is not None:
                    t += g
    return float(torch.sqrt(sum((t.double() ** 2).sum() for t in total)))


def weight_norms(model: nn.Module) -> dict[str, float]:
    """Frobenius norm of every parameter tensor, by name (Liu et al. 2020 relate vanishing layer norms to
    "dead" layers)."""
    return {name: float(p.detach().norm()) for name, p in model.named_parameters()}


def dead_relu_fraction(model: nn.Module, x, *, bn_mode="eval", batch_size=500) -> dict[str, float]:
    """For every nn.ReLU module: the fraction of its output units (each output coordinate: channel x spatial
    position, batch excluded) whose activation is zero on every input of x."""
    relus = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.ReLU)]
    alive: dict[str, torch.Tensor] = {}

    def hook_for(name):
        def hook(_module, _inputs, out):
            active = (out.detach() > 0).any(dim=0)
            if name in alive and alive[name].shape != active.shape:
                raise ValueError(f"ReLU module {name!r} is applied to tensors of different shapes")
            alive[name] = active | alive[name] if name in alive else active
        return hook

    handles = [m.register_forward_hook(hook_for(n)) for n, m in relus]
    try:
        with preserved(model, bn_mode), torch.no_grad():
            for sl in slices(x.shape[0], batch_size):
                model(x[sl])
    finally:
        for h in handles:
            h.remove()
    return {n: 1.0 - float(a.float().mean()) for n, a in alive.items()}
