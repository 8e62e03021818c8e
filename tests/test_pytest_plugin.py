"""The pytest plugin (``pytest --advland``): each verdict's pytest outcome, expected verdicts, selection with -k,
JUnit XML, claims only unless paths are given, the report of ``advland verify``, pytest-xdist; and ``expect=``."""
import json
import xml.etree.ElementTree as ET

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from advland import cli
from advland import pytest_plugin as P
from advland.claims.model import SCALES, Check, Context, Outcome, Quantity, Verdict
from advland.claims.registry import EXPECTABLE, ClaimError, all_claims, claim
from advland.claims.report import SCHEMA_PATH, document, render_html, render_markdown
from advland.claims.runner import run_claim

pytest_plugins = ["pytester"]

# pytester's inline runs unload the modules a run imported first, and numpy's extension modules cannot be loaded
# twice in one process: what a run of the plugin imports is imported here, once.
import advland.claims.jobs.local  # noqa: E402,F401
import advland.environment  # noqa: E402,F401

BUILTIN = all_claims()

CLAIMS = '''
from pathlib import Path
from advland.claims import claim, unit_kind, Check, Outcome, Quantity

def bounded(name, value, key):
    return Check.from_quantities(name, [Quantity("x", value, bound=2.0, relation="<=")], key=key)

@claim("t.good", where="here", statement="s", formula="f", tags=("theory", "mine"))
def good(ctx):
    return Outcome("fine", [bounded("small x", 1.0, "small"), bounded("tiny x", 0.5, "tiny")])

@claim("t.false", where="here", statement="s", formula="f")
def false(ctx):
    return Outcome("no", [bounded("large x", 3.0, "large"), bounded("small x", 1.0, "small")])

@claim("t.literal", where="here", statement="s", formula="f", expect="refuted")
def literal(ctx):
    return Outcome("false as written", [bounded("as written", 3.0, "as-written"), bounded("nesting", 1.0, "nesting")])

@claim("t.crash", where="here", statement="s", formula="f")
def crash(ctx):
    raise RuntimeError("solver exploded")

@claim("t.nodata", where="here", statement="s", formula="f")
def nodata(ctx):
    return Outcome("nothing ran", [Check.skip("mnist", "no MNIST under the data folder", key="mnist")])

@claim("t.unsure", where="here", statement="s", formula="f")
def unsure(ctx):
    return Outcome("undecided", [Check.from_quantities("solved", [Quantity("x", 1.0, bound=2.0, relation="<=")],
                                                       solvers=[("SCS: optimal_inaccurate", False)], key="solved")])

@unit_kind("t.plugin-double")
def double(*, x: float) -> dict:
    Path(__file__).with_name("computed.txt").open("a").write("unit\\n")
    return {"y": 2 * x}

def plan(ctx):
    return [double.unit(x=float(ctx.seed + 1))]

def decide(ctx, results):
    (u,) = plan(ctx)
    gap = Quantity("y - 2x", results[u.key]["y"] - 2 * u.params["x"], bound=0.0, relation="==")
    return Outcome("doubled", [Check.from_quantities("y = 2x", [gap], key="doubled")])

staged = claim("t.staged", where="here", statement="s", formula="f", expect={"smoke": "confirmed"})(
    plan=plan, decide=decide)
'''


@pytest.fixture
def claims(pytester):
    """The user claims file in the pytester folder; the arguments that run its claims at the smoke scale."""
    pytester.makepyfile(user_claims=CLAIMS)
    return ["--advland", "t.*", "--advland-claims", "user_claims.py", "--advland-scale", "smoke"]


def _outcomes(result) -> dict:
    return {k: v for k, v in result.parseoutcomes().items() if k not in ("seconds",)}


def test_each_verdict_has_its_pytest_outcome(pytester, claims):
    result = pytester.runpytest(*claims, "-v", "-rsx")
    result.assert_outcomes(passed=8, failed=2, errors=2, skipped=4, xfailed=1)
    result.stdout.fnmatch_lines_random([
        "t.good::verdict PASSED*", "t.good::small PASSED*", "t.staged::doubled PASSED*",
        "t.false::verdict FAILED*", "t.false::large FAILED*", "t.false::small PASSED*",
        "t.literal::verdict PASSED*", "t.literal::as-written XFAIL*", "t.literal::nesting PASSED*",
        "t.crash::verdict ERROR*", "t.crash::run ERROR*",
        "t.nodata::verdict SKIPPED*", "t.unsure::solved SKIPPED*"])
    out = result.stdout.str()
    # refuted: the deciding check, its number against its bound, the counterexample
    assert "refuted: [large] large x" in out and "x = 3  (must be <= 2: FAILS)" in out
    assert 'counterexample: {"violated": {"name": "x", "value": 3.0' in out
    # error: the traceback of the claim's own code
    assert "ERROR at setup of claim t.crash, verdict" in out and "t.crash is in error" in out and 'raise RuntimeError("solver exploded")' in out
    # skipped and inconclusive: the reasons
    assert "skipped: no MNIST under the data folder" in out
    assert "inconclusive: solved: solver did not reach optimality: SCS: optimal_inaccurate" in out
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_strict_fails_an_inconclusive_verdict(pytester, claims):
    result = pytester.runpytest(*claims, "--advland-strict", "-k", "unsure")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*inconclusive: solved: solver did not reach optimality*"])


@pytest.mark.parametrize("expect, verdict", [("confirmed", "refuted"), ("refuted", "confirmed")])
def test_a_verdict_that_differs_from_the_expected_one_fails_with_both(pytester, expect, verdict):
    value = 3.0 if verdict == "refuted" else 1.0
    pytester.makepyfile(flip=f'''
from advland.claims import claim, Check, Outcome, Quantity

@claim("t.flip", where="here", statement="s", formula="f", expect="{expect}")
def flip(ctx):
    return Outcome("changed", [Check.from_quantities("x small", [Quantity("x", {value}, bound=2.0, relation="<=")])])
''')
    result = pytester.runpytest("--advland", "t.flip", "--advland-claims", "flip.py", "--advland-scale", "smoke")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"*t.flip is {verdict} at the smoke scale, expected {expect}: changed*"])


def test_k_selects_by_claim_id_by_check_key_and_by_tag(pytester, claims):
    def selected(expression):
        result = pytester.runpytest(*claims, "-k", expression, "--collect-only", "-q")
        return {line for line in result.stdout.lines if line.startswith("t.")}

    assert selected("t.false") == {"t.false::verdict", "t.false::large", "t.false::small"}
    assert selected("small") == {"t.good::small", "t.false::small"}
    assert selected("t.good and not verdict") == {"t.good::small", "t.good::tiny"}
    assert selected("mine") == {"t.good::verdict", "t.good::small", "t.good::tiny"}   # a tag of the claim


def test_a_check_keyed_verdict_makes_the_claim_s_item_an_error_saying_so(pytester):
    pytester.makepyfile(clash='''
from advland.claims import claim, Check, Outcome, Quantity

@claim("t.clash", where="here", statement="s", formula="f")
def clash(ctx):
    return Outcome("fine", [Check.from_quantities("v", [Quantity("x", 1.0, bound=2.0, relation="<=")], key="verdict")])
''')
    result = pytester.runpytest("--advland", "t.clash", "--advland-claims", "clash.py", "--advland-scale", "smoke")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*t.clash: a check is keyed 'verdict', the name of the claim's own item*"])


def test_junit_xml_names_claims_and_checks(pytester, claims):
    pytester.runpytest(*claims, "--junitxml=junit.xml")
    cases = ET.parse(pytester.path / "junit.xml").getroot().iter("testcase")
    found = {(c.get("classname"), c.get("name")): c for c in cases}
    assert ("t.false", "large") in found and ("t.good", "verdict") in found and ("t.crash", "run") in found
    large = found["t.false", "large"]
    props = {p.get("name"): p.get("value") for p in large.iter("property")}
    assert props == {"claim": "t.false", "claim_verdict": "refuted", "expect": "", "check": "large",
                     "check_name": "large x", "check_verdict": "refuted"}
    assert "x = 3  (must be &lt;= 2: FAILS)" in ET.tostring(large.find("failure"), encoding="unicode")


def test_claims_only_unless_paths_are_given(pytester, claims):
    """Without paths no test file is collected and no conftest.py loaded (a checkout's unit tests stay out);
    with a path before --advland, that file runs beside the claims."""
    pytester.makepyfile(test_unit="def test_unit():\n    pass\n")
    pytester.makeconftest("raise RuntimeError('conftest loaded')")
    only = pytester.runpytest(*claims, "-k", "t.good", "-q")
    only.assert_outcomes(passed=3)
    (pytester.path / "conftest.py").unlink()
    both = pytester.runpytest("test_unit.py", *claims, "-k", "t.good or test_unit", "-q")
    both.assert_outcomes(passed=4)
    bad = pytester.runpytest("--advland", "no-such-claim", "-q")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*advland: selector 'no-such-claim' matches no claim id, glob or tag*"])


def test_last_failed_reruns_the_failing_items(pytester, claims):
    pytester.runpytest(*claims)
    again = pytester.runpytest(*claims, "--lf", "-q")
    again.assert_outcomes(failed=2, errors=2, deselected=13)


def _comparable(doc: dict) -> dict:
    for c in doc["claims"]:
        c.pop("seconds")
    for volatile in ("started", "argv"):
        doc["environment"].pop(volatile)
    return doc


def test_the_report_is_the_one_verify_writes(pytester, claims, tmp_path):
    store = str(tmp_path / "store.sqlite")
    pytester.runpytest(*claims, "--advland-store", store, "--advland-out", str(tmp_path / "plugin"))
    code = cli.main(["verify", "--no-progress", "--only", "t.*", "--claims", str(pytester.path / "user_claims.py"),
                     "--scale", "smoke", "--store", store, "--out", str(tmp_path / "verify")])
    assert code == cli.EXIT_FAILED   # t.crash is an error
    docs = [json.loads((tmp_path / d / "claims.json").read_text()) for d in ("plugin", "verify")]
    jsonschema.validate(docs[0], json.loads(SCHEMA_PATH.read_text()))
    assert _comparable(docs[0]) == _comparable(docs[1])
    by_id = {c["id"]: c for c in docs[0]["claims"]}
    assert by_id["t.literal"]["expect"] == "refuted" and by_id["t.good"]["expect"] is None
    assert by_id["t.staged"]["expect"] == "confirmed"    # declared for smoke, the scale of this run
    assert "expected refuted: as expected" in (tmp_path / "plugin" / "report.md").read_text()


@pytest.mark.slow
def test_xdist_workers_build_the_items_the_controller_computed(pytester, claims):
    result = pytester.runpytest_subprocess(*claims, "-n", "2", "--advland-store", str(pytester.path / "store.sqlite"))
    result.assert_outcomes(passed=8, failed=2, errors=2, skipped=4, xfailed=1)
    assert (pytester.path / "computed.txt").read_text() == "unit\n"    # one unit, computed once, by the controller


# ------------------------------------------------------------------ the outcome rules

verdicts = st.sampled_from([v.value for v in Verdict])
expectations = st.none() | st.sampled_from(EXPECTABLE)


@given(verdicts, expectations, st.booleans(), st.booleans())
def test_outcome_rules(verdict, expect, strict, check):
    result = P.outcome(verdict, expect, strict=strict, check=check)
    if verdict in ("error", "skipped"):
        assert result == verdict      # the claim could not be decided here, whatever was expected
    elif verdict == "inconclusive" and strict:
        assert result == P.FAILED
    elif expect is None:
        assert result == {"confirmed": P.PASSED, "refuted": P.FAILED, "inconclusive": P.SKIPPED}[verdict]
    elif not check:
        assert result == (P.PASSED if verdict == expect else P.FAILED)
    else:   # a check: expected refuted or inconclusive -> xfail; otherwise the plain rules
        plain = {"confirmed": P.PASSED, "refuted": P.FAILED, "inconclusive": P.SKIPPED}[verdict]
        assert result == (P.XFAILED if verdict == expect and verdict != "confirmed" else plain)


# ------------------------------------------------------------------ expect=

def _declare(expect):
    return claim("t.e", where="w", statement="s", formula="f", expect=expect)(lambda ctx: None)


@given(st.sampled_from(EXPECTABLE))
def test_a_verdict_name_is_expected_at_every_scale(verdict):
    assert [_declare(verdict).expected(s) for s in SCALES] == [Verdict(verdict)] * len(SCALES)


@given(st.dictionaries(st.sampled_from(SCALES), st.sampled_from(EXPECTABLE), min_size=1))
def test_a_mapping_is_expected_only_at_the_scales_it_names(by_scale):
    c = _declare(by_scale)
    assert {s: c.expected(s) for s in SCALES} == {s: Verdict(by_scale[s]) if s in by_scale else None for s in SCALES}


@pytest.mark.parametrize("expect, message", [
    ("error", "expect = 'error' is not an expected verdict"), ("passed", "'passed' is not an expected verdict"),
    ({"cpu": "nope"}, "expect['cpu'] = 'nope'"), ({"huge": "refuted"}, "expect names the scale 'huge'"),
    ({}, "names no scale")])
def test_a_bad_expectation_is_refused_when_declared(expect, message):
    with pytest.raises(ClaimError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _declare(expect)


def test_every_theory_claim_expects_its_verdict_at_the_scales_it_was_seen():
    theory = [c for c in BUILTIN if "empirical" not in c.tags]
    assert theory and all(c.expected("smoke") and c.expected("cpu") for c in theory)


def test_the_report_shows_the_expectation_of_the_run_s_scale_beside_the_verdict():
    holds = Check.from_quantities("x small", [Quantity("x", 1.0, bound=2.0, relation="<=")])
    result = run_claim(claim("t.e", where="w", statement="s", formula="f", expect={"cpu": "refuted"})(
        lambda ctx: Outcome("confirmed after all", [holds])), Context(scale="cpu"))
    env = {"seed": 0, "versions": {}, "device": {}, "git": {}}
    cpu, smoke = (document([result], {**env, "scale": scale}) for scale in ("cpu", "smoke"))
    for doc in (cpu, smoke):
        jsonschema.validate(doc, json.loads(SCHEMA_PATH.read_text()))
    assert cpu["claims"][0]["expect"] == "refuted" and smoke["claims"][0]["expect"] is None
    assert "expected refuted: DIFFERS" in render_markdown(cpu) and "DIFFERS" not in render_markdown(smoke)
    assert "expected refuted: DIFFERS" in render_html(cpu, {})
