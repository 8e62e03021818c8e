"""What the commands print: lines wrapped to the terminal (never cut inside a word), flushed at once so that a log
shows them as they happen, and the closing account of a ``verify`` run (``verify_totals``).

Torch-free; tqdm (a dependency) keeps progress bars intact when a line is printed while one is running.
"""
from __future__ import annotations

import os
import shutil
import sys
import textwrap
from collections import Counter

ORDER = ("error", "refuted", "inconclusive", "confirmed", "skipped")   # worst first, as the claim model ranks them
FIX = "fix:"   # a line of a check's note starting with this says how to fix what stopped the check; it is shown


def width() -> int:
    """Columns to wrap at: the terminal's, else $COLUMNS, else 100; never below 40."""
    return max(40, shutil.get_terminal_size((100, 24)).columns)


def wrap(text: str, *, indent: str = "", first: str = "", columns: int | None = None) -> str:
    """``text`` wrapped at ``columns`` (default ``width()``), each paragraph (line of ``text``) on its own, words
    never broken; ``first`` starts the first line, ``indent`` the others."""
    columns = columns or width()
    out = []
    for i, line in enumerate(str(text).splitlines() or [""]):
        lead = first if i == 0 else indent
        out.append(textwrap.fill(line, width=columns, initial_indent=lead, subsequent_indent=indent,
                                 break_long_words=False, break_on_hyphens=False) or lead.rstrip())
    return "\n".join(out)


def say(text: str, *, indent: str = "", first: str = "", file=None) -> None:
    """Print ``text`` wrapped (``wrap``) and flushed, above any running progress bar. When the reader of the
    output has gone (``advland verify | head``), the rest of the output is dropped and the work goes on: a long
    run still writes its results."""
    from tqdm import tqdm

    stream = file or sys.stdout
    try:
        tqdm.write(wrap(text, indent=indent, first=first), file=stream)
        stream.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())


def counts(verdicts) -> str:
    """'3 refuted, 1 confirmed', worst first, zero counts left out."""
    c = Counter(verdicts)
    return ", ".join(f"{c[v]} {v}" for v in ORDER if c.get(v)) or "none"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _first_line(text: str) -> str:
    return (str(text).strip().splitlines() or [""])[0]


def verify_totals(results, *, selected: int | None = None) -> list[str]:
    """The closing lines of ``advland verify``: claims and checks by verdict; every claim in error and every skipped
    check with its reason (first line of its note) and the fix lines of that note (``FIX``); for an interrupted
    run (``selected`` claims chosen, fewer finished), how many finished."""
    checks = [(r.claim.id, c) for r in results for c in r.outcome.checks]
    lines = [f"{plural(len(results), 'claim')}: {counts(r.verdict.value for r in results)}",
             f"{plural(len(checks), 'check')}: {counts(c.verdict.value for _, c in checks)}"]
    if selected is not None and selected > len(results):
        lines.append(f"interrupted: {len(results)} of {selected} claims finished; the report holds those")
    for r in results:
        if r.verdict.value == "error":
            lines.append(f"error: {r.claim.id}: {_first_line(r.outcome.summary)} (traceback in the report's "
                         "claims.json)")
    skipped = [(cid, c) for cid, c in checks if c.verdict.value == "skipped"]
    for cid, c in skipped:
        lines.append(f"skipped: {cid} / {c.name}: {_first_line(c.note) or 'no reason given'}")
        lines += [f"  {line.strip()}" for line in str(c.note).splitlines()[1:] if line.strip().startswith(FIX)]
    return lines
