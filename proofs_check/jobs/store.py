"""The results store: one SQLite file (standard library) that remembers every finished unit of work.

A unit is a pure function of its fully resolved spec, so its key (``Unit.key``: a hash of the spec's canonical
JSON and the version of the code that computes it) names its results for good. The store keeps, per key:
status (``running``/``done``/``failed``), the spec, attempts, the host and process, a heartbeat, the results as
JSON with their SHA-256, the environment, the error with its traceback, and the unit's artifact files with
their checksums.

Safety: WAL journal, a busy timeout, and every write in a ``BEGIN IMMEDIATE`` transaction, so two processes on
one machine never corrupt the file nor compute one unit at the same time (``try_start`` is the lock: it fails
while another process holds a live heartbeat). A row is trusted only if its code version matches the unit's
and its results and artifacts still match their checksums; otherwise it is recomputed. Only the driver process
writes the store (workers on other machines return their results to it): a network file system does not
support WAL across machines.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from advland.io import dumps

STORE_ENV = "ADVLAND_STORE"
STATUSES = ("running", "done", "failed")
HEARTBEAT_STALE_S = 120.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS units (
    key TEXT PRIMARY KEY, kind TEXT NOT NULL, spec TEXT NOT NULL, version TEXT NOT NULL,
    status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    host TEXT, pid INTEGER, started REAL, heartbeat REAL, finished REAL,
    results TEXT, results_sha256 TEXT, environment TEXT, error TEXT);
CREATE TABLE IF NOT EXISTS artifacts (
    key TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL, PRIMARY KEY (key, path));
"""


def default_store_path() -> Path:
    """``$ADVLAND_STORE``, else ``$XDG_CACHE_HOME/advland/store.sqlite`` (``~/.cache`` when unset)."""
    if os.environ.get(STORE_ENV):
        return Path(os.environ[STORE_ENV]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "advland" / "store.sqlite"


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Row:
    """One unit as the store knows it."""

    key: str
    kind: str
    spec: dict
    version: str
    status: str
    attempts: int
    host: str | None
    pid: int | None
    started: float | None
    heartbeat: float | None
    finished: float | None
    error: str | None

    def alive(self, now: float | None = None, stale_after: float = HEARTBEAT_STALE_S) -> bool:
        """A running row whose heartbeat is recent (its process may still be working on it)."""
        now = time.time() if now is None else now
        return self.status == "running" and self.heartbeat is not None and now - self.heartbeat < stale_after


class StoreError(Exception):
    """The store file cannot be opened or is not an advland store."""


class Store:
    """``with Store(path) as store:`` — see the module docstring for the guarantees."""

    def __init__(self, path=None, *, artifacts_root=None):
        self.path = Path(path) if path is not None else default_store_path()
        self.artifacts_root = Path(artifacts_root) if artifacts_root is not None else self.path.parent / "units"
        self._db: sqlite3.Connection | None = None

    def __enter__(self) -> "Store":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=30000")
            db.executescript(_SCHEMA)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise StoreError(f"results store {self.path} cannot be used: {exc}") from exc
        self._db = db
        return self

    def __exit__(self, *exc) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the store is not open: use `with Store(path) as store:`")
        return self._db

    @contextmanager
    def _write(self):
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def unit_dir(self, unit) -> Path:
        """The folder where the unit keeps its artifacts (checkpoints, logs)."""
        return self.artifacts_root / unit.key

    # ----- reading
    def row(self, key: str) -> Row | None:
        r = self.db.execute("SELECT key, kind, spec, version, status, attempts, host, pid, started, heartbeat, "
                            "finished, error FROM units WHERE key = ?", (key,)).fetchone()
        if r is None:
            return None
        return Row(r[0], r[1], json.loads(r[2]), r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11])

    def rows(self, status: str | None = None) -> list[Row]:
        keys = [k for (k,) in self.db.execute(
            "SELECT key FROM units" + (" WHERE status = ?" if status else "") + " ORDER BY started",
            (status,) if status else ())]
        return [self.row(k) for k in keys]

    def results(self, unit) -> dict | None:
        """The unit's stored results if they can be trusted (done, same code version, checksums match);
        else None, and the unit is to be (re)computed."""
        r = self.db.execute("SELECT status, version, results, results_sha256 FROM units WHERE key = ?",
                            (unit.key,)).fetchone()
        if r is None or r[0] != "done" or r[1] != unit.version or r[2] is None or _sha256_text(r[2]) != r[3]:
            return None
        for path, digest in self.db.execute("SELECT path, sha256 FROM artifacts WHERE key = ?", (unit.key,)):
            p = self.artifacts_root / path
            if not p.is_file() or sha256_file(p) != digest:
                return None
        try:
            return json.loads(r[2])
        except json.JSONDecodeError:
            return None

    # ----- writing
    def try_start(self, unit, *, now: float | None = None) -> bool:
        """Mark the unit running for this process unless it is done (trusted) or running elsewhere with a live
        heartbeat; True when the caller should compute it."""
        now = time.time() if now is None else now
        with self._write() as db:
            existing = self.row(unit.key)
            if existing is not None and existing.alive(now) and existing.pid != os.getpid():
                return False
            if existing is not None and existing.status == "done" and self.results(unit) is not None:
                return False
            db.execute(
                "INSERT INTO units (key, kind, spec, version, status, attempts, host, pid, started, heartbeat) "
                "VALUES (?, ?, ?, ?, 'running', 1, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
                "kind = excluded.kind, spec = excluded.spec, version = excluded.version, status = 'running', "
                "attempts = units.attempts + 1, host = excluded.host, pid = excluded.pid, "
                "started = excluded.started, heartbeat = excluded.heartbeat, finished = NULL, results = NULL, "
                "results_sha256 = NULL, error = NULL",
                (unit.key, unit.kind, dumps(unit.params, indent=None, sort_keys=True), unit.version,
                 socket.gethostname(), os.getpid(), now, now))
            db.execute("DELETE FROM artifacts WHERE key = ?", (unit.key,))
        return True

    def heartbeat(self, unit) -> None:
        with self._write() as db:
            db.execute("UPDATE units SET heartbeat = ? WHERE key = ? AND status = 'running'",
                       (time.time(), unit.key))

    def finish(self, unit, results: dict, *, environment: dict | None = None, artifacts=()) -> None:
        """Record the unit's results (JSON by advland.io's rule) and the checksums of its artifact files
        (paths relative to ``artifacts_root``)."""
        text = dumps(results, indent=None, sort_keys=True)
        digests = [(str(Path(p)), sha256_file(self.artifacts_root / p)) for p in artifacts]
        with self._write() as db:
            db.execute("UPDATE units SET status = 'done', finished = ?, results = ?, results_sha256 = ?, "
                       "environment = ?, error = NULL WHERE key = ?",
                       (time.time(), text, _sha256_text(text), dumps(environment or {}, indent=None), unit.key))
            db.executemany("INSERT OR REPLACE INTO artifacts (key, path, sha256) VALUES (?, ?, ?)",
                           [(unit.key, p, d) for p, d in digests])

    def fail(self, unit, error: str) -> None:
        """Record that the unit raised (``error`` holds the traceback)."""
        with self._write() as db:
            db.execute("UPDATE units SET status = 'failed', finished = ?, error = ? WHERE key = ?",
                       (time.time(), error, unit.key))

    def prune(self, *, status: str | None = None, keys=()) -> int:
        """Forget units by status or key (their artifact folders are left to the caller); returns how many."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        with self._write() as db:
            chosen = list(keys) + [k for (k,) in db.execute("SELECT key FROM units WHERE status = ?", (status,))] \
                if status else list(keys)
            for k in chosen:
                db.execute("DELETE FROM artifacts WHERE key = ?", (k,))
                db.execute("DELETE FROM units WHERE key = ?", (k,))
        return len(chosen)
