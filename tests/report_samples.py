"""A fabricated run for the report tests: claims of every kind of reading, made in milliseconds.

``results(data_dir)``: a statement refuted as written with a confirmed correction (a claim of its own), a confirmed
claim with a skipped check whose two-line note names a file in the data folder and with training-like units, and
a claim whose check raised. ``environment(scale, data_dir)``: what ``verify`` records, with machine paths in it.
"""
from pathlib import Path

from matplotlib.figure import Figure

from advland.claims.model import Check, Outcome, Quantity, Unit
from advland.claims.registry import claim
from advland.claims.runner import Result, error_outcome

STATEMENT = "T_ε = ℝ^{m×K} and lim_{γ→∞} g_ε(x, γW) = 0"


def _figure(title: str, suptitle: str = "") -> Figure:
    fig = Figure(figsize=(5, 3))
    ax = fig.add_subplot()
    ax.plot([0, 1, 2], [2, 1, 0], marker="o")
    ax.set_title(title)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def _declare(id, outcome, **kw):
    return claim(id, where=f"Paper et al., Theorem {id[-1]}", statement=STATEMENT, formula="x^{2} <= e^{−50}",
                 **kw)(lambda ctx: outcome)


def results(data_dir: str) -> list[Result]:
    literal = Outcome(
        "The bullet fails as written.",
        [Check.from_quantities("bullet 2 as written", [Quantity("slack", -1.0, bound=0.0, relation=">=")],
                               key="as-written", counterexample={"seed": 3, "example": {"W": [[1.0, 0.0]]}}),
         Check.from_quantities("nesting", [Quantity("slack", 0.5, bound=0.0, relation=">=")], key="nesting")],
        plots={"rays": (_figure("g along rays"), "g_ε(x, γW) along rays of V_ε: it stays at log 2",
                        ["as-written"])},
        scale_note="toy data, m = 2")
    fixed = Outcome("Holds with strict inequality.",
                    [Check.from_quantities("strict bullet 2", [Quantity("slack", 0.1, bound=0.0, relation=">=")])],
                    plots={"strict": _figure("panel", suptitle="the limit along strict members")})
    partial = Outcome(
        "Confirmed where it ran.",
        [Check.from_quantities("synthetic", [Quantity("gap", 0.2, bound=0.0, relation=">=")], key="synthetic",
                               note="first line of the note\nsecond line of the note"),
         Check.skip("MNIST 3 vs 8", f"no MNIST under {data_dir}/mnist\nrun: advland data --fetch mnist",
                    key="mnist")])
    units = [Unit("t.train", {"config": {"seed": s, "dataset": "mnist", "model": "lenet"}}) for s in (0, 1)]
    return [Result(_declare("t.literal1", literal), literal, 1.5),
            Result(_declare("t.fixed2", fixed, corrects="t.literal1", source="our reading: strict inequality"),
                   fixed, 0.5),
            Result(_declare("t.partial3", partial), partial, 2.0, units),
            Result(_declare("t.broken4", None), error_outcome(RuntimeError(f"solver exploded in {data_dir}")), 0.1)]


def environment(scale: str = "smoke", data_dir: str = "/nonexistent/data") -> dict:
    return {"seed": 0, "scale": scale, "data_dir": data_dir, "started": "2026-01-01T00:00:00Z",
            "versions": {"numpy": "2"}, "device": {"cpu": "x86_64", "cpu_count": 2, "cuda_available": False},
            "git": {"commit": "0123456789abcdef0123456789abcdef01234567", "dirty": False},
            "argv": [str(Path.home() / ".venv" / "bin" / "advland"), "verify", "--data-dir", data_dir]}
