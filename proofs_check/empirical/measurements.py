"""The measures of ``measures`` computed on a trained model (a ``Subject``): one function per measure name.

Every measure runs inside ``empirical.core.state.preserved(model, bn_mode)`` (the model's parameters, buffers and
train flags are bit-exactly what they were afterwards) and its result records ``bn_mode``, ``n`` (the examples
used), ``seconds`` and ``cpu_seconds`` (wall and process CPU time: the only numbers that are not functions of the
parameters).

Data (``Subject.examples``): the first ``n`` examples of the split as the run sees it: for ``train`` the run's
class-balanced training subset (in data-file order), for ``test`` the test split in file order (fewer when the
split holds fewer). Attacks: ``empirical.attacks`` PGD at the measure's ``eps`` in the training norm, ``steps``
iterations of step 2.5 eps / steps, random start; eps = 0 measures the clean loss.

Random streams (``advland.seeding``, master seed ``config["seed"]``): a measure labelled L seeds its instruments
with ``stream_seed(seed, "measure/L")`` and draws its directions from ``"measure/L/..."``, except the Hessians,
seeded from ``"measure/hessian"`` whatever the label: a Hessian is a function of its own parameters, so the cosine
measure reuses the top eigenvector of a ``hessian`` measure of the same snapshot with the same parameters.
"""
from __future__ import annotations

import copy
import functools
import json
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from advland.empirical import attacks
from advland.empirical.core.batching import slices
from advland.empirical.core.params import select_params
from advland.empirical.core.state import preserved
from advland.empirical.evaluate import evaluate
from advland.empirical.landscape.directions import random_direction
from advland.empirical.landscape.flatness import average_flatness, worst_flatness
from advland.empirical.landscape.hessian import HessianOperator
from advland.empirical.landscape.scan import scan
from advland.empirical.landscape.similarity import perturbation_cosine
from advland.seeding import stream_seed, torch_generator

from .measures import DEFAULTS

HESSIAN_STREAM = "measure/hessian"


@dataclass
class Subject:
    """What the measures of one snapshot look at: the model, the run's resolved config (a dict of TrainConfig
    fields: ``eps``, ``norm`` and ``seed`` are read), its training and test sets ``(x, y)``, and a per-snapshot
    memo of top Hessian eigenpairs."""

    model: nn.Module
    config: dict
    train: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    memo: dict = field(default_factory=dict)

    def examples(self, split: str, n: int):
        """The first ``n`` examples of ``split`` (module docstring), on the model's device."""
        x, y = self.train if split == "train" else self.test
        device = next(self.model.parameters()).device
        return x[:n].to(device), y[:n].to(device)

    def seed(self, label: str) -> int:
        return stream_seed(self.config["seed"], f"measure/{label}")

    def generator(self, label: str, what: str) -> torch.Generator:
        """A CPU generator (the same draws on every device) for the stream ``measure/{label}/{what}``."""
        return torch_generator(self.config["seed"], f"measure/{label}/{what}")

    def pgd(self, eps: float, steps: int):
        """PGD-``steps`` at ``eps`` in the training norm (None at eps = 0: the clean loss)."""
        if eps == 0:
            return None
        return functools.partial(attacks.pgd, eps=eps, norm=self.config["norm"], steps=steps)


def _predictions(model, x, batch_size: int = 500) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(x[sl]).argmax(dim=1) for sl in slices(len(x), batch_size)])


def _logits(model, x, batch_size: int = 500) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(x[sl]) for sl in slices(len(x), batch_size)])


def majority_share(predictions: torch.Tensor) -> float:
    """Share of the most predicted class (1.0 for a constant classifier: Liu et al. 2020's stalled runs)."""
    return float(torch.bincount(predictions).max()) / len(predictions)


def eval_measure(s: Subject, p: dict, label: str) -> dict:
    """Clean and robust loss/accuracy (``empirical.evaluate``: robust accuracy counts a point broken when any
    attack iterate fools the model) and the majority shares of the clean predictions and of the predictions at
    the attack's highest-loss iterate x + delta."""
    x, y = s.examples(p["split"], p["n"])
    kw = {"eps": p["eps"], "norm": s.config["norm"], "steps": p["steps"]}
    if p["attack"] == "pgd":
        kw["restarts"] = p["restarts"]
    r = evaluate(s.model, x, y, attack=functools.partial(attacks.attack, p["attack"], **kw), keep_delta=True,
                 generator=s.generator(label, "attack"), bn_mode=p["bn_mode"])
    return {"clean_loss": r["clean_loss"], "clean_acc": r["clean_acc"], "robust_loss": r["robust_loss"],
            "robust_acc": r["robust_acc"], "majority_clean": majority_share(_predictions(s.model, x)),
            "majority_adv": majority_share(_predictions(s.model, x + r["delta"])), "n": r["n"]}


def _hessian_solve(s: Subject, hp: dict, k: int):
    """(operator, Lanczos result) of the k largest algebraic eigenvalues of the Hessian ``hp`` describes (clean
    loss, or adversarial with PGD examples frozen at the weights: ``HessianOperator``)."""
    x, y = s.examples(hp["split"], hp["n"])
    seed = stream_seed(s.config["seed"], HESSIAN_STREAM)
    attack = None
    if hp["loss"] == "adversarial":
        attack = {"eps": hp["eps"], "norm": s.config["norm"], "steps": hp["steps"],
                  "step_size": 2.5 * hp["eps"] / hp["steps"]}
    op = HessianOperator(s.model, x, y, params=hp["params"], bn_mode=hp["bn_mode"], loss=hp["loss"], attack=attack,
                         seed=seed)
    return op, op.lanczos(k=k, which="LA", tol=hp["tol"], max_iter=hp["max_iter"], seed=seed)


def _top_pair(s: Subject, hp: dict):
    """(operator, result) of the top eigenpair of the Hessian ``hp``, memoized for the snapshot."""
    key = json.dumps({k: v for k, v in hp.items() if k not in ("name", "label", "k")}, sort_keys=True)
    if key not in s.memo:
        s.memo[key] = _hessian_solve(s, hp, 1)
    return s.memo[key]


def hessian_measure(s: Subject, p: dict, label: str) -> dict:
    """The ``k`` largest eigenvalues (Lanczos, ``tol``) of the Hessian of the mean CE over all parameters of the
    set ``params``, clean or adversarial (examples frozen at θ: Liu et al. 2020's Hessian of the adversarial
    loss), with their convergence flags and residuals and the number of Hessian-vector products."""
    op, result = _top_pair(s, p) if p["k"] == 1 else _hessian_solve(s, p, p["k"])
    return {"eigenvalues": result.eigenvalues, "converged": [q.converged for q in result.pairs],
            "residuals": [q.residual for q in result.pairs], "hvps": result.n_matvecs, "loss_kind": p["loss"],
            "loss_value": op.loss_value, "eps": p["eps"] if p["loss"] == "adversarial" else 0.0,
            "n": int(op.y.shape[0])}


def cosine_measure(s: Subject, p: dict, label: str) -> dict:
    """``empirical.landscape.similarity.perturbation_cosine`` along the unit top Hessian eigenvector (the Hessian
    of ``p["hessian"]``) and along a unit Gaussian direction over the same parameters (Liu et al. 2020 §4.3,
    ``run/perturb_param.py``). Per direction, per scale a (0 always first, the control): mean raw and sign
    cosines of delta(θ + a v) and delta(θ - a v), and the robust and clean errors of θ + a v (``robust_error``,
    ``clean_error``) and θ - a v (``robust_error_minus``); with ``per_example`` also the per-example cosines
    (paired across directions: the attacks of one scale share their random numbers)."""
    x, y = s.examples(p["split"], p["n"])
    named = select_params(s.model, p["hessian"]["params"])
    out: dict = {"lambda_max": None, "lambda_converged": None}
    for direction in p["directions"]:
        if direction == "top":
            op, result = _top_pair(s, p["hessian"])
            pair = result.pairs[0]
            out.update(lambda_max=pair.value, lambda_converged=pair.converged)
            v = op.unflatten(pair.vector)
        else:
            v = random_direction(named, s.generator(label, "random-direction"), "unit")
        r = perturbation_cosine(s.model, x, y, named, v, p["scales"], attack=s.pgd(p["eps"], p["steps"]),
                                bn_mode=p["bn_mode"], seed=s.seed(label), per_example=p["per_example"])
        rows = r["rows"]
        out[direction] = {"scales": [q["scale"] for q in rows], "cosine": [q["cos_raw_mean"] for q in rows],
                          "cosine_std": [q["cos_raw_std"] for q in rows],
                          "sign_cosine": [q["cos_sign_mean"] for q in rows],
                          "robust_error": [q["error_plus"] for q in rows],
                          "robust_error_minus": [q["error_minus"] for q in rows],
                          "clean_error": [q["clean_error_plus"] for q in rows]}
        if p["per_example"]:
            out[direction].update(cosine_per_example=[q["cos_raw"] for q in rows],
                                  sign_cosine_per_example=[q["cos_sign"] for q in rows])
    return {**out, "eps": p["eps"], "n": int(len(y))}


def flatness_avg_measure(s: Subject, p: dict, label: str) -> dict:
    """Stutz et al. 2021 average-case flatness (§3.2): mean robust loss of ``samples`` models w + nu, nu uniform
    on the per-tensor spheres of radius xi ||w_t|| (relative ball) or xi (absolute), each re-attacked, minus
    the robust loss at w (``empirical.landscape.flatness.average_flatness``)."""
    x, y = s.examples(p["split"], p["n"])
    r = average_flatness(s.model, x, y, xi=p["xi"], samples=p["samples"], attack=s.pgd(p["eps"], p["steps"]),
                         ball=p["ball"], bn_mode=p["bn_mode"], seed=s.seed(label))
    return {"value": r["flatness"], "reference_loss": r["reference"], "perturbed_losses": r["values"],
            "eps": p["eps"], "n": int(len(y))}


def flatness_worst_measure(s: Subject, p: dict, label: str) -> dict:
    """Stutz et al. 2021 worst-case flatness (§3.2): the largest loss over ``attempts`` joint ascents
    (``iterations`` steps) on one weight perturbation in the xi-ball and per-example input perturbations in the
    eps-ball, minus the same ascent at xi = 0 (``empirical.landscape.flatness.worst_flatness``)."""
    x, y = s.examples(p["split"], p["n"])
    r = worst_flatness(s.model, x, y, xi=p["xi"], eps=p["eps"], steps=p["iterations"], attempts=p["attempts"],
                       lr=p["lr"], ball=p["ball"], bn_mode=p["bn_mode"], seed=s.seed(label))
    return {"value": r["flatness"], "reference_loss": r["reference"], "worst_loss": r["value"],
            "attempt_losses": r["attempt_values"], "eps": p["eps"], "n": int(len(y))}


def wu_curve_measure(s: Subject, p: dict, label: str) -> dict:
    """Wu et al. 2020 §3 (Fig. 1): the robust loss g(α) = L(θ + α d) along ``directions`` filter-normalized
    Gaussian directions d (Li et al. 2018; biases and BN parameters not moved), the inputs re-attacked at every
    point (``empirical.landscape.scan``); ``value`` = mean over directions of g(α_max) - g(0)."""
    x, y = s.examples(p["split"], p["n"])
    named = select_params(s.model, "all")
    losses, reference = [], None
    for k in range(p["directions"]):
        d = random_direction(named, s.generator(label, f"direction-{k}"), "filter")
        g = scan(s.model, x, y, named, [d], [[0.0, *p["alphas"]]], attack=s.pgd(p["eps"], p["steps"]),
                 bn_mode=p["bn_mode"], seed=s.seed(label))["loss"]
        reference = float(g[0])
        losses.append([float(v) for v in g[1:]])
    top = int(np.argmax(p["alphas"]))
    return {"alphas": p["alphas"], "losses": losses, "reference_loss": reference,
            "value": float(np.mean([row[top] - reference for row in losses])), "eps": p["eps"], "n": int(len(y))}


def rescaling_pair(model: nn.Module) -> tuple[str, str, str]:
    """(first weight layer, the module after it that absorbs the rescaling, 'batchnorm' | 'layer'): the first
    Conv2d/Linear in registration order and the next BatchNorm or Conv2d/Linear after it."""
    modules = list(model.named_modules())
    layer_types = (nn.Conv2d, nn.Linear)
    first = next((i for i, (_, m) in enumerate(modules) if isinstance(m, layer_types)), None)
    if first is not None:
        for name, m in modules[first + 1:]:
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                return modules[first][0], name, "batchnorm"
            if isinstance(m, layer_types):
                return modules[first][0], name, "layer"
    raise ValueError(f"{type(model).__name__} has no two consecutive weight layers to rescale")


@torch.no_grad()
def rescale(model: nn.Module, pair: tuple[str, str, str], alpha: float) -> None:
    """Function-preserving rescaling (Stutz et al. 2021 §3.1; Dinh et al. 2017) in place: the first layer's weight
    and bias × α, then the next layer's weight × 1/α (ReLU and max-pooling are positively homogeneous), or, for a
    BatchNorm after it, its running mean × α and running variance × α² (exact up to BN's ε). Powers of two
    rescale floating-point numbers exactly."""
    modules = dict(model.named_modules())
    first, second, kind = modules[pair[0]], modules[pair[1]], pair[2]
    first.weight.mul_(alpha)
    if first.bias is not None:
        first.bias.mul_(alpha)
    if kind == "batchnorm":
        second.running_mean.mul_(alpha)
        second.running_var.mul_(alpha * alpha)
    else:
        second.weight.div_(alpha)


def rescale_measure(s: Subject, p: dict, label: str) -> dict:
    """Scale (in)variance (Stutz et al. 2021 §3.1): for α = 1 (the reference) and each α of ``alphas``, on the
    rescaled copy of the model (``rescale``): relative average-case flatness (xi_relative), absolute average-case
    flatness (xi_absolute; default: xi_relative times the mean per-tensor norm ||w_t|| at α = 1, the mean radius
    of the relative ball), relative worst-case flatness (worst_xi), the clean top Hessian eigenvalue (all
    parameters) and the largest absolute logit change. All α use the same random numbers."""
    x, y = s.examples(p["split"], p["n"])
    pair = rescaling_pair(s.model)
    alphas = [1.0] + [a for a in p["alphas"] if a != 1.0]
    xi_abs = p["xi_absolute"]
    if xi_abs is None:
        xi_abs = p["xi_relative"] * float(np.mean([float(w.detach().norm())
                                                   for _, w in select_params(s.model, "no-norm")]))
    attack, seed = s.pgd(p["eps"], p["steps"]), s.seed(label)
    with preserved(s.model, p["bn_mode"]):
        reference = _logits(s.model, x)
    cols = {k: [] for k in ("relative_flatness", "absolute_flatness", "relative_worst", "lambda_max",
                            "max_logit_change")}
    hessian = {**DEFAULTS["hessian"], "loss": "clean", "n": p["n"], "split": p["split"], "bn_mode": p["bn_mode"]}
    for alpha in alphas:
        m = copy.deepcopy(s.model)
        rescale(m, pair, alpha)
        common = dict(samples=p["samples"], attack=attack, bn_mode=p["bn_mode"], seed=seed)
        cols["relative_flatness"].append(average_flatness(m, x, y, xi=p["xi_relative"], ball="relative",
                                                          **common)["flatness"])
        cols["absolute_flatness"].append(average_flatness(m, x, y, xi=xi_abs, ball="absolute", **common)["flatness"])
        cols["relative_worst"].append(worst_flatness(m, x, y, xi=p["worst_xi"], eps=p["eps"],
                                                     steps=p["worst_iterations"], attempts=p["worst_attempts"],
                                                     bn_mode=p["bn_mode"], seed=seed)["flatness"])
        cols["lambda_max"].append(_hessian_solve(Subject(m, s.config, s.train, s.test), hessian, 1)[1].eigenvalues[0])
        with preserved(m, p["bn_mode"]):
            cols["max_logit_change"].append(float((_logits(m, x) - reference).abs().max()))
    return {"alphas": alphas, **cols, "xi_absolute": xi_abs, "layers": list(pair), "eps": p["eps"], "n": int(len(y))}


MEASURE_FUNCTIONS = {"eval": eval_measure, "hessian": hessian_measure, "cosine": cosine_measure,
                     "flatness-avg": flatness_avg_measure, "flatness-worst": flatness_worst_measure,
                     "wu-curve": wu_curve_measure, "rescale": rescale_measure}


def measure(subject: Subject, spec: dict) -> dict:
    """The result of the resolved measure ``spec`` (``measures.resolve_measure``) on ``subject``, with
    ``bn_mode``, ``seconds`` and ``cpu_seconds``; the model is bit-exactly as it was afterwards."""
    params = {k: v for k, v in spec.items() if k not in ("name", "label")}
    start, cpu = time.perf_counter(), time.process_time()
    with preserved(subject.model, spec["bn_mode"]):
        result = MEASURE_FUNCTIONS[spec["name"]](subject, params, spec["label"])
    return {**result, "bn_mode": spec["bn_mode"], "seconds": time.perf_counter() - start,
            "cpu_seconds": time.process_time() - cpu}
