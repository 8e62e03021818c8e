"""From the numbers of training units to checks: reading a unit's results, validity guards, and the statistics of
``..stats`` turned into checks (with the inconclusive cases a small design meets: too few points, no pairs).

Validity guards. A run that fails a guard (it diverged, did not train, stalled when it should not, did not reach the
stated robust training loss, its instrument did not converge) is no evidence either way: ``gate`` adds a check
"validity guards" (inconclusive, naming each failed guard, run and unit key) and turns every check that rests on
the failed runs inconclusive, keeping its numbers and saying what the statistic alone would have concluded. A
guard never refutes.

Per-seed rank correlations are combined by Fisher's method (Fisher 1932, §21.1: X = −2 Σ ln p_i ~ χ²(2k) under the
null): ``combined_correlation`` confirms when every series correlates in the expected direction and the combined
one-sided p is below α, refutes in the mirror case.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as _st

from ..model import Check, Quantity, Unit, Verdict
from ..stats import Decision, binomial_tail, decide_correlation, decide_effect, decide_trend, spearman_permutation

LN10 = math.log(10.0)   # the cross-entropy of a uniform prediction over 10 classes
ALPHA = 0.05
CHANCE_ALPHA = 1e-3   # the binomial tail below which a model's robust training accuracy is above chance


# ---------------------------------------------------------------- reading results

def history(result) -> list[dict]:
    return list(result.get("history") or [])


def final(result) -> dict:
    """The last per-epoch record of the run ({} when it has none)."""
    h = history(result)
    return h[-1] if h else {}


def record(result, epoch: int) -> dict:
    """The per-epoch record after ``epoch`` epochs (1-based), {} when absent."""
    return next((r for r in history(result) if r.get("epoch") == epoch - 1), {})


def measured(result, label: str, epoch: int | None = None) -> dict | None:
    """The measure ``label`` at snapshot ``epoch`` (default: the run's last snapshot), None when not taken."""
    measures = result.get("measures") or {}
    if epoch is None:
        snapshots = result.get("snapshots") or []
        if not snapshots:
            return None
        epoch = max(snapshots)
    return (measures.get(str(epoch)) or {}).get(label)


def top_eigenvalue(result, label: str = "hessian") -> float | None:
    m = measured(result, label)
    return None if m is None or not m.get("eigenvalues") else float(m["eigenvalues"][0])


def run_name(name) -> str:
    """A unit's name tuple as a phrase: ("sweep", 0.1, 0) -> "sweep 0.1 0"."""
    if isinstance(name, tuple):
        return " ".join(str(v) if not isinstance(v, float) else f"{v:g}" for v in name)
    return str(name)


# ---------------------------------------------------------------- validity guards

@dataclass(frozen=True)
class Failure:
    guard: str
    run: str
    key: str
    detail: str
    checks: tuple[str, ...] = ()   # keys of the checks it invalidates; () = every check of the claim

    def describe(self) -> str:
        return f"{self.guard} failed for {self.run} (unit {self.key}): {self.detail}"


@dataclass
class Guards:
    """The guards of one claim: ``require`` records each guard's outcome on one run; ``failures`` lists the
    failed ones, ``applied`` every guard stated (for the note of the guard check)."""

    failures: list[Failure] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)

    def require(self, guard: str, ok: bool, *, name, unit: Unit, detail: str = "", checks=()) -> bool:
        if guard not in self.applied:
            self.applied.append(guard)
        if not ok:
            self.failures.append(Failure(guard, run_name(name), unit.key, detail, tuple(checks)))
        return bool(ok)

    def available(self, name, unit: Unit, results) -> dict | None:
        """The unit's results if it has them and its run completed (not diverged); else a failed guard, None."""
        result = results.get(unit.key)
        if not self.require("the run has stored results", result is not None, name=name, unit=unit,
                            detail="no results for this unit (it failed or was not computed)"):
            return None
        diverged = result.get("status") != "completed"
        if not self.require("the run completed without diverging", not diverged, name=name, unit=unit,
                            detail=f"status {result.get('status')!r}, diverged at {result.get('diverged_at')}"):
            return None
        return result


def gate(checks: list[Check], guards: Guards) -> list[Check]:
    """``checks`` behind the guards: a first check "validity guards" (confirmed when every guard held, else
    inconclusive listing the failures), and every check a failure applies to made inconclusive."""
    failures = guards.failures
    stated = "; ".join(guards.applied) or "none"
    if not failures:
        head = Check("validity guards", Verdict.CONFIRMED, [Quantity("failed guards", 0)],
                     note=f"guards: {stated}", key="validity-guards")
    else:
        head = Check("validity guards", Verdict.INCONCLUSIVE, [Quantity("failed guards", len(failures))],
                     note="; ".join(f.describe() for f in failures) + f". Guards: {stated}", key="validity-guards")
    out = [head]
    for c in checks:
        hit = [f for f in failures if not f.checks or c.key in f.checks]
        if hit:
            why = "; ".join(f.describe() for f in hit)
            said = "" if c.verdict is Verdict.INCONCLUSIVE else f" said {c.verdict.value}"
            c = Check(c.name, Verdict.INCONCLUSIVE, c.evidence,
                      note=f"not decided: {why}. The statistic alone{said}: {c.note}", key=c.key)
        out.append(c)
    return out


# ---------------------------------------------------------------- statistics as checks

def inconclusive(reason: str, quantities=()) -> Decision:
    return Decision(Verdict.INCONCLUSIVE, list(quantities), reason)


def effect(values, *, expected: str, name: str) -> Decision:
    """``stats.decide_effect`` (t-interval of the mean of paired differences), inconclusive without values."""
    values = [float(v) for v in values]
    if not values:
        return inconclusive(f"no pairs to compare for {name}")
    return decide_effect(values, expected=expected, name=name)


def correlation(x, y, *, expected: str, name: str, rng) -> Decision:
    """``stats.decide_correlation`` (Spearman, permutation p), inconclusive under 3 points."""
    if len(x) < 3:
        return inconclusive(f"{len(x)} points: a rank correlation needs at least 3", [Quantity("points (n)", len(x))])
    return decide_correlation(x, y, expected=expected, name=name, rng=rng)


def trend(groups, *, expected: str, name: str, rng) -> Decision:
    """``stats.decide_trend`` (Jonckheere–Terpstra over ordered groups), inconclusive under 2 non-empty groups."""
    groups = [list(map(float, g)) for g in groups if len(g)]
    if len(groups) < 2:
        return inconclusive(f"{len(groups)} non-empty group(s): a trend needs at least 2")
    return decide_trend(groups, expected=expected, name=name, rng=rng)


def combined_correlation(series, *, expected: str, name: str, rng, alpha: float = ALPHA) -> Decision:
    """Spearman's ρ within each series ``(label, x, y)`` (exact permutation p), combined by Fisher's method
    (module docstring). Confirmed when every ρ is in the expected direction and the combined p < α; refuted
    when every ρ is in the opposite direction and the opposite combined p < α."""
    sign = 1 if expected == "increasing" else -1
    usable = [(label, x, y) for label, x, y in series if len(x) >= 3]
    if not usable:
        return inconclusive(f"no series with at least 3 points for {name}")
    rows = []
    for label, x, y in usable:
        rho, p_gt, p_lt = spearman_permutation(x, y, rng=rng)
        p_ok, p_bad = (p_gt, p_lt) if sign > 0 else (p_lt, p_gt)
        rows.append((label, rho, p_ok, p_bad, len(x)))
    p_ok = float(_st.combine_pvalues([r[2] for r in rows], method="fisher").pvalue)
    p_bad = float(_st.combine_pvalues([r[3] for r in rows], method="fisher").pvalue)
    agree = all(np.isfinite(r[1]) and sign * r[1] > 0 for r in rows)
    oppose = all(np.isfinite(r[1]) and sign * r[1] < 0 for r in rows)
    quantities = [Quantity(f"Spearman ρ ({name}), {label}", rho, note=f"n = {n}, one-sided p = {p:.3g}")
                  for label, rho, p, _, n in rows]
    quantities += [Quantity(f"Fisher-combined one-sided p, {expected}", p_ok, bound=alpha, relation="<"),
                   Quantity("Fisher-combined one-sided p, opposite", p_bad), Quantity("series", len(rows))]
    if agree and p_ok < alpha:
        verdict = Verdict.CONFIRMED
    elif oppose and p_bad < alpha:
        verdict = Verdict.REFUTED
    else:
        verdict = Verdict.INCONCLUSIVE
    note = (f"ρ = {', '.join(f'{r[1]:.3f}' for r in rows)} over {len(rows)} series; Fisher-combined p = {p_ok:.3g} "
            f"({expected}), {p_bad:.3g} (opposite)")
    if verdict is Verdict.INCONCLUSIVE:
        smallest = min(1 / math.factorial(r[4]) for r in rows)
        note += (f"; not every series agrees, or the combined p is not below {alpha} (the smallest one-sided p of a "
                 f"series here is {smallest:.3g})")
    return Decision(verdict, quantities, note)


def decided(name: str, key: str, decision: Decision, *, settle: str = "", paper: str = "") -> Check:
    """A check from a ``Decision``; an inconclusive one says what would settle it, and ``paper`` gives the
    paper's own numbers beside ours."""
    note = decision.note
    if decision.verdict is Verdict.INCONCLUSIVE and settle:
        note += f"; would be settled by: {settle}"
    if paper:
        note += f". Paper: {paper}"
    return Check(name, decision.verdict, list(decision.quantities), note=note, key=key)


def summary(statement: str, checks: list[Check]) -> str:
    """One sentence per verdict: which checks confirmed, refuted or stayed inconclusive."""
    parts = []
    for verdict in (Verdict.CONFIRMED, Verdict.REFUTED, Verdict.INCONCLUSIVE):
        names = [c.name for c in checks if c.verdict is verdict and c.key != "validity-guards"]
        if names:
            parts.append(f"{verdict.value}: {'; '.join(names)}")
    guard = next((c for c in checks if c.key == "validity-guards"), None)
    if guard is not None and guard.verdict is Verdict.INCONCLUSIVE:
        parts.append(f"validity guards failed ({guard.note.split('. Guards:')[0]})")
    return f"{statement} — " + ". ".join(parts) + "."


def require_trained(guards: Guards, name, unit: Unit, *, train_loss: float | None, bound: float,
                    clean_acc: float | None = None, min_acc: float | None = None, checks=()) -> bool:
    """The run trained: its last training robust loss is below ``bound`` (and its clean test accuracy at least
    ``min_acc`` when given): a stalled or under-fitted model is no evidence about a trained one."""
    ok = train_loss is not None and math.isfinite(train_loss) and train_loss < bound
    detail = f"training robust loss {train_loss if train_loss is None else f'{train_loss:.4g}'} (bound < {bound:g})"
    if min_acc is not None:
        ok = ok and clean_acc is not None and clean_acc >= min_acc
        shown = clean_acc if clean_acc is None else f"{clean_acc:.3f}"
        detail += f", clean test accuracy {shown} (bound >= {min_acc:g})"
    guard = f"the model trained (training robust loss < {bound:g}" + (
        f", clean test accuracy >= {min_acc:g})" if min_acc is not None else ")")
    return guards.require(guard, ok, name=name, unit=unit, detail=detail, checks=checks)


def train_robust_loss(result) -> float | None:
    """The robust training loss at the end of the run: the ``eval-train`` measure if taken, else the last epoch's
    ``train_robust_loss``."""
    m = measured(result, "eval-train")
    value = m.get("robust_loss") if m else final(result).get("train_robust_loss")
    return None if value is None else float(value)


def clean_test_accuracy(result) -> float | None:
    """Clean test accuracy at the end: the ``eval-test`` measure if taken, else the last epoch's."""
    m = measured(result, "eval-test")
    value = m.get("clean_acc") if m else final(result).get("test_clean_acc")
    return None if value is None else float(value)


def trained_results(runs, names, results, guards: Guards, *, checks=()) -> dict:
    """``{name: result}`` of the named units of ``runs`` whose runs completed and trained (``require_trained`` with
    the bounds ``max_train_loss`` and, when given, ``min_clean_acc`` of ``runs.grid``)."""
    out = {}
    for name in names:
        unit = runs.units[name]
        r = guards.available(name, unit, results)
        if r is not None and require_trained(guards, name, unit, train_loss=train_robust_loss(r),
                                             bound=runs.grid["max_train_loss"], clean_acc=clean_test_accuracy(r),
                                             min_acc=runs.grid.get("min_clean_acc"), checks=checks):
            out[name] = r
    return out


# ---------------------------------------------------------------- the robust-overfitting zoo

ZOO_MEASURES = {"avg": "flatness-avg", "worst": "flatness-worst", "wu": "wu-curve"}


def snapshot_numbers(result, epoch: int | None = None) -> dict | None:
    """At a snapshot of a zoo run: robust loss and accuracy on the training subset and on the test images, the
    robust generalization gap (test − train robust loss) and the flatness values (``ZOO_MEASURES``: Stutz et al.'s
    average- and worst-case, Wu et al.'s curve rise); None when the evaluations were not taken."""
    train, test = measured(result, "eval-train", epoch), measured(result, "eval-test", epoch)
    if not train or not test:
        return None
    out = {"train_robust_loss": train["robust_loss"], "test_robust_loss": test["robust_loss"],
           "gap": test["robust_loss"] - train["robust_loss"], "train_robust_acc": train["robust_acc"],
           "test_robust_acc": test["robust_acc"], "test_clean_acc": test["clean_acc"]}
    for key, label in ZOO_MEASURES.items():
        m = measured(result, label, epoch)
        out[key] = None if m is None else float(m["value"])
    return out


def trajectory(result, epochs) -> dict[int, dict]:
    """{epoch: snapshot_numbers} over the snapshot ``epochs`` that were measured."""
    out = {}
    for e in epochs:
        numbers = snapshot_numbers(result, e)
        if numbers is not None:
            out[e] = numbers
    return out


def zoo_numbers(runs, results, epoch: int | None = None) -> dict:
    """{(method, seed): snapshot_numbers at ``epoch`` (default: the zoo epoch)} of every zoo member measured there,
    whatever its guards (for figures: they show every number)."""
    out, epoch = {}, runs.grid["zoo_epoch"] if epoch is None else epoch
    for name, unit in runs.units.items():
        numbers = snapshot_numbers(results[unit.key], epoch) if unit.key in results else None
        if numbers is not None:
            out[name] = numbers
    return out


def require_above_chance(guards: Guards, name, unit: Unit, numbers: dict, *, n: int, classes: int,
                         checks=()) -> bool:
    """The model trained at all, judged against chance rather than against a bound chosen per method: its robust
    training loss is below ln K (the cross-entropy of the uniform prediction over K classes) and its robust training
    accuracy is above 1/K with a one-sided binomial tail P(X >= k | n, 1/K) < ``CHANCE_ALPHA`` over the ``n``
    evaluated training images. Method-neutral: AWP and TRADES keep their training loss high on purpose (AWP's
    objective is the loss at w + v, not at w), so a fixed loss bound set for plain AT would mistake them for
    stalled runs."""
    loss, acc = numbers.get("train_robust_loss"), numbers.get("train_robust_acc")
    chance_loss = math.log(classes)
    ok = loss is not None and acc is not None and math.isfinite(loss) and loss < chance_loss
    p = binomial_tail(int(round(acc * n)), n, 1.0 / classes) if acc is not None else float("nan")
    ok = ok and p < CHANCE_ALPHA
    detail = (f"training robust loss {loss if loss is None else f'{loss:.4g}'} (ln {classes} = {chance_loss:.3f}), "
              f"robust training accuracy {acc if acc is None else f'{acc:.3f}'} over {n} images (binomial p = "
              f"{p:.2g} against chance 1/{classes})")
    return guards.require(f"the model trained (robust training loss < ln {classes} and robust training accuracy above "
                          f"chance, binomial p < {CHANCE_ALPHA:g})", ok, name=name, unit=unit, detail=detail,
                          checks=checks)


def zoo_models(runs, results, guards: Guards, *, checks=(), epoch: int | None = None) -> dict:
    """{(method, seed): snapshot_numbers at ``epoch`` (default: the zoo epoch)} of the zoo members that completed
    and trained (``require_above_chance`` on the training-subset evaluation; longer runs read at their snapshot)."""
    epoch, out = runs.grid["zoo_epoch"] if epoch is None else epoch, {}
    n, classes = runs.grid["eval_train"]["n"], runs.grid["classes"]
    for name, unit in runs.units.items():
        r = guards.available(name, unit, results)
        numbers = snapshot_numbers(r, epoch) if r is not None else None
        if r is not None and guards.require("the zoo epoch was measured", numbers is not None, name=name, unit=unit,
                                            detail=f"no evaluations at epoch {epoch}") and require_above_chance(
                guards, name, unit, numbers, n=n, classes=classes, checks=checks):
            out[name] = numbers
    return out


def gap_range_guard(guards: Guards, runs, models: dict, *, checks=()) -> None:
    """The zoo spans robust generalization gaps at least ``min_gap_range`` apart (else a correlation across it has
    little to rank); a failure names the member with the smallest gap."""
    if not models:
        return
    gaps = {n: m["gap"] for n, m in models.items()}
    smallest = min(gaps, key=gaps.get)
    span = max(gaps.values()) - gaps[smallest]
    guards.require(f"the zoo spans a gap range >= {runs.grid['min_gap_range']:g}", span >= runs.grid["min_gap_range"],
                   name=smallest, unit=runs.units[smallest], detail=f"gaps span {span:.3f}", checks=checks)
