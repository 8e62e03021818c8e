"""advland.claims.jobs.store: finished units are reused, untrustworthy rows are recomputed, concurrent
processes never start the same unit twice."""
import hashlib
import json
import multiprocessing as mp
import os
import sqlite3
from dataclasses import dataclass, field

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
        s.db.execute("UPDATE units SET pid = ? WHERE key = ?", (os.getpid() + 1, u.key))
        assert not s.try_start(u)
        assert s.try_start(u, now=s.row(u.key).heartbeat + 10_000)


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
