"""Liu et al. (2020) PAS eps schedules and the LR schedules: shape properties and the defining formulas."""
import math

import pytest
from hypothesis import given, strategies as st

from advland.empirical.train.schedules import eps_at, liu_mnist_attack, lr_at

targets = st.floats(0.0, 1.0)
periods = st.lists(st.integers(1, 50), min_size=1, max_size=4).map(
    lambda lengths: [0] + [sum(lengths[:i + 1]) for i in range(len(lengths))])


@given(target=targets, periods=periods, u=st.floats(0, 1), kind=st.sampled_from(["const", "cos", "linear"]))
def test_eps_never_exceeds_the_target_and_is_nonnegative(target, periods, u, kind):
    t = u * periods[-1]
    e = eps_at(t, kind=kind, target=target, periods=periods)
    assert 0.0 <= e <= target
    if kind == "const":
        assert e == target


@given(target=st.floats(0.01, 1.0), periods=periods, kind=st.sampled_from(["cos", "linear"]),
       a=st.floats(0, 1), b=st.floats(0, 1))
def test_ramp_is_monotone_within_a_period_and_restarts_at_boundaries(target, periods, kind, a, b):
    lo, hi = periods[-2], periods[-1]
    ta, tb = sorted((lo + a * (hi - lo) * 0.999, lo + b * (hi - lo) * 0.999))
    assert eps_at(ta, kind=kind, target=target, periods=periods) <= eps_at(tb, kind=kind, target=target,
                                                                           periods=periods) + 1e-12
    for boundary in periods[:-1]:
        assert eps_at(boundary, kind=kind, target=target, periods=periods) == 0.0


@given(target=st.floats(0.01, 1.0), s=st.floats(0, 0.999), over=st.floats(1.0, 3.0))
def test_formulas_with_overshoot_and_clipping(target, s, over):
    T = 40
    e_cos = eps_at(s * T, kind="cos", target=target, periods=[0, T], eps_max=over * target)
    e_lin = eps_at(s * T, kind="linear", target=target, periods=[0, T], eps_max=over * target)
    assert math.isclose(e_cos, min(target, 0.5 * over * target * (1 - math.cos(math.pi * s))), rel_tol=1e-9,
                        abs_tol=1e-12)
    assert math.isclose(e_lin, min(target, over * target * s), rel_tol=1e-9, abs_tol=1e-12)


def test_default_overshoot_reaches_the_target_before_the_period_ends():
    # Liu's MNIST setting: target 0.4, eps_max 0.6 (cos) and 0.8 (linear) over 100 epochs
    cos = [eps_at(t, kind="cos", target=0.4, periods=[0, 100]) for t in range(100)]
    lin = [eps_at(t, kind="linear", target=0.4, periods=[0, 100]) for t in range(100)]
    assert eps_at(60, kind="cos", target=0.4, periods=[0, 100], eps_max=0.6) == pytest.approx(cos[60])
    assert lin[50] == pytest.approx(0.4) and lin[49] < 0.4 and max(lin) == pytest.approx(0.4)
    first_cos = next(t for t, e in enumerate(cos) if e >= 0.4 - 1e-12)
    assert 60 <= first_cos <= 62                  # 0.3 (1 - cos(pi s)) = 0.4  <=>  s = acos(-1/3)/pi = 0.608


def test_lr_schedules_restart_in_every_period():
    p = [0, 100, 150, 200]
    assert lr_at(10, kind="const", base=0.1, periods=p) == 0.1
    assert lr_at(49, kind="piecewise", base=0.1, periods=p) == 0.1
    assert lr_at(60, kind="piecewise", base=0.1, periods=p) == pytest.approx(0.01)
    assert lr_at(80, kind="piecewise", base=0.1, periods=p) == pytest.approx(0.001)
    assert lr_at(100, kind="piecewise", base=0.1, periods=p) == 0.1       # periodic restart
    assert lr_at(125, kind="cos", base=0.1, periods=p) == pytest.approx(0.05)


@pytest.mark.parametrize("bad", [
    dict(kind="exp", target=0.1, periods=[0, 10]),
    dict(kind="cos", target=-0.1, periods=[0, 10]),
    dict(kind="cos", target=0.3, periods=[0, 10], eps_max=0.2),
    dict(kind="cos", target=0.1, periods=[0]),
    dict(kind="cos", target=0.1, periods=[1, 10]),
    dict(kind="cos", target=0.1, periods=[0, 10, 5]),
])
def test_bad_schedules_are_value_errors(bad):
    with pytest.raises(ValueError):
        eps_at(1.0, **bad)
    with pytest.raises(ValueError):
        lr_at(1.0, kind="step", base=0.1, periods=[0, 10])


def test_liu_mnist_attack_rule():
    assert liu_mnist_attack(0.4) == (50, 0.01)
    assert liu_mnist_attack(0.1) == (20, 0.01)
    with pytest.raises(ValueError):
        liu_mnist_attack(-0.1)
