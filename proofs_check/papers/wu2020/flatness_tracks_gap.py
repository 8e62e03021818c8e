"""wu2020.flatness-tracks-gap: Wu et al.'s observation before they propose AWP — across adversarial-training variants
and along training, a flatter adversarial weight loss landscape goes with a smaller robust generalization gap (Wu et
al. 2020, abstract of v1; §3).

Runs: the zoo of ``protocols.overfitting_zoo``. Flatness is Wu et al.'s own measure: the rise of the robust loss
g(α) − g(0) under filter-normalized random weight perturbations (Li et al. 2018), inputs re-attacked at every point,
mean over directions (``wu-curve``). Statistics, fixed here:

* across variants: Spearman's ρ between the curve rise and the gap (test − train robust loss) over the zoo at the
  zoo epoch, one-sided permutation p < 0.05 (positive: confirmed; negative: refuted);
* along training: Spearman's ρ between the curve rise and the gap over the snapshots of each AT run, combined over
  seeds by Fisher's method (every ρ > 0 and combined p < 0.05: confirmed; the mirror: refuted).

Guards: every zoo model trained and the zoo spans a gap range >= ``min_gap_range``; each AT run's gap grows along
training by at least ``min_rise`` (the trajectory check only).
"""
from __future__ import annotations

from ...empirical import protocols
from ...empirical.evidence import (Guards, combined_correlation, correlation, decided, gap_range_guard, gate, run_name,
                                   summary, trajectory, zoo_models, zoo_numbers)
from ...figures import legend, panels
from ...model import Context, Outcome
from ...registry import claim

STREAM = "wu2020.flatness-tracks-gap"
SETTLE = "a larger zoo and more seeds (the gpu scale)"
PAPER_LOGS = {   # official training logs (PreActResNet-18, CIFAR-10 L∞ 8/255, PGD-20 robust accuracy %)
    "AT": {"best (epoch)": "52.79 (102)", "last": 43.75, "last train robust": 80.95},
    "AT-AWP": {"best (epoch)": "55.39 (159)", "last": 54.30, "last train robust (at w + v)": 49.84},
}
PAPER = ("the flatter the adversarial loss landscape, the smaller the adversarially robust generalization gap; AT's "
         "train − test robust accuracy gap 80.95 − 43.75 ≈ 37 points at the last epoch against AWP's ≈ −4 "
         "(official logs, AWP measured at w + v)")


def plan(ctx: Context) -> list:
    return list(protocols.overfitting_zoo(ctx).units.values())


def decide(ctx: Context, results) -> Outcome:
    runs, guards = protocols.overfitting_zoo(ctx), Guards()
    models = zoo_models(runs, results, guards, checks=("across-variants",))
    gap_range_guard(guards, runs, models, checks=("across-variants",))
    usable = sorted((n for n in models if models[n]["wu"] is not None), key=str)
    zoo = correlation([models[n]["wu"] for n in usable], [models[n]["gap"] for n in usable], expected="increasing",
                      name="curve rise vs gap", rng=ctx.rng(STREAM + "/zoo"))
    series, rise = [], runs.grid["min_rise"]
    for s in runs.grid["seeds"]["at"]:
        n = ("at", s)
        r = guards.available(n, runs.units[n], results)
        t = trajectory(r, runs.grid["snapshots"]) if r is not None else {}
        if not t:
            continue
        grows = t[max(t)]["gap"] - t[min(t)]["gap"]
        if guards.require(f"the gap grows along training by >= {rise:g}", grows >= rise, name=n, unit=runs.units[n],
                          detail=f"gap {t[min(t)]['gap']:.3f} → {t[max(t)]['gap']:.3f}", checks=("along-training",)):
            epochs = sorted(t)
            series.append((f"seed {s}", [t[e]["wu"] for e in epochs], [t[e]["gap"] for e in epochs]))
    along = combined_correlation(series, expected="increasing", name="curve rise vs gap",
                                 rng=ctx.rng(STREAM + "/trajectories"))
    checks = gate([
        decided("across training variants, a steeper weight-loss curve goes with a larger robust generalization gap "
                "(Spearman over the zoo)", "across-variants", zoo, settle=SETTLE, paper=PAPER),
        decided("along AT, the weight-loss curve steepens as the robust generalization gap grows (Spearman per "
                "seed, Fisher-combined)", "along-training", along, settle=SETTLE, paper=PAPER),
    ], guards)
    return Outcome(
        summary=summary("Wu et al.'s weight-loss curve against the robust generalization gap", checks),
        checks=checks,
        scale_note=(f"{ctx.scale} scale: {runs.setting}. Curve: g(α) − g(0) at α = "
                    f"{max(runs.grid['curve']['alphas']):g} over {runs.grid['curve']['directions']} filter-normalized "
                    f"direction(s), {runs.grid['curve']['n']} test images. Settles the sign of the association in a "
                    "small zoo and along short runs, not its size for PreActResNet-18."),
        details={"models": {run_name(n): models[n] for n in usable}, "paper_logs": PAPER_LOGS,
                 "units": {run_name(n): u.key for n, u in runs.units.items()}})


def plot(ctx: Context, results) -> dict:
    """The curve rise against the gap: zoo members (filled) and AT snapshots (small, joined per seed)."""
    runs = protocols.overfitting_zoo(ctx)
    fig, (ax,) = panels(("Wu et al.: weight-loss curve rise against the robust generalization gap",
                         "robust generalization gap (test − train robust loss)", "g(α) − g(0), filter-normalized"))
    models, seen = zoo_numbers(runs, results), set()
    for n, m in sorted(models.items(), key=str):
        if m["wu"] is not None:
            k = list(runs.grid["seeds"]).index(n[0])
            ax.plot(m["gap"], m["wu"], "o", color=f"C{k}", label=None if n[0] in seen else n[0])
            seen.add(n[0])
    for s in runs.grid["seeds"]["at"]:
        t = trajectory(results.get(runs.units[("at", s)].key) or {}, runs.grid["snapshots"])
        epochs = [e for e in sorted(t) if t[e]["wu"] is not None]
        ax.plot([t[e]["gap"] for e in epochs], [t[e]["wu"] for e in epochs], "-", lw=0.8, color="C0", alpha=0.6,
                label="AT along training" if s == ctx.seed else None)
    legend(ax, fontsize=7)
    return {"wu2020_flatness_tracks_gap": fig}


CLAIM = claim(
    "wu2020.flatness-tracks-gap", where="Wu et al. 2020, abstract (v1) and §3 (weight loss landscape of AT variants)",
    statement=("We investigate the surface geometry of several well-recognized adversarial training variants, and "
               "reveal that their adversarial loss landscape is closely related to the adversarially robust "
               "generalization, i.e., the flatter the adversarial loss landscape, the smaller the adversarially "
               "robust generalization gap."),
    source="abstract of v1 (verified text); 'along training' follows the paper's Fig. 1 (our reading)",
    formula="ρ_Spearman(g(α) − g(0), test − train robust loss) > 0 across variants and along training",
    tags=("empirical", "wu2020"),
    expect={"cpu": "confirmed"},   # seed 0 (reports/verify-cpu); other scales: not yet seen
)(plan=plan, decide=decide, plot=plot)
