"""``advland verify --plan``: the units a selection needs, which of them the store holds, and the estimated cost of
each at the selection's scale (``cost``), computing nothing.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..runner import plan
from ..units import Unit
from .cost import TRAIN_KIND, CostModel, Estimate
from .driver import Driver
from .store import HELD, Store


@dataclass(frozen=True)
class PlannedUnit:
    """A unit of the selection: the claims that need it, its state in the store and its estimated cost."""

    unit: Unit
    claims: tuple[str, ...]
    state: str
    estimate: Estimate

    @property
    def to_compute(self) -> bool:
        return self.state != "done"


def store_state(store: Store | None, driver: Driver, unit: Unit) -> str:
    """``done`` (trusted: this code's numbers), ``done by other code`` (to recompute), ``queued`` / ``running``
    (``..., driver gone`` when nobody holds it any more), ``failed``, or ``absent``."""
    row = store.row(unit.key) if store is not None else None
    if row is None:
        return "absent"
    if row.status == "done":
        return "done" if store.results(driver.stored(unit)) is not None else "done by other code"
    if row.status in HELD and not row.alive():
        return f"{row.status}, driver gone"
    return row.status


def plan_selection(claims, ctx, store: Store | None, driver: Driver, device: str):
    """(planned units in the order the claims need them, {claim id: error} for claims whose plan raised)."""
    needs: dict[str, list[str]] = {}
    units: dict[str, Unit] = {}
    errors: dict[str, str] = {}
    for c in claims:
        try:
            planned = plan(c, ctx)
        except (Exception, SystemExit) as exc:   # reported beside the plan, as verify would report its error
            errors[c.id] = f"{type(exc).__name__}: {exc}"
            continue
        for u in planned:
            units.setdefault(u.key, u)
            needs.setdefault(u.key, [])
            if c.id not in needs[u.key]:
                needs[u.key].append(c.id)
    model = CostModel(store.rows("done"), lambda row: store.raw_results(row.key)) if store is not None else CostModel()
    return [PlannedUnit(u, tuple(needs[k]), store_state(store, driver, u), model.estimate(u, device))
            for k, u in units.items()], errors


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def describe(unit: Unit) -> str:
    """A training unit's setting in a few words (its key names it exactly)."""
    if unit.kind != TRAIN_KIND:
        return ""
    c = unit.params["config"]
    return (f"{c['model']} w{c['width']} {c['dataset']} {c['method']} eps {c['eps']:.3g} {c['schedule']} "
            f"lr {c['lr']:g} {c['epochs']} ep seed {c['seed']}")


def _cost(planned: list[PlannedUnit], device: str) -> str:
    """The estimated time of the training units on ``device`` and of the units of the driver (on its CPU), and how
    many have no estimate."""
    train = [p for p in planned if p.unit.kind == TRAIN_KIND]
    driver = [p for p in planned if p.unit.kind != TRAIN_KIND]
    parts = []
    if train:
        seconds = sum(p.estimate.seconds or 0.0 for p in train)
        parts.append(f"training {duration(seconds)} {'GPU' if device == 'cuda' else 'CPU'}")
    if driver:
        known = [p.estimate.seconds for p in driver if p.estimate.seconds is not None]
        parts.append(f"{len(driver)} in the driver {duration(sum(known)) if known else '?'} CPU")
    unknown = sum(p.estimate.seconds is None for p in planned)
    if unknown:
        parts.append(f"{unknown} of unknown cost")
    return ", ".join(parts)


def format_plan(planned: list[PlannedUnit], errors: dict[str, str], *, scale: str, device: str, store_path) -> str:
    """The plan as text: one line per unit, then each claim's estimate, then the totals."""
    lines = [f"{len(planned)} unit(s) at scale {scale}, training on {device}; store {store_path or '(none yet)'}",
             f"{'unit':<16}  {'kind':<36} {'claims':>6}  {'store':<22} {'estimate':>9}  {'basis':<10} setting"]
    for p in planned:
        lines.append(f"{p.unit.key:<16}  {p.unit.kind:<36} {len(p.claims):>6}  {p.state:<22} "
                     f"{duration(p.estimate.seconds):>9}  {p.estimate.basis:<10} {describe(p.unit)}")
    lines.append("")
    lines.append("per claim: all its units from scratch (a unit shared by claims counts for each)")
    by_claim: dict[str, list[PlannedUnit]] = {}
    for p in planned:
        for c in p.claims:
            by_claim.setdefault(c, []).append(p)
    width = max([len(c) for c in by_claim] + [len(c) for c in errors] + [5])
    for c, ps in by_claim.items():
        todo = sum(p.to_compute for p in ps)
        lines.append(f"  {c:<{width}}  {len(ps):>3} unit(s), {todo:>3} to compute: {_cost(ps, device)}")
    for c, error in errors.items():
        lines.append(f"  {c:<{width}}  its plan raised {error}")
    todo = [p for p in planned if p.to_compute]
    lines.append("")
    lines.append(f"to compute: {len(todo)} of {len(planned)} unit(s): {_cost(todo, device) or 'nothing'}")
    lines.append("estimates, not measurements: 'measured' and 'calibrated' come from this store, 'model' from "
                 "constants (advland.claims.jobs.cost; on a GPU assumed, not measured)")
    return "\n".join(lines)
