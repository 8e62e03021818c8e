"""Directions in parameter space and moving a model along them.

A *direction* is a list of tensors aligned with a list of ``(name, parameter)`` pairs (a parameter set of
``empirical.core.params``). Normalizations:

* ``'filter'``  (Li et al. 2018, used by Wu et al. 2020 §1.3): d ~ N(0, I); every output filter / row
  ``d_j`` of a tensor with ndim > 1 is rescaled to ``||d_j|| = ||w_j||``; 1-D tensors (biases, BN affine)
  get ``d = 0`` (loss-landscape's "ignore biasbn").
* ``'filter-all'`` (Liu et al. 2020, ``util/param_scanner.py``): the same row rule applied to every tensor,
  1-D tensors element-wise, i.e. ``d_i = sign(g_i) |w_i|`` for biases and BN scalars.
* ``'layer'`` (Stutz et al. 2021 ``layer_l2``): each whole tensor rescaled to ``||d_t|| = ||w_t||``.
* ``'unit'`` (Liu et al. 2020 ``run/perturb_param.py``): one global rescaling to unit L2 norm over all tensors.

Every random draw comes from the caller's ``torch.Generator``, on its device (a CPU generator gives the
same direction whatever the model's device), hence a fixed seed gives the same direction for the same shapes.
"""
from __future__ import annotations

import torch

from ..names import NORMALIZATIONS


def _rows(t: torch.Tensor) -> torch.Tensor:
    """View with one row per output filter/unit (a 1-D tensor gives one row per element)."""
    return t.reshape(t.shape[0], -1) if t.ndim > 1 else t.reshape(-1, 1)


def check_aligned(direction, params) -> None:
    """A direction must hold one tensor per selected parameter, of the same shape."""
    if len(direction) != len(params) or any(d.shape != p.shape for d, (_, p) in zip(direction, params)):
        raise ValueError(f"direction and parameters differ in number or shapes "
                         f"({len(direction)} tensors for {len(params)} parameters)")


def normalize(direction: list[torch.Tensor], params, normalization: str) -> list[torch.Tensor]:
    """Rescale a raw direction (see the module docstring for each rule); returns new tensors."""
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    check_aligned(direction, params)
    weights = [p.detach() for _, p in params]
    if normalization == "unit":
        total = global_norm(direction)
        if total == 0:
            raise ValueError("cannot normalize an all-zero direction to unit norm")
        return [d / total for d in direction]
    out = []
    for d, w in zip(direction, weights):
        if normalization == "filter" and w.ndim <= 1:
            out.append(torch.zeros_like(d))
            continue
        dr, wr = (_rows(d), _rows(w)) if normalization != "layer" else (d.reshape(1, -1), w.reshape(1, -1))
        dn = dr.norm(dim=1, keepdim=True)
        scale = torch.where(dn > 0, wr.norm(dim=1, keepdim=True) / dn.clamp_min(torch.finfo(d.dtype).tiny),
                            torch.zeros_like(dn))
        out.append((dr * scale).reshape(d.shape))
    return out


def random_direction(params, generator: torch.Generator, normalization: str = "filter") -> list[torch.Tensor]:
    """Gaussian direction d ~ N(0, I) shaped like ``params``, then normalized (see module docstring)."""
    if not isinstance(generator, torch.Generator):
        raise ValueError("generator must be a torch.Generator (it makes the direction reproducible)")
    raw = [torch.randn(p.shape, generator=generator, dtype=p.dtype, device=generator.device).to(p.device)
           for _, p in params]
    return normalize(raw, params, normalization)


def global_norm(direction: list[torch.Tensor]) -> float:
    """Euclidean norm of the concatenation of all tensors."""
    return float(torch.sqrt(sum((d.double() ** 2).sum() for d in direction)))


@torch.no_grad()
def place(params, base: list[torch.Tensor], terms) -> None:
    """Set every parameter in place to ``base + sum_k c_k d_k`` for ``terms = [(c_k, d_k), ...]``.

    Always computed from the saved base (never by accumulating steps), so a grid walk has no drift.
    """
    for i, (_, p) in enumerate(params):
        value = base[i].clone()
        for coef, d in terms:
            value.add_(d[i], alpha=float(coef))
        p.copy_(value)
