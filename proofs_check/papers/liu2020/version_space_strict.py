"""liu2020.version-space-strict: bullet 2 of the version space with a strict inequality (our corrected reading).

The slides' bullet "∀W ∈ V_ε and W ≠ 0, lim_{γ→∞} g_ε(x, γW) = 0" fails for V_ε defined with '≤ 0' (claim
liu2020.version-space): members with a zero worst-case score keep g_ε(x, γW) >= log 2 along the ray. With every
worst-case score (w_i − w_y)ᵀx' < 0 for i ≠ y the limit is 0; this claim checks that reading with the limit search
of version_space.py.
"""
from __future__ import annotations

from ...model import Context, Outcome, unit_results
from ...registry import claim
from ._common import summary
from .version_space import limit_check, limit_unit

STATEMENT = "∀W with (w_i − w_y)ᵀx' < 0 ∀i ≠ y, ∀x' ∈ S_ε(x): lim_{γ→∞} g_ε(x, γW) = 0"


def units(ctx: Context) -> dict:
    return {"limit": limit_unit(ctx, strict=True)}


def plan(ctx: Context) -> list:
    return list(units(ctx).values())


def decide(ctx: Context, results) -> Outcome:
    u = units(ctx)
    r = unit_results(u, results)
    checks = [limit_check(r["limit"], u["limit"].params)]
    return Outcome(summary=summary(checks, {}) + " Searched: binary and 3-class models, ℓ∞ and ℓ2 (K = 2), exact g_ε.",
                   checks=checks,
                   scale_note="grid-valued hypothesis search; the statement is exact for linear models")


CLAIM = claim(
    "liu2020.version-space-strict",
    where="Liu et al. 2020, Definition (Version Space) eq. (6), second bullet (slides, Theoretical Analysis: Linear "
          "Model), with a strict inequality",
    statement="For every W whose worst-case scores are all negative, (w_i − w_y)ᵀx' < 0 for i ≠ y and every x' in "
              "S_ε(x), the adversarial loss along the ray γW tends to 0",
    formula=STATEMENT,
    tags=("theory", "linear"),
    source="our reading: bullet 2 with '< 0' for i ≠ y where the slides' definition has '≤ 0' for every i",
    corrects="liu2020.version-space",
    expect="confirmed",
)(plan=plan, decide=decide)
