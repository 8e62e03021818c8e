"""The measures a training unit takes at its snapshots: their names, parameters and defaults, resolved before a
unit is built (so that equal measurements get equal unit keys). Torch-free: plans import it.

A measure is a dict ``{"name": ..., "label": ..., **params}``; ``resolve_measures`` fills every default, sets
``label`` to the name when absent (labels must be unique within a unit: they name the results), replaces
``eps: None`` by the training eps (the target of the run's schedule) and checks every value. The computations
are in ``measurements``; what each returns is documented there. Parameters shared by several measures mean the
same everywhere:

* ``split`` / ``n``: the first ``n`` examples of the split as the run sees it (``measurements.examples``);
* ``eps``: the input budget in absolute units, in the training norm; ``steps``: PGD iterations, step
  2.5 eps / steps (Madry et al.'s rule, also the training attack's default);
* ``bn_mode``: the BatchNorm mode of every forward pass of the measure, recorded in its result.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping

from advland.empirical.names import BALLS, BN_MODES, HESSIAN_PARAM_SETS, SPLITS

HESSIAN_LOSSES = ("clean", "adversarial")
EVAL_ATTACKS = ("pgd", "apgd-ce", "apgd-dlr")
COSINE_DIRECTIONS = ("top", "random")

_HESSIAN = {"n": 500, "split": "train", "loss": "adversarial", "k": 1, "steps": 20, "eps": None,
            "bn_mode": "eval", "params": "all", "tol": 1e-3, "max_iter": None}
DEFAULTS: dict[str, dict[str, Any]] = {
    "eval": {"split": "test", "n": 1000, "attack": "pgd", "steps": 10, "restarts": 1, "eps": None,
             "bn_mode": "eval"},
    "hessian": _HESSIAN,
    "cosine": {"n": 200, "split": "test", "scales": [0.0, 0.1, 0.2, 0.5], "directions": list(COSINE_DIRECTIONS),
               "steps": 10, "eps": None, "bn_mode": "eval", "per_example": False,
               "hessian": {k: v for k, v in _HESSIAN.items() if k != "k"}},
    "flatness-avg": {"xi": 0.5, "samples": 5, "n": 500, "split": "test", "steps": 5, "eps": None,
                     "ball": "relative", "bn_mode": "eval"},
    "flatness-worst": {"xi": 0.003, "iterations": 10, "attempts": 2, "n": 500, "split": "test", "eps": None,
                       "lr": 0.01, "ball": "relative", "bn_mode": "eval"},
    "wu-curve": {"alphas": [0.5], "directions": 3, "n": 500, "split": "test", "steps": 5, "eps": None,
                 "bn_mode": "eval"},
    "rescale": {"alphas": [0.5, 2.0], "xi_relative": 0.5, "xi_absolute": None, "samples": 3, "worst_xi": 0.01,
                "worst_iterations": 5, "worst_attempts": 1, "n": 200, "split": "test", "steps": 5, "eps": None,
                "bn_mode": "eval"},
}
MEASURE_NAMES = tuple(DEFAULTS)


# ------------------------------------------------------------------ value checks (each returns the clean value)

def _choice(options) -> Callable:
    def check(v):
        if v not in options:
            raise ValueError(f"must be one of {', '.join(map(str, options))}, got {v!r}")
        return v
    return check


def _int(low: int) -> Callable:
    def check(v):
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ValueError(f"must be an integer >= {low}, got {v!r}")
        return v
    return check


def _number(low: float, *, strict: bool = False) -> Callable:
    def check(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < low or (
                strict and v == low):
            raise ValueError(f"must be a finite number {'>' if strict else '>='} {low}, got {v!r}")
        return float(v)
    return check


def _optional(check: Callable) -> Callable:
    return lambda v: None if v is None else check(v)


def _numbers(each: Callable) -> Callable:
    def check(v):
        if not isinstance(v, (list, tuple)) or not v:
            raise ValueError(f"must be a non-empty list, got {v!r}")
        return [each(x) for x in v]
    return check


def _subset(options) -> Callable:
    def check(v):
        if not isinstance(v, (list, tuple)) or not v or any(x not in options for x in v) or len(set(v)) < len(v):
            raise ValueError(f"must be a non-empty list of distinct values among {', '.join(options)}, got {v!r}")
        return [x for x in options if x in v]
    return check


def _bool(v):
    if not isinstance(v, bool):
        raise ValueError(f"must be true or false, got {v!r}")
    return v


_COMMON = {"split": _choice(SPLITS), "n": _int(1), "steps": _int(1), "eps": _optional(_number(0.0)),
           "bn_mode": _choice(BN_MODES)}
CHECKS: dict[str, dict[str, Callable]] = {
    "eval": {"attack": _choice(EVAL_ATTACKS), "restarts": _int(1)},
    "hessian": {"loss": _choice(HESSIAN_LOSSES), "k": _int(1), "params": _choice(HESSIAN_PARAM_SETS),
                "tol": _number(0.0, strict=True), "max_iter": _optional(_int(1))},
    "cosine": {"scales": _numbers(_number(0.0)), "directions": _subset(COSINE_DIRECTIONS), "per_example": _bool},
    "flatness-avg": {"xi": _number(0.0), "samples": _int(1), "ball": _choice(BALLS)},
    "flatness-worst": {"xi": _number(0.0), "iterations": _int(1), "attempts": _int(1),
                       "lr": _number(0.0, strict=True), "ball": _choice(BALLS)},
    "wu-curve": {"alphas": _numbers(_number(-math.inf)), "directions": _int(1)},
    "rescale": {"alphas": _numbers(_number(0.0, strict=True)), "xi_relative": _number(0.0),
                "xi_absolute": _optional(_number(0.0)), "samples": _int(1), "worst_xi": _number(0.0),
                "worst_iterations": _int(1), "worst_attempts": _int(1)},
}


def _resolve_params(name: str, given: Mapping, eps: float, where: str) -> dict:
    defaults = DEFAULTS[name]
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ValueError(f"{where}: unknown parameter {', '.join(unknown)}; {name!r} takes {', '.join(defaults)}")
    out = {}
    for key, default in defaults.items():
        value = given.get(key, default)
        if key == "hessian":
            if not isinstance(value, Mapping) or "k" in value:
                raise ValueError(f"{where}: hessian must be a dict of hessian parameters other than k (the top "
                                 f"eigenvector only), got {value!r}")
            value = _resolve_params("hessian", {**value, "k": 1}, eps, f"{where}, hessian")
            value.pop("k")
        else:
            try:
                value = {**_COMMON, **CHECKS[name]}[key](value)
            except ValueError as err:
                raise ValueError(f"{where}: {key} {err}") from None
        out[key] = eps if key == "eps" and value is None else value
    return out


def resolve_measure(measure: Mapping, eps: float) -> dict:
    """``measure`` with every default filled in and checked (module docstring); ``eps``: the training eps."""
    if not isinstance(measure, Mapping) or "name" not in measure:
        raise ValueError(f"a measure is a dict with a 'name' (one of {', '.join(MEASURE_NAMES)}), got {measure!r}")
    name = measure["name"]
    if name not in DEFAULTS:
        raise ValueError(f"unknown measure {name!r}; the measures are {', '.join(MEASURE_NAMES)}")
    label = measure.get("label", name)
    if not isinstance(label, str) or not label:
        raise ValueError(f"measure {name!r}: label must be a non-empty string, got {label!r}")
    params = {k: v for k, v in measure.items() if k not in ("name", "label")}
    resolved = {"name": name, "label": label, **_resolve_params(name, params, eps, f"measure {label!r}")}
    if name == "eval" and resolved["attack"] != "pgd" and resolved["restarts"] != 1:
        raise ValueError(f"measure {label!r}: restarts apply to pgd only, not {resolved['attack']}")
    if name == "cosine" and resolved["eps"] == 0:
        raise ValueError(f"measure {label!r}: the perturbation cosine needs eps > 0 (cosines of zero "
                         "perturbations are undefined)")
    return resolved


def resolve_measures(measures, eps: float) -> list[dict]:
    """Every measure resolved (``resolve_measure``), in the given order; labels must be unique."""
    if isinstance(measures, (str, Mapping)) or not isinstance(measures, (list, tuple)):
        raise ValueError(f"measures must be a list of dicts, got {measures!r}")
    out = [resolve_measure(m, eps) for m in measures]
    labels = [m["label"] for m in out]
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        raise ValueError(f"measure labels must be unique within a unit; repeated: {', '.join(twice)} "
                         "(give the measures distinct 'label's)")
    return out
