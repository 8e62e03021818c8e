"""Statistics that decide empirical checks, fixed before any run.

Every decision has three outcomes, never two: **confirmed** when the evidence is clear of "no effect" in the
direction the paper states, **refuted** when it is clear of "no effect" in the opposite direction, and
**inconclusive** otherwise, with a note on the power the test had and what would settle it.

* ``decide_effect``: a mean difference over seeds with its two-sided Student-t confidence interval
  (paired designs pass the per-seed differences).
* ``decide_correlation``: Spearman's rank correlation with a permutation p-value (exact over all orderings
  when there are few points), one-sided in each direction.
* ``decide_trend``: the Jonckheere–Terpstra statistic for an ordered alternative across groups (e.g. λ_max
  per training ε, seeds within a group), permutation p-value.
* ``decide_count``: ``k`` of ``n`` paired comparisons in the stated direction against a fair coin
  (binomial tail).

Permutations use a generator the caller passes (a named stream), so the same seed gives the same p-values.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as _st

from .model import Quantity, Verdict

DIRECTIONS = ("increasing", "decreasing")


@dataclass(frozen=True)
class Decision:
    """A verdict with the numbers that decided it and a note on power."""

    verdict: Verdict
    quantities: list[Quantity] = field(default_factory=list)
    note: str = ""


def _check_direction(expected: str) -> int:
    if expected not in DIRECTIONS:
        raise ValueError(f"expected must be one of {DIRECTIONS}, got {expected!r}")
    return 1 if expected == "increasing" else -1


def _finite(values, what: str) -> np.ndarray:
    a = np.asarray(values, dtype=float).ravel()
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{what} holds a non-finite value: {a.tolist()}")
    return a


def mean_interval(values, *, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided Student-t interval ``mean ± t_{(1+level)/2, n-1} s / sqrt(n)``; (mean, -inf, inf)
    for fewer than two values."""
    a = _finite(values, "values")
    if a.size == 0:
        raise ValueError("no values")
    m = float(a.mean())
    if a.size < 2:
        return m, -math.inf, math.inf
    half = float(_st.t.ppf((1 + level) / 2, a.size - 1) * a.std(ddof=1) / math.sqrt(a.size))
    return m, m - half, m + half


def _verdict(sign_ok: bool, sign_bad: bool) -> Verdict:
    if sign_ok:
        return Verdict.CONFIRMED
    if sign_bad:
        return Verdict.REFUTED
    return Verdict.INCONCLUSIVE


def decide_effect(differences, *, expected: str, name: str, level: float = 0.95) -> Decision:
    """Is the mean of ``differences`` (e.g. per-seed ``metric(A) - metric(B)``) above zero (``expected =
    "increasing"``) or below it (``"decreasing"``)? Confirmed when the t-interval excludes 0 on the expected
    side, refuted when it excludes 0 on the other side."""
    sign = _check_direction(expected)
    d = _finite(differences, name)
    m, lo, hi = mean_interval(d, level=level)
    ok = lo > 0 if sign > 0 else hi < 0
    bad = hi < 0 if sign > 0 else lo > 0
    quantities = [Quantity(f"mean {name}", m),
                  Quantity(f"{level:.0%} CI {'lower' if sign > 0 else 'upper'} end of {name}",
                           lo if sign > 0 else hi, bound=0.0, relation=">" if sign > 0 else "<"),
                  Quantity(f"{level:.0%} CI {'upper' if sign > 0 else 'lower'} end of {name}", hi if sign > 0 else lo),
                  Quantity("seeds (n)", d.size)]
    note = f"mean {m:.4g}, {level:.0%} t-interval [{lo:.4g}, {hi:.4g}] over n = {d.size}"
    verdict = _verdict(ok, bad)
    if verdict is Verdict.INCONCLUSIVE:
        note += "; " + _seeds_needed(d, level)
    return Decision(verdict, quantities, note)


def _seeds_needed(d: np.ndarray, level: float) -> str:
    if d.size < 2:
        return "one value gives no interval: needs at least 2 seeds (3 or more to have power)"
    sd, m = float(d.std(ddof=1)), abs(float(d.mean()))
    if m == 0 or sd == 0:
        return "no effect seen at this scale"
    z = _st.norm.ppf((1 + level) / 2)
    n = math.ceil((z * sd / m) ** 2) + 1
    return f"an effect of this size and spread would need about {max(n, d.size + 1)} seeds to clear zero"


def spearman_permutation(x, y, *, rng: np.random.Generator, n_resamples: int = 5000) -> tuple[float, float, float]:
    """Spearman's ρ of (x, y) and its one-sided permutation p-values ``(rho, p_greater, p_less)``: exact over all
    n! orderings of y when n! <= n_resamples, else Monte Carlo with ``rng`` (p = (1 + #{ρ* >= ρ}) / (1 + R))."""
    xa, ya = _finite(x, "x"), _finite(y, "y")
    if xa.size != ya.size or xa.size < 3:
        raise ValueError(f"x and y need the same length >= 3, got {xa.size} and {ya.size}")
    rx, ry = _st.rankdata(xa), _st.rankdata(ya)
    if np.ptp(rx) == 0 or np.ptp(ry) == 0:
        return math.nan, 1.0, 1.0

    def rho(r):
        return float(np.corrcoef(rx, r)[0, 1])

    observed = rho(ry)
    if math.factorial(xa.size) <= n_resamples:
        null = np.array([rho(np.asarray(p)) for p in itertools.permutations(ry)])
        p_greater = float(np.mean(null >= observed - 1e-12))
        p_less = float(np.mean(null <= observed + 1e-12))
    else:
        null = np.array([rho(rng.permutation(ry)) for _ in range(n_resamples)])
        p_greater = float((1 + np.sum(null >= observed - 1e-12)) / (1 + n_resamples))
        p_less = float((1 + np.sum(null <= observed + 1e-12)) / (1 + n_resamples))
    return observed, p_greater, p_less


def _min_p_note(n_points: int, alpha: float) -> str:
    """The smallest one-sided permutation p a rank statistic over ``n_points`` distinct values can reach."""
    smallest = 1 / math.factorial(n_points) if n_points <= 12 else 0.0
    if smallest >= alpha:
        need = next(k for k in range(n_points + 1, 13) if 1 / math.factorial(k) < alpha)
        return f"with {n_points} points the smallest attainable p is {smallest:.3g} >= {alpha}: needs >= {need} points"
    return ""


def decide_correlation(x, y, *, expected: str, name: str, rng: np.random.Generator, alpha: float = 0.05,
                       n_resamples: int = 5000) -> Decision:
    """Does y rise with x (``expected="increasing"``) or fall? Confirmed when the one-sided permutation p of
    Spearman's ρ in the expected direction is below ``alpha``, refuted when the opposite one-sided p is."""
    sign = _check_direction(expected)
    r, p_gt, p_lt = spearman_permutation(x, y, rng=rng, n_resamples=n_resamples)
    p_ok, p_bad = (p_gt, p_lt) if sign > 0 else (p_lt, p_gt)
    quantities = [Quantity(f"Spearman ρ ({name})", r),
                  Quantity(f"one-sided p, {expected}", p_ok, bound=alpha, relation="<"),
                  Quantity("one-sided p, opposite", p_bad), Quantity("points (n)", len(np.ravel(x)))]
    verdict = _verdict(p_ok < alpha, p_bad < alpha)
    note = f"ρ = {r:.3f}, p = {p_ok:.3g} ({expected}), {p_bad:.3g} (opposite), n = {len(np.ravel(x))}"
    if verdict is Verdict.INCONCLUSIVE:
        extra = _min_p_note(len(np.ravel(x)), alpha)
        note += "; " + (extra or "no significant rank correlation at this scale")
    return Decision(verdict, quantities, note)


def jonckheere(groups) -> float:
    """Jonckheere–Terpstra statistic ``J = sum_{i<j} sum_{a in g_i, b in g_j} [a < b] + ½[a = b]`` for groups in
    their hypothesised increasing order (Jonckheere 1954)."""
    total = 0.0
    for i in range(len(groups)):
        for j in range(i + 1, len(groups)):
            a, b = np.asarray(groups[i])[:, None], np.asarray(groups[j])[None, :]
            total += float(np.sum(a < b) + 0.5 * np.sum(a == b))
    return total


def decide_trend(groups, *, expected: str, name: str, rng: np.random.Generator, alpha: float = 0.05,
                 n_resamples: int = 5000) -> Decision:
    """A monotone trend across ordered groups (e.g. values per training ε, one per seed): the Jonckheere–
    Terpstra statistic with a permutation p-value (group labels shuffled, sizes kept), one-sided each way."""
    sign = _check_direction(expected)
    gs = [_finite(g, f"{name} group {k}") for k, g in enumerate(groups)]
    if len(gs) < 2 or any(g.size == 0 for g in gs):
        raise ValueError(f"a trend needs >= 2 non-empty groups, got sizes {[g.size for g in gs]}")
    pooled, sizes = np.concatenate(gs), [g.size for g in gs]
    cuts = np.cumsum(sizes)[:-1]
    observed = jonckheere(gs)
    null = np.array([jonckheere(np.split(rng.permutation(pooled), cuts)) for _ in range(n_resamples)])
    p_inc = float((1 + np.sum(null >= observed - 1e-9)) / (1 + n_resamples))
    p_dec = float((1 + np.sum(null <= observed + 1e-9)) / (1 + n_resamples))
    pairs = sum(a * b for a, b in itertools.combinations(sizes, 2))
    p_ok, p_bad = (p_inc, p_dec) if sign > 0 else (p_dec, p_inc)
    quantities = [Quantity(f"Jonckheere J ({name})", observed, note=f"of {pairs} ordered pairs"),
                  Quantity(f"one-sided p, {expected}", p_ok, bound=alpha, relation="<"),
                  Quantity("one-sided p, opposite", p_bad), Quantity("groups", len(gs)),
                  Quantity("values", int(pooled.size))]
    verdict = _verdict(p_ok < alpha, p_bad < alpha)
    note = f"J = {observed:g} of {pairs} pairs, p = {p_ok:.3g} ({expected}), {p_bad:.3g} (opposite)"
    if verdict is Verdict.INCONCLUSIVE:
        note += "; no significant monotone trend at this scale (more seeds per group would add power)"
    return Decision(verdict, quantities, note)


def binomial_tail(k: int, n: int, p0: float = 0.5) -> float:
    """``P(X >= k)`` for ``X ~ Binomial(n, p0)``."""
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    return float(_st.binom.sf(k - 1, n, p0))


def decide_count(k: int, n: int, *, name: str, alpha: float = 0.05) -> Decision:
    """``k`` of ``n`` paired comparisons went the stated way. Confirmed when ``P(X >= k) < alpha`` under a fair
    coin, refuted when ``P(X <= k) < alpha``."""
    p_ok, p_bad = binomial_tail(k, n), binomial_tail(n - k, n)
    quantities = [Quantity(f"{name}: in the stated direction", k, note=f"of {n}"),
                  Quantity("binomial tail P(X >= k | ½)", p_ok, bound=alpha, relation="<"),
                  Quantity("binomial tail, opposite", p_bad)]
    verdict = _verdict(p_ok < alpha, p_bad < alpha)
    note = f"{k} of {n}, p = {p_ok:.3g}"
    if verdict is Verdict.INCONCLUSIVE:
        need = next((m for m in range(1, 64) if binomial_tail(m, m) < alpha), None)
        note += f"; even {need} of {need} is needed at the least to reach p < {alpha}"
    return Decision(verdict, quantities, note)
