"""The names the empirical engine accepts (models, datasets and their shapes, norms, attacks, BatchNorm modes,
direction normalizations, parameter sets, flatness balls) and the threat-model check, without torch.

Each engine module imports its names from here, so the command line (``advland.cli``) builds its choices from
the same tuples without importing torch.
"""
from __future__ import annotations

import math

MODEL_NAMES = ("lenet", "vgg", "resnet18", "preactresnet18", "mlp", "linear")
DATASET_INFO = {
    "mnist": {"channels": 1, "size": 28, "num_classes": 10, "split_sizes": {"train": 60000, "test": 10000}},
    "cifar10": {"channels": 3, "size": 32, "num_classes": 10, "split_sizes": {"train": 50000, "test": 10000}},
}
SPLITS = ("train", "test")
NORMS = ("linf", "l2")
ATTACK_NAMES = ("fgsm", "fgsm-rs", "pgd", "apgd-ce", "apgd-dlr")
ATTACK_ITERATES = ("best", "last")   # the perturbation PGD returns: its highest-loss or its last iterate
BN_MODES = ("eval", "train")
NORMALIZATIONS = ("filter", "filter-all", "layer", "unit")   # of a direction in weight space
PARAM_SETS = ("all", "weights", "no-norm")                   # tensors a direction covers
HESSIAN_PARAM_SETS = ("all", "weights")                      # tensors a Hessian covers
BALLS = ("relative", "absolute")                             # weight ball of the flatness measures


def check_threat(eps: float, norm: str) -> None:
    """Validate a threat model: eps >= 0 (finite) and norm in NORMS."""
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    if not isinstance(eps, (int, float)) or not math.isfinite(eps) or eps < 0:
        raise ValueError(f"eps must be a finite number >= 0 (absolute input units), got {eps!r}")
