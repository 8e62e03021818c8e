"""The local executor (the default of ``advland verify``): units in this process, or training units in worker
processes, ``--jobs`` at a time.

``LocalExecutor`` is the driver of ``driver`` (store, reuse, heartbeats, retries, interruption) with the engine
``Processes``: ``--jobs`` spawned worker processes (torch is not fork-safe), each computing one unit at a time and
replying through its own pipe, so the driver knows which unit each one holds. A worker that dies without replying
(killed, out of memory) is seen by its exit code and only its unit is launched again; a worker whose driver is
gone (killed with SIGKILL) stops too, so that no orphan keeps writing the unit's folder. Ctrl-C stops the workers
(they ignore SIGINT themselves and are terminated by the driver, which records their units as interrupted).
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import wait as wait_for_any

from advland.errors import UsageError

from .driver import Driver, JobState
from .worker import Task, run_task

STOP_GRACE_S = 5.0


def _exit_with_parent(parent: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(1)


def _serve(conn, parent: int) -> None:
    """A worker process: compute the tasks it is sent, one at a time, replying to each, until it is sent None.
    Ctrl-C is the driver's to handle; a driver gone ends it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    while True:
        task = conn.recv()
        if task is None:
            return
        conn.send(run_task(task))


def _ending(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"signal {signal.Signals(-exitcode).name}"
    return f"exit code {exitcode}"


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: object    # the driver's end of a duplex pipe


class Processes:
    """Engine: at most ``jobs`` spawned worker processes, each computing one unit at a time and kept for the next
    (torch is imported once per worker); a worker that dies takes only its own unit with it."""

    name = "local"
    detached = False

    def __init__(self, jobs: int):
        self.capacity = jobs
        self._busy: dict[str, _Worker] = {}   # job -> the worker computing it
        self._idle: list[_Worker] = []
        self._launches = 0

    def _worker(self) -> _Worker:
        if self._idle:
            return self._idle.pop()
        ctx = multiprocessing.get_context("spawn")
        mine, theirs = ctx.Pipe(duplex=True)
        process = ctx.Process(target=_serve, args=(theirs, os.getpid()), daemon=True, name="advland-worker")
        process.start()
        theirs.close()
        return _Worker(process, mine)

    def launch(self, tasks: list[Task]) -> list[str]:
        jobs = []
        for task in tasks:
            worker = self._worker()
            worker.conn.send(task)
            self._launches += 1
            job = f"{self.name}:{worker.process.pid}-{self._launches}"
            self._busy[job] = worker
            jobs.append(job)
        return jobs

    def poll(self, jobs: list[str]) -> dict[str, JobState]:
        states = {}
        for job in jobs:
            worker = self._busy[job]
            alive = worker.process.is_alive()
            reply = None
            if worker.conn.poll():     # checked after is_alive: a reply sent just before dying is still read
                try:
                    reply = worker.conn.recv()
                except EOFError:
                    reply = None
            if reply is not None:
                del self._busy[job]
                self._idle.append(worker)
                states[job] = JobState("done", reply)
            elif alive:
                states[job] = JobState("running")
            else:
                del self._busy[job]
                self._stop(worker)
                states[job] = JobState("lost", reason=f"worker process {worker.process.pid} ended with "
                                                      f"{_ending(worker.process.exitcode)} before replying")
        return states

    def follow(self, job: str, task: Task) -> bool:
        return False   # a worker process ends with its driver

    def cancel(self, jobs: list[str]) -> None:
        for job in jobs:
            if job in self._busy:
                self._stop(self._busy.pop(job))

    def wait(self, seconds: float) -> None:
        waitables = [w for worker in self._busy.values() for w in (worker.conn, worker.process.sentinel)]
        if waitables:
            wait_for_any(waitables, timeout=seconds)
        else:
            time.sleep(seconds)

    def close(self) -> None:
        """Stop every worker: the idle ones are told to finish, the busy ones terminated."""
        self.cancel(list(self._busy))
        for worker in self._idle:
            try:
                worker.conn.send(None)
            except OSError:
                pass
        for worker in self._idle:
            worker.process.join(STOP_GRACE_S)
            self._stop(worker)
        self._idle = []

    @staticmethod
    def _stop(worker: _Worker) -> None:
        if worker.process.is_alive():
            worker.process.terminate()
            worker.process.join(STOP_GRACE_S)
            if worker.process.is_alive():
                worker.process.kill()
        worker.process.join()
        worker.conn.close()


@dataclass
class LocalExecutor(Driver):
    """The driver with ``jobs`` worker processes for training units (``jobs == 1``: everything in this process;
    each worker uses ``threads`` torch threads and loads ``claim_files`` so user-defined unit kinds exist there)."""

    jobs: int = 1

    def __post_init__(self):
        if isinstance(self.jobs, bool) or not isinstance(self.jobs, int) or self.jobs < 1:
            raise UsageError(f"--jobs must be an integer >= 1, got {self.jobs!r}")
        super().__post_init__()
        if self.backend is None and self.jobs > 1:
            self.backend = Processes(self.jobs)
