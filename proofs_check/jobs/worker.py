"""What a worker does with one unit, wherever it runs (a local process, a SLURM job, a Ray task, the driver itself):
register the unit kinds, compute the unit in its folder, and reply with the numbers or the traceback.

A worker never writes the results store (only the driver does: SQLite's WAL does not work across the machines of
a network file system); it writes only inside the unit's folder (``Task.context.workdir``, on the shared run
folder): the unit's own checkpoints, and ``WORKER_FILE``, which says that this launch of the unit has started and
where (the driver of an executor that cannot tell queued from running reads it).
"""
from __future__ import annotations

import json
import os
import socket
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from advland.io import dumps, write_json

from ..units import Unit, kind_of
from .context import ExecutionContext, executing

WORKER_FILE = "worker.json"


@dataclass(frozen=True)
class Task:
    """Everything a worker needs to compute one unit: the unit (kind, params, version), where it runs
    (``context``), the claim files that declare user-defined unit kinds, and ``launch``, the name of this launch
    of the unit (written to ``WORKER_FILE`` when it starts)."""

    kind: str
    params: dict
    version: str
    context: ExecutionContext
    claim_files: tuple[str, ...] = ()
    launch: str = ""

    @classmethod
    def of(cls, unit: Unit, context: ExecutionContext, claim_files=(), launch: str = "") -> "Task":
        return cls(unit.kind, json.loads(dumps(dict(unit.params), indent=None)), unit.version, context,
                   tuple(str(f) for f in claim_files), launch)

    def unit(self) -> Unit:
        return Unit(self.kind, self.params, self.version)


@dataclass(frozen=True)
class Resources:
    """What each unit's worker asks of a cluster: GPUs, CPU cores (also its torch threads) and memory in GB
    (None: the cluster's default)."""

    gpus: int = 0
    cpus: int = 1
    mem_gb: float | None = None


@dataclass(frozen=True)
class Reply:
    """A worker's answer: the unit's numbers, or the traceback and type name of what it raised; the seconds it
    computed and the host it ran on."""

    results: dict | None
    error: str | None = None
    error_type: str | None = None
    seconds: float = 0.0
    host: str = ""


def compute_unit(unit: Unit, context: ExecutionContext) -> dict:
    """The unit's numbers, computed in this process under ``context``, normalized by advland.io's JSON rule."""
    if context.workdir:
        Path(context.workdir).mkdir(parents=True, exist_ok=True)
    with executing(context):
        numbers = kind_of(unit).compute(unit.params)
    if not isinstance(numbers, dict):
        raise TypeError(f"unit kind {unit.kind!r} returned {type(numbers).__name__}, not a dict of numbers")
    return json.loads(dumps(numbers, indent=None))


_PREPARED: set[tuple] = set()


def prepare(claim_files: tuple[str, ...] = (), threads: int | None = None) -> None:
    """Register the built-in unit kinds and those of ``claim_files`` in this process (once per process and set of
    files), and use ``threads`` torch threads."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    if claim_files not in _PREPARED:
        from ..registry import all_claims

        all_claims(claim_files)
        _PREPARED.add(claim_files)


def started(task: Task) -> bool:
    """Whether this launch of the task has started (its worker wrote ``WORKER_FILE`` in the unit's folder)."""
    if not task.context.workdir:
        return False
    try:
        doc = json.loads((Path(task.context.workdir) / WORKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("launch") == task.launch


def run_task(task: Task, *, in_worker: bool = True) -> Reply:
    """Compute ``task``'s unit in this process; every exception (and ``sys.exit``) becomes the reply's error, so
    what comes back is always a ``Reply`` unless the process itself dies. ``in_worker``: a worker process first
    registers the unit kinds (``prepare``) and marks the launch started (``WORKER_FILE``); the driver has done
    neither need."""
    start = time.perf_counter()
    host = socket.gethostname()
    try:
        if in_worker:
            if task.context.workdir and task.launch:
                Path(task.context.workdir).mkdir(parents=True, exist_ok=True)
                write_json(Path(task.context.workdir) / WORKER_FILE,
                           {"launch": task.launch, "host": host, "pid": os.getpid(), "started": time.time()})
            prepare(task.claim_files, task.context.threads)
            start = time.perf_counter()     # the unit's seconds, not the worker's start-up
        return Reply(compute_unit(task.unit(), task.context), seconds=time.perf_counter() - start, host=host)
    except (Exception, SystemExit) as exc:  # returned to the driver, which records it against the unit
        return Reply(None, "".join(traceback.format_exception(exc)), type(exc).__name__,
                     time.perf_counter() - start, host)

