"""Cost of the Hessian instruments: HVP vs gradient, and Lanczos vs power iteration with deflation.

(a) One HVP relative to one gradient on the same batch, for the HVP routes of ``empirical.hvp`` (the
    retained first-order graph that ``HessianOperator`` uses, and the two routes that rebuild it per product),
    timed side by side (interleaved repeats, medians) for a few LeNet widths and batch sizes.
    Goal: ratio <= 2.3 for the retained graph.
(b) HVPs needed for the top-5 eigenvalues to reach a relative error <= tau (1e-3, Liu et al.'s
    tolerance, and 1e-4) on a briefly trained LeNet(w), for two targets: the 5 largest ALGEBRAIC
    eigenvalues ('LA', what "top eigenvalues" means) and the 5 largest in MAGNITUDE ('LM', what
    power iteration converges to; they differ when a negative eigenvalue is large).
      * references: Lanczos LA and SA (k=5 each) to a tight residual tolerance (residuals bound
        their error); LM = the 5 largest |values| of their union;
      * Lanczos: one Krylov sequence read at every prefix m (Rayleigh-Ritz on Q_m, which is what
        Lanczos with max_iter=m returns); HVPs = first m at which all 5 are within tau;
      * power iteration with deflation: up to T iterations per eigenvalue with a negligible
        stopping tolerance, the Rayleigh quotient of every iterate recorded; HVPs = sum over the 5
        eigenvalues of the first iterate from which the estimate stays within tau (oracle stopping;
        its deflation uses the longer-run vectors, which favours power iteration).
      Goal: power / Lanczos >= 3 at the same tau.
    Also each method with its own stopping rule (Lanczos residual <= tol*||H||; Liu's rule:
    relative change < 1e-3, <= 50 iterations), with the errors that rule leaves.
Real MNIST (balanced subset) when ADVLAND_DATA is set, synthetic data otherwise (the JSON says which).

    python bench/bench_hessian.py            # writes bench/results/hessian.json
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time

import torch
import torch.nn.functional as F

from advland.io import write_json
from advland.empirical.landscape.eigen import lanczos, power_iteration
from advland.empirical.landscape.hessian import HessianOperator
from advland.empirical.core.params import select_params
from advland.empirical.landscape.hvp import HVP_FUNCTIONS, RetainedGradient, gradient
from advland.empirical.models import build_model
from advland.empirical.core.state import preserved

TOP = 5


def load_data(n_train, n_hessian, seed):
    if os.environ.get("ADVLAND_DATA"):
        from advland.empirical.data import load_tensors
        x, y = load_tensors("mnist", "train", subset=n_train + n_hessian, seed=seed)
        perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))
        x, y = x[perm], y[perm]
        source = f"mnist train, balanced subset of {n_train + n_hessian} (real, ADVLAND_DATA)"
    else:
        g = torch.Generator().manual_seed(seed)
        x = torch.rand(n_train + n_hessian, 1, 28, 28, generator=g)
        y = torch.randint(0, 10, (n_train + n_hessian,), generator=g)
        source = "synthetic uniform images, random labels (ADVLAND_DATA not set)"
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:]), source


def train_briefly(model, x, y, steps, seed):
    """Plain SGD on clean CE so that the spectrum has its trained-network outliers."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    with preserved(model, "train"):
        for _ in range(steps):
            idx = torch.randint(0, x.shape[0], (64,), generator=g)
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    model.zero_grad(set_to_none=True)


def time_hvp_vs_gradient(model, x, y, repeats):
    params = select_params(model, "all")
    g = torch.Generator().manual_seed(0)
    v = [torch.randn(p.shape, generator=g) for _, p in params]
    b = x.shape[0]
    with preserved(model, "eval"):
        retained = RetainedGradient.build(model, params, x, y, b, memory_budget=2**40)
    routes = ("retained_graph", *HVP_FUNCTIONS)
    calls = {"gradient": lambda: gradient(model, params, x, y, b), "retained_graph": lambda: retained.hvp(v),
             **{name: (lambda f=f: f(model, params, x, y, v, b)) for name, f in HVP_FUNCTIONS.items()}}
    times = {name: [] for name in calls}
    with preserved(model, "eval"):
        for call in calls.values():
            call()  # warm-up
        for _ in range(repeats):
            for name, call in calls.items():
                t0 = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(t) for name, t in times.items()}
    low = {name: min(t) for name, t in times.items()}
    return {"batch_size": b, "repeats": repeats,
            "median_seconds": med, "min_seconds": low, "all_seconds": times,
            "ratio_to_gradient": {name: med[name] / med["gradient"] for name in routes},
            "ratio_of_minimums": {name: low[name] / low["gradient"] for name in routes},
            "retained_graph_saved_bytes": retained.saved_bytes,
            "goal": "retained_graph ratio (of medians) <= 2.3; the ratio of minimums is the least disturbed by "
                    "other load"}


class Recorder:
    """Wraps a matvec and keeps every (v, Hv) pair on the CPU in float64."""

    def __init__(self, matvec):
        self.matvec, self.inputs, self.outputs = matvec, [], []

    def __call__(self, v):
        hv = self.matvec(v)
        self.inputs.append(v.detach().double().cpu())
        self.outputs.append(hv.detach().double().cpu())
        return hv


def rel_err(values, ref):
    return max(abs(a - b) / abs(b) for a, b in zip(values, ref))


def top_by(values, target):
    """The 5 largest algebraic ('LA') or largest-magnitude ('LM') values, in that order."""
    key = (lambda v: -v) if target == "LA" else (lambda v: -abs(v))
    return sorted(values, key=key)[:TOP]


def lanczos_prefix_count(rec, refs, tau):
    """Per target, the first Krylov dimension m whose Ritz values match the reference within tau."""
    q, hq = torch.stack(rec.inputs), torch.stack(rec.outputs)
    counts = {target: None for target in refs}
    for m in range(TOP, q.shape[0] + 1):
        t = q[:m] @ hq[:m].T
        ritz = torch.linalg.eigvalsh((t + t.T) / 2).tolist()
        for target, ref in refs.items():
            if counts[target] is None and rel_err(top_by(ritz, target), ref) <= tau:
                counts[target] = m
    return counts


def power_segments(rec):
    """Split the recorded power-iteration matvecs per eigenvalue: within one eigenvalue each input
    is the normalized deflated previous output (cosine near 1); a new eigenvalue starts from a fresh
    Gaussian vector (cosine ~ 1/sqrt(n))."""
    segments = [[0]]
    for t in range(1, len(rec.inputs)):
        prev = rec.outputs[t - 1]
        cos = torch.dot(rec.inputs[t], prev) / (rec.inputs[t].norm() * prev.norm() + 1e-300)
        if cos <= 0.5:
            segments.append([])
        segments[-1].append(t)
    return segments


def power_oracle_count(rec, ref, tau):
    """Sum over eigenvalues of the first iterate after which the Rayleigh quotient stays within tau."""
    per = []
    for i, seg in enumerate(power_segments(rec)[:TOP]):
        rq = [torch.dot(rec.inputs[t], rec.outputs[t]).item() / rec.inputs[t].norm().item() ** 2
              for t in seg]
        ok = [abs(r - ref[i]) <= tau * abs(ref[i]) for r in rq]
        first = next((t for t in range(len(ok)) if all(ok[t:])), None)
        if first is None:
            return None, per
        per.append(first + 1)
    return sum(per), per


def compare_solvers(op, power_iters, krylov_dim, taus, seed):
    ref_top = op.lanczos(k=TOP, which="LA", tol=1e-5, max_iter=min(op.dim, 250), seed=seed)
    ref_bottom = op.lanczos(k=TOP, which="SA", tol=1e-5, max_iter=min(op.dim, 250), seed=seed + 1)
    refs = {"LA": ref_top.eigenvalues,
            "LM": top_by(ref_top.eigenvalues + ref_bottom.eigenvalues, "LM")}

    rec = Recorder(op.matvec)  # one long Krylov sequence; tol too small to stop it early
    lanczos(rec, op.dim, k=TOP, which="LA", tol=1e-14, max_iter=min(op.dim, krylov_dim),
            generator=torch.Generator().manual_seed(seed + 2), like=op.like)
    rec.inputs, rec.outputs = rec.inputs[:-TOP], rec.outputs[:-TOP]  # drop the residual checks
    prec = Recorder(op.matvec)
    long_power = power_iteration(prec, op.dim, k=TOP, max_iter=power_iters, tol=1e-12,
                                 generator=torch.Generator().manual_seed(seed + 3), like=op.like)
    own = {"lanczos_tol_1e-3": op.lanczos(k=TOP, which="LA", tol=1e-3, seed=seed + 4),
           "lanczos_tol_1e-4": op.lanczos(k=TOP, which="LA", tol=1e-4, seed=seed + 4),
           "power_liu_rule": op.power_iteration(k=TOP, max_iter=50, tol=1e-3, seed=seed + 5)}

    oracle = {}
    for tau in taus:
        lan = lanczos_prefix_count(rec, refs, tau)
        entry = {}
        for target, ref in refs.items():
            pw, per = power_oracle_count(prec, ref, tau)
            entry[target] = {
                "lanczos_hvps": lan[target], "power_hvps": pw, "power_hvps_per_eigenvalue": per,
                "ratio_power_over_lanczos": pw / lan[target] if (pw and lan[target]) else None,
                "power_reached": pw is not None}
        oracle[f"tau={tau:g}"] = entry
    return {
        "references": {"LA": ref_top.to_json(), "SA": ref_bottom.to_json(),
                       "LA_values": refs["LA"], "LM_values": refs["LM"],
                       "max_rel_residual": max(p.residual for p in ref_top.pairs + ref_bottom.pairs)
                       / max(abs(v) for v in refs["LM"])},
        "largest_magnitude_equals_largest_algebraic": refs["LM"] == refs["LA"],
        "oracle_counts": oracle,
        "oracle_settings": {"lanczos_krylov_dim": len(rec.inputs),
                            "power_budget_per_eigenvalue": power_iters,
                            "note": "lanczos_hvps null = not within the recorded Krylov dimension; "
                                    "power_hvps null = some eigenvalue never stayed within tau of the "
                                    "target within the budget (power iteration converges to the LM set)"},
        "own_stopping_rules": {name: {**r.to_json(),
                                      "max_rel_error_vs_LA": rel_err(r.eigenvalues, refs["LA"]),
                                      "max_rel_error_vs_LM": rel_err(r.eigenvalues, refs["LM"])}
                               for name, r in own.items()},
        "power_long_run": {**long_power.to_json(),
                           "max_rel_error_vs_LM": rel_err(long_power.eigenvalues, refs["LM"])},
        "goal": "power_hvps / lanczos_hvps >= 3 at the same tau",
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=1, help="LeNet width w (1 -> 13.5k parameters)")
    ap.add_argument("--n-train", type=int, default=2000)
    ap.add_argument("--train-steps", type=int, default=300)
    ap.add_argument("--n-hessian", type=int, default=256, help="examples in the Hessian data set")
    ap.add_argument("--repeats", type=int, default=11)
    ap.add_argument("--timing-configs", default="1x256,4x256,4x1000", metavar="WxB,...",
                    help="(a) LeNet widths x batch sizes to time (batches drawn from the training data)")
    ap.add_argument("--power-iters", type=int, default=100, help="power-iteration budget per eigenvalue")
    ap.add_argument("--krylov-dim", type=int, default=100, help="length of the recorded Lanczos run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None,
                    help="torch intra-op threads (default: torch's own choice)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "results", "hessian.json"))
    args = ap.parse_args(argv)

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    (xt, yt), (xh, yh), source = load_data(args.n_train, args.n_hessian, args.seed)
    model = build_model("lenet", width=args.width)
    t0 = time.perf_counter()
    train_briefly(model, xt, yt, args.train_steps, args.seed)
    train_s = time.perf_counter() - t0

    timing = []
    for config in args.timing_configs.split(","):
        w, b = (int(v) for v in config.split("x"))
        if b > xt.shape[0]:
            raise ValueError(f"timing batch {b} exceeds --n-train {xt.shape[0]}")
        net = model if w == args.width else build_model("lenet", width=w)
        timing.append({"width": w, "n_params": sum(p.numel() for p in net.parameters()),
                       "trained": net is model, **time_hvp_vs_gradient(net, xt[:b], yt[:b], args.repeats)})
    op = HessianOperator(model, xh, yh, params="all", bn_mode="eval", batch_size=args.n_hessian)
    solvers = compare_solvers(op, args.power_iters, args.krylov_dim, (1e-3, 1e-4), args.seed)

    result = {
        "benchmark": "hessian",
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpu_count": os.cpu_count(), "torch": torch.__version__,
                    "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
                    "load_average_1_5_15": list(os.getloadavg()), "device": "cpu"},
        "data": source,
        "model": {"name": "lenet", "width": args.width, "n_params": op.dim,
                  "train_steps": args.train_steps, "train_seconds": train_s},
        "hessian": op.describe(),
        "hvp_vs_gradient": timing,
        "eigen_solvers": solvers,
    }
    write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
