"""``advland train`` and ``advland eval``: their options (``TrainConfig``, ``EvalOptions``) and handlers.

No torch import at module level: handlers import what they need, so that building the parser stays fast.
Every handler checks the user's input before any work starts and raises ``UsageError`` for what cannot be used.
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from advland import outputs
from advland.empirical.train.config import TrainConfig
from advland.errors import UsageError
from advland.inputs import check_subset, load_run, read_checkpoint, read_run_config, run_config
from advland.options import (batch_size_option, data_dir_option, device_option, from_args, given, option,
                             overwrite_option, read_config, require, resolve_device, seed_option, steps_option,
                             subset_option)

EVAL_ATTACKS = ("pgd", "apgd-ce", "apgd-dlr")   # the iterative attacks of empirical.attacks
DEFAULT_EVAL_STEPS = {"pgd": 20, "apgd-ce": 100, "apgd-dlr": 100}


@dataclasses.dataclass(kw_only=True)
class EvalOptions:
    run: str | None = option(None, "run folder written by advland train", required=True, metavar="DIR")
    attack: str = option("pgd", "attack", choices=EVAL_ATTACKS)
    steps: int | None = steps_option(None, "the attack", "20 for pgd, 100 for apgd")
    restarts: int = option(1, "PGD restarts", minimum=1, metavar="R")
    eps: float | None = option(None, "attack budget in absolute input units (default: the run's eps)", minimum=0,
                               metavar="E")
    subset: int | None = subset_option(None, "the test split")
    batch_size: int = batch_size_option(500)
    seed: int = seed_option()
    device: str = device_option()
    data_dir: str | None = data_dir_option("the run's, then $ADVLAND_DATA, then ~/.cache/advland/data")
    out: str | None = option(None, "result JSON (default: RUN/eval-ATTACK-KEY.json, KEY naming the setting: "
                                   "results of other settings are kept)", metavar="FILE")
    overwrite: bool = overwrite_option("replace --out even when it is not this setting's result")


@dataclasses.dataclass(kw_only=True)
class TrainOutOptions:
    out: str | None = option(None, "run folder: created, or resumed when it holds an unfinished run of the same "
                                   "configuration", required=True, metavar="DIR")
    overwrite: bool = overwrite_option("start afresh in --out even when it holds other files or a run of another "
                                       "configuration (they are deleted before training starts)")


def train_config(config_file, given_values: dict, liu_mnist_attack: bool = False) -> TrainConfig:
    """The resolved training configuration: ``TrainConfig`` defaults, overridden by the values of the TOML
    ``config_file`` (if any), overridden by the options given; UsageError for anything that cannot be used."""
    from advland.empirical.train.config import resolve
    from advland.empirical.train.schedules import liu_mnist_attack as liu_attack

    values = read_config(config_file, TrainConfig) if config_file else {}
    values.update(given_values)
    require(TrainConfig, values, "on the command line or in the --config file")
    if liu_mnist_attack:
        values["attack_steps"], values["attack_step_size"] = liu_attack(values["eps"])
    try:
        return resolve(TrainConfig(**values))
    except ValueError as err:
        raise UsageError(f"training configuration: {err}") from None


def _check_training_inputs(cfg: TrainConfig, out: Path, overwrite: bool) -> bool:
    """Model, data files and the out folder, before training; whether the out folder must be emptied first
    (``--overwrite`` of a folder holding other files or a run of another configuration). A run there of the same
    configuration is resumed: its checkpoint must be readable."""
    from advland.empirical.data import find_layout
    from advland.empirical.models import build_model
    from advland.empirical.train.config import config_differences

    try:
        build_model(cfg.model, width=cfg.width, num_classes=cfg.num_classes, in_channels=cfg.in_channels)
    except ValueError as err:
        raise UsageError(f"--model {cfg.model}: {err}") from None
    check_subset(cfg.subset, cfg.dataset, "train")
    for split in ("train", "test"):
        find_layout(cfg.dataset, split, cfg.data_dir)
    state = outputs.run_folder_state(out, "--out", overwrite=overwrite)
    if state == "run" and (out / "config.json").is_file():
        diff = config_differences(read_run_config(out, "--out"), dataclasses.asdict(cfg))
        if diff and not overwrite:
            raise UsageError(f"--out {out} holds a run with a different configuration (fields {diff}); use another "
                             f"--out folder, or pass --overwrite to start afresh there (the old run is deleted)")
        if diff:
            outputs.refuse_protected(out, "--out", out)
            state = "other"
        elif (out / "checkpoint.pt").is_file():
            try:
                read_checkpoint(out, "--out")
            except UsageError as err:
                raise UsageError(f"{err}; delete it to restart the run from its first epoch, or pass --overwrite "
                                 "to start afresh") from None
    outputs.probe(out if out.is_dir() else out.parent, "--out", out)
    return state == "other"


def _test_accuracies(record: dict) -> str:
    """', test clean acc A, robust acc R' of an epoch record ('' when its eval-test metrics are switched off)."""
    if "test_clean_acc" not in record:
        return ""
    return f", test clean acc {record['test_clean_acc']:.4f}, robust acc {record['test_robust_acc']:.4f}"


def _epoch_line(record: dict, epochs: int) -> str:
    return (f"epoch {record['epoch'] + 1}/{epochs}: train loss {record['train_loss_running']:.4f}"
            f"{_test_accuracies(record)} ({record['time_s']:.0f} s)")


def train_handler(args) -> int:
    from advland.console import say
    from advland.empirical.data import resolve_data_dir
    from advland.empirical.train.loop import train

    cfg = train_config(args.config, given(args, TrainConfig), args.liu_mnist_attack)
    cfg = dataclasses.replace(cfg, data_dir=str(resolve_data_dir(cfg.data_dir)))
    where = from_args(args, TrainOutOptions)
    out = Path(where.out)
    if _check_training_inputs(cfg, out, where.overwrite):
        outputs.empty_folder(out)
    outputs.writable_folder(out, "--out")
    outputs.mark_run_folder(out)
    say(f"advland train: {cfg.model} (width {cfg.width}) on {cfg.dataset}, method {cfg.method}, eps {cfg.eps} "
        f"{cfg.norm}, {cfg.epochs} epochs, into {out}", indent="    ")
    doc = train(cfg, out, progress=sys.stderr.isatty(), on_epoch=lambda r: say(_epoch_line(r, cfg.epochs)))
    last = doc["history"][-1] if doc["history"] else {}
    say(f"{out}: status {doc['status']}, {doc['epochs_done']}/{doc['epochs']} epochs{_test_accuracies(last)}")
    return 0 if doc["status"] == "completed" else 1


def evaluate_run(model, x, y, *, attack: str, eps: float, norm: str, steps: int, restarts: int,
                 batch_size: int, seed: int, progress: bool = False) -> dict:
    """Clean and robust accuracy and mean CE of model (eval-mode BN) on (x, y) under one attack
    (``empirical.evaluate``); the attack draws from the random stream ``(seed, "eval/ATTACK")``. An example is
    robust when it and every iterate of the attack are classified correctly (``attacks.AttackResult``)."""
    import functools

    from advland.empirical import attacks
    from advland.empirical.evaluate import evaluate
    from advland.seeding import torch_generator

    kw = {"eps": eps, "norm": norm, "steps": steps, **({"restarts": restarts} if attack == "pgd" else {})}
    return evaluate(model, x, y, attack=functools.partial(attacks.attack, attack, **kw), batch_size=batch_size,
                    generator=torch_generator(seed, f"eval/{attack}", x.device), progress=attack if progress else None)


def eval_handler(args) -> int:
    from advland.console import say
    from advland.empirical.data import find_layout, load_tensors
    from advland.empirical.names import check_threat
    from advland.environment import environment
    from advland.io import write_json

    opts = from_args(args, EvalOptions)
    run = Path(opts.run)
    config = run_config(run)
    eps = config["eps"] if opts.eps is None else opts.eps
    try:
        check_threat(eps, config["norm"])
    except ValueError as err:
        raise UsageError(f"--run {run}: {err}") from None
    steps = opts.steps or DEFAULT_EVAL_STEPS[opts.attack]
    data_dir = opts.data_dir or config.get("data_dir")
    check_subset(opts.subset, config["dataset"], "test")
    find_layout(config["dataset"], "test", data_dir)
    restarts = opts.restarts if opts.attack == "pgd" else 1
    setting = {"attack": opts.attack, "eps": eps, "norm": config["norm"], "steps": steps, "restarts": restarts,
               "subset": opts.subset, "seed": opts.seed, "batch_size": opts.batch_size}
    record = outputs.result_record("eval", setting, run)
    out = outputs.check_result_file(opts.out or run / outputs.result_name(f"eval-{opts.attack}", setting), "--out",
                                    record, overwrite=opts.overwrite)
    device = resolve_device(opts.device)
    model, _ = load_run(run, device)
    say(f"advland eval: {opts.attack}, eps {eps} {config['norm']}, {steps} steps, on "
        f"{opts.subset or 'all'} {config['dataset']} test images of {run} ({device}); result to {out}", indent="    ")
    x, y = load_tensors(config["dataset"], "test", data_dir, subset=opts.subset, seed=opts.seed, device=device)
    result = evaluate_run(model, x, y, attack=opts.attack, eps=eps, norm=config["norm"], steps=steps,
                          restarts=opts.restarts, batch_size=opts.batch_size, seed=opts.seed,
                          progress=sys.stderr.isatty())
    result.update({**setting, **record, "environment": environment(opts.seed)})
    write_json(out, result)
    say(f"{out}: clean acc {result['clean_acc']:.4f}, robust acc {result['robust_acc']:.4f} "
        f"({opts.attack}, eps {eps}, {steps} steps, n={result['n']})")
    return 0
