"""liu2020.convergence-proof: our reconstruction of the proof of eq. 12 (the slides show none): with
G = ||∇L_ε(θ_t)|| / (εL_θx), eq. 12 is Markov's inequality on (G − 1)² + 3 under the moment inequality
E[G² − 2G] <= 0, which SGD's iterates should meet for a sufficiently large T (theory/convergence.py derives it).

Checks: that the tail bound follows from the moment inequality for every law of G (a search over two-point laws
and the extremal tail 1/(γ − 1)²), and the moment inequality on the SGD iterates of convergence.py.
"""
from __future__ import annotations

from ...model import Context, Outcome, unit_results
from ...registry import claim
from ._common import summary
from .convergence import bound_checks, moment_check, scale_note, units as convergence_units


def units(ctx: Context, *, bound: str = "paper") -> dict:
    return convergence_units(ctx, bound=bound)


def plan(ctx: Context, **variant) -> list:
    return list(units(ctx, **variant).values())


def decide(ctx: Context, results, *, bound: str = "paper") -> Outcome:
    u = units(ctx, bound=bound)
    r = unit_results(u, results)
    checks = [*bound_checks(r["bound argument"]), moment_check(r["sgd"])]
    return Outcome(summary=summary(checks, {}), checks=checks, scale_note=scale_note(r["sgd"], u["sgd"].params))


CLAIM = claim(
    "liu2020.convergence-proof",
    where="Liu et al. 2020, Theorem (Convergence), eq. 12 (slides, 'Why smoothness matters?'): the argument behind it",
    statement="Eq. 12 follows from the moment inequality E[G² − 2G] <= 0 for every law of G = ||∇L_ε|| / (εL_θx) "
              "(Markov's inequality on (G − 1)² + 3), and SGD's randomly selected iterate meets that inequality.",
    formula="E[G² − 2G] <= 0 ⇒ P(G > γ) <= 1/(γ − 1)² <= 4/(γ² − 2γ + 4) for γ >= 2",
    tags=("theory", "convergence"),
    source="our reading: a reconstruction of the proof, which the slides do not show",
    expect="confirmed",
)(plan=plan, decide=decide)
