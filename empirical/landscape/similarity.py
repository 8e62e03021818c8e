"""Scattered gradients seen through adversarial perturbations (Liu et al. 2020, §4.3 L-C8).

For a unit direction v in parameter space (global L2 norm 1 over the chosen tensors: the top Hessian
eigenvector, or a Gaussian vector normalized to unit norm as in ``run/perturb_param.py``) and each scale a,
build ``theta+ = theta + a v`` and ``theta- = theta - a v``, run the attack on each, and compare per example

    cos_raw_i  = <delta+_i, delta-_i> / (||delta+_i|| ||delta-_i||)
    cos_sign_i = the same for sign(delta+_i), sign(delta-_i)

(a zero perturbation gives cosine 0, ``torch.nn.functional.cosine_similarity``'s convention). With
``per_example`` every row also holds the per-example lists ``cos_raw`` and ``cos_sign`` (for paired tests
between two directions: the attacks of a given scale draw the same random numbers whatever the direction).
The claim: for the same a, similarity is lower for models trained with a larger eps. a = 0 is the control: the attack's
random start alone makes the cosine < 1, because delta+ and delta- use different draws of one generator.
The robust error of theta+ and theta- (on their own adversarial examples) and their clean error are
reported too (``empirical.evaluate``).

Random streams (``advland.seeding``, master seed ``seed``): the attack on theta+ (theta-) at the k-th scale of
the sorted grid draws from ``"cosine/scale-{k}/plus"`` (``".../minus"``), ``ATTACK_STREAM.format(k=k, side=...)``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from advland.seeding import torch_generator

from .directions import normalize, place
from ..core.batching import check_batch_size
from ..core.state import preserved
from ..evaluate import check_data, evaluate

ATTACK_STREAM = "cosine/scale-{k}/{side}"


def perturbation_cosine(model: nn.Module, x, y, params, direction, scales, *, attack: Callable,
                        bn_mode: str = "eval", seed: int = 0, batch_size: int = 100,
                        per_example: bool = False) -> dict:
    """Mean/std of cos(delta+, delta-) (raw and sign) and the robust/clean errors of theta +- a v, per a.

    ``direction`` (aligned with ``params``) is rescaled to global unit norm first. The control a = 0 is
    always reported (prepended when ``scales`` lacks it). The attacks draw from the streams of the module
    docstring.
    """
    if attack is None:
        raise ValueError("the perturbation cosine needs an attack (cosines of zero perturbations are undefined)")
    check_batch_size(batch_size)
    check_data(x, y)
    grid = np.asarray(scales, dtype=float).reshape(-1)
    if grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid < 0):
        raise ValueError(f"scales must be a non-empty list of finite numbers >= 0, got {scales!r}")
    grid = np.unique(np.concatenate([[0.0], grid]))
    v = normalize(list(direction), params, "unit")
    rows = []
    with preserved(model, bn_mode):
        base = [p.detach().clone() for _, p in params]
        for k, a in enumerate(grid):
            deltas, errors = [], {}
            for side, sign in (("plus", 1.0), ("minus", -1.0)):
                place(params, base, [(sign * a, v)])
                r = evaluate(model, x, y, attack=attack, bn_mode=bn_mode, batch_size=batch_size, keep_delta=True,
                             generator=torch_generator(seed, ATTACK_STREAM.format(k=k, side=side)))
                errors[f"error_{side}"] = 1.0 - r["robust_acc"]
                errors[f"clean_error_{side}"] = 1.0 - r["clean_acc"]
                deltas.append(r["delta"].flatten(1))
            raw = F.cosine_similarity(deltas[0], deltas[1], dim=1)
            sgn = F.cosine_similarity(deltas[0].sign(), deltas[1].sign(), dim=1)
            rows.append({"scale": float(a),
                         "cos_raw_mean": float(raw.mean()), "cos_raw_std": float(raw.std(correction=0)),
                         "cos_sign_mean": float(sgn.mean()), "cos_sign_std": float(sgn.std(correction=0)),
                         **errors})
            if per_example:
                rows[-1].update(cos_raw=raw.tolist(), cos_sign=sgn.tolist())
    return {"rows": rows, "bn_mode": bn_mode, "n": int(len(x)), "seed": int(seed),
            "params": [n for n, _ in params]}
