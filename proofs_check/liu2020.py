"""Claims of Liu, Salzmann, Lin, Tomioka, Süsstrunk (NeurIPS 2020), "On the Loss Landscape of Adversarial
Training: Identifying Challenges and How to Overcome Them". Statements as written on the authors' slides.
"""
from __future__ import annotations

from .model import Check, Context, Outcome, Quantity, Verdict
from .registry import claim
from .search import search_counterexample

# ---- section: version space and bad directions (owner: helper A) ----
# Liu et al. 2020 (slides, "Linear Model"): the version space V_ε (Definition, eq. 6/7, two bullets, Proposition)
# and the set T_ε of bad directions (Definition 8 and the Theorem). Math in theory/version_space.py,
# theory/bad_directions.py, theory/multiclass.py; here the searches, constructions and verdicts.
import numpy as np
from hypothesis import strategies as st
from matplotlib.figure import Figure

from theory import bad_directions as _bd
from theory import multiclass as _mc
from theory import version_space as _vs
from theory.linear import dual_exponent as _dual_exponent

_LIN_INF = float("inf")
_LIN_NORM = {_LIN_INF: "ℓ∞", 2.0: "ℓ2"}


@st.composite
def _lin_grid_case(draw, configs, n_eps: int = 2):
    """A small problem on an integer grid, so that hypothesis shrinks to a readable minimal example:
    (K, p) from ``configs``, m <= 3 inputs, N <= 4 examples, entries of X and W in {−3..3}, labels either drawn or
    given by W itself (then W classifies the clean data), ``n_eps`` budgets from {0, 1/4, …, 3}, sorted."""
    K, p = draw(st.sampled_from(configs))
    m, N = draw(st.integers(1, 3)), draw(st.integers(1, 4))

    def grid(n):
        return np.array(draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n)), dtype=float)

    X, W = grid(N * m).reshape(N, m), grid(m * K).reshape(m, K)
    if draw(st.booleans()):
        y = np.argmax(X @ W, axis=1)
    else:
        y = np.array(draw(st.lists(st.integers(0, K - 1), min_size=N, max_size=N)), dtype=int)
    eps = sorted(draw(st.integers(0, 12)) / 4 for _ in range(n_eps))
    return {"K": K, "p": p, "X": X, "y": y, "W": W, "eps": eps}


def _lin_program_check(name: str, quantities: list, results: list, *, note: str = "", counterexample=None) -> Check:
    """A check decided by quantities that rest on convex programs: inconclusive if any program did not reach
    'optimal' (the cause named), else confirmed/refuted by the quantities."""
    bad = [f"{r.solver}: {r.status}" for r in results if not r.ok]
    if bad:
        return Check(name, Verdict.INCONCLUSIVE, quantities, note=f"solver did not reach 'optimal': {'; '.join(bad)}")
    return Check.from_quantities(name, quantities, note=note, counterexample=counterexample)


def _lin_spread(W) -> float:
    """max_j (max_k W_jk − min_k W_jk): 0 exactly for a constant classifier."""
    W = np.asarray(W, dtype=float)
    return float((W.max(axis=-1) - W.min(axis=-1)).max())


# -- version space --

_VS_CONFIGS = ((3, _LIN_INF), (2, _LIN_INF), (2, 2.0), (3, 2.0))
_VS_LIMIT_CONFIGS = ((3, _LIN_INF), (2, _LIN_INF), (2, 2.0))  # exact g_ε: vertex enumeration (p = ∞) or K = 2
_VS_LITERAL_CONFIGS = ((3, _LIN_INF),)  # the slides state the bullet for the multiclass model, K >= 3


def vs_nesting_check(ctx: Context, *, reverse: bool = False) -> Check:
    """Proposition: V_ε2 ⊆ V_ε1 for ε1 <= ε2 (reverse=True claims V_ε1 ⊆ V_ε2, a false variant). Hypothesis search
    over grid problems: W ∈ V_a must imply W ∈ V_b, membership by the dual-norm worst case (exactly 0 allowed)."""
    name = "Proposition: V_ε2 ⊆ V_ε1 for ε1 <= ε2" + (" [reversed variant]" if reverse else "")

    def slack(case):
        small, large = case["eps"]
        a, b = (small, large) if reverse else (large, small)
        args = (case["W"], case["X"], case["y"])
        if _vs.violation(*args, a, case["p"]) > 0:
            return 0.0
        return -float(_vs.violation(*args, b, case["p"]))

    res = search_counterexample(_lin_grid_case(_VS_CONFIGS), slack, seed=ctx.seed_for(name),
                                max_examples=ctx.pick(smoke=60, cpu=400), tolerance=1e-12)
    return res.to_check(name, note="binary (K=2) and 3-class models, ℓ∞ and ℓ2 threats; slack = −violation at the "
                                   "budget that must contain W")


def vs_brute_force_check(ctx: Context) -> Check:
    """Membership is computed independently of any program: the dual-norm worst case equals brute-force
    enumeration of the 2^m vertices of the ℓ∞ ball."""
    name = "membership: dual-norm closed form = vertex enumeration (ℓ∞)"

    def slack(case):
        eps = case["eps"][0]
        args = (case["W"], case["X"], case["y"], eps)
        return -abs(float(_vs.violation(*args, _LIN_INF)) - float(_vs.violation(*args, _LIN_INF, brute_force=True)))

    res = search_counterexample(_lin_grid_case(((3, _LIN_INF), (2, _LIN_INF)), n_eps=1), slack,
                                seed=ctx.seed_for(name),
                                max_examples=ctx.pick(smoke=40, cpu=300), tolerance=1e-9)
    return res.to_check(name)


def vs_convexity_check(ctx: Context) -> Check:
    """Bullet 1: V_ε is convex. W1, W2 ∈ V_ε (W2 a grid perturbation of W1) must give tW1 + (1−t)W2 ∈ V_ε."""
    name = "bullet 1: V_ε is a convex set"

    @st.composite
    def pairs(draw):
        case = draw(_lin_grid_case(_VS_CONFIGS, n_eps=1))
        n = case["W"].size
        delta = np.array(draw(st.lists(st.integers(-4, 4), min_size=n, max_size=n)), float).reshape(case["W"].shape)
        return {**case, "W2": case["W"] + delta / 4, "t": draw(st.sampled_from([0.25, 0.5, 0.75]))}

    def slack(case):
        rest = (case["X"], case["y"], case["eps"][0], case["p"])
        if _vs.violation(case["W"], *rest) > 0 or _vs.violation(case["W2"], *rest) > 0:
            return 0.0
        return -float(_vs.violation(case["t"] * case["W"] + (1 - case["t"]) * case["W2"], *rest))

    res = search_counterexample(pairs(), slack, seed=ctx.seed_for(name), max_examples=ctx.pick(smoke=40, cpu=300),
                                tolerance=1e-12)
    return res.to_check(name)


def _vs_limit_slack(case, strict: bool) -> float:
    """Slack of 'lim_{γ→∞} g_ε(x, γW) = 0' for W in the (strict if ``strict``) version space, else 0 (vacuous).
    g_ε is evaluated exactly at γ = min(10⁴, 50/|μ|), μ the largest worst-case score over pairs i ≠ y_n: for strict
    members g_ε(x, γW) <= (K−1)e^{−50} there, while a zero score keeps g_ε(x, γW) >= log 2 for every γ."""
    W, X, y, eps, p = case["W"], case["X"], case["y"], case["eps"][0], case["p"]
    mu = float(_vs.strict_violation(W, X, y, eps, p))
    member = mu < 0 if strict else (_vs.violation(W, X, y, eps, p) <= 0 and np.any(W != 0))
    if not member:
        return 0.0
    gamma = 1e4 if mu == 0 else min(1e4, 50.0 / abs(mu))
    return -float(_mc.adversarial_loss(gamma * W, X, y, eps, p))


def vs_limit_check(ctx: Context, *, strict: bool) -> Check:
    """Bullet 2, ∀W ∈ V_ε, W ≠ 0: lim_{γ→∞} g_ε(x, γW) = 0 — as written (≤ 0 in V_ε; expected to fail) or
    corrected (strict: every worst-case score (w_i − w_y)ᵀx' < 0 for i ≠ y)."""
    name = ("bullet 2 corrected (strict <, i ≠ y): lim_{γ→∞} g_ε(x, γW) = 0" if strict else
            "bullet 2 as written (V_ε with ≤ 0): ∀W ∈ V_ε, W ≠ 0: lim_{γ→∞} g_ε(x, γW) = 0")
    configs = _VS_LIMIT_CONFIGS if strict else _VS_LITERAL_CONFIGS
    res = search_counterexample(_lin_grid_case(configs, n_eps=1), lambda c: _vs_limit_slack(c, strict),
                                seed=ctx.seed_for(name), max_examples=ctx.pick(smoke=60, cpu=300), tolerance=1e-6)
    return res.to_check(name, note="g_ε exact: vertex enumeration (ℓ∞) or the K=2 closed form; slack = −g_ε(x, γW) "
                                   "at γ = min(1e4, 50/|μ|)")


def vs_limit_constructions_check() -> Check:
    """Bullet 2 as written, on explicit members of V_ε whose worst-case score is exactly 0."""
    name = "bullet 2 as written, targeted constructions (zero worst-case score)"
    cases = {
        "identical columns (3 classes, ℓ∞)": dict(W=[[1.0, 1.0, 1.0]], X=[[1.0]], y=[0], eps=0.5, p=_LIN_INF),
        "non-constant W with a tied class (3 classes, ε=0)": dict(W=[[1.0, 1.0, 0.0]], X=[[1.0]], y=[0], eps=0.0,
                                                                 p=_LIN_INF),
        "binary w at ε = ||x||_p (ℓ2)": dict(W=_mc.binary_weights([1.0]), X=[[1.0]], y=[1], eps=1.0, p=2.0),
    }
    quantities, witnesses = [], {}
    for label, c in cases.items():
        W, X, y, eps, p = (np.asarray(c["W"], float), np.asarray(c["X"], float), c["y"], c["eps"], c["p"])
        member = float(_vs.violation(W, X, y, eps, p))
        values = {g: float(_mc.adversarial_loss(g * W, X, y, eps, p)) for g in (1.0, 1e2, 1e4)}
        quantities.append(Quantity(f"{label}: violation (<= 0: W ∈ V_ε)", member))
        quantities.append(Quantity(f"{label}: g_ε(x, γW) at γ = 1e4", values[1e4], bound=0.0, relation="<=",
                                   tolerance=1e-6, note=f"γ=1: {values[1.0]:.6f}, γ=100: {values[1e2]:.6f}"))
        witnesses[label] = {**c, "violation": member, "g at gamma": values}
    return Check.from_quantities(name, quantities, counterexample={"constructions": witnesses},
                                 note="g_ε(x, γW) is constant (log K or log 2) along these rays, so its limit is not 0")


def _vs_data(ctx: Context):
    """Robustly separable toy data in m = 2: binary (planted direction, |w0ᵀx| >= 0.4) and 3-class (planted W0,
    clean top-two logit gap >= 0.6), N examples each."""
    rng = ctx.rng("liu2020.version-space/data")
    n = ctx.pick(smoke=8, cpu=12)
    w0 = rng.normal(size=2)
    w0 /= np.linalg.norm(w0)
    pool = rng.uniform(-2, 2, size=(400, 2))
    Xb = pool[np.abs(pool @ w0) >= 0.4][:n]
    yb = np.where(Xb @ w0 > 0, 1, -1)
    W0 = rng.normal(size=(2, 3))
    pool = rng.uniform(-2, 2, size=(400, 2))
    logits = np.sort(pool @ W0, axis=1)
    Xm = pool[logits[:, -1] - logits[:, -2] >= 0.6][:n]
    return {"binary": (Xb, _mc.binary_labels(yb), yb), "multiclass": (Xm, np.argmax(Xm @ W0, axis=1))}


def _vs_thresholds(ctx: Context, data, swap_norms: bool):
    """ε* and its witness for the four settings; with swap_norms the programs use the threat norm's dual (the
    'wrong margin' variant: the p-norm where the dual norm belongs)."""
    rtol = ctx.pick(smoke=1e-3, cpu=1e-4)
    out = {}
    for p in (_LIN_INF, 2.0):
        p_prog = _dual_exponent(p) if swap_norms else p
        Xb, yb01, ypm = data["binary"]
        res = _vs.binary_robust_margin(Xb, ypm, p_prog)
        witness = _mc.binary_weights(res.point) if res.point is not None else None
        out[("binary", p)] = {"eps": max(res.value, 0.0), "witness": witness, "results": [res], "margin": res,
                              "X": Xb, "y": yb01, "K": 2}
        Xm, ym = data["multiclass"]
        th = _vs.multiclass_robust_threshold(Xm, ym, 3, p_prog, rtol=rtol)
        status = _mc.ProgramResult(th.value, th.member, th.solver,
                                   "optimal" if th.ok else ", ".join(s for s in th.statuses if s != "optimal"))
        out[("multiclass", p)] = {"eps": th.value, "upper": th.upper, "witness": th.member, "results": [status],
                                  "X": Xm, "y": ym, "K": 3, "n_solves": len(th.statuses)}
    return out


def vs_threshold_checks(ctx: Context, *, swap_norms: bool = False, thresholds=None) -> list[Check]:
    """Just below ε* a non-trivial member exists (the program's witness, verified by the closed form and, for ℓ∞,
    by vertex enumeration); just above, none does (binary: the LP/SOCP dual multipliers as a weak-duality
    certificate; 3 classes: hypothesis search and Nelder–Mead ascent of the robust radius r(W))."""
    from scipy.optimize import minimize

    thresholds = thresholds or _vs_thresholds(ctx, _vs_data(ctx), swap_norms)
    delta = 0.02
    tag = " [swapped-norm variant]" if swap_norms else ""
    below_q, above_bin_q, results = [], [], []
    for (kind, p), t in thresholds.items():
        label = f"{kind} {_LIN_NORM[p]}"
        results += t["results"]
        X, y, W = t["X"], t["y"], t["witness"]
        if W is None:
            below_q.append(Quantity(f"{label}: program found no witness", np.nan, bound=0.0, relation="<="))
            continue
        lo = t["eps"] * (1 - delta)
        tol = 1e-7 * np.abs(W).max() * np.abs(X).sum(axis=1).max()
        below_q.append(Quantity(f"{label}: ε* from the program", t["eps"], note=f"solver {t['results'][0].solver}"))
        below_q.append(Quantity(f"{label}: violation of the witness at ε*(1−δ) (closed form)",
                                float(_vs.violation(W, X, y, lo, p)), bound=0.0, relation="<=", tolerance=tol))
        if p == _LIN_INF:
            below_q.append(Quantity(f"{label}: same, by vertex enumeration",
                                    float(_vs.violation(W, X, y, lo, p, brute_force=True)), bound=0.0,
                                    relation="<=", tolerance=tol))
        below_q.append(Quantity(f"{label}: witness spread max_j(max_k W_jk − min_k W_jk)/max|W| (non-constant)",
                                _lin_spread(W) / np.abs(W).max(), bound=0.5, relation=">="))
        if kind == "binary":
            res = t["margin"]
            Xb, ypm = X, 2 * y - 1
            cert = _vs.binary_margin_bound(Xb, ypm, res.dual, p) if res.dual is not None else np.nan
            above_bin_q.append(Quantity(f"{label}: certificate ||Σλ_n y_n x_n||_p (no w ≠ 0 in V_ε above it)", cert,
                                        bound=t["eps"] * (1 + delta), relation="<",
                                        note=f"ε*(1+δ) = {t['eps'] * (1 + delta):.6g}"))
    below = _lin_program_check(f"threshold: a non-trivial member exists at ε*(1−δ), δ={delta}{tag}", below_q, results)
    above_bin = _lin_program_check(f"threshold: binary V_ε = {{0}} at ε*(1+δ) (dual certificate){tag}", above_bin_q,
                               [t["results"][0] for (k, _), t in thresholds.items() if k == "binary"])

    multi = [(p, t) for (k, p), t in thresholds.items() if k == "multiclass" and t["witness"] is not None]
    name = f"threshold: 3-class V_ε = C at ε*(1+δ) (search for W with r(W) > ε*(1+δ)){tag}"
    if len(multi) < 2:
        return [below, above_bin, Check(name, Verdict.INCONCLUSIVE, note="the program gave no witness to search from")]

    def candidate(case):
        idx, noise, scale = case
        p, t = multi[idx]
        W = t["witness"] + scale * np.abs(t["witness"]).max() * np.reshape(noise, t["witness"].shape)
        return p, t, W

    def slack(case):
        p, t, W = candidate(case)
        r = float(_vs.robust_radius(W, t["X"], t["y"], p))
        return t["eps"] * (1 + delta) - r if np.isfinite(r) else 0.0

    size = multi[0][1]["witness"].size
    strategy = st.tuples(st.integers(0, len(multi) - 1), st.lists(st.integers(-4, 4), min_size=size, max_size=size),
                         st.sampled_from([1 / 64, 1 / 16, 1 / 4, 1.0, 4.0]))
    res = search_counterexample(strategy, slack, seed=ctx.seed_for(name), max_examples=ctx.pick(smoke=40, cpu=300))
    quantities = [Quantity("examples searched", res.n_examples),
                  Quantity("smallest slack ε*(1+δ) − r(W) seen", res.min_slack, bound=0.0, relation=">=")]
    for p, t in multi:
        shape = t["witness"].shape

        def neg_radius(v, p=p, t=t, shape=shape):
            r = float(_vs.robust_radius(v.reshape(shape), t["X"], t["y"], p))
            return -r if np.isfinite(r) else 0.0

        best = minimize(neg_radius, t["witness"].ravel(), method="Nelder-Mead",
                        options={"maxiter": ctx.pick(smoke=300, cpu=2000), "xatol": 1e-10, "fatol": 1e-12})
        quantities.append(Quantity(f"3-class {_LIN_NORM[p]}: best r(W) by Nelder–Mead from the witness", -best.fun,
                                   bound=t["eps"] * (1 + delta), relation="<",
                                   note=f"ε* bracket [{t['eps']:.6g}, {t['upper']:.6g}], {t['n_solves']} solves"))
    ce = None
    if res.found:
        p, t, W = candidate(res.counterexample)
        ce = {"seed": res.seed, "p": p, "W": W, "robust radius": float(_vs.robust_radius(W, t["X"], t["y"], p))}
    above_multi = _lin_program_check(name, quantities, [r for _, t in multi for r in t["results"]], counterexample=ce)
    return [below, above_bin, above_multi]


def vs_constant_reading_check(thresholds) -> Check:
    """How 'trivial' reads for K columns: every constant classifier u1ᵀ stays in V_ε at any ε (here 10ε*),
    so above ε* the version space is C, not {0}; {0} is right for the binary w = w_1 − w_0 only."""
    quantities = []
    for (kind, p), t in thresholds.items():
        if kind != "multiclass":
            continue
        U = np.outer(np.arange(1.0, t["X"].shape[1] + 1), np.ones(t["K"]))
        quantities.append(Quantity(f"3-class {_LIN_NORM[p]}: violation of W = u1ᵀ ≠ 0 at ε = 10ε*",
                                   float(_vs.violation(U, t["X"], t["y"], 10 * t["eps"], p)), bound=0.0,
                                   relation="<="))
    return Check.from_quantities("reading of 'trivial' for K classes: V_ε ⊇ C = {u1ᵀ} ≠ {0} for every ε", quantities,
                                 note="the literal {0} holds only in the binary parameterization w = w_1 − w_0")


def _vs_plot(ctx: Context, thresholds) -> Figure:
    """Fraction of random directions in V_ε vs ε, the thresholds ε* marked. A direction W lies in V_ε iff
    ε <= r(W) (its robust radius), so one radius per direction gives the whole curve."""
    rng = ctx.rng("liu2020.version-space/plot")
    n_dirs = ctx.pick(smoke=1000, cpu=20000)
    fig = Figure(figsize=(11, 4))
    for ax, kind in zip(fig.subplots(1, 2), ("binary", "multiclass")):
        top = max(t["eps"] for (k, _), t in thresholds.items() if k == kind)
        grid = np.linspace(0, 1.3 * top, ctx.pick(smoke=12, cpu=60))
        for (k, p), t in thresholds.items():
            if k != kind:
                continue
            if kind == "binary":
                dirs = _mc.binary_weights(rng.normal(size=(n_dirs, t["X"].shape[1])))
            else:
                dirs = rng.normal(size=(n_dirs, t["X"].shape[1], t["K"]))
            radius = _vs.robust_radius(dirs, t["X"], t["y"], p)
            line, = ax.plot(grid, [float(np.mean(radius >= e)) for e in grid], label=f"{_LIN_NORM[p]}: fraction in V_ε")
            ax.axvline(t["eps"], color=line.get_color(), ls="--", label=f"{_LIN_NORM[p]}: ε* = {t['eps']:.3f}")
        ax.set_xlabel("ε")
        ax.set_ylabel(f"fraction of {n_dirs} random directions in V_ε")
        ax.set_title(("binary w ∈ ℝ²" if kind == "binary" else "3 classes, W ∈ ℝ^{2×3}") + f", N={len(t['y'])}")
        ax.legend(fontsize=8)
    fig.suptitle("Liu et al. 2020: V_ε shrinks with ε and is trivial above the robust margin ε*")
    fig.tight_layout()
    return fig


def check_version_space(ctx: Context, *, reverse_nesting: bool = False, swap_norms: bool = False) -> Outcome:
    thresholds = _vs_thresholds(ctx, _vs_data(ctx), swap_norms)
    checks = [vs_nesting_check(ctx, reverse=reverse_nesting), vs_brute_force_check(ctx), vs_convexity_check(ctx),
              vs_limit_check(ctx, strict=False), vs_limit_constructions_check(), vs_limit_check(ctx, strict=True),
              *vs_threshold_checks(ctx, swap_norms=swap_norms, thresholds=thresholds),
              vs_constant_reading_check(thresholds)]
    eps = {f"{k} {_LIN_NORM[p]}": t["eps"] for (k, p), t in thresholds.items()}
    return Outcome(
        summary=("Nesting, convexity and the threshold hold; the second bullet fails as written: with '≤ 0' V_ε "
                 "contains W ≠ 0 with a zero worst-case score (e.g. identical columns), along which g_ε(x, γW) stays "
                 "log K or log 2. With strict '<' (i ≠ y) the limit is 0. For K columns the trivial V_ε is the set C "
                 "of constant classifiers, not {0}."),
        checks=checks,
        plots={"liu2020_version_space": _vs_plot(ctx, thresholds)},
        scale_note=("toy data (m = 2, N = 8 at smoke / 12 at cpu) and grid-valued hypothesis searches; the statements "
                    "are exact for linear models, so larger scales only add examples"),
        details={"thresholds ε*": eps, "solver": [t["results"][0].solver for t in thresholds.values()],
                 "corrected statement": "∀W with (w_i − w_y)ᵀx' < 0 ∀i ≠ y, ∀x' ∈ S_ε(x): lim_{γ→∞} g_ε(x, γW) = 0"},
    )


@claim("liu2020.version-space",
       where="Liu et al. 2020, Definition (Version Space) eq. (6)/(7), its two bullets, and the Proposition "
             "(slides, Theoretical Analysis: Linear Model)",
       statement="V_ε = {W | (w_i − w_y)ᵀx' ≤ 0, ∀i ∈ [K], x' ∈ S_ε(x)} is a convex set of 'good directions'; "
                 "∀W ∈ V_ε, W ≠ 0: lim_{γ→∞} g_ε(x, γW) = 0; and V_ε2 ⊆ V_ε1 when ε1 ≤ ε2 (good directions shrink "
                 "as ε grows), V_ε becoming trivial above the robust margin",
       formula="V_ε2 ⊆ V_ε1 (ε1 ≤ ε2);  V_ε ≠ C ⇔ ε ≤ ε* = sup_{W∉C} min_{n,i≠y_n} "
               "(w_{y_n}−w_i)ᵀx_n / ||w_i−w_{y_n}||_q",
       tags=("theory", "linear"))
def version_space(ctx: Context) -> Outcome:
    return check_version_space(ctx)


# -- bad directions --

_BD_CONFIGS = ((2, _LIN_INF), (2, 2.0), (3, _LIN_INF))  # exact g_ε along rays: K = 2 closed form, or ℓ∞ vertices
_BD_TOL = 1e-6  # slack allowed to the numerically measured one-sided slopes (their error is ~1e-9 here)


def bd_nesting_check(ctx: Context, *, reverse: bool = False) -> Check:
    """Theorem, part 1: T_ε2 ⊆ T_ε1 for ε1 >= ε2 (reverse=True claims T_ε shrinks, a false variant). Membership from
    the exact 1-D loss γ ↦ L_ε(γW): 0 is a minimizer iff φ'(0+) >= 0 >= φ'(0−), measured by difference quotients."""
    name = "Theorem: T_ε2 ⊆ T_ε1 for ε1 >= ε2" + (" [reversed variant]" if reverse else "")

    def slack(case):
        small, large = case["eps"]
        a, b = (large, small) if reverse else (small, large)
        args = (case["W"], case["X"], case["y"])
        if _bd.bad_direction_margin(*args, a, case["p"]) < -_BD_TOL:
            return 0.0
        return float(_bd.bad_direction_margin(*args, b, case["p"]))

    res = search_counterexample(_lin_grid_case(_BD_CONFIGS), slack, seed=ctx.seed_for(name),
                                max_examples=ctx.pick(smoke=60, cpu=400), tolerance=_BD_TOL)
    return res.to_check(name, note="slack = τ_ε(W) = min(φ'(0+), −φ'(0−)) at the budget that must contain W")


def bd_slopes_check(ctx: Context) -> Check:
    """The measured one-sided slopes of γ ↦ L_ε(γW) agree with the Danskin formula (1/(NK))Σ(v_nᵀx_n ± ε||v_n||_q)."""
    name = "one-sided slopes of the exact 1-D loss = Danskin formula"

    def slack(case):
        W = case["W"] / max(np.linalg.norm(case["W"]), 1e-300)
        args = (W, case["X"], case["y"], case["eps"][0], case["p"])
        measured, formula = _bd.loss_slopes(*args), _bd.danskin_slopes(*args)
        return -max(abs(float(a) - float(b)) for a, b in zip(measured, formula))

    res = search_counterexample(_lin_grid_case(_BD_CONFIGS, n_eps=1), slack, seed=ctx.seed_for(name),
                                max_examples=ctx.pick(smoke=40, cpu=300), tolerance=_BD_TOL)
    return res.to_check(name)


def _bd_data(ctx: Context):
    """One point x ∈ ℝ³, a binary data set (N, m=3) and a 3-class data set (N, m=3), Gaussian."""
    rng = ctx.rng("liu2020.bad-directions/data")
    n = ctx.pick(smoke=8, cpu=12)
    x = rng.normal(size=3)
    a = rng.normal(size=3)
    ypm = np.where(np.arange(n) % 2 == 0, 1, -1)
    Xb = 0.6 * ypm[:, None] * a / np.linalg.norm(a) + rng.normal(size=(n, 3))
    ym = np.arange(n) % 3
    Xm = 1.5 * rng.normal(size=(3, 3))[ym] + rng.normal(size=(n, 3))
    return {"x": x, "binary": (Xb, ypm), "multiclass": (Xm, ym)}


def _bd_settings(data, swap_norms: bool):
    """The six settings with ε̄ and a direction U* attaining it. With swap_norms ε̄ is computed for the dual threat
    norm (the 'wrong margin' variant)."""
    x, (Xb, ypm), (Xm, ym) = data["x"], data["binary"], data["multiclass"]
    out = {}
    for p in (_LIN_INF, 2.0):
        pt = _dual_exponent(p) if swap_norms else p
        for label, X, y in ((f"one point, binary, {_LIN_NORM[p]}", x[None, :], np.array([1])),
                            (f"binary data, {_LIN_NORM[p]}", Xb, ypm)):
            value, w_star = _bd.eps_bar_binary(X, y, pt)
            if label.startswith("one point"):
                value = _bd.eps_bar_point(x, pt)
            out[label] = {"X": X, "y": _mc.binary_labels(y), "K": 2, "p": p, "eps_bar": value,
                          "U": _mc.binary_weights(w_star), "results": []}
    for label, X, y in (("one point, 3 classes, ℓ∞", x[None, :], np.array([0])), ("3-class data, ℓ∞", Xm, ym)):
        pt = _dual_exponent(_LIN_INF) if swap_norms else _LIN_INF
        res = _bd.eps_bar_multiclass(X, y, 3, pt)
        value = _bd.eps_bar_point(x, pt) if label.startswith("one point") else res.value
        out[label] = {"X": X, "y": y, "K": 3, "p": _LIN_INF, "eps_bar": value, "U": res.point, "results": [res]}
    return out


def bd_formula_check(data) -> Check:
    """ε̄ closed forms (||x||_p, ||mean y x||_p) agree with the multiclass program on the same data."""
    x, (Xb, ypm) = data["x"], data["binary"]
    quantities, results = [], []
    for p in (_LIN_INF, 2.0):
        for label, X, y, K, closed in (
                ("one point, K=2", x[None], [1], 2, _bd.eps_bar_point(x, p)),
                ("one point, K=3", x[None], [0], 3, _bd.eps_bar_point(x, p)),
                ("binary data", Xb, _mc.binary_labels(ypm), 2, _bd.eps_bar_binary(Xb, ypm, p)[0])):
            res = _bd.eps_bar_multiclass(X, y, K, p)
            results.append(res)
            quantities.append(Quantity(f"{label}, {_LIN_NORM[p]}: program − closed form", res.value - closed,
                                       bound=0.0, relation="==", tolerance=1e-6 * (1 + closed),
                                       note=f"closed form {closed:.6g}; {res.solver}: {res.status}"))
    return _lin_program_check("ε̄: closed forms = the multiclass program", quantities, results)


def bd_everything_bad_check(ctx: Context, settings, *, factor: float = 1.0) -> Check:
    """Literal piece 'T_ε = ℝ^{m×K} for ε >= ε̄', at the boundary ε = factor·ε̄ (factor < 1: false variant): hypothesis
    search over directions U = c·U* + grid noise for one with τ_ε(U) < 0."""
    name = f"Theorem (literal): T_ε = ℝ^(m×K) at ε = {factor:g}·ε̄"
    labels = list(settings)

    @st.composite
    def directions(draw):
        label = draw(st.sampled_from(labels))
        s = settings[label]
        n = s["U"].size
        noise = np.array(draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n)), float).reshape(s["U"].shape)
        c = draw(st.sampled_from([1.0, 0.0, -1.0, 4.0]))
        return label, c * s["U"] / np.abs(s["U"]).max() + draw(st.sampled_from([0.0, 0.01, 0.1, 1.0])) * noise

    def slack(case):
        label, U = case
        s = settings[label]
        return float(_bd.bad_direction_margin(U, s["X"], s["y"], factor * s["eps_bar"], s["p"]))

    res = search_counterexample(directions(), slack, seed=ctx.seed_for(name), max_examples=ctx.pick(smoke=40, cpu=300),
                                tolerance=_BD_TOL)
    check = res.to_check(name, note="slack = τ_ε(U) = min(φ'(0+), −φ'(0−)) of the exact loss along U")
    bad = [f"{r.solver}: {r.status}" for s in settings.values() for r in s["results"] if not r.ok]
    if bad:
        return Check(name, Verdict.INCONCLUSIVE, check.evidence, note=f"ε̄ program not optimal: {'; '.join(bad)}")
    return check


def bd_minimizer_checks(settings, programs, *, factor: float = 1.0, delta: float = 0.05) -> list[Check]:
    """Literal piece '0 ∈ argmin_W g_ε(x, W)' at ε = factor·ε̄ and factor·ε̄(1+δ): the exact adversarial loss minimized
    by cvxpy stays at log K, the minimizer a constant classifier; and tightness at factor·ε̄(1−δ): U* ∉ T_ε and the
    minimum (re-evaluated in numpy at the program's point) is below log K."""
    above_q, below_q, results = [], [], []
    for label, s in settings.items():
        e, logk = factor * s["eps_bar"], np.log(s["K"])
        at, up, lo = programs[label](e), programs[label](e * (1 + delta)), programs[label](e * (1 - delta))
        results += [at, up, lo, *s["results"]]
        if not (at.ok and up.ok and lo.ok):
            continue
        above_q += [
            Quantity(f"{label}: min L_ε at ε = ε̄ − log K", at.value - logk, bound=0.0, relation=">=", tolerance=1e-6),
            Quantity(f"{label}: min L_ε at ε̄(1+δ) − log K", up.value - logk, bound=0.0, relation=">=",
                     tolerance=1e-6),
            Quantity(f"{label}: spread of the minimizer at ε̄(1+δ) (0 = constant classifier)", _lin_spread(up.point),
                     bound=0.0, relation="<=", tolerance=1e-4)]
        below_q += [
            Quantity(f"{label}: τ_ε(U*) at ε̄(1−δ) (< 0: U* ∉ T_ε)",
                     float(_bd.bad_direction_margin(s["U"], s["X"], s["y"], e * (1 - delta), s["p"])),
                     bound=-_BD_TOL, relation="<"),
            Quantity(f"{label}: exact L_ε at the program's minimizer at ε̄(1−δ) − log K",
                     float(_mc.adversarial_loss(lo.point, s["X"], s["y"], e * (1 - delta), s["p"])) - logk,
                     bound=-1e-6, relation="<", note=f"{lo.solver}")]
    tag = f" [ε̄ scaled by {factor:g}]" if factor != 1 else ""
    return [_lin_program_check(f"Theorem (literal): 0 ∈ argmin_W L_ε at ε = ε̄ and ε̄(1+δ), δ={delta}{tag}", above_q,
                           results),
            _lin_program_check(f"ε̄ is tight: at ε̄(1−δ) U* ∉ T_ε and min L_ε < log K{tag}", below_q, results)]


def _bd_plot(ctx: Context, settings, programs) -> Figure:
    """Fraction of random directions in T_ε, and min_W L_ε, against ε/ε̄ for the three data-set settings. The
    fraction is drawn from the Danskin slopes for many directions (lines) and from the slopes measured on the exact
    loss for fewer (markers); the two must coincide."""
    rng = ctx.rng("liu2020.bad-directions/plot")
    n_many, n_few = ctx.pick(smoke=1000, cpu=20000), ctx.pick(smoke=100, cpu=500)
    fig = Figure(figsize=(11, 4))
    ax_t, ax_l = fig.subplots(1, 2)
    fine, coarse = np.linspace(0, 1.3, 131), np.linspace(0, 1.3, ctx.pick(smoke=6, cpu=14))
    for label in ("binary data, ℓ∞", "binary data, ℓ2", "3-class data, ℓ∞"):
        s = settings[label]
        args = (s["X"], s["y"])
        U = rng.normal(size=(n_many, *s["U"].shape))
        lin, at_1 = _bd.danskin_slopes(U, *args, 0.0, s["p"])[1], _bd.danskin_slopes(U, *args, 1.0, s["p"])[1]
        theta = np.abs(lin) / np.maximum(at_1 - lin, 1e-300)  # φ'(0±) = lin ± ε(at_1 − lin): U ∈ T_ε iff ε >= θ
        line, = ax_t.plot(fine, [float(np.mean(theta <= r * s["eps_bar"])) for r in fine],
                          label=f"{label} (ε̄ = {s['eps_bar']:.3f})")
        U = rng.normal(size=(n_few, *s["U"].shape))
        measured = [float(np.mean(_bd.bad_direction_margin(U, *args, r * s["eps_bar"], s["p"]) >= -_BD_TOL))
                    for r in coarse]
        ax_t.plot(coarse, measured, "o", color=line.get_color(), ms=4)
    ax_t.axvline(1.0, color="k", ls="--", label="ε = ε̄")
    ax_t.set_xlabel("ε / ε̄")
    ax_t.set_ylabel("fraction of random directions in T_ε")
    ax_t.set_title(f"T_ε grows to everything at ε̄ (lines: Danskin, {n_many} dirs;\n"
                   f"dots: slopes measured on the exact loss, {n_few} dirs)", fontsize=9)
    ax_t.legend(fontsize=8)
    for label in ("binary data, ℓ∞", "3-class data, ℓ∞"):
        s = settings[label]
        grid = np.linspace(0, 1.5, ctx.pick(smoke=4, cpu=13))
        vals = [programs[label](r * s["eps_bar"]) for r in grid]
        line, = ax_l.plot(grid, [v.value if v.ok else np.nan for v in vals], marker="o", label=f"min L_ε, {label}")
        ax_l.axhline(np.log(s["K"]), color=line.get_color(), ls=":", label=f"log {s['K']}")
    ax_l.axvline(1.0, color="k", ls="--", label="ε = ε̄")
    ax_l.set_xlabel("ε / ε̄")
    ax_l.set_ylabel("min_W L_ε(W)  (cvxpy, exact inner max)")
    ax_l.set_title("the minimal adversarial loss reaches log K at ε̄\n"
                   "(minimum over the box |W_jk| ≤ 5/max_n||x_n||_1)", fontsize=9)
    ax_l.legend(fontsize=8)
    fig.suptitle("Liu et al. 2020: for ε ≥ ε̄ every direction is bad and W = 0 minimizes the adversarial loss")
    fig.tight_layout()
    return fig


def check_bad_directions(ctx: Context, *, reverse_nesting: bool = False, threshold_factor: float = 1.0,
                         swap_norms: bool = False) -> Outcome:
    data = _bd_data(ctx)
    settings = _bd_settings(data, swap_norms)
    programs = {label: _bd.min_loss_program(s["X"], s["y"], s["K"], s["p"]) for label, s in settings.items()}
    checks = [bd_nesting_check(ctx, reverse=reverse_nesting), bd_slopes_check(ctx), bd_formula_check(data),
              bd_everything_bad_check(ctx, settings, factor=threshold_factor),
              *bd_minimizer_checks(settings, programs, factor=threshold_factor)]
    return Outcome(
        summary=("T_ε grows with ε; at ε̄ (||x||_p for one point, ||mean y x||_p for binary data, a convex program for "
                 "3 classes) every direction is bad and the exact adversarial loss is minimized by W = 0 at log K; "
                 "just below ε̄ a descent direction and a loss below log K exist."),
        checks=checks,
        plots={"liu2020_bad_directions": _bd_plot(ctx, settings, programs)},
        scale_note=("toy data (m = 3, N = 8 at smoke / 12 at cpu); 3-class settings with the ℓ∞ threat only, where the "
                    "exact loss is computable by vertex enumeration; the statements are exact for linear models"),
        details={"eps_bar": {k: s["eps_bar"] for k, s in settings.items()},
                 "solvers": sorted({r.solver for s in settings.values() for r in s["results"]})},
    )


@claim("liu2020.bad-directions",
       where="Liu et al. 2020, Definition (8) and the Theorem after it (slides, Theoretical Analysis: Linear Model)",
       statement="T_ε = {W | 0 ∈ argmin_γ g_ε(x, γW)}: T_ε2 ⊆ T_ε1 when ε1 ≥ ε2; ∃ε̄ such that ∀ε ≥ ε̄, "
                 "T_ε = R^{m×K}; in this case 0 ∈ argmin_W g_ε(x, W)",
       formula="ε̄ = sup_W (−Σ_n v_nᵀx_n) / Σ_n ||v_n||_q, v_n = Σ_j w_j − K w_{y_n}; ε̄ = ||x||_p (one point), "
               "||(1/N)Σ_n y_n x_n||_p (binary)",
       tags=("theory", "linear"))
def bad_directions(ctx: Context) -> Outcome:
    return check_bad_directions(ctx)

# ---- end section A ----

# ---- section: smoothness and convergence (owner: helper B) ----

# ---- end section B ----
