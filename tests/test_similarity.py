"""Liu et al. perturbation cosine: the a = 0 control, agreement with an independent computation on moved
copies, unit normalization of the direction, state untouched in both BN modes, input validation."""
import copy
import functools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from advland.empirical.attacks import pgd
from advland.empirical.landscape.directions import random_direction, select
from advland.empirical.attacks import adversarial_deltas
from advland.empirical.landscape.scan import loss_and_accuracy
from advland.empirical.landscape.similarity import perturbation_cosine
from advland.empirical.core.state import snapshot, state_equal

ATTACK = functools.partial(pgd, eps=0.1, steps=3)


def bn_net():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(12, 4)).double()
    with torch.no_grad():
        m.train()(torch.rand(16, 2, 4, 4, dtype=torch.float64))
    return m.eval()


def data(n=10):
    g = torch.Generator().manual_seed(1)
    return torch.rand(n, 2, 4, 4, generator=g, dtype=torch.float64), torch.randint(0, 4, (n,), generator=g)


def test_zero_scale_control():
    model, (x, y) = bn_net(), data()
    params = select(model, "all")
    v = random_direction(params, torch.Generator().manual_seed(0), "unit")
    deterministic = functools.partial(pgd, eps=0.1, steps=3, random_start=False)
    row = perturbation_cosine(model, x, y, params, v, [0.0], attack=deterministic)["rows"][0]
    nonzero = adversarial_deltas(model, x, y, deterministic).flatten(1).norm(dim=1) > 0
    assert row["cos_raw_mean"] == pytest.approx(float(nonzero.double().mean()), abs=1e-12)
    assert row["error_plus"] == row["error_minus"]
    random_row = perturbation_cosine(model, x, y, params, v, [0.0], attack=ATTACK)["rows"][0]
    assert random_row["cos_raw_mean"] < 1.0  # the random start alone decorrelates delta+ and delta-


def test_rows_match_moved_copies_and_direction_is_rescaled_to_unit_norm():
    model, (x, y) = bn_net(), data()
    params = select(model, "weights")
    v = random_direction(params, torch.Generator().manual_seed(3), "filter")  # not unit: gets rescaled
    total = torch.sqrt(sum((t ** 2).sum() for t in v))
    res = perturbation_cosine(model, x, y, params, v, [0.3], attack=ATTACK, seed=11, batch_size=4)
    assert [row["scale"] for row in res["rows"]] == [0.0, 0.3]  # the control is always there
    for k, row in enumerate(res["rows"]):
        deltas, errors = [], []
        for sign, seed in ((1, 11 + 2 * k), (-1, 12 + 2 * k)):
            m = copy.deepcopy(model)
            with torch.no_grad():
                for (_, p), d in zip(select(m, "weights"), v):
                    p.add_(sign * row["scale"] * d / total)
            deltas.append(adversarial_deltas(m, x, y, ATTACK, seed=seed, batch_size=4).flatten(1))
            errors.append(1 - loss_and_accuracy(m, x, y, deltas[-1].view_as(x))[1])
            errors.append(1 - loss_and_accuracy(m, x, y)[1])
        expected = F.cosine_similarity(deltas[0], deltas[1], dim=1).mean()
        assert row["cos_raw_mean"] == pytest.approx(float(expected), rel=1e-9)
        assert (row["error_plus"], row["clean_error_plus"], row["error_minus"],
                row["clean_error_minus"]) == pytest.approx(tuple(errors))
        assert -1 <= row["cos_sign_mean"] <= 1


@pytest.mark.parametrize("bn_mode", ["eval", "train"])
def test_state_untouched(bn_mode):
    model, (x, y) = bn_net(), data()
    before = snapshot(model)
    params = select(model, "all")
    v = random_direction(params, torch.Generator().manual_seed(0), "unit")
    res = perturbation_cosine(model, x, y, params, v, [0.0, 0.1], attack=ATTACK, bn_mode=bn_mode)
    assert state_equal(before, snapshot(model)) and res["bn_mode"] == bn_mode


def test_rejects_bad_input():
    model, (x, y) = bn_net(), data()
    params = select(model, "all")
    v = random_direction(params, torch.Generator().manual_seed(0), "unit")
    with pytest.raises(ValueError, match="needs an attack"):
        perturbation_cosine(model, x, y, params, v, [0.0], attack=None)
    with pytest.raises(ValueError, match="scales"):
        perturbation_cosine(model, x, y, params, v, [-0.1], attack=ATTACK)
    with pytest.raises(ValueError, match="scales"):
        perturbation_cosine(model, x, y, params, v, [], attack=ATTACK)
