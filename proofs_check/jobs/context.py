"""Where a unit is being computed: data folder, device, work folder and thread count (never part of its key).

Kept apart from the executors so that the code computing a unit (which reads this context) does not depend on how
units are scheduled: editing an executor leaves the fingerprint of stored numbers unchanged.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator


@dataclass(frozen=True)
class ExecutionContext:
    """What a unit may take from where it runs (never part of its key): data folder, device, work folder."""

    data_dir: str | None = None
    device: str = "cpu"
    workdir: str | None = None
    threads: int | None = None


_CURRENT = [ExecutionContext()]


def current() -> ExecutionContext:
    """The context of the unit being computed (a default one outside the executor)."""
    return _CURRENT[-1]


@contextmanager
def executing(context: ExecutionContext) -> Iterator[ExecutionContext]:
    """Make ``context`` current while a unit is computed."""
    _CURRENT.append(context)
    try:
        yield context
    finally:
        _CURRENT.pop()
