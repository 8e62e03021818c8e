"""Adversarial training: clean, PGD-AT (Madry), TRADES (Zhang 2019), AT-AWP and TRADES-AWP (Wu 2020),
with Liu et al. (2020) eps schedules, one function for the fp32 reference path and the fast path.

Per batch (time t = epoch + i / batches, eps(t) per epoch by default, per batch on request):

* ``clean``: minimise CE(f(x), y).
* ``at``:    delta = PGD(x) at eps(t) with the step rescaled to eps(t)/eps; minimise CE(f(x + delta), y).
* ``trades``: x' = argmax KL(p(x) || p(x')) by signed steps from x + 0.001 N(0, 1) (eval-mode BN by default);
  minimise CE(f(x), y) + beta * KL_batchmean(p(x) || p(x')).
* ``awp`` / ``trades-awp``: the same inner maximisation, then (from epoch ``awp_warmup`` on) the AWP step of
  ``empirical.awp`` (proxy, one ascent step, ||v_l|| = gamma ||w_l||); the update is computed at w + v and
  applied to w.

Per-epoch metrics (clean and PGD-``eval_steps`` robust accuracy/loss at the *target* eps on fixed train and test
subsets, full-batch gradient norms, weight norms, dead ReLU fractions; the groups of ``cfg.epoch_metrics``) go to
metrics.json, with the training loss of each of the first ``cfg.batch_loss_limit`` batches of the run (the
record's ``batch_losses``: the loss on the batch before its update, at w + v for AWP).
The attack runs with BatchNorm in ``bn_attack`` mode inside ``state.preserved`` (so BN statistics are not
updated by the attack) unless ``attack_bn_stats`` is 'keep'; it trains on the ``attack_iterate`` iterate and PGD
starts as ``random_start`` says (``train.protocols``: ours or an official code's); the outer step runs in train
mode. After every epoch the run directory receives an
atomic checkpoint and metrics.json; a run restarted on the same directory resumes at the next epoch and gives
the same result as an uninterrupted run. A non-finite (or > max_loss) training loss ends the run with status
'diverged'.

``fast=True``: bf16 autocast, channels_last, data resident on the device, and torch.compile on CUDA. On the CPU
the convolution kernels are in channels_last layout on either path (``core.state.to_cpu_channels_last``: the same
values, oneDNN's fast kernels).

Random streams (``advland.seeding``, master seed ``cfg.seed``): ``"train/init"`` seeds torch's global generator
when ``train`` builds the model; ``"train/shuffle"`` (CPU) orders every epoch; ``"train/batch"`` (on the
device) draws the attack starts, the TRADES start noise and the augmentations; ``"train/subset/eval-train"``,
``".../eval-test"`` and ``".../grad"`` fix the metric subsets; ``"train/epoch-{e}/eval-train"``,
``".../eval-test"`` and ``".../grad-norm"`` drive the attacks of epoch e's metrics. The states of the shuffle and
batch generators are in the checkpoint, so a resumed run draws what the uninterrupted one drew.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import math
import pathlib
import time

import torch
import torch.nn.functional as F
from tqdm import tqdm

from advland.seeding import stream_seed, torch_generator

from . import checkpoint as ckpt
from .. import attacks
from ..attacks import pgd, uniform_start
from ..core.batching import shuffled_index_batches
from ..evaluate import evaluate
from .awp import apply_perturbation, awp_direction
from advland.environment import environment
from advland.io import write_json
from .metrics import dead_relu_fraction, full_batch_grad_norm, weight_norms
from .config import AWP_DEFAULTS, TrainConfig, config_differences
from .schedules import eps_at, lr_at
from ..core.state import preserved, to_cpu_channels_last


INIT_STREAM, SHUFFLE_STREAM, BATCH_STREAM = "train/init", "train/shuffle", "train/batch"


def trades_kl(logits_adv: torch.Tensor, p_clean: torch.Tensor) -> torch.Tensor:
    """Per-example KL(p_clean || softmax(logits_adv)) = sum_k p_k (log p_k - log q_k)."""
    logq = F.log_softmax(logits_adv.float(), dim=1)
    return (p_clean * (torch.log(p_clean.clamp_min(1e-30)) - logq)).sum(dim=1)


class TrainRun:
    """Model, forward module, optimizer, proxy and generators of one run (the state a checkpoint holds)."""

    def __init__(self, cfg: TrainConfig, model: torch.nn.Module):
        self.cfg = cfg
        self.device = torch.device(cfg.device)
        self.fast = cfg.fast
        self.base = model.to(self.device)
        if self.fast:
            self.base = self.base.to(memory_format=torch.channels_last)
        elif self.device.type == "cpu":
            to_cpu_channels_last(self.base)
        use_compile = self.fast and self.device.type == "cuda" and hasattr(torch, "compile")
        self.fwd = torch.compile(self.base) if use_compile else self.base
        params = self.base.parameters()
        if cfg.optimizer == "sgd":
            self.opt = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        else:
            self.opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.proxy = copy.deepcopy(self.base) if cfg.method in AWP_DEFAULTS else None
        self.gen_cpu = torch_generator(cfg.seed, SHUFFLE_STREAM)
        self.gen = torch_generator(cfg.seed, BATCH_STREAM, self.device)

    def autocast(self):
        if not self.fast:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        return x.contiguous(memory_format=torch.channels_last) if self.fast and x.dim() == 4 else x

    def state(self, epoch: int, history: list) -> dict:
        return {"model": self.base.state_dict(), "optimizer": self.opt.state_dict(), "epoch": epoch,
                "history": history, "rng": {"cpu": self.gen_cpu.get_state(), "device": self.gen.get_state()}}

    def load(self, state: dict) -> None:
        self.base.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.gen_cpu.set_state(state["rng"]["cpu"])
        self.gen.set_state(state["rng"]["device"].cpu())


def attack_state(run: TrainRun):
    """The model state of the training attack: BatchNorm in ``cfg.bn_attack`` mode inside ``state.preserved``
    (buffers restored afterwards), or with ``attack_bn_stats='keep'`` train mode, the running statistics updated
    by the attack's forward passes left in place (AWP's ``AT_AWP/train_cifar10.py``; ``train.protocols``)."""
    if run.cfg.attack_bn_stats == "keep":
        run.base.train()
        return contextlib.nullcontext()
    return preserved(run.base, run.cfg.bn_attack)


def inner_maximization(run: TrainRun, xb, yb, eps_t: float) -> torch.Tensor:
    """Inner maximisation of the batch (x_adv) in ``attack_state``, returning the ``cfg.attack_iterate`` iterate;
    PGD starts as ``cfg.random_start`` says (uniform in the eps-ball, or in +-step then projected)."""
    cfg = run.cfg
    if cfg.method == "clean" or eps_t == 0:
        return xb
    alpha = cfg.attack_step_size * eps_t / cfg.eps
    # The last iterate needs no scoring unless that forward pass moves BatchNorm statistics the attack keeps.
    scored = cfg.attack_iterate == "best" or cfg.attack_bn_stats == "keep"
    with attack_state(run):
        if cfg.method in ("at", "awp"):
            init = uniform_start(xb, alpha, eps_t, cfg.norm, run.gen) if cfg.random_start == "step" else None
            delta = pgd(run.fwd, xb, yb, eps=eps_t, norm=cfg.norm, steps=cfg.attack_steps, step_size=alpha,
                        generator=run.gen, init=init, iterate=cfg.attack_iterate, evaluate_last=scored)
        else:
            with torch.no_grad():
                p_clean = F.softmax(run.fwd(xb).float(), dim=1)
            init = 0.001 * torch.randn(xb.shape, generator=run.gen, device=run.gen.device).to(xb)
            delta = pgd(run.fwd, xb, p_clean, eps=eps_t, norm=cfg.norm, steps=cfg.attack_steps,
                        step_size=alpha, loss=trades_kl, init=init, iterate=cfg.attack_iterate, evaluate_last=scored)
    return xb + delta


def outer_loss(cfg: TrainConfig, module, xb, yb, x_adv) -> torch.Tensor:
    """CE(f(x_adv), y) for clean/AT/AWP; CE(f(x), y) + beta KL_batchmean(p(x) || p(x_adv)) for TRADES."""
    if cfg.method not in ("trades", "trades-awp"):
        return F.cross_entropy(module(x_adv).float(), yb)
    logits = module(xb).float()
    p = F.softmax(logits, dim=1)
    return F.cross_entropy(logits, yb) + cfg.beta * trades_kl(module(x_adv), p).mean()


def awp_perturbation(run: TrainRun, xb, yb, x_adv) -> dict:
    """The AWP perturbation v of this batch: one normalized ascent step of the outer loss (the loss the
    model is trained on) at (w, x_adv), so that L(w + v) > L(w) to first order (Wu et al. 2020, eq. 9)."""
    return awp_direction(run.base, run.proxy, lambda m: outer_loss(run.cfg, m, xb, yb, x_adv), run.cfg.awp_gamma)


def train_step(run: TrainRun, xb, yb, *, epoch: int, eps_t: float) -> float:
    """One optimisation step on a batch; returns the training loss (at w + v for AWP)."""
    cfg = run.cfg
    with run.autocast():
        x_adv = inner_maximization(run, xb, yb, eps_t)
        run.base.train()
        v = None
        if run.proxy is not None and epoch >= cfg.awp_warmup:
            v = awp_perturbation(run, xb, yb, x_adv)
            apply_perturbation(run.base, v, +1.0)
        loss = outer_loss(cfg, run.fwd, xb, yb, x_adv)
    value = float(loss.detach())
    if math.isfinite(value) and value <= cfg.max_loss:
        run.opt.zero_grad(set_to_none=True)
        loss.backward()
        run.opt.step()
    if v is not None:
        apply_perturbation(run.base, v, -1.0)
    return value


def load_data(cfg: TrainConfig):
    """(x_train, y_train, x_test, y_test) of the run: the class-balanced ``subset`` of the training split (drawn
    with ``cfg.seed``) and the whole test split (``empirical.data``)."""
    from ..data import load_tensors
    x_tr, y_tr = load_tensors(cfg.dataset, "train", cfg.data_dir, subset=cfg.subset, seed=cfg.seed)
    x_te, y_te = load_tensors(cfg.dataset, "test", cfg.data_dir)
    return x_tr, y_tr, x_te, y_te


def _build_model(cfg: TrainConfig):
    from ..models import build_model
    return build_model(cfg.model, width=cfg.width, num_classes=cfg.num_classes, in_channels=cfg.in_channels)


def initial_model(cfg: TrainConfig):
    """The freshly initialised model of the run: ``empirical.models.build_model`` with torch's global generator
    seeded from the stream ``"train/init"``."""
    torch.manual_seed(stream_seed(cfg.seed, INIT_STREAM))
    return _build_model(cfg)


def _fixed_subset(n_total: int, n: int, seed: int, name: str) -> torch.Tensor:
    return torch.randperm(n_total, generator=torch_generator(seed, f"train/subset/{name}"))[:n].sort().values


def epoch_metrics(run: TrainRun, epoch: int, train_eval, test_eval, grad_set) -> dict:
    """The per-epoch metrics of the module docstring, the groups of ``cfg.epoch_metrics``: clean and
    PGD-``eval_steps`` robust loss/accuracy at the target eps on ``train_eval`` and ``test_eval``
    (``empirical.evaluate``, eval-mode BN), full-batch gradient norms on ``grad_set``, dead ReLU fractions (on
    ``test_eval``) and weight norms. The model is left bit-exactly as it was."""
    cfg = run.cfg
    groups = set(cfg.epoch_metrics)
    stream = f"train/epoch-{epoch}"
    eval_attack = functools.partial(attacks.attack, "pgd", eps=cfg.eps, norm=cfg.norm, steps=cfg.eval_steps)
    m = {}
    with run.autocast():
        for split, (x, y) in (("train", train_eval), ("test", test_eval)):
            if f"eval-{split}" not in groups:
                continue
            r = evaluate(run.fwd, run.inputs(x), y.to(run.device), attack=eval_attack, batch_size=cfg.batch_size,
                         generator=torch_generator(cfg.seed, f"{stream}/eval-{split}", run.device))
            m.update({f"{split}_{k}": r[k] for k in ("clean_acc", "clean_loss", "robust_acc", "robust_loss")})
    xg, yg = run.inputs(grad_set[0]), grad_set[1].to(run.device)
    attack = {"norm": cfg.norm, "steps": cfg.attack_steps, "step_size": cfg.attack_step_size,
              "generator": torch_generator(cfg.seed, f"{stream}/grad-norm", run.device)}
    with run.autocast():
        if "grad" in groups:
            m["grad_norm_clean"] = full_batch_grad_norm(run.fwd, xg, yg, batch_size=cfg.batch_size)
            m["grad_norm_robust"] = (full_batch_grad_norm(run.fwd, xg, yg, eps=cfg.eps, attack=attack,
                                                          batch_size=cfg.batch_size) if cfg.eps > 0
                                     else m["grad_norm_clean"])
        if "dead-relu" in groups:
            m["dead_relu"] = dead_relu_fraction(run.base, run.inputs(test_eval[0]), batch_size=cfg.batch_size)
    if "weight-norms" in groups:
        m["weight_norms"] = weight_norms(run.base)
    return m


def _metrics_doc(cfg, status, history, **extra) -> dict:
    return {"status": status, "epochs_done": len(history), "epochs": cfg.epochs, "history": history, **extra}


def _record_environment(out: pathlib.Path, seed: int) -> None:
    """Append this process's environment (versions, device, git commit, command line) to
    RUN/environment.json, so a resumed run keeps the record of every process that trained it."""
    path = out / "environment.json"
    previous = ckpt.read_json(path)["invocations"] if path.is_file() else []
    write_json(path, {"invocations": [*previous, environment(seed)]})


def train(cfg: TrainConfig, out_dir, *, data=None, model=None, stop_after: int | None = None,
          progress: bool = False, on_epoch=None) -> dict:
    """Train (or resume) the run of ``cfg`` in ``out_dir``; returns the metrics.json document.

    ``data``: optional (x_train, y_train, x_test, y_test) float tensors in [0,1] (default: empirical.data);
    ``model``: optional freshly initialised module (default: empirical.models.build_model, seeded by cfg.seed);
    ``stop_after``: finish at most this many epochs in this call (a time-sliced job; rerun to resume);
    ``progress``: progress bars; ``on_epoch(record)``: called with each finished epoch's metrics, once saved."""
    cfg = cfg.resolved()
    out = pathlib.Path(out_dir)
    config = dataclasses.asdict(cfg)
    if (out / ckpt.CONFIG).is_file():
        old = ckpt.read_json(out / ckpt.CONFIG)
        diff = config_differences(old, config)
        if diff:
            raise ValueError(f"{out} holds a run with a different configuration (fields {diff}); "
                             "use another --out directory")
        if (out / ckpt.METRICS).is_file():
            doc = ckpt.read_json(out / ckpt.METRICS)
            if doc.get("status") in ("completed", "diverged"):
                return doc
    _record_environment(out, cfg.seed)
    x_tr, y_tr, x_te, y_te = data if data is not None else load_data(cfg)
    run = TrainRun(cfg, model if model is not None else initial_model(cfg))
    history, start = [], 0
    if (out / ckpt.CHECKPOINT).is_file():
        state = ckpt.load_checkpoint(out / ckpt.CHECKPOINT)
        run.load(state)
        history, start = list(state["history"]), int(state["epoch"]) + 1
    else:
        write_json(out / ckpt.CONFIG, config)
    if cfg.fast:
        x_tr = run.inputs(x_tr)
        y_tr = y_tr.to(run.device)
    ev_tr = _fixed_subset(len(y_tr), cfg.eval_subset, cfg.seed, "eval-train")
    ev_te = _fixed_subset(len(y_te), cfg.eval_subset, cfg.seed, "eval-test")
    g_ix = _fixed_subset(len(y_tr), cfg.grad_subset, cfg.seed, "grad")
    ev_tr, g_ix = ev_tr.to(x_tr.device), g_ix.to(x_tr.device)
    train_eval, test_eval = (x_tr[ev_tr], y_tr[ev_tr]), (x_te[ev_te], y_te[ev_te])
    grad_set = (x_tr[g_ix], y_tr[g_ix])
    n, bs = len(y_tr), cfg.batch_size
    nb = math.ceil(n / bs)
    end = cfg.epochs if stop_after is None else min(cfg.epochs, start + stop_after)
    status = "completed" if start == cfg.epochs else "running"
    for epoch in tqdm(range(start, end), desc="epochs", initial=start, total=cfg.epochs, disable=not progress):
        t0 = time.perf_counter()
        losses = []
        for i, idx in tqdm(enumerate(shuffled_index_batches(n, bs, run.gen_cpu)), desc=f"epoch {epoch}", total=nb,
                           leave=False, disable=not progress):
            t = epoch + (i + 1) / nb
            for group in run.opt.param_groups:
                group["lr"] = lr_at(t, kind=cfg.lr_schedule, base=cfg.lr, periods=cfg.periods)
            eps_t = eps_at(t if cfg.eps_update == "batch" else epoch, kind=cfg.schedule, target=cfg.eps,
                           periods=cfg.periods, eps_max=cfg.eps_max)
            idx = idx.to(x_tr.device)
            xb, yb = run.inputs(x_tr[idx]), y_tr[idx].to(run.device)
            if cfg.augment:
                from ..data import random_crop_flip
                xb = run.inputs(random_crop_flip(xb, run.gen))
            losses.append(train_step(run, xb, yb, epoch=epoch, eps_t=eps_t))
            if not (math.isfinite(losses[-1]) and losses[-1] <= cfg.max_loss):
                status = "diverged"
                doc = _metrics_doc(cfg, status, history,
                                   diverged_at={"epoch": epoch, "batch": i, "loss": repr(losses[-1])})
                write_json(out / ckpt.METRICS, doc)
                return doc
        record = {"epoch": epoch, "eps": eps_t, "lr": run.opt.param_groups[0]["lr"],
                  "train_loss_running": sum(losses) / len(losses)}
        recorded = sum(len(r.get("batch_losses", ())) for r in history)
        if recorded < cfg.batch_loss_limit:
            record["batch_losses"] = losses[:cfg.batch_loss_limit - recorded]
        record.update(epoch_metrics(run, epoch, train_eval, test_eval, grad_set))
        record["time_s"] = time.perf_counter() - t0
        history.append(record)
        ckpt.save_checkpoint(out / ckpt.CHECKPOINT, run.state(epoch, history))
        status = "completed" if epoch + 1 == cfg.epochs else "running"
        write_json(out / ckpt.METRICS, _metrics_doc(cfg, status, history))
        if on_epoch is not None:
            on_epoch(record)
    return _metrics_doc(cfg, status, history)
