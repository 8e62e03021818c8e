"""Liu et al. (2020) PAS eps schedules and the LR schedules: shape properties, the defining formulas and the
over-shoot of the official runs per data set."""
import math

import pytest
from hypothesis import given, strategies as st

from advland.empirical.train.config import TrainConfig
from advland.empirical.train.schedules import OVERSHOOT, default_eps_max, eps_at, liu_mnist_attack, lr_at

targets = st.floats(0.0, 1.0)
periods = st.lists(st.integers(1, 50), min_size=1, max_size=4).map(
    lambda lengths: [0] + [sum(lengths[:i + 1]) for i in range(len(lengths))])


datasets = st.sampled_from(["mnist", "cifar10", "other"])


@given(target=targets, periods=periods, u=st.floats(0, 1), kind=st.sampled_from(["const", "cos", "linear"]),
       dataset=datasets)
def test_eps_never_exceeds_the_target_and_is_nonnegative(target, periods, u, kind, dataset):
    t = u * periods[-1]
    e = eps_at(t, kind=kind, target=target, periods=periods, eps_max=default_eps_max(kind, target, dataset))
    assert 0.0 <= e <= target
    if kind == "const":
        assert e == target


@given(target=st.floats(0.01, 1.0), periods=periods, kind=st.sampled_from(["cos", "linear"]),
       a=st.floats(0, 1), b=st.floats(0, 1), dataset=datasets)
def test_ramp_is_monotone_within_a_period_and_restarts_at_boundaries(target, periods, kind, a, b, dataset):
    lo, hi = periods[-2], periods[-1]
    ta, tb = sorted((lo + a * (hi - lo) * 0.999, lo + b * (hi - lo) * 0.999))
    kw = dict(kind=kind, target=target, periods=periods, eps_max=default_eps_max(kind, target, dataset))
    assert eps_at(ta, **kw) <= eps_at(tb, **kw) + 1e-12
    for boundary in periods[:-1]:
        assert eps_at(boundary, **kw) == 0.0


@given(target=st.floats(0.01, 1.0), s=st.floats(0, 0.999), over=st.floats(1.0, 3.0))
def test_formulas_with_overshoot_and_clipping(target, s, over):
    T = 40
    e_cos = eps_at(s * T, kind="cos", target=target, periods=[0, T], eps_max=over * target)
    e_lin = eps_at(s * T, kind="linear", target=target, periods=[0, T], eps_max=over * target)
    assert math.isclose(e_cos, min(target, 0.5 * over * target * (1 - math.cos(math.pi * s))), rel_tol=1e-9,
                        abs_tol=1e-12)
    assert math.isclose(e_lin, min(target, over * target * s), rel_tol=1e-9, abs_tol=1e-12)


# (data set, schedule, target, eps_max) in the names of Liu et al.'s official checkpoints
# (github.com/liuchen11/AdversaryLossLandscape models/): lenet_16_eps0.4_max0.6 (cosine), ..._max0.8 (linear),
# resnet_8_eps8_wd1e-3_max16 and vgg_8_eps8_wd1e-3_max16 (cosine and linear; eps in 1/255)
OFFICIAL_CHECKPOINTS = [("mnist", "cos", 0.4, 0.6), ("mnist", "linear", 0.4, 0.8),
                        ("cifar10", "cos", 8 / 255, 16 / 255), ("cifar10", "linear", 8 / 255, 16 / 255)]


@pytest.mark.parametrize("dataset,kind,target,eps_max", OFFICIAL_CHECKPOINTS)
def test_default_overshoot_is_the_official_one_per_data_set(dataset, kind, target, eps_max):
    assert default_eps_max(kind, target, dataset) == pytest.approx(eps_max)
    cfg = TrainConfig(model="lenet", dataset=dataset, method="at", eps=target, schedule=kind, epochs=100).resolved()
    assert cfg.eps_max == pytest.approx(eps_max)                          # filled in and recorded in config.json
    ramp = [eps_at(t, kind=kind, target=target, periods=[0, 100], eps_max=cfg.eps_max) for t in range(100)]
    first = next(t for t, e in enumerate(ramp) if e >= target * (1 - 1e-12))
    # the ramp reaches the target where eps_max * r(s) = target: r = s (linear), (1 - cos(pi s)) / 2 (cos)
    s_star = target / eps_max if kind == "linear" else math.acos(1 - 2 * target / eps_max) / math.pi
    assert first == math.ceil(100 * s_star - 1e-9) and max(ramp) == pytest.approx(target)
    assert TrainConfig(model="lenet", dataset=dataset, method="at", eps=target).resolved().eps_max is None


def test_cifar10_ramps_reach_the_target_at_mid_period_and_other_data_sets_follow_them():
    assert set(OVERSHOOT) == {d for d, *_ in OFFICIAL_CHECKPOINTS}
    for kind in ("cos", "linear"):
        kw = dict(kind=kind, target=0.1, periods=[0, 10], eps_max=default_eps_max(kind, 0.1, "cifar10"))
        assert eps_at(4.999, **kw) < 0.1 and eps_at(5.0, **kw) == pytest.approx(0.1)
        assert default_eps_max(kind, 0.1, "svhn") == default_eps_max(kind, 0.1, "cifar10")
    assert default_eps_max("const", 0.1, "mnist") is None
    with pytest.raises(ValueError, match="needs eps_max"):
        eps_at(1.0, kind="cos", target=0.1, periods=[0, 10])


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
