"""Flatness of the (robust) loss in a ball around the weights (Stutz, Hein & Schiele, ICCV 2021, §3.1-3.2).

Balls, per parameter tensor t of the non-normalization layers (normalization layers are never perturbed):

* relative (the paper's B_xi(w)): ``||nu_t||_2 <= xi ||w_t||_2``; scale-invariant by construction;
* absolute (for comparison):      ``||nu_t||_2 <= xi``.

Average case: ``Flat_avg = mean_s L~(w + nu_s) - L~(w)`` with nu_s uniform on the per-tensor spheres
(Gaussian direction normalized to the radius, independently per tensor) and the attack re-run on every
perturbed model (Stutz's ``SequentialAttack2``); paper setting xi = 0.5, 10 samples.

Worst case: ``Flat_worst = max_attempts L(w + nu; x + delta) - L~(w)``, joint projected ascent on ONE weight
perturbation nu shared by all examples and per-example L-inf input perturbations delta: per batch,
``nu_t <- Proj_t(nu_t + lr * s_t * g_t / ||g_t||)`` with ``s_t = ||w_t||`` (relative) or 1 (absolute) and
``delta <- Proj(delta + step * sign(grad_delta))``; paper setting xi = 0.00075, 20 iterations, lr 0.01,
10 attempts. The input step defaults to Stutz's: 0.007 at eps = 0.0314 (github.com/davidstutz/
robust-generalization-flatness ``examples/worst_robust_flatness.py``, ``input_lr``; ``experiments/iccv/common.py``),
scaled with eps for other budgets (``INPUT_STEP_PER_EPS``). With eps = 0 both measures are on the clean loss.

Random streams (``advland.seeding``, master seed ``seed``): ``"flatness/average/samples"`` draws the weight
samples nu_s, ``"flatness/attack"`` the attack's random start (a fresh generator for every evaluated model), and
``"flatness/worst/attempts"`` the starts of the worst-case attempts (a fresh generator for the measured ball and
for the reference). These common random numbers make two models that compute the same function up to a
per-tensor rescaling give identical relative flatness (Stutz's scale invariance).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from advland.seeding import torch_generator

from .directions import place
from ..core.batching import check_batch_size, slices
from ..core.params import select_params
from ..core.state import preserved
from ..evaluate import check_data, loss_and_accuracy
from ..names import BALLS


SAMPLE_STREAM, ATTACK_STREAM, ATTEMPT_STREAM = "flatness/average/samples", "flatness/attack", "flatness/worst/attempts"
INPUT_STEP_PER_EPS = 0.007 / 0.0314   # Stutz et al.'s worst-case input step 0.007 at eps = 0.0314


def _check(xi: float, ball: str, count: int, what: str) -> None:
    if ball not in BALLS:
        raise ValueError(f"ball must be one of {BALLS}, got {ball!r}")
    if not np.isfinite(xi) or xi < 0:
        raise ValueError(f"xi must be a finite number >= 0, got {xi!r}")
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"{what} must be a positive integer, got {count!r}")


def radii(params, xi: float, ball: str) -> list[float]:
    """Per-tensor radius: ``xi * ||w_t||`` (relative) or ``xi`` (absolute)."""
    return [xi * float(p.detach().norm()) if ball == "relative" else float(xi) for _, p in params]


def sphere_sample(params, rad: list[float], generator: torch.Generator, *, inside: bool = False):
    """nu_t = r_t g_t / ||g_t|| with g_t ~ N(0, I) per tensor (uniform on each sphere); with ``inside``
    the radius is multiplied by u ~ U(0, 1) (Stutz's worst-case initialization)."""
    out = []
    for (_, p), r in zip(params, rad):
        g = torch.randn(p.shape, generator=generator, dtype=p.dtype, device=generator.device).to(p.device)
        if inside:
            r = r * float(torch.rand((), generator=generator, dtype=torch.float64))
        out.append(g * (r / g.norm().clamp_min(torch.finfo(p.dtype).tiny)))
    return out


def average_flatness(model: nn.Module, x, y, *, xi: float = 0.5, samples: int = 10,
                     attack: Callable | None = None, ball: str = "relative", bn_mode: str = "eval",
                     seed: int = 0, batch_size: int = 500, reference: float | None = None) -> dict:
    """Average-case flatness (module docstring). ``attack`` None = clean loss. The reference and every
    perturbed model use the same attack and attack seed (Stutz used 10 restarts for the reference and 1 for
    the perturbed models; that asymmetry biases the measure, so it is not copied). ``reference`` may be
    passed to reuse a reference loss computed with another budget."""
    _check(xi, ball, samples, "samples")
    check_batch_size(batch_size)
    check_data(x, y)
    def loss():
        return loss_and_accuracy(model, x, y, attack=attack, generator=torch_generator(seed, ATTACK_STREAM),
                                 bn_mode=bn_mode, batch_size=batch_size)[0]

    with preserved(model, bn_mode):
        params = select_params(model, "no-norm")
        if reference is None:
            reference = loss()
        base = [p.detach().clone() for _, p in params]
        rad = radii(params, xi, ball)
        g = torch_generator(seed, SAMPLE_STREAM)
        values = []
        for _ in range(samples):
            nu = sphere_sample(params, rad, g)
            place(params, base, [(1.0, nu)])
            values.append(loss())
    return {"kind": "average", "flatness": float(np.mean(values)) - reference, "reference": reference,
            "values": values, "xi": xi, "ball": ball, "samples": samples, "bn_mode": bn_mode,
            "loss": "clean" if attack is None else "robust", "params": [n for n, _ in params]}


def _joint_ascent(model, x, y, params, base, rad, scales, *, eps, input_step, steps, lr, generator,
                  bn_mode, batch_size):
    """One attempt of the joint weight/input ascent; returns the final mean CE on (w + nu, x + delta)."""
    nu = sphere_sample(params, rad, generator, inside=True)
    delta = torch.zeros_like(x)
    if eps > 0:  # uniform start in the eps-ball, then into the box [0, 1]
        delta = ((2 * torch.rand(x.shape, generator=generator, dtype=x.dtype, device=generator.device) - 1)
                 .to(x.device) * eps)
        delta = (x + delta).clamp(0, 1) - x
    weights = [p for _, p in params]
    for _ in range(steps):
        for sl in slices(len(x), batch_size):
            place(params, base, [(1.0, nu)])
            db = delta[sl].clone().requires_grad_(eps > 0)
            loss = F.cross_entropy(model(x[sl] + db), y[sl])
            grads = torch.autograd.grad(loss, weights + ([db] if eps > 0 else []))
            with torch.no_grad():
                for t, (gt, s, r) in enumerate(zip(grads, scales, rad)):
                    gn = float(gt.norm())
                    if gn > 0:
                        nu[t] = nu[t] + (lr * s / gn) * gt
                    n = float(nu[t].norm())
                    if n > r:
                        nu[t] = nu[t] * (r / n)
                if eps > 0:
                    step = (db + input_step * grads[-1].sign()).clamp(-eps, eps)
                    delta[sl] = (x[sl] + step).clamp(0, 1) - x[sl]
    place(params, base, [(1.0, nu)])
    return loss_and_accuracy(model, x, y, delta=delta, bn_mode=bn_mode, batch_size=batch_size)[0]


def worst_flatness(model: nn.Module, x, y, *, xi: float = 0.00075, eps: float = 0.0,
                   input_step: float | None = None, steps: int = 20, attempts: int = 10, lr: float = 0.01,
                   ball: str = "relative", bn_mode: str = "eval", seed: int = 0, batch_size: int = 128,
                   reference: float | None = None) -> dict:
    """Worst-case flatness (module docstring); eps = 0 gives the clean loss. ``input_step`` defaults to
    ``INPUT_STEP_PER_EPS * eps`` (Stutz's 0.007 at eps = 0.0314). The default reference is the same joint ascent with
    xi = 0 (same input budget, attempts and seed), so the measure is exactly 0 at xi = 0; pass
    ``reference`` to use another one (e.g. Stutz's PGD-20 x 10 restarts)."""
    _check(xi, ball, attempts, "attempts")
    check_batch_size(batch_size)
    check_data(x, y)
    if not np.isfinite(eps) or eps < 0:
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
    if not isinstance(steps, int) or steps < 1 or not lr > 0:
        raise ValueError(f"need steps >= 1 and lr > 0, got steps={steps!r}, lr={lr!r}")
    input_step = INPUT_STEP_PER_EPS * eps if input_step is None else input_step
    if not np.isfinite(input_step) or input_step < 0:
        raise ValueError(f"input_step must be a finite number >= 0, got {input_step!r}")
    with preserved(model, bn_mode):
        params = select_params(model, "no-norm")
        base = [p.detach().clone() for _, p in params]
        scales = [float(b.norm()) if ball == "relative" else 1.0 for b in base]

        def attempt_losses(rad):
            g = torch_generator(seed, ATTEMPT_STREAM)
            return [_joint_ascent(model, x, y, params, base, rad, scales, eps=eps, input_step=input_step,
                                  steps=steps, lr=lr, generator=g, bn_mode=bn_mode, batch_size=batch_size)
                    for _ in range(attempts)]

        if reference is None:
            reference = max(attempt_losses([0.0] * len(params)))
        values = attempt_losses(radii(params, xi, ball))
        value = max(values)
    return {"kind": "worst", "flatness": value - reference, "reference": reference, "value": value,
            "attempt_values": values,
            "xi": xi, "ball": ball, "eps": eps, "input_step": input_step, "steps": steps, "attempts": attempts,
            "lr": lr, "bn_mode": bn_mode, "loss": "clean" if eps == 0 else "robust", "params": [n for n, _ in params]}
