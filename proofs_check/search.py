"""Counterexample search for inequality claims, with hypothesis.

An inequality ``lhs(x) <= rhs(x)`` is written as a *slack* function ``slack(x) = rhs(x) - lhs(x)``;
a counterexample is an ``x`` with ``slack(x) < -tolerance`` (a NaN slack counts as one: a value that
cannot be computed never confirms a claim). The search is seeded, bounded in the number of examples,
keeps no example database, and hypothesis shrinks what it finds to a minimal reproducible example.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Callable

import hypothesis
from hypothesis import HealthCheck, settings
from hypothesis.errors import NoSuchExample, Unsatisfiable

from .model import Check, Quantity, Verdict, to_jsonable


@dataclass(frozen=True)
class SearchResult:
    """Outcome of a bounded search: the smallest slack seen and, if any, a shrunk counterexample."""

    n_examples: int
    min_slack: float
    tolerance: float
    seed: int
    counterexample: Any = None
    counterexample_slack: float | None = None

    @property
    def found(self) -> bool:
        return self.counterexample is not None

    def to_check(self, name: str, *, note: str = "") -> Check:
        """Refuted with the counterexample if one was found, confirmed otherwise."""
        evidence = [
            Quantity("examples searched", self.n_examples),
            Quantity("smallest slack (rhs - lhs) seen", self.min_slack, bound=0.0, relation=">=",
                     tolerance=self.tolerance),
        ]
        if not self.found:
            return Check(name, Verdict.CONFIRMED, evidence, note=note)
        ce = {"seed": self.seed, "slack": self.counterexample_slack,
              "example": to_jsonable(self.counterexample)}
        return Check(name, Verdict.REFUTED, evidence, ce, note)


def search_counterexample(strategy, slack: Callable[[Any], float], *, seed: int, max_examples: int = 200,
                          tolerance: float = 0.0) -> SearchResult:
    """Look for ``x ~ strategy`` with ``slack(x) < -tolerance``; deterministic for a given seed."""
    seen = {"n": 0, "min": math.inf}

    def violates(x) -> bool:
        s = float(slack(x))
        seen["n"] += 1
        if math.isnan(s):
            seen["min"] = math.nan
            return True
        if not math.isnan(seen["min"]):
            seen["min"] = min(seen["min"], s)
        return s < -tolerance

    cfg = settings(max_examples=max_examples, database=None, deadline=None,
                   suppress_health_check=list(HealthCheck), print_blob=False)
    try:
        example = hypothesis.find(strategy, violates, settings=cfg, random=random.Random(seed))
    except (NoSuchExample, Unsatisfiable):
        return SearchResult(seen["n"], seen["min"], tolerance, seed)
    return SearchResult(seen["n"], seen["min"], tolerance, seed, example, float(slack(example)))
