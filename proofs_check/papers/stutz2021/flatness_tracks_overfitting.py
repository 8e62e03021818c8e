"""stutz2021.flatness-tracks-overfitting: along one adversarial training run that overfits robustly, average- and
worst-case flatness worsen as the test robust loss rises, and the early-stopping snapshot is flatter than the last
(Stutz et al. 2021, abstract; §4 "throughout training").

Runs: the AT runs of ``protocols.overfitting_zoo`` (every seed), measured at their snapshots: robust loss on the
training subset and on test images, average-case flatness (relative ball ξ, re-attacked) and worst-case flatness
(joint ascent in a relative ξ-ball). The early-stopping snapshot is the one of lowest test robust loss. Statistics,
fixed here, for each flatness measure:

* tracks the test robust loss: Spearman's ρ between flatness and test robust loss over the snapshots of each seed,
  combined by Fisher's method (every ρ > 0 and combined one-sided p < 0.05: confirmed; the mirror: refuted);
* early stopping finds flatter minima: per seed flatness(last) − flatness(early stop), t-interval of the mean clear
  of 0 (above: confirmed; below: refuted).

Guard: the run overfits robustly — the test robust loss of the last snapshot is at least ``min_rise`` above its
minimum and the training robust loss at least ``min_rise`` below its value at the early-stopping snapshot. Over the
snapshots of one run flatness is confounded with training time; the early-stopping comparison and the zoo claim
(flatness-vs-gap) are the parts this confound does not touch.
"""
from __future__ import annotations

from ...empirical import protocols
from ...empirical.evidence import Guards, combined_correlation, decided, effect, gate, run_name, summary, trajectory
from ...figures import legend, panels
from ...model import Context, Outcome, Quantity
from ...registry import claim

STREAM = "stutz2021.flatness-tracks-overfitting"
MEASURES = {"avg": "average-case", "worst": "worst-case"}
SETTLE = "more seeds (3 at cpu scale), or the gpu scale (PreActResNet-18 on a CIFAR-10 subset)"
PAPER = ("flatness reduces significantly during overfitting such that early stopping effectively finds flatter "
         "minima (ResNet-18 on CIFAR-10, 150 epochs; no values in the available text)")


def at_runs(ctx: Context) -> tuple:
    runs = protocols.overfitting_zoo(ctx)
    return runs, [("at", s) for s in runs.grid["seeds"]["at"]]


def plan(ctx: Context) -> list:
    runs, names = at_runs(ctx)
    return [runs.units[n] for n in names]


def overfit_trajectories(runs, names, results, guards: Guards) -> dict:
    """{name: (trajectory, early-stopping epoch)} of the AT runs that completed and overfit (module docstring)."""
    out, rise = {}, runs.grid["min_rise"]
    for n in names:
        r = guards.available(n, runs.units[n], results)
        if r is None:
            continue
        t = trajectory(r, runs.grid["snapshots"])
        if not t:
            guards.require("the snapshots were measured", False, name=n, unit=runs.units[n], detail="none measured")
            continue
        es = min(t, key=lambda e: t[e]["test_robust_loss"])
        last = max(t)
        up = t[last]["test_robust_loss"] - t[es]["test_robust_loss"]
        down = t[es]["train_robust_loss"] - t[last]["train_robust_loss"]
        if guards.require(f"the run overfits robustly (test robust loss rises >= {rise:g} above its minimum while "
                          f"the training robust loss falls >= {rise:g})", up >= rise and down >= rise, name=n,
                          unit=runs.units[n], detail=f"rise {up:.3f}, fall {down:.3f} (early stop at epoch {es})"):
            out[n] = (t, es)
    return out


def decide(ctx: Context, results) -> Outcome:
    runs, names = at_runs(ctx)
    guards = Guards()
    got = overfit_trajectories(runs, names, results, guards)
    checks, table = [], {}
    for key, label in MEASURES.items():
        series = [(f"seed {n[1]}", [t[e][key] for e in sorted(t)], [t[e]["test_robust_loss"] for e in sorted(t)])
                  for n, (t, _) in got.items()]
        d = combined_correlation(series, expected="increasing", name=f"{label} flatness vs test robust loss",
                                 rng=ctx.rng(f"{STREAM}/{key}"))
        checks.append(decided(f"{label} flatness rises with the test robust loss along training (Spearman per "
                              "seed, Fisher-combined)", f"{key}-tracks-test-loss", d, settle=SETTLE, paper=PAPER))
        diffs = [t[max(t)][key] - t[es][key] for t, es in got.values()]
        c = decided(f"the early-stopping snapshot is flatter than the last ({label}; last − early stop, t-interval "
                    "over seeds)", f"{key}-early-stop-flatter",
                    effect(diffs, expected="increasing", name=f"{label} flatness(last) − flatness(early stop)"),
                    settle=SETTLE, paper=PAPER)
        c.evidence += [Quantity(f"{label} flatness at early stop (epoch {es}) / last, seed {n[1]}", t[es][key],
                                note=f"last: {t[max(t)][key]:.4g}") for n, (t, es) in got.items()]
        checks.append(c)
    for n, (t, es) in got.items():
        table[run_name(n)] = {"early_stop_epoch": es, "snapshots": t}
    checks = gate(checks, guards)
    return Outcome(
        summary=summary("Flatness along robust overfitting", checks),
        checks=checks,
        scale_note=(f"{ctx.scale} scale: {runs.setting}. Average-case ξ = {runs.grid['avg']['xi']:g} "
                    f"({runs.grid['avg']['samples']} samples), worst-case ξ = {runs.grid['worst']['xi']:g} "
                    f"({runs.grid['worst']['iterations']} steps × {runs.grid['worst']['attempts']} attempts), on "
                    f"{runs.grid['avg']['n']} test images. A small MLP on a 500-image subset overfits within "
                    "minutes; it settles the direction of the effect for that model, not its size for ResNets."),
        details={"trajectories": table, "units": {run_name(n): runs.units[n].key for n in names}})


def plot(ctx: Context, results) -> dict:
    """Robust losses and flatness against the epoch, one colour per seed; the early-stopping snapshot circled."""
    runs, names = at_runs(ctx)
    xlabel = "epoch (snapshot; circle: early stopping)"
    fig, axes = panels(("Robust loss along AT (robust overfitting) — Stutz et al.", xlabel, "robust loss (PGD)"),
                       ("Average-case flatness (relative ξ) — Stutz et al.", xlabel, "flatness"),
                       ("Worst-case flatness (relative ξ) — Stutz et al.", xlabel, "flatness"))
    for k, n in enumerate(names):
        t = trajectory(results.get(runs.units[n].key) or {}, runs.grid["snapshots"])
        if not t:
            continue
        epochs = sorted(t)
        es = min(t, key=lambda e: t[e]["test_robust_loss"])
        for split, style in (("test", "-o"), ("train", "--")):
            axes[0].plot(epochs, [t[e][f"{split}_robust_loss"] for e in epochs], style, color=f"C{k}",
                         label=f"{split}, seed {n[1]}")
        for ax, key in ((axes[1], "avg"), (axes[2], "worst")):
            ax.plot(epochs, [t[e][key] for e in epochs], "-o", color=f"C{k}", label=f"seed {n[1]}")
            ax.plot([es], [t[es][key]], "o", ms=12, mfc="none", color=f"C{k}")
    legend(*axes, fontsize=6)
    return {"stutz2021_flatness_tracks_overfitting": fig}


CLAIM = claim(
    "stutz2021.flatness-tracks-overfitting", where="Stutz et al. 2021, abstract and §4 (flatness throughout training)",
    statement=("Throughout training, flatness reduces significantly during overfitting such that early stopping "
               "effectively finds flatter minima in the robust loss landscape."),
    source="abstract (verified text); average- and worst-case flatness tracking the test robust loss over snapshots "
           "is our reading of 'throughout training'",
    formula="ρ_Spearman(flatness, test robust loss) > 0 over snapshots; flatness(early stop) < flatness(last)",
    tags=("empirical", "stutz2021"),
    expect={"cpu": "confirmed"},   # seed 0 (reports/verify-cpu); other scales: not yet seen
)(plan=plan, decide=decide, plot=plot)
