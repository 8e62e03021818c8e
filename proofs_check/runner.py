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


SKIPPING_ERRORS = ("DataError", "NotComputed")   # missing or corrupt data; a report rebuilt before a unit ran
LOST_ERRORS = ("WorkerLost",)                    # the worker died (killed, preempted) on every attempt
EXPERIMENT_KIND_PREFIX = "empirical."             # training runs: their failure is a failed experiment


def unit_failure_outcome(failed) -> Outcome:
    """Units that raised: missing or corrupt data (or a unit not yet computed, when a report is rebuilt from the
    store) skips the claim, the message naming what is missing and the fix; a failed experiment (a training unit
    that raised, a worker lost after its retries) leaves the claim without evidence: inconclusive, naming each
    unit and keeping its traceback; any other unit raising is a defect of the check: error, likewise named."""
    if all(o.error_type in SKIPPING_ERRORS for o in failed):
        reason = failed[0].error.strip().splitlines()[-1]
        return Outcome(summary=f"skipped: {reason}",
                       checks=[Check("data available", Verdict.SKIPPED, note=reason, key="data")],
                       details={"units": [o.unit.key for o in failed]})
    names = "; ".join(f"{o.unit.kind} {o.unit.key}: {o.error.strip().splitlines()[-1]}" for o in failed)
    experiment = all(o.unit.kind.startswith(EXPERIMENT_KIND_PREFIX) or o.error_type in LOST_ERRORS for o in failed)
    verdict = Verdict.INCONCLUSIVE if experiment else Verdict.ERROR
    return Outcome(summary=f"{'no evidence: ' if experiment else ''}a unit of work failed: {names}",
                   checks=[Check("units computed", verdict, note=names, key="units")],
                   details={"traceback": "\n".join(o.error for o in failed),
                            "failed_units": {o.unit.key: o.error for o in failed}})


@dataclass
class InProcess:
    """The simplest executor: every unit computed here by ``execute``, in turn, exceptions caught per unit."""

    execute: Execute = execute

    def run(self, units: list[Unit], on_outcome: Callable | None = None) -> dict:
        from .jobs.driver import UnitOutcome

        outcomes = {}
        for u in {u.key: u for u in units}.values():
            start = time.perf_counter()
            try:
                outcomes[u.key] = UnitOutcome(u, results=self.execute(u), seconds=time.perf_counter() - start)
            except (Exception, SystemExit) as exc:  # recorded against the unit (sys.exit included)
                outcomes[u.key] = UnitOutcome(u, error="".join(traceback.format_exception(exc)),
                                              error_type=type(exc).__name__, seconds=time.perf_counter() - start)
            if on_outcome is not None:
                on_outcome(outcomes[u.key])
        return outcomes


def _finish(claim: Claim, ctx: Context, units: list[Unit], outcomes: dict) -> Outcome:
    failed = [outcomes[u.key] for u in units if not outcomes[u.key].ok]
    if failed:
        return unit_failure_outcome(failed)
    # a copy per claim: one claim's decide cannot alter another's numbers
    return conclude(claim, ctx, {u.key: json.loads(json.dumps(outcomes[u.key].results)) for u in units})


def run_claim(claim: Claim, ctx: Context, execute: Execute = execute) -> Result:
    return run_claims([claim], ctx, executor=InProcess(execute))[0]


def run_claims(claims: list[Claim], ctx: Context, on_result: Callable[[Result], None] | None = None,
               execute: Execute = execute, executor=None) -> list[Result]:
    """Plan every claim, compute the distinct units (a unit planned by several claims once, by key) with
    ``executor`` (default: in this process with ``execute``), and decide and plot each claim as soon as its last
    unit is done (``on_result`` hears of it then, so an interrupted run keeps what finished). Results come back in
    the order of ``claims``.

    A claim whose plan raises, or whose decide/plot raises, ends in ``error`` with the whole traceback; one whose
    unit raised ends as ``unit_failure_outcome`` says. ``Result.seconds`` is the claim's planning and concluding
    time plus the computing time of its units (a shared unit counts for each claim that needs it)."""
    executor = InProcess(execute) if executor is None else executor
    planned: dict[str, list[Unit] | BaseException] = {}
    plan_seconds: dict[str, float] = {}
    for c in claims:
        start = time.perf_counter()
        try:
            planned[c.id] = plan(c, ctx)
        except (Exception, SystemExit) as exc:  # a broken plan, sys.exit included, is that claim's error
            planned[c.id] = exc
        plan_seconds[c.id] = time.perf_counter() - start
    outcomes: dict = {}
    results: dict[str, Result] = {}

    def conclude_ready() -> None:
        for c in claims:
            units = planned[c.id]
            if c.id in results or (isinstance(units, list) and any(u.key not in outcomes for u in units)):
                continue
            start = time.perf_counter()
            if isinstance(units, BaseException):
                outcome, units = error_outcome(units), []
            else:
                try:
                    outcome = _finish(c, ctx, units, outcomes)
                except (Exception, SystemExit) as exc:  # decide or plot failed: the claim's error verdict
                    outcome = error_outcome(exc)
            seconds = plan_seconds[c.id] + time.perf_counter() - start + sum(outcomes[u.key].seconds for u in units)
            results[c.id] = Result(c, outcome, seconds, units)
            if on_result is not None:
                on_result(results[c.id])

    def unit_done(o) -> None:
        outcomes[o.unit.key] = o
        conclude_ready()

    conclude_ready()     # claims that need no unit
    executor.run([u for v in planned.values() if isinstance(v, list) for u in v], on_outcome=unit_done)
    return [results[c.id] for c in claims]
