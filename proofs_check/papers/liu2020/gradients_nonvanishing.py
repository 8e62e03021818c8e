"""liu2020.gradients-nonvanishing-every-eps: the slides' bullet after eq. 12, "The gradients are non-vanishing",
read for every budget ε > 0 of adversarial training (our reading), on adversarial logistic regression under SGD.

Decided on the plateau gradients of the SGD unit of convergence.py: under ℓ2 below ε̄ the plateau stays at the ε = 0
noise floor, and on ε-robustly separable data it shrinks as T grows (the corrected reading is
gradients_nonvanishing_at_kinks.py).
"""
from __future__ import annotations

from ...model import Check, Context, Outcome, Quantity, unit_results
from ...registry import claim
from .convergence import EPS_T, plateaus, scale_note, units as convergence_units


def units(ctx: Context) -> dict:
    return {"sgd": convergence_units(ctx)["sgd"]}


def plan(ctx: Context) -> list:
    return list(units(ctx).values())


def every_eps_check(sgd: dict, T: int) -> Check:
    """'For every ε > 0 the gradient does not vanish': the plateau stays above 3× the ε = 0 noise floor under ℓ2 below
    ε̄, and does not shrink at 4T on separable data."""
    pl, floor, (sep_T, sep_4T) = plateaus(sgd), sgd["clean plateau"], sgd["separable"]
    final = {run["eps"]: run["final"] for run in sgd["runs"] if run["p"] == "2"}
    below = [run["eps"] for run in sgd["runs"] if run["p"] == "2" and run["eps"] < sgd["eps_bar_l2"]]
    vanish_q = [Quantity(f"plateau / ε=0 noise floor, ℓ2 ε={e:g} < ε̄", pl["T"][("2", e)] / floor, bound=3.0,
                         relation=">=") for e in below]
    vanish_ce = [{"p": 2, "eps": e, "T": T, "plateau": pl["T"][("2", e)], "eps0_noise_floor": floor,
                  "mean_final_w": final[e]} for e in below]
    vanish_q.append(Quantity(f"plateau at 4T / at T, ℓ∞ ε={EPS_T}, separable data (robust margin 1 > ε)",
                             sep_4T / sep_T, bound=0.85, relation=">=",
                             note=f"{sep_T:.4g} -> {sep_4T:.4g}: ||w|| grows, σ(−m) -> 0, so "
                                  "even the kink coordinates' gradient ε·mean σ(−m) vanishes"))
    vanish_ce.append({"p": "inf", "eps": EPS_T, "data": "separable", "plateau_T": sep_T, "plateau_4T": sep_4T, "T": T})
    return Check.from_quantities(
        "for every ε > 0 the gradient does not vanish", [
            *vanish_q,
            Quantity(f"plateau at 4T / at T, ℓ2 ε={EPS_T}", pl["persist"][("2", EPS_T)],
                     note="shrinks like the ε = 0 noise floor: the gradient vanishes as T grows")],
        counterexample=next((c for q, c in zip(vanish_q, vanish_ce) if not q.holds), None), key="every-eps",
        note="the plateau gradient stays ∝ ε only when a finite minimizer exists (data not ε-robustly separable) and "
             "sits on a kink of ε||w||_q (claim liu2020.gradients-nonvanishing-at-kinks)")


def decide(ctx: Context, results) -> Outcome:
    u = units(ctx)
    sgd = unit_results(u, results)["sgd"]
    check = every_eps_check(sgd, u["sgd"].params["T"])
    pl, floor, (sep_T, sep_4T) = plateaus(sgd), sgd["clean plateau"], sgd["separable"]
    return Outcome(
        summary=(f"For every ε > 0: {check.verdict.value}. Under ℓ2 below ε̄ the plateau gradient stays near the ε = 0 "
                 f"noise floor (x{pl['T'][('2', EPS_T)] / floor:.2f} at ε = {EPS_T}); on separable ℓ∞ data it "
                 f"shrinks with T (x{sep_4T / sep_T:.2f} for 4T)."),
        checks=[check], scale_note=scale_note(sgd, u["sgd"].params))


CLAIM = claim(
    "liu2020.gradients-nonvanishing-every-eps",
    where="Liu et al. 2020, the bullets after the Theorem (Convergence), eq. 12 (slides, 'Why smoothness matters?')",
    statement="In adversarial training the gradients are non-vanishing: for every ε > 0, SGD's full-batch gradient "
              "keeps a plateau that does not shrink as T grows.",
    formula="∀ε > 0: lim_T plateau ||∇L_ε(θ_t)|| > 0",
    tags=("theory", "convergence"),
    source="our reading of the slides' bullet 'The gradients are non-vanishing' (verified text) as holding for every "
           "ε > 0",
    expect="refuted",
)(plan=plan, decide=decide)
