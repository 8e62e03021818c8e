"""`advland train` and `advland eval` sub-commands (registered by proofs_check/cli.py).

No torch import at module level: handlers import what they need, so `advland list` stays fast.
"""
from __future__ import annotations

import argparse
import pathlib
import sys

from advland.empirical.train.schedules import EPS_SCHEDULES as SCHEDULES, LR_SCHEDULES  # no torch import there

# the choices of train.METHODS and attacks.NORMS, repeated so that building the parser imports no torch
# (tests/test_train_cli.py asserts they agree)
METHODS = ("clean", "at", "trades", "awp", "trades-awp")
NORMS = ("linf", "l2")
ATTACKS = ("pgd", "apgd-ce", "apgd-dlr")


def _nonneg_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0 (absolute input units), got {text!r}")
    return value


def _pos_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def register(subparsers) -> None:
    """Add `train` and `eval` to an argparse subparsers object; each sets func=handler(args) -> int."""
    p = subparsers.add_parser("train", help="adversarially train a model; writes checkpoint, config and metrics",
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", required=True, help="lenet, vgg, resnet18, preactresnet18, mlp or linear")
    p.add_argument("--dataset", required=True, help="mnist or cifar10")
    p.add_argument("--method", required=True, choices=METHODS)
    p.add_argument("--eps", required=True, type=_nonneg_float, help="target budget in absolute input units")
    p.add_argument("--norm", default="linf", choices=NORMS)
    p.add_argument("--schedule", default="const", choices=SCHEDULES, help="eps schedule (Liu et al. PAS)")
    p.add_argument("--eps-max", type=_nonneg_float, default=None,
                   help="over-shoot of cos/linear schedules (default 1.5x / 2x the target)")
    p.add_argument("--eps-update", default="epoch", choices=("epoch", "batch"))
    p.add_argument("--periods", type=int, nargs="+", default=None,
                   help="period boundaries, e.g. 0 100 150 200 (default: 0 EPOCHS)")
    p.add_argument("--epochs", type=_pos_int, default=10)
    p.add_argument("--lr", type=float, default=None, help="default 0.1 for sgd, 1e-4 for adam")
    p.add_argument("--lr-schedule", default="const", choices=LR_SCHEDULES, help="restarted in every period")
    p.add_argument("--optimizer", default="sgd", choices=("sgd", "adam"))
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=None, help="default 5e-4 for sgd, 0 for adam")
    p.add_argument("--batch-size", type=_pos_int, default=128)
    p.add_argument("--width", type=_pos_int, default=None)
    p.add_argument("--subset", type=_pos_int, default=None, help="class-balanced training subset size")
    p.add_argument("--eval-subset", type=_pos_int, default=1000, help="examples for the per-epoch metrics")
    p.add_argument("--attack-steps", type=_pos_int, default=10)
    p.add_argument("--attack-step-size", type=_nonneg_float, default=None, help="default 2.5 eps / steps")
    p.add_argument("--liu-mnist-attack", action="store_true",
                   help="PGD of Liu et al. on MNIST: step 0.01, eps/0.01 + 10 steps (overrides the two above)")
    p.add_argument("--eval-steps", type=_pos_int, default=20)
    p.add_argument("--beta", type=_nonneg_float, default=6.0, help="TRADES beta")
    p.add_argument("--awp-gamma", type=_nonneg_float, default=None, help="default 0.01 (awp), 5e-3 (trades-awp)")
    p.add_argument("--awp-warmup", type=int, default=None, help="default 0 (awp), 10 (trades-awp)")
    p.add_argument("--bn-attack", default="eval", choices=("eval", "train"), help="BatchNorm mode of the attack")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="random crop + flip (default: on for cifar10)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--data-dir", default=None)
    p.add_argument("--fast", action="store_true", help="bf16 autocast, channels_last, torch.compile on CUDA")
    p.add_argument("--out", required=True, help="run directory (resumed if it holds an unfinished run)")
    p.set_defaults(func=train_handler)

    e = subparsers.add_parser("eval", help="robust accuracy of a trained run; writes RUN/eval_<attack>.json",
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    e.add_argument("--run", required=True, help="run directory written by `advland train`")
    e.add_argument("--attack", default="pgd", choices=ATTACKS)
    e.add_argument("--steps", type=_pos_int, default=None, help="default 20 (pgd), 100 (apgd)")
    e.add_argument("--restarts", type=_pos_int, default=1, help="pgd restarts")
    e.add_argument("--eps", type=_nonneg_float, default=None, help="default: the training eps")
    e.add_argument("--subset", type=_pos_int, default=None, help="first n test images (default all)")
    e.add_argument("--batch-size", type=_pos_int, default=500)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    e.add_argument("--data-dir", default=None)
    e.set_defaults(func=eval_handler)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _check_names(model: str, dataset: str) -> str | None:
    from advland.empirical.data import DATASET_INFO
    from advland.empirical.models import MODEL_NAMES
    if model not in MODEL_NAMES:
        return f"unknown model {model!r}; allowed: {', '.join(MODEL_NAMES)}"
    if dataset not in DATASET_INFO:
        return f"unknown dataset {dataset!r}; allowed: {', '.join(DATASET_INFO)}"
    return None


def _device_ok(device: str) -> str | None:
    import torch
    if device == "cuda" and not torch.cuda.is_available():
        return "--device cuda requested but CUDA is not available"
    return None


def train_handler(args) -> int:
    problem = _check_names(args.model, args.dataset) or _device_ok(args.device)
    if problem:
        return _fail(problem)
    from advland.empirical.data import DATASET_INFO, DataError, resolve_data_dir
    from advland.empirical.models import build_model
    from advland.empirical.train.loop import TrainConfig, train

    info = DATASET_INFO[args.dataset]
    adam = args.optimizer == "adam"
    if args.liu_mnist_attack:
        from advland.empirical.train.schedules import liu_mnist_attack
        args.attack_steps, args.attack_step_size = liu_mnist_attack(args.eps)
    cfg = TrainConfig(
        model=args.model, dataset=args.dataset, method=args.method, eps=args.eps, norm=args.norm,
        schedule=args.schedule, eps_max=args.eps_max, eps_update=args.eps_update, periods=args.periods,
        epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer,
        lr=args.lr if args.lr is not None else (1e-4 if adam else 0.1), lr_schedule=args.lr_schedule,
        momentum=args.momentum,
        weight_decay=args.weight_decay if args.weight_decay is not None else (0.0 if adam else 5e-4),
        width=args.width, num_classes=info["num_classes"], in_channels=info["channels"], subset=args.subset,
        eval_subset=args.eval_subset, attack_steps=args.attack_steps, attack_step_size=args.attack_step_size,
        eval_steps=args.eval_steps, beta=args.beta, awp_gamma=args.awp_gamma, awp_warmup=args.awp_warmup,
        bn_attack=args.bn_attack, augment=args.augment, seed=args.seed, device=args.device, fast=args.fast,
        data_dir=str(resolve_data_dir(args.data_dir)))
    try:
        cfg = cfg.resolved()
        build_model(cfg.model, width=cfg.width, num_classes=cfg.num_classes, in_channels=cfg.in_channels)
        doc = train(cfg, args.out, progress=sys.stderr.isatty())
    except (ValueError, DataError, FileNotFoundError) as err:
        return _fail(str(err))
    last = doc["history"][-1] if doc["history"] else {}
    print(f"{args.out}: status {doc['status']}, {doc['epochs_done']}/{doc['epochs']} epochs"
          + (f", test clean acc {last['test_clean_acc']:.4f}, robust acc {last['test_robust_acc']:.4f}"
             if last else ""))
    return 0 if doc["status"] == "completed" else 1


def evaluate_run(model, x, y, *, attack: str, eps: float, norm: str, steps: int, restarts: int,
                 batch_size: int, seed: int, progress: bool = False) -> dict:
    """Clean and robust accuracy of model (eval mode) on (x, y) under one attack, batch by batch."""
    import torch
    from tqdm import tqdm

    from advland.empirical.attacks import run_attack

    gen = torch.Generator(device=x.device).manual_seed(seed)
    kw = {"eps": eps, "norm": norm, "steps": steps, "generator": gen}
    if attack == "pgd":
        kw["restarts"] = restarts
    clean = robust = 0
    for i in tqdm(range(0, len(y), batch_size), desc=attack, disable=not progress):
        xb, yb = x[i:i + batch_size], y[i:i + batch_size]
        delta = run_attack(attack, model, xb, yb, **kw)
        with torch.no_grad():
            clean += int((model(xb).argmax(1) == yb).sum())
            robust += int((model(xb + delta).argmax(1) == yb).sum())
    return {"n": int(len(y)), "clean_acc": clean / len(y), "robust_acc": robust / len(y)}


def eval_handler(args) -> int:
    problem = _device_ok(args.device)
    if problem:
        return _fail(problem)
    from advland.empirical.train.checkpoint import load_run
    from advland.io import write_json
    from advland.empirical.data import DataError, load_tensors

    try:
        model, config = load_run(args.run, device=args.device)
        eps = config["eps"] if args.eps is None else args.eps
        steps = args.steps or (20 if args.attack == "pgd" else 100)
        x, y = load_tensors(config["dataset"], "test", args.data_dir or config.get("data_dir"),
                            device=args.device)
        if args.subset is not None:
            x, y = x[:args.subset], y[:args.subset]
        result = evaluate_run(model, x, y, attack=args.attack, eps=eps, norm=config["norm"], steps=steps,
                              restarts=args.restarts, batch_size=args.batch_size, seed=args.seed,
                              progress=sys.stderr.isatty())
    except (ValueError, DataError, FileNotFoundError) as err:
        return _fail(str(err))
    from advland.environment import environment

    result.update({"attack": args.attack, "eps": eps, "norm": config["norm"], "steps": steps,
                   "restarts": args.restarts if args.attack == "pgd" else 1, "seed": args.seed,
                   "environment": environment(args.seed)})
    out = pathlib.Path(args.run) / f"eval_{args.attack}.json"
    write_json(out, result)
    print(f"{out}: clean acc {result['clean_acc']:.4f}, robust acc {result['robust_acc']:.4f} "
          f"({args.attack}, eps {eps}, {steps} steps, n={result['n']})")
    return 0
