"""advland.claims.stats: three-way decisions that can confirm, refute and stay inconclusive, and p-values that
agree with direct computation."""
import math
from itertools import permutations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import stats as sst

from advland.claims.model import Verdict
from advland.claims.stats import (binomial_tail, decide_correlation, decide_count, decide_effect, decide_trend,
                                  jonckheere, mean_interval, spearman_permutation)

finite = st.floats(-100, 100, allow_nan=False, allow_infinity=False)
OPPOSITE = {Verdict.CONFIRMED: Verdict.REFUTED, Verdict.REFUTED: Verdict.CONFIRMED,
            Verdict.INCONCLUSIVE: Verdict.INCONCLUSIVE}


@given(st.lists(finite, min_size=2, max_size=12))
def test_effect_is_antisymmetric_in_the_sign_of_the_data(d):
    up = decide_effect(d, expected="increasing", name="Δ").verdict
    assert decide_effect([-x for x in d], expected="increasing", name="Δ").verdict is OPPOSITE[up]
    assert decide_effect(d, expected="decreasing", name="Δ").verdict is OPPOSITE[up]


@given(st.lists(finite, min_size=2, max_size=12))
def test_interval_contains_the_mean_and_matches_scipy(d):
    m, lo, hi = mean_interval(d)
    assert lo <= m + 1e-9 and m <= hi + 1e-9
    if np.std(d) > 0:
        ref = sst.t.interval(0.95, len(d) - 1, loc=np.mean(d), scale=sst.sem(d))
        assert lo == pytest.approx(ref[0], rel=1e-9, abs=1e-9) and hi == pytest.approx(ref[1], rel=1e-9, abs=1e-9)


def test_effect_three_outcomes():
    assert decide_effect([1.0, 1.2, 0.9, 1.1], expected="increasing", name="Δ").verdict is Verdict.CONFIRMED
    assert decide_effect([-1.0, -1.2, -0.9], expected="increasing", name="Δ").verdict is Verdict.REFUTED
    noisy = decide_effect([1.0, -0.8, 0.3], expected="increasing", name="Δ")
    assert noisy.verdict is Verdict.INCONCLUSIVE and "seeds" in noisy.note
    one = decide_effect([5.0], expected="increasing", name="Δ")
    assert one.verdict is Verdict.INCONCLUSIVE and "at least 2 seeds" in one.note


def test_spearman_exact_p_is_one_over_n_factorial_for_a_perfect_order():
    rng = np.random.default_rng(0)
    rho, p_gt, p_lt = spearman_permutation([1, 2, 3, 4, 5], [2, 4, 6, 8, 10], rng=rng)
    assert rho == pytest.approx(1.0) and p_gt == pytest.approx(1 / 120) and p_lt == pytest.approx(1.0)


@settings(max_examples=20)
@given(st.permutations(range(5)))
def test_spearman_exact_p_counts_permutations(y):
    x = list(range(5))
    rho, p_gt, _ = spearman_permutation(x, y, rng=np.random.default_rng(0))
    null = [sst.spearmanr(x, p).statistic for p in permutations(y)]
    assert rho == pytest.approx(sst.spearmanr(x, y).statistic)
    assert p_gt == pytest.approx(np.mean([r >= rho - 1e-12 for r in null]))


def test_correlation_with_three_points_can_never_decide():
    d = decide_correlation([1, 2, 3], [1, 2, 3], expected="increasing", name="g", rng=np.random.default_rng(0))
    assert d.verdict is Verdict.INCONCLUSIVE and "smallest attainable p" in d.note


def test_correlation_three_outcomes():
    rng = np.random.default_rng(1)
    x = np.arange(10.0)
    assert decide_correlation(x, x + rng.normal(0, 0.1, 10), expected="increasing", name="g",
                              rng=rng).verdict is Verdict.CONFIRMED
    assert decide_correlation(x, -x, expected="increasing", name="g", rng=rng).verdict is Verdict.REFUTED


def test_jonckheere_counts_ordered_pairs():
    assert jonckheere([[1, 2], [3, 4]]) == 4
    assert jonckheere([[3, 4], [1, 2]]) == 0
    assert jonckheere([[1], [1]]) == 0.5


@settings(max_examples=10)
@given(st.integers(0, 2**31 - 1))
def test_trend_decides_both_ways_and_shuffled_labels_rarely_confirm(seed):
    rng = np.random.default_rng(seed)
    groups = [rng.normal(mu, 0.1, 3) for mu in (0, 1, 2, 3)]
    assert decide_trend(groups, expected="increasing", name="λ", rng=rng, n_resamples=500).verdict is Verdict.CONFIRMED
    assert decide_trend(groups[::-1], expected="increasing", name="λ", rng=rng,
                        n_resamples=500).verdict is Verdict.REFUTED


def test_trend_under_the_null_is_mostly_inconclusive():
    rng = np.random.default_rng(7)
    verdicts = [decide_trend([rng.normal(0, 1, 3) for _ in range(4)], expected="increasing", name="λ", rng=rng,
                             n_resamples=200).verdict for _ in range(60)]
    assert verdicts.count(Verdict.CONFIRMED) <= 9          # ≈ 5 % expected; 9 of 60 has binomial tail < 1 %


@given(st.integers(1, 30), st.data())
def test_binomial_tail_matches_the_sum(n, data):
    k = data.draw(st.integers(0, n))
    direct = sum(math.comb(n, j) for j in range(k, n + 1)) / 2**n
    assert binomial_tail(k, n) == pytest.approx(direct, rel=1e-9)


def test_count_decisions():
    assert decide_count(6, 6, name="pairs").verdict is Verdict.CONFIRMED
    assert decide_count(0, 6, name="pairs").verdict is Verdict.REFUTED
    small = decide_count(3, 3, name="pairs")
    assert small.verdict is Verdict.INCONCLUSIVE and "5 of 5" in small.note


def test_bad_input_is_an_error():
    with pytest.raises(ValueError, match="expected"):
        decide_effect([1, 2], expected="up", name="Δ")
    with pytest.raises(ValueError, match="non-finite"):
        decide_effect([1, float("nan")], expected="increasing", name="Δ")
