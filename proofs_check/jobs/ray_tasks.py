"""The Ray engine: units as Ray core tasks (``pip install "advland[ray]"``); the grid and the store stay the
driver's (not Ray Tune).

Each unit is one task of ``worker.run_task`` asking for the unit's resources (``num_gpus``, ``num_cpus``,
``memory``); Ray's scheduler queues them across the cluster. Ray's own task retries are off (``max_retries=0``): a
task whose worker dies is a lost worker for the driver, which launches it again at most ``retries`` times
(``driver``), and the unit resumes from its folder. A task's state before it replies is read from the unit's folder
(``worker.started``): queued until its worker has started it. Without ``address`` the engine starts a local Ray
cluster for the run and shuts it down when the run ends, Ctrl-C included; with one it joins that cluster and only
disconnects. Ray ends a driver's tasks with the driver, so a stopped run leaves nothing to follow: the next run
launches the units again and they resume from their checkpoints.
"""
from __future__ import annotations

from advland.errors import UsageError

from .driver import JobState
from .worker import Reply, Resources, Task, run_task, started


def _ray():
    try:
        import ray
    except ImportError:
        raise UsageError('--executor ray needs Ray: pip install "advland[ray]"') from None
    return ray


class RayTasks:
    """Engine: one Ray task per unit (module docstring)."""

    name = "ray"
    capacity = None
    detached = False

    def __init__(self, resources: Resources, address: str | None = None):
        self.resources, self.address = resources, address
        self._started = False     # this engine started a local cluster (and shuts it down)
        self._refs: dict = {}     # name -> ObjectRef of the task's reply
        self._tasks: dict[str, Task] = {}
        self._remote = None
        _ray()      # installed? (before any unit is held: a usage error stops nothing)

    def _connect(self):
        ray = _ray()
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                     logging_level="WARNING")
            self._started = True
        if self._remote is None:
            options = {"num_cpus": self.resources.cpus, "num_gpus": self.resources.gpus, "max_retries": 0}
            if self.resources.mem_gb:
                options["memory"] = int(self.resources.mem_gb * 2 ** 30)
            self._remote = ray.remote(run_task).options(**options)
        return ray

    def launch(self, tasks: list[Task]) -> list[str]:
        self._connect()
        names = []
        for task in tasks:
            ref = self._remote.remote(task)
            name = f"{self.name}:{ref.hex()}"
            self._refs[name], self._tasks[name] = ref, task
            names.append(name)
        return names

    def poll(self, jobs: list[str]) -> dict[str, JobState]:
        ray = self._connect()
        ready, _ = ray.wait([self._refs[j] for j in jobs], num_returns=len(jobs), timeout=0)
        ready = set(ready)
        states = {}
        for name in jobs:
            if self._refs[name] not in ready:
                states[name] = JobState("running" if started(self._tasks[name]) else "queued")
                continue
            ref = self._refs.pop(name)
            self._tasks.pop(name)
            try:
                states[name] = JobState("done", ray.get(ref))
            except ray.exceptions.RayTaskError as exc:   # raised outside run_task (e.g. advland missing there)
                states[name] = JobState("done", Reply(None, str(exc), type(exc).__name__))
            except ray.exceptions.RayError as exc:       # worker or node died, task cancelled: a lost worker
                states[name] = JobState("lost", reason=f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}")
        return states

    def follow(self, job: str, task: Task) -> bool:
        return False   # Ray ends the tasks of a driver with it

    def cancel(self, jobs: list[str]) -> None:
        if self._remote is None:
            return
        ray = _ray()
        for name in jobs:
            if name in self._refs:
                ray.cancel(self._refs.pop(name), force=True)
                self._tasks.pop(name)

    def wait(self, seconds: float) -> None:
        ray = self._connect()
        if self._refs:
            ray.wait(list(self._refs.values()), num_returns=1, timeout=seconds)

    def close(self) -> None:
        """Disconnect; a local cluster this engine started is shut down (no Ray process outlives the run)."""
        if self._remote is not None or self._started:
            ray = _ray()
            self._refs.clear()
            self._tasks.clear()
            self._remote = None
            if self._started:
                ray.shutdown()
                self._started = False
