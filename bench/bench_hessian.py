"""Cost of the Hessian instruments: HVP vs gradient, and Lanczos vs power iteration with deflation.

(a) One HVP relative to one gradient on the same batch, for both HVP routes of ``empirical.hvp``,
    timed side by side (interleaved repeats, medians). Goal: ratio <= 3.
(b) HVPs needed for the top-5 eigenvalues to reach a relative error <= tau (1e-3, Liu et al.'s
    tolerance, and 1e-4) on a briefly trained LeNet(w):
      * reference: Lanczos (LA, k=5) run to a tight residual tolerance; its Ritz residuals bound
        the reference error;
      * Lanczos: the same Krylov sequence read at every prefix m (Rayleigh-Ritz on Q_m, which is
        what Lanczos with max_iter=m returns); HVPs = first m at which all 5 are within tau;
      * power iteration with deflation: a fixed budget of T iterations per eigenvalue, with the
        Rayleigh quotient of every iterate recorded; HVPs = sum over the 5 eigenvalues of the first
        iterate from which the estimate stays within tau (oracle stopping; its deflation uses the
        T-step vectors, which favours power iteration). Goal: power / Lanczos >= 3.
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
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from empirical.checkpoint import write_json  # noqa: E402
from empirical.eigen import lanczos, power_iteration  # noqa: E402
from empirical.hessian import HessianOperator  # noqa: E402
from empirical.hvp import HVP_FUNCTIONS, gradient  # noqa: E402
from empirical.models import build_model  # noqa: E402
from empirical.state import preserved  # noqa: E402

TOP = 5


def load_data(n_train, n_hessian, seed):
    if os.environ.get("ADVLAND_DATA"):
        from empirical.data import load_tensors
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
    params = [(n, p) for n, p in model.named_parameters()]
    g = torch.Generator().manual_seed(0)
    v = [torch.randn(p.shape, generator=g) for _, p in params]
    b = x.shape[0]
    calls = {"gradient": lambda: gradient(model, params, x, y, b),
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
    return {"batch_size": b, "repeats": repeats,
            "median_seconds": med, "all_seconds": times,
            "ratio_to_gradient": {name: med[name] / med["gradient"] for name in HVP_FUNCTIONS},
            "goal": "ratio <= 3"}


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


def lanczos_prefix_count(rec, iterations, ref, tau):
    """First Krylov dimension m whose top-5 Ritz values are all within tau of the reference."""
    q = torch.stack(rec.inputs[:iterations])
    hq = torch.stack(rec.outputs[:iterations])
    for m in range(TOP, iterations + 1):
        t = q[:m] @ hq[:m].T
        ritz = torch.linalg.eigvalsh((t + t.T) / 2).flip(0)[:TOP].tolist()
        if rel_err(ritz, ref) <= tau:
            return m
    return None


def power_oracle_count(rec, per_eigen, ref, tau):
    """Sum over eigenvalues of the first iterate after which the Rayleigh quotient stays within tau."""
    total, per = 0, []
    for i in range(TOP):
        rq = [torch.dot(v, hv).item() / torch.dot(v, v).item()
              for v, hv in zip(rec.inputs[i * per_eigen:(i + 1) * per_eigen],
                               rec.outputs[i * per_eigen:(i + 1) * per_eigen])]
        ok = [abs(r - ref[i]) <= tau * abs(ref[i]) for r in rq]
        first = next((t for t in range(per_eigen) if all(ok[t:])), None)
        if first is None:
            return None, per
        per.append(first + 1)
        total += first + 1
    return total, per


def compare_solvers(op, power_iters, taus, seed):
    rec = Recorder(op.matvec)
    ref = lanczos(rec, op.dim, k=TOP, which="LA", tol=1e-5, max_iter=min(op.dim, 200),
        generator=torch.Generator().manual_seed(seed), like=op.like)
    ref_values = ref.eigenvalues
    bottom = op.lanczos(k=1, which="SA", tol=1e-3, seed=seed + 1)

    prec = Recorder(op.matvec)
    long_power = power_iteration(prec, op.dim, k=TOP, max_iter=power_iters, tol=1e-15,
                                 generator=torch.Generator().manual_seed(seed + 2), like=op.like)
    own = {"lanczos_tol_1e-3": op.lanczos(k=TOP, which="LA", tol=1e-3, seed=seed + 3),
           "lanczos_tol_1e-4": op.lanczos(k=TOP, which="LA", tol=1e-4, seed=seed + 3),
           "power_liu_rule": op.power_iteration(k=TOP, max_iter=50, tol=1e-3, seed=seed + 4)}

    oracle = {}
    for tau in taus:
        lan = lanczos_prefix_count(rec, ref.iterations, ref_values, tau)
        pw, per = power_oracle_count(prec, power_iters, ref_values, tau)
        oracle[f"tau={tau:g}"] = {
            "lanczos_hvps": lan, "power_hvps": pw, "power_hvps_per_eigenvalue": per,
            "power_budget_per_eigenvalue": power_iters,
            "ratio_power_over_lanczos": (pw / lan) if (pw and lan) else None,
            "note": None if pw else f"power iteration did not reach tau within {power_iters} "
                                    "iterations for some eigenvalue (count is a lower bound: > budget)"}
    return {
        "reference": ref.to_json(),
        "reference_max_rel_residual": max(p.residual for p in ref.pairs) / abs(ref_values[0]),
        "bottom_eigenvalue": bottom.to_json(),
        "largest_magnitude_is_top_algebraic": abs(bottom.eigenvalues[0]) < abs(ref_values[-1]),
        "oracle_counts": oracle,
        "own_stopping_rules": {name: {**r.to_json(), "max_rel_error_vs_reference":
                                      rel_err(r.eigenvalues, ref_values)} for name, r in own.items()},
        "power_fixed_budget": {**long_power.to_json(),
                               "max_rel_error_vs_reference": rel_err(long_power.eigenvalues, ref_values)},
        "goal": "power_hvps / lanczos_hvps >= 3 at the same tau",
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=1, help="LeNet width w (1 -> 13.5k parameters)")
    ap.add_argument("--n-train", type=int, default=2000)
    ap.add_argument("--train-steps", type=int, default=300)
    ap.add_argument("--n-hessian", type=int, default=256, help="examples in the Hessian data set")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--power-iters", type=int, default=100, help="power-iteration budget per eigenvalue")
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

    timing = time_hvp_vs_gradient(model, xh, yh, args.repeats)
    op = HessianOperator(model, xh, yh, params="all", bn_mode="eval", batch_size=args.n_hessian)
    solvers = compare_solvers(op, args.power_iters, (1e-3, 1e-4), args.seed)

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
