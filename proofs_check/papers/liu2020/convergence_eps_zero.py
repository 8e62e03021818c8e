"""liu2020.convergence-eps-zero: eq. 12 read over every budget ε >= 0, ε = 0 included (our reading: the formula
itself states no range for ε; the slides place it in adversarial training, ε > 0, claim liu2020.convergence).

At ε = 0 the threshold γεL_θx is 0, so the event is ||∇L_0(θ_t)|| > 0, which every SGD iterate meets. Decided on
the ε = 0 run of the SGD unit of convergence.py.
"""
from __future__ import annotations

from ...model import Context, Outcome, unit_results
from ...registry import claim
from .convergence import literal_check, scale_note, units as convergence_units


def units(ctx: Context) -> dict:
    return {"sgd": convergence_units(ctx)["sgd"]}


def plan(ctx: Context) -> list:
    return list(units(ctx).values())


def decide(ctx: Context, results) -> Outcome:
    u = units(ctx)
    sgd = unit_results(u, results)["sgd"]
    check = literal_check(sgd)
    return Outcome(summary=(f"Eq. 12 at ε = 0: {check.verdict.value}; the event ||∇L_0|| > 0 has frequency "
                            f"{sgd['literal']['freq']:.3f} over the iterates, against bounds <= 1."),
                   checks=[check], scale_note=scale_note(sgd, u["sgd"].params))


CLAIM = claim(
    "liu2020.convergence-eps-zero",
    where="Liu et al. 2020, Theorem (Convergence), eq. 12 (slides, 'Why smoothness matters?')",
    statement="Eq. 12 holds for every budget ε >= 0, the clean case ε = 0 included.",
    formula="ε >= 0, ∀γ >= 2: P(||∇L_ε(θ_t)|| > γεL_θx) < 4/(γ² − 2γ + 4)", tags=("theory", "convergence"),
    source="our reading: the formula of eq. 12 states no range for ε; the slides' next bullet places the theorem "
           "in adversarial training, ε > 0",
    expect="refuted",
)(plan=plan, decide=decide)
