"""liu2020.version-space-threshold: V_ε holds a non-constant classifier exactly up to the robust margin ε* (our
reading of the slides' remark after the Proposition, "the set of 'good directions' will shrink with increase of ε").

The slides state the shrinking (the Proposition, claim liu2020.version-space) but no threshold. Our reading: for
K columns the trivial version space is the set C of constant classifiers u1ᵀ (in V_ε for every ε by the
definition, so never {0}; {0} is the binary reading w = w_1 − w_0), and V_ε ≠ C exactly when ε <= ε*, the largest
robust margin of a non-constant linear classifier. Math in theory/version_space.py; here the programs and
searches (unit), the verdicts (decide) and the figure (plot).
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from advland.seeding import numpy_rng
from advland.theory import multiclass as mc
from advland.theory import version_space as vs
from advland.theory.linear import dual_exponent

from ...figures import legend, panels
from ...model import Check, Context, Outcome, Quantity, Verdict, hypothesis_seed, unit_kind, unit_results
from ...registry import claim
from ...search import SearchResult, digit_arrays, search_counterexample
from ._common import INF, NORM_NAME, program_check, program_status, spread, summary

DELTA = 0.02  # thresholds are tested at ε*(1 ± δ)


def _threshold_tag(swap_norms: bool, factor: float) -> str:
    return (" [swapped-norm variant]" if swap_norms else "") + (f" [ε* scaled by {factor:g}]" if factor != 1 else "")


def _above_multi_title(swap_norms: bool, factor: float) -> str:
    return ("threshold: 3-class V_ε = C at ε*(1+δ) (search for W with r(W) > ε*(1+δ))"
            + _threshold_tag(swap_norms, factor))


# ---- units ----

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
        noise = draw(digit_arrays(multi[idx][1]["witness"].shape, base=9))
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


@unit_kind("liu2020.version-space.thresholds", version="2")
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

def units(ctx: Context, *, swap_norms: bool = False) -> dict:
    """The claim's unit by name (false variants as keywords)."""
    return {"thresholds": thresholds.unit(
        seed=ctx.seed, n=ctx.pick(smoke=8, cpu=12), rtol=ctx.pick(smoke=1e-3, cpu=1e-4),
        max_examples=ctx.pick(smoke=20, cpu=300), maxiter=ctx.pick(smoke=300, cpu=2000),
        n_dirs=ctx.pick(smoke=1000, cpu=20000), n_grid=ctx.pick(smoke=12, cpu=60), swap_norms=swap_norms)}


def plan(ctx: Context, **variant) -> list:
    return list(units(ctx, **variant).values())


# ---- decide ----

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

def decide(ctx: Context, results, *, swap_norms: bool = False) -> Outcome:
    u = units(ctx, swap_norms=swap_norms)
    r = unit_results(u, results)
    checks = threshold_checks(r["thresholds"], u["thresholds"].params)
    settings = r["thresholds"]["settings"]
    return Outcome(
        summary=summary(checks, {}) + (" For K columns the trivial version space is the set C of constant classifiers "
                                       "u1ᵀ, never {0}; {0} is the binary reading (w = w_1 − w_0)."),
        checks=checks,
        scale_note="toy data (m = 2, N = 8 at smoke / 12 at cpu); the statement is exact for linear models",
        details={"thresholds ε*": {s["label"]: s["eps"] for s in settings},
                 "solver": [s["program"]["solver"] for s in settings]},
    )


# ---- plot ----

def plot(ctx: Context, results, **variant) -> dict:
    """Fraction of random directions in V_ε vs ε, the thresholds ε* marked (no figure if an ε* is not > 0)."""
    found = unit_results(units(ctx, **variant), results)["thresholds"]
    curves = found["curves"]
    if curves is None:
        return {}
    by_kind = {kind: [s for s in found["settings"] if s["kind"] == kind] for kind in ("binary", "multiclass")}
    titles = {"binary": "binary w ∈ ℝ²", "multiclass": "3 classes, W ∈ ℝ²ˣ³"}
    fig, axes = panels(*((f"{titles[kind]}, N={settings[-1]['N']}", "ε",
                          f"fraction of {curves['n_dirs']} random directions in V_ε")
                         for kind, settings in by_kind.items()),
                       suptitle="Liu et al. 2020: V_ε shrinks with ε and is trivial above the robust margin ε*",
                       size=(11, 4), title_size=11)
    for ax, settings in zip(axes, by_kind.values()):
        for s in settings:
            curve, name = curves["by setting"][s["label"]], NORM_NAME[float(s["p"])]
            line, = ax.plot(curve["eps"], curve["fraction"], label=f"{name}: fraction in V_ε")
            ax.axvline(s["eps"], color=line.get_color(), ls="--", label=f"{name}: ε* = {s['eps']:.3f}")
    legend(*axes, fontsize=8)
    return {"liu2020_version_space": fig}


CLAIM = claim(
    "liu2020.version-space-threshold",
    where="Liu et al. 2020, the Proposition on the version space and the remark after it (slides, Theoretical "
          "Analysis: Linear Model)",
    statement="V_ε contains a non-constant classifier exactly when ε <= ε*, the largest robust margin of a "
              "non-constant linear classifier on the data; above ε*, V_ε is the set C of constant classifiers "
              "({0} for a binary w)",
    formula="V_ε ≠ C ⇔ ε ≤ ε* = sup_{W∉C} min_{n,i≠y_n} (w_{y_n}−w_i)ᵀx_n / ||w_i−w_{y_n}||_q",
    tags=("theory", "linear"),
    source="our reading: the slides say only that the good directions 'will shrink with increase of ε'; the "
           "threshold ε* and the trivial set C are our derivation",
    expect="confirmed",
)(plan=plan, decide=decide, plot=plot)
