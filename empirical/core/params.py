"""The one parameter selection: which trainable tensors an instrument differentiates, moves or perturbs.

Every set keeps the model's ``named_parameters()`` order and only tensors with ``requires_grad``:

* ``'all'``: every trainable parameter (weights, biases, normalization affine parameters). Liu et al. (2020)
  take the Hessian over all of them (``util/hessian.py``) and scan along directions covering all of them.
* ``'weights'``: the tensors with ndim > 1, i.e. convolution kernels and linear matrices; no biases, no
  normalization parameters. Stutz et al. (2021) take the Hessian over these (``common/hessian.py``). It is also
  the AWP perturbation set of Wu et al. (2020): ``utils_awp.py`` perturbs the tensors with more than one
  dimension whose name contains 'weight', which are exactly these tensors in every model of the zoo.
* ``'no-norm'``: every trainable parameter not owned by a normalization layer (``normalization_param_names``).
  Stutz et al. never perturb normalization layers when measuring flatness (their ``no_normalization`` filter).
"""
from __future__ import annotations

from torch import nn

from ..names import PARAM_SETS

_NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm, nn.LocalResponseNorm)


def normalization_param_names(model: nn.Module) -> set[str]:
    """Names of the parameters owned by normalization layers (BatchNorm, GroupNorm, LayerNorm, ...), recognised
    by module type, or by a class name containing 'Norm' for home-made ones, never by parameter names."""
    names = set()
    for mname, m in model.named_modules():
        if isinstance(m, _NORM_TYPES) or "Norm" in type(m).__name__:
            names.update(f"{mname}.{p}" if mname else p for p, _ in m.named_parameters(recurse=False))
    return names


def select_params(model: nn.Module, which: str = "all", *, sets=PARAM_SETS) -> list[tuple[str, nn.Parameter]]:
    """The ``(name, parameter)`` pairs of the set ``which`` (module docstring). ``sets``: the set names the caller
    accepts (the Hessian takes ``names.HESSIAN_PARAM_SETS``). Raises ValueError for a set name outside ``sets``
    or a set that matches no trainable parameter."""
    if which not in sets or which not in PARAM_SETS:
        raise ValueError(f"params must be one of {tuple(sets)}, got {which!r} (unknown parameter set)")
    skip = normalization_param_names(model) if which == "no-norm" else set()
    chosen = [(n, p) for n, p in model.named_parameters()
              if p.requires_grad and (which != "weights" or p.ndim > 1) and n not in skip]
    if not chosen:
        raise ValueError(f"parameter set {which!r} matches no trainable parameter of {type(model).__name__}")
    return chosen
