"""liu2020.version-space: the version space V_ε of a linear model as the slides state it (Liu et al. 2020, slides
"Theoretical Analysis: Linear Model": Definition (Version Space) eq. (6)/(7), its two bullets, and the Proposition).

Math in theory/version_space.py and theory/multiclass.py; here the searches and constructions (units), the verdicts
(decide). Readings the text does not state are claims of their own, built on units declared here or beside them:
bullet 2 with a strict inequality (version_space_strict.py) and the robust-margin threshold above which V_ε is
trivial (version_space_threshold.py). A search's random stream is named by its check's title.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from advland.theory import multiclass as mc
from advland.theory import version_space as vs
from advland.theory.linear import dual_exponent

from ...model import Check, Context, Outcome, Quantity, hypothesis_seed, unit_kind, unit_results
from ...registry import claim
from ...search import SearchResult, digit_arrays, search_counterexample
from ._common import INF, grid_case, grid_dim, summary

CONFIGS = ((3, INF), (2, INF), (2, 2.0), (3, 2.0))
LIMIT_CONFIGS = ((3, INF), (2, INF), (2, 2.0))  # exact g_ε: vertex enumeration (p = ∞) or K = 2
LITERAL_CONFIGS = ((3, INF),)  # the slides state the bullet for the multiclass model, K >= 3

# ---- titles (also the names of the searches' random streams) ----


def nesting_title(reverse: bool = False) -> str:
    return "Proposition: V_ε2 ⊆ V_ε1 for ε1 <= ε2" + (" [reversed variant]" if reverse else "")


def membership_title(swap_norms: bool = False) -> str:
    return "membership: dual-norm closed form = vertex enumeration (ℓ∞)" + (
        " [swapped-norm variant]" if swap_norms else "")


def convexity_title(complement: bool = False) -> str:
    return "bullet 1: V_ε is a convex set" + (" [complement variant]" if complement else "")


def limit_title(strict: bool) -> str:
    return ("bullet 2 corrected (strict <, i ≠ y): lim_{γ→∞} g_ε(x, γW) = 0" if strict else
            "bullet 2 as written (V_ε with ≤ 0): ∀W ∈ V_ε, W ≠ 0: lim_{γ→∞} g_ε(x, γW) = 0")

# ---- units ----

@unit_kind("liu2020.version-space.nesting", version="2")
def nesting_search(*, seed: int, max_dim: int, max_examples: int, reverse: bool = False) -> dict:
    """Proposition: V_ε2 ⊆ V_ε1 for ε1 <= ε2 (reverse=True claims V_ε1 ⊆ V_ε2, a false variant). Hypothesis search
    over grid problems: W ∈ V_a must imply W ∈ V_b, membership by the dual-norm worst case (exactly 0 allowed)."""

    def slack(case):
        small, large = case["eps"]
        a, b = (small, large) if reverse else (large, small)
        args = (case["W"], case["X"], case["y"])
        constant = np.all(case["W"] == case["W"][..., :1])  # a constant classifier is in every V_ε
        if constant or vs.violation(*args, a, case["p"]) > 0:
            return None  # vacuous: the Proposition says nothing about W outside V_a
        return -float(vs.violation(*args, b, case["p"]))

    return search_counterexample(grid_case(CONFIGS, max_dim=max_dim), slack,
                                 seed=hypothesis_seed(seed, nesting_title(reverse)), max_examples=max_examples,
                                 tolerance=1e-12).as_dict()


@unit_kind("liu2020.version-space.membership", version="2")
def membership_search(*, seed: int, max_dim: int, max_examples: int, swap_norms: bool = False) -> dict:
    """Membership is computed independently of any program: the dual-norm worst case equals brute-force
    enumeration of the 2^m vertices of the ℓ∞ ball (swap_norms: the closed form with the ℓ∞ norm where the dual ℓ1
    belongs, a false variant)."""
    p_closed = dual_exponent(INF) if swap_norms else INF

    def slack(case):
        args = (case["W"], case["X"], case["y"], case["eps"][0])
        return -abs(float(vs.violation(*args, p_closed)) - float(vs.violation(*args, INF, brute_force=True)))

    strategy = grid_case(((3, INF), (2, INF)), n_eps=1, max_dim=max_dim)
    return search_counterexample(strategy, slack, seed=hypothesis_seed(seed, membership_title(swap_norms)),
                                 max_examples=max_examples, tolerance=1e-9).as_dict()


@unit_kind("liu2020.version-space.convexity", version="2")
def convexity_search(*, seed: int, max_dim: int, max_examples: int, complement: bool = False) -> dict:
    """Bullet 1: V_ε is convex. W1, W2 ∈ V_ε (W2 = ±W1 + a grid perturbation, possibly none) must give their midpoint
    (W1 + W2)/2 ∈ V_ε (midpoint convexity of a closed set is convexity). complement=True claims the set of
    non-members is convex (a false variant)."""

    @st.composite
    def pairs(draw):
        case = draw(grid_case(CONFIGS, n_eps=1, max_dim=max_dim))
        delta = draw(digit_arrays(case["W"].shape, base=9))
        sign, scale = draw(st.sampled_from([1.0, -1.0])), draw(st.sampled_from([0.25, 0.0]))
        return {**case, "W2": sign * case["W"] + scale * delta}

    def slack(case):
        rest = (case["X"], case["y"], case["eps"][0], case["p"])
        ends = [float(vs.violation(W, *rest)) for W in (case["W"], case["W2"])]
        if any((v <= 0) if complement else (v > 0) for v in ends):
            return None  # vacuous: an end point is not where the statement applies
        mid = float(vs.violation((case["W"] + case["W2"]) / 2, *rest))
        if complement:  # the midpoint must stay outside V_ε; −1 marks one inside
            return mid if mid > 0 else -1.0
        return -mid

    return search_counterexample(pairs(), slack, seed=hypothesis_seed(seed, convexity_title(complement)),
                                 max_examples=max_examples, tolerance=1e-12).as_dict()


def _limit_slack(case, strict: bool) -> float | None:
    """Slack of 'lim_{γ→∞} g_ε(x, γW) = 0' for W in the (strict if ``strict``) version space, else None (vacuous).
    g_ε is evaluated exactly at γ = 50/|μ| (10⁴ if μ = 0), μ the largest worst-case score over pairs i ≠ y_n: for
    strict members g_ε(x, γW) <= (K−1)e^{−50} there, while a zero score keeps g_ε(x, γW) >= log 2 for every γ."""
    W, X, y, eps, p = case["W"], case["X"], case["y"], case["eps"][0], case["p"]
    mu = float(vs.strict_violation(W, X, y, eps, p))
    member = mu < 0 if strict else (vs.violation(W, X, y, eps, p) <= 0 and np.any(W != 0))
    if not member:
        return None
    gamma = 1e4 if mu == 0 else 50.0 / abs(mu)
    return -float(mc.adversarial_loss(gamma * W, X, y, eps, p))


@unit_kind("liu2020.version-space.limit", version="2")
def limit_search(*, seed: int, max_dim: int, max_examples: int, strict: bool) -> dict:
    """Bullet 2, ∀W ∈ V_ε, W ≠ 0: lim_{γ→∞} g_ε(x, γW) = 0 — as written (≤ 0 in V_ε; expected to fail) or
    corrected (strict: every worst-case score (w_i − w_y)ᵀx' < 0 for i ≠ y)."""
    configs = LIMIT_CONFIGS if strict else LITERAL_CONFIGS
    return search_counterexample(grid_case(configs, n_eps=1, max_dim=max_dim), lambda c: _limit_slack(c, strict),
                                 seed=hypothesis_seed(seed, limit_title(strict)), max_examples=max_examples,
                                 tolerance=1e-6).as_dict()


CONSTRUCTIONS = {
    "identical columns (3 classes, ℓ∞)": dict(W=[[1.0, 1.0, 1.0]], X=[[1.0]], y=[0], eps=0.5, p=INF),
    "non-constant W with a tied class (3 classes, ε=0)": dict(W=[[1.0, 1.0, 0.0]], X=[[1.0]], y=[0], eps=0.0, p=INF),
    "binary w at ε = ||x||_p (ℓ2)": dict(W=mc.binary_weights([1.0]).tolist(), X=[[1.0]], y=[1], eps=1.0, p=2.0),
}


@unit_kind("liu2020.version-space.limit-constructions")
def limit_constructions() -> dict:
    """Bullet 2 as written, on explicit members of V_ε whose worst-case score is exactly 0: the violation
    (<= 0: W ∈ V_ε) and g_ε(x, γW) at γ = 1, 100, 10⁴."""
    out = {}
    for label, c in CONSTRUCTIONS.items():
        W, X = np.asarray(c["W"], float), np.asarray(c["X"], float)
        out[label] = {"case": c, "violation": float(vs.violation(W, X, c["y"], c["eps"], c["p"])),
                      "g at gamma": {str(g): float(mc.adversarial_loss(g * W, X, c["y"], c["eps"], c["p"]))
                                     for g in (1.0, 1e2, 1e4)}}
    return out


def limit_unit(ctx: Context, strict: bool):
    """The search of bullet 2, as written (strict=False) or with the strict inequality (strict=True)."""
    return limit_search.unit(seed=ctx.seed, max_dim=grid_dim(ctx), max_examples=ctx.pick(smoke=150, cpu=1500),
                             strict=strict)


def units(ctx: Context, *, reverse_nesting: bool = False) -> dict:
    """The claim's units by name (false variants of the whole claim as keywords)."""
    grid = dict(seed=ctx.seed, max_dim=grid_dim(ctx))
    return {
        "nesting": nesting_search.unit(**grid, max_examples=ctx.pick(smoke=150, cpu=2000), reverse=reverse_nesting),
        "membership": membership_search.unit(**grid, max_examples=ctx.pick(smoke=20, cpu=300)),
        "convexity": convexity_search.unit(**grid, max_examples=ctx.pick(smoke=120, cpu=600)),
        "limit as written": limit_unit(ctx, strict=False),
        "limit constructions": limit_constructions.unit(),
    }


def plan(ctx: Context, **variant) -> list:
    return list(units(ctx, **variant).values())


# ---- decide ----

def nesting_check(result, params) -> Check:
    return SearchResult.from_dict(result).to_check(
        nesting_title(params["reverse"]), key="proposition-nesting",
        note="binary (K=2) and 3-class models, ℓ∞ and ℓ2 threats; slack = −violation at the budget that must contain W")


def membership_check(result, params) -> Check:
    return SearchResult.from_dict(result).to_check(membership_title(params["swap_norms"]), key="membership-closed-form")


def convexity_check(result, params) -> Check:
    return SearchResult.from_dict(result).to_check(convexity_title(params["complement"]), key="bullet-1-convexity")


def limit_check(result, params) -> Check:
    strict = params["strict"]
    return SearchResult.from_dict(result).to_check(
        limit_title(strict), key="bullet-2-corrected" if strict else "bullet-2-as-written",
        note="g_ε exact: vertex enumeration (ℓ∞) or the K=2 closed form; slack = −g_ε(x, γW) at γ = 50/|μ| (1e4 for "
             "μ = 0)")


def constructions_check(result) -> Check:
    """Bullet 2 as written on the constructions: members of V_ε along which g_ε(x, γW) does not tend to 0."""
    quantities, witnesses = [], {}
    for label, r in result.items():
        values = r["g at gamma"]
        quantities.append(Quantity(f"{label}: violation (<= 0: W ∈ V_ε)", r["violation"], bound=0.0, relation="<="))
        quantities.append(Quantity(f"{label}: g_ε(x, γW) at γ = 1e4", values["10000.0"], bound=0.0, relation="<=",
                                   tolerance=1e-6,
                                   note=f"γ=1: {values['1.0']:.6f}, γ=100: {values['100.0']:.6f}"))
        witnesses[label] = {**r["case"], "violation": r["violation"], "g at gamma": values}
    return Check.from_quantities("bullet 2 as written, targeted constructions (zero worst-case score)", quantities,
                                 key="bullet-2-as-written-constructions", counterexample={"constructions": witnesses},
                                 note="g_ε(x, γW) is constant (log K or log 2) along these rays, so its limit is not 0")


def decide(ctx: Context, results, *, reverse_nesting: bool = False) -> Outcome:
    u = units(ctx, reverse_nesting=reverse_nesting)
    r = unit_results(u, results)
    checks = [nesting_check(r["nesting"], u["nesting"].params),
              membership_check(r["membership"], u["membership"].params),
              convexity_check(r["convexity"], u["convexity"].params),
              limit_check(r["limit as written"], u["limit as written"].params),
              constructions_check(r["limit constructions"])]
    explain = {"bullet-2-as-written": (
        "The second bullet fails as written: with '≤ 0', V_ε holds W ≠ 0 with a zero worst-case score (identical "
        "columns, a tied class, a binary w at ε = ||x||_p), along which g_ε(x, γW) stays >= log 2 (the strict "
        "reading is liu2020.version-space-strict)")}
    return Outcome(
        summary=summary(checks, explain),
        checks=checks,
        scale_note=("grid-valued hypothesis searches (m <= 2 at smoke / 3 at cpu); the statements are exact for linear "
                    "models, so larger scales only add examples"),
    )


CLAIM = claim(
    "liu2020.version-space",
    where="Liu et al. 2020, Definition (Version Space) eq. (6)/(7), its two bullets, and the Proposition "
          "(slides, Theoretical Analysis: Linear Model)",
    statement="V_ε = {W | (w_i − w_y)ᵀx' ≤ 0, ∀i ∈ [K], x' ∈ S_ε(x)} is a convex set of 'good directions'; "
              "∀W ∈ V_ε and W ≠ 0, lim_{γ→∞} g_ε(x, γW) = 0; V_ε2 ⊆ V_ε1 when ε1 ≤ ε2",
    formula="V_ε convex;  W ∈ V_ε \\ {0} ⇒ g_ε(x, γW) → 0 (γ → ∞);  V_ε2 ⊆ V_ε1 (ε1 ≤ ε2)",
    tags=("theory", "linear"),
    source="slides, 'Theoretical Analysis: Linear Model': Definition (Version Space), its two bullets and the "
           "Proposition (verified text)",
    expect="refuted",
)(plan=plan, decide=decide)
