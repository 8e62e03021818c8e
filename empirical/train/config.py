"""The configuration of a training run: one dataclass, its checks and the defaults that depend on other fields.

Torch-free: ``advland train`` builds its options from these fields (``advland.options``), and a config file
(``advland train --config FILE.toml``) holds the same keys as the run's config.json.

``resolve`` is the one place where a default depends on other values:

* ``lr``: 0.1 for sgd, 1e-4 for adam; ``weight_decay``: 5e-4 for sgd, 0 for adam (``OPTIMIZER_DEFAULTS``);
* ``awp_gamma`` / ``awp_warmup``: 0.01 / 0 for awp, 5e-3 / 10 for trades-awp, as in the official AWP code of
  Wu et al. 2020 (``AWP_DEFAULTS``);
* ``augment``: on for cifar10 (random crop + flip), off otherwise;
* ``attack_step_size``: 2.5 eps / attack_steps (Madry et al.'s rule);
* ``periods``: one period ``[0, epochs]``;
* ``num_classes`` / ``in_channels``: those of the dataset;
* ``device``: 'auto' becomes cuda or cpu (``advland.options.resolve_device``).
"""
from __future__ import annotations

import dataclasses

from advland.options import (batch_size_option, bn_mode_option, check_fields, data_dir_option, device_option,
                             option, resolve_device, seed_option, steps_option, subset_option)

from ..names import DATASET_INFO, MODEL_NAMES, NORMS, check_threat
from .schedules import EPS_SCHEDULES, LR_SCHEDULES, check_periods, eps_at

METHODS = ("clean", "at", "trades", "awp", "trades-awp")
OPTIMIZERS = ("sgd", "adam")
EPS_UPDATES = ("epoch", "batch")
OPTIMIZER_DEFAULTS = {"sgd": {"lr": 0.1, "weight_decay": 5e-4}, "adam": {"lr": 1e-4, "weight_decay": 0.0}}
AWP_DEFAULTS = {"awp": (0.01, 0), "trades-awp": (5e-3, 10)}   # (gamma, warm-up epochs), official code
RESUMABLE_DIFFERENCES = ("device", "data_dir")                 # may differ when a run is resumed
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
    eps_max: float | None = option(None, "over-shoot of the cos/linear schedules (default 1.5x / 2x the target)",
                                   minimum=0, metavar="E")
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
    attack_steps: int = steps_option(10, "the training PGD", flag="--steps", aliases=("--attack-steps",))
    attack_step_size: float | None = option(None, "training PGD step at the target eps (default 2.5 eps / steps)",
                                            minimum=0, flag="--step-size", aliases=("--attack-step-size",),
                                            metavar="A")
    eval_steps: int = steps_option(20, "the PGD of the per-epoch robust metrics")
    beta: float = option(6.0, "TRADES beta", minimum=0, metavar="B")
    awp_gamma: float | None = option(None, "AWP relative weight perturbation (default 0.01 awp, 5e-3 trades-awp)",
                                     minimum=0, metavar="G")
    awp_warmup: int | None = option(None, "epochs before AWP starts (default 0 awp, 10 trades-awp)", minimum=0,
                                    metavar="N")
    bn_attack: str = bn_mode_option("the training attack", flag="--bn-mode", aliases=("--bn-attack",))
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
    if c.attack_step_size is None:
        c.attack_step_size = 2.5 * c.eps / c.attack_steps
    if c.augment is None:
        c.augment = c.dataset == "cifar10"
    eps_at(0.0, kind=c.schedule, target=c.eps, periods=c.periods, eps_max=c.eps_max)  # validates eps_max
    c.device = resolve_device(c.device)
    return c


def config_differences(old: dict, new: dict) -> list[str]:
    """The fields in which two resolved configs (config.json documents) differ, other than those a resumed
    run may change (``RESUMABLE_DIFFERENCES``)."""
    return sorted(k for k in set(old) | set(new) if k not in RESUMABLE_DIFFERENCES and old.get(k) != new.get(k))
