"""The claim model, the counterexample search, selection and the runner: properties, not examples."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from advland.claims.model import Check, Context, Outcome, Quantity, Verdict, worst
from advland.claims.registry import ClaimError, claim, load_claims_file, select
from advland.claims.runner import run_claim
from advland.claims.search import search_counterexample

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
    assert o.verdict is Verdict.REFUTED and o.counterexample == {"check": "bad", "x": 1}
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
