"""Stutz et al. flatness: scale invariance of the relative measures (common random numbers) against the
absolute ball and the Hessian, first-order worst case on a linear model, zero at xi = 0, normalization
layers never perturbed, state untouched in both BN modes."""
import copy
import functools

import pytest
import torch
from torch import nn

from advland.empirical.attacks import pgd
from advland.empirical.core.params import select_params
from advland.empirical.core.state import snapshot, state_equal
from advland.empirical.landscape.flatness import average_flatness, radii, sphere_sample, worst_flatness
from advland.empirical.landscape.hessian import top_eigenvector

ATTACK = functools.partial(pgd, eps=0.05, steps=2)


def bn_relu_net(dtype=torch.float64):
    """Every non-BN tensor feeds a BatchNorm (the logits are a BatchNorm1d output)."""
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                      nn.Linear(12, 4), nn.BatchNorm1d(4)).to(dtype)
    with torch.no_grad():
        m.train()(torch.rand(32, 2, 4, 4, dtype=dtype))
    return m.eval()


def scaled(model, alpha):
    """Multiply every tensor feeding a BN layer by alpha and adjust that BN (running mean x alpha, running
    var and eps x alpha^2), so that the eval-mode function is unchanged."""
    m = copy.deepcopy(model)
    with torch.no_grad():
        for layer, bn in ((m[0], m[1]), (m[4], m[5])):
            layer.weight.mul_(alpha)
            layer.bias.mul_(alpha)
            bn.running_mean.mul_(alpha)
            bn.running_var.mul_(alpha ** 2)
            bn.eps *= alpha ** 2
    return m


@pytest.mark.parametrize("alpha", [0.5, 4.0])
def test_scaling_keeps_the_function(alpha, bn_data):
    for dtype in (torch.float32, torch.float64):
        model, (x, _) = bn_relu_net(dtype), bn_data(16, dtype=dtype)
        torch.testing.assert_close(scaled(model, alpha)(x), model(x), rtol=0, atol=1e-5)


@pytest.mark.parametrize("alpha", [0.5, 4.0])
def test_relative_flatness_is_scale_invariant_absolute_and_hessian_are_not(alpha, bn_data):
    model, (x, y) = bn_relu_net(), bn_data(16)
    other = scaled(model, alpha)
    for attack in (None, ATTACK):
        a, b = (average_flatness(m, x, y, xi=0.5, samples=2, attack=attack, seed=4) for m in (model, other))
        assert b["flatness"] == pytest.approx(a["flatness"], rel=1e-6, abs=1e-9)
        assert b["values"] == pytest.approx(a["values"], rel=1e-6)
    for eps in (0.0, 0.05):
        a, b = (worst_flatness(m, x, y, xi=0.01, eps=eps, steps=2, attempts=2, seed=5) for m in (model, other))
        assert a["flatness"] > 0
        assert b["flatness"] == pytest.approx(a["flatness"], rel=1e-6)
    a, b = (average_flatness(m, x, y, xi=0.5, samples=3, ball="absolute", seed=4)["flatness"]
            for m in (model, other))
    assert abs(b - a) > 0.05 * abs(a)
    a, b = (worst_flatness(m, x, y, xi=0.01, steps=3, attempts=2, ball="absolute", seed=5)["flatness"]
            for m in (model, other))
    assert abs(b - a) > 0.05 * abs(a)
    # weights only = conv and linear kernels, all feeding BN: H scales exactly by 1 / alpha^2
    lam, lam_scaled = (top_eigenvector(m, x, y, params="weights", tol=1e-6, method="double_backward")[0]
                       for m in (model, other))
    assert lam_scaled == pytest.approx(lam / alpha ** 2, rel=1e-5)


def test_relative_flatness_is_invariant_to_relu_rescaling_without_bn(bn_data):
    """Layer 1 (weight and bias) x alpha and layer 2 weight / alpha: the same function by positive
    homogeneity of ReLU, and the relative balls move with it (Stutz et al. §3.1)."""
    torch.manual_seed(2)
    model = nn.Sequential(nn.Flatten(), nn.Linear(32, 6), nn.ReLU(), nn.Linear(6, 4)).double()
    other = copy.deepcopy(model)
    with torch.no_grad():
        other[1].weight.mul_(3.0)
        other[1].bias.mul_(3.0)
        other[3].weight.div_(3.0)
    x, y = bn_data(16)
    torch.testing.assert_close(other(x), model(x))
    a, b = (average_flatness(m, x, y, xi=0.3, samples=2, attack=ATTACK, seed=1) for m in (model, other))
    assert b["flatness"] == pytest.approx(a["flatness"], rel=1e-6)
    a, b = (worst_flatness(m, x, y, xi=0.01, eps=0.05, steps=2, attempts=1, seed=1) for m in (model, other))
    assert b["flatness"] == pytest.approx(a["flatness"], rel=1e-6)


def test_worst_case_on_linear_model_matches_first_order_optimum():
    """Clean CE of a linear model, small relative ball: max over ||nu_t|| <= r_t of g . nu = sum_t r_t ||g_t||."""
    torch.manual_seed(0)
    model = nn.Linear(5, 3).double()
    x, y = torch.randn(40, 5, dtype=torch.float64), torch.randint(0, 3, (40,))
    xi = 1e-5
    loss = nn.functional.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    predicted = sum(xi * float(p.detach().norm()) * float(g.norm()) for p, g in zip(model.parameters(), grads))
    res = worst_flatness(model, x, y, xi=xi, steps=5, attempts=1, batch_size=40)
    assert res["flatness"] == pytest.approx(predicted, rel=1e-3)
    assert res["loss"] == "clean"


def test_worst_case_input_step_defaults_to_stutz_value(bn_data):
    """Stutz et al. (examples/worst_robust_flatness.py): input_lr 0.007 at epsilon 0.0314; scaled with eps."""
    model, (x, y) = bn_relu_net(), bn_data(16)
    kw = dict(xi=0.01, steps=2, attempts=1, seed=3)
    default = worst_flatness(model, x, y, eps=0.0314, **kw)
    assert default["input_step"] == pytest.approx(0.007)
    explicit = worst_flatness(model, x, y, eps=0.0314, input_step=0.007, **kw)
    assert explicit["value"] == pytest.approx(default["value"], rel=1e-12)
    quarter = worst_flatness(model, x, y, eps=0.0314, input_step=0.0314 / 4, **kw)
    assert quarter["value"] != default["value"] and quarter["input_step"] == pytest.approx(0.00785)
    assert worst_flatness(model, x, y, eps=0.1, **kw)["input_step"] == pytest.approx(0.1 * 0.007 / 0.0314)


def test_zero_radius_gives_zero_flatness(bn_data):
    model, (x, y) = bn_relu_net(), bn_data(16)
    assert average_flatness(model, x, y, xi=0.0, samples=2, attack=ATTACK)["flatness"] == 0.0
    assert worst_flatness(model, x, y, xi=0.0, eps=0.05, steps=2, attempts=2)["flatness"] == 0.0


def test_spheres_and_radii():
    model = bn_relu_net()
    params = select_params(model, "no-norm")
    rad = radii(params, 0.3, "relative")
    g = torch.Generator().manual_seed(0)
    for nu, r, (_, p) in zip(sphere_sample(params, rad, g), rad, params):
        assert float(nu.norm()) == pytest.approx(r, rel=1e-12) and r == pytest.approx(0.3 * float(p.detach().norm()))
    for nu, r in zip(sphere_sample(params, rad, g, inside=True), rad):
        assert float(nu.norm()) <= r * (1 + 1e-12)
    assert radii(params, 0.3, "absolute") == [0.3] * len(params)


@pytest.mark.parametrize("bn_mode", ["eval", "train"])
def test_state_untouched_and_normalization_layers_excluded(bn_mode, bn_data):
    model, (x, y) = bn_relu_net(), bn_data(16)
    model.train()
    before = snapshot(model)
    avg = average_flatness(model, x, y, xi=0.5, samples=2, attack=ATTACK, bn_mode=bn_mode)
    worst = worst_flatness(model, x, y, xi=0.01, eps=0.05, steps=2, attempts=1, bn_mode=bn_mode)
    assert state_equal(before, snapshot(model))
    for res in (avg, worst):
        assert res["params"] == ["0.weight", "0.bias", "4.weight", "4.bias"] and res["bn_mode"] == bn_mode


def test_rejects_bad_settings(bn_data):
    model, (x, y) = bn_relu_net(), bn_data(16)
    with pytest.raises(ValueError, match="xi"):
        average_flatness(model, x, y, xi=-0.1)
    with pytest.raises(ValueError, match="ball"):
        average_flatness(model, x, y, ball="sphere")
    with pytest.raises(ValueError, match="samples"):
        average_flatness(model, x, y, samples=0)
    with pytest.raises(ValueError, match="eps"):
        worst_flatness(model, x, y, eps=-1.0)
    with pytest.raises(ValueError, match="steps"):
        worst_flatness(model, x, y, steps=0)
    with pytest.raises(ValueError, match="bn_mode"):
        worst_flatness(model, x, y, bn_mode="frozen")
