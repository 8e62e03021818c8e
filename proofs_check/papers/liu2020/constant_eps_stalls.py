"""liu2020.constant-eps-stalls: a large constant ε drives a small LeNet into a constant classifier with dead ReLU
layers, while the cosine and linear warm-ups of ε (same run otherwise) escape (Liu et al. 2020, §4 "dead layer"
extreme case and §5 periodic adversarial scheduling).

Runs: ``protocols.liu_schedules`` at ε = 0.4: the constant arm (the sweep's ε = 0.4 run) and the cosine (ε_max 0.6)
and linear (ε_max 0.8) arms at the sweep's learning rate, every seed. Numbers at the end of training: the clean test
accuracy and the share of the most predicted class (``eval-test`` measure), the largest dead-ReLU fraction over the
layers (units never active on the engine's test subset), the last epoch's training loss. Statistics, fixed here:

* warm-ups keep their accuracy: per (seed, warm-up) the clean test accuracy of the warm-up minus that of the
  constant arm, t-interval of the mean clear of 0 (above: confirmed; below: refuted);
* dead layers: the largest dead fraction of the constant arm minus that of the warm-up, same test;
* the constant arm is a constant classifier with a dead layer in every seed: majority share >= 0.95, a layer >= 50 %
  dead and the training loss within 0.01 of ln 10 — a deterministic criterion counted over seeds (all: confirmed;
  otherwise inconclusive: the paper shows the collapse for small models and large learning rates, so a run that does
  not collapse does not refute it).

Guard: every arm completed and the warm-ups reached the target ε by the last epoch.
"""
from __future__ import annotations

from ...empirical import protocols
from ...empirical.evidence import LN10, Guards, decided, effect, final, gate, measured, run_name, summary
from ...figures import legend, panels
from ...model import Check, Context, Outcome, Quantity, Verdict
from ...registry import claim

WARMUPS = ("cos", "linear")
MAJORITY = 0.95       # share of the most predicted class of a constant classifier
DEAD = 0.5            # a layer at least half dead
LOSS_TOLERANCE = 0.01
SETTLE = "more seeds (4 pairs here), or the gpu scale (w = 16 on all of MNIST)"
PAPER = ("robust error 88.65 ± 0.00 % (constant classifier) for constant ε = 0.4 with Adam 3e-4 and 1e-3 vs "
         "7.44–9.62 % (cosine) and 7.48 % (linear), LeNet w = 16 on MNIST (slides' learning-rate table)")


def names(ctx: Context) -> list:
    runs = protocols.liu_schedules(ctx)
    lr = runs.grid["stall_lr"]
    return [("schedule", sch, lr, s) for s in runs.grid["stall_seeds"] for sch in ("const", *WARMUPS)]


def plan(ctx: Context) -> list:
    runs = protocols.liu_schedules(ctx)
    return [runs.units[n] for n in names(ctx)]


def arm_numbers(result) -> dict:
    """End-of-training numbers of one arm (module docstring)."""
    m = measured(result, "eval-test") or {}
    last = final(result)
    dead = last.get("dead_relu") or {}
    return {"clean_acc": m.get("clean_acc"), "robust_acc": m.get("robust_acc"), "majority": m.get("majority_clean"),
            "dead_max": max(dead.values()) if dead else None, "dead": dead,
            "train_loss": last.get("train_loss_running"), "eps": last.get("eps")}


def collapsed(arm: dict) -> bool:
    """The stall signature: a constant classifier (majority share >= 0.95) with a dead layer (>= 50 %) whose
    training loss sits at ln 10."""
    return (arm["majority"] is not None and arm["majority"] >= MAJORITY and arm["dead_max"] is not None
            and arm["dead_max"] >= DEAD and arm["train_loss"] is not None
            and abs(arm["train_loss"] - LN10) <= LOSS_TOLERANCE)


def arms(ctx: Context, results, guards: Guards, chosen) -> dict:
    """{(schedule, lr, seed): arm numbers} of the usable runs among ``chosen``; the warm-up guard applied."""
    runs, out = protocols.liu_schedules(ctx), {}
    for n in chosen:
        unit = runs.units[n]
        r = guards.available(n, unit, results)
        if r is None:
            continue
        a = arm_numbers(r)
        if n[1] != "const" and not guards.require(
                "the warm-up reached the target ε in the last epoch", a["eps"] is not None
                and abs(a["eps"] - runs.grid["eps"]) < 1e-9, name=n, unit=unit, detail=f"last ε {a['eps']}"):
            continue
        out[n[1:]] = a
    return out


def decide(ctx: Context, results) -> Outcome:
    runs, guards = protocols.liu_schedules(ctx), Guards()
    lr, seeds = runs.grid["stall_lr"], runs.grid["stall_seeds"]
    got = arms(ctx, results, guards, names(ctx))
    pairs = [(got[("const", lr, s)], got[(w, lr, s)]) for s in seeds for w in WARMUPS
             if ("const", lr, s) in got and (w, lr, s) in got]
    acc = [w["clean_acc"] - c["clean_acc"] for c, w in pairs]
    dead = [c["dead_max"] - w["dead_max"] for c, w in pairs]
    consts = {s: got[("const", lr, s)] for s in seeds if ("const", lr, s) in got}
    k = sum(collapsed(a) for a in consts.values())
    signature = Check(
        "the constant arm ends as a constant classifier with a dead layer at ln 10 in every seed",
        Verdict.CONFIRMED if consts and k == len(consts) else Verdict.INCONCLUSIVE,
        [Quantity("seeds with the stall signature", k, bound=len(seeds), relation=">=")]
        + [Quantity(f"constant arm, seed {s}: majority share", a["majority"],
                    note=f"largest dead-ReLU fraction {a['dead_max']}, training loss {a['train_loss']}, clean "
                         f"accuracy {a['clean_acc']}") for s, a in consts.items()],
        note=(f"criterion: majority share >= {MAJORITY}, a layer >= {DEAD:.0%} dead, training loss within "
              f"{LOSS_TOLERANCE} of ln 10; {k} of {len(consts)} seeds. Paper: {PAPER}"),
        key="constant-classifier")
    checks = gate([
        signature,
        decided("the cosine and linear warm-ups keep a higher clean test accuracy than constant ε (paired by seed, "
                "t-interval)", "warmups-escape", effect(acc, expected="increasing", name="accuracy(warm-up) − "
                                                                                           "accuracy(constant)"),
                settle=SETTLE, paper=PAPER),
        decided("constant ε leaves more dead ReLU units than the warm-ups (largest layer fraction, paired by seed, "
                "t-interval)", "dead-layers", effect(dead, expected="increasing", name="dead(constant) − "
                                                                                      "dead(warm-up)"),
                settle=SETTLE),
    ], guards)
    return Outcome(
        summary=summary(f"Constant ε = {runs.grid['eps']:g} against its warm-ups", checks),
        checks=checks,
        scale_note=(f"{ctx.scale} scale: {runs.setting}; {len(seeds)} seed(s) at lr {lr:g}. At this width the "
                    "warm-ups also lose their robustness once ε reaches 0.4 (robust accuracy near 0): their escape "
                    "holds for the collapse and the dead layers, not for robust accuracy (periodic-schedule)."),
        details={"arms": {run_name(n): a for n, a in sorted(got.items(), key=str)}, "paper": PAPER,
                 "units": {run_name(n): runs.units[n].key for n in names(ctx)}})


def plot(ctx: Context, results) -> dict:
    """Per-epoch training loss of the three arms (one colour per schedule, line style per seed) with the
    scheduled ε on a second axis."""
    runs = protocols.liu_schedules(ctx)
    fig, (ax,) = panels((f"Liu et al.: constant ε = {runs.grid['eps']:g} against its warm-ups (training curves)",
                         "epoch", "training loss (running mean over the epoch)"))
    ax2 = ax.twinx()
    ax2.set_ylabel("scheduled ε (dotted)")
    colours = {"const": "C3", "cos": "C0", "linear": "C2"}
    for n in names(ctx):
        h = (results.get(runs.units[n].key) or {}).get("history") or []
        if not h:
            continue
        epochs = [r["epoch"] + 1 for r in h]
        ls = "-" if n[3] == ctx.seed else "--"
        ax.plot(epochs, [r["train_loss_running"] for r in h], ls, marker="o", color=colours[n[1]],
                label=f"{n[1]}, seed {n[3]}")
        ax2.plot(epochs, [r["eps"] for r in h], ":", color=colours[n[1]])
    ax.axhline(LN10, color="k", lw=0.8)
    legend(ax, fontsize=7)
    return {"liu2020_constant_eps_stalls": fig}


CLAIM = claim(
    "liu2020.constant-eps-stalls", where="Liu et al. 2020, §4 ('dead layer' extreme case) and §5 (warm-up in ε)",
    statement=("Extreme cases ('dead layer') for ReLU networks (small model, large ε): the pre-activation of one "
               "layer is all negative for all training instances and the model gets stuck in a space consisting of "
               "only constant classifiers; with a warm-up in ε (cosine or linear schedule) the same training escapes."),
    source="slides (verified text) for the dead layer and the constant classifiers; that the warm-ups of the same "
           "run escape is our reading of the learning-rate table (88.65 % vs 7–10 % robust error)",
    formula="constant ε = 0.4: majority share → 1, a ReLU layer dead; cos/linear warm-up: neither",
    tags=("empirical", "liu2020"),
    expect={"cpu": "confirmed"},   # seed 0 (reports/verify-cpu); other scales: not yet seen
)(plan=plan, decide=decide, plot=plot)
