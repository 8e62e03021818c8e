"""Training units: the unit kind ``empirical.train`` (train one configuration, measure it at snapshot epochs) and
``training_unit``, the one way to build such a unit. Torch-free: plans import it; the work is in ``training``.

Parameters of a unit (its key hashes them, every default filled in, so equal runs share one key):

* ``config``: the fields of ``advland.empirical.train.config.TrainConfig`` after ``resolve`` (its defaults
  filled in), without ``data_dir`` and ``device``: those come from where the unit runs (the execution context,
  ``context``) and do not change its numbers;
* ``snapshots``: the epoch counts (1..epochs, sorted, distinct) after which the measures run; the last epoch is
  always one of them;
* ``measures``: the resolved measures (``measures.resolve_measures``).

Results (JSON numbers by ``advland.io``'s rule)::

    {"status": "completed" | "diverged", "config": {...}, "snapshots": [...],
     "history": [per-epoch records of empirical.train.loop.train, without their batch_losses],
     "batch_losses": [training loss of each of the first config["batch_loss_limit"] batches],
     "measures": {"<epoch>": {"<label>": {...}}}, "diverged_at": null | {"epoch", "batch", "loss"},
     "seconds": float}

A diverged run (a training loss above ``max_loss`` or not finite) is not an exception: status ``diverged``, the
history so far, the measures of the snapshots before the divergence. Every number but ``seconds`` (wall time of the
epochs and measures) and the ``time_s`` / ``seconds`` / ``cpu_seconds`` inside the records is a function of the
parameters (same parameters, same numbers), also when the unit was killed and resumed from its work folder.
"""
from __future__ import annotations

import contextlib
import dataclasses
from typing import Iterator, Mapping

from advland.empirical.names import DATASET_INFO, MODEL_NAMES

from ..jobs.context import ExecutionContext, current, executing
from ..jobs.fingerprint import code_fingerprint
from ..units import Unit, unit_kind
from .measures import resolve_measures

KIND = "empirical.train"
RUN_VERSION = "1"
CONTEXT_FIELDS = ("data_dir", "device")   # TrainConfig fields that come from the execution context


@contextlib.contextmanager
def context(*, data_dir: str | None = None, device: str = "cpu", workdir=None,
            threads: int | None = None) -> Iterator[ExecutionContext]:
    """Run the units computed inside the block with this data folder, device ('cpu', 'cuda', 'auto') and work
    folder (the unit's own folder: a killed unit resumes there; None: a temporary folder, nothing kept).
    The executor of ``advland.claims.jobs.local`` sets the same context for every unit it computes."""
    with executing(ExecutionContext(data_dir, device, None if workdir is None else str(workdir), threads)) as c:
        yield c


def resolve_config(config: Mapping) -> dict:
    """The TrainConfig fields of ``config``, resolved (``TrainConfig.resolve``), without the context fields.
    Raises ValueError naming what cannot be used."""
    from advland.empirical.train.config import TrainConfig, resolve

    if not isinstance(config, Mapping):
        raise ValueError(f"config must be a dict of TrainConfig fields, got {config!r}")
    given = sorted(set(config) & set(CONTEXT_FIELDS))
    if given:
        raise ValueError(f"config must not hold {', '.join(given)}: a training unit takes them from where it runs "
                         "(advland.claims.empirical.runs.context)")
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(config) - fields)
    if unknown:
        raise ValueError(f"config: unknown TrainConfig field {', '.join(unknown)}")
    if config.get("model") not in MODEL_NAMES or config.get("dataset") not in DATASET_INFO:
        raise ValueError(f"config: a training unit needs a built-in model ({', '.join(MODEL_NAMES)}) and dataset "
                         f"({', '.join(DATASET_INFO)}), got {config.get('model')!r} and {config.get('dataset')!r}")
    resolved = dataclasses.asdict(resolve(TrainConfig(**{**config, "device": "cpu"})))
    return {k: v for k, v in resolved.items() if k not in CONTEXT_FIELDS}


def resolve_snapshots(snapshots, epochs: int) -> list[int]:
    """Sorted distinct epoch counts in 1..epochs, the last epoch included."""
    if isinstance(snapshots, (str, Mapping)) or not isinstance(snapshots, (list, tuple, set, frozenset)):
        raise ValueError(f"snapshots must be a list of epoch counts, got {snapshots!r}")
    bad = [s for s in snapshots if isinstance(s, bool) or not isinstance(s, int) or not 1 <= s <= epochs]
    if bad:
        raise ValueError(f"snapshots must be epoch counts in 1..{epochs} (the run's epochs), got {bad}")
    return sorted({*snapshots, epochs})


def resolve_params(config: Mapping, snapshots, measures) -> dict:
    """The parameters of a training unit (module docstring), every default filled in and checked."""
    cfg = resolve_config(config)
    return {"config": cfg, "snapshots": resolve_snapshots(snapshots, cfg["epochs"]),
            "measures": resolve_measures(measures, cfg["eps"])}


@unit_kind(KIND, version=RUN_VERSION)
def train_and_measure(*, config: dict, snapshots: list, measures: list) -> dict:
    """Train ``config`` in the work folder of the execution context, stopping after each snapshot epoch to take
    the measures there (``training.run``); the results of the module docstring. The work folder is stamped with
    the fingerprint of this kind's code, so a checkpoint written by other code is never resumed."""
    from .training import run

    return run(resolve_params(config, snapshots, measures), current(), code=code_fingerprint(train_and_measure.fn))


def training_unit(*, config: dict, snapshots=(), measures=(), version: str = RUN_VERSION) -> Unit:
    """The unit that trains ``config`` (TrainConfig fields, defaults allowed) and takes ``measures`` (dicts
    ``{"name": ..., **params}``, ``measures.DEFAULTS``) after each epoch count of ``snapshots`` and the last
    epoch. ValueError (at planning time) for anything that cannot be used."""
    return Unit(KIND, resolve_params(config, snapshots, measures), version)
