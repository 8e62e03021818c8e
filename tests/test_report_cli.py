"""The report (schema, self-contained HTML, atomic writes) and the CLI (selection, exit status, user claims)."""
import json
from pathlib import Path

import jsonschema
import pytest

from advland import cli
from advland.claims.model import Check, Context, Outcome, Quantity, Verdict
from advland.claims.registry import claim
from advland.claims.report import SCHEMA_PATH, write_report
from advland.claims.runner import run_claim

EXAMPLE = str(Path(__file__).resolve().parent.parent / "examples" / "user_claims.py")
SCHEMA = json.loads(SCHEMA_PATH.read_text())

USER_FILE = '''
from matplotlib.figure import Figure
from advland.claims import claim, unit_kind, Check, Outcome, Quantity, Verdict

@claim("t.good", where="here", statement="s", formula="f")
def good(ctx):
    fig = Figure(); fig.add_subplot().plot([0, 1], [1, 0])
    return Outcome("fine", [Check.from_quantities("q", [Quantity("x", 1.0, bound=2.0, relation="<=")])],
                   plots={"line": fig})

@claim("t.refuted", where="here", statement="s", formula="f")
def refuted(ctx):
    return Outcome("no", [Check.from_quantities("q", [Quantity("x", 3.0, bound=2.0, relation="<=")])])

@claim("t.crash", where="here", statement="s", formula="f", tags=("theory", "crashy"))
def crash(ctx):
    raise RuntimeError("solver exploded")

@unit_kind("t.double")
def double(*, x: float) -> dict:
    return {"y": 2 * x}

def plan(ctx):
    return [double.unit(x=float(ctx.seed + 1))]

def decide(ctx, results):
    (u,) = plan(ctx)
    gap = Quantity("y − 2x", results[u.key]["y"] - 2 * u.params["x"], bound=0.0, relation="==")
    return Outcome("doubled", [Check.from_quantities("y = 2x", [gap], key="doubled")])

staged = claim("t.staged", where="here", statement="s", formula="f")(plan=plan, decide=decide)
'''


@pytest.fixture
def user_file(tmp_path):
    f = tmp_path / "claims.py"
    f.write_text(USER_FILE)
    return str(f)


def verify(tmp_path, *args):
    out = tmp_path / "report"
    code = cli.main(["verify", "--no-progress", "--scale", "smoke", "--out", str(out), *args])
    return code, out


def test_report_validates_and_is_self_contained(tmp_path, user_file):
    code, out = verify(tmp_path, "--claims", user_file, "--only", "t.good", "t.refuted")
    assert code == cli.EXIT_OK  # refuted is a result, not a failure, by default
    doc = json.loads((out / "claims.json").read_text())
    jsonschema.validate(doc, SCHEMA)
    assert {c["id"]: c["verdict"] for c in doc["claims"]} == {"t.good": "confirmed", "t.refuted": "refuted"}
    assert doc["totals"]["confirmed"] == 1 and doc["totals"]["refuted"] == 1
    refuted = next(c for c in doc["claims"] if c["id"] == "t.refuted")
    assert refuted["counterexample"]["violated"]["value"] == 3.0
    good = next(c for c in doc["claims"] if c["id"] == "t.good")
    assert all((out / p).is_file() for p in good["evidence"]["plots"])
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and 'src="http' not in html
    assert html.index('<table id="summary">') < html.index("<section")  # summary table first
    assert "t.refuted" in (out / "report.md").read_text()
    env = doc["environment"]
    assert env["seed"] == 0 and env["scale"] == "smoke" and "numpy" in env["versions"] and "git" in env


def test_exit_status(tmp_path, user_file):
    assert verify(tmp_path, "--claims", user_file, "--only", "crashy")[0] == cli.EXIT_FAILED
    doc = json.loads((tmp_path / "report" / "claims.json").read_text())
    assert doc["claims"][0]["verdict"] == "error"
    assert "solver exploded" in doc["claims"][0]["evidence"]["summary"]
    traceback = doc["claims"][0]["evidence"]["details"]["traceback"]
    assert traceback.startswith("Traceback") and "_finish" in traceback and "solver exploded" in traceback
    assert verify(tmp_path, "--claims", user_file, "--only", "t.refuted", "--fail-on-refuted")[0] == cli.EXIT_FAILED
    assert verify(tmp_path, "--claims", user_file, "--only", "nothing.like.this")[0] == cli.EXIT_USAGE
    assert verify(tmp_path, "--claims", str(tmp_path / "absent.py"))[0] == cli.EXIT_USAGE


def test_bad_seed_and_scale_are_usage_errors(tmp_path):
    for args in (["--seed", "-1"], ["--seed", "x"], ["--scale", "huge"]):
        with pytest.raises(SystemExit) as e:
            cli.main(["verify", *args])
        assert e.value.code == 2


def test_same_seed_same_verdicts_and_evidence(tmp_path):
    def run(sub):
        code, out = verify(tmp_path / sub, "--claims", EXAMPLE, "--only", "mine", "--seed", "5")
        doc = json.loads((out / "claims.json").read_text())
        return code, [(c["verdict"], c["evidence"]["checks"], c["counterexample"]) for c in doc["claims"]]
    a, b = run("a"), run("b")
    assert a == b and a[0] == cli.EXIT_OK and a[1][0][0] == "confirmed"


def test_list_and_show(capsys, user_file):
    assert cli.main(["list", "--json", "--claims", user_file]) == 0
    ids = [c["id"] for c in json.loads(capsys.readouterr().out)]
    assert "t.good" in ids and "liu2020.version-space" in ids and "yamada2021.l2-sharpening" in ids
    assert cli.main(["show", "t.good", "--claims", user_file]) == 0
    assert cli.main(["show", "no.such"]) == cli.EXIT_USAGE


def _result(check):
    c = claim("t.x", where="w", statement="s", formula="f")(check)
    return run_claim(c, Context(scale="smoke"))


def test_write_report_is_atomic(tmp_path):
    out = tmp_path / "r"
    ok = _result(lambda ctx: Outcome("ok", [Check("c", Verdict.CONFIRMED)]))
    write_report([ok], {"seed": 0, "scale": "smoke", "git": {}, "versions": {}, "device": {}}, out)
    before = (out / "claims.json").read_text()

    class BadFigure:
        def savefig(self, *a, **k):
            raise OSError("disk full")

    broken = _result(lambda ctx: Outcome("ok", [Check("c", Verdict.CONFIRMED)], plots={"p": BadFigure()}))
    with pytest.raises(OSError):
        write_report([broken], {"seed": 1, "scale": "smoke", "git": {}, "versions": {}, "device": {}}, out)
    assert (out / "claims.json").read_text() == before  # the old report is intact
    assert [p.name for p in tmp_path.iterdir()] == ["r"]  # no staging folder left behind


def test_a_claim_in_stages_reports_its_units(tmp_path, user_file):
    code, out = verify(tmp_path, "--claims", user_file, "--only", "t.staged", "t.good", "--seed", "4")
    doc = json.loads((out / "claims.json").read_text())
    jsonschema.validate(doc, SCHEMA)
    staged, good = (next(c for c in doc["claims"] if c["id"] == i) for i in ("t.staged", "t.good"))
    assert code == cli.EXIT_OK and staged["verdict"] == "confirmed"
    assert staged["evidence"]["checks"][0]["key"] == "doubled" and good["evidence"]["checks"][0]["key"] == "q"
    (unit,) = staged["units"]
    assert unit["kind"] == "t.double" and unit["params"] == {"x": 5.0} and len(unit["key"]) == 16
    assert good["units"] == []


@pytest.mark.slow
def test_every_theory_claim_reaches_a_verdict_end_to_end(tmp_path):
    """`advland verify --only theory` at smoke scale: every built-in theory claim decided, none in error, the
    report valid, and each refutation carrying its counterexample."""
    code, out = verify(tmp_path, "--only", "theory")
    doc = json.loads((out / "claims.json").read_text())
    jsonschema.validate(doc, SCHEMA)
    assert code == cli.EXIT_OK and doc["totals"]["error"] == 0 and len(doc["claims"]) >= 5
    for c in doc["claims"]:
        assert c["verdict"] in ("confirmed", "refuted", "skipped"), (c["id"], c["evidence"]["summary"])
        assert c["evidence"]["scale_note"], c["id"]
        keys = [chk["key"] for chk in c["evidence"]["checks"]]
        assert len(keys) == len(set(keys)) and c["units"], c["id"]
        if c["verdict"] == "refuted":
            assert c["counterexample"], c["id"]


def test_report_and_result_files_get_ordinary_permissions(tmp_path):
    import os

    from advland.io import atomic_write, umask_mode

    out = tmp_path / "r"
    ok = _result(lambda ctx: Outcome("ok", [Check("c", Verdict.CONFIRMED)]))
    write_report([ok], {"seed": 0, "scale": "smoke", "git": {}, "versions": {}, "device": {}}, out)
    atomic_write(tmp_path / "f.json", lambda f: f.write(b"{}"))
    assert os.stat(out).st_mode & 0o777 == umask_mode(0o777)
    assert os.stat(tmp_path / "f.json").st_mode & 0o777 == umask_mode(0o666)
