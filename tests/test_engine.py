"""The claim model (checks, units, the staged protocol), the counterexample search, selection and the runner:
properties, not examples."""
import importlib
import json
import math
import pkgutil
import sys
import traceback

import numpy as np
import pytest
from hypothesis import given, strategies as st

from advland.claims import papers
from advland.claims.model import Check, Context, Outcome, Quantity, Unit, Verdict, kind_of, unit_kind, worst
from advland.claims.registry import BUILTIN_MODULES, ClaimError, all_claims, claim, claims_of, load_claims_file, select
from advland.claims.runner import evaluate, execute, run_claim, run_claims
from advland.claims.search import (SearchError, SearchResult, digit_arrays, isolated_from_local_constants,
                                   search_counterexample)
from advland.io import dumps

verdicts = st.sampled_from(list(Verdict))
reals = st.floats(-1e6, 1e6, allow_nan=False)


@given(st.lists(verdicts, min_size=1))
def test_worst_is_most_severe_and_order_free(vs):
    w = worst(vs)
    assert w in vs
    assert worst(list(reversed(vs))) == w
    if Verdict.ERROR in vs:
        assert w is Verdict.ERROR
    elif Verdict.REFUTED in vs:
        assert w is Verdict.REFUTED
    if w is Verdict.SKIPPED:
        assert set(vs) == {Verdict.SKIPPED}


def test_no_verdicts_is_skipped():
    assert worst([]) is Verdict.SKIPPED


@given(reals, reals, st.floats(0, 10))
def test_quantity_relations_are_consistent(v, b, tol):
    le = Quantity("q", v, bound=b, relation="<=", tolerance=tol).holds
    ge = Quantity("q", v, bound=b, relation=">=", tolerance=tol).holds
    assert le == (v <= b + tol) and ge == (v >= b - tol)
    assert le or ge  # some side always holds
    assert Quantity("q", v, bound=b, relation="==", tolerance=tol).holds == (le and ge)


@pytest.mark.parametrize("rel", ["<=", ">=", "==", "<", ">"])
def test_nan_never_holds(rel):
    assert Quantity("q", math.nan, bound=0.0, relation=rel, tolerance=1.0).holds is False


def test_quantity_needs_bound_and_relation_together():
    with pytest.raises(ValueError):
        Quantity("q", 1.0, bound=2.0)
    with pytest.raises(ValueError):
        Quantity("q", 1.0, bound=2.0, relation="~")


def test_check_keys_are_slugs_defaulting_to_the_name():
    assert Check("Bullet 2 as written (V_ε ≤ 0)", Verdict.CONFIRMED).key == "bullet-2-as-written-v-0"
    assert Check("shown title", Verdict.CONFIRMED, key="literal-bullet-2").as_dict()["key"] == "literal-bullet-2"
    for bad in ("Upper", "two--hyphens", "-lead", "space here", "ünï"):
        with pytest.raises(ValueError, match="slug"):
            Check("c", Verdict.CONFIRMED, key=bad)


def test_check_keys_are_unique_within_an_outcome_and_select_checks():
    a, b = Check("first", Verdict.CONFIRMED, key="a"), Check("second", Verdict.REFUTED, {}, key="b")
    out = Outcome("s", [a, b])
    assert out.check("b") is b
    with pytest.raises(KeyError, match="a, b"):
        out.check("c")
    with pytest.raises(ValueError, match="repeated: a"):
        Outcome("s", [a, Check("other title", Verdict.CONFIRMED, key="a")])


def test_check_from_quantities_refutes_and_names_failure():
    qs = [Quantity("a", 1.0, bound=2.0, relation="<="), Quantity("b", 3.0, bound=2.0, relation="<=")]
    c = Check.from_quantities("c", qs)
    assert c.verdict is Verdict.REFUTED and c.counterexample["violated"]["name"] == "b"
    assert Check.from_quantities("c", qs[:1]).verdict is Verdict.CONFIRMED
    with pytest.raises(ValueError):
        Check.from_quantities("c", [Quantity("info", 1.0)])  # nothing decides it


def test_outcome_verdict_is_aggregated_and_counterexample_comes_from_refuting_check():
    ok = Check("ok", Verdict.CONFIRMED)
    bad = Check("bad", Verdict.REFUTED, counterexample={"x": 1})
    o = Outcome("s", [ok, bad])
    assert o.verdict is Verdict.REFUTED and o.counterexample == {"check": "bad", "check_key": "bad", "x": 1}
    assert Outcome("s", [ok]).counterexample is None


def test_search_refutes_false_inequality_and_shrinks():
    # x^2 >= x is false on (0, 1): the search must find a violation, with the seed recorded.
    r = search_counterexample(st.floats(-10, 10), lambda x: x * x - x, seed=3, max_examples=200)
    assert r.found and 0 < r.counterexample < 1 and r.counterexample_slack < 0
    chk = r.to_check("x^2 >= x")
    assert chk.verdict is Verdict.REFUTED and chk.counterexample["seed"] == 3


def test_search_confirms_true_inequality():
    r = search_counterexample(st.floats(-10, 10), lambda x: (x - 1) ** 2, seed=0, max_examples=100)
    assert not r.found and r.n_examples > 0 and r.min_slack >= 0
    assert r.to_check("(x-1)^2 >= 0").verdict is Verdict.CONFIRMED


def test_search_is_deterministic_for_a_seed():
    run = lambda: search_counterexample(st.floats(-10, 10), lambda x: 0.5 - abs(x - 3.7), seed=11,
                                        max_examples=100)
    a, b = run(), run()
    assert a.found and a.counterexample == b.counterexample and a.n_examples == b.n_examples


def test_nan_slack_is_a_counterexample():
    r = search_counterexample(st.just(1.0), lambda x: math.nan, seed=0, max_examples=5)
    assert r.found


def test_context_rng_depends_on_seed_and_name_only():
    a, b = Context(seed=1), Context(seed=1, scale="smoke")
    assert np.array_equal(a.rng("x").normal(size=3), b.rng("x").normal(size=3))
    assert not np.array_equal(a.rng("x").normal(size=3), a.rng("y").normal(size=3))
    assert not np.array_equal(a.rng("x").normal(size=3), Context(seed=2).rng("x").normal(size=3))


def test_context_pick_falls_back_to_smaller_scale():
    assert Context(scale="gpu").pick(smoke=1, cpu=2) == 2
    assert Context(scale="smoke").pick(smoke=1, cpu=2) == 1
    with pytest.raises(ValueError):
        Context(scale="huge")


def _claim(id_, tags=("theory",), check=None):
    return claim(id_, where="w", statement="s", formula="f", tags=tags)(
        check or (lambda ctx: Outcome("ok", [Check("c", Verdict.CONFIRMED)])))


def test_select_by_id_glob_and_tag():
    cs = [_claim("a.one"), _claim("a.two", tags=("empirical",)), _claim("b.one")]
    assert [c.id for c in select(cs, ["a.*"])] == ["a.one", "a.two"]
    assert [c.id for c in select(cs, ["empirical"])] == ["a.two"]
    assert [c.id for c in select(cs, ["b"])] == ["b.one"]  # the paper key is a tag
    assert [c.id for c in select(cs, ["b.one", "a.one"])] == ["a.one", "b.one"]
    assert select(cs, []) == cs
    with pytest.raises(ClaimError, match="matches no claim"):
        select(cs, ["c.*"])


def test_bad_claim_id_rejected():
    with pytest.raises(ClaimError):
        _claim("NoDot")


@pytest.mark.parametrize("body, message", [
    ("def broken(:\n", "failed to import"),
    ("x = 1\n", "declares no claim"),
    ("raise RuntimeError('boom')\n", "RuntimeError: boom"),
])
def test_broken_claim_files_are_reported(tmp_path, body, message):
    f = tmp_path / "c.py"
    f.write_text(body)
    with pytest.raises(ClaimError, match=message):
        load_claims_file(f)
    with pytest.raises(ClaimError, match="does not exist"):
        load_claims_file(tmp_path / "missing.py")


def test_runner_turns_exceptions_and_bad_returns_into_error():
    boom = _claim("x.boom", check=lambda ctx: 1 / 0)
    r = run_claim(boom, Context(scale="smoke"))
    assert r.verdict is Verdict.ERROR and "ZeroDivisionError" in r.outcome.summary
    assert r.outcome.details["traceback"].startswith("Traceback (most recent call last)")
    wrong = _claim("x.wrong", check=lambda ctx: "confirmed")
    assert run_claim(wrong, Context()).verdict is Verdict.ERROR
    empty = _claim("x.empty", check=lambda ctx: Outcome("nothing", []))
    assert run_claim(empty, Context()).verdict is Verdict.ERROR


def test_vacuous_examples_are_counted_apart_and_too_few_is_inconclusive():
    # "x >= 0 implies x^2 >= x*x": only x >= 0 meets the hypothesis; the rest are vacuous (None)
    stmt = lambda x: None if x < 0 else x * x - x * x
    r = search_counterexample(st.floats(-10, 10), stmt, seed=0, max_examples=100)
    assert not r.found and 0 < r.n_vacuous < r.n_examples
    chk = r.to_check("s", min_cases=1)
    assert chk.verdict is Verdict.CONFIRMED and chk.evidence[0].value == r.n_examples - r.n_vacuous
    assert r.to_check("s", min_cases=r.n_examples + 1).verdict is Verdict.INCONCLUSIVE
    never = search_counterexample(st.floats(-10, 10), lambda x: None, seed=0, max_examples=50)
    assert never.n_vacuous == never.n_examples and never.to_check("s").verdict is Verdict.INCONCLUSIVE


def test_search_result_survives_json():
    """A search as a unit stores ``as_dict``; the check decided from the stored dict is the same, infinities too."""
    found = search_counterexample(st.floats(-10, 10), lambda x: x * x - x, seed=3, max_examples=100)
    vacuous = search_counterexample(st.floats(-10, 10), lambda x: None, seed=0, max_examples=20)
    for r in (found, vacuous):
        back = SearchResult.from_dict(json.loads(dumps(r.as_dict())))
        assert back.to_check("c", key="k").as_dict() == r.to_check("c", key="k").as_dict()
    assert vacuous.min_slack == math.inf and json.loads(dumps(vacuous.as_dict()))["min_slack"] == "inf"


# ---- units ----

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
                           max_leaves=8)


@given(st.dictionaries(st.text(), json_values, max_size=4))
def test_unit_key_is_the_hash_of_the_canonical_json(params):
    u = Unit("t.kind", params)
    assert len(u.key) == 16 and set(u.key) <= set("0123456789abcdef")
    assert Unit("t.kind", dict(reversed(list(params.items())))).key == u.key   # key order is irrelevant
    assert Unit("t.kind", json.loads(dumps(params))).key == u.key              # so is a trip through JSON
    assert Unit("t.other", params).key != u.key and Unit("t.kind", params, version="2").key != u.key
    assert Unit("t.kind", {**params, "extra-param": 1}).key != u.key


def test_unit_params_follow_the_json_rule_and_are_validated():
    u = Unit("t.kind", {"p": np.inf, "n": np.int64(3), "grid": (0.5, np.float64(1.0))})
    assert dict(u.params) == {"p": "inf", "n": 3, "grid": [0.5, 1.0]}
    assert u == Unit("t.kind", {"grid": [0.5, 1.0], "n": 3, "p": "inf"}) and len({u, Unit("t.kind", u.params)}) == 1
    assert u.describe() == {"kind": "t.kind", "version": "1", "key": u.key, "params": dict(u.params)}
    with pytest.raises(ValueError, match="JSON"):
        Unit("t.kind", {"f": lambda: 1})
    with pytest.raises(ValueError, match="paperkey.name"):
        Unit("NoDot", {})
    with pytest.raises(TypeError):
        u.params["n"] = 4
    assert u.with_params(n=4).params["n"] == 4 and u.params["n"] == 3
    with pytest.raises(ValueError, match="no parameter nn"):
        u.with_params(nn=4)


@unit_kind("t.engine-square", version="3")
def _square(*, x: float, power: int = 2) -> dict:
    return {"value": x ** power, "array": np.arange(2) * x, "inf": math.inf}


def test_unit_kind_fills_defaults_validates_and_computes_json_numbers():
    u = _square.unit(x=3.0)
    assert dict(u.params) == {"x": 3.0, "power": 2} and u.version == "3"
    assert u.key == _square.unit(x=3.0, power=2).key   # a default given or filled in: the same unit
    for bad in (dict(), dict(x=1.0, y=2)):
        with pytest.raises(ValueError, match="t.engine-square"):
            _square.unit(**bad)
    assert kind_of(u) is _square and execute(u) == {"value": 9.0, "array": [0.0, 3.0], "inf": "inf"}
    with pytest.raises(KeyError, match="version"):
        kind_of(Unit("t.engine-square", u.params, version="1"))
    with pytest.raises(KeyError, match="no unit kind"):
        kind_of(Unit("t.unknown", {}))
    with pytest.raises(ValueError, match="registered twice"):
        unit_kind("t.engine-square")(lambda *, x: {})


# ---- the staged protocol and the runner ----

_CALLS: list = []   # the inputs t.engine-count computed, in order


@unit_kind("t.engine-count")
def _count(*, x: float) -> dict:
    if x < 0:
        raise ValueError("negative input to the unit")
    _CALLS.append(x)
    return {"x": x}


def _staged(id_, *, fail=None):
    """A claim in stages over the unit kind t.engine-count: plan two units, decide from their sum, plot it;
    ``fail`` names the stage that breaks."""
    def plan(ctx):
        if fail == "plan":
            return "not a list"
        return [_count.unit(x=-1.0 if fail == "compute" else 1.0), _count.unit(x=float(ctx.seed))]

    def decide(ctx, results):
        if fail == "decide":
            raise RuntimeError("decide failed")
        total = sum(results[u.key]["x"] for u in plan(ctx))
        return Outcome("sum", [Check.from_quantities("sum is positive", [Quantity("sum", total, bound=0.0,
                                                                                   relation=">")], key="positive")])

    def plot(ctx, results):
        if fail == "plot":
            raise RuntimeError("plot failed")
        from matplotlib.figure import Figure
        fig = Figure()
        fig.add_subplot().plot([results[u.key]["x"] for u in plan(ctx)])
        return {"values": fig}

    return claim(id_, where="w", statement="s", formula="f")(plan=plan, decide=decide, plot=plot)


def test_staged_claim_plans_executes_decides_and_plots():
    _CALLS.clear()
    c = _staged("t.staged")
    r = run_claim(c, Context(seed=2))
    assert r.verdict is Verdict.CONFIRMED and set(r.outcome.plots) == {"values"}
    assert [u.params["x"] for u in r.units] == [1.0, 2.0] and _CALLS == [1.0, 2.0]
    assert evaluate(c, Context(seed=2)).check("positive").evidence[0].value == 3.0


def test_runner_computes_a_unit_shared_by_claims_once():
    _CALLS.clear()
    results = run_claims([_staged("t.a"), _staged("t.b")], Context(seed=1))   # each plans x=1.0 twice: computed once
    assert [r.verdict for r in results] == [Verdict.CONFIRMED] * 2 and _CALLS == [1.0]


@pytest.mark.parametrize("fail, message", [("plan", "list of Unit"), ("decide", "decide failed"),
                                           ("plot", "plot failed"), ("compute", "negative input to the unit")])
def test_a_failure_in_any_stage_is_an_error_with_the_whole_traceback(fail, message):
    r = run_claim(_staged("t.fails", fail=fail), Context(seed=1))
    assert r.verdict is Verdict.ERROR and message in r.outcome.summary
    tb = r.outcome.details["traceback"]
    assert tb.startswith("Traceback (most recent call last)") and message in tb
    # the outermost frame is kept, not only the last lines (a unit's traceback starts where the executor called it)
    outermost = {"plan": "run_claims", "decide": "_finish", "plot": "_finish", "compute": "execute"}[fail]
    assert outermost in tb


def test_a_claim_is_either_a_check_or_stages():
    stage = dict(where="w", statement="s", formula="f")
    with pytest.raises(ClaimError, match="plan and decide"):
        claim("t.half", **stage)(plan=lambda ctx: [])
    with pytest.raises(ClaimError, match="not both"):
        claim("t.both", **stage)(lambda ctx: None, plan=lambda ctx: [])


def test_every_claim_module_under_papers_is_built_in():
    """A claim file added under papers/ must be listed in BUILTIN_MODULES (which fixes the report order)."""
    declaring = set()
    for info in pkgutil.walk_packages(papers.__path__, papers.__name__ + "."):
        if claims_of(importlib.import_module(info.name)):
            declaring.add(info.name)
    listed = {importlib.import_module(m, "advland.claims").__name__ for m in BUILTIN_MODULES}
    assert declaring == listed
    ids = [c.id for c in all_claims()]
    assert len(ids) == len(set(ids)) >= 5


# ---- what a verdict rests on; the claim API (issue 8) ----

def test_every_builtin_claim_says_what_its_statement_rests_on():
    """The paper's text ('(verified text)') or our reading of it: shown in claims.json and the report."""
    for c in all_claims():
        if "theory" in c.tags:
            assert "(verified text)" in c.source or c.source.startswith("our reading"), (c.id, c.source)
        assert c.describe()["source"] == c.source
    assert _claim("t.no-source").describe()["source"] == ""


def test_the_report_shows_the_source():
    from advland.claims.report import document, render_html, render_markdown
    from advland.claims.runner import Result

    c = claim("t.sourced", where="w", statement="s", formula="f", source="our reading: a test")(
        lambda ctx: Outcome("ok", [Check("c", Verdict.CONFIRMED)]))
    env = {"seed": 0, "scale": "smoke", "versions": {}, "device": {}, "git": {}}
    doc = document([Result(c, c.decide(Context(), {}), 0.0)], env)
    assert doc["claims"][0]["source"] == "our reading: a test"
    assert "our reading: a test" in render_markdown(doc) and "our reading: a test" in render_html(doc, {})


@pytest.mark.parametrize("bad, hint", [("Mine.Adv", "did you mean 'mine.adv'?"), ("mine", ""), ("mine.a b", "")])
def test_a_claim_id_error_states_the_rule(bad, hint):
    with pytest.raises(ClaimError, match="lower case") as err:
        _claim(bad)
    assert "e.g. 'mine.adv-geq-clean'" in str(err.value) and hint in str(err.value)


def test_strict_relations_are_strict_at_zero_tolerance_only():
    for rel in ("<", ">"):
        assert Quantity("q", 0.0, bound=0.0, relation=rel).holds is False
        assert Quantity("q", 0.0, bound=0.0, relation=rel, tolerance=1e-9).holds is True
    assert Quantity("q", -1e-12, bound=0.0, relation="<").holds is True
    assert Quantity("q", math.inf, bound=0.0, relation=">").holds is False  # a non-finite value never holds
    assert "strict only at t = 0" in Quantity.__doc__


def test_an_unsolved_program_or_an_unmet_premise_is_inconclusive_and_skip_never_decides():
    q = [Quantity("gap", -1.0, bound=0.0, relation=">=")]          # would refute
    unsolved = Check.from_quantities("c", q, solvers=[("SCS: optimal_inaccurate", False), ("CLARABEL", True)])
    assert unsolved.verdict is Verdict.INCONCLUSIVE and "SCS: optimal_inaccurate" in unsolved.note
    assert Check.from_quantities("c", [], solvers=[("SCS: infeasible", False)]).verdict is Verdict.INCONCLUSIVE
    premise = Quantity("margin − ε", -0.1, bound=0.0, relation=">=")
    unmet = Check.from_quantities("c", q, premises=[premise])
    assert unmet.verdict is Verdict.INCONCLUSIVE and "hypothesis is not met: margin − ε" in unmet.note
    assert unmet.evidence[0] is premise
    met = Check.from_quantities("c", q, premises=[Quantity("margin − ε", 0.1, bound=0.0, relation=">=")])
    assert met.verdict is Verdict.REFUTED
    with pytest.raises(ValueError, match="premise"):
        Check.from_quantities("c", q, premises=[Quantity("info only", 1.0)])
    skip = Check.skip("needs MNIST", "files missing", key="mnist")
    assert skip.verdict is Verdict.SKIPPED and skip.note == "files missing"
    assert Outcome("s", [skip, Check("c", Verdict.CONFIRMED)]).verdict is Verdict.CONFIRMED


def test_a_refuted_search_shows_the_decoded_problem_and_no_failing_count():
    """A search stops at its first violation: the count of examples is information, not a failed requirement, and
    the counterexample is the decoded problem with the draw beside it."""
    r = search_counterexample(st.integers(0, 1000), lambda code: 5 - code % 7, seed=0, max_examples=100,
                              decode=lambda code: {"a": code % 7, "b": code // 7})
    assert r.found and r.counterexample == {"a": r.draw % 7, "b": r.draw // 7} and r.counterexample["a"] == 6
    chk = r.to_check("code % 7 <= 5")
    assert [q.name for q in chk.evidence if q.holds is False] == ["slack of the counterexample (rhs - lhs)"]
    assert chk.counterexample["example"] == r.counterexample and chk.counterexample["draw"] == r.draw
    assert SearchResult.from_dict(json.loads(dumps(r.as_dict()))).to_check("c").as_dict() == r.to_check("c").as_dict()


def _failing_helper(x):
    raise ValueError(f"boom at {x}")


def test_an_error_inside_a_search_keeps_its_whole_traceback():
    """The slack raising inside hypothesis: a SearchError naming the error and the example, chained to the original
    (whose frames, down to the helper that raised, are kept); a unit running the search reports that message."""
    with pytest.raises(SearchError, match=r"ValueError: boom at .* on the example \{'v': ") as err:
        search_counterexample(st.integers(0, 10), _failing_helper, seed=0, max_examples=5, decode=lambda x: {"v": x})
    assert isinstance(err.value.__cause__, ValueError)
    text = "".join(traceback.format_exception(err.value))
    assert "_failing_helper" in text and "raise ValueError" in text
    assert "SearchError: the slack raised:" in text
    assert text.strip().splitlines()[-1].startswith("the search (seed 0) raised ValueError: boom at")

    r = run_claim(_searching_claim("t.search-raises"), Context())
    assert r.verdict is Verdict.ERROR and "ValueError: boom at" in r.outcome.summary
    assert "_failing_helper" in r.outcome.details["traceback"]


@unit_kind("t.engine-search-raises")
def _search_unit(*, seed: int) -> dict:
    return search_counterexample(st.integers(0, 10), _failing_helper, seed=seed, max_examples=5).as_dict()


def _searching_claim(id_):
    unit = _search_unit.unit(seed=0)
    return claim(id_, where="w", statement="s", formula="f")(
        plan=lambda ctx: [unit],
        decide=lambda ctx, results: Outcome("s", [SearchResult.from_dict(results[unit.key]).to_check("c")]))


def test_digit_arrays_shrink_to_a_minimal_array():
    """One integer per array: a violation 'some entry >= 2' shrinks to a single 2 among zeros."""
    r = search_counterexample(digit_arrays((2, 3)), lambda a: 1.5 - a.max(), seed=0, max_examples=200)
    assert r.found and sorted(np.ravel(r.counterexample).tolist()) == [0, 0, 0, 0, 0, 2]
    with pytest.raises(ValueError, match="base"):
        digit_arrays(3, base=1)


@given(st.data(), st.integers(1, 4), st.integers(2, 9))
def test_digit_arrays_are_centred_on_zero(data, size, base):
    v = data.draw(digit_arrays((size, 2), base=base))
    assert v.shape == (size, 2) and v.min() >= -(base // 2) and v.max() <= base - 1 - base // 2


LITERALS = "VALUES = [" + ", ".join(f"{0.001 * k:.3f}, {k + 7}" for k in range(1, 400)) + "]\n"


def _search_numbers():
    """Every value a search drew, and its result."""
    drawn = []

    def slack(c):
        drawn.append(c)
        return 1.0 + abs(c[0] - 0.1234567) + c[1]

    r = search_counterexample(st.tuples(st.floats(0, 1), st.integers(0, 1000)), slack, seed=7, max_examples=300)
    return drawn, r.n_examples, r.min_slack


def test_a_search_is_independent_of_the_local_modules_loaded(tmp_path, monkeypatch):
    """Hypothesis mixes constants of every loaded local module into its draws; a search must not: importing a local
    module full of float literals in the search's range leaves its numbers unchanged."""
    before = _search_numbers()
    (tmp_path / "advland_test_many_literals.py").write_text(LITERALS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "advland_test_many_literals", raising=False)
    importlib.import_module("advland_test_many_literals")
    try:
        assert _search_numbers() == before
    finally:
        sys.modules.pop("advland_test_many_literals", None)


def test_the_isolation_restores_hypothesis():
    from hypothesis.internal.conjecture import providers

    original = providers._get_local_constants
    with isolated_from_local_constants() as isolated:
        assert isolated and len(providers._get_local_constants().floats) == 0
    assert providers._get_local_constants is original


@pytest.mark.parametrize("kind, error_type, verdict", [
    ("empirical.train", "RuntimeError", Verdict.INCONCLUSIVE),   # a training run that raised: a failed experiment
    ("t.closed-form", "WorkerLost", Verdict.INCONCLUSIVE),       # the worker died on every attempt
    ("t.closed-form", "ValueError", Verdict.ERROR),              # a computation of the check raised: a defect
    ("t.closed-form", "DataError", Verdict.SKIPPED),             # missing data: the fix is named
])
def test_a_failed_unit_is_named_and_judged_by_what_failed(kind, error_type, verdict):
    from advland.claims.jobs.driver import UnitOutcome
    from advland.claims.runner import unit_failure_outcome

    unit = Unit(kind, {"x": 1})
    out = unit_failure_outcome([UnitOutcome(unit, error=f"Traceback ...\n{error_type}: it went wrong",
                                            error_type=error_type)])
    assert out.verdict is verdict and "it went wrong" in out.summary
    if verdict is not Verdict.SKIPPED:
        assert unit.key in out.summary and error_type in out.details["traceback"]
