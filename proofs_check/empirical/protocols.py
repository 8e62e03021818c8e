"""The training runs of the empirical claims: one function per sharing group, returning the units of ``ctx.scale``.

Claims that read the same run must plan the *same* unit (same resolved config, snapshots and measures, hence the
same key) so that the runner trains it once. A group's function therefore builds every unit that any claim of the
group needs, with every measure any of them reads; a claim takes its units from what the function returns
(``Runs.units``) and the grids it decides on from ``Runs.grid``.

Groups (the claims that read them):

* ``liu_sweep``: LeNet/MNIST, L∞, constant ε over Liu et al.'s grid (Liu et al. 2020, §4 "Numerical analysis"):
  escape-from-init (batch losses), nonvanishing-gradient (last-epoch full-batch gradient norm), hessian-grows
  (top eigenvalue of the adversarial and clean loss), perturbation-cosine (θ ± a·v).
* ``liu_schedules``: ε = 0.4 with the constant, cosine and linear schedules (Liu et al. 2020, eq. 13) at the learning
  rates of the scale (constant-eps-stalls, periodic-schedule); its constant arm at the sweep's learning rate *is*
  the sweep's ε = 0.4 unit.
* ``liu_resnet_sweep``: ResNet-18/CIFAR-10, ε ∈ {0, 2, 4, 8}/255 (hessian-grows at gpu and paper scale; none below).
* ``yamada_sweep``: L2 adversarial training over an ε grid (yamada2021.resnet-sharpening): a small LeNet on MNIST at
  smoke/cpu scale, ResNet-18 on CIFAR-10 at gpu/paper scale.
* ``overfitting_zoo``: a robust-overfitting zoo on CIFAR-10 (AT along training, AT-AWP, TRADES, TRADES-AWP, AT with
  weight decay), measured at snapshots (stutz2021 flatness claims, wu2020 claims); its TRADES member also carries
  the rescaling measure of stutz2021.scale-invariance.
* ``rescaled_models``: the model of stutz2021.scale-invariance (that zoo member).

The seeds of the runs are ``ctx.seed, ctx.seed + 1, ...``: another ``--seed`` trains other runs. A group's units
are built once per context (cached: plan, decide and plot of every claim of the group ask for them). At cpu scale the
settings are the ones measured to show each effect within the budget of all empirical claims together (about
1,400 CPU-seconds on a 2-core machine); gpu (about 30 minutes on one H100-class GPU) and paper (the papers' own
settings) are designed, not measured.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

from advland.empirical.names import DATASET_INFO
from advland.empirical.train.schedules import liu_mnist_attack

from ..model import Context, Unit
from . import runs

CIFAR_EPS = 8 / 255


@dataclass(frozen=True)
class Runs:
    """The units of one sharing group at one scale: ``units`` by name (a tuple such as ``("sweep", eps, seed)``),
    the ``grid`` the claims select from (ε levels, seeds, snapshot epochs, ...) and ``setting``, the protocol in
    one line (for the claims' scale notes)."""

    units: Mapping[tuple, Unit]
    grid: Mapping[str, Any]
    setting: str

    def __post_init__(self):
        object.__setattr__(self, "units", MappingProxyType(dict(self.units)))
        object.__setattr__(self, "grid", MappingProxyType(dict(self.grid)))

    def only(self, names) -> "Runs":
        """The same group restricted to the named units (in their order)."""
        missing = [n for n in names if n not in self.units]
        if missing:
            raise KeyError(f"no units {missing} in this group; it has {list(self.units)}")
        return Runs({n: self.units[n] for n in names}, self.grid, self.setting)


def seeds(ctx: Context, count: int) -> tuple[int, ...]:
    """The run seeds of the scale: ``ctx.seed, ctx.seed + 1, ...`` (``count`` of them)."""
    return tuple(ctx.seed + i for i in range(count))


def _batches(cfg: dict) -> int:
    """Batches per epoch of a config (``subset`` examples, or the whole training split)."""
    n = cfg.get("subset") or DATASET_INFO[cfg["dataset"]]["split_sizes"]["train"]
    return math.ceil(n / cfg["batch_size"])


def _eval(label: str, split: str, p: dict) -> dict:
    """An ``eval`` measure (clean and PGD robust loss/accuracy at the training ε) on ``p['n']`` examples."""
    return {"name": "eval", "label": label, "split": split, "n": p["n"], "steps": p["steps"]}


# ---------------------------------------------------------------- Liu et al. 2020: LeNet / MNIST

LIU_EPS = (0.0, 0.1, 0.2, 0.3, 0.4)
TRAINED = {"max_train_loss": 2.0, "min_clean_acc": 0.5}   # a Liu model below these has not stalled or under-fitted
STALL_EPS = 0.4     # the large budget of the schedule arms (Liu et al. 2020, Table "insensitive to learning rate")
_LIU_BASE = {"model": "lenet", "dataset": "mnist", "batch_size": 128, "optimizer": "adam", "weight_decay": 0.0,
             "schedule": "const"}
LIU = {
    "smoke": {"config": {"width": 2, "subset": 600, "lr": 1e-3, "attack_steps": 2, "eval_subset": 100,
                         "eval_steps": 2, "grad_subset": 100},
              "eps": (0.0, 0.1, 0.4), "epochs": {}, "default_epochs": 1, "seeds": 1,
              "trained_eps": (0.0, 0.1), "cosine_eps": (0.1,), "cosine_at": 0.2,
              "hessian": {"n": 64, "steps": 2, "k": 1}, "cosine": {"n": 32, "scales": [0.0, 0.2], "steps": 2},
              "eval": {"n": 100, "steps": 2}, "schedule_lrs": (1e-3, 3e-4), "schedule_seeds": 1},
    "cpu": {"config": {"width": 4, "subset": 5000, "lr": 1e-3, "attack_steps": 5, "eval_subset": 200,
                       "eval_steps": 10, "grad_subset": 500},
            "eps": LIU_EPS, "epochs": {0.3: 3, 0.4: 3}, "default_epochs": 5, "seeds": 2,
            "trained_eps": (0.0, 0.1, 0.2), "cosine_eps": (0.1, 0.2), "cosine_at": 0.2,
            "hessian": {"n": 500, "steps": 20, "k": 1},
            "cosine": {"n": 200, "scales": [0.0, 0.05, 0.1, 0.2, 0.5], "steps": 10},
            "eval": {"n": 1000, "steps": 10}, "schedule_lrs": (1e-3, 3e-4), "schedule_seeds": 1},
    "gpu": {"config": {"width": 16, "subset": None, "lr": 1e-4, "attack_steps": 10, "eval_subset": 1000,
                       "eval_steps": 20, "grad_subset": 1000},
            "eps": LIU_EPS, "epochs": {}, "default_epochs": 6, "seeds": 2,
            "trained_eps": LIU_EPS, "cosine_eps": (0.1, 0.2, 0.3, 0.4), "cosine_at": 0.1,
            "hessian": {"n": 1000, "steps": 20, "k": 1},
            "cosine": {"n": 1000, "scales": [0.0, 0.01, 0.03, 0.05, 0.1], "steps": 20},
            "eval": {"n": 10000, "steps": 20}, "schedule_lrs": (1e-4, 3e-4, 1e-3), "schedule_seeds": 2},
    "paper": {"config": {"width": 16, "subset": None, "lr": 1e-4, "liu_attack": True, "eval_subset": 1000,
                         "eval_steps": 20, "grad_subset": 5000},
              "eps": LIU_EPS, "epochs": {}, "default_epochs": 100, "seeds": 3,
              "trained_eps": LIU_EPS, "cosine_eps": (0.1, 0.2, 0.3, 0.4), "cosine_at": 0.1,
              "hessian": {"n": 5000, "steps": 50, "k": 20},
              "cosine": {"n": 5000, "scales": [0.0, 0.01, 0.03, 0.05, 0.1], "steps": 50},
              "eval": {"n": 10000, "steps": 50}, "schedule_lrs": (1e-4, 3e-4, 1e-3), "schedule_seeds": 3},
}


def _liu_epochs(p: dict, eps: float) -> int:
    return p["epochs"].get(eps, p["default_epochs"])


def _liu_config(p: dict, eps: float, seed: int, schedule: str, lr: float) -> dict:
    """The TrainConfig fields of one LeNet/MNIST run (the batch-loss record covers every batch of the run)."""
    cfg = {**_LIU_BASE, **{k: v for k, v in p["config"].items() if k != "liu_attack"}}
    epochs = _liu_epochs(p, eps)
    cfg.update(eps=eps, seed=seed, schedule=schedule, lr=lr, epochs=epochs,
               method="clean" if eps == 0 else "at")
    if p["config"].get("liu_attack") and eps > 0:
        cfg["attack_steps"], cfg["attack_step_size"] = liu_mnist_attack(eps)
    cfg["batch_loss_limit"] = epochs * _batches(cfg)
    return cfg


def _liu_measures(p: dict, eps: float, sweep_run: bool) -> list[dict]:
    """Every run: the test evaluation. Sweep runs of the trained grid: the top Hessian eigenvalue of the loss at the
    training ε (adversarial examples frozen at θ; the clean loss for ε = 0) and, for ε > 0, of the clean loss at the
    same weights; the perturbation cosine on the cosine grid."""
    measures = [_eval("eval-test", "test", p["eval"])]
    if not sweep_run:
        return measures
    h = {"name": "hessian", "split": "train", **p["hessian"]}
    if eps in p["trained_eps"]:
        measures.append({**h, "loss": "adversarial" if eps > 0 else "clean"})
        if eps > 0:
            measures.append({**h, "label": "hessian-clean", "loss": "clean"})
    if eps in p["cosine_eps"]:
        measures.append(_cosine(p["cosine"], h))
    return measures


def _cosine(p: dict, hessian: dict) -> dict:
    """The perturbation-cosine measure along the top eigenvector of ``hessian`` (the same parameters as the
    run's adversarial ``hessian`` measure, so the snapshot's eigenvector is computed once) and a random
    direction."""
    return {"name": "cosine", "split": "train", "directions": ["top", "random"], **p,
            "hessian": {k: v for k, v in hessian.items() if k not in ("name", "k")}}


def _liu_unit(p: dict, eps: float, seed: int, schedule: str = "const", lr: float | None = None) -> Unit:
    lr = p["config"]["lr"] if lr is None else lr
    sweep_run = schedule == "const" and lr == p["config"]["lr"]
    return runs.training_unit(config=_liu_config(p, eps, seed, schedule, lr),
                              measures=_liu_measures(p, eps, sweep_run))


def _liu_setting(p: dict) -> str:
    c = p["config"]
    data = f"{c['subset']} class-balanced MNIST images" if c.get("subset") else "MNIST (60,000 images)"
    attack = "PGD with ε/0.01 + 10 steps of 0.01" if c.get("liu_attack") else f"PGD-{c['attack_steps']}"
    epochs = ", ".join(f"{_liu_epochs(p, e)} epochs at ε = {e:g}" for e in p["eps"])
    return (f"LeNet (w = {c['width']}), {data}, Adam lr {c['lr']:g}, batch 128, L∞ {attack} in training; {epochs}; "
            f"{p['seeds']} seed(s)")


@functools.lru_cache(maxsize=None)
def liu_sweep(ctx: Context) -> Runs:
    """Units ``("sweep", eps, seed)``; grid: eps, seeds, trained_eps (the levels whose models train at this scale:
    Hessian and gradient claims), cosine_eps, cosine_at (the scale a at which the cosine is decided), the Hessian
    and cosine settings."""
    p = LIU[ctx.scale]
    ss = seeds(ctx, p["seeds"])
    units = {("sweep", e, s): _liu_unit(p, e, s) for e in p["eps"] for s in ss}
    grid = {"eps": p["eps"], "seeds": ss, "trained_eps": p["trained_eps"], "cosine_eps": p["cosine_eps"],
            "cosine_at": p["cosine_at"], "hessian": p["hessian"], "cosine": p["cosine"], "eval": p["eval"],
            **TRAINED}
    return Runs(units, grid, _liu_setting(p))


@functools.lru_cache(maxsize=None)
def liu_schedules(ctx: Context) -> Runs:
    """Units ``("schedule", schedule, lr, seed)`` at ε = 0.4 for schedule in const/cos/linear (Liu et al.'s
    over-shoot: ε_max 0.6 cos, 0.8 linear; ε updated per epoch, so the first epoch of a ramp is clean). Grid:
    ``stall_lr`` and ``stall_seeds`` (constant-eps-stalls: the sweep's lr, every sweep seed), ``lrs`` and
    ``lr_seeds`` (periodic-schedule: every lr of the scale with the first ``schedule_seeds`` seeds, plus the
    stall arms)."""
    p = LIU[ctx.scale]
    base_lr, ss = p["config"]["lr"], seeds(ctx, p["seeds"])
    lr_seeds = ss[: p["schedule_seeds"]]
    names = [(sch, base_lr, s) for s in ss for sch in ("const", "cos", "linear")]
    names += [(sch, lr, s) for lr in p["schedule_lrs"] if lr != base_lr for s in lr_seeds
              for sch in ("const", "cos", "linear")]
    units = {("schedule", *n): _liu_unit(p, STALL_EPS, n[2], n[0], n[1]) for n in names}
    pairs = sorted({(lr, s) for _, lr, s in names}, key=lambda t: (-t[0], t[1]))
    grid = {"eps": STALL_EPS, "stall_lr": base_lr, "stall_seeds": ss, "lrs": tuple(sorted(p["schedule_lrs"])),
            "pairs": tuple(pairs), "epochs": _liu_epochs(p, STALL_EPS)}
    return Runs(units, grid, _liu_setting(p).split(";")[0]
                + f"; ε = {STALL_EPS} for {_liu_epochs(p, STALL_EPS)} epochs, constant / cosine (ε_max 0.6) / "
                  f"linear (ε_max 0.8) schedules updated per epoch; learning rates "
                  f"{', '.join(f'{lr:g}' for lr in sorted(p['schedule_lrs']))}")


# ---------------------------------------------------------------- Liu et al. 2020: ResNet-18 / CIFAR-10

LIU_RESNET = {
    "gpu": {"config": {"model": "resnet18", "width": 8, "dataset": "cifar10", "subset": 10000, "epochs": 12,
                       "batch_size": 128, "optimizer": "sgd", "lr": 0.05, "lr_schedule": "cos", "momentum": 0.9,
                       "weight_decay": 1e-3, "attack_steps": 5, "eval_subset": 500, "eval_steps": 10,
                       "grad_subset": 500, "epoch_metrics": ["eval-train", "eval-test"]},
            "eps": (0.0, 2 / 255, 4 / 255, 8 / 255), "seeds": 2, "hessian": {"n": 1000, "steps": 10, "k": 1},
            "eval": {"n": 2000, "steps": 10}, "cosine_eps": (), "cosine": None},
    "paper": {"config": {"model": "resnet18", "width": 8, "dataset": "cifar10", "subset": None, "epochs": 200,
                         "batch_size": 128, "optimizer": "sgd", "lr": 0.1, "lr_schedule": "piecewise",
                         "momentum": 0.9, "weight_decay": 1e-3, "attack_steps": 10, "eval_subset": 1000,
                         "eval_steps": 10, "grad_subset": 1000, "epoch_metrics": ["eval-train", "eval-test"]},
              "eps": (0.0, 2 / 255, 4 / 255, 8 / 255), "seeds": 3, "hessian": {"n": 5000, "steps": 10, "k": 20},
              "eval": {"n": 10000, "steps": 10}, "cosine_eps": (2 / 255, 4 / 255, 8 / 255),
              "cosine": {"n": 1000, "scales": [0.0, 0.1, 0.3, 0.5, 1.0], "steps": 10}},
}


@functools.lru_cache(maxsize=None)
def liu_resnet_sweep(ctx: Context) -> Runs:
    """Units ``("resnet", eps, seed)`` (none at smoke and cpu scale: ResNet-18 does not train on 2 CPU cores in
    budget). PGD step ε/4 as Liu et al.'s CIFAR attack."""
    p = LIU_RESNET.get(ctx.scale)
    if p is None:
        return Runs({}, {"eps": (), "seeds": (), "trained_eps": (), "cosine_eps": (), **TRAINED}, "")
    ss = seeds(ctx, p["seeds"])
    units = {}
    for e in p["eps"]:
        for s in ss:
            cfg = {**p["config"], "eps": e, "seed": s, "method": "clean" if e == 0 else "at"}
            if e > 0:
                cfg["attack_step_size"] = e / 4
            h = {"name": "hessian", "split": "train", **p["hessian"]}
            measures = [_eval("eval-test", "test", p["eval"]), {**h, "loss": "adversarial" if e > 0 else "clean"}]
            if e > 0:
                measures.append({**h, "label": "hessian-clean", "loss": "clean"})
            if e in p["cosine_eps"]:
                measures.append(_cosine(p["cosine"], h))
            units[("resnet", e, s)] = runs.training_unit(config=cfg, measures=measures)
    c = p["config"]
    setting = (f"ResNet-18 (w = {c['width']}), CIFAR-10 {c['subset'] or 50000} images, SGD lr {c['lr']:g} "
               f"({c['lr_schedule']}), {c['epochs']} epochs, L∞ PGD-{c['attack_steps']} step ε/4; {len(ss)} seeds")
    return Runs(units, {"eps": p["eps"], "seeds": ss, "trained_eps": p["eps"], "cosine_eps": p["cosine_eps"],
                        "cosine_at": 0.3, "hessian": p["hessian"], **TRAINED}, setting)


# ---------------------------------------------------------------- Yamada et al. 2021: L2 sharpening

YAMADA = {
    "smoke": {"config": {"model": "lenet", "width": 2, "dataset": "mnist", "subset": 300, "epochs": 1,
                         "optimizer": "adam", "lr": 1e-3, "attack_steps": 2, "eval_subset": 100, "eval_steps": 2},
              "eps": (0.0, 1.0), "seeds": 1, "hessian": {"n": 64, "steps": 2, "k": 1},
              "curve": {"alphas": [0.5], "directions": 1, "n": 32, "steps": 2}, "max_train_loss": 1.0},
    "cpu": {"config": {"model": "lenet", "width": 2, "dataset": "mnist", "subset": 2000, "epochs": 6,
                       "optimizer": "adam", "lr": 1e-3, "attack_steps": 5, "eval_subset": 200, "eval_steps": 10},
            "eps": (0.0, 0.5, 1.0), "seeds": 2, "hessian": {"n": 500, "steps": 20, "k": 1},
            "curve": {"alphas": [0.5], "directions": 3, "n": 500, "steps": 5}, "max_train_loss": 1.0},
    "gpu": {"config": {"model": "resnet18", "width": 4, "dataset": "cifar10", "subset": 10000, "epochs": 12,
                       "optimizer": "sgd", "lr": 0.05, "lr_schedule": "cos", "momentum": 0.9, "weight_decay": 5e-4,
                       "attack_steps": 5, "eval_subset": 500, "eval_steps": 10},
            "eps": (0.0, 0.25, 0.5, 1.0), "seeds": 2, "hessian": {"n": 1000, "steps": 10, "k": 1},
            "curve": {"alphas": [0.5], "directions": 3, "n": 1000, "steps": 5}, "max_train_loss": 2.0},
    "paper": {"config": {"model": "resnet18", "width": 16, "dataset": "cifar10", "subset": None, "epochs": 100,
                         "optimizer": "sgd", "lr": 0.1, "lr_schedule": "piecewise", "momentum": 0.9,
                         "weight_decay": 5e-4, "attack_steps": 10, "eval_subset": 1000, "eval_steps": 20},
              "eps": (0.0, 0.25, 0.5, 1.0), "seeds": 3, "hessian": {"n": 5000, "steps": 20, "k": 5},
              "curve": {"alphas": [0.25, 0.5, 1.0], "directions": 5, "n": 1000, "steps": 10},
              "max_train_loss": 2.0},
}


@functools.lru_cache(maxsize=None)
def yamada_sweep(ctx: Context) -> Runs:
    """Units ``("l2", eps, seed)``: L2 adversarial training (clean for ε = 0) with the top Hessian eigenvalue of the
    adversarial loss at the training ε (examples frozen at θ), of the clean loss at the same weights, and the
    filter-normalized random-direction curve (inputs re-attacked at the training ε). Grid: eps, seeds,
    max_train_loss (the validity guard's bound on the last-epoch training robust loss)."""
    p = YAMADA[ctx.scale]
    ss = seeds(ctx, p["seeds"])
    units = {}
    for e in p["eps"]:
        for s in ss:
            cfg = {**p["config"], "norm": "l2", "eps": e, "seed": s, "method": "clean" if e == 0 else "at",
                   "batch_size": 128, "epoch_metrics": ["eval-train", "eval-test"]}
            h = {"name": "hessian", "split": "train", **p["hessian"]}
            measures = [{**h, "loss": "adversarial" if e > 0 else "clean"}, {"name": "wu-curve", "split": "train",
                                                                              **p["curve"]}]
            if e > 0:
                measures.insert(1, {**h, "label": "hessian-clean", "loss": "clean"})
            units[("l2", e, s)] = runs.training_unit(config=cfg, measures=measures)
    c = p["config"]
    setting = (f"{c['model']} (w = {c['width']}) on {c['subset'] or 'all'} {c['dataset']} training images, "
               f"{c['optimizer']} lr {c['lr']:g}, {c['epochs']} epochs, L2 PGD-{c['attack_steps']}; "
               f"ε ∈ {{{', '.join(f'{e:g}' for e in p['eps'])}}}; {len(ss)} seed(s)")
    return Runs(units, {"eps": p["eps"], "seeds": ss, "max_train_loss": p["max_train_loss"],
                        "hessian": p["hessian"], "curve": p["curve"]}, setting)


# ---------------------------------------------------------------- Stutz et al. 2021, Wu et al. 2020: overfitting zoo

ZOO_METHODS = ("at", "awp", "trades", "trades-awp", "at-wd")
ZOO = {
    "smoke": {"config": {"model": "mlp", "width": 2, "dataset": "cifar10", "subset": 100, "optimizer": "adam",
                         "lr": 2e-3, "weight_decay": 0.0, "batch_size": 50, "attack_steps": 2},
              "at_epochs": 3, "snapshots": (1, 2, 3), "zoo_epoch": 3, "members": {"at": 1, "awp": 1, "trades": 1},
              "awp": {"awp_gamma": 0.01, "awp_warmup": 1}, "trades-awp": {"awp_gamma": 5e-3, "awp_warmup": 1},
              "at-wd": 5e-3,
              "eval_train": {"n": 100, "steps": 2}, "eval_test": {"n": 100, "steps": 2},
              "avg": {"xi": 0.5, "samples": 1, "n": 50, "steps": 2},
              "worst": {"xi": 0.01, "iterations": 2, "attempts": 1, "n": 50},
              "curve": {"alphas": [0.5], "directions": 1, "n": 50, "steps": 2},
              "rescale": {"alphas": [0.5, 4.0], "xi_relative": 0.5, "samples": 1, "n": 50, "steps": 2},
              "min_gap_range": 0.5, "min_rise": 0.3, "min_at_gap": 0.3},
    "cpu": {"config": {"model": "mlp", "width": 16, "dataset": "cifar10", "subset": 500, "optimizer": "adam",
                       "lr": 2e-3, "weight_decay": 0.0, "batch_size": 50, "attack_steps": 5},
            "at_epochs": 60, "snapshots": (5, 10, 20, 30, 40, 60), "zoo_epoch": 40,
            "members": {"at": 5, "awp": 5, "trades": 1, "trades-awp": 1, "at-wd": 1},
            # AWP from epoch 15: this MLP leaves the ln 10 plateau within 5-11 AT epochs (Liu et al.'s escape from
            # initialization); AWP switched on before that kept one of five pilot runs at chance for good
            "awp": {"awp_gamma": 0.01, "awp_warmup": 15}, "trades-awp": {"awp_gamma": 5e-3, "awp_warmup": 10},
            "at-wd": 5e-3,
            "eval_train": {"n": 500, "steps": 10}, "eval_test": {"n": 1000, "steps": 10},
            "avg": {"xi": 0.5, "samples": 5, "n": 500, "steps": 5},
            "worst": {"xi": 0.01, "iterations": 10, "attempts": 2, "n": 500},
            "curve": {"alphas": [0.5], "directions": 3, "n": 500, "steps": 5},
            "rescale": {"alphas": [0.5, 4.0], "xi_relative": 0.5, "samples": 3, "n": 200, "steps": 5},
            "min_gap_range": 0.5, "min_rise": 0.3, "min_at_gap": 0.3},
    "gpu": {"config": {"model": "preactresnet18", "width": 8, "dataset": "cifar10", "subset": 5000,
                       "optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4, "batch_size": 128,
                       "attack_steps": 7},
            "at_epochs": 60, "snapshots": (5, 10, 20, 30, 40, 50, 60), "zoo_epoch": 40,
            "members": {"at": 3, "awp": 3, "trades": 2, "trades-awp": 2, "at-wd": 1},
            "awp": {"awp_gamma": 0.01, "awp_warmup": 0}, "trades-awp": {"awp_gamma": 5e-3, "awp_warmup": 9},
            "at-wd": 5e-3,
            "eval_train": {"n": 2000, "steps": 10}, "eval_test": {"n": 2000, "steps": 10},
            "avg": {"xi": 0.5, "samples": 10, "n": 1000, "steps": 10},
            "worst": {"xi": 0.003, "iterations": 10, "attempts": 3, "n": 1000},
            "curve": {"alphas": [0.5], "directions": 5, "n": 1000, "steps": 10},
            "rescale": {"alphas": [0.5, 4.0], "xi_relative": 0.5, "samples": 5, "n": 500, "steps": 10},
            "min_gap_range": 0.5, "min_rise": 0.3, "min_at_gap": 0.3},
    "paper": {"config": {"model": "preactresnet18", "width": 16, "dataset": "cifar10", "subset": None,
                         "optimizer": "sgd", "lr": 0.1, "lr_schedule": "piecewise", "momentum": 0.9,
                         "weight_decay": 5e-4, "batch_size": 128, "attack_steps": 10,
                         "attack_step_size": 2 / 255},
              "at_epochs": 200, "snapshots": tuple(range(10, 201, 10)), "zoo_epoch": 200,
              "members": {"at": 3, "awp": 3, "trades": 3, "trades-awp": 3, "at-wd": 1},
              "awp": {"awp_gamma": 0.01, "awp_warmup": 0}, "trades-awp": {"awp_gamma": 5e-3, "awp_warmup": 9},
              "at-wd": 5e-3,
              "eval_train": {"n": 10000, "steps": 20}, "eval_test": {"n": 10000, "steps": 20},
              "avg": {"xi": 0.5, "samples": 10, "n": 1000, "steps": 20},
              "worst": {"xi": 0.00075, "iterations": 20, "attempts": 10, "n": 1000},
              "curve": {"alphas": [0.5], "directions": 10, "n": 1000, "steps": 10},
              "rescale": {"alphas": [0.5, 4.0], "xi_relative": 0.5, "samples": 10, "n": 1000, "steps": 20},
              "min_gap_range": 0.5, "min_rise": 0.3, "min_at_gap": 0.3},
}
RESCALED_MEMBER = "trades"   # the zoo member (its first seed) that also carries the rescaling measure


def _paired_methods(scale: str) -> tuple[tuple[str, str], ...]:
    """The (method, method + AWP) pairs compared by seed: TRADES against TRADES-AWP from gpu scale on (one seed
    each below gives no interval)."""
    return (("at", "awp"),) + ((("trades", "trades-awp"),) if scale in ("gpu", "paper") else ())


def _zoo_config(p: dict, method: str, seed: int, long: bool) -> dict:
    cfg = {**p["config"], "eps": CIFAR_EPS, "seed": seed, "augment": p["config"].get("subset") is None,
           "epoch_metrics": ["none"], "epochs": p["at_epochs"] if long else p["zoo_epoch"]}
    if method == "at-wd":
        cfg.update(method="at", weight_decay=p["at-wd"])
    else:
        cfg.update(method=method, **p.get(method, {}))
    return cfg


def _zoo_measures(p: dict) -> list[dict]:
    return [_eval("eval-train", "train", p["eval_train"]), _eval("eval-test", "test", p["eval_test"]),
            {"name": "flatness-avg", "split": "test", **p["avg"]},
            {"name": "flatness-worst", "split": "test", **p["worst"]},
            {"name": "wu-curve", "split": "test", **p["curve"]}]


@functools.lru_cache(maxsize=None)
def overfitting_zoo(ctx: Context) -> Runs:
    """Units ``(method, seed)`` for method in ZOO_METHODS (those of the scale): AT runs ``at_epochs`` long with
    the measures at every snapshot epoch; the other members of the AWP pairs run as long, measured at ``zoo_epoch``
    and at the end (the pairs are compared at the last epoch, as Wu et al. compare last-epoch robustness); the
    rest run ``zoo_epoch`` epochs (= an AT snapshot: the learning rate and ε are constant at smoke/cpu/gpu scale)
    measured at the end. Measures: robust loss/accuracy on the training
    subset and on test images (gap = test − train robust loss), Stutz et al.'s average- and worst-case flatness
    (relative balls), Wu et al.'s filter-normalized random-direction curve. No augmentation on subsets (robust
    overfitting shows within minutes). Grid: snapshots, zoo_epoch, seeds per method, the guard bounds and the
    (method, method + AWP) pairs compared by seed (TRADES against TRADES-AWP from gpu scale on: one seed each below
    gives no interval)."""
    p = ZOO[ctx.scale]
    pairs = _paired_methods(ctx.scale)
    paired = {m for pair in pairs for m in pair}
    units = {}
    for method in ZOO_METHODS:
        for s in seeds(ctx, p["members"].get(method, 0)):
            measures = _zoo_measures(p)
            if method == RESCALED_MEMBER and s == ctx.seed:
                measures.append({"name": "rescale", **p["rescale"]})
            snapshots = p["snapshots"] if method == "at" else (p["zoo_epoch"],) if method in paired else ()
            units[(method, s)] = runs.training_unit(config=_zoo_config(p, method, s, method in paired),
                                                    snapshots=snapshots, measures=measures)
    c = p["config"]
    setting = (f"{c['model']} (w = {c['width']}) on {c['subset'] or 50000} CIFAR-10 training images, "
               f"{c['optimizer']} lr {c['lr']:g}, L∞ 8/255 PGD-{c['attack_steps']}; AT {p['at_epochs']} epochs "
               f"(snapshots {', '.join(map(str, p['snapshots']))}), its AWP partner as long, the other methods "
               f"{p['zoo_epoch']} epochs; "
               + ", ".join(f"{m} × {k}" for m, k in p["members"].items()))
    grid = {k: p[k] for k in ("snapshots", "zoo_epoch", "min_gap_range", "min_rise", "min_at_gap", "avg", "worst",
                              "curve", "eval_train", "eval_test")}
    grid["classes"] = 10
    grid["seeds"] = {m: seeds(ctx, p["members"].get(m, 0)) for m in ZOO_METHODS}
    grid["pairs"] = pairs
    grid["pair_epoch"] = p["at_epochs"]
    return Runs(units, grid, setting)


# ---------------------------------------------------------------- Stutz et al. 2021: scale invariance

@functools.lru_cache(maxsize=None)
def rescaled_models(ctx: Context) -> Runs:
    """The zoo's ``RESCALED_MEMBER`` run of the first seed (the same unit as in ``overfitting_zoo``), which carries
    the ``rescale`` measure: α = 1 and the protocol's α (powers of two keep the rescaled function exact in floating
    point). A ReLU MLP without BatchNorm at smoke/cpu scale, PreActResNet-18 with BatchNorm at gpu/paper scale."""
    zoo = overfitting_zoo(ctx)
    runs = zoo.only([(RESCALED_MEMBER, ctx.seed)])
    p = ZOO[ctx.scale]
    setting = (f"the zoo's {RESCALED_MEMBER} model ({p['config']['model']}, w = {p['config']['width']}, "
               f"{p['zoo_epoch']} epochs on {p['config']['subset'] or 50000} CIFAR-10 images); rescaling α ∈ "
               f"{{{', '.join(f'{a:g}' for a in p['rescale']['alphas'])}}} on {p['rescale']['n']} test images")
    return Runs(runs.units, {"alphas": tuple(p["rescale"]["alphas"]), "rescale": p["rescale"]}, setting)
