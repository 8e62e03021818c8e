"""Claims of Liu, Salzmann, Lin, Tomioka, Süsstrunk (NeurIPS 2020), "On the Loss Landscape of Adversarial
Training: Identifying Challenges and How to Overcome Them". Statements as written on the authors' slides.
"""
from __future__ import annotations

from .model import Check, Context, Outcome, Quantity, Verdict
from .registry import claim
from .search import search_counterexample

# ---- section: version space and bad directions (owner: helper A) ----

# ---- end section A ----

# ---- section: smoothness and convergence (owner: helper B) ----

# ---- end section B ----
