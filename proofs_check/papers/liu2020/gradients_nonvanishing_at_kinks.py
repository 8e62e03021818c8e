"""liu2020.gradients-nonvanishing-at-kinks: our corrected reading of the slides' bullet "The gradients are
non-vanishing": under SGD the gradient keeps a plateau ∝ ε exactly where a finite minimizer sits on a kink of
ε||w||_q (ℓ∞: zero coordinates; ℓ2: w* = 0, i.e. ε >= ε̄), and vanishes like at ε = 0 elsewhere (ℓ2 below ε̄, where
the adversarial loss is differentiable near w*, and ε-robustly separable data, where the iterates diverge).

Decided on the plateau gradients of the SGD unit of convergence.py.
"""
from __future__ import annotations

from scipy.stats import spearmanr

from ...figures import legend_beside, panels
from ...model import Check, Context, Outcome, Quantity, unit_results
from ...registry import claim
from ._common import summary
from .convergence import EPS_T, plateaus, scale_note, units as convergence_units


def units(ctx: Context) -> dict:
    return {"sgd": convergence_units(ctx)["sgd"]}


def plan(ctx: Context) -> list:
    return list(units(ctx).values())


def plateau_checks(sgd: dict) -> list[Check]:
    """ε = 0 converges (the control); ℓ∞ keeps a plateau ∝ ε (kink coordinates); ℓ2 beyond ε̄ too; off the kinks the
    plateau stays at the ε = 0 noise floor or shrinks with T."""
    pl, floor = plateaus(sgd), sgd["clean plateau"]
    eps_inf = [run["eps"] for run in sgd["runs"] if run["p"] == "inf"]
    inf_eps, inf_plateau = [0.0, *eps_inf], [floor, *(pl["T"][("inf", e)] for e in eps_inf)]
    eps_bar2, eps_big = sgd["eps_bar_l2"], sgd["eps_big"]
    converges = Check.from_quantities("ε = 0 converges: the plateau gradient shrinks when T grows 4×", [
        Quantity("plateau ||∇L_0|| at 4T / at T", pl["persist"][("inf", 0.0)], bound=0.85, relation="<=",
                 note=f"{floor:.4g} -> {pl['4T'][('inf', 0.0)]:.4g}; SGD noise floor ∝ α^½ ∝ T^(-1/4)")],
        key="eps-0-converges")
    linf = Check.from_quantities(
        "ℓ∞ (uninformative coordinates pinned at w_j = 0): the plateau gradient grows with ε and persists", [
            Quantity("Spearman ρ(ε, plateau ||∇L_ε||), ℓ∞", float(spearmanr(inf_eps, inf_plateau)[0]), bound=0.9,
                     relation=">=",
                     note="plateaus " + ", ".join(f"{e:g}: {v:.4f}" for e, v in zip(inf_eps, inf_plateau))),
            *(Quantity(f"plateau / ε=0 noise floor, ℓ∞ ε={e:g}", pl["T"][("inf", e)] / floor, bound=3.0,
                       relation=">=") for e in eps_inf),
            Quantity(f"plateau at 4T / at T, ℓ∞ ε={EPS_T}", pl["persist"][("inf", EPS_T)], bound=0.85, relation=">=")],
        key="linf-plateau-persists")
    beyond = Check.from_quantities(
        f"ℓ2 beyond ε̄ = ||mean y x||_2 = {eps_bar2:.3f} (w* = 0, the kink of ||w||_2): the gradient does not vanish", [
            Quantity(f"plateau / ε=0 noise floor, ℓ2 ε={eps_big:g}", pl["T"][("2", eps_big)] / floor, bound=3.0,
                     relation=">=")], key="l2-beyond-eps-bar")
    sep_T, sep_4T = sgd["separable"]
    below = [run["eps"] for run in sgd["runs"] if run["p"] == "2" and run["eps"] < eps_bar2]
    off = Check.from_quantities(
        "off the kinks the gradient vanishes like at ε = 0 (ℓ2 below ε̄, separable data)", [
            *(Quantity(f"plateau / ε=0 noise floor, ℓ2 ε={e:g} < ε̄", pl["T"][("2", e)] / floor, bound=3.0,
                       relation="<") for e in below),
            Quantity(f"plateau at 4T / at T, ℓ2 ε={EPS_T}", pl["persist"][("2", EPS_T)], bound=0.85, relation="<="),
            Quantity(f"plateau at 4T / at T, ℓ∞ ε={EPS_T}, separable data (robust margin 1 > ε)", sep_4T / sep_T,
                     bound=0.85, relation="<=", note=f"{sep_T:.4g} -> {sep_4T:.4g}")],
        key="off-kinks-vanish")
    return [converges, linf, beyond, off]


def decide(ctx: Context, results) -> Outcome:
    u = units(ctx)
    sgd = unit_results(u, results)["sgd"]
    checks = plateau_checks(sgd)
    floor = sgd["clean plateau"]
    inf_plateau = [floor, *(run["plateau"] for run in sgd["runs"] if run["p"] == "inf")]
    return Outcome(summary=summary(checks, {}) + (f" ℓ∞ plateau {inf_plateau[0]:.3g} (ε = 0) -> {inf_plateau[-1]:.3g} "
                                                  "(largest ε)."),
                   checks=checks, scale_note=scale_note(sgd, u["sgd"].params))


def plot(ctx: Context, results) -> dict:
    """The plateau gradient against ε (ℓ∞, ℓ2; at T and 4T; separable data)."""
    u = units(ctx)
    sgd, T = unit_results(u, results)["sgd"], u["sgd"].params["T"]
    pl, floor = plateaus(sgd), sgd["clean plateau"]
    fig, (ax,) = panels(("Does the gradient vanish under adversarial training?", "ε",
                         "plateau full-batch ||∇L_ε|| (RMS, last quarter)"), size=(8.5, 4), title_size=11)
    for p, marker in (("inf", "o-"), ("2", "s-")):
        eps = [run["eps"] for run in sgd["runs"] if run["p"] == p]
        ax.plot([0.0, *eps], [floor, *(pl["T"][(p, e)] for e in eps)], marker,
                label=f"ℓ{'∞' if p == 'inf' else p}, T={T}")
    for p, marker in (("inf", "^"), ("2", "v")):  # one series (one marker) per threat
        points = sorted((e, v) for (q, e), v in pl["4T"].items() if q == p)
        if points:
            ax.plot(*zip(*points), marker, color="k", ls="none", label=f"ℓ{'∞' if p == 'inf' else p}, T={4 * T}")
    ax.plot([EPS_T, EPS_T], sgd["separable"], "x--", color="purple", label=f"ℓ∞ separable data, T={T} -> {4 * T}")
    ax.axvline(sgd["eps_bar_l2"], color="grey", ls=":", label="ℓ2 threshold ε̄ (w* = 0 beyond)")
    ax.set_yscale("log")
    legend_beside(ax)
    return {"liu2020_convergence_plateau": fig}


CLAIM = claim(
    "liu2020.gradients-nonvanishing-at-kinks",
    where="Liu et al. 2020, the bullets after the Theorem (Convergence), eq. 12 (slides, 'Why smoothness matters?')",
    statement="Under SGD the adversarial gradient keeps a plateau ∝ ε that does not shrink as T grows exactly where "
              "a finite minimizer sits on a kink of ε||w||_q (ℓ∞: zero coordinates; ℓ2: ε >= ε̄, w* = 0); elsewhere "
              "it vanishes like at ε = 0.",
    formula="plateau ||∇L_ε|| ∝ ε at kinks of ε||w||_q; → 0 as T grows elsewhere",
    tags=("theory", "convergence"),
    source="our reading: a corrected version of the slides' bullet 'The gradients are non-vanishing'",
    corrects="liu2020.gradients-nonvanishing-every-eps",
    expect="confirmed",
)(plan=plan, decide=decide, plot=plot)
