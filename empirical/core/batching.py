"""The one way to walk a data set in batches: consecutive slices covering every example exactly once."""
from __future__ import annotations

import torch


def check_batch_size(batch_size) -> int:
    """A batch size is a positive int (a bool is not)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    return batch_size


def batches(x: torch.Tensor, y: torch.Tensor, batch_size: int):
    """Consecutive batches ``(x_b, y_b, n_b / N)`` covering all N examples exactly once; the weights sum to 1,
    so ``sum_b w_b mean_b(f)`` is the mean of ``f`` over the whole set."""
    check_batch_size(batch_size)
    n = x.shape[0]
    for start in range(0, n, batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        yield xb, yb, xb.shape[0] / n
