"""Training units (advland.claims.empirical): keys, measures on tiny models, and whole units on a tiny MNIST subset
(deterministic, resumable after a kill, divergence as a status, JSON numbers)."""
import copy
import json
import math
import os
import subprocess
import sys

import pytest
import torch

from advland.claims.empirical import measurements, runs, training
from advland.claims.empirical.measurements import Subject, measure
from advland.claims.empirical.measures import DEFAULTS, resolve_measure
from advland.claims.model import kind_of
from advland.empirical.core.state import snapshot, state_equal
from advland.empirical.data import DataError, file_status
from advland.errors import UsageError
from advland.io import dumps

CFG = dict(model="lenet", width=1, dataset="mnist", method="at", eps=0.1, epochs=3, subset=100, batch_size=50,
           attack_steps=1, eval_steps=1, eval_subset=20, grad_subset=20, optimizer="adam", lr=1e-3,
           batch_loss_limit=5)
SMALL = {"eval": {"n": 40, "steps": 1}, "hessian": {"n": 24, "steps": 1, "tol": 1e-2},
         "cosine": {"n": 12, "scales": [0.1], "steps": 1, "per_example": True,
                    "hessian": {"n": 24, "steps": 1, "tol": 1e-2}},
         "flatness-avg": {"n": 24, "samples": 2, "steps": 1}, "flatness-worst": {"n": 24, "iterations": 2},
         "wu-curve": {"n": 24, "directions": 2, "alphas": [0.25, 0.5], "steps": 1},
         "rescale": {"n": 16, "samples": 1, "steps": 1, "worst_iterations": 1}}
FIELDS = {"eval": ("clean_loss", "clean_acc", "robust_loss", "robust_acc", "majority_clean", "majority_adv", "n"),
          "hessian": ("eigenvalues", "converged", "hvps", "loss_kind", "n"),
          "cosine": ("top", "random", "lambda_max", "n"),
          "flatness-avg": ("value", "reference_loss", "perturbed_losses", "n"),
          "flatness-worst": ("value", "reference_loss", "attempt_losses", "n"),
          "wu-curve": ("alphas", "losses", "reference_loss", "value", "n"),
          "rescale": ("alphas", "relative_flatness", "absolute_flatness", "lambda_max", "max_logit_change", "n")}
TIMES = ("time_s", "seconds", "cpu_seconds")

mnist = pytest.mark.skipif(not all(f["state"] == "ok" for f in file_status("mnist")),
                           reason="MNIST files absent: set ADVLAND_DATA to a folder holding mnist/*.gz")


def without_times(obj):
    if isinstance(obj, dict):
        return {k: without_times(v) for k, v in obj.items() if k not in TIMES}
    if isinstance(obj, list):
        return [without_times(v) for v in obj]
    return obj


def numbers(obj):
    """Every number inside a result (bools excluded)."""
    if isinstance(obj, dict):
        return [n for v in obj.values() for n in numbers(v)]
    if isinstance(obj, list):
        return [n for v in obj for n in numbers(v)]
    return [obj] if isinstance(obj, (int, float)) and not isinstance(obj, bool) else []


def unit(config=None, snapshots=(1,), measures=("eval",)):
    return runs.training_unit(config={**CFG, **(config or {})}, snapshots=snapshots,
                              measures=[{"name": m, **SMALL[m]} for m in measures])


# ------------------------------------------------------------------ keys

def test_equal_runs_get_equal_keys_whatever_the_spelling():
    base = runs.training_unit(config={**CFG, "epochs": 2}, measures=[{"name": "hessian"}])
    spelled = runs.training_unit(
        config={**CFG, "epochs": 2, "weight_decay": 0.0, "attack_step_size": 0.25, "periods": [0, 2],
                "epoch_metrics": ["weight-norms", "grad", "eval-test", "dead-relu", "eval-train"]},
        snapshots=[2, 2], measures=[{"name": "hessian", "label": "hessian", "eps": 0.1, "k": 1, "n": 500}])
    assert base.key == spelled.key and base == spelled


@pytest.mark.parametrize("change", [
    {"config": {"eps": 0.2}}, {"config": {"seed": 1}}, {"config": {"width": 2}}, {"config": {"epochs": 4}},
    {"config": {"batch_loss_limit": 6}}, {"config": {"epoch_metrics": ["eval-test"]}}, {"config": {"method": "trades"}},
    {"config": {"max_loss": 5.0}}, {"snapshots": (1, 2)}, {"measures": ("eval", "hessian")},
    {"measures": ("hessian",)}])
def test_any_difference_changes_the_key(change):
    assert unit(**change).key != unit().key


def test_any_measure_parameter_changes_the_key():
    base = unit(measures=("cosine",))
    for key, value in [("n", 13), ("scales", [0.2]), ("directions", ["top"]), ("steps", 2), ("eps", 0.05),
                       ("bn_mode", "train"), ("per_example", False), ("hessian", {"n": 25}), ("label", "other")]:
        changed = runs.training_unit(config=CFG, snapshots=(1,), measures=[{"name": "cosine",
                                                                            **{**SMALL["cosine"], key: value}}])
        assert changed.key != base.key, key


@pytest.mark.parametrize("config, measures, snapshots, message", [
    ({"data_dir": "/x"}, [], (), "data_dir"), ({"device": "cpu"}, [], (), "device"),
    ({"model": "tiny"}, [], (), "built-in model"), ({"bogus": 1}, [], (), "bogus"),
    ({"epoch_metrics": ["none", "grad"]}, [], (), "none"), ({}, [], (0,), "snapshots"), ({}, [], (4,), "snapshots"),
    ({}, [{"name": "nope"}], (), "unknown measure"), ({}, [{"name": "eval", "nn": 3}], (), "unknown parameter nn"),
    ({}, [{"name": "eval", "n": 0}], (), "n must be"), ({}, [{"name": "eval", "split": "val"}], (), "split"),
    ({}, [{"name": "eval"}, {"name": "eval"}], (), "unique"), ({}, [{"name": "eval", "attack": "apgd-ce",
                                                                     "restarts": 2}], (), "restarts"),
    ({"eps": 0.0, "method": "clean"}, [{"name": "cosine"}], (), "eps > 0"),
    ({}, [{"name": "cosine", "hessian": {"k": 2}}], (), "other than k"),
    ({}, [{"name": "rescale", "alphas": [0.0]}], (), "alphas")])
def test_unusable_units_are_refused_when_planned(config, measures, snapshots, message):
    with pytest.raises(ValueError, match=message):
        runs.training_unit(config={**CFG, **config}, snapshots=snapshots, measures=measures)


def test_planning_imports_no_torch():
    code = ("import sys; from advland.claims.empirical import runs; runs.training_unit(config={'model': 'mlp', "
            "'dataset': 'cifar10', 'eps': 0.03}, measures=[{'name': 'wu-curve'}]); assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_measure_has_a_function():
    assert set(measurements.MEASURE_FUNCTIONS) == set(DEFAULTS)


# ------------------------------------------------------------------ measures on a tiny model

def subject(model, data, eps=0.1):
    x, y = data
    return Subject(model, {"eps": eps, "norm": "linf", "seed": 0}, (x, y), (x.flip(0), y.flip(0)))


@pytest.mark.parametrize("name", list(DEFAULTS))
@pytest.mark.parametrize("bn", [False, True])
def test_each_measure_gives_its_fields_finite_and_leaves_the_model_bit_exact(name, bn, tiny_net, tiny_data):
    model = tiny_net(bn=bn).train()
    s = subject(model, tiny_data(32))
    spec = resolve_measure({"name": name, **SMALL[name], "bn_mode": "train" if bn else "eval"}, 0.1)
    before = snapshot(model)
    first = measure(s, spec)
    assert state_equal(before, snapshot(model))
    assert set(FIELDS[name]) <= set(first) and first["bn_mode"] == spec["bn_mode"]
    assert all(math.isfinite(v) for v in numbers(first)) and numbers(first)
    again = measure(subject(model, tiny_data(32)), spec)
    assert without_times(again) == without_times(first)                  # deterministic
    assert json.loads(dumps(first)) == first


def test_rescaling_a_relu_net_by_powers_of_two_keeps_its_function_and_relative_flatness(tiny_net, tiny_data):
    s = subject(tiny_net(bn=False), tiny_data(32))
    r = measure(s, resolve_measure({"name": "rescale", **SMALL["rescale"], "alphas": [0.5, 4.0]}, 0.1))
    assert r["alphas"] == [1.0, 0.5, 4.0] and r["layers"][2] == "layer"
    assert r["max_logit_change"] == [0.0, 0.0, 0.0]
    assert len(set(r["relative_flatness"])) == 1 and len(set(r["relative_worst"])) == 1
    assert len(set(r["lambda_max"])) == 3                                 # the Hessian is not scale-invariant


def test_rescaling_before_batchnorm_rescales_its_running_statistics(tiny_net, tiny_data):
    model = tiny_net(bn=True)
    x, _ = tiny_data(32)
    with torch.no_grad():
        model.train()(x)                                                  # non-trivial running statistics
    model.eval()
    scaled = copy.deepcopy(model)
    pair = measurements.rescaling_pair(scaled)
    measurements.rescale(scaled, pair, 4.0)
    assert pair[2] == "batchnorm"
    assert torch.allclose(scaled(x), model(x), atol=1e-4)


def test_cosine_reuses_the_top_eigenvector_of_a_hessian_measure_of_the_same_snapshot(tiny_net, tiny_data):
    s = subject(tiny_net(bn=False), tiny_data(32))
    hessian = measure(s, resolve_measure({"name": "hessian", **SMALL["hessian"]}, 0.1))
    cosine = measure(s, resolve_measure({"name": "cosine", **SMALL["cosine"]}, 0.1))
    alone = measure(subject(tiny_net(bn=False), tiny_data(32)), resolve_measure({"name": "cosine",
                                                                                 **SMALL["cosine"]}, 0.1))
    assert len(s.memo) == 1 and cosine["lambda_max"] == hessian["eigenvalues"][0]
    assert without_times(alone) == without_times(cosine)
    assert cosine["top"]["cosine"][0] == cosine["random"]["cosine"][0]   # the a = 0 control is shared


def test_majority_share_of_a_constant_classifier_is_one():
    assert measurements.majority_share(torch.tensor([3, 3, 3])) == 1.0
    assert measurements.majority_share(torch.tensor([0, 1, 1, 2])) == 0.5


# ------------------------------------------------------------------ whole units

def compute(u, workdir=None, **context):
    with runs.context(workdir=workdir, **context):
        return kind_of(u).compute(u.params)


def test_missing_data_is_a_usage_error_naming_the_files(tmp_path):
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz") as info:
        compute(unit(), tmp_path / "work", data_dir=str(tmp_path / "empty"))
    assert isinstance(info.value, UsageError)


@mnist
@pytest.mark.slow
def test_a_unit_is_deterministic_json_and_records_its_batches(tmp_path):
    u = unit(snapshots=(1, 2), measures=("eval", "hessian"))
    first = compute(u)
    assert first["status"] == "completed" and json.loads(dumps(first)) == first
    assert [r["epoch"] for r in first["history"]] == [0, 1, 2] and first["config"] == dict(u.params)["config"]
    assert sorted(first["measures"]) == ["1", "2", "3"] and set(first["measures"]["3"]) == {"eval", "hessian"}
    assert len(first["batch_losses"]) == 5 and abs(first["batch_losses"][0] - math.log(10)) < 0.2
    assert all("batch_losses" not in r for r in first["history"])
    assert without_times(compute(u, tmp_path / "w")) == without_times(first)


@mnist
@pytest.mark.slow
def test_a_killed_unit_resumes_to_the_numbers_of_an_uninterrupted_one(tmp_path, monkeypatch):
    u = unit(snapshots=(2,), measures=("eval", "flatness-avg"))
    clean = compute(u)
    real_train, real_avg = training.train, measurements.MEASURE_FUNCTIONS["flatness-avg"]
    calls, failed = [], []

    class Killed(Exception):
        pass

    def killed_after_one_epoch(cfg, out, **kw):
        calls.append(kw.get("stop_after"))
        if len(calls) == 1:
            real_train(cfg, out, **{**kw, "stop_after": 1})
            raise Killed("killed mid-segment")
        return real_train(cfg, out, **kw)

    def fails_once(*args):
        if not failed:
            failed.append(True)
            raise Killed("killed while measuring")
        return real_avg(*args)

    monkeypatch.setattr(training, "train", killed_after_one_epoch)
    monkeypatch.setitem(measurements.MEASURE_FUNCTIONS, "flatness-avg", fails_once)
    with pytest.raises(Killed, match="mid-segment"):
        compute(u, tmp_path)
    with pytest.raises(Killed, match="while measuring"):
        compute(u, tmp_path)
    stored = json.loads((tmp_path / training.MEASURES).read_text())
    assert list(stored["2"]) == ["eval"]                                  # kept; flatness-avg still missing
    resumed = compute(u, tmp_path)
    assert without_times(resumed) == without_times(clean)
    assert calls[:2] == [2, 1]                                            # the second call resumed at epoch 1


@mnist
def test_a_diverged_run_is_a_status_not_an_exception():
    r = compute(unit(config={"max_loss": 1e-3}, measures=("eval",)))
    assert r["status"] == "diverged" and r["history"] == [] and r["measures"] == {}
    assert r["diverged_at"]["epoch"] == 0 and r["diverged_at"]["batch"] == 0


@mnist
def test_per_epoch_metrics_can_be_switched_off(tmp_path):
    r = compute(unit(config={"epochs": 1, "epoch_metrics": ["eval-test"]}, measures=()))
    assert {k for k in r["history"][0] if k.startswith(("train_", "test_", "grad", "dead", "weight"))} == {
        "test_clean_acc", "test_clean_loss", "test_robust_acc", "test_robust_loss", "train_loss_running"}


@mnist
def test_a_work_folder_of_another_unit_is_refused(tmp_path):
    compute(unit(config={"epochs": 1}, measures=()), tmp_path)
    with pytest.raises(ValueError, match="another unit"):
        compute(unit(config={"epochs": 1, "seed": 1}, measures=()), tmp_path)
    assert os.listdir(tmp_path)
