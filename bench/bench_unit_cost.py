"""Seconds per example pass of the models of the protocols: the constants of ``advland.claims.jobs.cost``.

An example pass is the forward and backward pass of one example (cross-entropy on random inputs of the data set's
shape, batch ``--batch``, ``--threads`` torch threads), timed for ``--seconds`` after one warm-up step; the FLOPs of
a pass come from torch's flop counter. Writes JSON: per model, width and data set, the FLOPs per pass, the seconds
per pass and the FLOP rate reached, with the load average at the start (other jobs slow a shared machine down).

    python bench/bench_unit_cost.py --out bench/results/cpu_unit_cost.json
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from advland.empirical.models import build_model
from advland.empirical.names import DATASET_INFO
from advland.io import write_json

MODELS = [("lenet", 2, "mnist"), ("lenet", 4, "mnist"), ("lenet", 16, "mnist"), ("mlp", 2, "cifar10"),
          ("mlp", 16, "cifar10"), ("resnet18", 4, "cifar10"), ("resnet18", 8, "cifar10"),
          ("preactresnet18", 8, "cifar10")]


def measure(model: str, width: int, dataset: str, batch: int, seconds: float) -> dict:
    info = DATASET_INFO[dataset]
    net = build_model(model, width=width, in_channels=info["channels"], num_classes=info["num_classes"])

    def step(n):
        x = torch.rand(n, info["channels"], info["size"], info["size"])
        torch.nn.functional.cross_entropy(net(x), torch.randint(0, info["num_classes"], (n,))).backward()

    counter = FlopCounterMode(display=False)
    with counter:
        step(4)
    flops = counter.get_total_flops() / 4
    step(batch)
    reps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step(batch)
        reps += 1
    per_pass = (time.perf_counter() - start) / reps / batch
    return {"model": model, "width": width, "dataset": dataset, "flops_per_pass": flops,
            "seconds_per_pass": per_pass, "gflops_per_s": flops / per_pass / 1e9}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per model")
    parser.add_argument("--out", default="bench/results/cpu_unit_cost.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    doc = {"benchmark": "seconds per example pass", "torch": torch.__version__, "threads": args.threads,
           "batch": args.batch, "cpu_count": os.cpu_count(), "machine": platform.processor() or platform.machine(),
           "load_average_1min_at_start": os.getloadavg()[0],
           "models": [measure(*m, args.batch, args.seconds) for m in MODELS]}
    write_json(args.out, doc)
    for m in doc["models"]:
        print(f"{m['model']:>15} w{m['width']:<3} {m['dataset']:<8} {m['seconds_per_pass']:.2e} s/pass  "
              f"{m['gflops_per_s']:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
