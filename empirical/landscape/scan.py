"""Loss and accuracy along lines and planes in weight space: theta + a d (+ b e).

At every grid point the (robust) loss on a fixed data set is
``g(a, b) = (1/N) sum_i CE(f_{theta + a d + b e}(x_i + delta_i), y_i)``, where ``delta`` is

* regenerated on the moved model at every point (default; Wu et al. 2020 via AWP#3, Liu et al. 2020
  ``adv_calc_freq=1``),
* frozen: computed once at theta and reused (the "fixed adversarial examples" reading), or
* zero when no attack is given (clean landscape).

An *attack* is any callable ``attack(model, x, y, generator=g) -> delta`` (e.g.
``functools.partial(empirical.attacks.pgd, eps=..., steps=...)``); losses and accuracies come from the one
evaluation loop, ``empirical.evaluate``. Random stream (``advland.seeding``): each point's attack gets a fresh
generator of the stream ``(seed, "scan/attack")``, so points are compared with common random numbers and a
frozen and a regenerated scan coincide at theta. BatchNorm runs in an explicit mode (``bn_mode``) that the
result records; ``recalibrate_bn`` re-estimates the running statistics at every point (eval mode only). In
train mode every batch is normalized with its own statistics, so the loss depends on ``batch_size``.
Parameters, buffers and train flags are restored bit-exactly afterwards (``empirical.core.state.preserved``).
"""
from __future__ import annotations

import copy
import math
from typing import Callable

import numpy as np
import torch
from torch import nn

from advland.seeding import torch_generator

from .directions import check_aligned, global_norm, place
from ..core.batching import slices
from ..core.state import check_bn_mode, preserved
from ..evaluate import check_data, evaluate, loss_and_accuracy

ADV_MODES = ("regenerate", "frozen")
ATTACK_STREAM = "scan/attack"


@torch.no_grad()
def recalibrate_bn(model: nn.Module, x, *, batch_size: int = 500) -> None:
    """Re-estimate every BatchNorm's running mean/var on ``x`` as an exact average over the batches
    (cumulative moving average, momentum None), leaving modes and momenta as they were."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, m.training) for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    try:
        for sl in slices(len(x), batch_size):
            model(x[sl])
    finally:
        for m, (mom, tr) in zip(bns, saved):
            m.momentum, m.training = mom, tr


def _check_grid(name, values) -> np.ndarray:
    arr = np.asarray(values, dtype=float).reshape(-1)
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be a non-empty list of finite numbers, got {values!r}")
    return arr


def scan(model: nn.Module, x, y, params, directions, coords, *, attack: Callable | None = None,
         adversarial: str = "regenerate", bn_mode: str = "eval", recalibrate_bn_on=None, seed: int = 0,
         batch_size: int = 500) -> dict:
    """Loss/accuracy on the grid ``theta + sum_k coords[k][i_k] * directions[k]`` (1 or 2 directions).

    ``params`` is the list of ``(name, parameter)`` the directions are aligned with, ``coords`` one
    sequence of offsets per direction. ``recalibrate_bn_on``: inputs on which BN running statistics are
    re-estimated at every point (requires ``bn_mode='eval'``; None keeps the stored statistics).
    Returns a dict with ``coords``, ``loss`` and ``acc`` arrays shaped like the grid and the settings.
    """
    check_bn_mode(bn_mode)
    check_data(x, y)
    if adversarial not in ADV_MODES:
        raise ValueError(f"adversarial must be one of {ADV_MODES}, got {adversarial!r}")
    if len(directions) not in (1, 2) or len(coords) != len(directions):
        raise ValueError("give one or two directions and one coordinate list per direction")
    if recalibrate_bn_on is not None and bn_mode != "eval":
        raise ValueError("BN recalibration only makes sense with bn_mode='eval' (train mode uses batch stats)")
    for d in directions:
        check_aligned(d, params)
    grids = [_check_grid(f"coords[{k}]", c) for k, c in enumerate(coords)]
    shape = tuple(len(g) for g in grids)
    loss, acc = np.full(shape, np.nan), np.full(shape, np.nan)
    with preserved(model, bn_mode):
        base = [p.detach().clone() for _, p in params]

        def move(point):
            place(params, base, list(zip(point, directions)))
            if recalibrate_bn_on is not None:
                recalibrate_bn(model, recalibrate_bn_on, batch_size=batch_size)

        frozen = None
        if adversarial == "frozen" and attack is not None:
            move([0.0] * len(grids))
            frozen = evaluate(model, x, y, attack=attack, generator=torch_generator(seed, ATTACK_STREAM),
                              clean=False, bn_mode=bn_mode, batch_size=batch_size, keep_delta=True)["delta"]
        for index in np.ndindex(*shape):
            move([g[i] for g, i in zip(grids, index)])
            loss[index], acc[index] = loss_and_accuracy(
                model, x, y, attack=None if frozen is not None else attack, delta=frozen,
                generator=torch_generator(seed, ATTACK_STREAM), bn_mode=bn_mode, batch_size=batch_size)
    return {"coords": [g.tolist() for g in grids], "loss": loss, "acc": acc, "bn_mode": bn_mode,
            "adversarial": "none" if attack is None else adversarial,
            "recalibrate_bn": recalibrate_bn_on is not None, "n": int(len(x)), "seed": int(seed)}


def curvature_check(model: nn.Module, x, y, params, eigenvalue: float, eigenvector, *, h: float = 1e-6,
                    bn_mode: str = "eval", batch_size: int = 500, rtol: float = 1e-2) -> dict:
    """Second difference of the loss on fixed inputs along the UNIT top eigenvector v:

    ``D2 = (L(theta + h v) - 2 L(theta) + L(theta - h v)) / h^2 = v^T H v + O(h^2) = lambda_max``.

    ``x`` is whatever the Hessian was taken on (clean, or adversarial examples frozen at theta). The
    losses are evaluated on a float64 copy of the model (rounding error ~ 1e-16 L / h^2, 1e-4 L at the
    default h), and h is small because a ReLU / max-pool kink crossed within +-h adds a jump that the
    Hessian does not see (LeNet(1) on 50 frozen PGD examples: h = 1e-5 is off by 3 %, h = 1e-6 agrees to
    0.2 %; float32 with h = 1e-2 gives the wrong sign). Returns the second difference, the eigenvalue,
    their relative error and ``ok = rel_error <= rtol``.
    """
    if not h > 0:
        raise ValueError(f"h must be > 0, got {h!r}")
    if abs(global_norm(eigenvector) - 1.0) > 1e-4:
        raise ValueError("eigenvector must have unit global L2 norm (normalize it with 'unit')")
    copy64 = copy.deepcopy(model).double()
    named = dict(copy64.named_parameters())
    values = scan(copy64, x.double(), y, [(n, named[n]) for n, _ in params], [[v.double() for v in eigenvector]],
                  [[-h, 0.0, h]], bn_mode=bn_mode, batch_size=batch_size)["loss"]
    d2 = float((values[0] - 2 * values[1] + values[2]) / h ** 2)
    rel = abs(d2 - eigenvalue) / max(abs(eigenvalue), 1e-12)
    return {"second_difference": d2, "eigenvalue": float(eigenvalue), "h": h, "rel_error": rel,
            "ok": bool(math.isfinite(d2) and rel <= rtol)}
