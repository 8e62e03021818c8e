"""The executors by name (``advland verify --executor local|slurm|ray``), their options, and the one function
that builds the chosen one: the driver of ``driver`` with the engine of ``local``, ``slurm`` or ``ray_tasks``.

Options are the fields of ``ClusterOptions`` (command-line flags, or the keys of a TOML file given by
``--cluster-config``: the flags override the file). Torch-, submitit- and Ray-free: the command line builds its
parser from this module.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from advland.errors import UsageError
from advland.options import option, read_config, resolve_device

from .driver import RETRIES, Driver
from .store import Store
from .worker import Resources

EXECUTORS = ("local", "slurm", "ray")
GPU_SCALES = ("gpu", "paper")
SLURM_FOLDER = "_slurm"     # submitit's job files, inside the units' folder (shared with the nodes)


@dataclasses.dataclass(kw_only=True)
class ClusterOptions:
    executor: str = option("local", "where units are computed: local (this machine: in this process, or --jobs "
                                     "worker processes), slurm (submitit job arrays), ray (Ray tasks)",
                           choices=EXECUTORS)
    retries: int = option(RETRIES, "launch a unit again at most N times when its worker dies without replying "
                                   "(killed, preempted, out of memory); it resumes from its checkpoint",
                          minimum=0, metavar="N")
    unit_gpus: int | None = option(None, "GPUs of each unit's worker with slurm and ray (default: 1 at the gpu and "
                                         "paper scales, else 0)", minimum=0, metavar="N")
    unit_cpus: int = option(1, "CPU cores of each unit's worker with slurm and ray (its torch threads)", minimum=1,
                            metavar="N")
    unit_mem: float | None = option(None, "memory of each unit's worker with slurm and ray, in GB (default: the "
                                          "cluster's)", minimum=0.1, metavar="GB")
    slurm_mode: str = option("slurm", "slurm: sbatch job arrays; local: each job a process here; debug: each job "
                                      "in this process (local and debug: for testing)",
                             choices=("slurm", "local", "debug"))
    slurm_partition: str | None = option(None, "SLURM partition", metavar="NAME")
    slurm_account: str | None = option(None, "SLURM account", metavar="NAME")
    slurm_time: int = option(720, "time limit of each unit's job in minutes; a job that reaches it is requeued and "
                                  "resumes from its checkpoint (at most --retries times)", minimum=1, metavar="MIN")
    slurm_array_parallelism: int = option(64, "tasks of a job array running at once", minimum=1, metavar="N")
    slurm_setup: list[str] = option([], "shell lines run before each job, e.g. 'source ~/venv/bin/activate'",
                                    metavar="LINE")
    slurm_extra: list[str] = option([], "further sbatch parameters, e.g. qos=high constraint=h100",
                                    metavar="KEY=VALUE")
    slurm_folder: str | None = option(None, f"submitit's job files and logs, shared with the nodes (default: "
                                            f"{SLURM_FOLDER} in the units' folder)", metavar="DIR")
    ray_address: str | None = option(None, "Ray cluster to join (auto, or ray://HEAD:10001); default: a local Ray "
                                           "cluster started for the run and stopped after it", metavar="ADDRESS")


def cluster_options(given: dict, config_file=None) -> ClusterOptions:
    """The options: defaults, overridden by the TOML file ``config_file`` (keys: the field names), overridden by
    ``given`` (the flags the user gave)."""
    values = read_config(config_file, ClusterOptions) if config_file else {}
    return ClusterOptions(**{**values, **given})


def unit_gpus(options: ClusterOptions, scale: str) -> int:
    """GPUs per unit worker: the option, else 1 at the GPU scales and 0 below."""
    if options.unit_gpus is not None:
        return options.unit_gpus
    return 1 if scale in GPU_SCALES else 0


def worker_device(options: ClusterOptions, device: str, scale: str) -> str:
    """The device units compute on. Local: this machine's (``resolve_device``). slurm and ray: the workers',
    decided by their GPUs, since the driver (a login node) may have none: ``auto`` is cuda with --unit-gpus >= 1;
    the gpu and paper scales need CUDA there, never a silent CPU run."""
    if options.executor == "local":
        resolved = resolve_device(device)
        where = f"here (--device {device})"
    else:
        gpus = unit_gpus(options, scale)
        if device == "cuda" and gpus == 0:
            raise UsageError(f"--device cuda with --executor {options.executor} needs --unit-gpus 1 or more")
        resolved = "cpu" if device == "cpu" or gpus == 0 else "cuda"
        where = f"on the workers (--unit-gpus {gpus}, --device {device})"
    if scale in GPU_SCALES and resolved != "cuda":
        raise UsageError(f"--scale {scale} runs on a CUDA GPU and there is none {where}; use --scale cpu"
                         + ("" if options.executor != "local" else ", or --executor slurm/ray with GPU workers"))
    return resolved


def build_executor(options: ClusterOptions, store: Store, *, scale: str, jobs: int, data_dir: str | None,
                   device: str, claim_files=(), compute: bool = True) -> Driver:
    """The executor ``options.executor`` with the store (whose units' folders the workers share)."""
    common = dict(data_dir=data_dir, device=device, claim_files=tuple(claim_files), compute=compute,
                  retries=options.retries)
    if options.executor == "local" or not compute:
        from .local import LocalExecutor

        return LocalExecutor(store, jobs=jobs, threads=max(1, (os.cpu_count() or 1) // jobs), **common)
    resources = Resources(unit_gpus(options, scale), options.unit_cpus, options.unit_mem)
    if options.executor == "slurm":
        from .slurm import Slurm, SlurmSettings

        settings = SlurmSettings(options.slurm_mode, options.slurm_partition, options.slurm_account,
                                 options.slurm_time, options.slurm_array_parallelism, tuple(options.slurm_setup),
                                 tuple(options.slurm_extra))
        folder = Path(options.slurm_folder) if options.slurm_folder else store.artifacts_root / SLURM_FOLDER
        backend = Slurm(settings, resources, folder, retries=options.retries)
    else:
        from .ray_tasks import RayTasks

        backend = RayTasks(resources, options.ray_address)
    return Driver(store, backend=backend, threads=options.unit_cpus, **common)
