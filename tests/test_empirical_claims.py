"""The empirical claims (liu2020, yamada2021, stutz2021, wu2020): their plans share runs within a sharing group at every
scale, and their decisions confirm, refute or stay inconclusive (naming the failed guard and its unit) on results
fabricated in the documented shape of a training unit (``advland.claims.empirical.runs``). One slow test runs every
empirical claim end to end at smoke scale on the real data."""
from __future__ import annotations

import copy
import math
import os
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from advland.claims.empirical import protocols
from advland.claims.empirical.evidence import LN10
from advland.claims.model import SCALES, Context, Verdict
from advland.claims.registry import all_claims, select
from advland.claims.runner import run_claims

CPU = Context(scale="cpu")
CLAIMS = {c.id: c for c in select(all_claims(), ["empirical"])}


# ---------------------------------------------------------------- fabricated results

def _measure(m: dict) -> dict:
    """A healthy result of the resolved measure ``m`` (the shapes of ``empirical.measurements``)."""
    name = m["name"]
    if name == "eval":
        return {"clean_loss": 0.3, "clean_acc": 0.9, "robust_loss": 0.5, "robust_acc": 0.8, "majority_clean": 0.11,
                "majority_adv": 0.12, "n": m["n"]}
    if name == "hessian":
        return {"eigenvalues": [10.0] * m["k"], "converged": [True] * m["k"], "residuals": [0.0] * m["k"],
                "hvps": 30, "loss_kind": m["loss"], "n": m["n"]}
    if name == "cosine":
        scales = sorted({0.0, *m["scales"]})
        flat = {"scales": scales, "cosine": [0.9] * len(scales), "sign_cosine": [0.9] * len(scales),
                "robust_error": [0.1] * len(scales), "robust_error_minus": [0.1] * len(scales),
                "clean_error": [0.05] * len(scales)}
        return {"top": copy.deepcopy(flat), "random": copy.deepcopy(flat), "lambda_max": 10.0, "n": m["n"]}
    if name in ("flatness-avg", "flatness-worst", "wu-curve"):
        return {"value": 0.1, "reference_loss": 1.0, "n": m["n"]}
    if name == "rescale":
        k = 1 + len(m["alphas"])
        return {"alphas": [1.0, *m["alphas"]], "relative_flatness": [0.3] * k, "relative_worst": [0.5] * k,
                "absolute_flatness": [0.02 * (1 + i) for i in range(k)],
                "lambda_max": [20.0 * (1 + i) for i in range(k)], "max_logit_change": [0.0] * k, "n": m["n"]}
    raise AssertionError(name)


def fabricate(unit) -> dict:
    """A completed, healthy result of a training unit: every per-epoch field, batch losses that leave ln 10 after
    10 steps, every measure at every snapshot."""
    cfg = unit.params["config"]
    history = [{"epoch": e, "eps": cfg["eps"], "lr": cfg["lr"], "train_loss_running": 0.3,
                "train_robust_loss": 0.5, "test_robust_loss": 0.6, "test_clean_acc": 0.9, "grad_norm_robust": 1.0,
                "grad_norm_clean": 0.7, "dead_relu": {"relu1": 0.1, "relu2": 0.1, "relu3": 0.1}, "time_s": 0.1}
               for e in range(cfg["epochs"])]
    return {"status": "completed", "config": cfg, "snapshots": list(unit.params["snapshots"]), "history": history,
            "batch_losses": [LN10] * 10 + [1.0] * (cfg["batch_loss_limit"] - 10), "diverged_at": None,
            "measures": {str(s): {m["label"]: _measure(m) for m in unit.params["measures"]}
                         for s in unit.params["snapshots"]},
            "seconds": 1.0}


def world(runs, tweak) -> dict:
    """{unit key: fabricated result} of every unit of ``runs``, each passed through ``tweak(name, result)``."""
    out = {}
    for name, unit in runs.units.items():
        r = fabricate(unit)
        tweak(name, r)
        out[unit.key] = r
    return out


def last(r, label):
    return r["measures"][str(max(r["snapshots"]))][label]


def decide(claim_id, results, ctx=CPU):
    return CLAIMS[claim_id].decide(ctx, results)


def assert_guard(outcome, unit_key: str, words: str):
    """Inconclusive, with the validity-guard check naming the unit and the guard."""
    assert outcome.verdict is Verdict.INCONCLUSIVE
    guard = outcome.check("validity-guards")
    assert guard.verdict is Verdict.INCONCLUSIVE and unit_key in guard.note and words in guard.note
    assert all(c.verdict is not Verdict.REFUTED for c in outcome.checks)


# ---------------------------------------------------------------- plans and sharing

@pytest.mark.parametrize("scale", SCALES)
def test_plans_are_training_units_shared_within_their_group(scale):
    ctx = Context(scale=scale)
    keys = {cid: {u.key for u in c.plan(ctx)} for cid, c in CLAIMS.items()}
    for cid, ks in keys.items():
        assert ks or cid == "liu2020.hessian-grows", cid
        assert all(u.kind == "empirical.train" for u in CLAIMS[cid].plan(ctx))
    liu = {u.key for u in protocols.liu_sweep(ctx).units.values()}
    schedules = {u.key for u in protocols.liu_schedules(ctx).units.values()}
    zoo = {u.key for u in protocols.overfitting_zoo(ctx).units.values()}
    assert keys["liu2020.escape-from-init"] == liu
    resnet = {u.key for u in protocols.liu_resnet_sweep(ctx).units.values()}
    assert keys["liu2020.nonvanishing-gradient"] <= liu and keys["liu2020.perturbation-cosine"] <= liu | resnet
    assert keys["liu2020.hessian-grows"] - liu == resnet
    # the constant arm at the sweep's learning rate is the sweep's ε = 0.4 run
    assert keys["liu2020.constant-eps-stalls"] <= keys["liu2020.periodic-schedule"] == schedules
    assert len(keys["liu2020.constant-eps-stalls"] & liu) == len(protocols.liu_sweep(ctx).grid["seeds"])
    assert keys["stutz2021.flatness-vs-gap"] == zoo == keys["wu2020.flatness-tracks-gap"]
    for cid in ("stutz2021.flatness-tracks-overfitting", "stutz2021.scale-invariance", "wu2020.awp-flatter-and-better"):
        assert keys[cid] <= zoo, cid
    assert keys["stutz2021.flatness-tracks-overfitting"] <= keys["wu2020.awp-flatter-and-better"]


def test_plans_are_deterministic_and_follow_the_seed():
    for cid, c in CLAIMS.items():
        assert [u.key for u in c.plan(CPU)] == [u.key for u in c.plan(Context(scale="cpu"))], cid
    a = {u.params["config"]["seed"] for u in CLAIMS["liu2020.escape-from-init"].plan(CPU)}
    b = {u.params["config"]["seed"] for u in CLAIMS["liu2020.escape-from-init"].plan(Context(seed=7, scale="cpu"))}
    assert a == {0, 1} and b == {7, 8}


def test_every_claim_is_tagged_and_says_what_its_statement_rests_on():
    for cid, c in CLAIMS.items():
        assert c.tags[0] == "empirical" and c.paper in c.tags
        assert "(verified text)" in c.source or c.source.startswith("our reading"), cid


# ---------------------------------------------------------------- liu2020

def _liu(order: int, tweak=None):
    """The sweep with escape steps, gradient norms and λ_max rising with ε (order 1) or falling (order −1)."""
    runs = protocols.liu_sweep(CPU)
    eps = runs.grid["eps"]

    def set_(name, r):
        _, e, s = name
        rank = eps.index(e) if order > 0 else len(eps) - 1 - eps.index(e)
        escape = 10 + 20 * rank + s
        r["batch_losses"] = [LN10] * escape + [1.0] * (len(r["batch_losses"]) - escape)
        r["history"][-1]["grad_norm_robust"] = 1.0 + rank + 0.1 * s
        for label in ("hessian", "hessian-clean"):
            if label in r["measures"][str(max(r["snapshots"]))]:
                lam = 10.0 * (1 + rank) + s
                last(r, label)["eigenvalues"] = [lam if label == "hessian" else lam / 2 ** order]
        if "cosine" in r["measures"][str(max(r["snapshots"]))]:
            c = last(r, "cosine")
            n = len(c["top"]["scales"])
            fall = [0.9 - (0.3 + 0.02 * s) * k / (n - 1) for k in range(n)]
            c["top" if order > 0 else "random"]["cosine"] = fall
            c["top" if order > 0 else "random"]["robust_error"] = [0.1 + 0.5 * k / (n - 1) for k in range(n)]
        if tweak:
            tweak(name, r)
    return runs, world(runs, set_)


@pytest.mark.parametrize("cid", ["liu2020.escape-from-init", "liu2020.nonvanishing-gradient",
                                 "liu2020.hessian-grows", "liu2020.perturbation-cosine"])
def test_liu_sweep_claims_confirm_and_refute(cid):
    assert decide(cid, _liu(1)[1]).verdict is Verdict.CONFIRMED
    assert decide(cid, _liu(-1)[1]).verdict is Verdict.REFUTED


def test_liu_escape_guard_names_a_diverged_run():
    runs, results = _liu(1)
    bad = runs.units[("sweep", 0.2, 1)]
    results[bad.key].update(status="diverged", diverged_at={"epoch": 1, "batch": 3, "loss": "nan"})
    assert_guard(decide("liu2020.escape-from-init", results), bad.key, "without diverging")


@given(st.lists(st.floats(0.0, 3.0), max_size=40), st.integers(1, 40))
def test_liu_escape_step_is_the_first_window_below_the_threshold_censored_at_the_horizon(losses, horizon):
    from advland.claims.papers.liu2020.escape_from_init import MARGIN, WINDOW, escape_step
    seen = losses[:horizon]
    first = next((t for t in range(WINDOW, len(seen) + 1) if sum(seen[t - WINDOW:t]) / WINDOW < LN10 - MARGIN),
                 horizon + 1)
    assert escape_step(losses, horizon) == first


@pytest.mark.parametrize("cid", ["liu2020.nonvanishing-gradient", "liu2020.hessian-grows",
                                 "liu2020.perturbation-cosine"])
def test_liu_stalled_model_makes_the_claim_inconclusive(cid):
    def stall(name, r):
        if name == ("sweep", 0.1, 0):
            r["history"][-1]["train_robust_loss"] = 2.3
    runs, results = _liu(-1, stall)
    assert_guard(decide(cid, results), runs.units[("sweep", 0.1, 0)].key, "the model trained")


def test_liu_hessian_unconverged_and_cosine_control_guards():
    def unconverged(name, r):
        if name == ("sweep", 0.2, 1):
            last(r, "hessian")["converged"] = [False]
            last(r, "cosine")["random"]["cosine"][0] = 0.5
    runs, results = _liu(1, unconverged)
    key = runs.units[("sweep", 0.2, 1)].key
    assert_guard(decide("liu2020.hessian-grows", results), key, "Lanczos")
    assert_guard(decide("liu2020.perturbation-cosine", results), key, "a = 0 control")


def _schedules(collapse: str, tweak=None):
    """ε = 0.4 arms: the ``collapse`` side ('const' or 'warm') ends as a constant classifier with a dead layer at
    lr 1e-3 and with a poor robust error at 3e-4; the other side trains at both (as in the paper's table)."""
    runs = protocols.liu_schedules(CPU)

    def set_(name, r):
        _, sch, lr, s = name
        bad_side = (sch == "const") == (collapse == "const")
        stalled = bad_side and lr == 1e-3
        m = last(r, "eval-test")
        m.update(clean_acc=0.1 if stalled else 0.8 + 0.01 * s, majority_clean=1.0 if stalled else 0.12,
                 robust_acc=1.0 - ((1.0 if stalled else 0.4 if bad_side else 0.1) + 0.01 * s))
        r["history"][-1].update(train_loss_running=LN10 if stalled else 0.9,
                                dead_relu={"relu1": 0.1, "relu2": 0.9 - 0.02 * s if stalled else 0.2, "relu3": 0.3},
                                eps=0.4)
        if tweak:
            tweak(name, r)
    return runs, world(runs, set_)


def test_constant_eps_stalls_confirms_refutes_and_guards():
    assert decide("liu2020.constant-eps-stalls", _schedules("const")[1]).verdict is Verdict.CONFIRMED
    refuted = decide("liu2020.constant-eps-stalls", _schedules("warm")[1])
    assert refuted.verdict is Verdict.REFUTED
    assert refuted.check("constant-classifier").verdict is Verdict.INCONCLUSIVE   # a count that can only confirm

    def short(name, r):
        if name[1] == "cos":
            r["history"][-1]["eps"] = 0.3
    runs, results = _schedules("const", short)
    assert_guard(decide("liu2020.constant-eps-stalls", results), runs.units[("schedule", "cos", 1e-3, 1)].key,
                 "target ε")


def test_periodic_schedule_confirms_refutes_and_keeps_the_proxy_when_robust_error_is_uninformative():
    assert decide("liu2020.periodic-schedule", _schedules("const")[1]).verdict is Verdict.CONFIRMED
    assert decide("liu2020.periodic-schedule", _schedules("warm")[1]).verdict is Verdict.REFUTED

    def weak(name, r):
        last(r, "eval-test")["robust_acc"] = 0.05
    runs, results = _schedules("const", weak)
    out = decide("liu2020.periodic-schedule", results)
    assert_guard(out, runs.units[("schedule", "linear", 3e-4, 0)].key, "robustness")
    assert out.check("robust-error").verdict is Verdict.INCONCLUSIVE
    assert out.check("collapse-proxy").verdict is Verdict.CONFIRMED


# ---------------------------------------------------------------- yamada2021

def _yamada(order: int, tweak=None):
    runs = protocols.yamada_sweep(CPU)

    def set_(name, r):
        _, e, s = name
        rank = runs.grid["eps"].index(e) * order
        last(r, "hessian")["eigenvalues"] = [50.0 + 10 * rank + s]
        last(r, "wu-curve")["value"] = 0.2 + 0.1 * rank + 0.01 * s
        if tweak:
            tweak(name, r)
    return runs, world(runs, set_)


def test_yamada_confirms_refutes_and_guards():
    assert decide("yamada2021.resnet-sharpening", _yamada(1)[1]).verdict is Verdict.CONFIRMED
    assert decide("yamada2021.resnet-sharpening", _yamada(-1)[1]).verdict is Verdict.REFUTED

    def underfit(name, r):
        if name == ("l2", 1.0, 1):
            r["history"][-1]["train_robust_loss"] = 1.4
    runs, results = _yamada(-1, underfit)
    assert_guard(decide("yamada2021.resnet-sharpening", results), runs.units[("l2", 1.0, 1)].key, "trained")


# ---------------------------------------------------------------- stutz2021 and wu2020 (the zoo)

GAPS = {"at": 1.0, "trades": 0.8, "trades-awp": 0.5, "at-wd": 0.3, "awp": 0.2}


def _zoo(order: int, tweak=None):
    """The zoo with flatness rising with the gap (order 1) or falling (order −1), along training and across
    methods; AT overfits (test robust loss rises after epoch 10)."""
    runs = protocols.overfitting_zoo(CPU)

    def set_(name, r):
        method, s = name
        for e in r["snapshots"]:
            t = e / 60
            at_e = method == "at"
            gap = (0.1 + 1.5 * t ** 2 if at_e else GAPS[method]) + 0.01 * s
            train = 2.2 - (0.9 * t if at_e else 0.5)
            flat = 0.05 + 0.2 * (gap if order > 0 else 2 - gap)
            m = r["measures"][str(e)]
            m["eval-train"].update(robust_loss=train, robust_acc=0.5)
            m["eval-test"].update(robust_loss=train + gap, robust_acc=0.2 - 0.05 * gap * order)
            for label in ("flatness-avg", "flatness-worst", "wu-curve"):
                m[label]["value"] = flat
        if tweak:
            tweak(name, r)
    return runs, world(runs, set_)


ZOO_CLAIMS = ["stutz2021.flatness-tracks-overfitting", "stutz2021.flatness-vs-gap", "wu2020.flatness-tracks-gap",
              "wu2020.awp-flatter-and-better"]


@pytest.mark.parametrize("cid", ZOO_CLAIMS)
def test_zoo_claims_confirm_and_refute(cid):
    assert decide(cid, _zoo(1)[1]).verdict is Verdict.CONFIRMED
    assert decide(cid, _zoo(-1)[1]).verdict is Verdict.REFUTED


@pytest.mark.parametrize("cid", ZOO_CLAIMS)
def test_zoo_claims_guard_an_untrained_at_run(cid):
    def untrained(name, r):
        if name == ("at", 1):
            for m in r["measures"].values():
                m["eval-train"].update(robust_loss=LN10, robust_acc=0.1)
                m["eval-test"].update(robust_loss=LN10, robust_acc=0.1)
    runs, results = _zoo(-1, untrained)
    words = "overfits" if cid.endswith("overfitting") else "trained"
    assert_guard(decide(cid, results), runs.units[("at", 1)].key, words)


@pytest.mark.parametrize("loss, acc, trained", [(2.12, 0.2, True), (2.0, 0.11, False), (2.31, 0.3, False),
                                                 (float("nan"), 0.5, False)])
def test_the_zoo_s_trained_guard_is_chance_not_a_loss_bound(loss, acc, trained):
    """An AWP-like run (training loss high on purpose, accuracy clearly above chance) trained; a run at chance
    accuracy, or with a loss at or above the uniform prediction's, or none, did not."""
    from advland.claims.empirical.evidence import Guards, require_above_chance

    runs = protocols.overfitting_zoo(CPU)
    name, unit = next(iter(runs.units.items()))
    guards = Guards()
    ok = require_above_chance(guards, name, unit, {"train_robust_loss": loss, "train_robust_acc": acc},
                              n=runs.grid["eval_train"]["n"], classes=runs.grid["classes"])
    assert ok is trained


def test_zoo_gap_range_and_overfitting_regime_guards():
    def narrow(name, r):
        for m in r["measures"].values():
            m["eval-test"]["robust_loss"] = m["eval-train"]["robust_loss"] + 0.1 + 0.01 * (name[0] == "at")
    runs, results = _zoo(-1, narrow)
    assert_guard(decide("stutz2021.flatness-vs-gap", results), runs.units[("awp", 0)].key, "gap range")
    assert_guard(decide("wu2020.awp-flatter-and-better", results), runs.units[("at", 0)].key, "overfits")


def test_scale_invariance_confirms_refutes_and_guards():
    runs = protocols.rescaled_models(CPU)
    (name, unit), = runs.units.items()
    healthy = {unit.key: fabricate(unit)}
    assert decide("stutz2021.scale-invariance", healthy).verdict is Verdict.CONFIRMED
    changed = copy.deepcopy(healthy)
    last(changed[unit.key], "rescale")["relative_flatness"][1] *= 1.1
    assert decide("stutz2021.scale-invariance", changed).verdict is Verdict.REFUTED
    still = copy.deepcopy(healthy)
    last(still[unit.key], "rescale")["lambda_max"] = [20.0, 20.0, 20.0]
    out = decide("stutz2021.scale-invariance", still)
    assert out.verdict is Verdict.INCONCLUSIVE and out.check("not-invariant").verdict is Verdict.INCONCLUSIVE
    moved = copy.deepcopy(changed)
    last(moved[unit.key], "rescale")["max_logit_change"][2] = 1e-2
    assert_guard(decide("stutz2021.scale-invariance", moved), unit.key, "preserves the function")


def test_plots_draw_from_fabricated_numbers():
    results = {**_liu(1)[1], **_schedules("const")[1], **_yamada(1)[1], **_zoo(1)[1]}
    for cid, c in CLAIMS.items():
        figures = c.plot(CPU, results)
        assert figures and all(fig.axes and fig.axes[0].get_title() for fig in figures.values()), cid


# ---------------------------------------------------------------- end to end at smoke scale

def _data_dir():
    path = os.environ.get("ADVLAND_DATA")
    return path if path and (Path(path) / "mnist").is_dir() and (Path(path) / "cifar10").is_dir() else None


@pytest.mark.slow
@pytest.mark.skipif(_data_dir() is None, reason="needs MNIST and CIFAR-10 under $ADVLAND_DATA")
def test_every_empirical_claim_runs_end_to_end_at_smoke_scale(tmp_path):
    from advland.claims.empirical import runs
    from advland.claims.runner import execute

    computed = []

    def counting(unit):
        computed.append(unit.key)
        return execute(unit)

    ctx = Context(scale="smoke")
    with runs.context(data_dir=_data_dir()):
        results = run_claims(list(CLAIMS.values()), ctx, execute=counting)
    planned = {u.key for c in CLAIMS.values() for u in c.plan(ctx)}
    assert sorted(computed) == sorted(planned)          # every shared run trained once
    for r in results:
        assert r.verdict is not Verdict.ERROR, (r.claim.id, r.outcome.summary)
        assert r.outcome.plots and r.outcome.scale_note.startswith("smoke scale"), r.claim.id
        assert not math.isnan(r.seconds)
