"""``advland measure hessian|scan|flatness|cosine --run DIR``: landscape instruments on a trained run.

Each command loads the run (``empirical.checkpoint.load_run``), a fixed class-balanced subset of a split,
runs one instrument and writes a JSON result and a PNG plot next to the run (or at ``--out``), atomically.
The attack is PGD (``empirical.attacks.pgd``) at the run's eps and norm unless overridden; ``--eps 0`` gives
the clean loss. Exit status: 0 ok; 1 the result was written but contains NaN/inf losses; 2 usage error
(missing checkpoint or data, a parameter selection matching nothing, bad option values).
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

EXIT_OK, EXIT_NONFINITE, EXIT_USAGE = 0, 1, 2
KINDS = ("hessian", "scan", "flatness", "cosine")


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def register(subparsers) -> None:
    """Add ``measure`` and its four sub-commands to an argparse subparsers object."""
    measure = subparsers.add_parser("measure", help="landscape measurements on a training run",
                                    description=__doc__.split("\n\n")[0])
    kinds = measure.add_subparsers(dest="measure", required=True, metavar="KIND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--run", required=True, metavar="DIR", help="run directory (config.json, checkpoint.pt)")
    common.add_argument("--data-dir", default=None, help="data folder (default $ADVLAND_DATA)")
    common.add_argument("--split", choices=("train", "test"), default="test")
    common.add_argument("--subset", type=int, default=500, help="class-balanced examples (default 500)")
    common.add_argument("--seed", type=int, default=0)
    common.add_argument("--eps", type=float, default=None, help="attack budget (default: the run's; 0 = clean)")
    common.add_argument("--norm", choices=("linf", "l2"), default=None, help="default: the run's norm")
    common.add_argument("--steps", type=int, default=10, help="PGD steps (default 10)")
    common.add_argument("--step-size", type=float, default=None, help="PGD step (default 2.5 eps / steps)")
    common.add_argument("--restarts", type=int, default=1)
    common.add_argument("--bn-mode", choices=("eval", "train"), default="eval")
    common.add_argument("--params", choices=("all", "weights"), default="all",
                        help="tensors the Hessian / directions cover (flatness always uses non-normalization layers)")
    common.add_argument("--include", default=None, metavar="SUBSTRING",
                        help="keep only parameters whose name contains SUBSTRING (scan, cosine)")
    common.add_argument("--batch-size", type=int, default=250)
    common.add_argument("--device", default="cpu")
    common.add_argument("--out", default=None, metavar="FILE", help="JSON output (default DIR/measure-KIND.json)")

    p = kinds.add_parser("hessian", parents=[common], help="top Hessian eigenvalues on fixed adversarial examples")
    p.add_argument("--k", type=int, default=1, help="number of top eigenvalues (default 1)")
    p.add_argument("--h", type=float, default=1e-6, help="step of the float64 second-difference check (default 1e-6)")
    p.add_argument("--tol", type=float, default=1e-4, help="Lanczos relative residual tolerance (default 1e-4)")
    p.add_argument("--max-iter", type=int, default=None, help="Lanczos Krylov dimension (default 2k + 50)")
    p.add_argument("--bottom", type=int, default=0,
                   help="also the K smallest (algebraic) eigenvalues and |λ_min|/λ_max, as Stutz et al. (default 0)")
    p.add_argument("--trace-samples", type=int, default=0,
                   help="Hutchinson trace estimate from N Rademacher probes, with its standard error (default 0)")
    p = kinds.add_parser("scan", parents=[common], help="1-D/2-D loss scan along normalized directions")
    p.add_argument("--direction", choices=("random", "eigen"), default="random")
    p.add_argument("--normalization", choices=("filter", "filter-all", "layer"), default="filter")
    p.add_argument("--dims", type=int, choices=(1, 2), default=1)
    p.add_argument("--range", type=float, nargs=2, default=(-1.0, 1.0), metavar=("LO", "HI"))
    p.add_argument("--points", type=int, default=21, help="grid points per axis (odd: theta is on the grid)")
    p.add_argument("--frozen", action="store_true", help="adversarial examples computed once at theta")
    p.add_argument("--recalibrate-bn", action="store_true", help="re-estimate BN statistics at every point")
    p = kinds.add_parser("flatness", parents=[common], help="Stutz et al. relative flatness")
    p.add_argument("--kind", choices=("average", "worst"), default="average")
    p.add_argument("--xi", type=float, default=None, help="ball radius (default 0.5 average, 0.00075 worst)")
    p.add_argument("--ball", choices=("relative", "absolute"), default="relative")
    p.add_argument("--samples", type=int, default=10, help="random samples (average) or attempts (worst)")
    p.add_argument("--ascent-steps", type=int, default=20, help="joint ascent iterations (worst)")
    p.add_argument("--lr", type=float, default=0.01, help="relative weight step (worst)")
    p = kinds.add_parser("cosine", parents=[common], help="Liu et al. cosine of delta(theta+av), delta(theta-av)")
    p.add_argument("--direction", choices=("random", "eigen"), default="eigen")
    p.add_argument("--scales", type=_floats, default=[0.0, 0.01, 0.02, 0.05, 0.1], help="comma-separated a >= 0")
    for name in KINDS:
        kinds.choices[name].set_defaults(func=handle)


def _fail(message: str) -> int:
    print(f"advland measure: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def handle(args) -> int:
    """Run one measurement; errors in the inputs become a message and exit status 2."""
    from advland.empirical.data import DataError

    try:
        return _run(args)
    except (FileNotFoundError, DataError, ValueError) as err:
        return _fail(str(err))
    except FloatingPointError as err:
        print(f"advland measure: error: {err}", file=sys.stderr)
        return EXIT_NONFINITE


def _attack(args, config):
    import functools

    from advland.empirical.attacks import check_threat, pgd

    eps = float(config["eps"] if args.eps is None else args.eps)
    norm = args.norm or config.get("norm", "linf")
    check_threat(eps, norm)
    if eps == 0:
        return None, eps, norm
    return functools.partial(pgd, eps=eps, norm=norm, steps=args.steps, step_size=args.step_size,
                             restarts=args.restarts), eps, norm


def _selected(model, args):
    from advland.empirical.landscape.directions import select

    params = select(model, args.params)
    if args.include is not None:
        params = [(n, p) for n, p in params if args.include in n]
        if not params:
            names = ", ".join(n for n, _ in select(model, args.params))
            raise ValueError(f"--include {args.include!r} matches no parameter in set {args.params!r}; "
                             f"names are: {names}")
    return params


def _run(args) -> int:
    from advland.empirical.train.checkpoint import load_run
    from advland.io import write_json
    from advland.empirical.data import load_tensors
    from advland.environment import environment

    if args.subset is not None and args.subset < 1:
        raise ValueError(f"--subset must be >= 1, got {args.subset}")
    if args.include is not None and args.measure in ("hessian", "flatness"):
        raise ValueError(f"--include applies to scan and cosine only, not to {args.measure}")
    run = Path(args.run)
    if not run.is_dir():
        raise FileNotFoundError(f"run directory {run} does not exist")
    model, config = load_run(run, device=args.device)
    x, y = load_tensors(config["dataset"], args.split, args.data_dir, subset=args.subset, seed=args.seed,
                        device=args.device)
    attack, eps, norm = _attack(args, config)
    result = {"run": str(run), "measure": args.measure, "split": args.split, "n": int(len(x)),
              "eps": eps, "norm": norm, "attack": None if attack is None else
              {"name": "pgd", "steps": args.steps, "step_size": args.step_size, "restarts": args.restarts},
              "bn_mode": args.bn_mode, "seed": args.seed, "environment": environment(args.seed)}
    result.update(MEASURES[args.measure](model, x, y, attack, eps, args))
    out = Path(args.out) if args.out else run / f"measure-{args.measure}.json"
    bad = _nonfinite_paths(result)
    result["nonfinite"] = bad
    write_json(out, result)
    _save_plot(out.with_suffix(".png"), args.measure, result)
    if result.get("converged") is False:
        print(f"advland measure: warning: the eigen-solver did not converge (kept with converged=false "
              f"in {out}); raise --max-iter / --tol (hessian) or check the data", file=sys.stderr)
    if bad:
        print(f"advland measure: NaN/inf losses at {', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''} "
              f"(written as null to {out}); the model or the perturbation scale is broken", file=sys.stderr)
        return EXIT_NONFINITE
    print(out)
    return EXIT_OK


def _hessian_inputs(model, x, y, attack, args) -> dict:
    """Keyword arguments of ``empirical.hessian.HessianOperator`` for the loss measured: clean when there
    is no attack, else adversarial examples computed once at theta and frozen (Liu et al.)."""
    from advland.empirical.attacks import adversarial_deltas
    from advland.empirical.core.state import preserved

    if attack is None:
        return {"loss": "clean"}
    with preserved(model, args.bn_mode):
        delta = adversarial_deltas(model, x, y, attack, seed=args.seed, batch_size=args.batch_size)
    return {"loss": "adversarial", "x_adv": x + delta}


def measure_hessian(model, x, y, attack, eps, args) -> dict:
    from advland.empirical.landscape.hessian import HessianOperator
    from advland.empirical.landscape.scan import curvature_check

    op = HessianOperator(model, x, y, params=args.params, bn_mode=args.bn_mode, batch_size=args.batch_size,
                         seed=args.seed, **_hessian_inputs(model, x, y, attack, args))
    if args.bottom < 0 or args.trace_samples < 0:
        raise ValueError(f"--bottom and --trace-samples must be >= 0, got {args.bottom}, {args.trace_samples}")
    result = op.lanczos(k=args.k, tol=args.tol, max_iter=args.max_iter, seed=args.seed)
    top = result.pairs[0]
    check = curvature_check(model, op.x, y, op.params, top.value, op.unflatten(top.vector), h=args.h,
                            bn_mode=args.bn_mode, batch_size=args.batch_size)
    out = {"eigenvalues": result.eigenvalues, "converged": result.converged, "hessian": op.report(result),
           "curvature_check": check}
    if args.bottom:
        low = op.lanczos(k=args.bottom, which="SA", tol=args.tol, max_iter=args.max_iter, seed=args.seed)
        out.update(bottom_eigenvalues=low.eigenvalues, bottom=op.report(low),
                   min_over_max=abs(low.eigenvalues[0]) / top.value if top.value > 0 else None,
                   converged=result.converged and low.converged)
    if args.trace_samples:
        trace = op.hutchinson_trace(num_samples=args.trace_samples, seed=args.seed)
        out["trace"] = trace.to_json()
    return out


def _direction(model, x, y, attack, args, params, normalization, seed):
    """(direction, eigen record or None): a seeded random direction, or the unit top eigenvector."""
    import torch

    from advland.empirical.landscape.directions import random_direction
    from advland.empirical.landscape.hessian import top_eigen_direction

    if args.direction == "random":
        return random_direction(params, torch.Generator().manual_seed(seed), normalization), None
    if args.include is not None:
        raise ValueError("--include applies to random directions only (the eigenvector covers --params)")
    value, vec, info, _ = top_eigen_direction(model, x, y, params=args.params, bn_mode=args.bn_mode,
                                              batch_size=args.batch_size, seed=args.seed,
                                              **_hessian_inputs(model, x, y, attack, args))
    return vec, {"eigenvalue": value, **info}


def _converged(eigen) -> dict:
    return {} if eigen is None else {"converged": bool(eigen["result"]["converged"])}


def measure_scan(model, x, y, attack, eps, args) -> dict:
    import numpy as np

    from advland.empirical.landscape.scan import scan

    if args.points < 1:
        raise ValueError(f"--points must be >= 1, got {args.points}")
    if args.direction == "eigen" and args.dims == 2:
        raise ValueError("a 2-D scan needs --direction random (there is one top eigenvector)")
    params = _selected(model, args)
    dirs, eigen = [], []
    for k in range(args.dims):
        d, e = _direction(model, x, y, attack, args, params, args.normalization, args.seed + k)
        dirs.append(d)
        eigen.append(e)
    grid = np.linspace(args.range[0], args.range[1], args.points)
    res = scan(model, x, y, params, dirs, [grid] * args.dims, attack=attack,
               adversarial="frozen" if args.frozen else "regenerate", bn_mode=args.bn_mode,
               recalibrate_bn_on=x if args.recalibrate_bn else None, seed=args.seed, batch_size=args.batch_size)
    res.update(direction=args.direction, normalization=args.normalization if args.direction == "random" else "unit",
               eigen=eigen[0], params=[n for n, _ in params], **_converged(eigen[0]))
    return res


def measure_flatness(model, x, y, attack, eps, args) -> dict:
    from advland.empirical.landscape.flatness import average_flatness, worst_flatness

    if args.kind == "average":
        return average_flatness(model, x, y, xi=0.5 if args.xi is None else args.xi, samples=args.samples,
                                attack=attack, ball=args.ball, bn_mode=args.bn_mode, seed=args.seed,
                                batch_size=args.batch_size)
    if attack is not None and attack.keywords["norm"] != "linf":
        raise ValueError(f"worst-case flatness perturbs inputs in L-inf only (Stutz et al.); the threat here is "
                         f"{attack.keywords['norm']} (pass --norm linf with an L-inf budget --eps)")
    res = worst_flatness(model, x, y, xi=0.00075 if args.xi is None else args.xi, eps=eps,
                         steps=args.ascent_steps, attempts=args.samples, lr=args.lr, ball=args.ball,
                         bn_mode=args.bn_mode, seed=args.seed, batch_size=args.batch_size)
    # the inputs are optimized jointly with the weights, not by the PGD of the other measures
    res["attack"] = None if attack is None else {"name": "joint weight-input ascent", "norm": "linf",
                                                 "input_step": eps / 4, "steps": args.ascent_steps}
    return res


def measure_cosine(model, x, y, attack, eps, args) -> dict:
    from advland.empirical.landscape.similarity import perturbation_cosine

    if attack is None:
        raise ValueError("the cosine measurement needs eps > 0")
    params = _selected(model, args)
    v, eigen = _direction(model, x, y, attack, args, params, "unit", args.seed)
    res = perturbation_cosine(model, x, y, params, v, args.scales, attack=attack, bn_mode=args.bn_mode,
                              seed=args.seed, batch_size=args.batch_size)
    res.update(direction=args.direction, eigen=eigen, **_converged(eigen))
    return res


MEASURES = {"hessian": measure_hessian, "scan": measure_scan, "flatness": measure_flatness,
            "cosine": measure_cosine}
def _nonfinite_paths(obj, path="") -> list[str]:
    """Where a loss-like number is NaN or inf (paths such as 'loss[3][4]' or 'values[2]')."""
    import numpy as np

    if isinstance(obj, dict):
        return [p for k, v in obj.items() for p in _nonfinite_paths(v, f"{path}.{k}" if path else str(k))]
    if isinstance(obj, np.ndarray) and obj.dtype.kind == "f":
        return [f"{path}{list(i)}" for i in zip(*np.nonzero(~np.isfinite(obj)))]
    if isinstance(obj, (list, tuple)):
        return [p for i, v in enumerate(obj) for p in _nonfinite_paths(v, f"{path}[{i}]")]
    if isinstance(obj, float) and not math.isfinite(obj):
        return [path]
    return []


def _save_plot(path: Path, kind: str, r: dict) -> None:
    """A PNG of the result, written atomically."""
    import numpy as np
    from matplotlib.figure import Figure

    from advland.io import atomic_write

    adv = {"regenerate": "regenerated at every point", "frozen": "frozen at θ", "none": "none (clean loss)"}
    loss_name = "clean loss" if not r["eps"] else f"robust loss (PGD, ε={r['eps']:g} {r['norm']})"
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    if kind == "scan" and len(r["coords"]) == 2:
        im = ax.contourf(r["coords"][0], r["coords"][1], np.asarray(r["loss"]).T, levels=20)
        fig.colorbar(im, ax=ax, label=loss_name)
        ax.set_xlabel(f"a ({r['direction']} direction d)")
        ax.set_ylabel(f"b ({r['direction']} direction e)")
        what = f"θ + a·d + b·e, {r['normalization']}-normalized, adversarial examples {adv[r['adversarial']]}"
    elif kind == "scan":
        ax.plot(r["coords"][0], r["loss"], marker=".", color="C0")
        ax.set_ylabel(loss_name, color="C0")
        acc = ax.twinx()
        acc.plot(r["coords"][0], r["acc"], marker=".", color="C1")
        acc.set_ylabel("accuracy", color="C1")
        ax.set_xlabel(f"a (θ + a·d, d {r['direction']}, {r['normalization']}-normalized)")
        what = f"1-D scan, adversarial examples {adv[r['adversarial']]}"
    elif kind == "cosine":
        a = [row["scale"] for row in r["rows"]]
        ax.plot(a, [row["cos_raw_mean"] for row in r["rows"]], marker="o", label="cos(δ+, δ−)")
        ax.plot(a, [row["cos_sign_mean"] for row in r["rows"]], marker="s", label="cos(sign δ+, sign δ−)")
        ax.set_ylabel("mean cosine over examples")
        ax.set_xlabel(f"a (θ ± a·v, v = {'top Hessian eigenvector' if r['direction'] == 'eigen' else 'random unit'})")
        err = ax.twinx()
        err.plot(a, [row["error_plus"] for row in r["rows"]], "k--", marker="^", label="robust error at θ + a·v")
        err.set_ylabel("robust test error")
        ax.legend(loc="lower center", fontsize=7)
        err.legend(loc="upper right", fontsize=7)
        what = "Liu et al. perturbation similarity"
    elif kind == "flatness":
        vals = r["values"] if "values" in r else [r["value"]]
        ax.plot(range(len(vals)), vals, "o", label=f"perturbed model ({r['ball']} ball, ξ={r['xi']:g})")
        ax.axhline(r["reference"], color="k", label="reference (unperturbed)")
        ax.set_xlabel("weight sample" if "values" in r else "worst case over attempts")
        ax.set_ylabel(loss_name)
        ax.legend(fontsize=7)
        what = f"{r['kind']}-case flatness = {r['flatness']:.4g}"
    else:
        ax.plot(range(1, len(r["eigenvalues"]) + 1), r["eigenvalues"], "o", label="Lanczos eigenvalues")
        ax.axhline(r["curvature_check"]["second_difference"], color="k", ls="--",
                   label=f"second difference along v1 (h={r['curvature_check']['h']:g})")
        ax.set_xlabel("index")
        ax.set_ylabel("Hessian eigenvalue")
        ax.legend(fontsize=7)
        what = f"Hessian of the {r['hessian']['hessian']['loss']}"
    ax.set_title(f"{Path(r['run']).name}: {what}\n({r['split']} n={r['n']}, BN {r['bn_mode']})", fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))
