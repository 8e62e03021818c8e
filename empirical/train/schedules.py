"""Epsilon and learning-rate schedules, including Liu et al. (2020) Periodic Adversarial Scheduling (PAS).

Time ``t`` is measured in epochs (a float when evaluated per batch: ``epoch + (i + 1) / batches_per_epoch`` at
batch i, as AWP's ``AT_AWP/train_cifar10.py``; Liu et al.'s ``util/train.py`` uses the batch's start, i / batches).
Training is split into periods ``[t_k, t_{k+1})`` given by their boundaries, e.g. ``(0, 100, 150, 200)``;
a single period ``(0, epochs)`` is the non-periodic case.

PAS (Liu et al. 2020 §4.4; github.com/liuchen11/AdversaryLossLandscape ``util/seq_parser.py``), inside a period of length T starting at t_k, with
``s = (t - t_k) / T``:

* ``const``:  eps(t) = eps_target
* ``cos``:    eps(t) = min(eps_target, 1/2 eps_max (1 - cos(pi s)))
* ``linear``: eps(t) = min(eps_target, eps_max s)

eps_max over-shoots the target so that the ramp reaches it inside the period and is clipped there. The default
over-shoot is Liu et al.'s for each data set (``OVERSHOOT``), read from the names of the official checkpoints
(``models/lenet_mnist/cosine/*/lenet_16_eps0.4_max0.6_100.ckpt``, ``.../linear/*/..._eps0.4_max0.8_...``,
``models/*_cifar10/*_{cosine,linear}/*/..._eps8_..._max16_...``): MNIST 1.5x for cos and 2x for linear, CIFAR-10
2x for both. With 2x both ramps reach the target at mid-period (cos: 1 - cos(pi s) = 1 at s = 1/2); with 1.5x the
cos ramp reaches it at s = acos(-1/3) / pi = 0.608. Other data sets get 2x. eps stays in absolute units (§4.7
pitfall). The PGD step is rescaled with eps: ``step(t) = step_0 * eps(t) / eps_target``.
"""
from __future__ import annotations

import math

EPS_SCHEDULES = ("const", "cos", "linear")
LR_SCHEDULES = ("const", "piecewise", "cos")
RAMPS = ("cos", "linear")
OVERSHOOT = {"mnist": {"cos": 1.5, "linear": 2.0}, "cifar10": {"cos": 2.0, "linear": 2.0}}  # eps_max / target
OTHER_OVERSHOOT = 2.0                                                                       # other data sets


def check_periods(periods) -> tuple[float, ...]:
    """Period boundaries must be strictly increasing, starting at 0, with at least one period."""
    b = tuple(float(v) for v in periods)
    if len(b) < 2 or b[0] != 0 or any(b2 <= b1 for b1, b2 in zip(b, b[1:])):
        raise ValueError(f"periods must be strictly increasing boundaries starting at 0, got {periods!r}")
    return b


def period_position(t: float, periods) -> float:
    """The fraction s in [0, 1) of the way through the period containing t (Liu et al. 2020, eq. 13: p).
    Times at or beyond the last boundary belong to the last period (s clipped to 1)."""
    b = check_periods(periods)
    for lo, hi in zip(b, b[1:]):
        if t < hi:
            return max(t - lo, 0.0) / (hi - lo)
    return 1.0


def default_eps_max(kind: str, target: float, dataset: str) -> float | None:
    """eps_max of Liu et al.'s runs on ``dataset`` (module docstring): ``OVERSHOOT[dataset][kind] * target`` for
    the ramps, ``OTHER_OVERSHOOT * target`` on other data sets; None for 'const', which does not over-shoot."""
    if kind not in EPS_SCHEDULES:
        raise ValueError(f"eps schedule must be one of {EPS_SCHEDULES}, got {kind!r}")
    if kind not in RAMPS:
        return None
    return OVERSHOOT.get(dataset, {}).get(kind, OTHER_OVERSHOOT) * target


def eps_at(t: float, *, kind: str, target: float, periods, eps_max: float | None = None) -> float:
    """Scheduled eps(t) of the formulas above. The ramps need ``eps_max`` >= target (``default_eps_max`` gives
    the paper's); 'const' ignores it."""
    if kind not in EPS_SCHEDULES:
        raise ValueError(f"eps schedule must be one of {EPS_SCHEDULES}, got {kind!r}")
    if target < 0:
        raise ValueError(f"eps target must be >= 0, got {target!r}")
    if kind in RAMPS and eps_max is None:
        raise ValueError(f"the {kind!r} schedule needs eps_max (default_eps_max gives Liu et al.'s over-shoot)")
    if eps_max is not None and eps_max < target:
        raise ValueError(f"eps_max ({eps_max}) must be >= the target eps ({target})")
    s = period_position(t, periods)
    if kind == "const":
        return float(target)
    ramp = 0.5 * eps_max * (1.0 - math.cos(math.pi * s)) if kind == "cos" else eps_max * s
    return float(min(target, ramp))


def lr_at(t: float, *, kind: str, base: float, periods) -> float:
    """Learning rate at time t, restarted in every period (one period = plain schedule):
    'const': base; 'piecewise': base x0.1 after 50 % and x0.01 after 75 % of the period (Rice/AWP);
    'cos': base/2 (1 + cos(pi s))."""
    if kind not in LR_SCHEDULES:
        raise ValueError(f"lr schedule must be one of {LR_SCHEDULES}, got {kind!r}")
    s = period_position(t, periods)
    if kind == "const":
        return base
    if kind == "piecewise":
        return base * (1.0 if s < 0.5 else 0.1 if s < 0.75 else 0.01)
    return 0.5 * base * (1.0 + math.cos(math.pi * s))


def liu_mnist_attack(eps: float) -> tuple[int, float]:
    """Liu et al. (2020) MNIST training/eval PGD: step 0.01 and eps/0.01 + 10 iterations (50 for eps = 0.4)."""
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps!r}")
    return int(round(eps / 0.01)) + 10, 0.01
