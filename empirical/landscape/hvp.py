"""Hessian-vector products of the exact data-set loss, by three independent routes.

The loss is the sample-weighted mean cross-entropy over a FIXED data set (x, y) of N examples,
evaluated in batches of at most ``batch_size``:

    L(θ) = Σ_b (n_b / N) · mean_{i ∈ b} CE(f(x_i; θ), y_i)  =  (1/N) Σ_i CE(f(x_i; θ), y_i),

so (in eval mode) the batch size changes neither L nor its derivatives. In BatchNorm train mode
the batch statistics depend on the partition, so L then depends on ``batch_size`` by definition.
This is the exact mean reduction of curvlinops; hessian-eigenthings averages batches unweighted
and Liu et al. drop the last partial batch (peers.md §1.2, §1.6), both of which we avoid.

Vectors are lists of tensors shaped like the selected parameters. The Hessian is taken w.r.t. the
selected parameters only; the other parameters and all buffers are constants. None of these
functions change the model's train/eval flags: callers set the BatchNorm mode (``state.preserved``).

Routes (peers.md §1.5):
  * ``hvp_double_backward``:     H v = ∇_θ ⟨∇_θ L, v⟩ (reverse over reverse, on the module itself);
  * ``hvp_forward_over_reverse``: H v = d/dt ∇_θ L(θ + t v)|_{t=0} (torch.func.jvp of torch.func.grad
    over ``functional_call``); buffers are fed as fresh copies so train-mode BN updates stay local;
  * ``hvp_finite_difference``:   H v ≈ (∇L(θ + h v) − ∇L(θ − h v)) / 2h, error O(h²), for tests only.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, jvp

from ..core.batching import batches, check_batch_size

PARAM_SETS = ("all", "weights")
HVP_METHODS = ("double_backward", "forward_over_reverse")


def select_params(model: nn.Module, which: str = "all") -> list[tuple[str, nn.Parameter]]:
    """The parameters the Hessian is taken over.

    'all': every parameter (Liu et al., util/hessian.py: weights, biases, BN affine);
    'weights': tensors with ndim > 1 only (Stutz et al., common/hessian.py: no biases, no BN).
    """
    if which not in PARAM_SETS:
        raise ValueError(f"params must be one of {PARAM_SETS}, got {which!r}")
    chosen = [(n, p) for n, p in model.named_parameters()
              if p.requires_grad and (which == "all" or p.ndim > 1)]
    if not chosen:
        raise ValueError(f"parameter set {which!r} matches no trainable parameter of "
                         f"{type(model).__name__}")
    return chosen


def loss_value(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> torch.Tensor:
    """L(θ) as defined in the module docstring, without building a graph."""
    with torch.no_grad():
        return sum(w * F.cross_entropy(model(xb), yb) for xb, yb, w in batches(x, y, batch_size))


def gradient(model, params, x, y, batch_size) -> list[torch.Tensor]:
    """∇_θ L over the selected ``params`` (list of (name, Parameter)), one backward per batch."""
    tensors = [p for _, p in params]
    total = [torch.zeros_like(p) for p in tensors]
    for xb, yb, w in batches(x, y, batch_size):
        g = torch.autograd.grad(w * F.cross_entropy(model(xb), yb), tensors)
        for t, gi in zip(total, g):
            t.add_(gi)
    return total


def hvp_double_backward(model, params, x, y, v, batch_size) -> list[torch.Tensor]:
    """H v = Σ_b ∇_θ ⟨∇_θ L_b, v⟩ with L_b = (n_b/N) mean_b CE: two reverse passes per batch."""
    tensors = [p for _, p in params]
    total = [torch.zeros_like(p) for p in tensors]
    for xb, yb, w in batches(x, y, batch_size):
        g = torch.autograd.grad(w * F.cross_entropy(model(xb), yb), tensors, create_graph=True)
        hv = torch.autograd.grad(g, tensors, grad_outputs=v)
        for t, h in zip(total, hv):
            t.add_(h)
    return total


def hvp_forward_over_reverse(model, params, x, y, v, batch_size) -> list[torch.Tensor]:
    """H v = Σ_b jvp(grad(L_b), θ, v): one forward-mode pass through one reverse pass per batch."""
    names = [n for n, _ in params]
    theta = {n: p.detach() for n, p in params}
    tangent = dict(zip(names, v))
    buffers = dict(model.named_buffers())
    total = [torch.zeros_like(p) for _, p in params]
    for xb, yb, w in batches(x, y, batch_size):
        def batch_loss(th, xb=xb, yb=yb, w=w):
            state = {**th, **{k: b.clone() for k, b in buffers.items()}}
            return w * F.cross_entropy(functional_call(model, state, (xb,)), yb)

        with torch.no_grad():  # keeps autograd off the unselected parameters; torch.func ignores it
            _, hv = jvp(grad(batch_loss), (theta,), (tangent,))
        for t, n in zip(total, names):
            t.add_(hv[n])
    return total


def hvp_finite_difference(model, params, x, y, v, batch_size, step=None) -> list[torch.Tensor]:
    """Central difference (∇L(θ + h v) − ∇L(θ − h v)) / 2h; truncation error O(h² ‖∇³L‖ ‖v‖³).

    Default step: ‖h v‖ = ε^(1/3) · max(1, ‖θ‖) with ε the dtype's machine epsilon (balances the
    O(h²) truncation against the O(ε/h) rounding). Parameters are moved in place and copied back
    bit for bit, even on error.
    """
    tensors = [p for _, p in params]
    if step is None:
        eps = torch.finfo(tensors[0].dtype).eps
        theta_norm = torch.sqrt(sum((p.detach() ** 2).sum() for p in tensors)).item()
        v_norm = torch.sqrt(sum((vi ** 2).sum() for vi in v)).item()
        if v_norm == 0.0:
            return [torch.zeros_like(p) for p in tensors]
        step = eps ** (1 / 3) * max(1.0, theta_norm) / v_norm
    originals = [p.detach().clone() for p in tensors]
    grads = []
    try:
        for sign in (1.0, -1.0):
            with torch.no_grad():
                for p, p0, vi in zip(tensors, originals, v):
                    p.copy_(p0 + sign * step * vi)
            grads.append(gradient(model, params, x, y, batch_size))
    finally:
        with torch.no_grad():
            for p, p0 in zip(tensors, originals):
                p.copy_(p0)
    return [(gp - gm) / (2 * step) for gp, gm in zip(*grads)]


HVP_FUNCTIONS = {"double_backward": hvp_double_backward,
                 "forward_over_reverse": hvp_forward_over_reverse}
