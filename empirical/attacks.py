"""Input-space attacks: FGSM, FGSM with random start, PGD (L-inf / L2) and APGD-CE / APGD-DLR.

Threat model (all papers of the suite): ``S = {delta : ||delta||_p <= eps, x + delta in [0,1]^d}`` with eps in
absolute input units (Liu et al. 2020 §4.7 pitfall: never "/255" magic). Every attack returns ``delta`` with
``||delta||_p <= eps`` and ``x + delta`` inside the box, and never touches ``model.training`` or parameter
gradients (it differentiates with respect to ``delta`` only); callers choose the BatchNorm mode with
``empirical.state.preserved``. On the CPU an attack runs the model with its convolution kernels in channels_last
strides (``core.state.cpu_channels_last``: the same values, about twice the speed for a LeNet) and puts the very
tensors it found back afterwards.

Each attack evaluates the model at a sequence of iterates (its start point included) and reports, per example
(``AttackResult``):
  * ``delta``: the evaluated iterate of highest attack loss, for training and loss measurements (AutoAttack's
    APGD keeps its best-loss point too; Madry/Rice/AWP training code keeps the last iterate of each restart);
  * ``fooled``: whether ANY evaluated iterate was misclassified, for robust accuracy (AutoAttack's count: a
    point is broken as soon as one iterate fools the model, whatever the loss does afterwards).
Both come from the forward passes the attack makes anyway: ``steps`` forward-backward passes and one final
forward pass per restart, nothing more (PGD asked for its last iterate alone may skip the final one; an attack
for robust accuracy stops on each point once it is broken). ``pgd``, ``apgd`` and ``fgsm`` return ``delta`` alone;
``attack`` returns the whole result and ``robust_correct`` is the robust-accuracy count.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .core.batching import check_batch_size
from .core.state import cpu_channels_last
from .names import ATTACK_ITERATES, ATTACK_NAMES, NORMS, check_threat  # noqa: F401  (part of this module's interface)

LOSSES = ("ce", "dlr")


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


def uniform_start(x: torch.Tensor, radius: float, eps: float, norm: str, generator=None) -> torch.Tensor:
    """delta uniform in [-radius, radius]^d whatever the norm, then projected onto S. With radius = the PGD step:
    Liu et al.'s start (github.com/liuchen11/AdversaryLossLandscape ``util/attack.py``, ``PGD.attack``)."""
    return project((2.0 * _rand(x.shape, x, generator) - 1.0) * radius, x, eps, norm)


def random_init(x: torch.Tensor, eps: float, norm: str, generator=None) -> torch.Tensor:
    """Random initial point in S: uniform in [-eps, eps]^d (L-inf); for L2 a Gaussian direction scaled to
    radius r*eps with r ~ U(0,1) (AWP/Rice ``attack_pgd``). Then projected onto the box."""
    if norm == "linf":
        return uniform_start(x, eps, eps, norm, generator)
    d = _randn_like(x, generator)
    r = _rand((x.shape[0],), x, generator)
    delta = d / _bcast(_norms(d, "l2") + 1e-12, d) * _bcast(r * eps, d)
    return project(delta, x, eps, norm)


@dataclass(frozen=True)
class AttackResult:
    """Per example: ``delta``, the evaluated iterate of highest attack loss; ``loss`` and ``logits``, the attack
    loss and the model's logits there (so that no caller needs another forward pass at ``x + delta``);
    ``fooled``, whether some evaluated iterate was misclassified (``argmax != y``), or None when ``y`` holds soft
    targets rather than class labels (TRADES' inner maximisation). ``loss`` and ``logits`` are None for a last
    iterate returned unscored (``pgd_attack(evaluate_last=False)``)."""
    delta: torch.Tensor
    loss: torch.Tensor | None
    logits: torch.Tensor | None
    fooled: torch.Tensor | None


class _Best:
    """Per-example running maximum of the loss with the delta (and logits) that attained it, and the any-iterate
    fooled mask. ``rows`` (a tensor of example indices, None for all) names the examples an iterate holds, in
    order, when the attack has dropped the broken ones (``until_fooled``)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.loss = torch.full((x.shape[0],), float("-inf"), device=x.device)
        self.delta = torch.zeros_like(x)
        self.logits = None
        self.fooled = None if y.is_floating_point() else torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)

    def update(self, delta: torch.Tensor, value: torch.Tensor, logits: torch.Tensor, y: torch.Tensor,
               rows: torch.Tensor | None = None) -> torch.Tensor:
        """Record one evaluated iterate of the examples ``rows``; returns the mask (over those rows) of the examples
        whose best loss it improved."""
        if self.logits is None:
            self.logits = logits.new_zeros(self.loss.shape[0], logits.shape[1])
        at = slice(None) if rows is None else rows
        better = value > self.loss[at]
        self.loss[at] = torch.where(better, value, self.loss[at])
        self.delta[at] = torch.where(_bcast(better, delta), delta.detach(), self.delta[at])
        self.logits[at] = torch.where(better[:, None], logits, self.logits[at])
        if self.fooled is not None:
            self.fooled[at] |= logits.argmax(dim=1) != y
        return better

    def at(self, rows: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Copies of the best loss and delta of the examples ``rows``."""
        at = slice(None) if rows is None else rows
        return self.loss[at].clone(), self.delta[at].clone()

    def result(self) -> AttackResult:
        return AttackResult(self.delta, self.loss, self.logits, self.fooled)


def _unbroken(fooled: torch.Tensor, rows: torch.Tensor, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``rows`` less the examples ``fooled`` now, and the same rows of each tensor (each holds ``rows`` in order)."""
    keep = ~fooled[rows]
    if bool(keep.all()):
        return (rows, *tensors)
    return (rows[keep], *(t[keep] for t in tensors))


def _evaluate(model, x, y, delta, loss, with_grad: bool):
    """Per-example loss and logits at ``x + delta`` and, if ``with_grad``, the gradient of the summed loss
    with respect to delta (one forward pass, plus one backward pass when ``with_grad``, even under no_grad)."""
    if not with_grad:
        with torch.no_grad():
            logits = model(x + delta)
            return per_example_loss(loss, logits, y), logits, None
    delta = delta.detach().requires_grad_(True)
    with torch.enable_grad():  # also when called under no_grad
        logits = model(x + delta)
        value = per_example_loss(loss, logits, y)
        (grad,) = torch.autograd.grad(value.sum(), delta)
    if x.is_contiguous() and not grad.is_contiguous():  # channels_last kernels pass their layout on
        grad = grad.contiguous()
    return value.detach(), logits.detach(), grad.detach()


def _in_fast_layout(attack_fn):
    """Run the attack with the model's CPU convolution kernels in channels_last layout (``state.cpu_channels_last``:
    the same values, about 2x faster forward-backward passes for a LeNet on the CPU), restored afterwards."""
    @functools.wraps(attack_fn)
    def run(model, x, y, **kw):
        with cpu_channels_last(model):
            return attack_fn(model, x, y, **kw)
    return run


def _check_loss(loss) -> None:
    if not callable(loss) and loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES} or a callable, got {loss!r}")


@_in_fast_layout
def pgd_attack(model, x, y, *, eps, norm="linf", steps=10, step_size=None, restarts=1, random_start=True,
               loss="ce", generator=None, init=None, iterate="best", until_fooled=False,
               evaluate_last=True) -> AttackResult:
    """Projected gradient ascent on the per-example loss (Madry et al. 2018):
    ``delta <- Proj_S(delta + alpha * dir(grad_delta loss))`` with dir = sign (L-inf) or g/||g||_2 (L2).

    step_size defaults to ``2.5 * eps / steps`` (Madry's rule). The start is ``init`` if given (e.g. the
    TRADES start ``0.001 * N(0, 1)``), else a random point of S (``random_start``), else delta = 0. Each restart
    evaluates its start, the ``steps - 1`` intermediate iterates and the last one; the result is over all
    restarts (``AttackResult``). With ``eps = 0`` the only iterate is delta = 0.

    ``iterate='last'``: ``delta`` (with its ``loss`` and ``logits``) is instead the last iterate of the restart
    whose last iterate has the highest loss, as in the official training codes (AWP ``AT_AWP/train_cifar10.py``
    ``attack_pgd``, Liu et al. ``util/attack.py``, TRADES ``trades.py``); ``fooled`` still counts every iterate.

    ``until_fooled``: a point is no longer attacked once some iterate fooled it (nor in later restarts): the
    ``fooled`` mask is the same, the work shrinks with the share of broken points; ``delta`` and ``loss`` of a
    broken point come from the iterates up to the one that broke it. For robust accuracy (needs class labels).

    ``evaluate_last=False`` (only with ``iterate='last'`` and one restart): the last iterate is returned without
    the forward pass that would score it, as torchattacks' PGD does: ``loss`` and ``logits`` are None and
    ``fooled`` counts the iterates before the last. For callers that use ``delta`` alone, and only where that
    forward pass has no side effect they need (a train-mode BatchNorm whose running statistics the attack updates,
    as in the official AT-AWP loop, does need it)."""
    check_threat(eps, norm)
    _check_loss(loss)
    if steps < 0 or restarts < 1:
        raise ValueError(f"need steps >= 0 and restarts >= 1, got steps={steps}, restarts={restarts}")
    if iterate not in ATTACK_ITERATES:
        raise ValueError(f"iterate must be one of {ATTACK_ITERATES}, got {iterate!r}")
    if not evaluate_last and (iterate != "last" or restarts != 1):
        raise ValueError("evaluate_last=False needs iterate='last' and restarts=1 (otherwise the last iterate must "
                         "be scored to choose the result)")
    if until_fooled and (y.is_floating_point() or iterate != "best"):
        raise ValueError("until_fooled needs class labels y and iterate='best'")
    x = x.detach()
    best = _Best(x, y)
    last = _Best(x, y) if iterate == "last" else None
    if eps == 0:
        zero = torch.zeros_like(x)
        best.update(zero, *_evaluate(model, x, y, zero, loss, False)[:2], y)
        return best.result()
    alpha = 2.5 * eps / max(steps, 1) if step_size is None else step_size
    for _ in range(restarts):
        if init is not None:
            delta = project(init.detach(), x, eps, norm)
        elif random_start:
            delta = random_init(x, eps, norm, generator)
        else:
            delta = torch.zeros_like(x)
        rows = torch.arange(x.shape[0], device=x.device) if until_fooled else None
        xa, ya = x, y
        for step in range(steps + 1):
            if rows is not None:
                rows, xa, ya, delta = _unbroken(best.fooled, rows, xa, ya, delta)
                if rows.numel() == 0:
                    break
            if step == steps and not evaluate_last:
                return AttackResult(delta.detach(), None, None, best.fooled)
            value, logits, grad = _evaluate(model, xa, ya, delta, loss, step < steps)
            best.update(delta, value, logits, ya, rows)
            if step < steps:
                delta = project(delta + alpha * _direction(grad, norm), xa, eps, norm)
        if last is not None:
            last.update(delta, value, logits, y)
    result = best.result()
    return result if last is None else replace(last.result(), fooled=result.fooled)


def pgd(model, x, y, **kw) -> torch.Tensor:
    """``pgd_attack(model, x, y, **kw).delta``: the highest-loss (``iterate='last'``: the last) iterate of PGD."""
    return pgd_attack(model, x, y, **kw).delta


def fgsm_attack(model, x, y, *, eps, norm="linf", random_start=False, step_size=None, generator=None,
                until_fooled=False) -> AttackResult:
    """Fast gradient (sign) method (Goodfellow et al. 2015): one step of size eps from x; with
    ``random_start`` (Wong et al. 2020, "FGSM-RS") one step of size 1.25*eps from a uniform random start.
    ``until_fooled`` as in ``pgd_attack``."""
    if step_size is None:
        step_size = 1.25 * eps if random_start else eps
    return pgd_attack(model, x, y, eps=eps, norm=norm, steps=1, step_size=step_size, restarts=1,
                      random_start=random_start, generator=generator, until_fooled=until_fooled)


def fgsm(model, x, y, **kw) -> torch.Tensor:
    """``fgsm_attack(model, x, y, **kw).delta`` (see ``fgsm_attack``)."""
    return fgsm_attack(model, x, y, **kw).delta


def apgd_checkpoints(steps: int) -> list[int]:
    """Iterations at which APGD may halve its step (Croce & Hein 2020, §3.2):
    p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06); w_j = ceil(p_j * steps) for p_j <= 1.

    Computed exactly in integer hundredths (q_j = 100 p_j, w_j = ceil(q_j steps / 100)); floating point puts
    some w_j one iteration late (0.22 + 0.19 + 0.16 > 0.57 in binary, so 58 instead of 57 at 100 steps). The
    official code (fra31/auto-attack, autoattack/autopgd_base.py) instead accumulates integer periods
    floor(0.22 N), decreased by floor(0.03 N) down to floor(0.06 N) (each at least 1): the same checkpoints
    at 100 or 1000 steps, different ones at budgets that are not multiples of 100 (e.g. 10, 50)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    q = [0, 22]
    while q[-1] + max(q[-1] - q[-2] - 3, 6) <= 100:
        q.append(q[-1] + max(q[-1] - q[-2] - 3, 6))
    return sorted({-(-qj * steps // 100) for qj in q[1:]})


@_in_fast_layout
def apgd_attack(model, x, y, *, eps, norm="linf", steps=100, loss="ce", rho=0.75, generator=None,
                until_fooled=False) -> AttackResult:
    """Auto-PGD (Croce & Hein 2020, Alg. 1), own implementation.

    Step size eta = 2*eps initially; momentum 0.75:
    ``z = P(x_k + eta dir(g_k))``, ``x_{k+1} = P(x_k + 0.75 (z - x_k) + 0.25 (x_k - x_{k-1}))`` (plain step at k = 0).
    At each checkpoint w_j the step of an example is halved, and it restarts from its best point, if
    (1) fewer than rho*(w_j - w_{j-1}) of the steps since w_{j-1} increased its loss, or (2) its step was not
    halved at w_{j-1} and its best loss did not improve since w_{j-1}. Evaluates the random start and the
    ``steps`` iterates (the last one without the gradient nobody uses); see ``AttackResult``. Every example's
    state (step size, momentum, counters) is its own, so ``until_fooled`` (see ``pgd_attack``) drops broken
    examples without changing any other's trajectory."""
    check_threat(eps, norm)
    _check_loss(loss)
    if steps < 1 or not 0 < rho <= 1:
        raise ValueError(f"need steps >= 1 and 0 < rho <= 1, got steps={steps}, rho={rho}")
    if until_fooled and y.is_floating_point():
        raise ValueError("until_fooled needs class labels y")
    if eps == 0:
        return pgd_attack(model, x, y, eps=0, norm=norm, steps=0, loss=loss)
    x = x.detach()
    best = _Best(x, y)
    n = x.shape[0]
    checkpoints = set(apgd_checkpoints(steps))
    rows = torch.arange(n, device=x.device) if until_fooled else None
    xa, ya = x, y
    delta = random_init(x, eps, norm, generator)
    value, logits, grad = _evaluate(model, x, y, delta, loss, True)
    best.update(delta, value, logits, y)
    eta = torch.full((n,), 2.0 * eps, device=x.device, dtype=x.dtype)
    best_grad = grad.clone()
    prev = delta
    increases = torch.zeros(n, device=x.device)
    last_w, last_best, last_reduced = 0, best.loss.clone(), torch.zeros(n, dtype=torch.bool, device=x.device)
    for k in range(steps):
        if rows is not None:
            (rows, xa, ya, delta, prev, grad, value, eta, best_grad, increases, last_best,
             last_reduced) = _unbroken(best.fooled, rows, xa, ya, delta, prev, grad, value, eta, best_grad, increases,
                                       last_best, last_reduced)
            if rows.numel() == 0:
                break
        z = project(delta + _bcast(eta, xa) * _direction(grad, norm), xa, eps, norm)
        if k > 0:
            z = project(delta + 0.75 * (z - delta) + 0.25 * (delta - prev), xa, eps, norm)
        prev, delta = delta, z
        new_value, logits, grad = _evaluate(model, xa, ya, delta, loss, k + 1 < steps)
        increases += (new_value > value).float()
        value = new_value
        better = best.update(delta, value, logits, ya, rows)
        if grad is None:
            break
        best_grad = torch.where(_bcast(better, grad), grad, best_grad)
        if k + 1 in checkpoints:
            best_loss, best_delta = best.at(rows)
            reduce = (increases < rho * (k + 1 - last_w)) | (~last_reduced & (best_loss <= last_best))
            eta = torch.where(reduce, eta / 2, eta)
            rb = _bcast(reduce, xa)
            delta = torch.where(rb, best_delta, delta)
            prev = torch.where(rb, best_delta, prev)
            grad = torch.where(rb, best_grad, grad)
            value = torch.where(reduce, best_loss, value)
            last_w, last_best, last_reduced = k + 1, best_loss, reduce
            increases.zero_()
    return best.result()


def apgd(model, x, y, **kw) -> torch.Tensor:
    """``apgd_attack(model, x, y, **kw).delta`` (see ``apgd_attack``)."""
    return apgd_attack(model, x, y, **kw).delta


def attack(name, model, x, y, **kw) -> AttackResult:
    """Dispatch by name (ATTACK_NAMES): 'fgsm', 'fgsm-rs', 'pgd', 'apgd-ce', 'apgd-dlr'."""
    if name == "fgsm":
        return fgsm_attack(model, x, y, **kw)
    if name == "fgsm-rs":
        return fgsm_attack(model, x, y, random_start=True, **kw)
    if name == "pgd":
        return pgd_attack(model, x, y, **kw)
    if name in ("apgd-ce", "apgd-dlr"):
        return apgd_attack(model, x, y, loss=name[5:], **kw)
    raise ValueError(f"attack must be one of {ATTACK_NAMES}, got {name!r}")


def run_attack(name, model, x, y, **kw) -> torch.Tensor:
    """``attack(name, model, x, y, **kw).delta``."""
    return attack(name, model, x, y, **kw).delta


def robust_correct(name, model, x, y, *, clean_correct: torch.Tensor | None = None, **kw) -> torch.Tensor:
    """Per example: classified correctly at x AND at every iterate the attack evaluates (the count of
    AutoAttack, fra31/auto-attack autoattack.py: only the points still classified correctly are attacked,
    and a point is broken as soon as some iterate fools the model).

    ``clean_correct``: the mask ``argmax f(x) == y`` when the caller already has the clean logits (saves a
    forward pass). The attack stops on a point once it is broken (``until_fooled``, unless ``kw`` says
    otherwise): the count is the same. The clean-correct points are attacked as one batch, which is what attacking
    them within the whole batch would do when the model treats examples independently (BatchNorm in eval mode);
    ``kw`` go to ``attack`` (eps, norm, steps, generator, ...)."""
    if y.is_floating_point() or y.ndim != 1:
        raise ValueError("robust_correct needs a 1-D tensor of class labels y")
    if clean_correct is None:
        with torch.no_grad():
            clean_correct = model(x).argmax(dim=1) == y
    robust = clean_correct.clone()
    idx = clean_correct.nonzero()[:, 0]
    if idx.numel():
        kw.setdefault("until_fooled", True)
        robust[idx] = ~attack(name, model, x[idx], y[idx], **kw).fooled
    return robust


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
