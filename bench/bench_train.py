"""Throughput of PGD-AT training steps: reference (fp32) path vs fast path, side by side in one run.

Runs ``empirical.train.train_step`` (the very function `advland train` uses) on synthetic data of the
dataset's shape, times ``--iters`` steps after ``--warmup`` steps for each path, counts the FLOPs of one
step with torch.utils.flop_counter, and writes images/s, seconds per epoch of ``--epoch-images`` images
(extrapolated from the timed steps) and model FLOP utilisation (achieved FLOP/s / peak of the device) as JSON.

    python bench/bench_train.py                        # CUDA: PreActResNet18, CIFAR-10 shape, batch 128
    python bench/bench_train.py --device cpu           # CPU: LeNet(4) on MNIST shape (tiny)
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import time

import torch

from advland.io import write_json
from advland.empirical.data import DATASET_INFO
from advland.empirical.models import build_model
from advland.empirical.train.loop import TrainConfig, TrainRun, train_step

# dense peak FLOP/s (TFLOP/s) by device-name fragment: (bf16 tensor core, fp32 with TF32 tensor cores)
PEAK_TFLOPS = {"H100": (989.4, 494.7), "H200": (989.4, 494.7), "A100": (312.0, 156.0)}


def peak_for(device: torch.device, fast: bool, override: float | None) -> float | None:
    if override is not None:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, (bf16, tf32) in PEAK_TFLOPS.items():
        if key in name:
            return bf16 if fast else tf32
    return None


def step_flops(cfg: TrainConfig, x, y) -> int:
    """FLOPs of one reference training step (forward and backward of every attack step and the update)."""
    from torch.utils.flop_counter import FlopCounterMode
    model = build_model(cfg.model, width=cfg.width, in_channels=cfg.in_channels)
    run = TrainRun(dataclasses.replace(cfg, fast=False), model)
    counter = FlopCounterMode(display=False)
    with counter:
        train_step(run, x, y, epoch=0, eps_t=cfg.eps)
    return int(counter.get_total_flops())


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_path(cfg: TrainConfig, x, y, warmup: int, iters: int) -> dict:
    torch.manual_seed(0)
    run = TrainRun(cfg, build_model(cfg.model, width=cfg.width, in_channels=cfg.in_channels))
    xb, yb = run.inputs(x), y.to(run.device)
    t0 = time.perf_counter()
    for _ in range(warmup):
        train_step(run, xb, yb, epoch=0, eps_t=cfg.eps)
    _sync(run.device)
    t1 = time.perf_counter()
    for _ in range(iters):
        train_step(run, xb, yb, epoch=0, eps_t=cfg.eps)
    _sync(run.device)
    dt = (time.perf_counter() - t1) / iters
    return {"seconds_per_step": dt, "images_per_s": x.shape[0] / dt, "warmup_s": t1 - t0}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--model", default=None, help="default preactresnet18 (cuda) / lenet (cpu)")
    ap.add_argument("--dataset", default=None, help="default cifar10 (cuda) / mnist (cpu)")
    ap.add_argument("--width", type=int, default=None, help="default: model default (cuda) / 4 (cpu)")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--pgd-steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=None, help="default 5 (cuda, compile included) / 1 (cpu)")
    ap.add_argument("--iters", type=int, default=None, help="default 20 (cuda) / 3 (cpu)")
    ap.add_argument("--epoch-images", type=int, default=None, help="default 50000 (cifar10) / 10000 (mnist)")
    ap.add_argument("--paths", default="reference,fast")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    ap.add_argument("--peak-tflops", type=float, default=None,
                    help="peak of the device for MFU (default: a table of GPUs; none for CPUs). For this 2-core "
                         "AVX2/FMA AMD EPYC: 32 fp32 FLOP/cycle/core, about 0.09 TFLOP/s per core at ~2.8 GHz")
    ap.add_argument("--out", required=True, help="JSON file to write")
    a = ap.parse_args(argv)
    device = torch.device(a.device)
    cuda = device.type == "cuda"
    if a.threads:
        torch.set_num_threads(a.threads)
    model = a.model or ("preactresnet18" if cuda else "lenet")
    dataset = a.dataset or ("cifar10" if cuda else "mnist")
    width = a.width if a.width is not None else (None if cuda else 4)
    info = DATASET_INFO[dataset]
    eps = 8 / 255 if dataset == "cifar10" else 0.1
    warmup = a.warmup if a.warmup is not None else (5 if cuda else 1)
    iters = a.iters if a.iters is not None else (20 if cuda else 3)
    epoch_images = a.epoch_images or (50000 if dataset == "cifar10" else 10000)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(a.batch_size, info["channels"], info["size"], info["size"], generator=g)
    y = torch.randint(0, info["num_classes"], (a.batch_size,), generator=g)
    base = TrainConfig(model=model, dataset=dataset, method="at", eps=eps, width=width, in_channels=info["channels"],
                       num_classes=info["num_classes"], attack_steps=a.pgd_steps, batch_size=a.batch_size,
                       device=a.device).resolved()
    flops = step_flops(base, x.to(device), y.to(device))
    result = {"benchmark": "PGD-AT training step", "model": model, "width": width, "dataset_shape": dataset,
              "batch_size": a.batch_size, "pgd_steps": a.pgd_steps, "eps": eps, "device": str(device),
              "device_name": torch.cuda.get_device_name(device) if cuda else platform.processor() or "cpu",
              "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
              "load_average_1min_at_start": os.getloadavg()[0],
              "flops_per_step": flops, "epoch_images": epoch_images, "warmup_steps": warmup, "timed_steps": iters,
              "paths": {}}
    for path in a.paths.split(","):
        fast = path == "fast"
        r = time_path(dataclasses.replace(base, fast=fast), x, y, warmup, iters)
        r["achieved_tflops"] = flops / r["seconds_per_step"] / 1e12
        peak = peak_for(device, fast, a.peak_tflops)
        r["peak_tflops"] = peak
        r["mfu"] = r["achieved_tflops"] / peak if peak else None
        r["seconds_per_epoch_estimate"] = epoch_images / r["images_per_s"]
        result["paths"][path] = r
        print(f"{path:9s} {r['images_per_s']:10.1f} img/s  {r['seconds_per_epoch_estimate']:9.1f} s/epoch  "
              f"{r['achieved_tflops']:.3f} TFLOP/s  MFU {r['mfu'] if r['mfu'] is None else round(r['mfu'], 3)}")
    if "reference" in result["paths"] and "fast" in result["paths"]:
        result["speedup_fast_over_reference"] = (result["paths"]["fast"]["images_per_s"]
                                                 / result["paths"]["reference"]["images_per_s"])
    write_json(a.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
