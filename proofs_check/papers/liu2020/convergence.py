"""liu2020.convergence: Theorem (Convergence), eq. 12 (Liu et al. 2020, slides "Why smoothness matters?"), on SGD
for adversarial logistic regression with an exact inner maximum (theory/convergence.py, theory/smoothness.py), in
the setting the slides give it, adversarial training (ε > 0).

Units: the SGD runs with their tail and moment statistics (one unit: the thinning offsets of every setting come
from one random stream, in order), and the argument that the tail bound follows from E[G² − 2G] <= 0. The readings
the slides leave open are claims of their own on the same units: eq. 12 at ε = 0 too (convergence_eps_zero.py),
our reconstruction of its proof (convergence_proof.py), and the bullet "The gradients are non-vanishing" for every
ε > 0 (gradients_nonvanishing.py) and at kinks only (gradients_nonvanishing_at_kinks.py). False variants for the
tests: ``bound`` names the claimed tail in ``TAIL_BOUNDS`` (4/(γ²−2γ+4) in the paper) and ``threshold_scale``
multiplies the threshold γεL_θx (1 in the paper).
"""
from __future__ import annotations

import itertools

import numpy as np
from hypothesis import strategies as st

from advland.seeding import numpy_rng
from advland.theory import convergence as conv
from advland.theory import smoothness as sm
from advland.theory.bad_directions import eps_bar_binary

from ...figures import legend_beside, panels
from ...model import Check, Context, Outcome, Quantity, Verdict, hypothesis_seed, unit_kind, unit_results, worst
from ...registry import claim
from ...search import SearchResult, search_counterexample
from ._common import p_name

STREAM = "liu2020.convergence"  # prefix of the random streams
TAIL_BOUNDS = {"paper": conv.tail_bound}  # the claimed P(G > γ) bound, by name
GAMMAS = np.array([2.0, 2.5, 3.0, 4.0, 6.0, 10.0, 20.0])
EXTREMAL_GRID = np.array([2.0, 2.0 + 1e-9, 2.1, 2.5, 3.0, 4.0, 6.0, 10.0, 20.0, 100.0])
EVERY = 4  # full-batch gradient norms at every EVERY-th iterate (4·EVERY at 4T)
EPS_T = 0.2  # the budget re-run at 4T


def _data(rng, n, agree=0.8):
    """Bounded data in {±1}³: coordinate 0 equals y on a fraction ``agree`` of the examples (0.8: non-separable;
    1.0: separable with ℓ∞-robust margin 1), coordinates 1-2 are independent coin flips (uninformative, so the
    ℓ∞-adversarial minimizer pins them at the kink w_j = 0)."""
    y = rng.choice([-1.0, 1.0], n)
    X = rng.choice([-1.0, 1.0], (n, 3))
    X[:, 0] = y * np.where(rng.random(n) < agree, 1.0, -1.0)
    return X, y


def _sgd_run(seed, X, y, eps, p, T, chains, every, tag=""):
    """SGD with the theorem's step α = 1/(L_θθ√T); full-batch gradient norms at every ``every``-th iterate;
    plateau = RMS gradient norm over the last quarter of the iterates of all chains; and L_θx three ways: certified
    on the Euclidean ball holding every iterate (``lipschitz_constants``), certified at each iterate
    (``local_lipschitz_thetax``, whose maximum over every iterate is the tightest single constant valid along the
    whole trajectory, the one the tail is decided on), and its value at θ = 0 (where every chain starts)."""
    L0 = sm.lipschitz_constants(X, eps, p, 0.0)  # L_θθ = R²/4 does not depend on the θ-ball
    step = conv.theorem_step(L0.L_thetatheta, T)
    rng = numpy_rng(seed, f"{STREAM}/sgd/{tag}{p_name(p)}/{eps}/{T}")
    its = conv.sgd_trajectories(X, y, eps, p, T, step=step, batch=16, chains=chains, rng=rng)
    norms = conv.full_grad_norms(its[:, ::every], X, y, eps, p)
    L = sm.lipschitz_constants(X, eps, p, float(np.linalg.norm(its, axis=2).max()))
    tail = norms[:, -norms.shape[1] // 4:]
    return {"norms": norms, "L": L, "step": step, "plateau": float(np.sqrt(np.mean(tail ** 2))),
            "final": its[:, -1].mean(axis=0),
            "L_thetax": {"ball": L.L_thetax, "along": float(sm.local_lipschitz_thetax(its, X, y, eps, p).max()),
                         "at 0": float(sm.local_lipschitz_thetax(np.zeros(X.shape[1]), X, y, eps, p))}}


def _tail(norms, threshold, rng) -> dict:
    """``conv.thinned_tail`` and the resolution of its sample: the upper 95% end when no draw exceeds."""
    r = conv.thinned_tail(norms, threshold, rng=rng)
    return {**r, "resolution": conv.clopper_pearson(0, r["n"])[1]}


@unit_kind("liu2020.convergence.sgd", version="2")
def sgd_statistics(*, seed: int, n: int, T: int, chains: int, long_chains: int, eps_linf: list, eps_l2: list,
                   bound: str = "paper", threshold_scale: float = 1.0) -> dict:
    """SGD at ε = 0 and for each (threat, ε) — ℓ2 also at ε = 1.25·ε̄ (beyond the kink w* = 0) — with the tail of
    G = ||∇L_ε|| / (threshold_scale·εL_θx) at every γ of GAMMAS (a setting violating the bound at T is re-run at
    4T), the moment E[G² − 2G], and the plateau gradients at T and 4T, on non-separable and separable data.

    L_θx is the tightest certified one: the maximum over every iterate of the constant certified at that iterate
    (``_sgd_run``). The ball constant, larger, would raise the threshold γεL_θx and lean toward confirming; it is
    reported beside, with the largest G it would give, and so is the value at θ = 0."""
    claimed = TAIL_BOUNDS[bound]
    X, y = _data(numpy_rng(seed, STREAM + "/data"), n)
    eps_bar2 = eps_bar_binary(X, y, 2)[0]  # ℓ2: w* = 0 iff ε >= ||mean y x||_2
    eps_big = round(1.25 * eps_bar2, 3)
    eps_lists = {np.inf: list(eps_linf), 2.0: [*eps_l2, eps_big]}
    trng = numpy_rng(seed, STREAM + "/thinning")
    clean = _sgd_run(seed, X, y, 0.0, np.inf, T, chains, EVERY)
    runs = {(p, e): _sgd_run(seed, X, y, e, p, T, chains, EVERY) for p, es in eps_lists.items() for e in es}
    literal = _tail(clean["norms"], 0.0, trng)
    stats = []
    for (p, e), run in runs.items():
        decided = run
        G = run["norms"] / (e * run["L_thetax"]["along"] * threshold_scale)
        tails, horizon = [_tail(G, g, trng) for g in GAMMAS], "T"
        if any(r["lo"] >= float(claimed(g)) for r, g in zip(tails, GAMMAS)):
            # 'for a sufficiently large T': a violation at T is re-tested at 4T and refutes only if it persists
            decided = _sgd_run(seed, X, y, e, p, 4 * T, long_chains, 4 * EVERY)
            G = decided["norms"] / (e * decided["L_thetax"]["along"] * threshold_scale)
            tails, horizon = [_tail(G, g, trng) for g in GAMMAS], "4T"
        stats.append({"p": p_name(p), "eps": e, "step": run["step"], "L_thetax": decided["L_thetax"],
                      "plateau": run["plateau"], "final": run["final"], "tails": tails, "horizon": horizon,
                      "max G": float(G.max()),
                      "max G ball": float(decided["norms"].max() / (e * decided["L_thetax"]["ball"] * threshold_scale)),
                      "moment": conv.thinned_mean(G * G - 2 * G, rng=trng)})
    long = [{"p": p_name(p), "eps": e, "plateau": _sgd_run(seed, X, y, e, p, 4 * T, long_chains, 4 * EVERY)["plateau"]}
            for p, e in ((np.inf, 0.0), (np.inf, EPS_T), (2.0, EPS_T))]
    Xs, ys = _data(numpy_rng(seed, STREAM + "/separable"), len(y), agree=1.0)
    separable = [_sgd_run(seed, Xs, ys, EPS_T, np.inf, t, c, e, tag="separable/")["plateau"]
                 for t, c, e in ((T, chains, EVERY), (4 * T, long_chains, 4 * EVERY))]
    return {"N": len(y), "eps_bar_l2": eps_bar2, "eps_big": eps_big, "bounds": [float(claimed(g)) for g in GAMMAS],
            "literal": literal, "clean plateau": clean["plateau"], "runs": stats, "long": long,
            "separable": separable}


@unit_kind("liu2020.convergence.bound-argument", version="2")
def bound_argument(*, seed: int, max_examples: int, bound: str = "paper") -> dict:
    """Does the claimed tail bound follow from E[G² − 2G] <= 0? A search over two-point laws with that moment
    for the largest mass above γ >= 2, the bound minus the extremal tail 1/(γ−1)² on a grid, and both curves."""
    claimed = TAIL_BOUNDS[bound]
    search = search_counterexample(
        st.tuples(st.floats(2.0, 50.0), st.floats(0.0, 2.0), st.floats(1e-6, 1.0)),
        lambda c: float(claimed(c[0])) - conv.two_point_tail(c[0], c[1], c[0] + c[2]),
        seed=hypothesis_seed(seed, STREAM + "/extremal"), max_examples=max_examples)
    curve = np.linspace(2.0, GAMMAS[-1], 300)
    return {"two-point laws": search.as_dict(),
            "grid": [{"gamma": g, "bound minus extremal": float(claimed(g) - conv.extremal_tail(g))}
                     for g in EXTREMAL_GRID],
            "curve": {"gamma": curve, "bound": claimed(curve), "extremal": conv.extremal_tail(curve)}}


def units(ctx: Context, *, bound: str = "paper", threshold_scale: float = 1.0) -> dict:
    return {
        "sgd": sgd_statistics.unit(seed=ctx.seed, n=ctx.pick(smoke=100, cpu=200), T=ctx.pick(smoke=1000, cpu=6000),
                                   chains=ctx.pick(smoke=8, cpu=12), long_chains=ctx.pick(smoke=8, cpu=8),
                                   eps_linf=ctx.pick(smoke=[0.2, 0.4], cpu=[0.1, 0.2, 0.4, 1.0]),
                                   eps_l2=ctx.pick(smoke=[0.2], cpu=[0.1, 0.2, 0.4]), bound=bound,
                                   threshold_scale=threshold_scale),
        "bound argument": bound_argument.unit(seed=ctx.seed, max_examples=ctx.pick(smoke=40, cpu=300), bound=bound),
    }


def plan(ctx: Context, **variant) -> list:
    return list(units(ctx, **variant).values())


# ---- decide ----

def interval_check(name: str, rows, *, key: str, note: str = "", on_violation=Verdict.REFUTED) -> Check:
    """Decide P < b for each row (label, tail stats, b): a violation (the 95% interval at or above b) gives
    ``on_violation``; an interval straddling b is inconclusive; an interval below b confirms."""
    quantities, verdicts, ce = [], [], None
    for label, r, b in rows:
        quantities.append(Quantity(f"P({label}) vs bound {b:.4g}", r["freq"],
                                   note=f"95% CI [{r['lo']:.4f}, {r['hi']:.4f}] from k={r['k']} of n={r['n']} "
                                        f"thinned draws (stride <= {r['stride']})"))
        if r["lo"] >= b:
            verdicts.append(on_violation)
            ce = ce or {"event": label, "freq": r["freq"], "ci95": [r["lo"], r["hi"]], "bound": b, "n": r["n"]}
        else:
            verdicts.append(Verdict.INCONCLUSIVE if r["hi"] >= b else Verdict.CONFIRMED)
    return Check(name, worst(verdicts), quantities, ce, note, key=key)


def asymptotic(check: Check) -> Check:
    """A statement that only holds 'for a sufficiently large T': a violation at the T run here is inconclusive."""
    if check.verdict is not Verdict.REFUTED:
        return check
    return Check(check.name, Verdict.INCONCLUSIVE, check.evidence, check.counterexample,
                 check.note + " Violated at this T; the statement is asymptotic in T, so this does not refute it.",
                 key=check.key)


def literal_check(sgd: dict) -> Check:
    """Eq. 12 at ε = 0 (every γ >= 2): the threshold γεL_θx is 0 and the event is ||∇L_0(θ_t)|| > 0."""
    return interval_check(
        "eq. 12 at ε = 0 (∀γ >= 2)",
        [(f"||∇L_0|| > {g:g}·0·L_θx = 0", sgd["literal"], b) for g, b in zip(GAMMAS, sgd["bounds"])],
        key="literal-eq-12",
        note="at ε = 0 the threshold γεL_θx is 0 and every SGD iterate has ||∇|| > 0, for every T.")


def tail_check(sgd: dict) -> Check:
    """Eq. 12 for ε > 0 at every γ the thinned sample resolves, with the L_θx it was decided on and the others."""
    bounds = sgd["bounds"]
    rows = [(f"G > {g:g} | ℓ{run['p']}, ε={run['eps']:g}, {run['horizon']}", r, b)
            for run in sgd["runs"] for g, r, b in zip(GAMMAS, run["tails"], bounds) if r["resolution"] < b]
    check = interval_check(
        "eq. 12 for ε > 0 (γ resolvable by the thinned sample)", rows, key="eq-12",
        note="G = ||∇L_ε(θ_t)|| / (εL_θx) with L_θx the largest of the constants certified at each iterate (the "
             "tightest single constant valid along the trajectory); a γ whose bound is below the Clopper–Pearson "
             "resolution of the thinned sample is left out; a setting violating the bound at T is re-run at 4T and "
             "judged there (the theorem is for a sufficiently large T).")
    check.evidence += [
        Quantity(f"L_θx decided on (ℓ{run['p']}, ε={run['eps']:g}, {run['horizon']})", run["L_thetax"]["along"],
                 note=f"certified at every iterate; on the ball holding them {run['L_thetax']['ball']:.4g} "
                      f"(largest G {run['max G ball']:.3g} against {run['max G']:.3g}); at θ = 0 "
                      f"{run['L_thetax']['at 0']:.4g}")
        for run in sgd["runs"]]
    return check


def moment_check(sgd: dict) -> Check:
    """The proof's moment inequality E[G² − 2G] <= 0 at the random iterate (asymptotic in T)."""
    moments = [Quantity(f"E[G² − 2G] upper 95% end (ℓ{run['p']}, ε={run['eps']:g})", run["moment"]["hi"], bound=0.0,
                        relation="<=",
                        note=f"mean {run['moment']['mean']:.4f} over all iterates, n={run['moment']['n']} thinned")
               for run in sgd["runs"]]
    return asymptotic(Check.from_quantities("the proof's moment inequality E[G² − 2G] <= 0 at the random iterate",
                                            moments, key="moment-inequality"))


def bound_checks(argument: dict) -> list[Check]:
    """The tail bound as a consequence of E[G² − 2G] <= 0: the search over two-point laws, the extremal grid."""
    search = SearchResult.from_dict(argument["two-point laws"]).to_check(
        "the tail bound follows from E[G² − 2G] <= 0 for every law of G (search over two-point laws, γ >= 2)",
        key="two-point-laws",
        note="example = (γ, low atom, high atom − γ) of a two-point law with E[G² − 2G] <= 0 and the largest mass "
             "above γ.")
    extremal = Check.from_quantities(
        "the tail bound dominates the extremal tail sup P(G > γ) = 1/(γ−1)² (targeted)",
        [Quantity(f"bound({row['gamma']:.10g}) − 1/(γ−1)²", row["bound minus extremal"], bound=0.0, relation=">=",
                  tolerance=1e-12) for row in argument["grid"]], key="extremal-tail",
        note="4/(γ²−2γ+4) − 1/(γ−1)² = 3γ(γ−2) / ((γ²−2γ+4)(γ−1)²) >= 0 exactly when γ >= 2; equality at γ = 2, "
             "where the supremum 1 is not attained, so the strict '< 1' holds under E[G²−2G] <= 0.")
    return [search, extremal]


def plateaus(sgd: dict) -> dict:
    """Plateau gradients by (threat name, ε) at T, at 4T, and the ratios 4T / T."""
    at_T = {(run["p"], run["eps"]): run["plateau"] for run in sgd["runs"]}
    at_T[("inf", 0.0)] = sgd["clean plateau"]
    at_4T = {(run["p"], run["eps"]): run["plateau"] for run in sgd["long"]}
    return {"T": at_T, "4T": at_4T, "persist": {k: v / at_T[k] for k, v in at_4T.items()}}


def scale_note(sgd: dict, params) -> str:
    """What the SGD unit ran, for every claim built on it."""
    return (f"T = {params['T']} (and {4 * params['T']}), {params['chains']} chains, N = {sgd['N']}, d = 3, batch 16; "
            "'sufficiently large T' is asymptotic: larger T and more chains would resolve larger γ; a nonlinear model "
            "is not run.")


# ---- the claim: eq. 12 in adversarial training (ε > 0) ----

def decide(ctx: Context, results, *, bound: str = "paper", threshold_scale: float = 1.0) -> Outcome:
    u = units(ctx, bound=bound, threshold_scale=threshold_scale)
    sgd = unit_results({"sgd": u["sgd"]}, results)["sgd"]
    check = tail_check(sgd)
    max_g = {f"{run['p']}/{run['eps']:g}": run["max G"] for run in sgd["runs"]}
    top = max(max_g, key=max_g.get)
    return Outcome(
        summary=(f"Eq. 12 for ε > 0: {check.verdict.value}. The largest G = ||∇L_ε||/(εL_θx) seen is "
                 f"{max_g[top]:.2f} (ℓ{top}), with L_θx the tightest constant certified along the trajectory; the "
                 f"constant certified on the ball holding every iterate would give at most "
                 f"{max(run['max G ball'] for run in sgd['runs']):.2f}."),
        checks=[check],
        scale_note=scale_note(sgd, u["sgd"].params),
        details={"step_sizes": {f"{run['p']}/{run['eps']:g}": run["step"] for run in sgd["runs"]},
                 "L_thetax": {f"{run['p']}/{run['eps']:g}": run["L_thetax"] for run in sgd["runs"]},
                 "eps_bar_l2": sgd["eps_bar_l2"], "max_G": max_g,
                 "autocorrelation": "each chain thinned with stride ⌈2τ⌉ (Sokal integrated autocorrelation time of "
                                    "its gradient-norm series) from a random offset; independent chains pooled; "
                                    "Clopper–Pearson 95% on the thinned draws"})


# ---- plot ----

def plot(ctx: Context, results, **variant) -> dict:
    """The tail P(G > γ) of every setting against the claimed bound."""
    u = units(ctx, **variant)
    r = unit_results(u, results)
    sgd, curve, T = r["sgd"], r["bound argument"]["curve"], u["sgd"].params["T"]
    fig, (ax,) = panels((f"Tail of the gradient norm under SGD, α = 1/(L_θθ√T), T = {T}\n"
                         "(L_θx: the largest of the constants certified at each iterate)", "γ",
                         "P(||∇L_ε(θ_t)|| > γεL_θx), random iterate"), size=(9.5, 4))
    ax.plot(curve["gamma"], curve["bound"], "k-", lw=2, label="claimed bound")
    ax.plot(curve["gamma"], curve["extremal"], "k:", lw=1, label="sup under E[G²−2G] <= 0: 1/(γ−1)²")
    for run, marker in zip(sgd["runs"], itertools.cycle("osD^vP*X<>")):  # one marker per setting
        f = np.array([t["freq"] for t in run["tails"]])
        ax.errorbar(GAMMAS, f, yerr=[np.maximum(f - [t["lo"] for t in run["tails"]], 0),
                                     np.array([t["hi"] for t in run["tails"]]) - f],
                    fmt=f"{marker}-", ms=4, capsize=2, alpha=0.7,
                    label=f"ℓ{'∞' if run['p'] == 'inf' else run['p']}, ε={run['eps']:g}: 95% CI, "
                          f"max G = {run['max G']:.2f}")
    ax.axhline(sgd["literal"]["freq"], color="r", lw=2, label="ε = 0: P(||∇|| > 0) for every γ")
    legend_beside(ax)
    return {"liu2020_convergence_tail": fig}


CLAIM = claim(
    "liu2020.convergence",
    where="Liu et al. 2020, Theorem (Convergence), eq. 12, and the bullets after it (slides, 'Why smoothness "
          "matters?')",
    statement=("In adversarial training (ε > 0), SGD with constant step 1/(L_θθ√T) and unbiased stochastic gradients "
               "of bounded variance: for a sufficiently large T the randomly selected iterate has a large gradient "
               "with bounded probability."),
    formula="ε > 0, ∀γ >= 2: P(||∇L_ε(θ_t)|| > γεL_θx) < 4/(γ² − 2γ + 4)", tags=("theory", "convergence"),
    source="slides, Theorem (Convergence) eq. 12, in the setting of the bullet after it, 'In adversarial training, "
           "i.e., ε > 0' (verified text)",
    expect="confirmed",
)(plan=plan, decide=decide, plot=plot)
