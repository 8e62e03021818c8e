"""Liu et al. perturbation cosine: the a = 0 control, agreement with an independent computation on moved
copies, unit normalization of the direction, state untouched in both BN modes, input validation."""
import copy
import functools

import pytest
import torch
import torch.nn.functional as F

from advland.empirical.attacks import pgd
from advland.empirical.core.params import select_params
from advland.empirical.core.state import snapshot, state_equal
from advland.empirical.evaluate import evaluate
from advland.empirical.landscape.directions import random_direction
from advland.empirical.landscape.similarity import ATTACK_STREAM, perturbation_cosine
from advland.seeding import torch_generator

ATTACK = functools.partial(pgd, eps=0.1, steps=3)


def test_zero_scale_control(bn_net, bn_data):
    model, (x, y) = bn_net(), bn_data(10)
    params = select_params(model, "all")
    v = random_direction(params, torch.Generator().manual_seed(0), "unit")
    deterministic = functools.partial(pgd, eps=0.1, steps=3, random_start=False)
    row = perturbation_cosine(model, x, y, params, v, [0.0], attack=deterministic)["rows"][0]
    delta = evaluate(model, x, y, attack=deterministic, clean=False, keep_delta=True)["delta"]
    nonzero = delta.flatten(1).norm(dim=1) > 0
    assert row["cos_raw_mean"] == pytest.approx(float(nonzero.double().mean()), abs=1e-12)
    assert row["error_plus"] == row["error_minus"]
    random_row = perturbation_cosine(model, x, y, params, v, [0.0], attack=ATTACK)["rows"][0]
    assert random_row["cos_raw_mean"] < 1.0  # the random start alone decorrelates delta+ and delta-


def test_rows_match_moved_copies_and_direction_is_rescaled_to_unit_norm(bn_net, bn_data):
    model, (x, y) = bn_net(), bn_data(10)
    params = select_params(model, "weights")
    v = random_direction(params, torch.Generator().manual_seed(3), "filter")  # not unit: gets rescaled
    total = torch.sqrt(sum((t ** 2).sum() for t in v))
    res = perturbation_cosine(model, x, y, params, v, [0.3], attack=ATTACK, seed=11, batch_size=4)
    assert [row["scale"] for row in res["rows"]] == [0.0, 0.3]  # the control is always there
    for k, row in enumerate(res["rows"]):
        deltas, errors = [], []
        for sign, side in ((1, "plus"), (-1, "minus")):
            m = copy.deepcopy(model)
            with torch.no_grad():
                for (_, p), d in zip(select_params(m, "weights"), v):
                    p.add_(sign * row["scale"] * d / total)
            g = torch_generator(11, ATTACK_STREAM.format(k=k, side=side))
            deltas.append(torch.cat([ATTACK(m, x[i:i + 4], y[i:i + 4], generator=g) for i in range(0, len(x), 4)]))
            with torch.no_grad():
                errors.append(float((m(x + deltas[-1]).argmax(1) != y).double().mean()))
                errors.append(float((m(x).argmax(1) != y).double().mean()))
            deltas[-1] = deltas[-1].flatten(1)
        expected = F.cosine_similarity(deltas[0], deltas[1], dim=1).mean()
        assert row["cos_raw_mean"] == pytest.approx(float(expected), rel=1e-9)
        assert (row["error_plus"], row["clean_error_plus"], row["error_minus"],
                row["clean_error_minus"]) == pytest.approx(tuple(errors))
        assert -1 <= row["cos_sign_mean"] <= 1


@pytest.mark.parametrize("bn_mode", ["eval", "train"])
def test_state_untouched(bn_mode, bn_net, bn_data):
    model, (x, y) = bn_net(), bn_data(10)
    before = snapshot(model)
    params = select_params(model, "all")
    v = random_direction(params, torch.Generator().manual_seed(0), "unit")
    res = perturbation_cosine(model, x, y, params, v, [0.0, 0.1], attack=ATTACK, bn_mode=bn_mode)
    assert state_equal(before, snapshot(model)) and res["bn_mode"] == bn_mode


def test_rejects_bad_input(bn_net, bn_data):
    model, (x, y) = bn_net(), bn_data(10)
    params = select_params(model, "all")
    v = random_direction(params, torch.Generator().manual_seed(0), "unit")
    with pytest.raises(ValueError, match="needs an attack"):
        perturbation_cosine(model, x, y, params, v, [0.0], attack=None)
    with pytest.raises(ValueError, match="scales"):
        perturbation_cosine(model, x, y, params, v, [-0.1], attack=ATTACK)
    with pytest.raises(ValueError, match="scales"):
        perturbation_cosine(model, x, y, params, v, [], attack=ATTACK)
