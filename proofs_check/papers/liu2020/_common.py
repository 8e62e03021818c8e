"""Pieces shared by the claims of Liu et al. 2020: integer-grid problems for the searches over linear models
(version_space, bad_directions; integer-coded with ``search.digit_arrays``), checks resting on convex programs,
the outcome summary, and threat-norm names.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ...model import Check, Context, Verdict
from ...search import digit_arrays

INF = float("inf")
NORM_NAME = {INF: "ℓ∞", 2.0: "ℓ2"}


def p_name(p) -> str:
    """'inf' or the exponent ('2'), as the threat appears in check names and detail keys."""
    return "inf" if np.isinf(float(p)) else f"{float(p):g}"


def grid_dim(ctx: Context) -> int:
    """Largest input dimension of the grid problems (smoke keeps hypothesis's shrinking quick)."""
    return ctx.pick(smoke=2, cpu=3)


@st.composite
def grid_case(draw, configs, n_eps: int = 2, max_dim: int = 3):
    """A small problem on an integer grid, so that hypothesis shrinks to a readable minimal example: (K, p) from
    ``configs``, m <= max_dim inputs, N <= max_dim + 1 examples, entries of X and W in {−3..3}, some columns of W
    possibly copies of others (ties, down to a constant classifier), labels either drawn or given by W itself
    (then W classifies the clean data), ``n_eps`` budgets from {0, 1/4, …, 3}, sorted."""
    K, p = draw(st.sampled_from(configs))
    m, N = draw(st.integers(1, max_dim)), draw(st.integers(1, max_dim + 1))
    X, W = draw(digit_arrays((N, m))).astype(float), draw(digit_arrays((m, K))).astype(float)
    if draw(st.booleans()):
        W = W[:, draw(digit_arrays((K,), base=K)) % K]
    if draw(st.booleans()):
        y = np.argmax(X @ W, axis=1)
    else:
        y = draw(digit_arrays((N,), base=K)) % K
    eps = sorted(draw(st.integers(0, 12)) / 4 for _ in range(n_eps))
    return {"K": K, "p": p, "X": X, "y": y, "W": W, "eps": eps}


def program_status(result) -> dict:
    """What a check needs to know of a solved program (theory.multiclass.ProgramResult): solver, status, ok, and
    whether its minimizer lies on the box that bounds the program (then its value only bounds the minimum)."""
    return {"solver": result.solver, "status": result.status, "ok": result.ok, "at_box": result.at_box}


def program_check(name: str, quantities: list, programs: list[dict], *, key: str, note: str = "",
                  counterexample=None) -> Check:
    """A check decided by quantities that rest on convex programs (``program_status`` dicts): inconclusive if any
    program did not reach 'optimal' (the cause named), else confirmed/refuted by the quantities."""
    return Check.from_quantities(name, quantities, key=key, note=note, counterexample=counterexample,
                                 solvers=[(f"{r['solver']}: {r['status']}", r["ok"]) for r in programs])


def spread(W) -> float:
    """max_j (max_k W_jk − min_k W_jk): 0 exactly for a constant classifier."""
    W = np.asarray(W, dtype=float)
    return float((W.max(axis=-1) - W.min(axis=-1)).max())


def summary(checks: list[Check], explain: dict[str, str]) -> str:
    """The outcome's summary, computed from the verdicts: how many checks confirmed, which did not, and for each
    refuted check whose key is in ``explain``, that explanation."""
    counts = {v: [c.name for c in checks if c.verdict is v] for v in Verdict}
    parts = [f"{len(counts[Verdict.CONFIRMED])} of {len(checks)} checks confirmed"]
    parts += [f"{v.value}: {'; '.join(names)}" for v, names in counts.items()
              if names and v not in (Verdict.CONFIRMED, Verdict.SKIPPED)]
    parts += [explain[c.key] for c in checks if c.verdict is Verdict.REFUTED and c.key in explain]
    return ". ".join(parts) + "."
