"""Checks of the run folders, files and values a command reads, made before any work starts; each failure is a
``UsageError`` naming the option and the path. (Where a command writes is checked by ``advland.outputs``.)"""
from __future__ import annotations

import json
import pickle
from pathlib import Path

from advland.empirical.names import DATASET_INFO, MODEL_NAMES
from advland.errors import UsageError

RUN_CONFIG, RUN_CHECKPOINT = "config.json", "checkpoint.pt"


def read_run_config(folder: Path, flag: str) -> dict:
    """FOLDER/config.json as a JSON object (UsageError naming the option and the file otherwise)."""
    try:
        config = json.loads((folder / RUN_CONFIG).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UsageError(f"{flag} {folder}: {folder / RUN_CONFIG} is not readable JSON ({err})") from None
    if not isinstance(config, dict):
        raise UsageError(f"{flag} {folder}: {RUN_CONFIG} is not a JSON object")
    return config


def run_config(run) -> dict:
    """The config.json of a training run folder, checked: the folder exists, holds config.json and
    checkpoint.pt, and config.json is a JSON object naming a known model and dataset."""
    from advland.empirical.train.checkpoint import REQUIRED_CONFIG

    run = Path(run)
    if not run.is_dir():
        raise UsageError(f"--run {run}: no such folder")
    for name in (RUN_CONFIG, RUN_CHECKPOINT):
        if not (run / name).is_file():
            raise UsageError(f"--run {run} is not a training run: {name} is missing")
    config = read_run_config(run, "--run")
    missing = [k for k in REQUIRED_CONFIG if k not in config]
    if missing:
        raise UsageError(f"--run {run}: {RUN_CONFIG} lacks the keys {missing}")
    if config["model"] not in MODEL_NAMES or config["dataset"] not in DATASET_INFO:
        raise UsageError(f"--run {run}: {RUN_CONFIG} names model {config['model']!r} and dataset "
                         f"{config['dataset']!r}; known: {', '.join(MODEL_NAMES)}; {', '.join(DATASET_INFO)}")
    return config


def check_subset(subset: int | None, dataset: str, split: str, flag: str = "--subset") -> None:
    """A subset no larger than the split."""
    size = DATASET_INFO[dataset]["split_sizes"][split]
    if subset is not None and subset > size:
        raise UsageError(f"{flag} {subset}: the {dataset} {split} split has {size} examples")


# what torch.load raises for a file that is truncated, empty or not a checkpoint
UNREADABLE_CHECKPOINT = (RuntimeError, OSError, EOFError, pickle.UnpicklingError)


def _unreadable(flag: str, folder, path: Path, err: BaseException) -> UsageError:
    first = (str(err).splitlines() or [""])[0][:160]
    return UsageError(f"{flag} {folder}: {path} cannot be read: truncated or not a checkpoint "
                      f"({type(err).__name__}{': ' + first if first else ''})")


def read_checkpoint(folder, flag: str) -> dict:
    """FOLDER/checkpoint.pt loaded on the CPU; UsageError naming the file when it cannot be read."""
    from advland.empirical.train.checkpoint import load_checkpoint

    path = Path(folder) / RUN_CHECKPOINT
    try:
        return load_checkpoint(path)
    except UNREADABLE_CHECKPOINT as err:
        raise _unreadable(flag, folder, path, err) from None


def load_run(run, device: str):
    """(model, config) of a run folder checked by ``run_config``; a checkpoint that does not fit the model
    of config.json, or cannot be read (truncated, not a checkpoint), is a UsageError naming the file."""
    from advland.empirical.train.checkpoint import load_run as load

    try:
        return load(run, device=device)
    except ValueError as err:
        raise UsageError(f"--run {run}: {err}") from None
    except UNREADABLE_CHECKPOINT as err:
        raise _unreadable("--run", run, Path(run) / RUN_CHECKPOINT, err) from None
