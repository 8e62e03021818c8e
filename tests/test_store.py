"""advland.claims.jobs.store: finished units are reused, untrustworthy rows are recomputed, concurrent
processes never start the same unit twice."""
import hashlib
import json
import multiprocessing as mp
import os
import sqlite3
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from advland.claims.jobs.store import Store, StoreError, default_store_path


@dataclass(frozen=True)
class FakeUnit:
    """The part of the unit protocol the store relies on: key, kind, params, version."""

    kind: str
    params: dict = field(default_factory=dict)
    version: str = "1"

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps([self.kind, self.params, self.version], sort_keys=True).encode()).hexdigest()[:16]


def test_done_results_are_reused_and_survive_reopening(tmp_path):
    u = FakeUnit("k", {"eps": 0.1})
    with Store(tmp_path / "s.sqlite") as s:
        assert s.results(u) is None and s.try_start(u)
        s.finish(u, {"lam": [1.0, float("nan")]}, environment={"seed": 0})
    with Store(tmp_path / "s.sqlite") as s:
        assert s.results(u) == {"lam": [1.0, "nan"]}
        assert not s.try_start(u)            # done and trusted: nothing to compute
        assert s.row(u.key).status == "done" and s.row(u.key).attempts == 1


def test_other_code_version_or_tampered_results_are_recomputed(tmp_path):
    u = FakeUnit("k")
    with Store(tmp_path / "s.sqlite") as s:
        s.try_start(u)
        s.finish(u, {"x": 1})
        assert s.results(FakeUnit("k", version="2")) is None
        s.db.execute("UPDATE units SET results = ? WHERE key = ?", ('{"x": 2}', u.key))
        assert s.results(u) is None and s.try_start(u)
        assert s.row(u.key).attempts == 2


def test_changed_artifact_invalidates_the_row(tmp_path):
    u = FakeUnit("k")
    with Store(tmp_path / "s.sqlite") as s:
        s.try_start(u)
        d = s.unit_dir(u)
        d.mkdir(parents=True)
        (d / "model.pt").write_bytes(b"weights")
        s.finish(u, {"x": 1}, artifacts=[f"{u.key}/model.pt"])
        assert s.results(u) == {"x": 1}
        (d / "model.pt").write_bytes(b"other")
        assert s.results(u) is None


def test_a_live_unit_elsewhere_is_not_started_and_a_stale_one_is(tmp_path):
    u = FakeUnit("k")
    with Store(tmp_path / "s.sqlite") as s:
        s.try_start(u)
        s.db.execute("UPDATE units SET pid = ? WHERE key = ?", (os.getppid(), u.key))   # a live process, not us
        assert not s.try_start(u)
        assert s.try_start(u, now=s.row(u.key).heartbeat + 10_000)


def _dead_pid() -> int:
    ctx = mp.get_context("spawn")
    p = ctx.Process(target=os.getpid)
    p.start()
    p.join()
    return p.pid


@pytest.mark.slow
def test_a_driver_gone_from_this_host_holds_nothing_whatever_its_heartbeat(tmp_path):
    u = FakeUnit("k")
    with Store(tmp_path / "s.sqlite") as s:
        s.try_start(u, status="queued")
        s.db.execute("UPDATE units SET pid = ? WHERE key = ?", (_dead_pid(), u.key))
        assert not s.row(u.key).alive() and s.try_start(u)
        s.db.execute("UPDATE units SET pid = ?, host = 'another-host' WHERE key = ?", (_dead_pid(), u.key))
        assert s.row(u.key).alive() and not s.try_start(u)      # elsewhere only the heartbeat tells


def test_a_job_left_by_a_stopped_driver_is_adopted_not_started_again(tmp_path):
    u = FakeUnit("k")
    with Store(tmp_path / "s.sqlite") as s:
        assert s.try_start(u, status="queued")
        s.launched(u, "slurm:42_1", "running")
        s.db.execute("UPDATE units SET heartbeat = 0 WHERE key = ?", (u.key,))      # its driver went away
        assert not s.try_adopt(u, "slurm:42_2")                                   # not that job
        assert not s.try_adopt(SimpleNamespace(key=u.key, version="2"), "slurm:42_1")   # other code
        assert s.try_adopt(u, "slurm:42_1")
        r = s.row(u.key)
        assert (r.status, r.job, r.attempts, r.pid) == ("running", "slurm:42_1", 1, os.getpid()) and r.alive()
        s.retry(u)
        r = s.row(u.key)
        assert (r.status, r.job, r.attempts) == ("queued", None, 2)
        s.finish(u, {"x": 1}, seconds=3.5)
        assert s.row(u.key).seconds == 3.5 and [x.key for x in s.rows("done")] == [u.key]
        s.heartbeat(u)
        assert s.row(u.key).status == "done"


def test_a_store_written_before_jobs_were_kept_gains_the_columns(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""CREATE TABLE units (key TEXT PRIMARY KEY, kind TEXT NOT NULL, spec TEXT NOT NULL,
        version TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, host TEXT, pid INTEGER,
        started REAL, heartbeat REAL, finished REAL, results TEXT, results_sha256 TEXT, environment TEXT,
        error TEXT);
        INSERT INTO units VALUES ('a', 'k', '{}', '1', 'done', 1, 'h', 1, 1.0, 1.0, 2.0,
            '{"x": 1}', '%s', '{}', NULL);""" % hashlib.sha256(b'{"x": 1}').hexdigest())
    db.close()
    with Store(path) as s:
        r = s.row("a")
        assert (r.status, r.job, r.seconds) == ("done", None, None)
        assert s.results(SimpleNamespace(key="a", version="1")) == {"x": 1}
        u = FakeUnit("new")
        s.try_start(u, status="queued")
        s.launched(u, "ray:abc", "queued")
        assert s.row(u.key).job == "ray:abc"


def test_failures_are_recorded_and_pruned(tmp_path):
    u, v = FakeUnit("a"), FakeUnit("b")
    with Store(tmp_path / "s.sqlite") as s:
        s.try_start(u)
        s.fail(u, "Traceback ... ValueError: NaN loss")
        s.try_start(v)
        s.finish(v, {})
        assert [r.key for r in s.rows("failed")] == [u.key] and "NaN" in s.row(u.key).error
        assert s.prune(status="failed") == 1 and s.row(u.key) is None and s.row(v.key) is not None


def _race(path, key_params, barrier, out):
    barrier.wait()
    with Store(path) as s:
        out.put(s.try_start(FakeUnit("race", key_params)))


@pytest.mark.slow
def test_two_processes_never_start_the_same_unit(tmp_path):
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(3), ctx.Queue()
    path = tmp_path / "s.sqlite"
    with Store(path):
        pass
    procs = [ctx.Process(target=_race, args=(path, {"n": 1}, barrier, out)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert sorted(out.get(timeout=5) for _ in procs) == [False, False, True]


def test_a_file_that_is_not_a_store_is_a_clear_error(tmp_path):
    bad = tmp_path / "s.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot be used"):
        with Store(bad):
            pass


def test_default_location_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVLAND_STORE", str(tmp_path / "x.sqlite"))
    assert default_store_path() == tmp_path / "x.sqlite"
    monkeypatch.delenv("ADVLAND_STORE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_store_path() == tmp_path / "cache" / "advland" / "store.sqlite"


def test_the_file_is_a_wal_database(tmp_path):
    with Store(tmp_path / "s.sqlite"):
        pass
    assert sqlite3.connect(tmp_path / "s.sqlite").execute("PRAGMA journal_mode").fetchone()[0] == "wal"
