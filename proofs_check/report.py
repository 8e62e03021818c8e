"""The consistency report: claims.json (schema in report_schema.json), report.md, report.html, plots/*.png.

Rendering is pure (``document``, ``render_markdown``, ``render_html``); ``write_report`` is the only I/O,
and it is atomic (``advland.outputs.replace_folder``): everything is written into a staging folder beside DIR
which then replaces DIR, so a crash or a kill never leaves a half-written report.

Both pages read in the same order: the scale (flagged when reduced), the totals of claims and of checks, the
summary table, the verdict legend; then each claim opens with one plain sentence (what was tested, at what
scale, what came out), its skipped checks, its setup and its key figure, while the statement and the
check-by-check evidence are folded (``<details>``) one click away.

**Verdicts as read.** claims.json keeps each claim's exact verdict, the worst of its checks. A corrected
statement is a claim of its own that names the claim it corrects (``Claim.corrects``); the pages show a refuted
claim with corrections in the run as "refuted as written — corrected form V", V the worst verdict of its
corrections (``reading``).

**No machine paths.** The data folder, the source tree and the home folder are replaced by ``<data dir>``,
``<source>`` and ``~`` in every string of the document, and in the command line the program by its name and
other absolute paths by their last part (``without_machine_paths``), so a committed report says nothing about the
machine it was made on.
"""
from __future__ import annotations

import base64
import html
import io
import json
import os
import re
from collections import Counter
from pathlib import Path

from advland.outputs import replace_folder

from .model import Verdict, figure_parts, to_jsonable, worst
from .runner import Result

SCHEMA_PATH = Path(__file__).with_name("report_schema.json")
_ORDER = [v.value for v in (Verdict.ERROR, Verdict.REFUTED, Verdict.INCONCLUSIVE, Verdict.CONFIRMED, Verdict.SKIPPED)]
_COLOURS = {"confirmed": "#1b7f3b", "refuted": "#b3261e", "inconclusive": "#9a6700", "skipped": "#57606a",
            "error": "#6f42c1"}

SCALE_READING = {
    "smoke": "reduced: the smallest scale, a quick run showing that every check works (fewer examples, shorter "
             "runs and smaller grids than cpu); its verdicts are indicative",
    "cpu": "reduced: sized for a 2-core CPU (smaller models, data and grids than the papers)",
    "gpu": "reduced: sized for one GPU (closer to the papers' settings, not all of them)",
    "paper": "the papers' own settings",
}

LEGEND = {
    "confirmed": "every bounded quantity of the check holds within its tolerance, or a seeded counterexample search "
                 "found no violation among enough examples that meet the statement's hypothesis",
    "refuted": "a quantity is outside its bound beyond the tolerance, or a counterexample was found (given with "
               "its seed)",
    "inconclusive": "the evidence cannot decide: too few examples met the hypothesis, a solver did not converge, "
                    "or a test lacked power",
    "skipped": "the check could not run here (missing data, a scale too small); the reason is shown",
    "error": "the check itself failed (an exception); the traceback is in claims.json",
}
RULE = ("The worst check decides a claim's verdict: error > refuted > inconclusive > confirmed > skipped. "
        "A statement refuted as the paper writes it, whose corrected statement is checked as a claim of its own, "
        "reads \"refuted as written — corrected form V\", V the verdict of the correction; claims.json keeps "
        "each claim's exact verdict.")


# ------------------------------------------------------------------ the document (claims.json)

def plot_path(claim_id: str, stem: str) -> str:
    return f"plots/{claim_id.replace('.', '__')}__{stem}.png"


def png_bytes(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def figure_title(fig) -> str:
    """The figure's own title, on one line: its suptitle, else its panels' titles (the caption of a plot that
    comes without one)."""
    suptitle = fig.get_suptitle() if callable(getattr(fig, "get_suptitle", None)) else ""
    titles = [suptitle] if suptitle.strip() else [ax.get_title() for ax in getattr(fig, "axes", [])]
    return "; ".join(" ".join(t.split()) for t in titles if t.strip())


def caption(text: str, keys, checks: list[dict], claim_label: str) -> str:
    """What a figure shows (``text``) and the verdict it supports: those of the checks named by ``keys``, or the
    claim's when it names none."""
    text = text.strip() or "Figure of the claim's evidence."
    if text[-1] not in ".!?":
        text += "."
    by_key = {c["key"]: c for c in checks}
    named = [by_key[k] for k in keys if k in by_key]
    if named:
        return text + " Evidence for: " + "; ".join(f"{c['name']} ({c['verdict']})" for c in named) + "."
    return f"{text} Claim verdict: {claim_label}."


def document(results: list[Result], environment: dict) -> dict:
    """The claims.json document (see report_schema.json), without machine paths (``without_machine_paths``).
    Each claim lists its units (kind, version, key, params): the computations whose stored numbers its evidence
    was decided from; each plot has a caption (``captions``, by path); ``expect`` is the verdict the claim's authors
    expect at the run's scale (``Claim.expected``), null where they state none."""
    claims = []
    for r in results:
        o = r.outcome
        expected = r.claim.expected(environment["scale"])
        claims.append({
            **r.claim.describe(),
            "verdict": o.verdict.value,
            "expect": expected.value if expected else None,
            "evidence": {
                "summary": o.summary,
                "checks": [c.as_dict() for c in o.checks],
                "scale_note": o.scale_note,
                "plots": [plot_path(r.claim.id, stem) for stem in o.plots],
                "details": to_jsonable(o.details),
            },
            "counterexample": to_jsonable(o.counterexample),
            "units": [u.describe() for u in r.units],
            "seconds": round(r.seconds, 3),
        })
    for r, entry in zip(results, claims):
        label, captions = verdict_label(entry, claims), {}
        for stem, value in r.outcome.plots.items():
            fig, text, keys = figure_parts(value, stem)
            captions[plot_path(r.claim.id, stem)] = caption(text or figure_title(fig), keys,
                                                            entry["evidence"]["checks"], label)
        entry["evidence"]["captions"] = captions
    totals = Counter(c["verdict"] for c in claims)
    doc = {"schema_version": 1, "totals": {k: totals.get(k, 0) for k in _ORDER}, "claims": claims,
           "environment": to_jsonable(environment)}
    return without_machine_paths(doc, environment.get("data_dir"))


def _path_prefixes(data_dir) -> list[tuple[str, str]]:
    """(absolute path, what replaces it), longest first: the data folder, the source tree, the home folder."""
    found = []
    if data_dir:
        found += [(str(Path(data_dir).expanduser().resolve()), "<data dir>")]
        if os.path.isabs(str(data_dir)):
            found += [(os.path.normpath(str(data_dir)), "<data dir>")]
    found += [(str(Path(__file__).resolve().parent.parent), "<source>"), (str(Path.home()), "~")]
    return sorted({p: r for p, r in found if len(p) > 1}.items(), key=lambda pr: -len(pr[0]))


def without_machine_paths(doc: dict, data_dir) -> dict:
    """``doc`` with the data folder, source tree and home folder replaced in every string (module docstring); in
    the command line (``environment.argv``) the program by its name and any other absolute path by '…/' and its
    last part."""
    prefixes = _path_prefixes(data_dir)
    pattern = re.compile("|".join(re.escape(p) + r"(?=$|[/\\\s'\",:;)\]}])" for p, _ in prefixes))
    replace = dict(prefixes)

    def clean(value):
        if isinstance(value, str):
            return pattern.sub(lambda m: replace[m.group(0)], value)
        if isinstance(value, dict):
            return {clean(k): clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    out = clean(doc)
    argv = out["environment"].get("argv")
    if argv and all(isinstance(a, str) for a in argv):
        out["environment"]["argv"] = [os.path.basename(argv[0])] + [
            f"…/{os.path.basename(a.rstrip('/'))}" if os.path.isabs(a) else a for a in argv[1:]]
    return out


# ------------------------------------------------------------------ reading a claim

def corrections(claim: dict, claims: list[dict]) -> list[dict]:
    """The claims of the run that correct ``claim`` (``corrects`` names it)."""
    return [c for c in claims if c.get("corrects") == claim["id"]]


def reading(claim: dict, claims: list[dict]) -> tuple[str, str | None]:
    """(the claim's verdict, the verdict of its corrected form): the second is None unless the claim is refuted
    and corrected by claims of the run, and then it is the worst of their verdicts."""
    fixes = corrections(claim, claims)
    if claim["verdict"] != "refuted" or not fixes:
        return claim["verdict"], None
    return claim["verdict"], worst(Verdict(c["verdict"]) for c in fixes).value


def verdict_label(claim: dict, claims: list[dict]) -> str:
    verdict, corrected = reading(claim, claims)
    return f"{verdict} as written — corrected form {corrected}" if corrected else verdict


def check_counts(checks: list[dict]) -> dict[str, int]:
    """Checks by verdict, worst first, verdicts with none left out."""
    n = Counter(c["verdict"] for c in checks)
    return {v: n[v] for v in _ORDER if n[v]}


def counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {v}" for v, n in counts.items()) or "none"


def deciding_checks(claim: dict) -> list[dict]:
    """The checks that carry the claim's verdict (all of them when it is confirmed)."""
    return [c for c in claim["evidence"]["checks"] if c["verdict"] == claim["verdict"]]


def skipped_checks(claim: dict) -> list[dict]:
    return [c for c in claim["evidence"]["checks"] if c["verdict"] == "skipped"]


def _names(checks: list[dict]) -> str:
    return "; ".join(_shorten(c["name"], 80) for c in checks)


def opening_sentence(claim: dict, claims: list[dict], scale: str) -> str:
    """One plain sentence: what was tested, at what scale, what came out."""
    checks = claim["evidence"]["checks"]
    counts = check_counts(checks)
    n = len(checks)
    reduced = " (reduced)" if scale != "paper" else ""
    head = f"{claim['where']}, tested by {n} check{'s' if n != 1 else ''} at the {scale} scale{reduced}"
    verdict, corrected = reading(claim, claims)
    others = counts_text({v: k for v, k in counts.items() if v != verdict})
    others = "" if others == "none" else f", {others}"
    if corrected:
        fixes = ", ".join(c["id"] for c in corrections(claim, claims))
        came = (f"the statement as written fails ({counts['refuted']} refuted: {_names(deciding_checks(claim))}"
                f"{others.replace(',', ';', 1)}) and its corrected form ({fixes}) is {corrected}")
    elif verdict == "error":
        came = f"the check failed with an error ({claim['evidence']['summary']})"
    elif verdict == "skipped":
        came = f"nothing could run here ({'; '.join(c.get('note') or c['name'] for c in checks)})"
    elif verdict == "confirmed" and len(counts) == 1:
        came = f"all {n} confirmed" if n > 1 else "confirmed"
    elif verdict == "confirmed":
        came = counts_text(counts)
    else:
        came = f"{counts[verdict]} {verdict} ({_names(deciding_checks(claim))}){others}"
    return f"{head}: {came}."


def device_text(env: dict) -> str:
    """The device the checks ran on (``run_device``, when recorded) and the machine's processor or GPU."""
    d, run = env.get("device"), env.get("run_device")
    if not isinstance(d, dict):
        machine = str(d) if d else "unknown device"
    elif d.get("cuda_available") and d.get("gpu") and run != "cpu":
        machine = f"GPU {d['gpu']}"
    else:
        cores = f", {d['cpu_count']} cores" if d.get("cpu_count") else ""
        machine = f"CPU {d.get('cpu') or ''}".strip() + cores
    return f"{run} ({machine})" if run else machine


def _collect(value, names: tuple[str, ...], found: set) -> None:
    """Every scalar found under one of ``names`` anywhere in ``value`` (lists under the name: each item)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k in names:
                for item in v if isinstance(v, list) else [v]:
                    if isinstance(item, (str, int, float)) and not isinstance(item, bool):
                        found.add(item)
            else:
                _collect(v, names, found)
    elif isinstance(value, list):
        for v in value:
            _collect(v, names, found)


def setup_facts(claim: dict, env: dict) -> list[str]:
    """What the evidence was computed from: the device, the units (with their seeds, data sets and models, where
    their parameters name them), and the time taken."""
    facts = [device_text(env)]
    units = claim.get("units") or []
    if units:
        kinds = Counter(u["kind"] for u in units)
        facts.append(f"{len(units)} unit{'s' if len(units) != 1 else ''} of {len(kinds)} "
                     f"kind{'s' if len(kinds) != 1 else ''}")
        for one, many, names in (("seed", "seeds", ("seed", "seeds")), ("data", "data", ("dataset", "datasets")),
                                 ("model", "models", ("model", "models")), ("epochs", "epochs", ("epochs",)),
                                 ("training subset", "training subsets", ("subset",))):
            found: set = set()
            _collect([u["params"] for u in units], names, found)
            if found:
                values = sorted(found, key=lambda v: (isinstance(v, str), v))
                facts.append(f"{one if len(values) == 1 else many} {', '.join(str(v) for v in values)}")
    facts.append(f"{claim['seconds']:.1f} s")
    return facts


# ------------------------------------------------------------------ text forms

_SUPERSCRIPT = dict(zip("0123456789+−-=()niTt", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ⁿⁱᵀᵗ"))
_SUBSCRIPT = dict(zip("0123456789+−-=()aeijkmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑᵢⱼₖₘₙₒₚᵣₛₜᵤᵥₓ"))
_SCRIPT = re.compile(r"([\^_])\{([^{}]*)\}")


def plain_scripts(text: str) -> str:
    """LaTeX-like ``x^{...}`` and ``x_{...}`` for plain text: Unicode super- and subscripts where every character
    has one (``e^{−50}`` -> e⁻⁵⁰), parentheses otherwise (``ℝ^{m×K}`` -> ℝ^(m×K))."""
    def one(m):
        table = _SUPERSCRIPT if m.group(1) == "^" else _SUBSCRIPT
        inner = m.group(2)
        if inner and all(ch in table for ch in inner):
            return "".join(table[ch] for ch in inner)
        return f"{m.group(1)}({inner})" if len(inner) > 1 else m.group(1) + inner
    return _SCRIPT.sub(one, text)


def _h(text) -> str:
    """Escaped HTML, with ``^{...}`` / ``_{...}`` as <sup>/<sub> (nested ones included)."""
    out = html.escape(str(text))
    while True:
        new = _SCRIPT.sub(lambda m: f"<{'sup' if m.group(1) == '^' else 'sub'}>{m.group(2)}"
                                    f"</{'sup' if m.group(1) == '^' else 'sub'}>", out)
        if new == out:
            return out
        out = new


def _md(text) -> str:
    """Plain text for markdown: LaTeX-like scripts made readable, line breaks kept (two spaces before each), and a
    '<' that could open an HTML tag escaped (``<data dir>`` stays visible)."""
    return re.sub(r"<(?=[A-Za-z/!?])", r"\\<", plain_scripts(str(text))).replace("\n", "  \n")


def _table_code(text: str) -> str:
    """Text for a code span in a markdown table cell: only '|' needs its escape there."""
    return text.replace("|", "\\|")


def _cell(text) -> str:
    return _md(text).replace("|", "\\|").replace("  \n", " ").replace("\n", " ")


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def quantity_line(q: dict) -> str:
    s = f"{q['name']} = {_fmt(q['value'])}"
    if "relation" in q:
        tol = f" ± {_fmt(q['tolerance'])}" if q.get("tolerance") else ""
        s += f"  (must be {q['relation']} {_fmt(q['bound'])}{tol}: {'holds' if q['holds'] else 'FAILS'})"
    if q.get("note"):
        s += f"  — {q['note']}"
    return s


def _shorten(text: str, limit: int = 70) -> str:
    """``text`` cut at a word boundary before ``limit`` characters, with an ellipsis when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + " …"


def _decided_by(claim: dict) -> list[dict]:
    """The checks named in the summary table: the deciding ones, or none when every check is confirmed."""
    if claim["verdict"] == "confirmed":
        return []
    return deciding_checks(claim)


def _more(checks: list[dict], shown: int = 2) -> str:
    """'; and N more' for the deciding checks a summary row leaves out."""
    return f"; and {len(checks) - shown} more" if len(checks) > shown else ""


def _decision(check: dict) -> str:
    """A deciding check in the summary table: its name, and for an error its cause."""
    return f"{check['name']}: {check['note']}" if check["verdict"] == "error" and check.get("note") else check["name"]


def _commit(env: dict) -> tuple[str, str]:
    git = env.get("git") or {}
    commit = git.get("commit")
    if not commit:
        return "no git commit", git.get("note", "")
    return commit[:12] + (" (with uncommitted changes)" if git.get("dirty") else ""), commit


def _expectation(claim: dict) -> str:
    """The expected verdict beside the verdict: "expected refuted: as expected" (or ": DIFFERS"); "" when none."""
    expect = claim.get("expect")
    if not expect:
        return ""
    return f"expected {expect}: " + ("as expected" if expect == claim["verdict"] else "DIFFERS")


def _evidence_title(claim: dict) -> str:
    ev = claim["evidence"]
    n = len(ev["checks"])
    parts = [f"{n} check{'s' if n != 1 else ''} ({counts_text(check_counts(ev['checks']))})", "statement", "summary"]
    if len(ev["plots"]) > 1:
        parts.append(f"{len(ev['plots']) - 1} more figure{'s' if len(ev['plots']) > 2 else ''}")
    if claim.get("units"):
        parts.append(f"{len(claim['units'])} unit{'s' if len(claim['units']) > 1 else ''}")
    return "Evidence: " + ", ".join(parts)


def _flat(params: dict, prefix: str = "") -> dict:
    """Nested parameter dicts as one level of dotted keys (lists and other values kept whole)."""
    out = {}
    for k, v in params.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def unit_table(units: list[dict]) -> tuple[dict, list[tuple[str, str, dict]]]:
    """The parameters shared by every unit of a claim (dotted keys, when there are two units or more), and per unit
    its kind, key and the parameters it does not share: a grid of runs shows what varies instead of repeating every
    configuration in full."""
    flats = [_flat(u["params"]) for u in units]
    shared = ({k: v for k, v in flats[0].items() if all(k in f and f[k] == v for f in flats[1:])}
              if len(flats) > 1 else {})
    return shared, [(u["kind"], u["key"], {k: v for k, v in f.items() if k not in shared}) for u, f in zip(units, flats)]


def _params_text(params: dict) -> str:
    return json.dumps(params, ensure_ascii=False, separators=(", ", ": "))


def _all_checks(doc: dict) -> list[dict]:
    return [chk for c in doc["claims"] for chk in c["evidence"]["checks"]]


def _corrected_count(doc: dict) -> int:
    return sum(reading(c, doc["claims"])[1] == "confirmed" for c in doc["claims"])


def _relation(claim: dict, claims: list[dict]) -> str:
    """How the claim relates to another: the claim it corrects, or its corrections."""
    fixes = corrections(claim, claims)
    if fixes:
        return "corrected form: " + ", ".join(c["id"] for c in fixes)
    return f"corrects {claim['corrects']}" if claim.get("corrects") else ""


# ------------------------------------------------------------------ markdown

def render_markdown(doc: dict) -> str:
    env = doc["environment"]
    scale = env["scale"]
    commit, _ = _commit(env)
    claims, checks = doc["claims"], _all_checks(doc)
    corrected = _corrected_count(doc)
    lines = ["# advland consistency report", "",
             f"{len(claims)} claims at the **{scale}** scale, seed {env['seed']}, on {device_text(env)}; "
             f"commit `{commit}`, started {env.get('started')}.", ""]
    if scale != "paper":
        lines += [f"> **Reduced scale.** `{scale}` is {SCALE_READING.get(scale, 'not the papers’ scale')}.", ""]
    lines += [f"**Claims:** {counts_text({k: n for k, n in doc['totals'].items() if n})}"
              + (f" ({corrected} of them refuted as written only, the corrected form holding)" if corrected else "")
              + f". **Checks:** {counts_text(check_counts(checks))}.", ""]
    skipped = [(c, chk) for c in claims for chk in skipped_checks(c)]
    if skipped:
        lines += [f"**Skipped checks ({len(skipped)}):** "
                  + "; ".join(f"`{c['id']}`: {_md(chk['name'])} — {_md(chk.get('note') or 'no reason given')}"
                              for c, chk in skipped), ""]
    lines += ["| claim | verdict | checks | decided by | s |", "|---|---|---|---|---|"]
    for c in claims:
        fixes = ", ".join(f["id"] for f in corrections(c, claims))
        corrects = f"corrects {c['corrects']}" if c.get("corrects") else ""
        remarks = "; ".join(r for r in (fixes, corrects, _expectation(c)) if r)
        lines.append(f"| [`{c['id']}`](#{_anchor(c['id'])}) | **{verdict_label(c, claims)}**"
                     + (f" ({remarks})" if remarks else "")
                     + f" | {counts_text(check_counts(c['evidence']['checks']))} | "
                     + "; ".join(_cell(_shorten(_decision(chk), 60)) for chk in _decided_by(c)[:2])
                     + _more(_decided_by(c))
                     + f" | {c['seconds']:.1f} |")
    lines += ["", "**Verdicts.** " + " ".join(f"*{v}*: {t}." for v, t in LEGEND.items()), "", RULE, ""]
    for c in claims:
        lines += _claim_markdown(c, claims, env)
    lines += ["", "## Environment", "", "```json", json.dumps(env, indent=2, ensure_ascii=False), "```", ""]
    return "\n".join(lines)


def _anchor(claim_id: str) -> str:
    """The anchor GitHub gives the heading of a claim: its id, lower case, without punctuation but '-' and '_'."""
    return re.sub(r"[^a-z0-9 _-]", "", claim_id.lower())


def _claim_markdown(c: dict, claims: list[dict], env: dict) -> list[str]:
    ev = c["evidence"]
    lines = ["", f"## {c['id']}", "",
             f"**{verdict_label(c, claims)}** — {_md(opening_sentence(c, claims, env['scale']))}", ""]
    about = [f"*Rests on:* {_md(c['source'])}" if c.get("source") else "",
             f"*{_relation(c, claims).capitalize()}.*" if _relation(c, claims) else "",
             f"*{_expectation(c).capitalize()}.*" if _expectation(c) else ""]
    if any(about):
        lines += [" · ".join(a for a in about if a), ""]
    for chk in skipped_checks(c):
        lines += [f"**Skipped:** {_md(chk['name'])} — {_md(chk.get('note') or 'no reason given')}", ""]
    lines += ["*Setup:* " + " · ".join(setup_facts(c, env)), ""]
    figures = [(p, ev.get("captions", {}).get(p, "")) for p in ev["plots"]]
    if figures:
        lines += _figure_markdown(1, *figures[0])
    lines += ["<details>", f"<summary>{html.escape(_evidence_title(c))}</summary>", "",
              f"*{_md(c['where'])}*", "", "> " + _md(c["statement"]).replace("  \n", "  \n> "), "",
              f"`{plain_scripts(c['formula'])}`", "", f"**Summary.** {_md(ev['summary'])}", ""]
    if ev["scale_note"]:
        lines += [f"**Scale.** {_md(ev['scale_note'])}", ""]
    for chk in ev["checks"]:
        note = f" — {_md(chk['note'])}".replace("  \n", "  \n  ") if chk.get("note") else ""
        lines.append(f"- **{_md(chk['name'])}** (`{chk['key']}`): {chk['verdict']}{note}")
        lines += [f"  - {_md(quantity_line(q))}".replace("  \n", "  \n    ") for q in chk["evidence"]]
        if "counterexample" in chk:
            lines.append(f"  - counterexample: `{json.dumps(chk['counterexample'], ensure_ascii=False)[:1500]}`")
    for i, fig in enumerate(figures[1:], start=2):
        lines += [""] + _figure_markdown(i, *fig)
    if c.get("units"):
        shared, rows = unit_table(c["units"])
        if shared:
            lines += ["", f"Parameters of all {len(rows)} units: `{_params_text(shared)}`"]
        lines += ["", "| unit kind | key | parameters" + (" (the rest)" if shared else "") + " |", "|---|---|---|"]
        lines += [f"| `{kind}` | `{key}` | `{_table_code(_params_text(params))}` |" for kind, key, params in rows]
    traceback = ev["details"].get("traceback") if isinstance(ev["details"], dict) else None
    if traceback:
        lines += ["", "```", traceback.rstrip(), "```"]
    lines += ["", "</details>"]
    return lines


def _figure_markdown(number: int, path: str, text: str) -> list[str]:
    return [f"![Figure {number}]({path})", "", f"*Figure {number}.* {_md(text)}", ""]


# ------------------------------------------------------------------ HTML

_STYLE = (
    "body{font:15px/1.45 system-ui,sans-serif;max-width:80rem;margin:1.2rem auto;padding:0 1rem;color:#1f2328}"
    "h1{font-size:1.5rem;margin:.2rem 0 .4rem}h2{font-size:1.2rem;margin:.4rem 0}"
    "table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #d0d7de;padding:.25rem .5rem;"
    "vertical-align:top;text-align:left}th{background:#f6f8fa}"
    ".b{color:#fff;border-radius:.3rem;padding:.05rem .45rem;font-size:.85em;white-space:nowrap}"
    ".meta{color:#57606a;margin:.2rem 0}.scale{background:#fff8c5;border:1px solid #d4a72c;border-radius:.3rem;"
    "padding:.3rem .6rem;margin:.4rem 0}.lead{font-size:1.05em}.setup{color:#57606a;font-size:.9em}"
    ".skip{background:#f6f8fa;border-left:4px solid #57606a;padding:.2rem .6rem}"
    ".legend{font-size:.9em;color:#3d444d}.legend dt{display:inline;font-weight:600}"
    ".legend dd{display:inline;margin:0 .6rem 0 .3rem}"
    ".pre{white-space:pre-line}img{max-width:100%;max-height:32rem;width:auto;height:auto}figure{margin:.8rem 0}"
    "figcaption{font-size:.9em;color:#3d444d;white-space:pre-line}"
    "section{border-top:1px solid #d0d7de;margin-top:1.6rem;padding-top:.4rem}"
    "details{margin:.5rem 0}summary{cursor:pointer;color:#0969da}"
    "pre{background:#f6f8fa;padding:.5rem;overflow:auto;max-height:20rem;white-space:pre-wrap}"
    "li.fail{color:#b3261e}.checks>li{margin:.4rem 0}td.n{text-align:right}"
    "#summary{font-size:.9em}#summary td.w{white-space:nowrap}#summary td{padding:.15rem .45rem}")


def _badge(v: str, text: str | None = None) -> str:
    return f'<span class="b" style="background:{_COLOURS[v]}">{html.escape(text or v)}</span>'


def _label_badges(claim: dict, claims: list[dict]) -> str:
    verdict, corrected = reading(claim, claims)
    if corrected:
        return _badge(verdict, f"{verdict} as written") + " " + _badge(corrected, f"corrected form {corrected}")
    return _badge(verdict)


def render_html(doc: dict, images: dict[str, bytes]) -> str:
    """A self-contained page: the scale, totals, summary table and legend first, then each claim's sentence and key
    figure with its evidence folded."""
    e = html.escape
    env = doc["environment"]
    scale = env["scale"]
    commit, full = _commit(env)
    claims, checks = doc["claims"], _all_checks(doc)
    corrected = _corrected_count(doc)

    rows = []
    for c in claims:
        remarks = "; ".join(r for r in (f"corrects {c['corrects']}" if c.get("corrects") else "", _expectation(c)) if r)
        decided = "; ".join(f'<span title="{e(_decision(chk))}">{_h(_shorten(_decision(chk), 60))}</span>'
                            for chk in _decided_by(c)[:2]) + _more(_decided_by(c))
        rows.append(f'<tr><td class="w"><a href="#{e(c["id"])}"><code>{e(c["id"])}</code></a></td>'
                    f'<td class="w">{_label_badges(c, claims)}'
                    f'{"<br><small>" + e(remarks) + "</small>" if remarks else ""}</td>'
                    f'<td class="w">{e(counts_text(check_counts(c["evidence"]["checks"])))}</td><td>{decided}</td>'
                    f'<td class="n">{c["seconds"]:.1f}</td></tr>')
    claim_totals = " ".join(f"{_badge(k)} {n}" for k, n in doc["totals"].items() if n)
    check_totals = " ".join(f"{_badge(k)} {n}" for k, n in check_counts(checks).items())
    banner = (f'<p class="scale"><b>Reduced scale.</b> <code>{e(scale)}</code> is '
              f'{e(SCALE_READING.get(scale, "not the papers’ scale"))}.</p>' if scale != "paper" else "")
    skipped = [(c, chk) for c in claims for chk in skipped_checks(c)]
    skipped_line = (f'<p class="skip"><b>Skipped checks ({len(skipped)}):</b> '
                    + "; ".join(f'<a href="#{e(c["id"])}"><code>{e(c["id"])}</code></a>: {_h(chk["name"])} — '
                                f'<span class="pre">{_h(chk.get("note") or "no reason given")}</span>'
                                for c, chk in skipped) + "</p>") if skipped else ""
    legend = ('<details class="legend" open><summary>Verdicts</summary><dl>'
              + "".join(f"<dt>{_badge(v)}</dt><dd>{e(t)}.</dd>" for v, t in LEGEND.items())
              + f"</dl><p>{e(RULE)}</p></details>")
    head = (f"<h1>advland consistency report</h1>"
            f'<p class="meta">{len(claims)} claims at the <b>{e(scale)}</b> scale, seed {e(str(env["seed"]))}, on '
            f'{e(device_text(env))}; commit <code title="{e(full)}">{e(commit)}</code>, '
            f"started {e(str(env.get('started')))}</p>{banner}"
            f"<p>Claims: {claim_totals}"
            + (f" ({corrected} refuted as written only, the corrected form holding)" if corrected else "")
            + f" &nbsp; Checks: {check_totals}</p>{skipped_line}")
    table = ('<table id="summary"><tr><th>claim</th><th>verdict</th><th>checks</th><th>decided by</th><th>s</th></tr>'
             + "".join(rows) + "</table>")
    sections = "".join(_claim_html(c, claims, env, images) for c in claims)
    env_block = (f"<section><details><summary>Environment (seed, scale, versions, device, commit, command)"
                 f"</summary><pre>{e(json.dumps(env, indent=2, ensure_ascii=False))}</pre></details></section>")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>advland report ({e(scale)})</title><style>{_STYLE}</style></head><body>"
            f"{head}{table}{legend}{sections}{env_block}</body></html>")


def _figure_html(number: int, path: str, text: str, images: dict[str, bytes]) -> str:
    data = base64.b64encode(images[path]).decode()
    return (f'<figure><img alt="Figure {number}: {html.escape(text)}" src="data:image/png;base64,{data}">'
            f"<figcaption><b>Figure {number}.</b> {_h(text)}</figcaption></figure>")


def _claim_html(c: dict, claims: list[dict], env: dict, images: dict[str, bytes]) -> str:
    e = html.escape
    ev = c["evidence"]
    figures = [(p, ev.get("captions", {}).get(p, "")) for p in ev["plots"]]
    checks = []
    for chk in ev["checks"]:
        qs = "".join(f'<li{" class=fail" if q.get("holds") is False else ""}><span class="pre">{_h(quantity_line(q))}'
                     f"</span></li>" for q in chk["evidence"])
        ce = (f"<details><summary>counterexample</summary><pre>"
              f"{e(json.dumps(chk['counterexample'], indent=1, ensure_ascii=False))}</pre></details>"
              if "counterexample" in chk else "")
        note = f' — <span class="pre">{_h(chk["note"])}</span>' if chk.get("note") else ""
        checks.append(f"<li>{_badge(chk['verdict'])} <b>{_h(chk['name'])}</b> <code>{e(chk['key'])}</code>{note}"
                      f"<ul>{qs}</ul>{ce}</li>")
    shared, rows = unit_table(c.get("units") or [])
    units = ("<details><summary>Units: the computations the evidence was decided from</summary>"
             + (f"<p>Parameters of all {len(rows)} units: <code>{e(_params_text(shared))}</code></p>" if shared else "")
             + "<table><tr><th>kind</th><th>key</th><th>parameters" + (" (the rest)" if shared else "") + "</th></tr>"
             + "".join(f"<tr><td><code>{e(kind)}</code></td><td><code>{e(key)}</code></td>"
                       f"<td><code>{e(_params_text(params))}</code></td></tr>" for kind, key, params in rows)
             + "</table></details>") if rows else ""
    traceback = ev["details"].get("traceback") if isinstance(ev["details"], dict) else None
    skips = "".join(f'<p class="skip"><b>Skipped:</b> {_h(chk["name"])} — '
                    f'<span class="pre">{_h(chk.get("note") or "no reason given")}</span></p>'
                    for chk in skipped_checks(c))
    about = " · ".join(a for a in (f"<b>Rests on:</b> {_h(c['source'])}" if c.get("source") else "",
                                   e(_relation(c, claims)), e(_expectation(c))) if a)
    return (f'<section id="{e(c["id"])}"><h2><code>{e(c["id"])}</code> {_label_badges(c, claims)}</h2>'
            f'<p class="lead">{_h(opening_sentence(c, claims, env["scale"]))}</p>{skips}'
            + (f'<p class="setup">{about}</p>' if about else "")
            + f'<p class="setup">{e(" · ".join(setup_facts(c, env)))}</p>'
            + (_figure_html(1, *figures[0], images) if figures else "")
            + f"<details><summary>{e(_evidence_title(c))}</summary>"
            f'<p><i>{_h(c["where"])}</i></p><blockquote class="pre">{_h(c["statement"])}</blockquote>'
            f'<p><code>{_h(c["formula"])}</code></p><p class="pre"><b>Summary.</b> {_h(ev["summary"])}</p>'
            + (f'<p class="pre"><b>Scale.</b> {_h(ev["scale_note"])}</p>' if ev["scale_note"] else "")
            + f'<ol class="checks">{"".join(checks)}</ol>'
            + "".join(_figure_html(i, *fig, images) for i, fig in enumerate(figures[1:], start=2))
            + units + (f"<pre>{e(traceback)}</pre>" if traceback else "") + "</details></section>")


# ------------------------------------------------------------------ writing

def write_report(results: list[Result], environment: dict, out_dir: str | Path) -> dict:
    """Write DIR/claims.json, DIR/report.md, DIR/report.html and DIR/plots/*.png atomically."""
    out_dir = Path(out_dir)
    doc = document(results, environment)
    images = {plot_path(r.claim.id, stem): png_bytes(figure_parts(value, stem)[0])
              for r in results for stem, value in r.outcome.plots.items()}

    def fill(staging: Path) -> None:
        (staging / "plots").mkdir()
        for rel, data in images.items():
            (staging / rel).write_bytes(data)
        (staging / "claims.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (staging / "report.md").write_text(render_markdown(doc), encoding="utf-8")
        (staging / "report.html").write_text(render_html(doc, images), encoding="utf-8")

    replace_folder(out_dir, fill, kind="report")
    return {"dir": str(out_dir), "json": str(out_dir / "claims.json"), "markdown": str(out_dir / "report.md"),
            "html": str(out_dir / "report.html"), "plots": sorted(images)}
