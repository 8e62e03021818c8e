"""Named random streams: every random draw of the suite comes from ``(seed, name)``.

A stream is identified by the master seed and a name (``"attack/epoch-3/test"``, ``"liu2020.smoothness/search"``),
never by arithmetic on the seed (``seed + 1``, ``seed + 7919 k``), so two streams never collide by accident, adding
a stream never shifts another, and the same seed gives the same draws whatever else runs beside them. numpy's
``SeedSequence`` takes the entropy ``[seed, *utf8(name)]``; integer seeds for torch and hypothesis are drawn from
that stream.
"""
from __future__ import annotations

import numpy as np


def numpy_rng(seed: int, name: str) -> np.random.Generator:
    """A numpy generator for the stream ``(seed, name)``."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if not isinstance(name, str) or not name:
        raise ValueError(f"a random stream needs a non-empty name, got {name!r}")
    return np.random.default_rng([int(seed), *name.encode()])


def stream_seed(seed: int, name: str, bits: int = 63) -> int:
    """An integer in ``[0, 2**bits - 1)`` determined by ``(seed, name)`` (a torch or hypothesis seed)."""
    return int(numpy_rng(seed, name).integers(0, 2**bits - 1))


def torch_generator(seed: int, name: str, device="cpu"):
    """A torch generator on ``device`` for the stream ``(seed, name)`` (torch imported only here)."""
    import torch

    return torch.Generator(device=device).manual_seed(stream_seed(seed, name))
