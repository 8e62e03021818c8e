"""Estimated cost of a unit, for ``advland verify --plan``: seconds of compute on the device it would run on, and
the basis of the number. Estimates, never measurements of the run to come.

Basis, best first:

* ``measured``: the store holds this very unit done (same key; any code version): the seconds its worker computed
  (the store's ``seconds``; for a row written before they were kept, the unit's own ``seconds`` result);
* ``calibrated`` (training units): the example passes of the unit (below) times the seconds per pass measured on
  the units of the same model, width and data set that the store holds done on the same device;
* ``model`` (training units): the example passes times ``seconds_per_pass`` of the model on the device: on a CPU
  the constants measured on the 2-core machine of CI (``CPU_SECONDS_PER_PASS``), on a GPU an assumption
  (``GPU_FLOPS``, ``GPU_BATCH_FLOOR_S``: no GPU was lent to measure one);
* ``kind`` (other kinds): the median seconds of the units of that kind in the store;
* ``unknown``: nothing to go by (a kind never run here; the theory units take seconds).

An *example pass* is one forward and backward pass of one example; a training unit's passes are its epochs ×
training examples × (PGD steps + 1) (TRADES one more, AWP one more after its warm-up), plus its per-epoch metrics
and its measures at every snapshot (``measure_passes``; a Hessian-vector product counts as two passes, Lanczos runs
to its bound of 2k + 50 products unless ``max_iter`` is set).
"""
from __future__ import annotations

import functools
import math
import statistics
from dataclasses import dataclass

from advland.empirical.names import DATASET_INFO

TRAIN_KIND = "empirical.train"

# Seconds per example pass on one CPU core, measured by bench/bench_unit_cost.py (bench/results/cpu_unit_cost.json:
# torch 2.13, 1 thread, batch 128, forward + backward of cross-entropy on random inputs) on the 2-core CI machine
# while other jobs ran (load average about 4): upper bounds.
CPU_SECONDS_PER_PASS = {
    ("lenet", 2, "mnist"): 1.7e-4, ("lenet", 4, "mnist"): 2.7e-4, ("lenet", 16, "mnist"): 1.8e-3,
    ("mlp", 2, "cifar10"): 4.4e-5, ("mlp", 16, "cifar10"): 9.5e-5,
    ("resnet18", 4, "cifar10"): 5.5e-3, ("resnet18", 8, "cifar10"): 1.45e-2,
    ("preactresnet18", 8, "cifar10"): 1.48e-2,
}
# Assumed for one H100-class GPU running the reference fp32 path (no GPU was lent to measure it): 20 TFLOP/s
# sustained (about 4 % of its dense TF32 peak, what small-image CNNs at batch 128 reach), and at least 1.5 ms per
# forward-backward pass of a batch (kernel launches dominate a small network such as LeNet).
GPU_FLOPS = 20e12
GPU_BATCH_FLOOR_S = 1.5e-3
HVP_PASSES = 2
LANCZOS_EXTRA = 50


@dataclass(frozen=True)
class Estimate:
    """Seconds on ``device`` (None: unknown) and how they were obtained (module docstring)."""

    seconds: float | None
    device: str
    basis: str


def _lanczos_products(hp: dict, k: int) -> int:
    return hp["max_iter"] if hp.get("max_iter") else 2 * k + LANCZOS_EXTRA


def _hessian_passes(hp: dict, k: int) -> float:
    attack = hp["n"] * (hp["steps"] + 1) if hp["loss"] == "adversarial" else 0
    return attack + _lanczos_products(hp, k) * HVP_PASSES * hp["n"]


def measure_passes(m: dict) -> float:
    """Example passes of one resolved measure (``measures.DEFAULTS`` names its parameters)."""
    n, name = m["n"], m["name"]
    if name == "eval":
        return n * (m["steps"] * (m["restarts"] if m["attack"] == "pgd" else 1) + 2)
    if name == "hessian":
        return _hessian_passes(m, m["k"])
    if name == "cosine":
        top = _hessian_passes(m["hessian"], 1) if "top" in m["directions"] else 0
        return top + len(m["directions"]) * len(m["scales"]) * 2 * n * (m["steps"] + 1) + n * (m["steps"] + 1)
    if name == "flatness-avg":
        return (m["samples"] + 1) * n * (m["steps"] + 1)
    if name == "flatness-worst":
        return 2 * m["attempts"] * m["iterations"] * n
    if name == "wu-curve":
        return m["directions"] * (len(m["alphas"]) + 1) * n * (m["steps"] + 1)
    if name == "rescale":
        per_model = ((m["samples"] + 1) * n * (m["steps"] + 1) + 2 * m["worst_attempts"] * m["worst_iterations"] * n
                     + _lanczos_products({"max_iter": None}, 1) * HVP_PASSES * n)
        return (len(m["alphas"]) + 1) * per_model
    raise ValueError(f"no cost model for the measure {name!r}")


def training_passes(params: dict) -> float:
    """Example passes of a training unit (``runs`` parameters): its epochs, per-epoch metrics and measures."""
    c = params["config"]
    n = c["subset"] or DATASET_INFO[c["dataset"]]["split_sizes"]["train"]
    per_example = 1 if c["method"] == "clean" else c["attack_steps"] + 1
    if c["method"] in ("trades", "trades-awp"):
        per_example += 1
    epochs = c["epochs"]
    awp_epochs = max(0, epochs - (c.get("awp_warmup") or 0)) if c["method"] in ("awp", "trades-awp") else 0
    metrics = c["epoch_metrics"]
    per_epoch = (("eval-train" in metrics) + ("eval-test" in metrics)) * c["eval_subset"] * (c["eval_steps"] + 2)
    per_epoch += c["grad_subset"] if "grad" in metrics else 0
    measured = len(params["snapshots"]) * sum(measure_passes(m) for m in params["measures"])
    return epochs * (n * per_example + per_epoch) + awp_epochs * n + measured


@functools.lru_cache(maxsize=None)
def flops_per_pass(model: str, width: int | None, dataset: str) -> float:
    """FLOPs of one example's forward and backward pass (cross-entropy), counted by torch's flop counter."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from advland.empirical.models import build_model

    info = DATASET_INFO[dataset]
    net = build_model(model, width=width, in_channels=info["channels"], num_classes=info["num_classes"])
    x = torch.rand(4, info["channels"], info["size"], info["size"])
    counter = FlopCounterMode(display=False)
    with counter:
        torch.nn.functional.cross_entropy(net(x), torch.zeros(4, dtype=torch.long)).backward()
    return counter.get_total_flops() / 4


def seconds_per_pass(model: str, width: int | None, dataset: str, device: str, batch_size: int = 128) -> float:
    """The model's seconds per example pass (module docstring): on a CPU the measured constant, or the measured one
    nearest in FLOPs (the same model at another width when there is one) scaled by the ratio of their FLOPs; on a
    GPU the assumed rate with its per-batch floor."""
    flops = flops_per_pass(model, width, dataset)
    if device == "cuda":
        return max(flops / GPU_FLOPS, GPU_BATCH_FLOOR_S / batch_size)
    if (model, width, dataset) in CPU_SECONDS_PER_PASS:
        return CPU_SECONDS_PER_PASS[(model, width, dataset)]
    measured = ([k for k in CPU_SECONDS_PER_PASS if k[0] == model and k[2] == dataset]
                or [k for k in CPU_SECONDS_PER_PASS if k[2] == dataset])
    ref = min(measured, key=lambda k: abs(math.log(flops_per_pass(*k) / flops)))
    return CPU_SECONDS_PER_PASS[ref] * flops / flops_per_pass(*ref)


def _shape(params: dict) -> tuple:
    c = params["config"]
    return c["model"], c["width"], c["dataset"]


def _stored_seconds(row, results: dict | None) -> float | None:
    if row.seconds is not None:
        return row.seconds
    return results.get("seconds") if isinstance(results, dict) else None


class CostModel:
    """Estimates from the store's done units (module docstring) and the constants above."""

    def __init__(self, done_rows=(), results_of=lambda row: None):
        """``done_rows``: the store's done rows; ``results_of(row)``: their results (for rows without seconds)."""
        self._by_key, self._pass_rates, kinds = {}, {}, {}
        for row in done_rows:
            seconds = _stored_seconds(row, results_of(row) if row.seconds is None else None)
            if seconds is None:
                continue
            self._by_key[row.key] = seconds
            kinds.setdefault(row.kind, []).append(seconds)
            if row.kind == TRAIN_KIND:
                device = (row.environment or {}).get("device", "cpu")
                key = (*_shape(row.spec), device)
                passes, total = self._pass_rates.get(key, (0.0, 0.0))
                self._pass_rates[key] = (passes + training_passes(row.spec), total + seconds)
        self._kinds = {k: statistics.median(v) for k, v in kinds.items()}

    def estimate(self, unit, device: str) -> Estimate:
        """The cost of ``unit``: on ``device`` for a training unit, on the driver's CPU for the others."""
        unit_device = device if unit.kind == TRAIN_KIND else "cpu"
        if unit.key in self._by_key:
            return Estimate(self._by_key[unit.key], unit_device, "measured")
        if unit.kind != TRAIN_KIND:
            seconds = self._kinds.get(unit.kind)
            return Estimate(seconds, unit_device, "kind" if seconds is not None else "unknown")
        params = dict(unit.params)
        passes = training_passes(params)
        rate = self._pass_rates.get((*_shape(params), device))
        if rate is not None:
            return Estimate(passes * rate[1] / rate[0], device, "calibrated")
        cfg = params["config"]
        return Estimate(passes * seconds_per_pass(*_shape(params), device, cfg["batch_size"]), device, "model")
