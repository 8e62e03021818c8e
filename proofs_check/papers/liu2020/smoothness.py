"""liu2020.smoothness: Theorem (Smoothness of g_ε), eq. 11 (Liu et al. 2020, slides "Nonlinear Model"), checked on
adversarial logistic regression with an exact inner maximum and certified constants (theory/smoothness.py).

Units: two hypothesis searches over pairs (θ1, θ2) and the targeted constructions (θ = ±hu passing through 0, the
gradient jump against ε, the curvature at ε = 0). ``factor`` (2 in the paper) and ``curvature_scale`` (1 = the
certified L_θθ) give false variants of eq. 11 for the tests.
"""
from __future__ import annotations

from dataclasses import asdict

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from advland.seeding import numpy_rng
from advland.theory import smoothness as sm

from ...figures import legend, panels
from ...model import Check, Context, Outcome, Quantity, hypothesis_seed, unit_kind, unit_results
from ...registry import claim
from ...search import SearchResult, search_counterexample
from ._common import p_name

THREATS = (2.0, np.inf)
TOL = 1e-9
STREAM = "liu2020.smoothness"  # prefix of the random streams
H = np.logspace(-1, -7, 7)  # half-distances h of the through-zero construction θ = ±hu
EPS_CONSTRUCTION = 0.3
EPS_GRID = np.array([0.05, 0.1, 0.2, 0.4, 0.8])  # budgets of the jump-vs-ε fit


def _flush(v):
    """Magnitudes below 1e-12 set to exactly 0, so that the search lands on the kinks of ||θ||_q (θ_j = 0)."""
    return np.where(np.abs(v) < 1e-12, 0.0, v) if np.ndim(v) else (0.0 if abs(v) < 1e-12 else v)


@st.composite
def _cases(draw):
    """(p, x, y, θ1, θ2, ε): θ2 drawn independently, near θ1, as −cθ1 (θ passes through 0) or as θ1 with one
    coordinate's sign flipped (for ℓ∞ that coordinate of x* jumps by 2ε)."""
    p = draw(st.sampled_from(THREATS))
    d = draw(st.integers(1, 4))
    el = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False, allow_subnormal=False).map(_flush)
    x = draw(hnp.arrays(float, d, elements=el))
    theta1 = draw(hnp.arrays(float, d, elements=el))
    kind = draw(st.sampled_from(("independent", "nearby", "through-zero", "one-sign-flip")))
    if kind == "independent":
        theta2 = draw(hnp.arrays(float, d, elements=el))
    elif kind == "nearby":
        theta2 = theta1 + draw(hnp.arrays(float, d, elements=st.floats(-1e-3, 1e-3, allow_subnormal=False)))
    elif kind == "through-zero":
        theta2 = -draw(st.floats(1e-3, 1.0)) * theta1
    else:
        j = draw(st.integers(0, d - 1))
        theta2 = theta1.copy()
        theta2[j] = -theta1[j]
    return {"p": p, "x": x, "y": draw(st.sampled_from((-1.0, 1.0))), "theta1": theta1, "theta2": _flush(theta2),
            "eps": draw(st.floats(0.0, 1.0, allow_subnormal=False)), "kind": kind}


def _case_gaps(case):
    """Gaps of g_ε between θ1, θ2 and the certified constants on the ball ||θ||_2 <= max(||θ1||, ||θ2||)."""
    dg, dgrad, dt = sm.pair_gaps(case["x"], case["y"], case["theta1"], case["theta2"], case["eps"], case["p"])
    radius = max(np.linalg.norm(case["theta1"]), np.linalg.norm(case["theta2"]))
    return dg, dgrad, dt, sm.lipschitz_constants(case["x"], case["eps"], case["p"], radius)


# ---- units ----

@unit_kind("liu2020.smoothness.first-order", version="2")
def first_order_search(*, seed: int, max_examples: int) -> dict:
    """(a) |g_ε(θ1) − g_ε(θ2)| <= L_θ||θ1 − θ2||: slack L_θ||Δθ|| − |Δg|."""

    def slack(case):
        dg, _, dt, L = _case_gaps(case)
        return L.L_theta * dt - dg

    return search_counterexample(_cases(), slack, seed=hypothesis_seed(seed, STREAM + "/first-order"),
                                 max_examples=max_examples, tolerance=TOL).as_dict()


@unit_kind("liu2020.smoothness.second-order", version="2")
def second_order_search(*, seed: int, max_examples: int, factor: float = 2.0, curvature_scale: float = 1.0) -> dict:
    """(b) ||∇g_ε(θ1) − ∇g_ε(θ2)|| <= curvature_scale·L_θθ||Δθ|| + factor·εL_θx: slack rhs − ||Δ∇||; also every
    (||Δθ||, ||Δ∇||/rhs, p) the search evaluated (the figure)."""
    ratios = []

    def slack(case):
        _, dgrad, dt, L = _case_gaps(case)
        rhs = L.smoothness_rhs(dt, case["eps"], factor, curvature_scale)
        if rhs > 0:
            ratios.append((dt, dgrad / rhs, p_name(case["p"])))
        return rhs - dgrad

    result = search_counterexample(_cases(), slack, seed=hypothesis_seed(seed, STREAM + "/second-order"),
                                   max_examples=max_examples, tolerance=TOL)
    return {"search": result.as_dict(), "ratios": ratios}


def _through_zero(x, u, eps, p, h) -> dict:
    """The antipodal construction θ = ±hu at one h: the gaps ||Δ∇||, ||Δθ|| and the certified constants."""
    t1, t2 = sm.antipodal_pair(u, h)
    _, dgrad, dt = sm.pair_gaps(x, 1.0, t1, t2, eps, p)
    return {"dgrad": dgrad, "dtheta": dt, "constants": asdict(sm.lipschitz_constants(x, eps, p, h * np.linalg.norm(u)))}


@unit_kind("liu2020.smoothness.constructions")
def constructions(*, seed: int) -> dict:
    """The targeted constructions at a random x ∈ ℝ³ and direction u: θ = ±hu for h = 1e-1..1e-7 (ε = 0.3), the
    jump at h = 1e-7 for several ε with the limit constant L_θx(θ → 0), and θ = ±1e-5·x/||x|| at ε = 0 (ℓ2)."""
    rng = numpy_rng(seed, STREAM + "/construction")
    x = rng.uniform(-1.5, 1.5, 3)
    u = rng.choice([-1.0, 1.0], 3) * rng.uniform(0.5, 1.5, 3)
    return {
        "x": x, "u": u, "eps": EPS_CONSTRUCTION, "h": H,
        "through zero": {p_name(p): [_through_zero(x, u, EPS_CONSTRUCTION, p, h) for h in H] for p in THREATS},
        "jump": {p_name(p): {"eps": EPS_GRID, "jump": [_through_zero(x, u, e, p, 1e-7)["dgrad"] for e in EPS_GRID],
                             "L_thetax at 0": sm.lipschitz_constants(x, 0.0, p, 0.0).L_thetax}  # c_p / 2
                 for p in THREATS},
        "curvature": _through_zero(x, x / np.linalg.norm(x), 0.0, 2.0, 1e-5),
    }


def units(ctx: Context, *, factor: float = 2.0, curvature_scale: float = 1.0) -> dict:
    n_search = ctx.pick(smoke=100, cpu=500)
    return {"first order": first_order_search.unit(seed=ctx.seed, max_examples=n_search),
            "second order": second_order_search.unit(seed=ctx.seed, max_examples=n_search, factor=factor,
                                                     curvature_scale=curvature_scale),
            "constructions": constructions.unit(seed=ctx.seed)}


def plan(ctx: Context, **variant) -> list:
    return list(units(ctx, **variant).values())


# ---- decide ----

def _rhs(row: dict, eps: float, factor: float, curvature_scale: float) -> float:
    """Eq. 11's right-hand side for a stored construction row (theory.smoothness.LipschitzConstants)."""
    constants = sm.LipschitzConstants(**{k: float(v) for k, v in row["constants"].items()})
    return constants.smoothness_rhs(row["dtheta"], eps, factor, curvature_scale)


def _ratios(construction: dict, factor: float, curvature_scale: float) -> dict:
    """||Δ∇|| / rhs along h for each threat (the curves of the figure and of the details)."""
    return {p: [r["dgrad"] / _rhs(r, construction["eps"], factor, curvature_scale) for r in rows]
            for p, rows in construction["through zero"].items()}


def through_zero_checks(construction: dict, factor: float, curvature_scale: float) -> list[Check]:
    """At θ = ±hu with the smallest h: the bound holds, is attained (ratio → 1), and needs its additive term."""
    curves = _ratios(construction, factor, curvature_scale)
    h, eps = construction["h"][-1], construction["eps"]
    bound_q, tight_q, needed_q, violation = [], [], [], None
    for p, rows in construction["through zero"].items():
        row = rows[-1]
        dgrad, dt, rhs = row["dgrad"], row["dtheta"], _rhs(row, eps, factor, curvature_scale)
        L = row["constants"]
        tag = f"ℓ{p}, h={h:.0e}"
        bound_q.append(Quantity(f"||Δ∇|| / rhs at θ = ±hu ({tag})", dgrad / rhs, bound=1.0, relation="<=",
                                tolerance=TOL, note=f"||Δ∇|| = {dgrad:.6g}, rhs = {rhs:.6g}"))
        tight_q.append(Quantity(f"||Δ∇|| / rhs as h → 0 ({tag})", dgrad / rhs, bound=0.99, relation=">=",
                                note="ratios for h = 1e-1..1e-7: " + ", ".join(f"{v:.4f}" for v in curves[p])))
        needed_q.append(Quantity(f"||Δ∇|| / (L_θθ||Δθ||) ({tag})", dgrad / (L["L_thetatheta"] * dt), bound=1.0,
                                 relation=">", note="> 1: the gradient is not L_θθ-Lipschitz"))
        if dgrad > rhs * (1 + TOL) and violation is None:
            u = np.asarray(construction["u"], dtype=float)
            violation = {"p": p, "x": construction["x"], "y": 1.0, "theta1": h * u, "theta2": -h * u, "eps": eps,
                         "lhs": dgrad, "rhs": rhs, "L_thetatheta": L["L_thetatheta"], "L_thetax": L["L_thetax"]}
    return [
        Check.from_quantities(
            "(b) at the through-zero construction θ = ±hu (targeted)", bound_q, counterexample=violation,
            key="through-zero-construction",
            note="s(θ) flips entirely as θ passes through 0, so x* jumps by 2ε in ||·||_p; margins → 0 so "
                 "σ(−m) → 1/2."),
        Check.from_quantities(
            f"the additive term {factor:g}εL_θx is attained: ratio → 1 as Δθ → 0", tight_q,
            key="additive-term-attained",
            note=f"certified L_θx on ||θ|| <= h||u|| tends to c_p/2, the limit jump is εc_p (ε = {eps})."),
        Check.from_quantities(
            "an additive term is needed (the bound L_θθ||Δθ|| alone fails)", needed_q, key="additive-term-needed",
            note="the slides' 'second order smoothness of g is broken in g_ε'."),
    ]


def _jump_fits(construction: dict) -> dict:
    """Least-squares line of the gradient jump against ε, per threat: (slope, intercept)."""
    return {p: np.polyfit(np.asarray(j["eps"], dtype=float), np.asarray(j["jump"], dtype=float), 1)
            for p, j in construction["jump"].items()}


def jump_check(construction: dict, factor: float) -> Check:
    """The jump at a vanishing Δθ is factor·L_θx(θ → 0)·ε: fitted slope and a zero intercept."""
    slope_q = []
    for p, (slope, intercept) in _jump_fits(construction).items():
        j = construction["jump"][p]
        lim_lx = j["L_thetax at 0"]
        slope_q += [Quantity(f"fitted slope of the jump vs ε (ℓ{p})", slope, bound=factor * lim_lx, relation="==",
                             tolerance=1e-4 * lim_lx,
                             note=f"expected {factor:g}·L_θx(θ→0) = {factor:g}·c_p/2; "
                                  f"ε grid {np.asarray(j['eps'], dtype=float).tolist()}"),
                    Quantity(f"intercept of the fit (ℓ{p})", intercept, bound=0.0, relation="==", tolerance=1e-5)]
    return Check.from_quantities(f"the jump is proportional to ε with slope {factor:g}·L_θx", slope_q, key="jump-slope")


def curvature_check(construction: dict, factor: float, curvature_scale: float) -> Check:
    """L_θθ is attained at ε = 0: the ratio ||Δ∇|| / (curvature_scale·L_θθ||Δθ||) at θ = ±1e-5·x/||x|| reaches 1."""
    row = construction["curvature"]
    ratio = row["dgrad"] / _rhs(row, 0.0, factor, curvature_scale)
    return Check.from_quantities("L_θθ is attained at ε = 0 (curvature construction)", [
        Quantity(f"||Δ∇|| / ({curvature_scale:g}·L_θθ||Δθ||) at ε = 0, θ = ±1e-5·x/||x||", ratio, bound=1.0,
                 relation="<=", tolerance=TOL,
                 note="the Hessian ℓ''(0)xxᵀ has top eigenvalue ||x||²/4 = R²/4 at ε = 0"),
        Quantity("same ratio, attained (>= 0.99)", ratio, bound=0.99, relation=">=")], key="curvature-attained")


def decide(ctx: Context, results, *, factor: float = 2.0, curvature_scale: float = 1.0) -> Outcome:
    """Eq. 11 with certified constants: the two searches, then the constructions."""
    u = units(ctx, factor=factor, curvature_scale=curvature_scale)
    r = unit_results(u, results)
    n_search = u["first order"].params["max_examples"]
    construction = r["constructions"]
    checks = [
        SearchResult.from_dict(r["first order"]).to_check(
            "(a) |g_ε(θ1) − g_ε(θ2)| <= L_θ||θ1 − θ2|| (hypothesis search)", key="first-order-search",
            note="L_θ = σ(BR)·R certified on ||θ||_2 <= B = max(||θ1||, ||θ2||) and the ε-ball of x."),
        SearchResult.from_dict(r["second order"]["search"]).to_check(
            f"(b) ||∇g_ε(θ1) − ∇g_ε(θ2)|| <= {curvature_scale:g}·L_θθ||Δθ|| + {factor:g}εL_θx (hypothesis search)",
            key="second-order-search",
            note="L_θθ = R²/4, L_θx = σ(BR)c_p + R·B_q/4 (theory/smoothness.py), p in {2, ∞}, d <= 4."),
        *through_zero_checks(construction, factor, curvature_scale),
        jump_check(construction, factor),
        curvature_check(construction, factor, curvature_scale),
    ]
    curves, fits = _ratios(construction, factor, curvature_scale), _jump_fits(construction)
    return Outcome(
        summary=(f"Eq. 11 with certified constants ({curvature_scale:g}·L_θθ, {factor:g}εL_θx): the search over "
                 f"{n_search} cases {checks[0].verdict.value} (a) and {checks[1].verdict.value} (b); at θ = ±hu the "
                 f"ratio ||Δ∇|| / rhs reaches {curves['2'][-1]:.4f} (ℓ2) and {curves['inf'][-1]:.4f} (ℓ∞) as h → 0, "
                 f"and the jump grows as ε·c_p (fitted slopes {fits['2'][0]:.4f}, {fits['inf'][0]:.4f}): an "
                 f"additive term is needed and 2εL_θx is attained."),
        checks=checks,
        scale_note=(f"{n_search} searched examples per inequality, d <= 4, p in {{2, ∞}}; the theorem is exact "
                    "for this model, more examples would only tighten the search."),
        details={"construction": {"x": construction["x"], "u": construction["u"], "eps": construction["eps"],
                                  "h": construction["h"], "ratios": curves},
                 "constants": "L_θ = σ(BR)R, L_θθ = R²/4, L_θx = σ(BR)c_p + R·B_q/4, B = max ||θ_i||_2, "
                              "R = sup ||x'||_2 over the ε-ball, c_p = d^(1/2−1/p), B_q <= d^(1/q−1/2)B"})


# ---- plot ----

def plot(ctx: Context, results, *, factor: float = 2.0, curvature_scale: float = 1.0) -> dict:
    """The ratio ||Δ∇|| / rhs of the search and of the construction against ||Δθ||, and the jump against ε."""
    r = unit_results(units(ctx, factor=factor, curvature_scale=curvature_scale), results)
    construction = r["constructions"]
    curves, fits = _ratios(construction, factor, curvature_scale), _jump_fits(construction)
    hs, u = np.asarray(construction["h"], dtype=float), np.asarray(construction["u"], dtype=float)
    fig_r, (ax,) = panels(("Liu et al. eq. 11 on adversarial logistic regression", "||θ1 − θ2||_2",
                           f"||Δ∇g_ε|| / (L_θθ||Δθ|| + {factor:g}εL_θx)"), size=(7, 4), title_size=11)
    for tag, marker in (("2", "o"), ("inf", "x")):
        pts = np.array([(dt, ratio) for dt, ratio, t in r["second order"]["ratios"] if t == tag and dt > 0])
        if len(pts):
            ax.scatter(pts[:, 0], pts[:, 1], s=8, marker=marker, alpha=0.5, label=f"search, ℓ{tag}")
        ax.plot(2 * hs * np.linalg.norm(u), curves[tag], "-", lw=2, label=f"θ = ±hu construction, ℓ{tag}")
    ax.axhline(1.0, color="k", ls="--", lw=1, label="bound (ratio = 1)")
    ax.set_xscale("log")
    legend(ax, fontsize=7)
    fig_j, (ax,) = panels(("Gradient jump under a vanishing Δθ grows linearly in ε", "ε",
                           "gradient jump ||∇g_ε(hu) − ∇g_ε(−hu)||"), size=(6, 4), title_size=11)
    for tag, j in construction["jump"].items():
        eps_grid, (slope, intercept) = np.asarray(j["eps"], dtype=float), fits[tag]
        ax.plot(eps_grid, j["jump"], "o", label=f"||Δ∇|| at θ = ±1e-7·u, ℓ{tag}")
        ax.plot(eps_grid, slope * eps_grid + intercept, "-", lw=1, label=f"fit slope {slope:.4f} (ℓ{tag})")
        ax.plot(eps_grid, factor * j["L_thetax at 0"] * eps_grid, ":", lw=2, label=f"{factor:g}εL_θx(θ→0), ℓ{tag}")
    legend(ax, fontsize=7)
    return {"liu2020_smoothness_ratio": fig_r, "liu2020_smoothness_jump": fig_j}


CLAIM = claim(
    "liu2020.smoothness", where="Liu et al. 2020, Theorem (Smoothness of g_ε), eq. 11 (slides, 'Nonlinear Model')",
    statement=("If g satisfies the Lipschitzian smoothness conditions, the adversarial loss keeps the first-order "
               "Lipschitz constant and its gradient is Lipschitz up to an additive 2εL_θx."),
    formula="|g_ε(θ1)−g_ε(θ2)| <= L_θ||θ1−θ2||;  ||∇g_ε(θ1)−∇g_ε(θ2)|| <= L_θθ||θ1−θ2|| + 2εL_θx",
    tags=("theory", "smoothness"),
    source="slides, Assumption (Lipschitzian Smoothness) eq. 9/10 and Theorem (Smoothness of g_ε) eq. 11 (verified "
           "text); the constants are certified for adversarial logistic regression",
    expect="confirmed",
)(plan=plan, decide=decide, plot=plot)
