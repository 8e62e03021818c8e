"""Atomic file writes: a reader sees the old file or the complete new one, never a part of it."""
from __future__ import annotations

import os
import pathlib
import tempfile


def umask_mode(mode: int) -> int:
    """``mode`` less the process umask: the permissions an ordinary ``open``/``mkdir`` would give
    (``mkstemp``/``mkdtemp`` create owner-only files and folders, which would otherwise persist)."""
    mask = os.umask(0)
    os.umask(mask)
    return mode & ~mask


def atomic_write(path, write, *, check=None) -> None:
    """``write(f)`` fills a temporary file (binary mode) in the target's folder, ``check(tmp_path)`` may reject
    it by raising, and only then does ``os.replace`` put it at ``path``. On any failure the temporary file is
    removed and ``path`` is left as it was."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, umask_mode(0o666))
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if check is not None:
            check(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
