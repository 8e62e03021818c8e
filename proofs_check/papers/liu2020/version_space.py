"""liu2020.version-space: the version space V_ε of a linear model (Liu et al. 2020, slides "Theoretical Analysis:
Linear Model": Definition (Version Space) eq. (6)/(7), its two bullets, and the Proposition).

Math in theory/version_space.py and theory/multiclass.py; here the searches and constructions (units), the verdicts
(decide) and the figure (plot). A search's random stream is named by its check's title.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from matplotlib.figure import Figure

from advland.seeding import numpy_rng
from advland.theory import multiclass as mc
from advland.theory import version_space as vs
from advland.theory.linear import dual_exponent

from ...model import Check, Context, Outcome, Quantity, Verdict, hypothesis_seed, unit_kind, unit_results
from ...registry import claim
from ...search import SearchResult, search_counterexample
from ._common import INF, NORM_NAME, digits, grid_case, grid_dim, program_check, program_status, spread, summary

CONFIGS = ((3, INF), (2, INF), (2, 2.0), (3, 2.0))
LIMIT_CONFIGS = ((3, INF), (2, INF), (2, 2.0))  # exact g_ε: vertex enumeration (p = ∞) or K = 2
LITERAL_CONFIGS = ((3, INF),)  # the slides state the bullet for the multiclass model, K >= 3
DELTA = 0.02  # thresholds are tested at ε*(1 ± δ)

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


def _threshold_tag(swap_norms: bool, factor: float) -> str:
    return (" [swapped-norm variant]" if swap_norms else "") + (f" [ε* scaled by {factor:g}]" if factor != 1 else "")


def _above_multi_title(swap_norms: bool, factor: float) -> str:
    return ("threshold: 3-class V_ε = C at ε*(1+δ) (search for W with r(W) > ε*(1+δ))"
            + _threshold_tag(swap_norms, factor))


# ---- units ----

@unit_kind("liu2020.version-space.nesting")
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


@unit_kind("liu2020.version-space.membership")
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


@unit_kind("liu2020.version-space.convexity")
def convexity_search(*, seed: int, max_dim: int, max_examples: int, complement: bool = False) -> dict:
    """Bullet 1: V_ε is convex. W1, W2 ∈ V_ε (W2 = ±W1 + a grid perturbation, possibly none) must give their midpoint
    (W1 + W2)/2 ∈ V_ε (midpoint convexity of a closed set is convexity). complement=True claims the set of
    non-members is convex (a false variant)."""

    @st.composite
    def pairs(draw):
        case = draw(grid_case(CONFIGS, n_eps=1, max_dim=max_dim))
        delta = digits(draw, case["W"].shape, base=9)
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


@unit_kind("liu2020.version-space.limit")
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


def _data(seed: int, n: int):
    """Robustly separable toy data in m = 2: binary (planted direction, |w0ᵀx| >= 0.4) and 3-class (planted W0,
    clean top-two logit gap >= 0.6), n examples each."""
    rng = numpy_rng(seed, "liu2020.version-space/data")
    w0 = rng.normal(size=2)
    w0 /= np.linalg.norm(w0)
    pool = rng.uniform(-2, 2, size=(400, 2))
    Xb = pool[np.abs(pool @ w0) >= 0.4][:n]
    yb = np.where(Xb @ w0 > 0, 1, -1)
    W0 = rng.normal(size=(2, 3))
    pool = rng.uniform(-2, 2, size=(400, 2))
    logits = np.sort(pool @ W0, axis=1)
    Xm = pool[logits[:, -1] - logits[:, -2] >= 0.6][:n]
    return {"binary": (Xb, mc.binary_labels(yb), yb), "multiclass": (Xm, np.argmax(Xm @ W0, axis=1))}


def _thresholds(data, rtol: float, swap_norms: bool) -> dict:
    """ε* and its witness for the four settings; with swap_norms the programs use the threat norm's dual (the
    'wrong margin' variant: the p-norm where the dual norm belongs)."""
    out = {}
    for p in (INF, 2.0):
        p_prog = dual_exponent(p) if swap_norms else p
        Xb, yb01, ypm = data["binary"]
        res = vs.binary_robust_margin(Xb, ypm, p_prog)
        witness = mc.binary_weights(res.point) if res.point is not None else None
        out[("binary", p)] = {"eps": max(res.value, 0.0), "witness": witness, "program": program_status(res),
                              "dual": res.dual, "X": Xb, "y": yb01, "K": 2}
        Xm, ym = data["multiclass"]
        th = vs.multiclass_robust_threshold(Xm, ym, 3, p_prog, rtol=rtol)
        status = "optimal" if th.ok else ", ".join(s for s in th.statuses if s != "optimal")
        out[("multiclass", p)] = {"eps": th.value, "upper": th.upper, "witness": th.member, "X": Xm, "y": ym, "K": 3,
                                  "program": {"solver": th.solver, "status": status, "ok": th.ok},
                                  "n_solves": len(th.statuses)}
    return out


def _below(t: dict, p: float, lo: float) -> dict:
    """The witness's evidence at ε*(1−δ): closed-form violation (and, for ℓ∞, vertex enumeration), robust radius,
    spread, and the rounding tolerance of the violation."""
    X, y, W = t["X"], t["y"], t["witness"]
    out = {"tolerance": 1e-7 * np.abs(W).max() * np.abs(X).sum(axis=1).max(),
           "violation": float(vs.violation(W, X, y, lo, p))}
    if p == INF:
        out["violation by vertices"] = float(vs.violation(W, X, y, lo, p, brute_force=True))
    out["robust radius"] = float(vs.robust_radius(W, X, y, p))
    out["relative spread"] = spread(W) / np.abs(W).max()
    return out


def _above_multiclass(multi: list, seed: int, title: str, max_examples: int, maxiter: int) -> dict:
    """No W ∉ C in V_ε at ε*(1+δ) for 3 classes: hypothesis search over perturbations of the witnesses for one with
    robust radius r(W) > ε*(1+δ), and a Nelder–Mead ascent of r(W) from each witness."""
    from scipy.optimize import minimize

    def candidate(case):
        idx, noise, scale = case
        p, t, eps = multi[idx]
        W = t["witness"] + scale * np.abs(t["witness"]).max() * np.reshape(noise, t["witness"].shape)
        return p, t, eps, W

    def slack(case):
        p, t, eps, W = candidate(case)
        r = float(vs.robust_radius(W, t["X"], t["y"], p))
        return eps * (1 + DELTA) - r if np.isfinite(r) else 0.0

    @st.composite
    def perturbations(draw):
        idx = draw(st.integers(0, len(multi) - 1))
        noise = digits(draw, multi[idx][1]["witness"].shape, base=9)
        return idx, noise, draw(st.sampled_from([0.0, 1 / 64, 1 / 16, 1 / 4, 1.0, 4.0]))

    res = search_counterexample(perturbations(), slack, seed=hypothesis_seed(seed, title), max_examples=max_examples)
    best_radius = []
    for p, t, eps in multi:
        shape = t["witness"].shape

        def neg_radius(v, p=p, t=t, shape=shape):
            r = float(vs.robust_radius(v.reshape(shape), t["X"], t["y"], p))
            return -r if np.isfinite(r) else 0.0

        best = minimize(neg_radius, t["witness"].ravel(), method="Nelder-Mead",
                        options={"maxiter": maxiter, "xatol": 1e-10, "fatol": 1e-12})
        best_radius.append(-best.fun)
    ce = None
    if res.found:
        p, t, eps, W = candidate(res.counterexample)
        ce = {"seed": res.seed, "p": p, "W": W, "robust radius": float(vs.robust_radius(W, t["X"], t["y"], p)),
              "claimed threshold": eps}
    return {"search": res.as_dict(), "best radius": best_radius, "counterexample": ce}


def _membership_curves(thresholds: dict, seed: int, n_dirs: int, n_grid: int) -> dict:
    """Fraction of n_dirs random directions in V_ε on a grid of ε, per setting. A direction W lies in V_ε iff
    ε <= r(W) (its robust radius), so one radius per direction gives the whole curve."""
    rng = numpy_rng(seed, "liu2020.version-space/plot")
    out = {}
    for kind in ("binary", "multiclass"):
        top = max(t["eps"] for (k, _), t in thresholds.items() if k == kind)
        grid = np.linspace(0, 1.3 * top, n_grid)
        for (k, p), t in thresholds.items():
            if k != kind:
                continue
            if kind == "binary":
                dirs = mc.binary_weights(rng.normal(size=(n_dirs, t["X"].shape[1])))
            else:
                dirs = rng.normal(size=(n_dirs, t["X"].shape[1], t["K"]))
            radius = vs.robust_radius(dirs, t["X"], t["y"], p)
            out[f"{kind} {NORM_NAME[p]}"] = {"eps": grid, "fraction": [float(np.mean(radius >= e)) for e in grid]}
    return {"n_dirs": n_dirs, "by setting": out}


@unit_kind("liu2020.version-space.thresholds")
def thresholds(*, seed: int, n: int, rtol: float, max_examples: int, maxiter: int, n_dirs: int, n_grid: int,
               swap_norms: bool = False, factor: float = 1.0) -> dict:
    """The robust-margin thresholds ε* (binary: LP/SOCP with dual multipliers; 3 classes: bisection of the
    non-triviality program) on the toy data, and the evidence at ε = factor·ε*(1 ± δ): just below, the witness's
    membership; just above, the binary weak-duality certificate and the 3-class search for a non-trivial member.
    False variants: swap_norms (programs with the p-norm where the dual norm belongs), factor (claim factor·ε*).
    Also the fraction of random directions in V_ε against ε (the figure), when every ε* is finite and > 0."""
    found = _thresholds(_data(seed, n), rtol, swap_norms)
    settings = []
    for (kind, p), t in found.items():
        eps = factor * t["eps"]
        s = {"kind": kind, "p": p, "label": f"{kind} {NORM_NAME[p]}", "N": len(t["y"]), "eps": t["eps"],
             "claimed": eps, "upper": t.get("upper"), "n_solves": t.get("n_solves"), "program": t["program"],
             "below": None, "certificate": None}
        if t["witness"] is not None:
            s["below"] = _below(t, p, eps * (1 - DELTA))
            if kind == "binary":
                dual = t["dual"]
                s["certificate"] = (vs.binary_margin_bound(t["X"], 2 * t["y"] - 1, dual, p) if dual is not None
                                    else np.nan)
        settings.append(s)
    multi = [(p, t, factor * t["eps"]) for (k, p), t in found.items() if k == "multiclass" and t["witness"] is not None]
    above = (_above_multiclass(multi, seed, _above_multi_title(swap_norms, factor), max_examples, maxiter)
             if len(multi) >= 2 else None)
    finite = all(np.isfinite(t["eps"]) and t["eps"] > 0 for t in found.values())
    return {"settings": settings, "above multiclass": above,
            "curves": _membership_curves(found, seed, n_dirs, n_grid) if finite else None}


def units(ctx: Context, *, reverse_nesting: bool = False, swap_norms: bool = False) -> dict:
    """The claim's units by name (false variants of the whole claim as keywords)."""
    grid = dict(seed=ctx.seed, max_dim=grid_dim(ctx))
    return {
        "nesting": nesting_search.unit(**grid, max_examples=ctx.pick(smoke=150, cpu=2000), reverse=reverse_nesting),
        "membership": membership_search.unit(**grid, max_examples=ctx.pick(smoke=20, cpu=300)),
        "convexity": convexity_search.unit(**grid, max_examples=ctx.pick(smoke=120, cpu=600)),
        "limit as written": limit_search.unit(**grid, max_examples=ctx.pick(smoke=150, cpu=1500), strict=False),
        "limit constructions": limit_constructions.unit(),
        "limit corrected": limit_search.unit(**grid, max_examples=ctx.pick(smoke=150, cpu=1500), strict=True),
        "thresholds": thresholds.unit(seed=ctx.seed, n=ctx.pick(smoke=8, cpu=12), rtol=ctx.pick(smoke=1e-3, cpu=1e-4),
                                      max_examples=ctx.pick(smoke=20, cpu=300), maxiter=ctx.pick(smoke=300, cpu=2000),
                                      n_dirs=ctx.pick(smoke=1000, cpu=20000), n_grid=ctx.pick(smoke=12, cpu=60),
                                      swap_norms=swap_norms),
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


def threshold_checks(result, params) -> list[Check]:
    """Just below ε* a non-trivial member exists (the program's witness, verified by the closed form and, for ℓ∞,
    by vertex enumeration); just above, none does (binary: the LP/SOCP dual multipliers as a weak-duality
    certificate; 3 classes: hypothesis search and Nelder–Mead ascent of the robust radius r(W))."""
    swap_norms, factor = params["swap_norms"], params["factor"]
    tag = _threshold_tag(swap_norms, factor)
    settings = result["settings"]
    below_q, above_bin_q, missing = [], [], []
    for s in settings:
        label, eps, b = s["label"], s["claimed"], s["below"]
        if b is None:
            missing.append(label)
            continue
        lo = eps * (1 - DELTA)
        below_q.append(Quantity(f"{label}: threshold claimed", eps, note=f"{s['program']['solver']}"))
        below_q.append(Quantity(f"{label}: violation of the witness at ε*(1−δ) (closed form)", b["violation"],
                                bound=0.0, relation="<=", tolerance=b["tolerance"]))
        if "violation by vertices" in b:
            below_q.append(Quantity(f"{label}: same, by vertex enumeration", b["violation by vertices"], bound=0.0,
                                    relation="<=", tolerance=b["tolerance"]))
        below_q.append(Quantity(f"{label}: robust radius r(W) of the witness (W ∈ V_ε iff ε <= r(W))",
                                b["robust radius"], bound=lo, relation=">=", tolerance=1e-6 * lo))
        below_q.append(Quantity(f"{label}: witness spread max_j(max_k W_jk − min_k W_jk)/max|W| (> 0: non-constant)",
                                b["relative spread"]))
        if s["kind"] == "binary":
            above_bin_q.append(Quantity(f"{label}: certificate ||Σλ_n y_n x_n||_p (no w ≠ 0 in V_ε above it)",
                                        float(s["certificate"]), bound=eps * (1 + DELTA), relation="<",
                                        note=f"ε*(1+δ) = {eps * (1 + DELTA):.6g}"))
    programs = [s["program"] for s in settings]
    below_name = f"threshold: a non-trivial member exists at ε*(1−δ), δ={DELTA}{tag}"
    below = (Check(below_name, Verdict.INCONCLUSIVE, below_q, note=f"the program gave no witness for {missing}",
                   key="threshold-member-below")
             if missing else program_check(below_name, below_q, programs, key="threshold-member-below"))
    above_bin = program_check(f"threshold: binary V_ε = {{0}} at ε*(1+δ) (dual certificate){tag}", above_bin_q,
                              [s["program"] for s in settings if s["kind"] == "binary"], key="threshold-binary-above")
    return [below, above_bin, _above_multi_check(result, swap_norms, factor)]


def _above_multi_check(result, swap_norms: bool, factor: float) -> Check:
    name, key = _above_multi_title(swap_norms, factor), "threshold-multiclass-above"
    above = result["above multiclass"]
    if above is None:
        return Check(name, Verdict.INCONCLUSIVE, note="the program gave no witness to search from", key=key)
    search = SearchResult.from_dict(above["search"])
    multi = [s for s in result["settings"] if s["kind"] == "multiclass" and s["below"] is not None]
    quantities = [Quantity("examples searched", search.n_examples),
                  Quantity("smallest slack ε*(1+δ) − r(W) seen", search.min_slack, bound=0.0, relation=">=")]
    for s, best in zip(multi, above["best radius"]):
        quantities.append(Quantity(f"3-class {NORM_NAME[float(s['p'])]}: best r(W) by Nelder–Mead from the witness",
                                   best, bound=s["claimed"] * (1 + DELTA), relation="<",
                                   note=f"ε* bracket [{s['eps']:.6g}, {s['upper']:.6g}], {s['n_solves']} solves"))
    return program_check(name, quantities, [s["program"] for s in multi], key=key,
                         counterexample=above["counterexample"])


CORRECTED = "∀W with (w_i − w_y)ᵀx' < 0 ∀i ≠ y, ∀x' ∈ S_ε(x): lim_{γ→∞} g_ε(x, γW) = 0"


def decide(ctx: Context, results, *, reverse_nesting: bool = False, swap_norms: bool = False) -> Outcome:
    u = units(ctx, reverse_nesting=reverse_nesting, swap_norms=swap_norms)
    r = unit_results(u, results)
    checks = [nesting_check(r["nesting"], u["nesting"].params),
              membership_check(r["membership"], u["membership"].params),
              convexity_check(r["convexity"], u["convexity"].params),
              limit_check(r["limit as written"], u["limit as written"].params),
              constructions_check(r["limit constructions"]),
              limit_check(r["limit corrected"], u["limit corrected"].params),
              *threshold_checks(r["thresholds"], u["thresholds"].params)]
    corrected = next(c for c in checks if c.key == "bullet-2-corrected")
    explain = {"bullet-2-as-written": (
        "The second bullet fails as written: with '≤ 0', V_ε holds W ≠ 0 with a zero worst-case score (identical "
        "columns, a tied class, a binary w at ε = ||x||_p), along which g_ε(x, γW) stays >= log 2; with strict '<' "
        f"for i ≠ y the limit is 0 ({corrected.verdict.value})")}
    # by the definition every difference w_i − w_y of a constant classifier u1ᵀ is 0, so C ⊆ V_ε for every ε
    reading = (" For K columns the trivial version space is the set C of constant classifiers u1ᵀ (in V_ε for every "
               "ε by the definition), never {0}; {0} is the binary reading (w = w_1 − w_0).")
    settings = r["thresholds"]["settings"]
    return Outcome(
        summary=summary(checks, explain) + reading,
        checks=checks,
        scale_note=("toy data (m = 2, N = 8 at smoke / 12 at cpu) and grid-valued hypothesis searches; the statements "
                    "are exact for linear models, so larger scales only add examples"),
        details={"thresholds ε*": {s["label"]: s["eps"] for s in settings},
                 "solver": [s["program"]["solver"] for s in settings], "corrected statement": CORRECTED},
    )


# ---- plot ----

def plot(ctx: Context, results, **variant) -> dict:
    """Fraction of random directions in V_ε vs ε, the thresholds ε* marked (no figure if an ε* is not > 0)."""
    found = unit_results(units(ctx, **variant), results)["thresholds"]
    curves = found["curves"]
    if curves is None:
        return {}
    fig = Figure(figsize=(11, 4))
    for ax, kind in zip(fig.subplots(1, 2), ("binary", "multiclass")):
        settings = [s for s in found["settings"] if s["kind"] == kind]
        for s in settings:
            curve, name = curves["by setting"][s["label"]], NORM_NAME[float(s["p"])]
            line, = ax.plot(curve["eps"], curve["fraction"], label=f"{name}: fraction in V_ε")
            ax.axvline(s["eps"], color=line.get_color(), ls="--", label=f"{name}: ε* = {s['eps']:.3f}")
        ax.set_xlabel("ε")
        ax.set_ylabel(f"fraction of {curves['n_dirs']} random directions in V_ε")
        ax.set_title(("binary w ∈ ℝ²" if kind == "binary" else "3 classes, W ∈ ℝ^{2×3}") + f", N={settings[-1]['N']}")
        ax.legend(fontsize=8)
    fig.suptitle("Liu et al. 2020: V_ε shrinks with ε and is trivial above the robust margin ε*")
    fig.tight_layout()
    return {"liu2020_version_space": fig}


CLAIM = claim(
    "liu2020.version-space",
    where="Liu et al. 2020, Definition (Version Space) eq. (6)/(7), its two bullets, and the Proposition "
          "(slides, Theoretical Analysis: Linear Model)",
    statement="V_ε = {W | (w_i − w_y)ᵀx' ≤ 0, ∀i ∈ [K], x' ∈ S_ε(x)} is a convex set of 'good directions'; "
              "∀W ∈ V_ε, W ≠ 0: lim_{γ→∞} g_ε(x, γW) = 0; and V_ε2 ⊆ V_ε1 when ε1 ≤ ε2 (good directions shrink "
              "as ε grows), V_ε becoming trivial above the robust margin",
    formula="V_ε2 ⊆ V_ε1 (ε1 ≤ ε2);  V_ε ≠ C ⇔ ε ≤ ε* = sup_{W∉C} min_{n,i≠y_n} "
            "(w_{y_n}−w_i)ᵀx_n / ||w_i−w_{y_n}||_q",
    tags=("theory", "linear"),
)(plan=plan, decide=decide, plot=plot)
