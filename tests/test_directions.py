"""Directions: normalization invariants (Li et al. filter rule, Liu's element rule, per-layer, unit),
reproducibility from a generator, parameter selection, exact placement, unit top eigenvector."""
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

from advland.empirical.core.params import select_params
from advland.empirical.landscape.directions import NORMALIZATIONS, global_norm, normalize, place, random_direction
from advland.empirical.landscape.hessian import top_eigen_direction
from advland.empirical.models import build_model


def small_resnet():
    torch.manual_seed(0)
    return build_model("resnet18", width=1, in_channels=3, image_size=8)


def small_vgg_like():
    torch.manual_seed(1)
    return nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(12, 4))


MODELS = (small_resnet(), small_vgg_like())


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2 ** 31 - 1))
def test_filter_normalization_matches_row_norms_and_zeroes_1d(seed):
    for model in MODELS:
        params = select_params(model, "all")
        d = random_direction(params, torch.Generator().manual_seed(seed), "filter")
        for (name, p), di in zip(params, d):
            if p.ndim > 1:
                torch.testing.assert_close(di.flatten(1).norm(dim=1), p.detach().flatten(1).norm(dim=1))
            else:
                assert torch.count_nonzero(di) == 0, name


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2 ** 31 - 1))
def test_filter_all_normalizes_1d_tensors_elementwise(seed):
    params = select_params(MODELS[1], "all")
    d = random_direction(params, torch.Generator().manual_seed(seed), "filter-all")
    for (_, p), di in zip(params, d):
        if p.ndim == 1:
            torch.testing.assert_close(di.abs(), p.detach().abs())
        else:
            torch.testing.assert_close(di.flatten(1).norm(dim=1), p.detach().flatten(1).norm(dim=1))


def test_layer_and_unit_normalizations():
    params = select_params(small_resnet(), "weights")
    g = torch.Generator().manual_seed(3)
    for (_, p), di in zip(params, random_direction(params, g, "layer")):
        torch.testing.assert_close(di.norm(), p.detach().norm())
    assert global_norm(random_direction(params, g, "unit")) == pytest.approx(1.0, abs=1e-6)


def test_same_generator_seed_gives_same_direction():
    params = select_params(small_resnet(), "all")
    for norm in NORMALIZATIONS:
        a = random_direction(params, torch.Generator().manual_seed(5), norm)
        b = random_direction(params, torch.Generator().manual_seed(5), norm)
        c = random_direction(params, torch.Generator().manual_seed(6), norm)
        assert all(torch.equal(u, v) for u, v in zip(a, b))
        assert any(not torch.equal(u, w) for u, w in zip(a, c))


def test_zero_weight_row_gets_zero_direction():
    lin = nn.Linear(3, 2)
    with torch.no_grad():
        lin.weight[0].zero_()
    params = select_params(lin, "weights")
    d = random_direction(params, torch.Generator().manual_seed(0), "filter")[0]
    assert torch.count_nonzero(d[0]) == 0 and float(d[1].norm()) == pytest.approx(float(lin.weight[1].detach().norm()))


def test_normalize_rejects_bad_input():
    params = select_params(nn.Linear(3, 2), "all")
    with pytest.raises(ValueError, match="normalization"):
        normalize([torch.ones(2, 3), torch.ones(2)], params, "max")
    with pytest.raises(ValueError, match="shapes"):
        normalize([torch.ones(3, 2), torch.ones(2)], params, "unit")
    with pytest.raises(ValueError, match="all-zero"):
        normalize([torch.zeros(2, 3), torch.zeros(2)], params, "unit")
    with pytest.raises(ValueError, match="Generator"):
        random_direction(params, 0)


def test_place_is_exact_and_does_not_drift():
    lin = nn.Linear(4, 3).double()
    params = select_params(lin, "all")
    base = [p.detach().clone() for _, p in params]
    d = random_direction(params, torch.Generator().manual_seed(0), "filter-all")
    for a in torch.linspace(-1, 1, 11).tolist():
        place(params, base, [(a, d)])
    place(params, base, [(0.0, d)])
    assert all(torch.equal(p, b) for (_, p), b in zip(params, base))
    place(params, base, [(0.5, d), (-2.0, d)])
    torch.testing.assert_close(lin.weight.detach(), base[0] - 1.5 * d[0])


def test_top_eigen_direction_is_unit_and_matches_dense_hessian():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3)).double()
    x, y = torch.randn(20, 3, dtype=torch.float64), torch.randint(0, 3, (20,))
    value, vec, info, params = top_eigen_direction(model, x, y, params="all", tol=1e-10,
                                               method="double_backward")
    assert global_norm(vec) == pytest.approx(1.0, abs=1e-9)
    flat = torch.cat([p.detach().reshape(-1) for _, p in params])
    shapes = [p.shape for _, p in params]

    def loss(theta):
        out, i = x, 0
        ws = []
        for s in shapes:
            ws.append(theta[i:i + s.numel()].view(s))
            i += s.numel()
        h = torch.tanh(out @ ws[0].T + ws[1])
        return nn.functional.cross_entropy(h @ ws[2].T + ws[3], y)

    dense = torch.autograd.functional.hessian(loss, flat)
    assert value == pytest.approx(float(torch.linalg.eigvalsh(dense)[-1]), rel=1e-6)
    assert info["result"]["converged"]
