"""The SLURM engine: units as the tasks of submitit job arrays (``pip install "advland[slurm]"``).

Each batch the driver launches is one job array (``sbatch --array``, at most ``array_parallelism`` tasks at once);
a task computes one unit (``worker.run_task``) in the unit's folder on the shared file system and submitit returns
its reply to the driver through its job folder (shared too). Preemption and time limits: submitit catches SLURM's
signal, calls ``UnitJob.checkpoint`` and requeues the same task, which resumes from the unit's own checkpoint
(training units write one every epoch); a time limit is requeued at most ``retries`` times. A task that ends
without a reply (killed, out of memory, node failure) is a lost worker for the driver, which launches the unit
again (``driver``). The jobs outlive the driver: an interrupted ``advland verify`` leaves them running, and the
next one follows them by the job ids kept in the store.

Modes (submitit's): ``slurm`` (sbatch; needs ``srun`` on this machine), ``local`` (each job a process on this
machine, the same files and life cycle: what the tests run), ``debug`` (each job computed in the driver when
polled).
"""
from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from advland.errors import UsageError

from .driver import JobState
from .store import process_exists
from .worker import Reply, Resources, Task, run_task

MODES = ("slurm", "local", "debug")
_PREFIX = {"slurm": "slurm", "local": "submitit-local", "debug": "submitit-debug"}
_QUEUED = {"PENDING", "REQUEUED", "CONFIGURING", "QUEUED", "READY", "SUSPENDED", "PREEMPTED"}
_LOCAL_RESULT_WAIT_S = 2.0   # submitit waits this long for a result file after a job ends (NFS lag on a cluster)


@dataclass(frozen=True)
class SlurmSettings:
    """What ``sbatch`` gets besides the unit's resources: partition, account, time limit in minutes, array
    parallelism, shell lines run before each task (``setup``: load modules, activate an environment) and further
    sbatch parameters (``extra``: ``KEY=VALUE``, e.g. ``qos=high``)."""

    mode: str = "slurm"
    partition: str | None = None
    account: str | None = None
    time_min: int = 720
    array_parallelism: int = 64
    setup: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()

    def __post_init__(self):
        if self.mode not in MODES:
            raise UsageError(f"--slurm-mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        bad = [e for e in self.extra if "=" not in e or not e.split("=", 1)[0].strip()]
        if bad:
            raise UsageError(f"--slurm-extra takes KEY=VALUE sbatch parameters (e.g. qos=high), got {bad}")


def submitit_parameters(settings: SlurmSettings, resources: Resources) -> dict:
    """The parameters of ``submitit.AutoExecutor.update_parameters`` for one unit per array task."""
    params = {"name": "advland", "timeout_min": settings.time_min, "nodes": 1, "tasks_per_node": 1,
              "cpus_per_task": resources.cpus, "gpus_per_node": resources.gpus,
              "slurm_array_parallelism": settings.array_parallelism}
    if resources.mem_gb:
        params["mem_gb"] = resources.mem_gb
    for key, value in (("slurm_partition", settings.partition), ("slurm_account", settings.account)):
        if value:
            params[key] = value
    if settings.setup:
        params["slurm_setup"] = list(settings.setup)
    if settings.extra:
        params["slurm_additional_parameters"] = dict(e.split("=", 1) for e in settings.extra)
    return params


class UnitJob:
    """What an array task runs: one unit. On preemption or a time limit SLURM signals the task, submitit calls
    ``checkpoint``, which requeues the same task, and ends the process; the unit then resumes from the checkpoint
    in its folder. ``run_task`` turns whatever a unit raises into its reply, ``SystemExit`` included; the exit
    submitit's signal handler raises is therefore noted on the way and raised again, so that submitit requeues."""

    def __call__(self, task: Task) -> Reply:
        from submitit import JobEnvironment

        sig = JobEnvironment._usr_sig()
        requeue = signal.getsignal(sig)
        ended = []

        def preempted(signum, frame):
            try:
                requeue(signum, frame)
            except BaseException as exc:  # requeued (SystemExit) or not (UncompletedJobError): the task ends
                ended.append(exc)
                raise

        if callable(requeue):
            signal.signal(sig, preempted)
        reply = run_task(task)
        if ended:
            raise ended[0]
        return reply

    def checkpoint(self, task: Task):
        from submitit.core.utils import DelayedSubmission

        return DelayedSubmission(self, task)


def _submitit():
    try:
        import submitit
    except ImportError:
        raise UsageError('--executor slurm needs submitit: pip install "advland[slurm]"') from None
    return submitit


class Slurm:
    """Engine: units as submitit job arrays (module docstring). ``folder``: submitit's job files and logs, on a
    file system the nodes share."""

    name = "slurm"
    capacity = None

    def __init__(self, settings: SlurmSettings, resources: Resources, folder, *, retries: int):
        self.settings, self.resources, self.folder, self.retries = settings, resources, Path(folder), retries
        self.detached = settings.mode != "debug"
        self._prefix = _PREFIX[settings.mode]
        self._jobs: dict = {}     # name -> submitit job
        self._executor = self._submitit_executor()   # before any unit is held: a usage error stops nothing

    def _submitit_executor(self):
        submitit = _submitit()
        try:
            executor = submitit.AutoExecutor(folder=self.folder, cluster=self.settings.mode,
                                             slurm_max_num_timeout=self.retries)
        except RuntimeError as exc:   # no srun: not a SLURM machine
            raise UsageError(f"--executor slurm: {exc} (--slurm-mode local runs the jobs on this machine)") from None
        executor.update_parameters(**submitit_parameters(self.settings, self.resources))
        return executor

    def _name(self, job) -> str:
        return f"{self._prefix}:{job.job_id}"

    def launch(self, tasks: list[Task]) -> list[str]:
        jobs = self._executor.map_array(UnitJob(), tasks)
        names = []
        for job in jobs:
            if self.settings.mode == "local":
                job._results_timeout_s = _LOCAL_RESULT_WAIT_S
            self._jobs[self._name(job)] = job
            names.append(self._name(job))
        return names

    def _done(self, job) -> bool:
        """Whether the job has ended (a local job followed after a restart: its controller process is gone)."""
        if self.settings.mode == "local" and job.state == "NO PROCESS AND NO RESULT":
            return not process_exists(int(job.job_id))
        return job.done()

    def poll(self, jobs: list[str]) -> dict[str, JobState]:
        submitit = _submitit()
        states = {}
        for name in jobs:
            job = self._jobs[name]
            if not self._done(job):
                states[name] = JobState("queued" if job.state.upper() in _QUEUED else "running")
                continue
            del self._jobs[name]
            try:
                states[name] = JobState("done", job.result())
            except submitit.core.utils.FailedJobError as exc:   # the job's Python raised outside run_task
                states[name] = JobState("done", Reply(None, str(exc), type(exc).__name__))
            except submitit.core.utils.UncompletedJobError as exc:   # ended without a result: a lost worker
                states[name] = JobState("lost", reason=str(exc).strip().splitlines()[0])
        return states

    def _job(self, name: str):
        """The job called ``name``: one this engine launched, or one of an earlier driver read from the folder
        (None when it is not a job of this mode, or a debug job, which ends with its driver)."""
        if name in self._jobs:
            return self._jobs[name]
        prefix, _, job_id = name.partition(":")
        if prefix != self._prefix or self.settings.mode == "debug":
            return None
        submitit = _submitit()
        cls = submitit.SlurmJob if self.settings.mode == "slurm" else submitit.LocalJob
        self._jobs[name] = cls(self.folder, job_id)
        return self._jobs[name]

    def follow(self, job: str, task: Task) -> bool:
        found = self._job(job)
        if found is None:
            return False
        if found.paths.result_pickle.exists() or not self._done(found):
            return True
        del self._jobs[job]
        return False

    def cancel(self, jobs: list[str]) -> None:
        for name in jobs:
            job = self._job(name)
            if job is None:
                continue
            if self.settings.mode == "local" and job.state == "NO PROCESS AND NO RESULT":
                if process_exists(int(job.job_id)):      # the controller of a job of an earlier driver: SIGINT
                    os.kill(int(job.job_id), signal.SIGINT)   # stops its tasks, as submitit's LocalJob.cancel
            else:
                job.cancel(check=False)
            self._jobs.pop(name, None)

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)

    def close(self) -> None:
        self._jobs.clear()
