"""Files the suite writes: atomically (a reader sees the old file or the complete new one, never a part of it),
and JSON with one encoding rule for every file.

JSON rule (JSON has no NaN or infinity): numpy scalars and arrays become plain numbers and lists, tuples become
lists, enums their value, ``-0.0`` becomes ``0.0``, and a non-finite float becomes the *string* ``"nan"``,
``"inf"`` or ``"-inf"``, so that a reader can tell a missing value (``null``) from a diverged one.
"""
from __future__ import annotations

import enum
import json
import math
import os
import pathlib
import tempfile
from typing import Any, Mapping


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


def to_jsonable(value: Any) -> Any:
    """``value`` with every number, array and container turned into plain JSON values (the module's rule)."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy arrays and scalars, torch tensors
        return to_jsonable(value.tolist())
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        value = value + 0.0  # turns -0.0 into 0.0
        return value if math.isfinite(value) else str(value)
    if isinstance(value, pathlib.PurePath):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(obj, *, indent: int | None = 2, sort_keys: bool = False) -> str:
    """``obj`` encoded by the module's rule (strict JSON: ``allow_nan=False``)."""
    return json.dumps(to_jsonable(obj), indent=indent, sort_keys=sort_keys, ensure_ascii=False, allow_nan=False)


def write_json(path, obj, *, sort_keys: bool = True) -> None:
    """Atomically write ``obj`` as JSON (the module's rule) with a trailing newline."""
    text = dumps(obj, sort_keys=sort_keys) + "\n"
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
