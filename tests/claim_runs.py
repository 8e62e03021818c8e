"""Running a built-in claim's stages in a test: the numbers as each unit kind computes them (``computed``) and as a
store gives them back (``through_json``), an outcome as comparable JSON, and one unit re-run with some of its
parameters changed (a deliberately false variant)."""
import json

from advland.claims.model import Outcome, Unit, kind_of
from advland.claims.runner import execute
from advland.io import dumps, to_jsonable


def computed(units) -> dict:
    """unit key -> the numbers exactly as the unit's kind returned them (numpy values, non-finite floats)."""
    return {u.key: kind_of(u).compute(u.params) for u in units}


def through_json(results: dict) -> dict:
    """The numbers after the JSON rule of advland.io, as a results store gives them back."""
    return json.loads(dumps(results, indent=None))


def as_json(outcome: Outcome) -> dict:
    return to_jsonable({"summary": outcome.summary, "checks": [c.as_dict() for c in outcome.checks],
                        "scale_note": outcome.scale_note, "details": outcome.details,
                        "counterexample": outcome.counterexample})


def run_variant(unit: Unit, **changes) -> tuple[dict, dict]:
    """(numbers, params) of ``unit`` with ``changes``: what a check builder ``check(result, params)`` takes."""
    variant = unit.with_params(**changes)
    return execute(variant), dict(variant.params)


def outcome_with(module, ctx, **variant) -> Outcome:
    """A claim module's outcome for a variant of the whole claim (its ``units``/``decide`` keywords)."""
    units = module.units(ctx, **variant)
    return module.decide(ctx, {u.key: execute(u) for u in units.values()}, **variant)
