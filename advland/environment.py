"""What a run records about where it ran: seed, scale, versions, device, git commit, command line."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

PACKAGES = ("advland", "numpy", "scipy", "cvxpy", "hypothesis", "matplotlib", "torch", "tqdm")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def git_commit(start: Path | None = None) -> dict:
    """HEAD commit and whether the work tree differs from it, for the source tree of this package."""
    root = start or Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        return {"commit": head, "dirty": bool(dirty)}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None, "note": "not a git checkout (installed package)"}


def device_info() -> dict:
    """CPU description, and the GPU if torch sees one (torch imported only here, lazily)."""
    info = {"cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count()}
    try:
        import torch
    except ImportError:
        info["torch"] = "not importable"
        return info
    info["cuda_available"] = bool(torch.cuda.is_available())
    if info["cuda_available"]:
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def environment(seed: int, argv=None, **context) -> dict:
    """Everything a reader needs to reproduce a run: the seed and any other context given (scale, data
    folder), the time, interpreter, package versions, device and git commit, and the command line."""
    return {
        "seed": seed,
        **context,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": {name: _version(name) for name in PACKAGES},
        "device": device_info(),
        "git": git_commit(),
        "argv": list(sys.argv if argv is None else argv),
    }
