"""The configuration of a training run: one dataclass, its checks and the defaults that depend on other fields.

Torch-free: ``advland train`` builds its options from these fields (``advland.options``), and a config file
(``advland train --config FILE.toml``) holds the same keys as the run's config.json.

``resolve`` is the one place where a default depends on other values:

* ``lr``: 0.1 for sgd, 1e-4 for adam; ``weight_decay``: 5e-4 for sgd, 0 for adam (``OPTIMIZER_DEFAULTS``);
* ``awp_gamma`` / ``awp_warmup``: 0.01 / 0 for awp, 5e-3 / 9 for trades-awp, as in the official AWP code of
  Wu et al. 2020 (``AWP_DEFAULTS``). ``awp_warmup`` counts the epochs trained without AWP: the official
  ``trades_AWP/train_trades_cifar.py`` numbers epochs from 1 and perturbs when ``epoch >= 10``, i.e. 9 epochs
  without AWP; ``AT_AWP/train_cifar10.py`` numbers them from 0 with warm-up 0;
* ``eps_max``: Liu et al.'s over-shoot of the cos/linear schedule for the data set
  (``schedules.default_eps_max``: MNIST 1.5x cos and 2x linear, CIFAR-10 2x both);
* ``attack_iterate``, ``random_start``, ``bn_attack``, ``attack_bn_stats``: those of ``protocol``
  (``protocols.protocol_values``: ours, or the official code of AWP, Liu et al. or TRADES); ``attack_bn_stats``
  is 'restore' whenever the attack runs in eval mode (it then updates no statistics);
* ``augment``: on for cifar10 (random crop + flip), off otherwise;
* ``attack_step_size``: 2.5 eps / attack_steps (Madry et al.'s rule);
* ``periods``: one period ``[0, epochs]``;
* ``epoch_metrics``: the groups in the canonical order of ``EPOCH_METRICS`` ('none' alone: no per-epoch metric);
* ``num_classes`` / ``in_channels``: those of the dataset;
* ``device``: 'auto' becomes cuda or cpu (``advland.options.resolve_device``).
"""
from __future__ import annotations

import dataclasses

from advland.options import (batch_size_option, check_fields, data_dir_option, device_option, option,
                             resolve_device, seed_option, steps_option, subset_option)

from ..names import ATTACK_ITERATES, BN_MODES, DATASET_INFO, MODEL_NAMES, NORMS, check_threat
from .protocols import BN_STATS, PGD_METHODS, PROTOCOLS, RANDOM_STARTS, protocol_values
from .schedules import EPS_SCHEDULES, LR_SCHEDULES, check_periods, default_eps_max, eps_at

METHODS = ("clean", "at", "trades", "awp", "trades-awp")
OPTIMIZERS = ("sgd", "adam")
EPS_UPDATES = ("epoch", "batch")
EPOCH_METRICS = ("eval-train", "eval-test", "grad", "dead-relu", "weight-norms")  # groups of per-epoch metrics
OPTIMIZER_DEFAULTS = {"sgd": {"lr": 0.1, "weight_decay": 5e-4}, "adam": {"lr": 1e-4, "weight_decay": 0.0}}
AWP_DEFAULTS = {"awp": (0.01, 0), "trades-awp": (5e-3, 9)}    # (gamma, epochs without AWP), official code
RESUMABLE_DIFFERENCES = ("device", "data_dir")                 # may differ when a run is resumed
LEGACY_OVERSHOOT = {"cos": 1.5, "linear": 2.0}  # eps_max / eps of the runs written before the per-data-set default
NAMED_FIELDS = ("model", "dataset")  # train() also accepts a model and data passed in, under any name


@dataclasses.dataclass
class TrainConfig:
    model: str = option("lenet", "architecture", choices=MODEL_NAMES, required=True)
    dataset: str = option("mnist", "dataset", choices=tuple(DATASET_INFO), required=True)
    method: str = option("at", "training method: clean, PGD-AT (Madry), TRADES, AT-AWP, TRADES-AWP",
                         choices=METHODS, required=True)
    eps: float = option(0.1, "target budget in absolute input units", minimum=0, required=True, metavar="E")
    norm: str = option("linf", "threat norm", choices=NORMS)
    schedule: str = option("const", "eps schedule (Liu et al. 2020, periodic adversarial scheduling)",
                           choices=EPS_SCHEDULES)
    eps_max: float | None = option(None, "over-shoot of the cos/linear schedules (default Liu et al.'s: 1.5x / 2x "
                                   "the target on mnist, 2x / 2x on cifar10)", minimum=0, metavar="E")
    eps_update: str = option("epoch", "when the scheduled eps changes", choices=EPS_UPDATES)
    periods: list[float] | None = option(None, "period boundaries, e.g. 0 100 150 200 (default: 0 EPOCHS)",
                                         metavar="T")
    epochs: int = option(10, "training epochs", minimum=1, metavar="N")
    batch_size: int = batch_size_option(128)
    optimizer: str = option("sgd", "optimizer", choices=OPTIMIZERS)
    lr: float | None = option(None, "learning rate (default 0.1 for sgd, 1e-4 for adam)", minimum=0, metavar="LR")
    lr_schedule: str = option("const", "learning-rate schedule, restarted in every period", choices=LR_SCHEDULES)
    momentum: float = option(0.9, "SGD momentum", minimum=0, metavar="M")
    weight_decay: float | None = option(None, "weight decay (default 5e-4 for sgd, 0 for adam)", minimum=0,
                                        metavar="WD")
    width: int | None = option(None, "width factor (default: the model's, empirical.models.DEFAULT_WIDTH)",
                               minimum=1, metavar="W")
    num_classes: int | None = option(None, "the dataset's number of classes", settable=False)
    in_channels: int | None = option(None, "the dataset's image channels", settable=False)
    subset: int | None = subset_option(None, "the training split")
    eval_subset: int = option(1000, "fixed train and test examples of the per-epoch metrics", minimum=1,
                              metavar="N")
    grad_subset: int = option(500, "fixed train examples of the full-batch gradient norm", minimum=1, metavar="N")
    epoch_metrics: list[str] = option(list(EPOCH_METRICS), "per-epoch metric groups to compute ('none': none)",
                                      choices=(*EPOCH_METRICS, "none"), metavar="GROUP")
    batch_loss_limit: int = option(0, "record the training loss of each of the first N batches of the run",
                                   minimum=0, metavar="N")
    attack_steps: int = steps_option(10, "the training PGD", flag="--steps", aliases=("--attack-steps",))
    attack_step_size: float | None = option(None, "training PGD step at the target eps (default 2.5 eps / steps)",
                                            minimum=0, flag="--step-size", aliases=("--attack-step-size",),
                                            metavar="A")
    eval_steps: int = steps_option(20, "the PGD of the per-epoch robust metrics")
    beta: float = option(6.0, "TRADES beta", minimum=0, metavar="B")
    awp_gamma: float | None = option(None, "AWP relative weight perturbation (default 0.01 awp, 5e-3 trades-awp)",
                                     minimum=0, metavar="G")
    awp_warmup: int | None = option(None, "epochs trained without AWP (default 0 awp, 9 trades-awp, as the "
                                    "official code)", minimum=0, metavar="N")
    protocol: str = option("advland", "defaults of the training attack's iterate, start and BatchNorm: ours, or "
                           "those of the official code of AWP, Liu et al. or TRADES (docs/deviations.md)",
                           choices=PROTOCOLS)
    attack_iterate: str | None = option(None, "perturbation trained on: the highest-loss or the last iterate "
                                        "(default: the protocol's)", choices=ATTACK_ITERATES)
    random_start: str | None = option(None, "start of the training PGD (at, awp): uniform in the eps-ball or in "
                                      "+-step (default: the protocol's)", choices=RANDOM_STARTS)
    bn_attack: str | None = option(None, "BatchNorm mode of the training attack (default: the protocol's)",
                                   choices=BN_MODES, flag="--bn-mode", aliases=("--bn-attack",))
    attack_bn_stats: str | None = option(None, "BatchNorm running statistics after a train-mode attack: restored, "
                                         "or kept as updated by its forward passes (default: the protocol's)",
                                         choices=BN_STATS)
    augment: bool | None = option(None, "random crop + flip (default: on for cifar10)")
    seed: int = seed_option()
    device: str = device_option()
    fast: bool = option(False, "bf16 autocast, channels_last, torch.compile on CUDA")
    data_dir: str | None = data_dir_option()
    max_loss: float = option(1e4, "a training loss above this (or not finite) ends the run as 'diverged'",
                             minimum=0, metavar="L")

    def resolved(self) -> "TrainConfig":
        return resolve(self)


def resolve(cfg: TrainConfig) -> TrainConfig:
    """A copy of ``cfg`` with every field checked and the defaults of the module docstring filled in.

    Raises ValueError naming the field. ``model`` and ``dataset`` are not restricted to the built-in names
    here (``train`` accepts a model and data passed in); the command line and config files restrict them."""
    c = dataclasses.replace(cfg)
    check_fields(c, skip=NAMED_FIELDS)
    check_threat(c.eps, c.norm)
    info = DATASET_INFO.get(c.dataset)
    if info is not None:
        c.num_classes = info["num_classes"] if c.num_classes is None else c.num_classes
        c.in_channels = info["channels"] if c.in_channels is None else c.in_channels
    if not isinstance(c.num_classes, int) or c.num_classes < 1:
        raise ValueError(f"num_classes must be an integer >= 1 for dataset {c.dataset!r}, got {c.num_classes!r}")
    for name, value in OPTIMIZER_DEFAULTS[c.optimizer].items():
        if getattr(c, name) is None:
            setattr(c, name, value)
    if c.lr <= 0:
        raise ValueError(f"lr must be > 0, got {c.lr!r}")
    c.periods = list(check_periods(c.periods if c.periods is not None else [0, c.epochs]))
    if c.periods[-1] != c.epochs:
        raise ValueError(f"periods {c.periods}: the last boundary must equal epochs ({c.epochs})")
    if c.method in AWP_DEFAULTS:
        gamma, warmup = AWP_DEFAULTS[c.method]
        c.awp_gamma = gamma if c.awp_gamma is None else c.awp_gamma
        c.awp_warmup = warmup if c.awp_warmup is None else c.awp_warmup
    if "none" in c.epoch_metrics and len(set(c.epoch_metrics)) > 1:
        raise ValueError(f"epoch_metrics: 'none' cannot be combined with other groups, got {c.epoch_metrics}")
    c.epoch_metrics = [m for m in EPOCH_METRICS if m in c.epoch_metrics] or ["none"]
    _resolve_protocol(c)
    if c.attack_step_size is None:
        c.attack_step_size = 2.5 * c.eps / c.attack_steps
    if c.augment is None:
        c.augment = c.dataset == "cifar10"
    if c.eps_max is None:
        c.eps_max = default_eps_max(c.schedule, c.eps, c.dataset)
    eps_at(0.0, kind=c.schedule, target=c.eps, periods=c.periods, eps_max=c.eps_max)  # validates eps_max
    c.device = resolve_device(c.device)
    return c


def _resolve_protocol(c: TrainConfig) -> None:
    """In place: the attack fields left None take the values of ``c.protocol`` (module docstring)."""
    values = protocol_values(c.protocol, c.method)
    if c.random_start is not None and c.method not in PGD_METHODS:
        raise ValueError(f"random_start applies to the PGD of {', '.join(PGD_METHODS)}; {c.method!r} has "
                         + ("no attack" if c.method == "clean" else "TRADES' start x + 0.001 N(0, I)"))
    for name in ("attack_iterate", "random_start", "bn_attack"):
        if getattr(c, name) is None:
            setattr(c, name, values[name])
    if c.attack_bn_stats is None:
        c.attack_bn_stats = values["attack_bn_stats"] if c.bn_attack == "train" else "restore"
    elif c.attack_bn_stats == "keep" and c.bn_attack != "train":
        raise ValueError("attack_bn_stats 'keep' needs bn_attack 'train' (an eval-mode attack updates no BatchNorm "
                         "statistics)")


def as_trained(doc: dict) -> dict:
    """A config.json document with the values its run was trained with where it predates a field: the attack
    fields of the 'advland' protocol (``protocols``), and the over-shoot of a cos/linear schedule that was then
    the default on every data set (``LEGACY_OVERSHOOT``)."""
    if "protocol" in doc or doc.get("method") not in METHODS:
        return doc
    out = {"protocol": "advland", **protocol_values("advland", doc["method"]), **doc}
    if out.get("eps_max") is None and out.get("schedule") in LEGACY_OVERSHOOT:
        out["eps_max"] = LEGACY_OVERSHOOT[out["schedule"]] * out["eps"]
    return out


def config_differences(old: dict, new: dict) -> list[str]:
    """The fields in which two resolved configs (config.json documents, ``old`` read ``as_trained``) differ, other
    than those a resumed run may change (``RESUMABLE_DIFFERENCES``)."""
    old = as_trained(old)
    return sorted(k for k in set(old) | set(new) if k not in RESUMABLE_DIFFERENCES and old.get(k) != new.get(k))
