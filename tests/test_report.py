"""The report read at a glance: the summary table with corrected forms, the legend, reduced scale, skipped checks,
folded evidence, captions, readable scripts, line breaks, no machine paths; rendered from a fabricated run."""
import html
import json
import re
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.figure import Figure

from advland.claims import report as R
from advland.claims.model import Check, Outcome, Verdict, worst
from advland.claims.registry import ClaimError, all_claims, claim

from report_samples import environment, results

SCHEMA = json.loads(R.SCHEMA_PATH.read_text())
VERDICTS = [v.value for v in Verdict]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A report of the sample run written to TMP/report (once for the module), its data folder under TMP."""
    tmp_path = tmp_path_factory.mktemp("written")
    data_dir = str(tmp_path / "data")
    paths = R.write_report(results(data_dir), environment("smoke", data_dir), tmp_path / "report")
    return {"doc": json.loads(Path(paths["json"]).read_text()), "md": Path(paths["markdown"]).read_text(),
            "html": Path(paths["html"]).read_text(), "dir": tmp_path / "report", "data_dir": data_dir}


def _claim(doc, claim_id):
    return next(c for c in doc["claims"] if c["id"] == claim_id)


def _row(md, claim_id):
    """The summary table's row of a claim in report.md."""
    return next(line for line in md.splitlines() if line.startswith(f"| [`{claim_id}`]"))


def _section(html_text, claim_id):
    start = html_text.index(f'<section id="{claim_id}">')
    return html_text[start:html_text.index("</section>", start)]


def test_the_document_validates_and_keeps_exact_verdicts(written):
    doc = written["doc"]
    jsonschema.validate(doc, SCHEMA)
    assert {c["id"]: c["verdict"] for c in doc["claims"]} == {
        "t.literal1": "refuted", "t.fixed2": "confirmed", "t.partial3": "confirmed", "t.broken4": "error"}
    assert _claim(doc, "t.fixed2")["corrects"] == "t.literal1" and _claim(doc, "t.literal1")["corrects"] == ""


def test_summary_table_reads_a_refuted_statement_with_a_confirmed_correction(written):
    md = written["md"]
    table = md[md.index("| claim | verdict"):md.index("**Verdicts.**")]
    row = _row(table, "t.literal1")
    assert "**refuted as written — corrected form confirmed** (t.fixed2)" in row
    assert "bullet 2 as written" in row  # the check that decided it
    assert "corrects t.literal1" in _row(table, "t.fixed2")
    cell = _section(written["html"], "t.literal1")
    assert "refuted as written</span>" in cell and "corrected form confirmed</span>" in cell


@given(st.sampled_from(VERDICTS), st.lists(st.sampled_from(VERDICTS), max_size=3))
def test_reading_is_refuted_as_written_exactly_when_a_refuted_claim_has_corrections(verdict, fixes):
    literal = {"id": "p.a", "verdict": verdict, "corrects": ""}
    claims = [literal] + [{"id": f"p.b{i}", "verdict": v, "corrects": "p.a"} for i, v in enumerate(fixes)]
    exact, corrected = R.reading(literal, claims)
    assert exact == verdict
    if verdict == "refuted" and fixes:
        severity = [Verdict.SKIPPED, Verdict.CONFIRMED, Verdict.INCONCLUSIVE, Verdict.REFUTED, Verdict.ERROR]
        assert corrected == max(fixes, key=lambda v: severity.index(Verdict(v)))
        assert R.verdict_label(literal, claims) == f"refuted as written — corrected form {corrected}"
    else:
        assert corrected is None and R.verdict_label(literal, claims) == verdict


def test_a_correction_names_an_existing_other_claim(tmp_path):
    with pytest.raises(ClaimError, match="another claim"):
        claim("t.self", where="w", statement="s", formula="f", corrects="t.self")(lambda ctx: None)
    f = tmp_path / "claims.py"
    f.write_text("from advland.claims import claim\n"
                 "c = claim('t.orphan', where='w', statement='s', formula='f',\n"
                 "          corrects='t.nowhere')(lambda ctx: None)\n")
    with pytest.raises(ClaimError, match="t.nowhere"):
        all_claims([str(f)])


def test_legend_defines_every_verdict_and_the_worst_check_rule(written):
    for text, escape in ((written["md"], str), (written["html"], html.escape)):
        assert "The worst check decides" in text
        assert escape("error > refuted > inconclusive > confirmed > skipped") in text
        for verdict, meaning in R.LEGEND.items():
            assert escape(meaning) in text, verdict


@pytest.mark.parametrize("scale", ["smoke", "cpu", "gpu", "paper"])
def test_reduced_scale_is_flagged(scale, tmp_path):
    doc = R.document(results(str(tmp_path)), environment(scale, str(tmp_path)))
    md, page = R.render_markdown(doc), R.render_html(doc, _no_images(doc))
    reduced = scale != "paper"
    assert ("Reduced scale" in md) == reduced and ("Reduced scale" in page) == reduced
    assert (f"at the {scale} scale (reduced)" in md) == reduced


def _no_images(doc):
    return {p: b"" for c in doc["claims"] for p in c["evidence"]["plots"]}


def test_skipped_checks_are_visible_with_their_reason(written):
    md, page = written["md"], written["html"]
    assert "**Skipped checks (1):**" in md and "**Skipped:** MNIST 3 vs 8 — no MNIST under" in md
    section = _section(page, "t.partial3")
    assert section.index('class="skip"') < section.index("<details>")  # outside the fold
    assert "Skipped checks (1):" in page[:page.index('<table id="summary"')]
    assert "1 skipped" in _row(md, "t.partial3")


def test_each_claim_opens_with_a_sentence_and_its_key_figure_and_folds_the_evidence(written):
    page = written["html"]
    for c in written["doc"]["claims"]:
        section = _section(page, c["id"])
        lead = section[section.index('<p class="lead">'):section.index("</p>", section.index('<p class="lead">'))]
        assert "tested by" in lead and "smoke scale (reduced)" in lead and lead.count(". ") <= 1
        fold = section.index("<details>")
        assert section.count("<img", 0, fold) == min(1, len(c["evidence"]["plots"]))
        assert section.index('<ol class="checks">') > fold and "<details open" not in section
    assert "the statement as written fails" in _section(page, "t.literal1")


def test_captions_say_what_a_figure_shows_and_the_verdict_it_supports(written):
    doc, page = written["doc"], written["html"]
    literal, fixed = _claim(doc, "t.literal1"), _claim(doc, "t.fixed2")
    assert set(literal["evidence"]["captions"]) == set(literal["evidence"]["plots"])
    (cap,) = literal["evidence"]["captions"].values()
    assert cap.startswith("g_ε(x, γW) along rays of V_ε") and "Evidence for: bullet 2 as written (refuted)" in cap
    (cap,) = fixed["evidence"]["captions"].values()  # a plain figure: its suptitle, and the claim's verdict
    assert cap == "the limit along strict members. Claim verdict: confirmed."
    assert "<figcaption><b>Figure 1.</b> the limit along strict members." in page
    assert not re.search(r"<figcaption>[^<]*plots/", page)  # no file names as captions


def test_plots_keep_plain_figures_and_reject_malformed_ones():
    fig = Figure()
    check = Check("c", Verdict.CONFIRMED, key="c")
    for plots in ({"p": fig}, {"p": (fig, "caption")}, {"p": (fig, "caption", ["c"])}):
        assert Outcome("s", [check], plots=plots).plots == plots
    for bad, why in (((fig,), "tuple of 1"), ((fig, 3), "caption"), ((fig, "c", "c"), "list of strings"),
                     (("not a figure", "c"), "Figure"), ((fig, "c", ["nope"]), "names no check nope")):
        with pytest.raises(ValueError, match=why):
            Outcome("s", [check], plots={"p": bad})


def test_latex_like_scripts_are_readable():
    assert R.plain_scripts("ℝ^{m×K}") == "ℝ^(m×K)" and R.plain_scripts("e^{−50}") == "e⁻⁵⁰"
    assert R.plain_scripts("x_{2} and lim_{γ→∞}") == "x₂ and lim_(γ→∞)"
    assert R._h("ℝ^{m×K}, w_{y_n} & <b>") == "ℝ<sup>m×K</sup>, w<sub>y_n</sub> &amp; &lt;b&gt;"


@given(st.text(alphabet=st.characters(blacklist_characters="{}", blacklist_categories=("Cs",)), max_size=8),
       st.sampled_from("^_"))
def test_no_brace_script_survives(inner, mark):
    text = f"a{mark}{{{inner}}} b"
    assert f"{mark}{{" not in R.plain_scripts(text) and f"{mark}{{" not in R._h(text)


def test_report_prose_has_no_raw_brace_scripts(written):
    prose = written["md"].split("## Environment")[0]
    prose = re.sub(r"`[^`]*counterexample[^`]*`|counterexample: `.*`", "", prose)
    assert "^{" not in prose and "_{" not in prose
    assert "ℝ^(m×K)" in prose and "x² <= e⁻⁵⁰" in prose
    assert "ℝ<sup>m×K</sup>" in written["html"]


def test_notes_keep_their_line_breaks(written):
    md, page = written["md"], written["html"]
    assert "first line of the note  \n  second line of the note" in md
    assert '<span class="pre">first line of the note\nsecond line of the note</span>' in page
    assert ".pre{white-space:pre-line}" in page


def test_setup_shows_device_units_seeds_and_data(written):
    facts = R.setup_facts(_claim(written["doc"], "t.partial3"), written["doc"]["environment"])
    assert facts[:2] == ["CPU x86_64, 2 cores", "2 units of 1 kind"]
    assert "seeds 0, 1" in facts and "data mnist" in facts and "model lenet" in facts
    assert "2 units of 1 kind · seeds 0, 1 · data mnist" in written["md"]
    unit_key = _claim(written["doc"], "t.partial3")["units"][0]["key"]
    assert unit_key in written["md"] and unit_key in written["html"]


def test_the_report_names_no_machine_path(written):
    home, source = str(Path.home()), str(Path(R.__file__).resolve().parent.parent)
    for name in ("claims.json", "report.md", "report.html"):
        text = (written["dir"] / name).read_text()
        assert written["data_dir"] not in text and home + "/" not in text and source not in text, name
    doc = written["doc"]
    assert doc["environment"]["data_dir"] == "<data dir>"
    assert doc["environment"]["argv"] == ["advland", "verify", "--data-dir", "<data dir>"]
    env = R.document([], {**environment(), "argv": ["/opt/bin/advland", "verify", "--out", "/srv/u/rep/", "rel/x"]})
    assert env["environment"]["argv"] == ["advland", "verify", "--out", "…/rep", "rel/x"]
    assert "no MNIST under <data dir>/mnist" in json.dumps(doc, ensure_ascii=False)
    assert "no MNIST under \\<data dir>/mnist" in written["md"]  # escaped: markdown would hide it as a tag


def test_expected_verdicts_are_shown_beside_the_verdict(tmp_path):
    doc = R.document(results(str(tmp_path)), environment())
    _claim(doc, "t.literal1")["expect"], _claim(doc, "t.fixed2")["expect"] = "refuted", "refuted"
    md = R.render_markdown(doc)
    assert "expected refuted: as expected" in _row(md, "t.literal1")
    assert "expected refuted: DIFFERS" in _row(md, "t.fixed2")


def test_an_error_claim_shows_its_cause_and_traceback(written):
    section = _section(written["html"], "t.broken4")
    assert "the check failed with an error" in section and "RuntimeError" in section
    assert "<pre>" in section[section.index("<details>"):]


def test_hessian_plot_title_names_the_loss(tmp_path, monkeypatch):
    from advland import measure_commands

    titles = []
    monkeypatch.setattr(Figure, "savefig", lambda fig, *a, **k: titles.extend(ax.get_title() for ax in fig.axes))
    r = {"eps": 0.1, "norm": "linf", "eigenvalues": [3.0, 2.0],
         "curvature_check": {"second_difference": 3.0, "h": 1e-3},
         "hessian": {"hessian": {"loss": "adversarial (examples frozen at θ)"}}, "run": "/x/run", "split": "train",
         "n": 10, "bn_mode": "eval"}
    measure_commands._save_plot(tmp_path / "h.png", "hessian", r)
    assert "Hessian of the adversarial loss (examples frozen at θ)" in titles[0]


def test_summary_table_names_the_deciding_checks_and_counts_every_check(tmp_path):
    doc = R.document(results(str(tmp_path)), environment())
    md = R.render_markdown(doc)
    assert _row(md, "t.literal1").split(" | ")[2:4] == ["1 refuted, 1 confirmed", "bullet 2 as written"]
    assert _row(md, "t.partial3").split(" | ")[2:4] == ["1 confirmed, 1 skipped", ""]


def test_device_names_the_one_the_checks_ran_on():
    gpu = {"cpu": "x86_64", "cpu_count": 16, "cuda_available": True, "gpu": "NVIDIA H200"}
    assert R.device_text({"device": gpu, "run_device": "cuda"}) == "cuda (GPU NVIDIA H200)"
    assert R.device_text({"device": gpu, "run_device": "cpu"}) == "cpu (CPU x86_64, 16 cores)"
    assert R.device_text({"device": {"cpu": "x86_64", "cpu_count": 2}}) == "CPU x86_64, 2 cores"


@pytest.mark.parametrize("verdicts", [["refuted"], ["refuted", "confirmed"], ["inconclusive"],
                                      ["confirmed", "skipped"], ["skipped"], ["confirmed", "confirmed"]])
def test_the_opening_sentence_names_what_came_out(verdicts):
    checks = [{"key": f"k{i}", "name": f"check {i}", "verdict": v, "note": "no data" if v == "skipped" else ""}
              for i, v in enumerate(verdicts)]
    claim = {"id": "p.a", "where": "Paper, Theorem 1", "corrects": "", "evidence": {"checks": checks, "summary": "s"},
             "verdict": worst(Verdict(v) for v in verdicts).value}
    sentence = R.opening_sentence(claim, [claim], "cpu")
    assert sentence.startswith(f"Paper, Theorem 1, tested by {len(verdicts)} check") and sentence.endswith(".")
    assert "at the cpu scale (reduced)" in sentence and "none" not in sentence
    for v in set(verdicts) - {"skipped"} if claim["verdict"] != "skipped" else ():
        assert v in sentence
    if claim["verdict"] == "skipped":
        assert "nothing could run here (no data)" in sentence


_leaf = st.one_of(st.integers(-3, 3), st.sampled_from(["at", "awp", "lenet"]), st.lists(st.integers(0, 2), max_size=2))
_params = st.recursive(st.dictionaries(st.sampled_from("abcd"), _leaf, max_size=4),
                       lambda inner: st.dictionaries(st.sampled_from("abcd"), inner, min_size=1, max_size=3),
                       max_leaves=8)


@given(st.lists(_params, min_size=1, max_size=5))
def test_unit_table_splits_parameters_into_shared_and_the_rest(params):
    """Shared and the rest put back together give every unit's parameters; shared values are the same in every
    unit; nothing the units all share is repeated per row."""
    units = [{"kind": "k", "key": f"u{i}", "params": p} for i, p in enumerate(params)]
    shared, rows = R.unit_table(units)
    assert [key for _, key, _ in rows] == [u["key"] for u in units]
    for u, (_, _, rest) in zip(units, rows):
        flat = R._flat(u["params"])
        assert {**shared, **rest} == flat and not set(shared) & set(rest)
    if len(units) > 1:
        for k in set().union(*(r for _, _, r in rows)):
            values = [R._flat(u["params"]).get(k, "absent") for u in units]
            assert any(v != values[0] for v in values)
    else:
        assert shared == {}
