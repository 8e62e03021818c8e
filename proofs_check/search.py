"""Counterexample search for inequality claims, with hypothesis.

An inequality ``lhs(x) <= rhs(x)`` is written as a *slack* function ``slack(x) = rhs(x) - lhs(x)``;
a counterexample is an ``x`` with ``slack(x) < -tolerance`` (a NaN slack counts as one: a value that
cannot be computed never confirms a claim). A slack of ``None`` marks a *vacuous* example, one that does
not meet the statement's hypothesis (e.g. a W outside the version space for a property of its members):
it can neither refute nor support the claim, so it is counted apart, and a search that saw fewer than
``min_cases`` non-vacuous examples is inconclusive rather than confirmed. The search is seeded, bounded
in the number of examples, keeps no example database, and hypothesis shrinks what it finds to a minimal
reproducible example; ``decode`` turns that draw into the named values of the problem it stands for, which is
what the report shows.

Reproducibility. Hypothesis (since 6.131) mixes literal constants mined from every loaded *local* module (any file
outside site-packages and the standard library) into its draws, so the same seed would draw differently after an
unrelated code edit, with other modules imported, or between an editable and a wheel install. Every search here
runs inside ``isolated_from_local_constants()``, which gives hypothesis no local constants: its draws depend on the
seed, the strategy and the hypothesis version only.

Strategies that shrink fast: ``digit_arrays`` draws a whole integer array as ONE integer (its digits are the
entries), so hypothesis has one choice to shrink per array rather than one per entry.
"""
from __future__ import annotations

import contextlib
import math
import random
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import hypothesis
import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample, Unsatisfiable

from .model import Check, Quantity, Verdict, to_jsonable


class SearchError(RuntimeError):
    """The slack function (or the strategy) raised during a search; raised ``from`` the original exception. Its
    message holds the slack's traceback as raised and ends with one line naming the error and the example."""


@contextlib.contextmanager
def isolated_from_local_constants():
    """Run hypothesis with no constants mined from local modules (module docstring): within the block its private
    ``providers._get_local_constants`` returns an empty ``Constants()``, and its cache of allowed constants is
    cleared on entry and on exit (so neither the search nor later hypothesis runs see the other's pools). If a
    future hypothesis drops those private names, the block runs unchanged and ``isolated`` is False."""
    try:
        from hypothesis.internal.conjecture import providers
        original, cache, empty = providers._get_local_constants, providers.CONSTANTS_CACHE, providers.Constants
    except (ImportError, AttributeError):
        yield False
        return
    cache.cache.clear()
    providers._get_local_constants = lambda: empty()
    try:
        yield True
    finally:
        providers._get_local_constants = original
        cache.cache.clear()


def digit_arrays(shape, base: int = 7) -> st.SearchStrategy:
    """Integer arrays of ``shape`` with entries in {−(base//2), …, (base−1) − base//2} (centred on 0), drawn as ONE
    integer whose balanced base-``base`` digits are the entries. Hypothesis then has one choice to shrink per array
    instead of one per entry (several times faster), and shrinking it toward 0 moves the entries toward 0."""
    shape = tuple(int(s) for s in np.atleast_1d(np.asarray(shape, dtype=int)))
    if isinstance(base, bool) or int(base) != base or base < 2:
        raise ValueError(f"base must be an integer >= 2, got {base!r}")
    base = int(base)
    size, half = int(np.prod(shape)), base // 2

    def decode(code: int) -> np.ndarray:
        out = []
        for _ in range(size):
            code, digit = divmod(code, base)
            out.append((digit + half) % base - half)
        return np.array(out, dtype=int).reshape(shape)

    return st.integers(0, base ** size - 1).map(decode)


@dataclass(frozen=True)
class SearchResult:
    """Outcome of a bounded search: the smallest slack seen and, if any, a shrunk counterexample (``counterexample``:
    the decoded problem when the search had a ``decode``, else the draw itself; ``draw``: the draw when decoded)."""

    n_examples: int
    n_vacuous: int
    min_slack: float
    tolerance: float
    seed: int
    counterexample: Any = None
    counterexample_slack: float | None = None
    draw: Any = None

    @property
    def found(self) -> bool:
        return self.counterexample is not None

    def as_dict(self) -> dict:
        """The result as JSON values (what a unit returns); ``from_dict`` reads it back."""
        return to_jsonable({"n_examples": self.n_examples, "n_vacuous": self.n_vacuous, "min_slack": self.min_slack,
                            "tolerance": self.tolerance, "seed": self.seed, "counterexample": self.counterexample,
                            "counterexample_slack": self.counterexample_slack, "draw": self.draw})

    @classmethod
    def from_dict(cls, d) -> "SearchResult":
        """The inverse of ``as_dict`` (non-finite numbers come back from their JSON strings)."""
        slack = d["counterexample_slack"]
        return cls(int(d["n_examples"]), int(d["n_vacuous"]), float(d["min_slack"]), float(d["tolerance"]),
                   int(d["seed"]), d["counterexample"], None if slack is None else float(slack), d.get("draw"))

    def to_check(self, name: str, *, key: str = "", note: str = "", min_cases: int = 10) -> Check:
        """Refuted with the counterexample if one was found (the counts are then reported for information: a
        search stops at its first violation); otherwise confirmed when at least ``min_cases`` examples met the
        hypothesis, inconclusive when fewer did. ``key``: the check's key (default: from name)."""
        met = self.n_examples - self.n_vacuous
        searched = f"{self.n_vacuous} vacuous of {self.n_examples} searched"
        if self.found:
            evidence = [Quantity("examples meeting the hypothesis before the counterexample", met, note=searched),
                        Quantity("slack of the counterexample (rhs - lhs)", self.counterexample_slack, bound=0.0,
                                 relation=">=", tolerance=self.tolerance)]
            ce = {"seed": self.seed, "slack": self.counterexample_slack, "example": to_jsonable(self.counterexample)}
            if self.draw is not None:
                ce["draw"] = to_jsonable(self.draw)
            return Check(name, Verdict.REFUTED, evidence, ce, note, key=key)
        cases = Quantity("examples meeting the hypothesis", met, bound=min_cases, relation=">=", note=searched)
        evidence = [cases]
        if math.isfinite(self.min_slack) or math.isnan(self.min_slack):
            evidence.append(Quantity("smallest slack (rhs - lhs) seen", self.min_slack, bound=0.0, relation=">=",
                                     tolerance=self.tolerance))
        if not cases.holds:
            why = f"only {cases.value} examples met the hypothesis (need {min_cases})"
            return Check(name, Verdict.INCONCLUSIVE, evidence, note=f"{note}; {why}" if note else why, key=key)
        return Check(name, Verdict.CONFIRMED, evidence, note=note, key=key)


def search_counterexample(strategy, slack: Callable[[Any], float | None], *, seed: int, max_examples: int = 200,
                          tolerance: float = 0.0, decode: Callable[[Any], Any] | None = None) -> SearchResult:
    """Look for ``x ~ strategy`` with ``slack(x) < -tolerance``; deterministic for a given seed (and hypothesis
    version), whatever other code is loaded. ``decode(x)``: the problem a draw stands for, as named JSON values (e.g.
    ``{"X": ..., "w": ..., "eps": ...}`` rebuilt from integer codes), stored as the counterexample beside the draw.
    The counts cover the search phase only (not hypothesis's shrinking of a counterexample). An exception raised by
    ``slack`` becomes a ``SearchError`` chained to it (the whole traceback kept) naming the example."""
    seen = {"n": 0, "vacuous": 0, "min": math.inf, "shrinking": False, "raised on": None, "traceback": ""}

    def violates(x) -> bool:
        try:
            value = slack(x)
        except Exception:
            seen["raised on"], seen["traceback"] = x, traceback.format_exc()
            raise
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
        with isolated_from_local_constants():
            example = hypothesis.find(strategy, violates, settings=cfg, random=random.Random(seed))
    except (NoSuchExample, Unsatisfiable):
        return SearchResult(seen["n"], seen["vacuous"], seen["min"], tolerance, seed)
    except Exception as exc:
        raise SearchError(_raised_message(exc, seen, decode, seed)) from exc
    if decode is None:
        return SearchResult(seen["n"], seen["vacuous"], seen["min"], tolerance, seed, example, float(slack(example)))
    return SearchResult(seen["n"], seen["vacuous"], seen["min"], tolerance, seed, decode(example),
                        float(slack(example)), draw=example)


def _raised_message(exc: BaseException, seen: dict, decode, seed: int) -> str:
    """The message of a ``SearchError``: the traceback of the slack's exception as it was raised (hypothesis
    re-raises it with a traceback of its own making, which may stop short of the slack's frames), then one line,
    'the search raised ValueError: ... on the example ...' (decoded when possible)."""
    example = seen["raised on"]
    where = "while drawing an example" if example is None else f"on the example {_shown(example, decode)}"
    line = f"the search (seed {seed}) raised {type(exc).__name__}: {exc} {where}"
    return f"the slack raised:\n{seen['traceback']}{line}" if seen["traceback"] else line


def _shown(example, decode) -> str:
    """The example as text for an error message, decoded if ``decode`` works on it, cut to 500 characters."""
    value = example
    if decode is not None:
        with contextlib.suppress(Exception):
            value = decode(example)
    text = repr(to_jsonable(value))
    return text if len(text) <= 500 else text[:500] + " ..."
