"""yamada2021.l2-sharpening: the abstract of Yamada et al. (2021, arXiv 2102.02950), "adversarial training with the
L2 norm constraints sharpens the weight loss landscape in the linear logistic regression model ... the weight loss
landscape becomes sharper as the magnitude of the noise of adversarial training increases" (verified text).

Decided on what the abstract says: at the adversarially trained solutions w*(ε) (L-BFGS on L_ε + (λ/2)||w||²) the
sharpness, λ_max of the Hessian of L_ε w.r.t. the weights (closed form, checked against finite differences), grows
with ε: two Gaussian data sets and MNIST 3 vs 8, several weight decays. Stronger readings of the theorem, whose text
is not available, are claims of their own (fixed_w_eigenvalues.py, orthogonal_curvature.py); the units are in
_common.py.
"""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from scipy.stats import kendalltau, spearmanr

from ...model import Check, Context, Outcome, Quantity, Verdict, unit_results
from ...registry import claim
from ._common import MNIST_DIGITS, SEPARATIONS, WEIGHT_DECAY, all_units, hessian_check

NAMES = ("hessian l2", *(f"gaussians {s:g}" for s in SEPARATIONS), "mnist")


def units(ctx: Context) -> dict:
    every = all_units(ctx)
    return {name: every[name] for name in NAMES}


def plan(ctx: Context) -> list:
    return list(units(ctx).values())


def trained_title(label: str, direction: int = 1) -> str:
    return f"{label}: λ_max(∇²L_ε(w*(ε))) {'increases' if direction == 1 else 'decreases'} with ε"


# ------------------------------------------------------------------ decide

def _trend(eps, values, direction: int):
    """(smallest relative step direction·(v_{k+1} − v_k)/|v_k|, Kendall τ, Spearman ρ) of values over the grid."""
    v = np.asarray(values, float)
    steps = direction * np.diff(v) / np.maximum(np.abs(v[:-1]), 1e-300)
    return float(steps.min()), float(kendalltau(eps, v)[0]), float(spearmanr(eps, v)[0])


def trained_check(label: str, curve: dict, direction: int = 1, step_tolerance: float = 1e-6,
                  min_kendall: float = 0.8, *, key: str) -> Check:
    """At the trained minimizers: λ_max(∇²L_ε(w*(ε))) increases with ε (direction=+1). Decided on the
    unnormalized λ_max (the paper's sharpness = Hessian eigenvalues; the loss of a linear model is not scale
    invariant in w); λ_max·||w*||² is reported beside it. A solver that did not reach its gradient tolerance makes
    it inconclusive."""
    rows = curve["rows"]
    eps = [r["eps"] for r in rows]
    step, tau, rho = _trend(eps, [r["lambda_max"] for r in rows], direction)
    n_step, n_tau, _ = _trend(eps, [r["normalized"] for r in rows], 1)
    name = trained_title(label, direction)
    q = [Quantity("smallest relative step of λ_max along the ε grid", step, bound=0.0, relation=">=",
                  tolerance=step_tolerance, note=f"direction {direction:+d}"),
         Quantity("Kendall τ(ε, λ_max) × direction", direction * tau, bound=min_kendall, relation=">="),
         Quantity("Spearman ρ(ε, λ_max)", rho),
         Quantity("λ_max at smallest ε", rows[0]["lambda_max"]), Quantity("λ_max at largest ε", rows[-1]["lambda_max"]),
         Quantity("normalized λ_max·||w*||²: smallest relative step", n_step),
         Quantity("normalized λ_max·||w*||²: Kendall τ", n_tau),
         Quantity("largest solver gradient norm", max(r["grad_norm"] for r in rows),
                  note=f"L-BFGS on L_ε + (λ/2)||w||², λ = {curve['weight_decay']:g}"),
         Quantity("ε grid points where all m_i(ε) >= 0 at w*", sum(r["margin_radius"] >= r["eps"] for r in rows))]
    note = (f"ε grid = {np.round(eps, 4).tolist()} (fractions of ||mean y x||₂ = {curve['threshold']:.4g}); "
            "Hessian of the unregularized L_ε (regularizer adds λI at every ε)")
    return Check.from_quantities(name, q, note=note, key=key,
                                 solvers=[(f"L-BFGS at ε = {r['eps']:.4g} (gradient norm {r['grad_norm']:.2g})",
                                           r["converged"]) for r in rows])


def trained_key(data_set: str, decay: float) -> str:
    """The key of a trained-minimizer check, e.g. trained-gaussians-3-decay-0-001, trained-mnist-decay-0-001."""
    return f"trained-{data_set}-decay-{decay:g}".replace(".", "-")


def _trained(u: dict, r: dict) -> tuple[list[dict], dict, str]:
    """Every trained curve as {data set, decay, key, curve} (synthetic sets, then MNIST when present), the data
    sets' separability by label, and the MNIST label."""
    trained, data = [], {}
    for s in SEPARATIONS:
        g = r[f"gaussians {s:g}"]
        label = (f"two Gaussians d=50, ||μ||={s:g}, N={u[f'gaussians {s:g}'].params['n']} "
                 f"({'' if g['separable'] else 'not '}separable)")
        data[label] = {"separable": g["separable"], "lp_status": g["lp_status"]}
        trained += [{"data set": label, "decay": c["weight_decay"], "curve": c,
                     "key": trained_key(f"gaussians-{s:g}", c["weight_decay"])} for c in g["curves"]]
    m = r["mnist"]
    mnist = f"MNIST {MNIST_DIGITS[0]} vs {MNIST_DIGITS[1]}, N={u['mnist'].params['n']}, d=784"
    if "curve" in m:
        data[mnist] = {"separable": m["separable"], "lp_status": m["lp_status"]}
        trained.append({"data set": mnist, "decay": WEIGHT_DECAY, "key": trained_key("mnist", WEIGHT_DECAY),
                        "curve": m["curve"]})
    return trained, data, mnist


def _by_label(trained: list[dict]) -> dict:
    return {f"{t['data set']}, λ={t['decay']:g}": t["curve"] for t in trained}


def _summary(hessian: Check, trained: list, curves: dict) -> str:
    """One paragraph built from the computed verdicts and curves."""
    decided = [c for c in trained if c.verdict is not Verdict.SKIPPED]
    rising = [label for label, curve in curves.items()
              if _trend([r["eps"] for r in curve["rows"]], [r["normalized"] for r in curve["rows"]], 1)[1] > 0]
    return (f"At the trained minimizers w*(ε), λ_max increases with ε: "
            f"{sum(c.verdict is Verdict.CONFIRMED for c in decided)}/{len(decided)} (data set, weight decay) curves "
            f"confirmed ({len(trained) - len(decided)} skipped); the closed-form Hessian they are measured with "
            f"matches finite differences: {hessian.verdict.value}. The scale-normalized λ_max·||w*||² has a positive "
            f"Kendall τ on {len(rising)}/{len(curves)} of them"
            + (" (where it falls, the sharpening goes with ||w*|| shrinking)." if len(rising) < len(curves) else "."))


def decide(ctx: Context, results) -> Outcome:
    u = units(ctx)
    r = unit_results(u, results)
    hessian = hessian_check(r["hessian l2"], u["hessian l2"].params)
    found, data, mnist = _trained(u, r)
    trained = [trained_check(f"{t['data set']}, λ={t['decay']:g}", t["curve"], key=t["key"]) for t in found]
    if "reason" in r["mnist"]:
        trained.append(Check.skip(trained_title(f"{mnist}, λ={WEIGHT_DECAY:g}"), r["mnist"]["reason"],
                                  key=trained_key("mnist", WEIGHT_DECAY)))
    curves = _by_label(found)
    syn = u[f"gaussians {SEPARATIONS[0]:g}"].params
    return Outcome(
        summary=_summary(hessian, trained, curves), checks=[hessian, *trained],
        scale_note=(f"reduced scale ({ctx.scale}): synthetic N={syn['n']} with weight decays {syn['decays']}, MNIST "
                    f"N={u['mnist'].params['n']} of digits {MNIST_DIGITS} with λ={WEIGHT_DECAY:g}, "
                    f"{len(syn['fractions'])} ε values; what would settle it: the paper's data sets and ε grid (not "
                    "retrievable here) and the full MNIST pair."),
        details={"data": data, "curves": curves,
                 "verdict_quantity": "unnormalized λ_max of ∇²L_ε (the paper's sharpness: Hessian eigenvalues); "
                                     "λ_max·||w*||² reported beside it"})


# ------------------------------------------------------------------ plot

def _sharpness_figure(curves: dict) -> Figure:
    """Top eigenvalues and κ (top row) and λ_max·||w*||² (bottom row) against ε, one column per data set."""
    fig = Figure(figsize=(4.2 * len(curves), 7), layout="constrained")
    axes = fig.subplots(2, len(curves), squeeze=False)
    for j, (label, curve) in enumerate(curves.items()):
        eps = [r["eps"] for r in curve["rows"]]
        top = np.array([r["top"] for r in curve["rows"]])
        ax = axes[0, j]
        for k in range(top.shape[1]):
            ax.plot(eps, top[:, k], "o-", label=f"λ_{k + 1}")
        ax.plot(eps, [r["kappa"] for r in curve["rows"]], "k--", label="κ(ε) (isotropic term)")
        ax.set_yscale("log")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("ε (L2)")
        ax.set_ylabel("eigenvalues of ∇²L_ε(w*(ε))")
        ax.legend(fontsize=7)
        ax = axes[1, j]
        ax.plot(eps, [r["normalized"] for r in curve["rows"]], "s-", color="tab:purple")
        ax.set_xlabel("ε (L2)")
        ax.set_ylabel("λ_max·||w*||² (scale-normalized)")
    fig.suptitle(f"Sharpness at the L2-adversarially trained minimizers (weight decay λ={WEIGHT_DECAY:g})")
    return fig


def _weight_decay_figure(sweeps: dict) -> Figure:
    """λ_max and λ_max·||w*||² against ε for every weight decay, one column per synthetic data set."""
    fig = Figure(figsize=(5 * len(sweeps), 7), layout="constrained")
    axes = fig.subplots(2, len(sweeps), squeeze=False)
    for j, (label, by_decay) in enumerate(sweeps.items()):
        for decay, curve in sorted(by_decay.items()):
            eps = [r["eps"] for r in curve["rows"]]
            axes[0, j].plot(eps, [r["lambda_max"] for r in curve["rows"]], "o-", label=f"λ = {decay:g}")
            axes[1, j].plot(eps, [r["normalized"] for r in curve["rows"]], "s-", label=f"λ = {decay:g}")
        axes[0, j].set_yscale("log")
        axes[0, j].set_title(label, fontsize=9)
        axes[0, j].set_ylabel("λ_max(∇²L_ε(w*(ε)))")
        axes[1, j].set_ylabel("λ_max·||w*||²")
        for ax in axes[:, j]:
            ax.set_xlabel("ε (L2)")
            ax.legend(fontsize=7, title="weight decay", title_fontsize=7)
    fig.suptitle("Sharpness at w*(ε) for several weight decays (Hessian of the unregularized L_ε)")
    return fig

def plot(ctx: Context, results) -> dict:
    """Sharpness against ε at the trained minimizers (weight decay WEIGHT_DECAY) and, with several weight decays,
    the sweep over them."""
    u = units(ctx)
    r = unit_results(u, results)
    found, _, mnist = _trained(u, r)
    plots = {"sharpness_vs_eps": _sharpness_figure(_by_label([t for t in found if t["decay"] == WEIGHT_DECAY]))}
    decays = u[f"gaussians {SEPARATIONS[0]:g}"].params["decays"]
    if len(decays) > 1:
        sweeps = {}
        for t in found:
            if t["data set"] != mnist:
                sweeps.setdefault(t["data set"], {})[t["decay"]] = t["curve"]
        plots["weight_decay_sweep"] = _weight_decay_figure(sweeps)
    return plots


CLAIM = claim(
    "yamada2021.l2-sharpening",
    where="Yamada et al. 2021 (arXiv 2102.02950), abstract",
    statement="Adversarial training with L2 norm constraints sharpens the weight loss landscape of linear logistic "
              "regression, and the landscape becomes sharper as the magnitude ε of the adversarial noise increases: "
              "the sharpness λ_max of the Hessian of L_ε w.r.t. the weights, at the trained solution w*(ε), grows "
              "with ε.",
    formula="λ_max(∇²L_ε(w*(ε))) increasing in ε;  ∇²L_ε = mean σ(m)σ(−m) a aᵀ + (ε/||w||)·mean σ(−m)·(I − ŵŵᵀ)",
    tags=("theory", "experiment"),
    source="abstract (verified text); sharpness read as the top Hessian eigenvalue at the trained weights",
    expect={"smoke": "confirmed", "cpu": "confirmed"},   # gpu and paper compute more examples: not yet seen there
)(plan=plan, decide=decide, plot=plot)
