"""Counterexample search for inequality claims, with hypothesis.

An inequality ``lhs(x) <= rhs(x)`` is written as a *slack* function ``slack(x) = rhs(x) - lhs(x)``;
a counterexample is an ``x`` with ``slack(x) < -tolerance`` (a NaN slack counts as one: a value that
cannot be computed never confirms a claim). A slack of ``None`` marks a *vacuous* example, one that does
not meet the statement's hypothesis (e.g. a W outside the version space for a property of its members):
it can neither refute nor support the claim, so it is counted apart, and a search that saw fewer than
``min_cases`` non-vacuous examples is inconclusive rather than confirmed. The search is seeded, bounded
in the number of examples, keeps no example database, and hypothesis shrinks what it finds to a minimal
reproducible example.
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
    n_vacuous: int
    min_slack: float
    tolerance: float
    seed: int
    counterexample: Any = None
    counterexample_slack: float | None = None

    @property
    def found(self) -> bool:
        return self.counterexample is not None

    def as_dict(self) -> dict:
        """The result as JSON values (what a unit returns); ``from_dict`` reads it back."""
        return to_jsonable({"n_examples": self.n_examples, "n_vacuous": self.n_vacuous, "min_slack": self.min_slack,
                            "tolerance": self.tolerance, "seed": self.seed, "counterexample": self.counterexample,
                            "counterexample_slack": self.counterexample_slack})

    @classmethod
    def from_dict(cls, d) -> "SearchResult":
        """The inverse of ``as_dict`` (non-finite numbers come back from their JSON strings)."""
        slack = d["counterexample_slack"]
        return cls(int(d["n_examples"]), int(d["n_vacuous"]), float(d["min_slack"]), float(d["tolerance"]),
                   int(d["seed"]), d["counterexample"], None if slack is None else float(slack))

    def to_check(self, name: str, *, key: str = "", note: str = "", min_cases: int = 10) -> Check:
        """Refuted with the counterexample if one was found; otherwise confirmed when at least ``min_cases``
        examples met the hypothesis, inconclusive when fewer did. ``key``: the check's key (default: from name)."""
        cases = Quantity("examples meeting the hypothesis", self.n_examples - self.n_vacuous, bound=min_cases,
                         relation=">=", note=f"{self.n_vacuous} vacuous of {self.n_examples} searched")
        evidence = [cases]
        if math.isfinite(self.min_slack) or math.isnan(self.min_slack):
            evidence.append(Quantity("smallest slack (rhs - lhs) seen", self.min_slack, bound=0.0, relation=">=",
                                     tolerance=self.tolerance))
        if self.found:
            ce = {"seed": self.seed, "slack": self.counterexample_slack,
                  "example": to_jsonable(self.counterexample)}
            return Check(name, Verdict.REFUTED, evidence, ce, note, key=key)
        if not cases.holds:
            why = f"only {cases.value} examples met the hypothesis (need {min_cases})"
            return Check(name, Verdict.INCONCLUSIVE, evidence, note=f"{note}; {why}" if note else why, key=key)
        return Check(name, Verdict.CONFIRMED, evidence, note=note, key=key)


def search_counterexample(strategy, slack: Callable[[Any], float | None], *, seed: int, max_examples: int = 200,
                          tolerance: float = 0.0) -> SearchResult:
    """Look for ``x ~ strategy`` with ``slack(x) < -tolerance``; deterministic for a given seed.
    The counts cover the search phase only (not hypothesis's shrinking of a counterexample)."""
    seen = {"n": 0, "vacuous": 0, "min": math.inf, "shrinking": False}

    def violates(x) -> bool:
        value = slack(x)
        if not seen["shrinking"]:
            seen["n"] += 1
            seen["vacuous"] += value is None
        if value is None:
            return False
        s = float(value)
        if math.isnan(s):
            seen["min"] = math.nan
            seen["shrinking"] = True
            return True
        if not math.isnan(seen["min"]):
            seen["min"] = min(seen["min"], s)
        if s < -tolerance:
            seen["shrinking"] = True
            return True
        return False

    cfg = settings(max_examples=max_examples, database=None, deadline=None,
                   suppress_health_check=list(HealthCheck), print_blob=False)
    try:
        example = hypothesis.find(strategy, violates, settings=cfg, random=random.Random(seed))
    except (NoSuchExample, Unsatisfiable):
        return SearchResult(seen["n"], seen["vacuous"], seen["min"], tolerance, seed)
    return SearchResult(seen["n"], seen["vacuous"], seen["min"], tolerance, seed, example, float(slack(example)))
