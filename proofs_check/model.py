"""The claim model: what a claim is, what a check returns, and how a verdict is computed.

A claim is a statement from a paper plus a ``check(ctx) -> Outcome``. An outcome holds one or more
``Check`` objects, each a tested statement (the literal one as the paper writes it, a corrected one,
a consistency cross-check). A check's verdict is *computed* from quantities that carry their own
bound and relation, or from a counterexample search; the claim's verdict is aggregated from its checks:

    error > refuted > inconclusive > confirmed > skipped      (worst first)

so a claim whose literal statement fails is refuted even when its corrected statement is confirmed.
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from advland.io import to_jsonable
from advland.seeding import numpy_rng, stream_seed


class Verdict(str, enum.Enum):
    CONFIRMED = "confirmed"
    REFUTED = "refuted"
    INCONCLUSIVE = "inconclusive"
    SKIPPED = "skipped"
    ERROR = "error"


_SEVERITY = {Verdict.ERROR: 4, Verdict.REFUTED: 3, Verdict.INCONCLUSIVE: 2, Verdict.CONFIRMED: 1, Verdict.SKIPPED: 0}

SCALES = ("smoke", "cpu", "gpu", "paper")


def worst(verdicts) -> Verdict:
    """Aggregate verdicts: the most severe wins; no verdicts at all is ``skipped``."""
    verdicts = list(verdicts)
    if not verdicts:
        return Verdict.SKIPPED
    return max(verdicts, key=_SEVERITY.__getitem__)


_RELATIONS: dict[str, Callable[[float, float, float], bool]] = {
    "<=": lambda v, b, t: v <= b + t,
    ">=": lambda v, b, t: v >= b - t,
    "<": lambda v, b, t: v < b + t,
    ">": lambda v, b, t: v > b - t,
    "==": lambda v, b, t: b - t <= v <= b + t,
}


@dataclass(frozen=True)
class Quantity:
    """A named number, optionally with the bound it must satisfy: ``value <relation> bound ± tolerance``.

    ``holds`` is None for a quantity reported for information only; a NaN value never holds.
    """

    name: str
    value: float
    bound: float | None = None
    relation: str | None = None
    tolerance: float = 0.0
    note: str = ""

    def __post_init__(self):
        if (self.bound is None) != (self.relation is None):
            raise ValueError(f"quantity {self.name!r}: bound and relation go together")
        if self.relation is not None and self.relation not in _RELATIONS:
            raise ValueError(f"quantity {self.name!r}: unknown relation {self.relation!r}")

    @property
    def holds(self) -> bool | None:
        if self.relation is None:
            return None
        v, b = float(self.value), float(self.bound)
        if not (math.isfinite(v) and not math.isnan(b)):
            return False
        return bool(_RELATIONS[self.relation](v, b, float(self.tolerance)))

    def as_dict(self) -> dict:
        out = {"name": self.name, "value": to_jsonable(self.value)}
        if self.relation is not None:
            out.update(relation=self.relation, bound=to_jsonable(self.bound),
                       tolerance=to_jsonable(self.tolerance), holds=self.holds)
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class Check:
    """One tested statement inside a claim, with its own verdict and evidence."""

    name: str
    verdict: Verdict
    evidence: list[Quantity] = field(default_factory=list)
    counterexample: dict | None = None
    note: str = ""

    @classmethod
    def from_quantities(cls, name: str, quantities: list[Quantity], *, note: str = "",
                        counterexample: dict | None = None) -> "Check":
        """Confirmed iff every bounded quantity holds; refuted otherwise (the first failing one is named)."""
        bounded = [q for q in quantities if q.holds is not None]
        if not bounded:
            raise ValueError(f"check {name!r} has no bounded quantity to decide it")
        failing = [q for q in bounded if not q.holds]
        if not failing:
            return cls(name, Verdict.CONFIRMED, list(quantities), counterexample, note)
        if counterexample is None:
            counterexample = {"violated": failing[0].as_dict()}
        return cls(name, Verdict.REFUTED, list(quantities), counterexample, note)

    def as_dict(self) -> dict:
        out = {"name": self.name, "verdict": self.verdict.value,
               "evidence": [q.as_dict() for q in self.evidence]}
        if self.counterexample is not None:
            out["counterexample"] = to_jsonable(self.counterexample)
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class Outcome:
    """What a claim's check returns. ``plots`` maps a file stem to a matplotlib Figure;
    the report writes them, the check never touches the disk."""

    summary: str
    checks: list[Check]
    plots: dict[str, Any] = field(default_factory=dict)
    scale_note: str = ""
    details: dict = field(default_factory=dict)

    @property
    def verdict(self) -> Verdict:
        return worst(c.verdict for c in self.checks)

    @property
    def counterexample(self) -> dict | None:
        for c in self.checks:
            if c.verdict is Verdict.REFUTED and c.counterexample is not None:
                return {"check": c.name, **c.counterexample}
        return None


def skipped(reason: str) -> Outcome:
    """A claim that could not run here (missing data, scale too small), with the reason."""
    return Outcome(summary=reason, checks=[Check("skipped", Verdict.SKIPPED, note=reason)])


@dataclass(frozen=True)
class Context:
    """What a check may depend on. Every random draw comes from ``rng(name)``, seeded from ``seed``
    and the name, so the same seed gives the same verdicts whatever claims run beside it."""

    seed: int = 0
    scale: str = "cpu"
    data_dir: str | None = None
    device: str = "cpu"

    def __post_init__(self):
        if self.scale not in SCALES:
            raise ValueError(f"unknown scale {self.scale!r}; expected one of {', '.join(SCALES)}")

    def rng(self, name: str) -> np.random.Generator:
        """The named stream ``(seed, name)`` of ``advland.seeding``."""
        return numpy_rng(self.seed, name)

    def seed_for(self, name: str) -> int:
        """A 31-bit integer seed (for hypothesis) from the stream ``(seed, name)``."""
        return stream_seed(self.seed, name, bits=31)

    def pick(self, **by_scale):
        """The value for the current scale, falling back to the nearest smaller scale given."""
        order = SCALES[: SCALES.index(self.scale) + 1]
        for s in reversed(order):
            if s in by_scale:
                return by_scale[s]
        raise KeyError(f"no value for scale {self.scale!r} or below in {sorted(by_scale)}")


@dataclass(frozen=True)
class Claim:
    """A statement from a paper with the check that decides it."""

    id: str
    where: str
    statement: str
    formula: str
    tags: tuple[str, ...]
    check: Callable[[Context], Outcome]

    @property
    def paper(self) -> str:
        return self.id.split(".", 1)[0]

    def describe(self) -> dict:
        return {"id": self.id, "paper": self.paper, "where": self.where, "statement": self.statement,
                "formula": self.formula, "tags": list(self.tags)}
