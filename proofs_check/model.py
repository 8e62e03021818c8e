"""The claim model: what a claim is, what a check returns, and how a verdict is computed.

A claim is a statement from a paper checked in three stages:

    plan(ctx) -> list[Unit]             the computations it needs, each a ``Unit`` (kind, JSON params, version)
    decide(ctx, results) -> Outcome     pure: ``results`` maps ``unit.key`` -> the numbers the unit's kind computed
    plot(ctx, results) -> {stem: Figure}  figures drawn from the same stored numbers only (a value may be
                                          (figure, caption[, check keys]): ``figure_parts``)

A unit kind is a registered function ``fn(**params) -> dict`` of JSON numbers (``@unit_kind``), a pure function of
its params: randomness comes only from seeds in the params through ``advland.seeding``'s named streams. Units
are identified by ``Unit.key``, so a runner can compute each once, anywhere, and a report can be rebuilt from
stored numbers without recomputing. A user claim may instead be one ``check(ctx) -> Outcome`` (the simple form).

A claim tests ONE statement and says what it rests on (``source``): the paper's text ("abstract (verified
text)") or a reading of it ("our reading: ..."). Where the text can be read several ways, or a statement fails as
written and a corrected one holds, each reading is a claim of its own, so no verdict judges a reading under the
paper's name. An outcome holds one or more ``Check`` objects, each testing that statement on one case or with one
instrument (a search, a targeted construction, a consistency cross-check), selected by a stable ``key`` and shown
by its ``name``. A check's verdict is *computed* from quantities that carry their own bound and relation, or from
a counterexample search; the claim's verdict is aggregated from its checks:

    error > refuted > inconclusive > confirmed > skipped      (worst first)

so one failing case refutes the statement whatever the other checks found.
"""
from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from advland.io import to_jsonable
from advland.seeding import numpy_rng, stream_seed
from advland.verify_options import SCALES  # noqa: F401 (the claim API: the scales of a context)

from .units import Unit, UnitKind, kind_of, unit_kind, unit_results  # noqa: F401 (the claim API: units too)


class Verdict(str, enum.Enum):
    CONFIRMED = "confirmed"
    REFUTED = "refuted"
    INCONCLUSIVE = "inconclusive"
    SKIPPED = "skipped"
    ERROR = "error"


_SEVERITY = {Verdict.ERROR: 4, Verdict.REFUTED: 3, Verdict.INCONCLUSIVE: 2, Verdict.CONFIRMED: 1, Verdict.SKIPPED: 0}


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

    The relations, with t = ``tolerance`` >= 0 (which always loosens the bound, never tightens it):

        "<="  value <= bound + t          ">="  value >= bound − t          "=="  |value − bound| <= t
        "<"   value <  bound + t          ">"   value >  bound − t

    so "<" and ">" are strict only at t = 0: ``Quantity("gap", 0.0, bound=0.0, relation="<")`` fails, and with
    t = 1e-9 it holds (write a strict statement with t = 0, or move the bound: ``bound=-1e-9, relation="<"``).
    ``holds`` is None for a quantity reported for information only; a NaN or infinite value, or a NaN bound, never
    holds.
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


_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def slug(text: str) -> str:
    """``text`` as a check key: lower case, every run of characters other than a-z and 0-9 one hyphen."""
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "check"


@dataclass
class Check:
    """One tested statement inside a claim, with its own verdict and evidence. ``key`` is its stable identifier
    (a slug, unique within the claim: what code and tests select a check by); ``name`` is its display title.
    Without a key, the slug of the name is used."""

    name: str
    verdict: Verdict
    evidence: list[Quantity] = field(default_factory=list)
    counterexample: dict | None = None
    note: str = ""
    key: str = field(default="", kw_only=True)

    def __post_init__(self):
        if not self.key:
            self.key = slug(self.name)
        if not isinstance(self.key, str) or not _SLUG.match(self.key):
            raise ValueError(f"check key {self.key!r} of {self.name!r} must be a slug: lower-case letters and digits "
                             "in words joined by single hyphens")

    @classmethod
    def from_quantities(cls, name: str, quantities: list[Quantity], *, key: str = "", note: str = "",
                        counterexample: dict | None = None, premises: list[Quantity] = (),
                        solvers: list[tuple[str, bool]] = ()) -> "Check":
        """Confirmed iff every bounded quantity holds; refuted otherwise (the first failing one is named).

        Two reasons make the check ``inconclusive`` instead, named in its note, before any quantity is judged:
        ``solvers``, pairs (description, ok) of the numerical solvers the quantities rest on, one of which did not
        reach optimality (``("CLARABEL: optimal_inaccurate", False)``): its numbers are no evidence either way; and
        ``premises``, bounded quantities stating the statement's hypothesis at the example, one of which fails (the
        statement says nothing there). Premises are listed with the evidence."""
        if any(q.holds is None for q in premises):
            raise ValueError(f"check {name!r}: every premise needs a bound and a relation")
        evidence = [*premises, *quantities]
        unsolved = [description for description, ok in solvers if not ok]
        bounded = [q for q in quantities if q.holds is not None]
        if not bounded and not unsolved:  # a failed solver may leave nothing to decide: that is its verdict
            raise ValueError(f"check {name!r} has no bounded quantity to decide it")
        why = ""
        if unsolved:
            why = f"solver did not reach optimality: {'; '.join(unsolved)}"
        elif not all(q.holds for q in premises):
            why = "the statement's hypothesis is not met: " + "; ".join(q.name for q in premises if not q.holds)
        if why:
            return cls(name, Verdict.INCONCLUSIVE, evidence, note=f"{note}; {why}" if note else why, key=key)
        failing = [q for q in bounded if not q.holds]
        if not failing:
            return cls(name, Verdict.CONFIRMED, evidence, counterexample, note, key=key)
        if counterexample is None:
            counterexample = {"violated": failing[0].as_dict()}
        return cls(name, Verdict.REFUTED, evidence, counterexample, note, key=key)

    @classmethod
    def skip(cls, name: str, reason: str, *, key: str = "") -> "Check":
        """A check that could not run here (missing data, a scale too small), with the reason: ``skipped``, which
        never decides a claim's verdict while another check ran."""
        return cls(name, Verdict.SKIPPED, note=reason, key=key)

    def as_dict(self) -> dict:
        out = {"key": self.key, "name": self.name, "verdict": self.verdict.value,
               "evidence": [q.as_dict() for q in self.evidence]}
        if self.counterexample is not None:
            out["counterexample"] = to_jsonable(self.counterexample)
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class Outcome:
    """What a claim's check returns. ``plots`` maps a file stem to a matplotlib Figure, or to (figure, caption) or
    (figure, caption, keys of the checks it is evidence for) (``figure_parts``); the report writes them, the check
    never touches the disk."""

    summary: str
    checks: list[Check]
    plots: dict[str, Any] = field(default_factory=dict)
    scale_note: str = ""
    details: dict = field(default_factory=dict)

    def __post_init__(self):
        keys = [c.key for c in self.checks]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            raise ValueError(f"check keys must be unique within a claim; repeated: {', '.join(twice)} "
                             "(give the checks distinct key=...)")
        for stem, value in self.plots.items():
            unknown = [k for k in figure_parts(value, stem)[2] if k not in keys]
            if unknown:
                raise ValueError(f"plot {stem!r} names no check {', '.join(unknown)}; the checks are {', '.join(keys)}")

    @property
    def verdict(self) -> Verdict:
        return worst(c.verdict for c in self.checks)

    @property
    def counterexample(self) -> dict | None:
        for c in self.checks:
            if c.verdict is Verdict.REFUTED and c.counterexample is not None:
                return {"check": c.name, "check_key": c.key, **c.counterexample}
        return None

    def check(self, key: str) -> Check:
        """The check with this key."""
        for c in self.checks:
            if c.key == key:
                return c
        raise KeyError(f"no check {key!r}; the checks are {', '.join(c.key for c in self.checks)}")


def figure_parts(value, stem: str = "") -> tuple[Any, str, tuple[str, ...]]:
    """A plot of an outcome as (figure, caption, check keys). A plot is a matplotlib Figure, (figure, caption) or
    (figure, caption, keys): the caption says what the figure shows, the keys name the checks it is evidence for
    (the report adds their verdicts to the caption)."""
    what = f"plot {stem!r}" if stem else "a plot"
    if not isinstance(value, tuple):
        value = (value, "")
    if len(value) not in (2, 3):
        raise ValueError(f"{what} must be a Figure, (figure, caption) or (figure, caption, check keys); "
                         f"got a tuple of {len(value)}")
    fig, caption, keys = (*value, ())[:3]
    if not callable(getattr(fig, "savefig", None)):
        raise ValueError(f"{what} must be a matplotlib Figure (or a tuple starting with one), got {type(fig).__name__}")
    if not isinstance(caption, str):
        raise ValueError(f"the caption of {what} must be a string, got {type(caption).__name__}")
    if isinstance(keys, str) or not all(isinstance(k, str) for k in keys):
        raise ValueError(f"the check keys of {what} must be a list of strings, got {keys!r}")
    return fig, caption, tuple(keys)


def skipped(reason: str) -> Outcome:
    """A claim that could not run here (missing data, scale too small), with the reason."""
    return Outcome(summary=reason, checks=[Check("skipped", Verdict.SKIPPED, note=reason)])


def hypothesis_seed(seed: int, name: str) -> int:
    """A 31-bit integer seed for a counterexample search, from the stream ``(seed, name)``."""
    return stream_seed(seed, name, bits=31)


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
        return hypothesis_seed(self.seed, name)

    def pick(self, **by_scale):
        """The value for the current scale, falling back to the nearest smaller scale given."""
        order = SCALES[: SCALES.index(self.scale) + 1]
        for s in reversed(order):
            if s in by_scale:
                return by_scale[s]
        raise KeyError(f"no value for scale {self.scale!r} or below in {sorted(by_scale)}")


# ---- claims ----

Plan = Callable[[Context], list[Unit]]
Decide = Callable[[Context, Mapping[str, Mapping]], Outcome]
Plot = Callable[[Context, Mapping[str, Mapping]], dict[str, Any]]


@dataclass(frozen=True)
class Claim:
    """A statement from a paper with the stages that decide it (module docstring). ``plot`` None: the
    outcome of ``decide`` carries its own figures (the simple form, whose ``decide`` runs ``check(ctx)``).
    ``source``: what the statement rests on, the paper's text or our reading of it ("" when not stated).
    ``corrects``: the id of the claim whose statement, as the paper writes it, this claim's statement corrects
    ("" when none); the report reads a refuted claim with a confirmed correction as "refuted as written —
    corrected form confirmed". ``expect``: the verdict its authors expect, as (scale, verdict) pairs for the scales
    where it was seen (``registry.claim`` builds them from ``expect=``); the pytest plugin gates on it and the
    report shows it beside the verdict."""

    id: str
    where: str
    statement: str
    formula: str
    tags: tuple[str, ...]
    plan: Plan
    decide: Decide
    plot: Plot | None = None
    source: str = ""
    corrects: str = ""
    expect: tuple[tuple[str, Verdict], ...] = ()

    @property
    def paper(self) -> str:
        return self.id.split(".", 1)[0]

    def expected(self, scale: str) -> Verdict | None:
        """The verdict expected at ``scale``; None where the claim declares no expectation for it."""
        return dict(self.expect).get(scale)

    def describe(self) -> dict:
        return {"id": self.id, "paper": self.paper, "where": self.where, "statement": self.statement,
                "source": self.source, "corrects": self.corrects, "formula": self.formula, "tags": list(self.tags)}
