"""Accuracy and mean loss of a model on a fixed data set, clean and under an attack: the one evaluation loop.

For N examples ``(x_i, y_i)``, walked in consecutive batches (``core.batching``):

    clean_loss  = (1/N) sum_i CE(f(x_i), y_i)              clean_acc  = (1/N) sum_i [argmax f(x_i) = y_i]
    robust_loss = (1/N) sum_i CE(f(x_i + delta_i), y_i)    robust_acc = (1/N) sum_i correct_i

``delta`` is the attack's output on each batch, ``attack(model, x_b, y_b, generator=g)`` (for example
``functools.partial(empirical.attacks.attack, "pgd", eps=..., steps=...)``), with ONE generator consumed batch
after batch so that a seeded generator fixes the whole evaluation; or a ``delta`` computed beforehand (adversarial
examples frozen elsewhere). ``robust_outcome`` is the one place where an attack's output becomes per-example
correctness: for an ``attacks.AttackResult``, correct_i = the clean point and every iterate the attack evaluated
are classified correctly (AutoAttack's count), and the loss is taken at its highest-loss iterate delta_i; for a
bare delta (frozen perturbations, or an attack returning delta only), the prediction at ``x + delta`` is right.

Everything runs inside ``core.state.preserved(model, bn_mode)``: an explicit BatchNorm mode, and parameters,
buffers and train flags bit-exactly as they were afterwards. Logits below float32 (bf16/fp16 autocast) are cast
up to float32 for the loss; float64 models stay in float64.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .attacks import AttackResult
from .core.batching import check_batch_size, slices
from .core.state import preserved


def check_data(x, y) -> None:
    """x and y hold the same number N >= 1 of examples."""
    if len(x) == 0 or len(x) != len(y):
        raise ValueError(f"x and y must hold the same number N >= 1 of examples, got {len(x)} and {len(y)}")


def _full_precision(logits: torch.Tensor) -> torch.Tensor:
    return logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits


@torch.no_grad()
def outcome(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-example ``(CE(f(x_b), y_b), argmax f(x_b) == y_b)``."""
    logits = _full_precision(model(xb))
    return F.cross_entropy(logits, yb, reduction="none"), logits.argmax(1) == yb


def robust_outcome(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor, out,
                   clean_correct: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-example loss and correctness of the model under the attack's output ``out`` for this batch (module
    docstring). An ``AttackResult`` carries the logits at its delta and the any-iterate fooled mask, so it needs
    no forward pass beyond the clean one (``clean_correct`` when the caller has it)."""
    if not isinstance(out, AttackResult):
        return outcome(model, xb + out, yb)
    if clean_correct is None:
        clean_correct = outcome(model, xb, yb)[1]
    loss = F.cross_entropy(_full_precision(out.logits), yb, reduction="none")
    return loss, clean_correct & ~out.fooled


def evaluate(model: nn.Module, x, y, *, attack: Callable | None = None, delta: torch.Tensor | None = None,
             generator: torch.Generator | None = None, clean: bool = True, bn_mode: str = "eval",
             batch_size: int = 500, keep_delta: bool = False, progress: str | None = None) -> dict:
    """Clean and/or robust loss and accuracy of ``model`` on ``(x, y)`` (module docstring).

    ``attack`` (run on each batch with ``generator``) or ``delta`` (shaped like x) gives the robust metrics;
    ``clean`` adds the clean ones. Returns ``{'n', 'clean_loss', 'clean_acc', 'robust_loss', 'robust_acc'}``
    (the keys that apply), plus ``'delta'`` (all N perturbations) with ``keep_delta``. ``progress``: the label of
    a progress bar over the batches (None: no bar).
    """
    check_data(x, y)
    check_batch_size(batch_size)
    if attack is not None and delta is not None:
        raise ValueError("give an attack or precomputed perturbations delta, not both")
    if delta is not None and delta.shape != x.shape:
        raise ValueError(f"delta must have the shape of x {tuple(x.shape)}, got {tuple(delta.shape)}")
    robust = attack is not None or delta is not None
    if not (clean or robust):
        raise ValueError("nothing to evaluate: clean=False and neither an attack nor delta")
    if keep_delta and not robust:
        raise ValueError("keep_delta needs an attack or delta")
    n = len(x)
    kinds = [kind for kind, wanted in (("clean", clean), ("robust", robust)) if wanted]
    sums = {f"{kind}_{what}": 0.0 for kind in kinds for what in ("loss", "acc")}
    kept = []
    with preserved(model, bn_mode):
        for sl in tqdm(slices(n, batch_size), desc=progress, total=-(-n // batch_size), disable=progress is None):
            xb, yb = x[sl], y[sl]
            parts = []
            if clean:
                parts.append(("clean", outcome(model, xb, yb)))
            if robust:
                db = attack(model, xb, yb, generator=generator) if attack is not None else delta[sl]
                parts.append(("robust", robust_outcome(model, xb, yb, db, parts[0][1][1] if clean else None)))
                if keep_delta:
                    kept.append((db.delta if isinstance(db, AttackResult) else db).detach())
            for key, (loss, correct) in parts:
                sums[f"{key}_loss"] += float(loss.sum())
                sums[f"{key}_acc"] += int(correct.sum())
    out = {"n": n, **{key: value / n for key, value in sums.items()}}
    if keep_delta:
        out["delta"] = torch.cat(kept)
    return out


def loss_and_accuracy(model: nn.Module, x, y, *, attack: Callable | None = None, delta=None, generator=None,
                      bn_mode: str = "eval", batch_size: int = 500) -> tuple[float, float]:
    """``(mean CE, accuracy)`` of the landscape instruments: on ``x + delta`` with delta from ``attack``, the
    given ``delta``, or zero (the clean loss) when neither is given."""
    robust = attack is not None or delta is not None
    r = evaluate(model, x, y, attack=attack, delta=delta, generator=generator, clean=not robust, bn_mode=bn_mode,
                 batch_size=batch_size)
    key = "robust" if robust else "clean"
    return r[f"{key}_loss"], r[f"{key}_acc"]
