"""The consistency report: claims.json (schema in report_schema.json), report.md, report.html, plots/*.png.

Rendering is pure (``document``, ``render_markdown``, ``render_html``); ``write_report`` is the only I/O,
and it is atomic (``advland.outputs.replace_folder``): everything is written into a staging folder beside DIR
which then replaces DIR, so a crash or a kill never leaves a half-written report.
"""
from __future__ import annotations

import base64
import html
import io
import json
from collections import Counter
from pathlib import Path

from advland.outputs import replace_folder

from .model import Verdict, to_jsonable
from .runner import Result

SCHEMA_PATH = Path(__file__).with_name("report_schema.json")
_ORDER = [v.value for v in (Verdict.ERROR, Verdict.REFUTED, Verdict.INCONCLUSIVE, Verdict.CONFIRMED, Verdict.SKIPPED)]
_COLOURS = {"confirmed": "#1b7f3b", "refuted": "#b3261e", "inconclusive": "#9a6700", "skipped": "#57606a",
            "error": "#6f42c1"}


def plot_path(claim_id: str, stem: str) -> str:
    return f"plots/{claim_id.replace('.', '__')}__{stem}.png"


def png_bytes(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def document(results: list[Result], environment: dict) -> dict:
    """The claims.json document (see report_schema.json). Each claim lists its units (kind, version, key, params):
    the computations whose stored numbers its evidence was decided from."""
    claims = []
    for r in results:
        o = r.outcome
        claims.append({
            **r.claim.describe(),
            "verdict": o.verdict.value,
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
    totals = Counter(c["verdict"] for c in claims)
    return {"schema_version": 1, "totals": {k: totals.get(k, 0) for k in _ORDER}, "claims": claims,
            "environment": to_jsonable(environment)}


def deciding_checks(claim: dict) -> str:
    """What decided a claim's verdict, for the summary table: the checks that carry the verdict."""
    checks = claim["evidence"]["checks"]
    hits = [c["name"] for c in checks if c["verdict"] == claim["verdict"]]
    if claim["verdict"] == "confirmed":
        skipped = sum(c["verdict"] == "skipped" for c in checks)
        return f"{len(hits)} of {len(checks)} checks confirmed" + (f", {skipped} skipped" if skipped else "")
    return "; ".join(hits)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _quantity_line(q: dict) -> str:
    s = f"{q['name']} = {_fmt(q['value'])}"
    if "relation" in q:
        tol = f" ± {_fmt(q['tolerance'])}" if q.get("tolerance") else ""
        s += f"  (must be {q['relation']} {_fmt(q['bound'])}{tol}: {'holds' if q['holds'] else 'FAILS'})"
    if q.get("note"):
        s += f"  — {q['note']}"
    return s


def render_markdown(doc: dict) -> str:
    env = doc["environment"]
    lines = ["# advland consistency report", "",
             f"seed {env['seed']}, scale `{env['scale']}`, commit `{env['git'].get('commit')}`"
             f"{' (dirty)' if env['git'].get('dirty') else ''}, started {env.get('started')}", "",
             "| verdict | count |", "|---|---|"]
    lines += [f"| {k} | {n} |" for k, n in doc["totals"].items()]
    lines += ["", "| claim | verdict | decided by | seconds |", "|---|---|---|---|"]
    lines += [f"| `{c['id']}` | **{c['verdict']}** | {deciding_checks(c)} | {c['seconds']:.1f} |"
              for c in doc["claims"]]
    for c in doc["claims"]:
        ev = c["evidence"]
        lines += ["", f"## `{c['id']}` — {c['verdict']}", "", f"*{c['where']}*", "", c["statement"], "",
                  f"`{c['formula']}`", "", f"**Summary.** {ev['summary']}", ""]
        if ev["scale_note"]:
            lines += [f"**Scale.** {ev['scale_note']}", ""]
        for chk in ev["checks"]:
            lines.append(f"- **{chk['name']}** (`{chk['key']}`): {chk['verdict']}"
                         + (f" — {chk['note']}" if chk.get("note") else ""))
            lines += [f"  - {_quantity_line(q)}" for q in chk["evidence"]]
            if "counterexample" in chk:
                lines.append(f"  - counterexample: `{json.dumps(chk['counterexample'])[:1500]}`")
        lines += [f"![{p}]({p})" for p in ev["plots"]]
    lines += ["", "## Environment", "", "```json", json.dumps(env, indent=2), "```", ""]
    return "\n".join(lines)


def render_html(doc: dict, images: dict[str, bytes]) -> str:
    """A self-contained page: summary table first, then every claim with its checks and embedded plots."""
    e = html.escape
    env = doc["environment"]

    def badge(v: str) -> str:
        return f'<span class="b" style="background:{_COLOURS[v]}">{e(v)}</span>'

    rows = "".join(f'<tr><td><a href="#{e(c["id"])}"><code>{e(c["id"])}</code></a></td>'
                   f'<td>{badge(c["verdict"])}</td><td>{e(deciding_checks(c))}</td><td>{c["seconds"]:.1f}</td></tr>'
                   for c in doc["claims"])
    totals = " ".join(f"{badge(k)} {n}" for k, n in doc["totals"].items())
    sections = []
    for c in doc["claims"]:
        ev = c["evidence"]
        checks = []
        for chk in ev["checks"]:
            qs = "".join(f"<li>{e(_quantity_line(q))}</li>" for q in chk["evidence"])
            ce = (f"<details><summary>counterexample</summary><pre>{e(json.dumps(chk['counterexample'], indent=1))}"
                  f"</pre></details>") if "counterexample" in chk else ""
            note = f" — {e(chk['note'])}" if chk.get("note") else ""
            checks.append(f"<li><b>{e(chk['name'])}</b> <code>{e(chk['key'])}</code>: {badge(chk['verdict'])}{note}"
                          f"<ul>{qs}</ul>{ce}</li>")
        imgs = "".join(f'<figure><img alt="{e(p)}" src="data:image/png;base64,'
                       f'{base64.b64encode(images[p]).decode()}"><figcaption>{e(p)}</figcaption></figure>'
                       for p in ev["plots"])
        scale = f"<p><b>Scale.</b> {e(ev['scale_note'])}</p>" if ev["scale_note"] else ""
        sections.append(f'<section id="{e(c["id"])}"><h2><code>{e(c["id"])}</code> {badge(c["verdict"])}</h2>'
                        f'<p><i>{e(c["where"])}</i></p><p>{e(c["statement"])}</p><p><code>{e(c["formula"])}</code></p>'
                        f'<p><b>Summary.</b> {e(ev["summary"])}</p>{scale}<ul>{"".join(checks)}</ul>{imgs}</section>')
    style = ("body{font:15px/1.45 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#1f2328}"
             "table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:.3rem .6rem}"
             ".b{color:#fff;border-radius:.3rem;padding:.05rem .45rem;font-size:.85em}"
             "img{max-width:100%}figure{margin:1rem 0}section{border-top:1px solid #d0d7de;margin-top:2rem}"
             "pre{background:#f6f8fa;padding:.5rem;overflow:auto;max-height:20rem}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>advland report</title><style>{style}</style>"
            f"</head><body><h1>advland consistency report</h1><p>{totals}</p>"
            f"<p>seed {env['seed']}, scale <code>{e(env['scale'])}</code>, commit <code>{e(str(env['git'].get('commit')))}"
            f"</code>, started {e(str(env.get('started')))}</p>"
            f"<table><tr><th>claim</th><th>verdict</th><th>decided by</th><th>s</th></tr>{rows}</table>"
            f"{''.join(sections)}<h2>Environment</h2><pre>{e(json.dumps(env, indent=2))}</pre></body></html>")


def write_report(results: list[Result], environment: dict, out_dir: str | Path) -> dict:
    """Write DIR/claims.json, DIR/report.md, DIR/report.html and DIR/plots/*.png atomically."""
    out_dir = Path(out_dir)
    doc = document(results, environment)
    images = {plot_path(r.claim.id, stem): png_bytes(fig) for r in results for stem, fig in r.outcome.plots.items()}

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
