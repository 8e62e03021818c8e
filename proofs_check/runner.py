"""Run claims: plan -> execute each unit -> decide -> plot, timed, with any exception turned into an ``error`` verdict.

``execute(unit)`` computes a unit here, in this process; a runner given another ``execute`` (a results store, a
cluster executor) runs the same claims unchanged. ``conclude`` needs only the stored numbers, so a report can be
rebuilt without recomputing.
"""
from __future__ import annotations

import json
import time
import traceback
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping

from advland.io import dumps

from .model import Check, Claim, Context, Outcome, Unit, Verdict, kind_of

Execute = Callable[[Unit], dict]


@dataclass
class Result:
    claim: Claim
    outcome: Outcome
    seconds: float
    units: list[Unit] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        return self.outcome.verdict


def execute(unit: Unit) -> dict:
    """The numbers of ``unit``, computed in this process by its registered kind and normalized by the JSON rule
    of ``advland.io`` (so they equal what a store would give back)."""
    numbers = kind_of(unit).compute(unit.params)
    if not isinstance(numbers, Mapping):
        raise TypeError(f"unit kind {unit.kind!r} returned {type(numbers).__name__}, not a dict of numbers")
    return json.loads(dumps(numbers, indent=None))


def error_outcome(exc: BaseException) -> Outcome:
    """An exception inside a claim's stages: the verdict is ``error``; the summary names the cause and the
    details keep the whole traceback."""
    cause = f"SystemExit (sys.exit({exc.code!r}))" if isinstance(exc, SystemExit) else f"{type(exc).__name__}: {exc}"
    return Outcome(summary=f"the check raised {cause}",
                   checks=[Check("run", Verdict.ERROR, note=cause)],
                   details={"traceback": "".join(traceback.format_exception(exc))})


def plan(claim: Claim, ctx: Context) -> list[Unit]:
    units = claim.plan(ctx)
    if not isinstance(units, list) or not all(isinstance(u, Unit) for u in units):
        raise TypeError(f"plan of {claim.id} must return a list of Unit, got {units!r:.200}")
    return units


def conclude(claim: Claim, ctx: Context, results: Mapping[str, Mapping]) -> Outcome:
    """decide, then plot, from the units' numbers alone."""
    outcome = claim.decide(ctx, results)
    if not isinstance(outcome, Outcome):
        raise TypeError(f"check of {claim.id} returned {type(outcome).__name__}, not Outcome")
    if not outcome.checks:
        raise ValueError(f"check of {claim.id} returned no Check: nothing decided its verdict")
    if claim.plot is None:
        return outcome
    return replace(outcome, plots=claim.plot(ctx, results))


def evaluate(claim: Claim, ctx: Context, execute: Execute = execute) -> Outcome:
    """Every stage of one claim, exceptions propagating (for tests and interactive use)."""
    return conclude(claim, ctx, {u.key: execute(u) for u in plan(claim, ctx)})


def run_claim(claim: Claim, ctx: Context, execute: Execute = execute) -> Result:
    start = time.perf_counter()
    units: list[Unit] = []
    try:
        units = plan(claim, ctx)
        outcome = conclude(claim, ctx, {u.key: execute(u) for u in units})
    except (Exception, SystemExit) as exc:  # any failure of a claim's stages, sys.exit included, is its error verdict
        outcome = error_outcome(exc)
    return Result(claim, outcome, time.perf_counter() - start, units)


def run_claims(claims: list[Claim], ctx: Context, on_result: Callable[[Result], None] | None = None,
               execute: Execute = execute) -> list[Result]:
    """Run each claim in turn; a unit planned by several claims is computed once (by key)."""
    done: dict[str, dict] = {}

    def once(unit: Unit) -> dict:
        if unit.key not in done:
            done[unit.key] = execute(unit)
        return json.loads(json.dumps(done[unit.key]))  # a copy: one claim's decide cannot alter another's numbers

    results = []
    for c in claims:
        r = run_claim(c, ctx, once)
        results.append(r)
        if on_result is not None:
            on_result(r)
    return results
