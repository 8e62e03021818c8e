"""Hessian-vector products of the exact data-set loss, by three independent routes.

The loss is the sample-weighted mean cross-entropy over a FIXED data set (x, y) of N examples,
evaluated in batches of at most ``batch_size``:

    L(θ) = Σ_b (n_b / N) · mean_{i ∈ b} CE(f(x_i; θ), y_i)  =  (1/N) Σ_i CE(f(x_i; θ), y_i),

so (in eval mode) the batch size changes neither L nor its derivatives. In BatchNorm train mode
the batch statistics depend on the partition, so L then depends on ``batch_size`` by definition.
This is the exact mean reduction of curvlinops; hessian-eigenthings averages batches unweighted
and Liu et al. drop the last partial batch (util/hessian.py), both of which we avoid.

Vectors are lists of tensors shaped like the selected parameters. The Hessian is taken w.r.t. the
selected parameters only; the other parameters and all buffers are constants. None of these
functions change the model's train/eval flags: callers set the BatchNorm mode (``state.preserved``).
Every forward pass feeds the module fresh copies of its buffers (``functional_call``), so a train-mode
BatchNorm updates copies, and no route except the finite difference writes into the model: graphs that
other code holds over the model stay valid.

Routes:
  * ``RetainedGradient``:         ∇_θ L built ONCE with its graph; then H v = ∇_θ ⟨∇_θ L, v⟩ is one
    backward pass through it per product, no forward pass (PyHessian's ``hessian_vector_product`` keeps
    its batch's first-order graph the same way). Memory: every activation of all N examples stays alive;
  * ``hvp_double_backward``:     the same product with the graph rebuilt per call, batch by batch
    (one forward and two reverse passes per batch): the fallback when the graph does not fit;
  * ``hvp_forward_over_reverse``: H v = d/dt ∇_θ L(θ + t v)|_{t=0} (torch.func.jvp of torch.func.grad
    over ``functional_call``);
  * ``hvp_finite_difference``:   H v ≈ (∇L(θ + h v) − ∇L(θ − h v)) / 2h, error O(h²), for tests only.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, jvp

from ..core.batching import batches

HVP_METHODS = ("double_backward", "forward_over_reverse")


def _forward(model: nn.Module, xb: torch.Tensor) -> torch.Tensor:
    """f(x_b; θ) with the module's own parameters and fresh copies of its buffers (module docstring)."""
    return functional_call(model, {k: b.clone() for k, b in model.named_buffers()}, (xb,))


def _batch_loss(model, xb, yb, w) -> torch.Tensor:
    return w * F.cross_entropy(_forward(model, xb), yb)


def loss_value(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> torch.Tensor:
    """L(θ) as defined in the module docstring, without building a graph."""
    with torch.no_grad():
        return sum(_batch_loss(model, xb, yb, w) for xb, yb, w in batches(x, y, batch_size))


def gradient(model, params, x, y, batch_size) -> list[torch.Tensor]:
    """∇_θ L over the selected ``params`` (list of (name, Parameter)), one backward per batch."""
    tensors = [p for _, p in params]
    total = [torch.zeros_like(p) for p in tensors]
    for xb, yb, w in batches(x, y, batch_size):
        g = torch.autograd.grad(_batch_loss(model, xb, yb, w), tensors)
        for t, gi in zip(total, g):
            t.add_(gi)
    return total


def hvp_double_backward(model, params, x, y, v, batch_size) -> list[torch.Tensor]:
    """H v = Σ_b ∇_θ ⟨∇_θ L_b, v⟩ with L_b = (n_b/N) mean_b CE: two reverse passes per batch."""
    tensors = [p for _, p in params]
    total = [torch.zeros_like(p) for p in tensors]
    with torch.enable_grad():
        for xb, yb, w in batches(x, y, batch_size):
            g = torch.autograd.grad(_batch_loss(model, xb, yb, w), tensors, create_graph=True)
            hv = torch.autograd.grad(g, tensors, grad_outputs=v)
            for t, h in zip(total, hv):
                t.add_(h)
    return total


class RetainedGradient:
    """∇_θ L (module docstring) with its graph kept, for H v = ∇_θ ⟨∇_θ L, v⟩ at one backward pass each.

    ``build`` runs the forward and first reverse pass of every batch once (create_graph=True) and sums the
    batch gradients; ``hvp`` back-propagates v through that sum (retain_graph=True), so the graph serves any
    number of products. It describes θ as it was at ``build``: ``hvp`` raises if a selected parameter has
    been written in place since (its autograd version counter moved), rather than mix two θ.
    """

    def __init__(self, tensors, grad, loss: float, saved_bytes: int):
        self.tensors, self.grad, self.loss, self.saved_bytes = tensors, grad, loss, saved_bytes
        self.versions = [t._version for t in tensors]

    @classmethod
    def build(cls, model, params, x, y, batch_size, memory_budget: int) -> RetainedGradient | None:
        """The retained gradient, or None as soon as the tensors its graph saves (distinct storages, counted
        with ``torch.autograd.graph.saved_tensors_hooks``; an upper bound of what it keeps alive) exceed
        ``memory_budget`` bytes: the caller then recomputes per product (``hvp_double_backward``)."""
        tensors = [p for _, p in params]
        storages: dict[int, int] = {}

        def pack(t):
            storage = t.untyped_storage()
            storages[storage.data_ptr()] = storage.nbytes()
            return t

        total, loss = None, 0.0
        with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            for xb, yb, w in batches(x, y, batch_size):
                value = _batch_loss(model, xb, yb, w)
                g = torch.autograd.grad(value, tensors, create_graph=True)
                total = list(g) if total is None else [a + b for a, b in zip(total, g)]
                loss += value.item()
                if sum(storages.values()) > memory_budget:
                    return None
        return cls(tensors, total, loss, sum(storages.values()))

    def hvp(self, v) -> list[torch.Tensor]:
        if [t._version for t in self.tensors] != self.versions:
            raise RuntimeError("the parameters were modified in place after the retained gradient was built: "
                               "build a new one (a new HessianOperator) for the new θ")
        return list(torch.autograd.grad(self.grad, self.tensors, grad_outputs=v, retain_graph=True))


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
