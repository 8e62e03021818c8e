"""The results store: one SQLite file (standard library) that remembers every finished unit of work.

A unit is a pure function of its fully resolved spec, so its key (``Unit.key``: a hash of the spec's canonical
JSON and the version of the code that computes it) names its results for good. The store keeps, per key:
status, the spec, attempts, the host and process of the driver holding it, a heartbeat, the job that computes it
(``job``: the executor's name for it, e.g. ``slurm:4242_7``, so that a driver started again follows a job still
on the cluster instead of submitting it twice), the results as JSON with their SHA-256, the seconds the worker
computed, the environment, the error with its traceback, and the unit's artifact files with their checksums.

Statuses: ``queued`` (handed to an executor, not started yet), ``running``, ``done``, ``failed``. A queued or
running row is *alive* while its driver keeps the heartbeat fresh (``HEARTBEAT_STALE_S``); a driver on this host
whose process is gone holds nothing, whatever its last heartbeat.

Safety: WAL journal, a busy timeout, and every write in a ``BEGIN IMMEDIATE`` transaction, so two processes on
one machine never corrupt the file nor compute one unit at the same time (``try_start`` and ``try_adopt`` are the
lock: they fail while another process holds a live heartbeat). A row is trusted only if its code version matches
the unit's and its results and artifacts still match their checksums; otherwise it is recomputed. Only the
driver process writes the store (workers on other machines return their results to it): a network file system
does not support WAL across machines.
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
STATUSES = ("queued", "running", "done", "failed")
HELD = ("queued", "running")
HEARTBEAT_STALE_S = 120.0


def _results_text(results: dict) -> str:
    return dumps(results, indent=None, sort_keys=True)


def stored_form(results: dict) -> dict:
    """The results as the store gives them back (advland.io's JSON rule, keys sorted): what every decision reads,
    whether the numbers were computed just now or long ago."""
    return json.loads(_results_text(results))


_SCHEMA = """
CREATE TABLE IF NOT EXISTS units (
    key TEXT PRIMARY KEY, kind TEXT NOT NULL, spec TEXT NOT NULL, version TEXT NOT NULL,
    status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    host TEXT, pid INTEGER, started REAL, heartbeat REAL, finished REAL,
    results TEXT, results_sha256 TEXT, environment TEXT, error TEXT, job TEXT, seconds REAL);
CREATE TABLE IF NOT EXISTS artifacts (
    key TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL, PRIMARY KEY (key, path));
"""
# Columns added since the first stores were written: added to an older file when it is opened.
_ADDED_COLUMNS = {"job": "TEXT", "seconds": "REAL"}
_ROW_COLUMNS = ("key, kind, spec, version, status, attempts, host, pid, started, heartbeat, finished, error, job, "
                "seconds, environment")


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


def process_exists(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (signal 0 probes without signalling)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # it exists, under another user
        return True
    return True


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
    job: str | None = None
    seconds: float | None = None
    environment: dict | None = None

    def alive(self, now: float | None = None, stale_after: float = HEARTBEAT_STALE_S) -> bool:
        """A queued or running row whose heartbeat is recent and whose driver, when it ran on this host, still
        exists (its driver may still be working on it)."""
        now = time.time() if now is None else now
        if self.status not in HELD or self.heartbeat is None or now - self.heartbeat >= stale_after:
            return False
        return not (self.host == socket.gethostname() and self.pid is not None and not process_exists(self.pid))


class StoreError(Exception):
    """The store file cannot be opened or is not an advland store."""


class Store:
    """``with Store(path) as store:`` — see the module docstring for the guarantees."""

    def __init__(self, path=None, *, artifacts_root=None):
        self.path = Path(path) if path is not None else default_store_path()
        # the units' folders belong to this store (two stores in one folder never share checkpoints)
        self.artifacts_root = (Path(artifacts_root) if artifacts_root is not None
                               else self.path.with_name(f"{self.path.stem}-units"))
        self._db: sqlite3.Connection | None = None

    def __enter__(self) -> "Store":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=30000")
            db.executescript(_SCHEMA)
            self._db = db
            self._add_columns()
        except (sqlite3.DatabaseError, OSError) as exc:
            if self._db is not None:
                self._db.close()
                self._db = None
            raise StoreError(f"results store {self.path} cannot be used: {exc}") from exc
        return self

    def _add_columns(self) -> None:
        """Add the columns a store written by an earlier advland lacks (its rows keep their meaning)."""
        def missing():
            have = {r[1] for r in self.db.execute("PRAGMA table_info(units)")}
            return [c for c in _ADDED_COLUMNS if c not in have]

        if missing():
            with self._write() as db:
                for column in missing():
                    db.execute(f"ALTER TABLE units ADD COLUMN {column} {_ADDED_COLUMNS[column]}")

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
        r = self.db.execute(f"SELECT {_ROW_COLUMNS} FROM units WHERE key = ?", (key,)).fetchone()
        if r is None:
            return None
        return Row(r[0], r[1], json.loads(r[2]), *r[3:-1], json.loads(r[-1]) if r[-1] else None)

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

    def raw_results(self, key: str) -> dict | None:
        """The results of row ``key`` as stored, whatever their code version and unchecked: for estimates only
        (``cost``), never for a verdict."""
        r = self.db.execute("SELECT results FROM units WHERE key = ?", (key,)).fetchone()
        try:
            return json.loads(r[0]) if r is not None and r[0] is not None else None
        except json.JSONDecodeError:
            return None

    # ----- writing
    def try_start(self, unit, *, now: float | None = None, status: str = "running") -> bool:
        """Hold the unit for this process (``status``: ``running``, or ``queued`` when it goes to an executor's
        queue) unless it is done (trusted) or held elsewhere with a live heartbeat; True when the caller should
        compute it. Each start counts one attempt."""
        if status not in HELD:
            raise ValueError(f"a unit starts as one of {HELD}, not {status!r}")
        now = time.time() if now is None else now
        with self._write() as db:
            existing = self.row(unit.key)
            if existing is not None and existing.alive(now) and existing.pid != os.getpid():
                return False
            if existing is not None and existing.status == "done" and self.results(unit) is not None:
                return False
            db.execute(
                "INSERT INTO units (key, kind, spec, version, status, attempts, host, pid, started, heartbeat) "
                "VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
                "kind = excluded.kind, spec = excluded.spec, version = excluded.version, status = excluded.status, "
                "attempts = units.attempts + 1, host = excluded.host, pid = excluded.pid, "
                "started = excluded.started, heartbeat = excluded.heartbeat, finished = NULL, results = NULL, "
                "results_sha256 = NULL, error = NULL, job = NULL, seconds = NULL",
                (unit.key, unit.kind, dumps(unit.params, indent=None, sort_keys=True), unit.version, status,
                 socket.gethostname(), os.getpid(), now, now))
            db.execute("DELETE FROM artifacts WHERE key = ?", (unit.key,))
        return True

    def try_adopt(self, unit, job: str, *, now: float | None = None) -> bool:
        """Hold a queued or running unit whose driver is gone, keeping its job (a driver started again follows
        the job instead of submitting the unit twice); False when the row is not that job of this code version
        any more or another live process holds it."""
        now = time.time() if now is None else now
        with self._write() as db:
            existing = self.row(unit.key)
            if (existing is None or existing.status not in HELD or existing.job != job
                    or existing.version != unit.version or (existing.alive(now) and existing.pid != os.getpid())):
                return False
            db.execute("UPDATE units SET host = ?, pid = ?, heartbeat = ? WHERE key = ?",
                       (socket.gethostname(), os.getpid(), now, unit.key))
        return True

    def launched(self, unit, job: str | None, status: str) -> None:
        """The unit held by this process is now ``job`` of an executor, ``queued`` or ``running``."""
        if status not in HELD:
            raise ValueError(f"a launched unit is one of {HELD}, not {status!r}")
        with self._write() as db:
            db.execute("UPDATE units SET job = ?, status = ?, heartbeat = ? WHERE key = ? AND pid = ?",
                       (job, status, time.time(), unit.key, os.getpid()))

    def retry(self, unit) -> None:
        """A unit whose worker was lost goes back to the queue as a new attempt (its folder is kept: the unit
        resumes from its checkpoint)."""
        with self._write() as db:
            db.execute("UPDATE units SET status = 'queued', attempts = attempts + 1, job = NULL, started = ?, "
                       "heartbeat = ? WHERE key = ?", (time.time(), time.time(), unit.key))

    def heartbeat(self, *units) -> None:
        """Keep the held units alive (a unit that is done or failed is left as it is)."""
        with self._write() as db:
            db.executemany("UPDATE units SET heartbeat = ? WHERE key = ? AND status IN ('queued', 'running')",
                           [(time.time(), u.key) for u in units])

    def finish(self, unit, results: dict, *, environment: dict | None = None, artifacts=(),
               seconds: float | None = None) -> None:
        """Record the unit's results (JSON by advland.io's rule), the seconds the worker computed and the
        checksums of its artifact files (paths relative to ``artifacts_root``)."""
        text = _results_text(results)
        digests = [(str(Path(p)), sha256_file(self.artifacts_root / p)) for p in artifacts]
        with self._write() as db:
            db.execute("UPDATE units SET status = 'done', finished = ?, results = ?, results_sha256 = ?, "
                       "environment = ?, error = NULL, seconds = ? WHERE key = ?",
                       (time.time(), text, _sha256_text(text), dumps(environment or {}, indent=None), seconds,
                        unit.key))
            db.executemany("INSERT OR REPLACE INTO artifacts (key, path, sha256) VALUES (?, ?, ?)",
                           [(unit.key, p, d) for p, d in digests])

    def fail(self, unit, error: str, *, seconds: float | None = None) -> None:
        """Record that the unit raised, or was lost or interrupted (``error`` holds the traceback or the cause)."""
        with self._write() as db:
            db.execute("UPDATE units SET status = 'failed', finished = ?, error = ?, seconds = ? WHERE key = ?",
                       (time.time(), error, seconds, unit.key))

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
