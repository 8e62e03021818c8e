"""The driver: the one executor of units, whatever engine computes them (this process, local worker processes,
SLURM through submitit, Ray).

The driver (the ``advland verify`` process) owns the results store; an engine (a ``Backend``) only launches a batch
of units and says what became of each. What every engine shares is here, once:

* units are identified by key: a unit the store holds (done, same code version, checksums match) is not computed
  again, and a unit shared by several claims is computed once;
* a unit held by another live process (a fresh heartbeat) is not launched twice: it is waited for, and taken over
  when its holder is gone;
* a unit whose job is still on the cluster after its driver was stopped (the store keeps the job's name, e.g.
  ``slurm:4242_7``) is followed by the next driver instead of being submitted again;
* every outcome is recorded by the driver alone: a worker returns its numbers or its traceback (``worker.Reply``)
  and writes nothing but the unit's folder;
* a unit that raises is recorded as failed with its traceback (its claims say so, naming the unit); a unit whose
  worker dies without replying (killed, out of memory, preempted beyond its requeues, node lost) is launched again,
  at most ``retries`` times, and resumes from the checkpoint in its folder;
* while the driver holds units, a thread keeps their heartbeats fresh; when it is interrupted (Ctrl-C) it stops
  the workers it started and records the units it held as interrupted, except the jobs of an engine whose jobs
  outlive it (SLURM: ``Backend.detached``), which stay on the cluster for the next driver to follow.

Units of kinds under ``empirical.`` (training runs: minutes to hours) go to the engine; the others (seconds) are
computed in the driver. The code version stored beside a unit's numbers is the unit kind's own version plus the
fingerprint of the code that computes that kind (``fingerprint.code_fingerprint``): results computed by other code
are recomputed, never trusted.
"""
from __future__ import annotations

import shutil
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import KW_ONLY, dataclass, field, replace
from typing import Callable, Protocol

from ..units import Unit, kind_of
from .context import ExecutionContext
from .fingerprint import code_fingerprint
from .store import HELD, Store, stored_form
from .worker import Reply, Task, run_task

OFFLOADED_KIND_PREFIX = "empirical."
POLL_S = 2.0
HEARTBEAT_EVERY_S = 30.0
RETRIES = 2
INTERRUPTED = ("Interrupted: the driver stopped before this unit finished; run the same command again to compute "
               "it (a training unit resumes from the checkpoint in its folder)")


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
    host: str = ""

    @property
    def ok(self) -> bool:
        return self.results is not None

    @classmethod
    def of(cls, unit: Unit, reply: Reply) -> "UnitOutcome":
        return cls(unit, reply.results, reply.error, reply.error_type, reply.seconds, host=reply.host)


@dataclass(frozen=True)
class JobState:
    """What an engine knows of one job: ``queued``, ``running``, ``done`` (with the worker's reply) or ``lost``
    (the worker ended without replying), with the reason."""

    status: str
    reply: Reply | None = None
    reason: str = ""


class Backend(Protocol):
    """How one engine launches units and follows them; everything else is the driver's.

    ``name`` prefixes its job names; ``capacity``: jobs in flight at once (None: as many as there are units, the
    engine's scheduler queues them); ``detached``: its jobs outlive the driver (an interrupted driver leaves them
    running for the next one to follow)."""

    name: str
    capacity: int | None
    detached: bool

    def launch(self, tasks: list[Task]) -> list[str]:
        """Start one batch (one job array on SLURM); the jobs' names, in order."""

    def poll(self, jobs: list[str]) -> dict[str, JobState]:
        """The state of each job."""

    def follow(self, job: str, task: Task) -> bool:
        """Whether ``job``, launched for ``task`` by an earlier driver, can still be followed (queued, running or
        finished with its reply kept); afterwards ``poll`` knows it."""

    def cancel(self, jobs: list[str]) -> None:
        """Stop these jobs (best effort)."""

    def wait(self, seconds: float) -> None:
        """Sleep up to ``seconds``, less when a job may have changed."""

    def close(self) -> None:
        """Release what the driver started (worker processes, a local Ray cluster); jobs of a detached engine are
        left running."""


@dataclass
class Flight:
    """A unit launched on the engine and the last state recorded of its job."""

    unit: Unit
    status: str


@dataclass
class Driver:
    """Run units with a store (or none: compute everything, keep nothing) on ``backend`` (None: in this process).

    ``compute=False`` only reads the store (``advland report``): a unit it lacks is "not computed"."""

    store: Store | None = None
    _: KW_ONLY
    backend: Backend | None = None
    data_dir: str | None = None
    device: str = "cpu"
    claim_files: tuple[str, ...] = ()
    threads: int | None = None
    on_unit: Callable[[UnitOutcome], None] | None = None
    fingerprint: str | None = None   # None: each kind's code fingerprint; a string: that one for every unit
    compute: bool = True
    retries: int = RETRIES
    poll_s: float = POLL_S
    left_running: list[str] = field(default_factory=list, init=False)   # jobs an interrupted run left running
    _on_outcome: Callable[[UnitOutcome], None] | None = field(default=None, init=False, repr=False)
    _fingerprints: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self):
        if not self.compute and self.store is None:
            raise ValueError("an executor that does not compute needs a store to read from")
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise ValueError(f"retries must be an integer >= 0, got {self.retries!r}")

    # ----- identity of units in the store
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

    def stored(self, unit: Unit) -> StoredUnit:
        """The unit as the store sees it: the same key, a version that carries the code fingerprint."""
        return StoredUnit(unit.key, unit.kind, unit.params, code_version(unit, self.code_fingerprint(unit)))

    def _context(self, unit: Unit) -> ExecutionContext:
        workdir = str(self.store.unit_dir(unit)) if self.store is not None else None
        return ExecutionContext(self.data_dir, self.device, workdir, self.threads)

    def _task(self, unit: Unit) -> Task:
        return Task.of(unit, self._context(unit), self.claim_files, launch=uuid.uuid4().hex)

    def offloaded(self, unit: Unit) -> bool:
        """Whether ``unit`` goes to the engine (training units) rather than being computed in the driver."""
        return self.backend is not None and unit.kind.startswith(OFFLOADED_KIND_PREFIX)

    def _start(self, unit: Unit, status: str) -> bool:
        """Hold ``unit`` in the store; True when this driver is to compute it. A work folder left by other code
        (another version) is cleared first: a checkpoint of other code is never resumed."""
        if self.store is None:
            return True
        before = self.store.row(unit.key)
        versioned = self.stored(unit)
        if not self.store.try_start(versioned, status=status):
            return False
        if before is not None and before.version != versioned.version:
            shutil.rmtree(self.store.unit_dir(unit), ignore_errors=True)
        return True

    def _record(self, outcome: UnitOutcome) -> UnitOutcome:
        """Store the outcome (unless it came from the store), then tell ``on_unit`` and the runner's callback. Fresh
        results are passed on in their stored form, so that a decision reads the same numbers in the same order
        whether they were computed in this run or reused from the store."""
        if outcome.ok and not outcome.reused:
            outcome = replace(outcome, results=stored_form(outcome.results))
        if self.store is not None and not outcome.reused and outcome.error_type != "NotComputed":
            versioned = self.stored(outcome.unit)
            if outcome.ok:
                environment = {"device": self.device, "host": outcome.host,
                               "executor": self.backend.name if self.offloaded(outcome.unit) else "driver"}
                self.store.finish(versioned, outcome.results, environment=environment, seconds=outcome.seconds)
            else:
                self.store.fail(versioned, outcome.error, seconds=outcome.seconds)
        for callback in (self.on_unit, self._on_outcome):
            if callback is not None:
                callback(outcome)
        return outcome

    # ----- running
    def run(self, units: list[Unit], on_outcome: Callable[[UnitOutcome], None] | None = None) -> dict[str, UnitOutcome]:
        """Every unit's outcome by key, each distinct key computed at most once; ``on_outcome`` hears of each as
        soon as it is known."""
        self._on_outcome = on_outcome
        self.left_running = []
        outcomes: dict[str, UnitOutcome] = {}
        pending: list[Unit] = []
        for u in {u.key: u for u in units}.values():
            results = self.store.results(self.stored(u)) if self.store is not None else None
            if results is not None:
                outcomes[u.key] = self._record(UnitOutcome(u, results=results, reused=True))
            else:
                pending.append(u)
        if not self.compute:
            for u in pending:
                outcomes[u.key] = self._record(UnitOutcome(
                    u, error=f"NotComputed: unit {u.key} ({u.kind}) is not in the store {self.store.path}; "
                             "`advland verify` computes it", error_type="NotComputed"))
            return outcomes
        if not pending:
            return outcomes
        batch = _Batch(self, outcomes)
        try:
            with self._heartbeats(batch):
                batch.run(pending)
        except BaseException:
            batch.abandon()
            raise
        finally:
            if self.backend is not None:
                self.backend.close()
        return outcomes

    @contextmanager
    def _heartbeats(self, batch: "_Batch"):
        """While the batch runs, a thread (with its own connection: sqlite connections stay in their thread)
        keeps the heartbeat of every unit the driver holds fresh, so no other process takes them over."""
        if self.store is None:
            yield
            return
        stop = threading.Event()

        def beat():
            with Store(self.store.path, artifacts_root=self.store.artifacts_root) as own:
                while not stop.wait(HEARTBEAT_EVERY_S):
                    own.heartbeat(*batch.held())

        thread = threading.Thread(target=beat, daemon=True, name="advland-heartbeats")
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


class _Batch:
    """One call of ``Driver.run``: the units the driver holds, the jobs in flight, and the loop that launches,
    polls, retries and records."""

    def __init__(self, driver: Driver, outcomes: dict[str, UnitOutcome]):
        self.d = driver
        self.outcomes = outcomes
        self.queue: list[Unit] = []          # held, to launch on the engine
        self.here: list[Unit] = []           # held, to compute in the driver
        self.waiting: list[Unit] = []        # held by another live process
        self.flight: dict[str, Flight] = {}  # job name -> unit on the engine
        self.lost: dict[str, int] = {}       # key -> workers lost so far
        self._held: dict[str, StoredUnit] = {}
        self._lock = threading.Lock()

    def held(self) -> list[StoredUnit]:
        with self._lock:
            return list(self._held.values())

    def _hold(self, unit: Unit, holding: bool) -> None:
        if self.d.store is None:
            return
        with self._lock:
            if holding:
                self._held[unit.key] = self.d.stored(unit)
            else:
                self._held.pop(unit.key, None)

    def record(self, outcome: UnitOutcome) -> None:
        self._hold(outcome.unit, False)
        self.outcomes[outcome.unit.key] = self.d._record(outcome)

    def claim(self, unit: Unit) -> None:
        """Follow the unit's job left by a stopped driver, or hold the unit to launch or compute it, or wait for
        the live process that holds it."""
        d, store = self.d, self.d.store
        row = store.row(unit.key) if store is not None else None
        if row is not None and row.job and row.status in HELD and not row.alive() and d.backend is not None:
            versioned = d.stored(unit)
            if row.version != versioned.version:
                d.backend.cancel([row.job])          # a job of other code must not write the folder any more
            elif d.backend.follow(row.job, d._task(unit)) and store.try_adopt(versioned, row.job):
                self.flight[row.job] = Flight(unit, row.status)
                self._hold(unit, True)
                return
        if d._start(unit, "queued"):
            (self.queue if d.offloaded(unit) else self.here).append(unit)
            self._hold(unit, True)
        else:
            self.waiting.append(unit)

    def run(self, pending: list[Unit]) -> None:
        for u in pending:
            self.claim(u)
        while self.queue or self.here or self.flight or self.waiting:
            changed = self.launch()
            if self.here:
                self.compute_here(self.here.pop(0))
                changed = True
            changed = self.poll() or changed
            changed = self.check_waiting() or changed
            if not changed:
                if self.d.backend is not None and self.flight:
                    self.d.backend.wait(self.d.poll_s)
                else:
                    time.sleep(self.d.poll_s)

    def launch(self) -> bool:
        """Launch what the engine has room for, as one batch."""
        capacity = self.d.backend.capacity if self.d.backend is not None else None
        room = len(self.queue) if capacity is None else max(0, capacity - len(self.flight))
        batch, self.queue = self.queue[:room], self.queue[room:]
        if not batch:
            return False
        tasks = [self.d._task(u) for u in batch]
        for job, unit in zip(self.d.backend.launch(tasks), batch):
            self.flight[job] = Flight(unit, "queued")
            if self.d.store is not None:
                self.d.store.launched(self.d.stored(unit), job, "queued")
        return True

    def compute_here(self, unit: Unit) -> None:
        if self.d.store is not None:
            self.d.store.launched(self.d.stored(unit), None, "running")
        task = Task.of(unit, self.d._context(unit), self.d.claim_files)
        self.record(UnitOutcome.of(unit, run_task(task, in_worker=False)))

    def poll(self) -> bool:
        if not self.flight:
            return False
        changed = False
        for job, state in self.d.backend.poll(list(self.flight)).items():
            f = self.flight[job]
            if state.status in HELD:
                if state.status != f.status and self.d.store is not None:
                    self.d.store.launched(self.d.stored(f.unit), job, state.status)
                f.status = state.status
                continue
            del self.flight[job]
            changed = True
            if state.status == "done":
                self.record(UnitOutcome.of(f.unit, state.reply))
            else:
                self.worker_lost(f.unit, job, state.reason)
        return changed

    def worker_lost(self, unit: Unit, job: str, reason: str) -> None:
        """Launch the unit again (it resumes from its folder), or give up after ``retries`` lost workers."""
        self.lost[unit.key] = self.lost.get(unit.key, 0) + 1
        if self.lost[unit.key] <= self.d.retries:
            if self.d.store is not None:
                self.d.store.retry(self.d.stored(unit))
            self.queue.append(unit)
            return
        self.record(UnitOutcome(unit, error=(
            f"WorkerLost: the worker computing unit {unit.key} ({unit.kind}) ended without replying "
            f"{self.lost[unit.key]} times (tried {self.d.retries + 1} times; last job {job}: {reason}); its folder "
            "keeps its last checkpoint"), error_type="WorkerLost"))

    def check_waiting(self) -> bool:
        """Units held elsewhere: their results once stored, or the unit itself once its holder is gone."""
        changed = False
        for unit in list(self.waiting):
            results = self.d.store.results(self.d.stored(unit))
            if results is not None:
                self.waiting.remove(unit)
                self.record(UnitOutcome(unit, results=results, reused=True))
                changed = True
                continue
            row = self.d.store.row(unit.key)
            if row is None or not row.alive() or row.status == "failed":
                self.waiting.remove(unit)
                self.claim(unit)
                changed = changed or unit not in self.waiting
        return changed

    def abandon(self) -> None:
        """The driver stops early (Ctrl-C, an error): stop what runs for it unless its engine's jobs outlive it
        (they are left for the next driver to follow), and record the other units it holds as interrupted."""
        d = self.d
        if d.backend is not None and d.backend.detached:
            d.left_running = list(self.flight)
            left = {f.unit.key for f in self.flight.values()}
        else:
            if d.backend is not None and self.flight:
                d.backend.cancel(list(self.flight))
            left = set()
        if d.store is not None:
            for stored in self.held():
                if stored.key not in left:
                    d.store.fail(stored, INTERRUPTED)
