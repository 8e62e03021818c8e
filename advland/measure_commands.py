"""``advland measure hessian|scan|flatness|cosine --run DIR``: landscape instruments on a trained run.

Each command loads the run (``empirical.train.checkpoint.load_run``), a fixed class-balanced subset of a split
(from the run's data folder unless ``--data-dir`` is given), runs one instrument and writes a JSON result and a
PNG plot into the run folder (or at ``--out``), atomically; the file name holds the key of the setting
(``advland.outputs``), so measurements of other settings are kept. The attack is PGD (``empirical.attacks.pgd``) at the
run's eps and norm unless overridden; ``--eps 0`` gives the clean loss. The options are the fields of
``MeasureOptions`` and of the dataclass of each kind (``KINDS``). Exit status: 0 ok; 1 the result was written
but contains NaN/inf losses; 2 usage error (missing checkpoint or data, a parameter selection matching nothing,
bad option values).
"""
from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path

from advland.empirical.names import BALLS, HESSIAN_PARAM_SETS, NORMALIZATIONS, NORMS, SPLITS, check_threat
from advland.errors import UsageError
from advland import outputs
from advland.inputs import check_subset, load_run, run_config
from advland.options import (batch_size_option, bn_mode_option, data_dir_option, device_option, from_args,
                             option, overwrite_option, resolve_device, seed_option, steps_option, subset_option)

EXIT_OK, EXIT_NONFINITE = 0, 1
NOT_SETTING = ("run", "data_dir", "device", "out", "overwrite")   # options that do not change the numbers
DIRECTIONS = ("random", "eigen")                                     # a seeded random one, or the top eigenvector
SCAN_NORMALIZATIONS = tuple(n for n in NORMALIZATIONS if n != "unit")  # 'unit' is the eigenvector's


@dataclasses.dataclass(kw_only=True)
class MeasureOptions:
    run: str | None = option(None, "run folder written by advland train", required=True, metavar="DIR")
    data_dir: str | None = data_dir_option("the run's, then $ADVLAND_DATA, then ~/.cache/advland/data")
    split: str = option("test", "split measured on", choices=SPLITS)
    subset: int | None = subset_option(500, "--split")
    seed: int = seed_option()
    eps: float | None = option(None, "attack budget (default: the run's; 0 = clean loss)", minimum=0, metavar="E")
    norm: str | None = option(None, "threat norm (default: the run's)", choices=NORMS)
    steps: int = steps_option(10, "the PGD")
    step_size: float | None = option(None, "PGD step (default 2.5 eps / steps)", minimum=0, metavar="A")
    restarts: int = option(1, "PGD restarts", minimum=1, metavar="R")
    bn_mode: str = bn_mode_option("the attack and of every forward pass of the measurement")
    params: str = option("all", "tensors the Hessian / directions cover (flatness always uses the "
                         "non-normalization layers)", choices=HESSIAN_PARAM_SETS)
    batch_size: int = batch_size_option(250)
    device: str = device_option()
    out: str | None = option(None, "JSON output (default: RUN/measure-KIND-KEY.json, KEY naming the setting: "
                                   "results of other settings are kept; the plot beside it, .png)", metavar="FILE")
    overwrite: bool = overwrite_option("replace --out (and its plot) even when it is not this setting's result")


def _include_option() -> dataclasses.Field:
    return option(None, "keep only the parameters whose name contains SUBSTRING", metavar="SUBSTRING")


@dataclasses.dataclass(kw_only=True)
class HessianOptions(MeasureOptions):
    """top Hessian eigenvalues on fixed adversarial examples"""
    k: int = option(1, "number of top eigenvalues", minimum=1, metavar="K")
    h: float = option(1e-6, "step of the float64 second-difference check", minimum=0, metavar="H")
    tol: float = option(1e-4, "Lanczos relative residual tolerance", minimum=0, metavar="TOL")
    max_iter: int | None = option(None, "Lanczos Krylov dimension (default 2k + 50)", minimum=1, metavar="N")
    bottom: int = option(0, "also the K smallest (algebraic) eigenvalues and |λ_min|/λ_max, as Stutz et al.",
                         minimum=0, metavar="K")
    trace_samples: int = option(0, "Hutchinson trace estimate from N Rademacher probes, with its standard error",
                                minimum=0, metavar="N")


@dataclasses.dataclass(kw_only=True)
class ScanOptions(MeasureOptions):
    """1-D/2-D loss scan along normalized directions"""
    include: str | None = _include_option()
    direction: str = option("random", "direction", choices=DIRECTIONS)
    normalization: str = option("filter", "normalization of a random direction", choices=SCAN_NORMALIZATIONS)
    dims: int = option(1, "scan dimensions", choices=(1, 2))
    range: tuple[float, float] = option((-1.0, 1.0), "scan interval of every axis", nargs=2, metavar=("LO", "HI"))
    points: int = option(21, "grid points per axis (odd: theta is on the grid)", minimum=1, metavar="N")
    frozen: bool = option(False, "adversarial examples computed once at theta")
    recalibrate_bn: bool = option(False, "re-estimate BN statistics at every point")


@dataclasses.dataclass(kw_only=True)
class FlatnessOptions(MeasureOptions):
    """Stutz et al. relative flatness"""
    kind: str = option("average", "average- or worst-case flatness", choices=("average", "worst"))
    xi: float | None = option(None, "ball radius (default 0.5 average, 0.00075 worst)", minimum=0, metavar="XI")
    ball: str = option("relative", "weight ball", choices=BALLS)
    samples: int = option(10, "random samples (average) or attempts (worst)", minimum=1, metavar="N")
    ascent_steps: int = option(20, "joint ascent iterations (worst)", minimum=1, metavar="N")
    lr: float = option(0.01, "relative weight step (worst)", minimum=0, metavar="LR")
    input_step: float | None = option(None, "signed input step of the joint ascent (worst; default Stutz's: 0.007 "
                                      "at eps 0.0314, scaled with eps)", minimum=0, metavar="A")


@dataclasses.dataclass(kw_only=True)
class CosineOptions(MeasureOptions):
    """Liu et al. cosine of delta(theta+av), delta(theta-av)"""
    include: str | None = _include_option()
    direction: str = option("eigen", "direction v", choices=DIRECTIONS)
    scales: list[float] = option([0.0, 0.01, 0.02, 0.05, 0.1], "the a >= 0", minimum=0, metavar="A")


KINDS = {"hessian": HessianOptions, "scan": ScanOptions, "flatness": FlatnessOptions, "cosine": CosineOptions}


def _check_options(kind: str, opts, eps: float, norm: str) -> None:
    """The combinations of options an instrument cannot use."""
    if getattr(opts, "include", None) is not None and opts.direction == "eigen":
        raise UsageError("--include applies to random directions only (the eigenvector covers --params)")
    if kind == "scan" and opts.direction == "eigen" and opts.dims == 2:
        raise UsageError("--dims 2 needs --direction random (there is one top eigenvector)")
    if kind == "cosine" and eps == 0:
        raise UsageError("the cosine measurement needs --eps > 0")
    if kind == "flatness" and opts.kind == "average" and opts.input_step is not None:
        raise UsageError("--input-step applies to --kind worst (the average case attacks with the PGD options)")
    if kind == "flatness" and opts.kind == "worst" and eps > 0 and norm != "linf":
        raise UsageError(f"worst-case flatness perturbs inputs in L-inf only (Stutz et al.); the threat here is "
                         f"{norm} (pass --norm linf with an L-inf budget --eps)")


def handle(args) -> int:
    """Run one measurement (``args.measure``); a NaN/inf result is reported with exit status 1."""
    try:
        return _run(args.measure, from_args(args, KINDS[args.measure]))
    except FloatingPointError as err:
        print(f"advland measure: error: {err}", file=sys.stderr)
        return EXIT_NONFINITE


def _threat(opts, config: dict) -> tuple[float, str]:
    """(eps, norm) of the measurement: the options', else the run's."""
    eps = float(config["eps"] if opts.eps is None else opts.eps)
    norm = opts.norm or config.get("norm", "linf")
    try:
        check_threat(eps, norm)
    except ValueError as err:   # the options are checked already: the run's config.json is broken
        raise UsageError(f"--run {opts.run}: {err}") from None
    return eps, norm


def _attack(args, eps: float, norm: str):
    """PGD at (eps, norm) with the options' steps, step and restarts; None for the clean loss (eps = 0)."""
    import functools

    from advland.empirical.attacks import pgd

    if eps == 0:
        return None
    return functools.partial(pgd, eps=eps, norm=norm, steps=args.steps, step_size=args.step_size,
                             restarts=args.restarts)


def _selected(model, args):
    from advland.empirical.core.params import select_params

    params = select_params(model, args.params)
    if args.include is not None:
        params = [(n, p) for n, p in params if args.include in n]
        if not params:
            names = ", ".join(n for n, _ in select_params(model, args.params))
            raise UsageError(f"--include {args.include!r} matches no parameter in set {args.params!r}; "
                             f"names are: {names}")
    return params


def _run(kind: str, opts) -> int:
    """Check every input, then measure, write the JSON and the plot, and say where."""
    from advland.console import say
    from advland.empirical.data import find_layout, load_tensors
    from advland.environment import environment
    from advland.io import write_json

    run = Path(opts.run)
    config = run_config(run)
    eps, norm = _threat(opts, config)
    _check_options(kind, opts, eps, norm)
    data_dir = opts.data_dir or config.get("data_dir")
    check_subset(opts.subset, config["dataset"], opts.split)
    find_layout(config["dataset"], opts.split, data_dir)
    setting = {k: v for k, v in dataclasses.asdict(opts).items() if k not in NOT_SETTING} | {"eps": eps, "norm": norm}
    record = outputs.result_record(f"measure {kind}", setting, run)
    path = Path(opts.out) if opts.out else run / outputs.result_name(f"measure-{kind}", setting)
    out = outputs.check_result_file(path, "--out", record, overwrite=opts.overwrite,
                                    companions=[path.with_suffix(".png")])
    device = resolve_device(opts.device)
    model, config = load_run(run, device)
    say(f"advland measure {kind}: {opts.subset or 'all'} {config['dataset']} {opts.split} examples of {run}, eps "
        f"{eps} {norm} ({device}); result to {out}", indent="    ")
    x, y = load_tensors(config["dataset"], opts.split, data_dir, subset=opts.subset, seed=opts.seed, device=device)
    attack = _attack(opts, eps, norm)
    result = {"run": str(run), "measure": kind, "split": opts.split, "n": int(len(x)),
              "eps": eps, "norm": norm, "attack": None if attack is None else
              {"name": "pgd", "steps": opts.steps, "step_size": opts.step_size, "restarts": opts.restarts},
              "bn_mode": opts.bn_mode, "seed": opts.seed, "environment": environment(opts.seed), **record}
    result.update(MEASURES[kind](model, x, y, attack, eps, opts))
    bad = _nonfinite_paths(result)
    result["nonfinite"] = bad
    write_json(out, result)
    _save_plot(out.with_suffix(".png"), kind, result)
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
    value, vec, info, _ = top_eigen_direction(model, x, y, params=args.params, bn_mode=args.bn_mode,
                                              batch_size=args.batch_size, seed=args.seed,
                                              **_hessian_inputs(model, x, y, attack, args))
    return vec, {"eigenvalue": value, **info}


def _converged(eigen) -> dict:
    return {} if eigen is None else {"converged": bool(eigen["result"]["converged"])}


def measure_scan(model, x, y, attack, eps, args) -> dict:
    import numpy as np

    from advland.empirical.landscape.scan import scan

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
    res = worst_flatness(model, x, y, xi=0.00075 if args.xi is None else args.xi, eps=eps,
                         input_step=args.input_step, steps=args.ascent_steps, attempts=args.samples, lr=args.lr,
                         ball=args.ball, bn_mode=args.bn_mode, seed=args.seed, batch_size=args.batch_size)
    # the inputs are optimized jointly with the weights, not by the PGD of the other measures
    res["attack"] = None if attack is None else {"name": "joint weight-input ascent", "norm": "linf",
                                                 "input_step": res["input_step"], "steps": args.ascent_steps}
    return res


def measure_cosine(model, x, y, attack, eps, args) -> dict:
    from advland.empirical.landscape.similarity import perturbation_cosine

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
        kind_of_loss, _, how = r["hessian"]["hessian"]["loss"].partition(" ")  # e.g. "adversarial (examples ...)"
        what = f"Hessian of the {kind_of_loss} loss {how}".rstrip()
    ax.set_title(f"{Path(r['run']).name}: {what}\n({r['split']} n={r['n']}, BN {r['bn_mode']})", fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))
