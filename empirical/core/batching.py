"""The one way to walk a data set in batches: consecutive slices covering every example exactly once, in data
order (evaluation, measurement) or in the order of one random permutation (a training epoch)."""
from __future__ import annotations

import torch


def check_batch_size(batch_size) -> int:
    """A batch size is a positive int (a bool is not)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    return batch_size


def slices(n: int, batch_size: int):
    """Consecutive slices ``[0, b), [b, 2b), ...`` of ``range(n)``; the last one holds the remainder."""
    check_batch_size(batch_size)
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def batches(x: torch.Tensor, y: torch.Tensor, batch_size: int):
    """Consecutive batches ``(x_b, y_b, n_b / N)`` covering all N examples exactly once; the weights sum to 1,
    so ``sum_b w_b mean_b(f)`` is the mean of ``f`` over the whole set."""
    n = x.shape[0]
    for sl in slices(n, batch_size):
        xb, yb = x[sl], y[sl]
        yield xb, yb, xb.shape[0] / n


def shuffled_index_batches(n: int, batch_size: int, generator: torch.Generator):
    """Index tensors of one epoch: ``perm = torch.randperm(n)`` drawn from ``generator`` (on its device), cut
    into consecutive batches; every index appears exactly once."""
    check_batch_size(batch_size)
    perm = torch.randperm(n, generator=generator, device=generator.device)
    for sl in slices(n, batch_size):
        yield perm[sl]
