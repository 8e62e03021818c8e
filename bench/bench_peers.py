"""advland against the tools users would pick: cost and result side by side, in one run.

Rows (a trained LeNet(4) run directory, the first ``--n`` MNIST test images, one torch thread by default):

* ``hvp``: one Hessian-vector product of the mean CE on one fixed batch of ``--n`` images, as a multiple of one
  gradient (forward + backward) on the same batch: advland (``HessianOperator``, retained first-order graph, and
  the recomputing fallback ``memory_budget=0``), PyHessian (``hessian_vector_product`` on the graph its
  constructor keeps) and curvlinops (``HessianLinearOperator @ v``, forward-over-reverse per product). The
  one-off set-up of each (building the graph) is reported apart, and each product is checked against advland's.
* ``top1``: the largest Hessian eigenvalue from scratch (set-up included): advland Lanczos at residual tolerances
  1e-3 and 3e-2, PyHessian power iteration (its defaults: relative change < 1e-3, <= 100 iterations); relative
  error against a Lanczos reference at tolerance 1e-6 (its residual is recorded), so times compare at equal accuracy.
  (curvlinops has no eigen-solver of its own; through scipy ``eigsh`` it took ~12x PyHessian's time in a trial.)
* ``pgd10_examples``: adversarial examples, L-inf PGD-10 (step 2.5 eps / 10, random start): advland ``pgd``
  with the last iterate (the same algorithm as torchattacks ``PGD``, which returns its last iterate) and, as a
  stronger variant, with the highest-loss iterate (one more forward pass to score the last iterate); images/s
  and mean CE at the returned points. Ratios are time ratios (below 1: advland faster).
* ``pgd10_robust_accuracy``, ``apgd_ce10_robust_accuracy``: robust-accuracy evaluation (clean forward pass, the
  attack, the count): advland ``robust_correct`` (attacks the clean-correct points only; broken when any iterate
  fools) against torchattacks ``PGD`` / ``APGD`` followed by a forward pass at the returned points.
  ``pgd20_robust_accuracy_two_counts``: one advland PGD-20 run counted at its highest-loss iterate and at any
  iterate (the AutoAttack count).
  Both tools get the same model object. advland's attacks run it with its convolution kernels in channels_last
  strides on the CPU (``empirical.core.state.cpu_channels_last``, the original tensors put back afterwards) and stop
  on a point once it is broken when only the count is wanted; most of the ratio on a conv model is the layout.
* ``train`` (only with ``--baseline DIR``, an installed copy of an earlier advland): one PGD-10 AT step of LeNet(4)
  on MNIST-shaped data at batch 128 and of a small CIFAR-10 CNN (conv3x3 3-16-16, maxpool, 16-32-32, maxpool,
  each conv + BN + ReLU, FC 2048-10) at batch 50, this tree against the baseline, in alternating subprocesses;
  seconds per epoch of 10,000 (MNIST) and 500 (CIFAR-10) images extrapolated from the timed steps.

Timing: the contenders of a row run one after another inside each repeat (order rotated between repeats), so that
the load of a shared machine hits them alike; each ratio is taken per repeat and reported as median, min and max.

    pip install -c constraints.txt -e ".[bench]"
    python bench/bench_peers.py --run /path/to/lenet4-run        # writes bench/results/peers.json

torchvision (a dependency of torchattacks) is never imported: only ``torchattacks.PGD`` and ``torchattacks.APGD``
are used, and importing torchattacks does not load torchvision.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

PEERS = ("torch", "numpy", "scipy", "torchattacks", "pyhessian", "curvlinops-for-pytorch")


def versions() -> dict:
    out = {}
    for name in PEERS:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def interleaved(calls: dict, repeats: int, warmup: int = 1) -> dict:
    """Seconds of every call in every repeat, the calls of one repeat back to back in rotated order."""
    names = list(calls)
    for name in names:
        for _ in range(warmup):
            calls[name]()
    times = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - t0)
    return times


def spread(values) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def ratios(times: dict, num: str, den: str) -> dict:
    """Per-repeat ratio times[num] / times[den]: median, min, max."""
    return spread([a / b for a, b in zip(times[num], times[den])])


def timing_record(times: dict, baseline: str, images: int | None = None) -> dict:
    rec = {"seconds": {name: spread(t) for name, t in times.items()},
           f"ratio_to_{baseline}": {name: ratios(times, name, baseline) for name in times if name != baseline}}
    if images:
        rec["images_per_s"] = {name: images / statistics.median(t) for name, t in times.items()}
    return rec


def flat(tensors) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


# ------------------------------------------------------------------------------------------------ Hessian rows

def hvp_row(model, x, y, repeats) -> dict:
    from curvlinops import HessianLinearOperator
    from pyhessian import hessian as PyHessian
    from pyhessian.utils import hessian_vector_product

    from advland.empirical.landscape.hessian import HessianOperator

    params = [p for p in model.parameters() if p.requires_grad]
    setup = {}
    t0 = time.perf_counter()
    ours = HessianOperator(model, x, y, batch_size=len(x))
    setup["advland"] = time.perf_counter() - t0
    ours_recomputed = HessianOperator(model, x, y, batch_size=len(x), memory_budget=0)
    t0 = time.perf_counter()
    ph = PyHessian(model, nn.CrossEntropyLoss(), data=(x, y), cuda=False)
    setup["pyhessian"] = time.perf_counter() - t0
    model.zero_grad(set_to_none=True)  # PyHessian leaves .grad (with its graph) on the parameters
    t0 = time.perf_counter()
    cl = HessianLinearOperator(model, nn.CrossEntropyLoss(), params, [(x, y)], check_deterministic=False)
    setup["curvlinops"] = time.perf_counter() - t0

    v = torch.randn(ours.dim, generator=torch.Generator().manual_seed(0))
    v_list = ours.unflatten(v)
    products = {"advland": ours.matvec(v), "advland_recomputed": ours_recomputed.matvec(v),
                "pyhessian": flat(hessian_vector_product(ph.gradsH, ph.params, v_list)), "curvlinops": cl @ v}
    ref = products["advland"]
    agreement = {name: float((hv - ref).norm() / ref.norm()) for name, hv in products.items() if name != "advland"}
    calls = {"gradient": lambda: torch.autograd.grad(F.cross_entropy(model(x), y), params),
             "advland": lambda: ours.matvec(v),
             "advland_recomputed": lambda: ours_recomputed.matvec(v),
             "pyhessian": lambda: hessian_vector_product(ph.gradsH, ph.params, v_list),
             "curvlinops": lambda: cl @ v}
    record = timing_record(interleaved(calls, repeats), "gradient")
    record.update({"setup_seconds": setup, "relative_difference_to_advland": agreement,
                   "graph": ours.describe()["hvp_graph"], "n_params": ours.dim,
                   "goal": "advland HVP <= 2.3 gradients"})
    return record


def top1_row(model, x, y, repeats) -> dict:
    import importlib

    from pyhessian import hessian as PyHessian
    pyhessian_module = importlib.import_module("pyhessian.hessian")  # the module (the package rebinds the name)

    from advland.empirical.landscape.hessian import HessianOperator

    reference = HessianOperator(model, x, y, batch_size=len(x)).lanczos(k=1, tol=1e-6, max_iter=300, seed=99)
    ref = reference.eigenvalues[0]
    found = {}

    def advland(tol, name, memory_budget=2**31):
        def run(r=[0]):
            r[0] += 1
            op = HessianOperator(model, x, y, batch_size=len(x), memory_budget=memory_budget)
            res = op.lanczos(k=1, tol=tol, seed=r[0])
            found.setdefault(name, []).append((res.eigenvalues[0], res.n_matvecs))
        return run

    products = [0]
    original = pyhessian_module.hessian_vector_product

    def counted(*args):
        products[0] += 1
        return original(*args)

    def pyhessian(r=[0]):
        r[0] += 1
        torch.manual_seed(r[0])  # its start vector comes from the global generator
        products[0] = 0
        values, _ = PyHessian(model, nn.CrossEntropyLoss(), data=(x, y), cuda=False).eigenvalues(top_n=1)
        model.zero_grad(set_to_none=True)
        found.setdefault("pyhessian", []).append((values[0], products[0]))

    calls = {"advland_tol_0.001": advland(1e-3, "advland_tol_0.001"),
             "advland_tol_0.03": advland(3e-2, "advland_tol_0.03"),
             "advland_recomputed_tol_0.001": advland(1e-3, "advland_recomputed_tol_0.001", memory_budget=0),
             "pyhessian": pyhessian}
    pyhessian_module.hessian_vector_product = counted
    try:
        record = timing_record(interleaved(calls, repeats, warmup=0), "pyhessian")
    finally:
        pyhessian_module.hessian_vector_product = original
    record["relative_error"] = {name: spread([abs(v - ref) / abs(ref) for v, _ in vals])
                                for name, vals in found.items()}
    record["hvps"] = {name: spread([n for _, n in vals]) for name, vals in found.items()}
    record["reference"] = {"value": ref, "residual": reference.pairs[0].residual, "converged": reference.converged}
    record["settings"] = {"advland_tol_T": "HessianOperator + lanczos(k=1, tol=T) (residual <= T ||H||)",
                          "advland_recomputed_tol_T": "the same with memory_budget=0: the graph rebuilt for every "
                                                      "product (the route before the retained graph)",
                          "pyhessian": "hessian(data=(x, y)) + eigenvalues(top_n=1) (maxIter=100, tol=1e-3)"}
    return record


# ------------------------------------------------------------------------------------------------ attack rows

def attack_rows(model, x, y, eps, batch_size, repeats) -> dict:
    import torchattacks

    from advland.empirical.attacks import attack, pgd, robust_correct

    steps, alpha = 10, 2.5 * eps / 10
    chunks = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    n = len(x)
    out, results = {}, {}

    def mean_ce(adv_fn):
        examples = adv_fn()
        with torch.no_grad():
            return sum(float(F.cross_entropy(model(a), yb, reduction="sum")) for a, yb in examples) / n

    def ours_examples(iterate):
        def run():
            g = torch.Generator().manual_seed(0)
            return [(xb + pgd(model, xb, yb, eps=eps, steps=steps, step_size=alpha, generator=g, iterate=iterate,
                              evaluate_last=iterate == "best"), yb) for xb, yb in chunks]
        return run

    ta_pgd = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps, random_start=True)
    ta_apgd = torchattacks.APGD(model, norm="Linf", eps=eps, steps=steps, n_restarts=1, loss="ce", seed=0)

    def theirs_examples():
        return [(ta_pgd(xb, yb), yb) for xb, yb in chunks]

    contenders = {"advland": ours_examples("last"), "advland_best_iterate": ours_examples("best"),
                  "torchattacks": theirs_examples}
    times = interleaved(contenders, repeats)
    out["pgd10_examples"] = {**timing_record(times, "torchattacks", n),
                             "mean_ce": {name: mean_ce(fn) for name, fn in contenders.items()}}

    def ours_accuracy(name):
        def run():
            g = torch.Generator().manual_seed(0)
            count = sum(int(robust_correct(name, model, xb, yb, eps=eps, steps=steps, generator=g).sum())
                        for xb, yb in chunks)
            results.setdefault(name, []).append(count / n)
        return run

    def theirs_accuracy(atk, key):
        def run():
            count = 0
            for xb, yb in chunks:
                adv = atk(xb, yb)
                with torch.no_grad():
                    count += int((model(adv).argmax(1) == yb).sum())
            results.setdefault(key, []).append(count / n)
        return run

    for row, name, atk, label in (("pgd10_robust_accuracy", "pgd", ta_pgd, "ta-pgd"),
                                  ("apgd_ce10_robust_accuracy", "apgd-ce", ta_apgd, "ta-apgd")):
        results.clear()
        times = interleaved({"advland": ours_accuracy(name), "torchattacks": theirs_accuracy(atk, label)}, repeats)
        out[row] = {**timing_record(times, "torchattacks", n),
                    "robust_accuracy": {"advland": spread(results[name]), "torchattacks": spread(results[label])}}
    g, delta_count, any_count = torch.Generator().manual_seed(0), 0, 0
    for xb, yb in chunks:  # the two counts on one run of the attack: at its highest-loss iterate vs any iterate
        res = attack("pgd", model, xb, yb, eps=eps, steps=20, generator=g)
        with torch.no_grad():
            delta_count += int((model(xb + res.delta).argmax(1) == yb).sum())
            any_count += int(((model(xb).argmax(1) == yb) & ~res.fooled).sum())
    out["pgd20_robust_accuracy_two_counts"] = {"highest_loss_iterate": delta_count / n, "any_iterate": any_count / n,
                                               "note": "one advland PGD-20 run, counted both ways"}
    with torch.no_grad():
        clean = float((model(x).argmax(1) == y).float().mean())
    out["settings"] = {"eps": eps, "norm": "linf", "steps": steps, "pgd_step_size": alpha, "batch_size": batch_size,
                       "clean_accuracy": clean}
    return out


# ------------------------------------------------------------------------------------------------ training row

def small_cifar_cnn() -> nn.Module:
    def block(i, o):
        return [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU()]
    return nn.Sequential(*block(3, 16), *block(16, 16), nn.MaxPool2d(2), *block(16, 32), *block(32, 32),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 8 * 8, 10))


TRAIN_CASES = {"lenet4_mnist_b128": {"dataset": "mnist", "batch": 128, "epoch_images": 10000, "eps": 0.1},
               "small_cnn_cifar10_b50": {"dataset": "cifar10", "batch": 50, "epoch_images": 500, "eps": 8 / 255}}


def train_child(case: str, steps: int) -> dict:
    """Median seconds of ``steps`` PGD-10 AT steps of ``case`` (after one warm-up step) with the advland found on
    sys.path (run in a subprocess)."""
    import advland
    from advland.empirical.models import build_model
    from advland.empirical.train.loop import TrainConfig, TrainRun, train_step

    spec = TRAIN_CASES[case]
    shape = (1, 28, 28) if spec["dataset"] == "mnist" else (3, 32, 32)
    cfg = TrainConfig(model="lenet" if spec["dataset"] == "mnist" else "vgg", dataset=spec["dataset"], method="at",
                      eps=spec["eps"], width=4, attack_steps=10, batch_size=spec["batch"], device="cpu",
                      in_channels=shape[0]).resolved()
    torch.manual_seed(0)
    model = build_model("lenet", width=4) if spec["dataset"] == "mnist" else small_cifar_cnn()
    run = TrainRun(cfg, model)
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(spec["batch"], *shape, generator=g), torch.randint(0, 10, (spec["batch"],), generator=g)
    train_step(run, x, y, epoch=0, eps_t=cfg.eps)
    seconds = []
    for _ in range(steps):
        t0 = time.perf_counter()
        train_step(run, x, y, epoch=0, eps_t=cfg.eps)
        seconds.append(time.perf_counter() - t0)
    return {"seconds_per_step": statistics.median(seconds), "advland_file": advland.__file__}


def train_row(baseline: str, steps: int, repeats: int, threads: int) -> dict:
    out = {}
    for case, spec in TRAIN_CASES.items():
        times = {"after": [], "before": []}
        files = {}
        for r in range(repeats):
            for which in (("after", "before") if r % 2 == 0 else ("before", "after")):
                env = dict(os.environ, PYTHONPATH=baseline) if which == "before" else {
                    k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
                proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--train-child", case,
                                       "--steps", str(steps), "--threads", str(threads)],
                                      env=env, cwd="/", capture_output=True, text=True, check=True)
                res = json.loads(proc.stdout.strip().splitlines()[-1])
                times[which].append(res["seconds_per_step"])
                files[which] = res["advland_file"]
        per_epoch = -(-spec["epoch_images"] // spec["batch"])
        out[case] = {"seconds_per_step": {k: spread(v) for k, v in times.items()},
                     "seconds_per_epoch": {k: per_epoch * statistics.median(v) for k, v in times.items()},
                     "ratio_after_over_before": ratios(times, "after", "before"),
                     "epoch_images": spec["epoch_images"], "batch_size": spec["batch"], "advland_files": files}
    return out


# ------------------------------------------------------------------------------------------------ main

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default="reports/mnist-lenet4-at", help="advland train run directory (checkpoint.pt)")
    ap.add_argument("--n", type=int, default=1000, help="MNIST test images")
    ap.add_argument("--batch-size", type=int, default=500, help="attack batch size (both tools)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--eigen-repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rows", default="hvp,top1,attacks,train")
    ap.add_argument("--baseline", default=None, help="site directory of an earlier advland for the train row")
    ap.add_argument("--train-steps", type=int, default=5)
    ap.add_argument("--train-child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, default=5, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "peers.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.train_child:
        print(json.dumps(train_child(args.train_child, args.steps)))
        return 0

    from advland.empirical.data import load_tensors
    from advland.empirical.train.checkpoint import load_run
    from advland.io import write_json

    rows = args.rows.split(",")
    model, config = load_run(args.run)
    model.eval()
    x, y = load_tensors("mnist", "test")
    x, y = x[:args.n], y[:args.n]
    result = {"benchmark": "advland vs peers", "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(
              timespec="seconds"),
              "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                          "torch_threads": torch.get_num_threads(),
                          "load_average_1_5_15_at_start": list(os.getloadavg())},
              "versions": versions(), "model": {"run": os.path.abspath(args.run), "name": config["model"],
                                                "width": config["width"], "eps": config["eps"]},
              "data": f"MNIST test, first {args.n} images", "repeats": args.repeats}
    if "hvp" in rows:
        result["hvp"] = hvp_row(model, x, y, args.repeats)
    if "top1" in rows:
        result["top1"] = top1_row(model, x, y, args.eigen_repeats)
    if "attacks" in rows:
        result.update(attack_rows(model, x, y, config["eps"], args.batch_size, args.repeats))
    if "train" in rows and args.baseline:
        result["train"] = train_row(args.baseline, args.train_steps, args.repeats, args.threads)
    result["machine"]["load_average_1_5_15_at_end"] = list(os.getloadavg())
    write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
