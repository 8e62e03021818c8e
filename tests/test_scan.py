"""Scans: agreement with an independent move of a copy, frozen vs regenerated at theta, BN mode recorded,
state untouched in both BN modes, BN recalibration, second difference along the unit top eigenvector."""
import copy
import functools

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

from advland.empirical.attacks import pgd
from advland.empirical.core.params import select_params
from advland.empirical.core.state import snapshot, state_equal
from advland.empirical.evaluate import evaluate, loss_and_accuracy
from advland.empirical.landscape.directions import random_direction
from advland.empirical.landscape.hessian import top_eigen_direction
from advland.empirical.landscape.scan import ATTACK_STREAM, curvature_check, recalibrate_bn, scan
from advland.seeding import torch_generator

ATTACK = functools.partial(pgd, eps=0.1, steps=3)


def moved_copy(model, which, terms):
    m = copy.deepcopy(model)
    with torch.no_grad():
        for i, (_, p) in enumerate(select_params(m, which)):
            for c, d in terms:
                p.add_(c * d[i])
    return m


def test_grid_values_match_an_independently_moved_copy(bn_net, bn_data):
    model, (x, y) = bn_net(), bn_data()
    params = select_params(model, "all")
    d = random_direction(params, torch.Generator().manual_seed(0), "filter")
    e = random_direction(params, torch.Generator().manual_seed(1), "filter")
    a, b = [-0.5, 0.0, 0.25], [-0.2, 0.3]
    res = scan(model, x, y, params, [d, e], [a, b], attack=ATTACK, seed=7, batch_size=5)
    assert res["loss"].shape == (3, 2) and res["bn_mode"] == "eval" and res["adversarial"] == "regenerate"
    for i, ai in enumerate(a):
        for j, bj in enumerate(b):
            m = moved_copy(model, "all", [(ai, d), (bj, e)])
            loss, acc = loss_and_accuracy(m, x, y, attack=ATTACK, generator=torch_generator(7, ATTACK_STREAM),
                                          batch_size=5)
            assert res["loss"][i, j] == pytest.approx(loss, rel=1e-12)
            assert res["acc"][i, j] == pytest.approx(acc)


def test_frozen_and_regenerated_agree_at_theta_and_frozen_reuses_theta_examples(bn_net, bn_data):
    model, (x, y) = bn_net(), bn_data()
    params = select_params(model, "all")
    d = random_direction(params, torch.Generator().manual_seed(2), "filter-all")
    coords = [[-1.0, 0.0, 1.0]]
    regen = scan(model, x, y, params, [d], coords, attack=ATTACK, seed=3)
    frozen = scan(model, x, y, params, [d], coords, attack=ATTACK, seed=3, adversarial="frozen")
    assert frozen["loss"][1] == regen["loss"][1] and frozen["adversarial"] == "frozen"
    delta0 = evaluate(model, x, y, attack=ATTACK, generator=torch_generator(3, ATTACK_STREAM), clean=False,
                      keep_delta=True)["delta"]
    for i, a in enumerate(coords[0]):
        assert frozen["loss"][i] == pytest.approx(loss_and_accuracy(moved_copy(model, "all", [(a, d)]), x, y,
                                                                    delta=delta0)[0], rel=1e-12)


@pytest.mark.parametrize("bn_mode", ["eval", "train"])
@pytest.mark.parametrize("adversarial", ["regenerate", "frozen"])
def test_state_untouched(bn_mode, adversarial, bn_net, bn_data):
    model, (x, y) = bn_net(), bn_data()
    model.train()  # a flag that differs from the scan's mode in one case
    before = snapshot(model)
    params = select_params(model, "weights")
    d = random_direction(params, torch.Generator().manual_seed(0), "filter")
    res = scan(model, x, y, params, [d], [[-1.0, 1.0]], attack=ATTACK, bn_mode=bn_mode, adversarial=adversarial,
               recalibrate_bn_on=x if bn_mode == "eval" else None)
    assert state_equal(before, snapshot(model))
    assert res["bn_mode"] == bn_mode and res["recalibrate_bn"] == (bn_mode == "eval")


def test_recalibration_estimates_batch_statistics(bn_net, bn_data):
    model, (x, _) = bn_net(), bn_data(n=12)
    seen = []
    hook = model[1].register_forward_hook(lambda mod, inp, out: seen.append(inp[0].detach()))
    model[1].momentum = 0.3
    recalibrate_bn(model, x, batch_size=4)  # three equal batches: the mean of batch means is the mean
    hook.remove()
    z = torch.cat(seen)
    torch.testing.assert_close(model[1].running_mean, z.mean(dim=(0, 2, 3)))
    assert model[1].momentum == 0.3 and not model[1].training and int(model[1].num_batches_tracked) == 3


def test_scan_rejects_bad_settings(bn_net, bn_data):
    model, (x, y) = bn_net(), bn_data()
    params = select_params(model, "all")
    d = random_direction(params, torch.Generator().manual_seed(0), "filter")
    with pytest.raises(ValueError, match="bn_mode"):
        scan(model, x, y, params, [d], [[0.0]], bn_mode="test")
    with pytest.raises(ValueError, match="adversarial"):
        scan(model, x, y, params, [d], [[0.0]], adversarial="fixed")
    with pytest.raises(ValueError, match="recalibration"):
        scan(model, x, y, params, [d], [[0.0]], bn_mode="train", recalibrate_bn_on=x)
    with pytest.raises(ValueError, match="finite"):
        scan(model, x, y, params, [d], [[0.0, float("nan")]])
    with pytest.raises(ValueError, match="one or two"):
        scan(model, x, y, params, [d, d, d], [[0.0]] * 3)
    with pytest.raises(ValueError, match="shapes"):
        scan(model, x, y, params, [d[:-1]], [[0.0]])
    with pytest.raises(ValueError, match="same number"):
        scan(model, x, y[:-1], params, [d], [[0.0]])
    with pytest.raises(ValueError, match="unit"):
        curvature_check(model, x, y, params, 1.0, d)


def test_second_difference_along_unit_top_eigenvector_matches_dense_lambda_max():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 3)).double()
    x, y = torch.randn(30, 3, dtype=torch.float64), torch.randint(0, 3, (30,))
    params = select_params(model, "all")
    flat = torch.cat([p.detach().reshape(-1) for _, p in params])
    names = [n for n, _ in params]

    def loss(theta):
        tensors, i = {}, 0
        for n, p in params:
            tensors[n] = theta[i:i + p.numel()].view(p.shape)
            i += p.numel()
        return nn.functional.cross_entropy(torch.func.functional_call(model, tensors, (x,)), y)

    evals, evecs = torch.linalg.eigh(torch.autograd.functional.hessian(loss, flat))
    v, i = [], 0
    for n in names:
        p = dict(params)[n]
        v.append(evecs[i:i + p.numel(), -1].view(p.shape))
        i += p.numel()
    check = curvature_check(model, x, y, params, float(evals[-1]), v, h=1e-3, rtol=1e-4)
    assert check["ok"], check
    wrong = curvature_check(model, x, y, params, float(evals[-1]) * 1.5, v, h=1e-3, rtol=1e-4)
    assert not wrong["ok"]


def test_second_difference_matches_lanczos_on_bn_net_frozen_examples(bn_net, bn_data):
    model, (x, y) = bn_net(), bn_data(n=16)
    before = snapshot(model)
    delta = evaluate(model, x, y, attack=ATTACK, generator=torch.Generator().manual_seed(0), keep_delta=True)["delta"]
    value, v, info, params = top_eigen_direction(model, x, y, params="all", loss="adversarial", x_adv=x + delta,
                                                 tol=1e-8, method="double_backward")
    assert info["result"]["converged"]
    check = curvature_check(model, x + delta, y, params, value, v, h=1e-4, rtol=1e-3)
    assert check["ok"], check
    assert state_equal(before, snapshot(model))
    assert np.isfinite(check["second_difference"])


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2 ** 31 - 1), normalization=st.sampled_from(["filter", "filter-all", "layer"]))
def test_clean_scan_of_a_linear_model_is_convex(seed, normalization):
    """CE of a linear model is convex in the weights, so the scanned curve has non-negative second
    differences."""
    torch.manual_seed(seed % 1000)
    model = nn.Linear(6, 3).double()
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(24, 6, generator=g, dtype=torch.float64), torch.randint(0, 3, (24,), generator=g)
    params = select_params(model, "all")
    d = random_direction(params, g, normalization)
    loss = scan(model, x, y, params, [d], [np.linspace(-3, 3, 13)])["loss"]
    assert np.all(loss[:-2] - 2 * loss[1:-1] + loss[2:] >= -1e-12)
