"""Run claims: each check in isolation, timed, with any exception turned into an ``error`` verdict."""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from typing import Callable

from .model import Check, Claim, Context, Outcome, Verdict


@dataclass
class Result:
    claim: Claim
    outcome: Outcome
    seconds: float

    @property
    def verdict(self) -> Verdict:
        return self.outcome.verdict


def error_outcome(exc: BaseException) -> Outcome:
    """An exception inside a check: the verdict is ``error`` and the evidence names the cause."""
    cause = f"{type(exc).__name__}: {exc}"
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return Outcome(summary=f"the check raised {cause}",
                   checks=[Check("run", Verdict.ERROR, note=cause)],
                   details={"traceback": "".join(tb[-6:])})


def run_claim(claim: Claim, ctx: Context) -> Result:
    start = time.perf_counter()
    try:
        outcome = claim.check(ctx)
        if not isinstance(outcome, Outcome):
            raise TypeError(f"check of {claim.id} returned {type(outcome).__name__}, not Outcome")
        if not outcome.checks:
            raise ValueError(f"check of {claim.id} returned no Check: nothing decided its verdict")
    except Exception as exc:  # any failure of a check is reported as that claim's error verdict
        outcome = error_outcome(exc)
    return Result(claim, outcome, time.perf_counter() - start)


def run_claims(claims: list[Claim], ctx: Context,
               on_result: Callable[[Result], None] | None = None) -> list[Result]:
    results = []
    for c in claims:
        r = run_claim(c, ctx)
        results.append(r)
        if on_result is not None:
            on_result(r)
    return results
