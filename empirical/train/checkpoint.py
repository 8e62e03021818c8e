"""Run directories: config.json, checkpoint.pt and metrics.json, all written atomically.

``checkpoint.pt`` holds only tensors and plain containers (``torch.load(..., weights_only=True)`` works):
``{'model': state_dict, 'optimizer': state_dict, 'rng': {name: uint8 tensor}, 'epoch': int (last finished),
'history': [per-epoch metric dicts]}``.
"""
from __future__ import annotations

import json
import pathlib

import torch

from advland.io import atomic_write

CONFIG, CHECKPOINT, METRICS = "config.json", "checkpoint.pt", "metrics.json"
REQUIRED_CONFIG = ("model", "width", "dataset", "num_classes", "method", "eps", "norm", "seed")


def read_json(path) -> dict:
    with open(path) as f:
        return json.load(f)


def save_checkpoint(path, state: dict) -> None:
    """Atomically torch.save a dict of tensors and plain containers."""
    atomic_write(path, lambda f: torch.save(state, f))


def load_checkpoint(path, device="cpu") -> dict:
    """Load a checkpoint with ``weights_only=True`` (no arbitrary unpickling)."""
    return torch.load(path, map_location=device, weights_only=True)


def load_run(run_dir, device="cpu"):
    """(model in eval mode with the checkpoint's weights, config dict) of a training run directory.

    Raises FileNotFoundError when config.json or checkpoint.pt is missing and ValueError when the checkpoint
    does not fit the model described by config.json."""
    from ..models import build_model

    run_dir = pathlib.Path(run_dir)
    for name in (CONFIG, CHECKPOINT):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(f"{run_dir} is not a training run: {name} is missing")
    config = read_json(run_dir / CONFIG)
    missing = [k for k in REQUIRED_CONFIG if k not in config]
    if missing:
        raise ValueError(f"{run_dir / CONFIG} lacks the keys {missing}")
    model = build_model(config["model"], width=config["width"], num_classes=config["num_classes"],
                        in_channels=config.get("in_channels"))
    state = load_checkpoint(run_dir / CHECKPOINT, device="cpu")["model"]
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(f"checkpoint in {run_dir} does not match model {config['model']!r} "
                         f"(width {config['width']}): {str(err).splitlines()[0]}") from None
    return model.to(device).eval(), config
