"""advland.claims.jobs.local with the store: finished units are reused, a pool of worker processes gives the same
numbers as the driver alone, failures and missing data reach the claims honestly."""
import textwrap

import pytest

from advland.claims.jobs.context import current
from advland.claims.jobs.local import LocalExecutor
from advland.claims.jobs.store import Store
from advland.claims.model import Context, Verdict
from advland.claims.registry import load_claims_file
from advland.claims.runner import run_claims

CLAIMS = textwrap.dedent('''
    from pathlib import Path

    from advland.claims import Check, Outcome, claim, unit_kind
    from advland.claims.jobs.context import current
    from advland.claims.model import Verdict
    from advland.empirical.data import DataError


    @unit_kind("empirical.t-square")   # "empirical." kinds go to worker processes
    def square(*, x: float = 1.0, log: str = "") -> dict:
        if log:
            with open(log, "a") as f:
                f.write(f"{x}\\n")
        if x < 0:
            raise ValueError("negative x")
        if x == 99:
            raise DataError("mnist/t10k-images-idx3-ubyte.gz is missing; run `advland data fetch mnist`")
        return {"y": x * x, "workdir": bool(current().workdir)}


    def _plan(xs):
        return lambda ctx: [square.unit(x=x, log=str(Path(__file__).with_name("calls.log"))) for x in xs]


    def _decide(ctx, results):
        ys = sorted(r["y"] for r in results.values())
        return Outcome(f"squares {ys}", [Check("non-negative", Verdict.CONFIRMED if min(ys) >= 0
                                               else Verdict.REFUTED, key="non-negative")])


    good = claim("t.good", where="w", statement="s", formula="f")(plan=_plan([1.0, 2.0, 3.0]), decide=_decide)
    shared = claim("t.shared", where="w", statement="s", formula="f")(plan=_plan([2.0]), decide=_decide)
    broken = claim("t.broken", where="w", statement="s", formula="f")(plan=_plan([-1.0]), decide=_decide)
    nodata = claim("t.nodata", where="w", statement="s", formula="f")(plan=_plan([99.0]), decide=_decide)
''')


@pytest.fixture
def claims_file(tmp_path):
    path = tmp_path / "claims.py"
    path.write_text(CLAIMS)
    return path


def _calls(claims_file):
    log = claims_file.with_name("calls.log")
    return sorted(float(x) for x in log.read_text().split()) if log.exists() else []


def test_a_second_run_reuses_every_finished_unit(claims_file, tmp_path):
    claims = load_claims_file(claims_file)
    with Store(tmp_path / "store.sqlite") as store:
        first = run_claims(claims, Context(scale="smoke"), executor=LocalExecutor(store))
        assert _calls(claims_file) == [-1.0, 1.0, 2.0, 3.0, 99.0]       # 2.0 shared by two claims: once
        second = run_claims(claims, Context(scale="smoke"), executor=LocalExecutor(store))
    assert _calls(claims_file) == [-1.0, -1.0, 1.0, 2.0, 3.0, 99.0, 99.0]   # only the failed units again
    assert [r.verdict for r in first] == [r.verdict for r in second]
    # the raising unit is of an experiment kind ("empirical."): its claim has no evidence, inconclusive
    assert [r.verdict for r in first] == [Verdict.CONFIRMED, Verdict.CONFIRMED, Verdict.INCONCLUSIVE, Verdict.SKIPPED]


def test_other_code_is_recomputed_in_a_clean_work_folder(claims_file, tmp_path):
    claims = load_claims_file(claims_file)[:1]
    with Store(tmp_path / "store.sqlite") as store:
        run_claims(claims, Context(), executor=LocalExecutor(store, fingerprint="a"))
        run_claims(claims, Context(), executor=LocalExecutor(store, fingerprint="a"))
        assert _calls(claims_file) == [1.0, 2.0, 3.0]
        leftover = store.unit_dir(claims[0].plan(Context())[0]) / "checkpoint.pt"
        leftover.parent.mkdir(parents=True, exist_ok=True)
        leftover.write_bytes(b"from the old code")
        run_claims(claims, Context(), executor=LocalExecutor(store, fingerprint="b"))
        assert not leftover.exists() and len(store.rows()) == 3
    assert _calls(claims_file) == [1.0, 1.0, 2.0, 2.0, 3.0, 3.0]


def test_failures_name_the_unit_and_missing_data_skips(claims_file, tmp_path):
    broken, nodata = load_claims_file(claims_file)[2:]
    with Store(tmp_path / "store.sqlite") as store:
        rb, rn = run_claims([broken, nodata], Context(), executor=LocalExecutor(store))
        assert [r.status for r in store.rows()] == ["failed", "failed"]
    assert rb.verdict is Verdict.INCONCLUSIVE and "negative x" in rb.outcome.summary
    assert rb.units[0].key in rb.outcome.summary
    assert "ValueError: negative x" in rb.outcome.details["traceback"]
    assert rn.verdict is Verdict.SKIPPED and "advland data fetch mnist" in rn.outcome.summary


@pytest.mark.slow
def test_a_pool_of_workers_gives_the_driver_s_numbers(claims_file, tmp_path):
    claims = load_claims_file(claims_file)[:2]
    with Store(tmp_path / "a.sqlite") as store:
        alone = run_claims(claims, Context(), executor=LocalExecutor(store))
    with Store(tmp_path / "b.sqlite") as store:
        pool = run_claims(claims, Context(), executor=LocalExecutor(store, jobs=2, claim_files=(str(claims_file),),
                                                                    threads=1))
        assert all(r.status == "done" for r in store.rows())
    assert [r.outcome.summary for r in alone] == [r.outcome.summary for r in pool]


def test_a_unit_left_running_by_a_killed_process_is_taken_over(claims_file, tmp_path):
    claims = load_claims_file(claims_file)[1:2]
    executor_units = claims[0].plan(Context())
    with Store(tmp_path / "store.sqlite") as store:
        ex = LocalExecutor(store, fingerprint="f")
        stale = ex.stored(executor_units[0])
        store.try_start(stale, now=0.0)                 # "running" since 1970: its process is gone
        store.db.execute("UPDATE units SET pid = -1")
        (r,) = run_claims(claims, Context(), executor=ex)
        assert r.verdict is Verdict.CONFIRMED and store.row(stale.key).attempts == 2


def test_the_unit_sees_its_work_folder_only_while_it_runs(claims_file, tmp_path):
    claims = load_claims_file(claims_file)[:1]
    with Store(tmp_path / "store.sqlite") as store:
        (r,) = run_claims(claims, Context(), executor=LocalExecutor(store))
        assert all(store.results(LocalExecutor(store).stored(u))["workdir"] for u in r.units)
    assert current().workdir is None


def test_jobs_must_be_positive():
    with pytest.raises(Exception, match="--jobs"):
        LocalExecutor(None, jobs=0)


def test_a_report_from_the_store_computes_nothing(claims_file, tmp_path):
    claims = load_claims_file(claims_file)[:2]
    with Store(tmp_path / "store.sqlite") as store:
        before = run_claims(claims[1:], Context(), executor=LocalExecutor(store))      # t.shared: x = 2 only
        rebuilt = run_claims(claims, Context(), executor=LocalExecutor(store, compute=False))
    assert _calls(claims_file) == [2.0]
    assert rebuilt[1].outcome.summary == before[0].outcome.summary
    assert rebuilt[0].verdict is Verdict.SKIPPED and "advland verify" in rebuilt[0].outcome.summary


def test_verify_then_report_and_runs_from_the_command_line(claims_file, tmp_path, capsys):
    import json

    from advland import cli

    store = str(tmp_path / "store.sqlite")
    common = ["--claims", str(claims_file), "--only", "t.good", "t.shared", "--scale", "smoke", "--store", store,
              "--no-progress"]
    assert cli.main(["verify", *common, "--out", str(tmp_path / "a")]) == cli.EXIT_OK
    assert cli.main(["report", *common, "--out", str(tmp_path / "b")]) == cli.EXIT_OK
    a, b = (json.loads((tmp_path / d / "claims.json").read_text()) for d in "ab")
    assert [c["verdict"] for c in a["claims"]] == [c["verdict"] for c in b["claims"]] == ["confirmed"] * 2
    assert _calls(claims_file) == [1.0, 2.0, 3.0]                 # report computed nothing
    capsys.readouterr()
    assert cli.main(["runs", "--store", store, "--json"]) == cli.EXIT_OK
    assert sorted(r["status"] for r in json.loads(capsys.readouterr().out)) == ["done"] * 3
    assert cli.main(["runs", "--store", store, "--prune", "all"]) == cli.EXIT_OK
    assert "pruned 3" in capsys.readouterr().out


ORDER_CLAIMS = textwrap.dedent('''
    from advland.claims import Check, Outcome, Quantity, claim, unit_kind


    @unit_kind("t.order-unsorted")
    def unsorted(*, n: int = 3) -> dict:
        return {"z": 1.0, "a": {"y": 2.0, "b": 3.0}, "nan": float("nan"), **{f"k{9 - i}": float(i) for i in range(n)}}


    def _decide(ctx, results):
        r = next(iter(results.values()))
        quantities = [Quantity(f"{key}", value, bound=10.0, relation="<=") for key, value in r.items()
                      if isinstance(value, float)]
        return Outcome(f"keys {list(r)}, nested {list(r['a'])}, nan {r['nan']!r}",
                       [Check.from_quantities("values", quantities, key="values")])


    order = claim("t.order", where="w", statement="s", formula="f")(plan=lambda ctx: [unsorted.unit()],
                                                                     decide=_decide)
''')


def test_fresh_and_reused_results_are_decided_alike(tmp_path):
    """Fresh numbers reach the decision in their stored form (keys sorted, non-finite floats as advland.io writes
    them), so a claim's outcome is the same, in the same order, whether its units were computed now or reused."""
    path = tmp_path / "order.py"
    path.write_text(ORDER_CLAIMS)
    claims = load_claims_file(path)
    with Store(tmp_path / "store.sqlite") as store:
        fresh = run_claims(claims, Context(), executor=LocalExecutor(store))[0]
        reused = run_claims(claims, Context(), executor=LocalExecutor(store))[0]
    assert fresh.outcome.summary == reused.outcome.summary
    assert fresh.outcome.summary.startswith("keys ['a', 'k7', 'k8', 'k9', 'nan', 'z'], nested ['b', 'y']")
    assert [q.name for q in fresh.outcome.checks[0].evidence] == [q.name for q in reused.outcome.checks[0].evidence]
