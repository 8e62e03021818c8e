"""Input-space attacks: FGSM, FGSM with random start, PGD (L-inf / L2) and APGD-CE / APGD-DLR.

Threat model (all papers of the suite): ``S = {delta : ||delta||_p <= eps, x + delta in [0,1]^d}`` with eps in
absolute input units (Liu et al. 2020 §4.7 pitfall: never "/255" magic). Every attack returns ``delta`` with
``||delta||_p <= eps`` and ``x + delta`` inside the box, and never touches ``model.training`` or parameter
gradients (it differentiates with respect to ``delta`` only); callers choose the BatchNorm mode with
``empirical.state.preserved``.

Every attack returns, per example, the iterate of highest loss it has seen, the clean point (``delta = 0``)
included, so that the adversarial loss is never below the clean loss (AutoAttack keeps the best iterate too;
Madry/Rice/AWP training code keeps the last iterate of each restart and the worst restart).
"""
from __future__ import annotations

import math

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .core.batching import check_batch_size

NORMS = ("linf", "l2")
LOSSES = ("ce", "dlr")
ATTACK_NAMES = ("fgsm", "fgsm-rs", "pgd", "apgd-ce", "apgd-dlr")


def check_threat(eps: float, norm: str) -> None:
    """Validate a threat model: eps >= 0 (finite) and norm in NORMS."""
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    if not isinstance(eps, (int, float)) or not math.isfinite(eps) or eps < 0:
        raise ValueError(f"eps must be a finite number >= 0 (absolute input units), got {eps!r}")


def dlr_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Difference-of-logits-ratio loss, Croce & Hein (2020) eq. (6), per example (to be maximised):
    ``-(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3 + 1e-12)`` with ``z_pi1 >= z_pi2 >= ...`` the sorted logits."""
    if logits.shape[1] < 3:
        raise ValueError(f"the DLR loss needs at least 3 classes, got {logits.shape[1]}")
    z = logits.float()
    zs, _ = z.sort(dim=1, descending=True)
    z_y = z.gather(1, y[:, None])[:, 0]
    other = z.scatter(1, y[:, None], float("-inf")).amax(dim=1)
    return -(z_y - other) / (zs[:, 0] - zs[:, 2] + 1e-12)


def per_example_loss(loss, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-example loss to maximise: 'ce' (cross-entropy), 'dlr', or a callable ``(logits, y) -> (N,)``."""
    if callable(loss):
        return loss(logits.float(), y)
    if loss == "ce":
        return F.cross_entropy(logits.float(), y, reduction="none")
    if loss == "dlr":
        return dlr_loss(logits, y)
    raise ValueError(f"loss must be one of {LOSSES} or a callable, got {loss!r}")


def _norms(v: torch.Tensor, norm: str) -> torch.Tensor:
    flat = v.flatten(1)
    return flat.abs().amax(dim=1) if norm == "linf" else flat.norm(dim=1)


def _bcast(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.view(-1, *([1] * (like.dim() - 1)))


def project(delta: torch.Tensor, x: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    """Map delta into S: clamp x + delta to the box [0,1], then shrink into the eps-ball.

    For L-inf both sets are coordinate boxes and the result is the exact projection onto S. For L2 the
    radial shrink keeps x + delta in the box (convexity: x and x + delta are both in it), so the result is
    feasible (not the exact Euclidean projection onto the intersection, as in the AWP/Rice code)."""
    delta = (x + delta).clamp(0.0, 1.0) - x
    if norm == "linf":
        return delta.clamp(-eps, eps)
    n = _norms(delta, "l2")
    factor = torch.where(n > eps, eps / (n + 1e-12), torch.ones_like(n))
    return delta * _bcast(factor, delta)


def _direction(g: torch.Tensor, norm: str) -> torch.Tensor:
    """Steepest-ascent direction of unit norm: sign(g) for L-inf, g/||g||_2 for L2."""
    if norm == "linf":
        return g.sign()
    return g / _bcast(_norms(g, "l2") + 1e-12, g)


def _randn_like(x: torch.Tensor, generator) -> torch.Tensor:
    gdev = generator.device if generator is not None else x.device
    return torch.randn(x.shape, generator=generator, device=gdev, dtype=x.dtype).to(x.device)


def _rand(shape, x: torch.Tensor, generator) -> torch.Tensor:
    gdev = generator.device if generator is not None else x.device
    return torch.rand(shape, generator=generator, device=gdev, dtype=x.dtype).to(x.device)


def random_init(x: torch.Tensor, eps: float, norm: str, generator=None) -> torch.Tensor:
    """Random initial point in S: uniform in [-eps, eps]^d (L-inf); for L2 a Gaussian direction scaled to
    radius r*eps with r ~ U(0,1) (AWP/Rice ``attack_pgd``). Then projected onto the box."""
    if norm == "linf":
        delta = (2.0 * _rand(x.shape, x, generator) - 1.0) * eps
    else:
        d = _randn_like(x, generator)
        r = _rand((x.shape[0],), x, generator)
        delta = d / _bcast(_norms(d, "l2") + 1e-12, d) * _bcast(r * eps, d)
    return project(delta, x, eps, norm)


class _Worst:
    """Per-example running maximum of the loss and the delta that attained it (starts at delta = 0)."""

    def __init__(self, model, x, y, loss):
        with torch.no_grad():
            self.loss = per_example_loss(loss, model(x), y)
        self.delta = torch.zeros_like(x)

    def update(self, delta: torch.Tensor, value: torch.Tensor) -> None:
        better = value > self.loss
        self.loss = torch.where(better, value, self.loss)
        self.delta = torch.where(_bcast(better, delta), delta.detach(), self.delta)


def _loss_and_grad(model, x, y, delta, loss):
    delta = delta.detach().requires_grad_(True)
    value = per_example_loss(loss, model(x + delta), y)
    (grad,) = torch.autograd.grad(value.sum(), delta)
    return value.detach(), grad.detach()


def pgd(model, x, y, *, eps, norm="linf", steps=10, step_size=None, restarts=1, random_start=True,
        loss="ce", generator=None, init=None):
    """Projected gradient ascent on the per-example loss (Madry et al. 2018):
    ``delta <- Proj_S(delta + alpha * dir(grad_delta loss))`` with dir = sign (L-inf) or g/||g||_2 (L2).

    step_size defaults to ``2.5 * eps / steps`` (Madry's rule). ``init`` fixes the starting delta (e.g. the
    TRADES start ``0.001 * N(0, 1)``) instead of a random start. With several restarts the worst (highest
    loss) iterate per example over all restarts and steps is returned."""
    check_threat(eps, norm)
    if steps < 0 or restarts < 1:
        raise ValueError(f"need steps >= 0 and restarts >= 1, got steps={steps}, restarts={restarts}")
    x = x.detach()
    worst = _Worst(model, x, y, loss)
    if eps == 0:
        return worst.delta
    alpha = 2.5 * eps / max(steps, 1) if step_size is None else step_size
    for _ in range(restarts):
        if init is not None:
            delta = project(init.detach(), x, eps, norm)
        elif random_start:
            delta = random_init(x, eps, norm, generator)
        else:
            delta = torch.zeros_like(x)
        for _ in range(steps):
            value, grad = _loss_and_grad(model, x, y, delta, loss)
            worst.update(delta, value)
            delta = project(delta + alpha * _direction(grad, norm), x, eps, norm)
        with torch.no_grad():
            worst.update(delta, per_example_loss(loss, model(x + delta), y))
    return worst.delta


def fgsm(model, x, y, *, eps, norm="linf", random_start=False, step_size=None, generator=None):
    """Fast gradient (sign) method (Goodfellow et al. 2015): one step of size eps from x; with
    ``random_start`` (Wong et al. 2020, "FGSM-RS") one step of size 1.25*eps from a uniform random start."""
    if step_size is None:
        step_size = 1.25 * eps if random_start else eps
    return pgd(model, x, y, eps=eps, norm=norm, steps=1, step_size=step_size, restarts=1,
               random_start=random_start, generator=generator)


def apgd_checkpoints(steps: int) -> list[int]:
    """Iterations at which APGD may halve its step (Croce & Hein 2020, §3.2):
    p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06); w_j = ceil(p_j * steps)."""
    p = [0.0, 0.22]
    while p[-1] < 1:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    return sorted({math.ceil(q * steps) for q in p[1:] if q <= 1} - {0})


def apgd(model, x, y, *, eps, norm="linf", steps=100, loss="ce", rho=0.75, generator=None):
    """Auto-PGD (Croce & Hein 2020, Alg. 1), own implementation.

    Step size eta = 2*eps initially; momentum 0.75:
    ``z = P(x_k + eta dir(g_k))``, ``x_{k+1} = P(x_k + 0.75 (z - x_k) + 0.25 (x_k - x_{k-1}))`` (plain step at k = 0).
    At each checkpoint w_j the step of an example is halved, and it restarts from its best point, if
    (1) fewer than rho*(w_j - w_{j-1}) of the steps since w_{j-1} increased its loss, or (2) its step was not
    halved at w_{j-1} and its best loss did not improve since w_{j-1}. Returns the best point per example."""
    check_threat(eps, norm)
    if steps < 1 or not 0 < rho <= 1:
        raise ValueError(f"need steps >= 1 and 0 < rho <= 1, got steps={steps}, rho={rho}")
    if not callable(loss) and loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    x = x.detach()
    worst = _Worst(model, x, y, loss)
    if eps == 0:
        return worst.delta
    n = x.shape[0]
    checkpoints = set(apgd_checkpoints(steps))
    eta = torch.full((n,), 2.0 * eps, device=x.device, dtype=x.dtype)
    delta = random_init(x, eps, norm, generator)
    value, grad = _loss_and_grad(model, x, y, delta, loss)
    worst.update(delta, value)
    best_grad = grad.clone()
    prev = delta
    increases = torch.zeros(n, device=x.device)
    last_w, last_best, last_reduced = 0, worst.loss.clone(), torch.zeros(n, dtype=torch.bool, device=x.device)
    for k in range(steps):
        e = _bcast(eta, x)
        z = project(delta + e * _direction(grad, norm), x, eps, norm)
        if k > 0:
            z = project(delta + 0.75 * (z - delta) + 0.25 * (delta - prev), x, eps, norm)
        prev, delta = delta, z
        new_value, grad = _loss_and_grad(model, x, y, delta, loss)
        increases += (new_value > value).float()
        value = new_value
        better = value > worst.loss
        best_grad = torch.where(_bcast(better, grad), grad, best_grad)
        worst.update(delta, value)
        if k + 1 in checkpoints:
            reduce = (increases < rho * (k + 1 - last_w)) | (~last_reduced & (worst.loss <= last_best))
            eta = torch.where(reduce, eta / 2, eta)
            rb = _bcast(reduce, x)
            delta = torch.where(rb, worst.delta, delta)
            prev = torch.where(rb, worst.delta, prev)
            grad = torch.where(rb, best_grad, grad)
            value = torch.where(reduce, worst.loss, value)
            last_w, last_best, last_reduced = k + 1, worst.loss.clone(), reduce
            increases.zero_()
    return worst.delta


def run_attack(name, model, x, y, **kw):
    """Dispatch by name (ATTACK_NAMES): 'fgsm', 'fgsm-rs', 'pgd', 'apgd-ce', 'apgd-dlr'."""
    if name == "fgsm":
        return fgsm(model, x, y, **kw)
    if name == "fgsm-rs":
        return fgsm(model, x, y, random_start=True, **kw)
    if name == "pgd":
        return pgd(model, x, y, **kw)
    if name in ("apgd-ce", "apgd-dlr"):
        return apgd(model, x, y, loss=name[5:], **kw)
    raise ValueError(f"attack must be one of {ATTACK_NAMES}, got {name!r}")


def seeded_generator(seed: int) -> torch.Generator:
    """CPU generator (the same draws whatever the model's device) seeded with ``seed``."""
    return torch.Generator().manual_seed(int(seed))


def adversarial_deltas(model: nn.Module, x, y, attack: Callable | None, *, seed: int = 0,
                       batch_size: int = 500) -> torch.Tensor:
    """Input perturbations of ``attack`` on the model as it is (batched, one generator seeded with
    ``seed`` consumed batch after batch); zeros when ``attack`` is None."""
    check_batch_size(batch_size)
    if attack is None:
        return torch.zeros_like(x)
    g = seeded_generator(seed)
    return torch.cat([attack(model, x[i:i + batch_size], y[i:i + batch_size], generator=g).detach()
                      for i in range(0, len(x), batch_size)])
