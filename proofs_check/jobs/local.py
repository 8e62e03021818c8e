"""Execute units here: in this process, or in a small pool of worker processes, with the results store.

The driver (this module, in the ``advland verify`` process) owns the store: it asks which units are done and
trusted, marks the others running, hands them to workers, and records what comes back. A worker computes one unit
in its own folder (``store.unit_dir(unit)``: a training unit resumes there from its checkpoint after a kill) and
returns its numbers or its traceback. A unit another process is computing (a live heartbeat) is waited for, not
started twice.

The code version stored beside a unit's numbers is the unit kind's own version plus the fingerprint of the code that
computes that kind (``fingerprint.code_fingerprint``: its module and everything it imports): results computed by
other code are recomputed, never trusted.
"""
from __future__ import annotations

import json
import multiprocessing
import shutil
import threading
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from advland.errors import UsageError
from advland.io import dumps

from ..units import Unit, kind_of
from .context import ExecutionContext, executing
from .fingerprint import code_fingerprint
from .store import Store

POLL_S = 2.0
# Units that go to worker processes when jobs > 1: training runs take minutes; the theory units take seconds,
# less than starting a worker that imports torch, so they are computed in the driver.
POOLED_KIND_PREFIX = "empirical."
HEARTBEAT_EVERY_S = 30.0


def code_version(unit: Unit, fingerprint: str) -> str:
    """The version stored beside a unit's numbers: the kind's own version and the fingerprint of its code."""
    return f"{unit.version}+{fingerprint}"


@dataclass(frozen=True)
class StoredUnit:
    """What the store needs of a unit: its key, kind, params and the version of the code that computes it."""

    key: str
    kind: str
    params: object
    version: str


@dataclass
class UnitOutcome:
    """What became of one unit: its numbers, or the error (with its type name) that stopped it."""

    unit: Unit
    results: dict | None = None
    error: str | None = None
    error_type: str | None = None
    seconds: float = 0.0
    reused: bool = False

    @property
    def ok(self) -> bool:
        return self.results is not None


def compute_unit(unit: Unit, context: ExecutionContext) -> dict:
    """The unit's numbers, computed in this process under ``context``, normalized by advland.io's JSON rule."""
    if context.workdir:
        Path(context.workdir).mkdir(parents=True, exist_ok=True)
    with executing(context):
        numbers = kind_of(unit).compute(unit.params)
    if not isinstance(numbers, dict):
        raise TypeError(f"unit kind {unit.kind!r} returned {type(numbers).__name__}, not a dict of numbers")
    return json.loads(dumps(numbers, indent=None))


def _worker_init(claim_files: tuple[str, ...], threads: int | None) -> None:
    """A worker process registers the same unit kinds as the driver (built-in and user claims)."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    from ..registry import all_claims

    all_claims(claim_files)


def _worker(kind: str, params: dict, version: str, context: ExecutionContext) -> tuple:
    start = time.perf_counter()
    unit = Unit(kind, params, version)
    try:
        return "ok", compute_unit(unit, context), None, time.perf_counter() - start
    except (Exception, SystemExit) as exc:  # returned to the driver, which records it against the unit
        return "error", "".join(traceback.format_exception(exc)), type(exc).__name__, time.perf_counter() - start


@dataclass
class LocalExecutor:
    """Run units with a store (or none: compute everything, keep nothing), ``jobs`` at a time.

    ``jobs == 1`` computes in this process; more start a pool of spawned worker processes (each with
    ``threads`` torch threads) that load ``claim_files`` so user-defined unit kinds exist there too."""

    store: Store | None = None
    jobs: int = 1
    data_dir: str | None = None
    device: str = "cpu"
    claim_files: tuple[str, ...] = ()
    threads: int | None = None
    on_unit: Callable[[UnitOutcome], None] | None = None
    fingerprint: str | None = None   # None: each kind's code fingerprint; a string: that one for every unit
    compute: bool = True     # False: only what the store holds (``advland report``); the rest is "not computed"
    _on_outcome: Callable[[UnitOutcome], None] | None = field(default=None, init=False, repr=False)
    _fingerprints: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self):
        if not self.compute and self.store is None:
            raise ValueError("an executor that does not compute needs a store to read from")
        if isinstance(self.jobs, bool) or not isinstance(self.jobs, int) or self.jobs < 1:
            raise UsageError(f"--jobs must be an integer >= 1, got {self.jobs!r}")

    def _context(self, unit: Unit) -> ExecutionContext:
        workdir = str(self.store.unit_dir(unit)) if self.store is not None else None
        return ExecutionContext(self.data_dir, self.device, workdir, self.threads)

    def code_fingerprint(self, unit: Unit) -> str:
        """The fingerprint of the code computing units of ``unit``'s kind (read once per kind and executor: one
        run sees one version of the code)."""
        if self.fingerprint is not None:
            return self.fingerprint
        if unit.kind not in self._fingerprints:
            self._fingerprints[unit.kind] = code_fingerprint(kind_of(unit).fn)
        return self._fingerprints[unit.kind]

    def fingerprints(self) -> dict[str, str]:
        """{kind: fingerprint} of the kinds this executor has met so far."""
        return dict(sorted(self._fingerprints.items()))

    def _versioned(self, unit: Unit) -> "StoredUnit":
        """The unit as the store sees it: the same key, a version that carries the code fingerprint."""
        return StoredUnit(unit.key, unit.kind, unit.params, code_version(unit, self.code_fingerprint(unit)))

    def _start(self, unit: Unit) -> bool:
        """Mark ``unit`` running in the store; True when this process is to compute it. A work folder left by
        other code (another version) is cleared first: a checkpoint of other code is never resumed."""
        if self.store is None:
            return True
        before = self.store.row(unit.key)
        stored = self._versioned(unit)
        if not self.store.try_start(stored):
            return False
        if before is not None and before.version != stored.version:
            shutil.rmtree(self.store.unit_dir(unit), ignore_errors=True)
        return True

    def _record(self, outcome: UnitOutcome) -> UnitOutcome:
        """Store the outcome (unless it came from the store), then tell ``on_unit`` and the runner's callback."""
        if self.store is not None and not outcome.reused and outcome.error_type != "NotComputed":
            stored = self._versioned(outcome.unit)
            if outcome.ok:
                self.store.finish(stored, outcome.results, environment={"device": self.device})
            else:
                self.store.fail(stored, outcome.error)
        for callback in (self.on_unit, self._on_outcome):
            if callback is not None:
                callback(outcome)
        return outcome

    def run(self, units: list[Unit], on_outcome: Callable[[UnitOutcome], None] | None = None) -> dict[str, UnitOutcome]:
        """Every unit's outcome by key, each distinct key computed at most once, in the order given (pool: as
        they finish); ``on_outcome`` hears of each as soon as it is known."""
        self._on_outcome = on_outcome
        unique = list({u.key: u for u in units}.values())
        outcomes: dict[str, UnitOutcome] = {}
        pending: list[Unit] = []
        for u in unique:
            stored = self.store.results(self._versioned(u)) if self.store is not None else None
            if stored is not None:
                outcomes[u.key] = self._record(UnitOutcome(u, results=stored, reused=True))
            else:
                pending.append(u)
        if not self.compute:
            for u in pending:
                outcomes[u.key] = self._record(UnitOutcome(
                    u, error=f"NotComputed: unit {u.key} ({u.kind}) is not in the store {self.store.path}; "
                             "`advland verify` computes it", error_type="NotComputed"))
            return outcomes
        waiting: list[Unit] = []
        todo = []
        for u in pending:
            if self._start(u):
                todo.append(u)
            else:
                waiting.append(u)
        pooled = [u for u in todo if self.jobs > 1 and u.kind.startswith(POOLED_KIND_PREFIX)]
        for u in todo:
            if u not in pooled:
                with self._heartbeats(u):
                    outcome = self._run_here(u)
                outcomes[u.key] = self._record(outcome)
        if len(pooled) == 1:
            with self._heartbeats(pooled[0]):
                outcomes[pooled[0].key] = self._record(self._run_here(pooled[0]))
        elif pooled:
            outcomes.update(self._run_pool(pooled))
        for u in waiting:
            outcomes[u.key] = self._record(self._wait_for(u))
        return outcomes

    @contextmanager
    def _heartbeats(self, unit: Unit):
        """While ``unit`` is computed in this process, a thread (with its own connection: sqlite connections
        stay in their thread) keeps its heartbeat fresh so no other process takes it over."""
        if self.store is None:
            yield
            return
        stop = threading.Event()

        def beat():
            with Store(self.store.path, artifacts_root=self.store.artifacts_root) as own:
                while not stop.wait(HEARTBEAT_EVERY_S):
                    own.heartbeat(self._versioned(unit))

        thread = threading.Thread(target=beat, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def _run_here(self, unit: Unit) -> UnitOutcome:
        status, payload, error_type, seconds = _worker(unit.kind, dict(unit.params), unit.version,
                                                       self._context(unit))
        if status == "ok":
            return UnitOutcome(unit, results=payload, seconds=seconds)
        return UnitOutcome(unit, error=payload, error_type=error_type, seconds=seconds)

    def _run_pool(self, todo: list[Unit]) -> dict[str, UnitOutcome]:
        outcomes: dict[str, UnitOutcome] = {}
        ctx = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(max_workers=min(self.jobs, len(todo)), mp_context=ctx,
                                   initializer=_worker_init, initargs=(tuple(self.claim_files), self.threads))
        try:
            futures: dict[Future, Unit] = {
                pool.submit(_worker, u.kind, dict(u.params), u.version, self._context(u)): u for u in todo}
            last_beat = time.monotonic()
            while futures:
                done, _ = wait(list(futures), timeout=POLL_S, return_when=FIRST_COMPLETED)
                for f in done:
                    u = futures.pop(f)
                    try:
                        status, payload, error_type, seconds = f.result()
                    except Exception as exc:  # the worker process died (killed, out of memory)
                        status, payload, error_type, seconds = ("error", f"worker process failed: {exc!r}",
                                                                type(exc).__name__, 0.0)
                    outcome = (UnitOutcome(u, results=payload, seconds=seconds) if status == "ok"
                               else UnitOutcome(u, error=payload, error_type=error_type, seconds=seconds))
                    outcomes[u.key] = self._record(outcome)
                if self.store is not None and time.monotonic() - last_beat > HEARTBEAT_EVERY_S:
                    for u in futures.values():
                        self.store.heartbeat(self._versioned(u))
                    last_beat = time.monotonic()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return outcomes

    def _wait_for(self, unit: Unit) -> UnitOutcome:
        """A unit another process is computing: wait until it is done, or its heartbeat goes stale (then
        compute it here)."""
        stored_unit = self._versioned(unit)
        while True:
            results = self.store.results(stored_unit)
            if results is not None:
                return UnitOutcome(unit, results=results, reused=True)
            row = self.store.row(unit.key)
            if row is None or not row.alive() or row.status == "failed":
                if self._start(unit):
                    with self._heartbeats(unit):
                        return self._run_here(unit)
            time.sleep(POLL_S)
