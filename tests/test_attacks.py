"""Attacks: feasibility invariants, closed-form worst case on a linear model, restarts, APGD schedule, errors."""
import math

import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

from advland.empirical.attacks import (ATTACK_NAMES, apgd, apgd_checkpoints, fgsm, per_example_loss, pgd, run_attack)
from advland.empirical.core.state import snapshot, state_equal


class Logistic(nn.Module):
    """Binary logistic regression as a 2-class model: logits (0, w.x + b), so CE = log(1 + exp(-s (w.x + b)))
    with s = +1 for class 1 and -1 for class 0."""

    def __init__(self, w, b):
        super().__init__()
        self.w, self.b = nn.Parameter(w), nn.Parameter(torch.tensor(b))

    def forward(self, x):
        z = x.flatten(1) @ self.w + self.b
        return torch.stack([torch.zeros_like(z), z], dim=1)


def _logistic_case(seed, d=12, n=16):
    g = torch.Generator().manual_seed(seed)
    model = Logistic(torch.randn(d, generator=g), 0.1).eval()
    x = 0.3 + 0.4 * torch.rand(n, d, generator=g)          # box inactive for eps <= 0.3
    y = torch.randint(0, 2, (n,), generator=g)
    return model, x, y


def _closed_form_loss(model, x, y, eps, norm):
    s = (2 * y - 1).float()[:, None]
    w = model.w.detach()
    direction = w.sign() if norm == "linf" else w / w.norm()
    return per_example_loss("ce", model(x - eps * s * direction), y)


def _tiny_net(seed=0, bn=False):
    torch.manual_seed(seed)
    layers = [nn.Conv2d(1, 3, 3, padding=1)] + ([nn.BatchNorm2d(3)] if bn else []) + [
        nn.ReLU(), nn.Flatten(), nn.Linear(3 * 6 * 6, 4)]
    return nn.Sequential(*layers)


def _data(seed=0, n=8):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 6, 6, generator=g), torch.randint(0, 4, (n,), generator=g)


def _norm(delta, norm):
    f = delta.flatten(1)
    return f.abs().amax(1) if norm == "linf" else f.norm(dim=1)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), eps=st.floats(0.01, 0.25), norm=st.sampled_from(["linf", "l2"]),
       random_start=st.booleans())
def test_pgd_attains_closed_form_worst_case_on_logistic(seed, eps, norm, random_start):
    model, x, y = _logistic_case(seed)
    steps, step_size = (10, None) if norm == "linf" else (40, eps / 2)   # L2: the angle shrinks ~(2/3)^k
    delta = pgd(model, x, y, eps=eps, norm=norm, steps=steps, step_size=step_size, random_start=random_start,
                generator=torch.Generator().manual_seed(seed))
    got = per_example_loss("ce", model(x + delta), y)
    best = _closed_form_loss(model, x, y, eps, norm)
    assert torch.all(got <= best + 1e-5)                                # nothing beats the closed form
    assert torch.allclose(got, best, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_apgd_attains_closed_form_worst_case_on_logistic(norm):
    model, x, y = _logistic_case(3)
    delta = apgd(model, x, y, eps=0.1, norm=norm, steps=30, generator=torch.Generator().manual_seed(0))
    got = per_example_loss("ce", model(x + delta), y)
    assert torch.allclose(got, _closed_form_loss(model, x, y, 0.1, norm), rtol=1e-3, atol=1e-5)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), eps=st.floats(0.0, 0.6), norm=st.sampled_from(["linf", "l2"]),
       name=st.sampled_from(ATTACK_NAMES))
def test_attacks_stay_feasible_and_never_lower_the_loss(seed, eps, norm, name):
    model = _tiny_net(seed % 7).eval()
    x, y = _data(seed)
    before = snapshot(model)
    kw = {"steps": 5} if name in ("pgd", "apgd-ce", "apgd-dlr") else {}
    delta = run_attack(name, model, x, y, eps=eps, norm=norm, generator=torch.Generator().manual_seed(seed), **kw)
    assert torch.all(_norm(delta, norm) <= eps + 1e-6)
    adv = x + delta
    assert adv.min() >= -1e-6 and adv.max() <= 1 + 1e-6
    loss = "dlr" if name == "apgd-dlr" else "ce"
    with torch.no_grad():
        assert torch.all(per_example_loss(loss, model(adv), y) >= per_example_loss(loss, model(x), y) - 1e-6)
    assert state_equal(before, snapshot(model))
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("training", [True, False])
def test_attack_keeps_the_train_flag(training):
    model = _tiny_net(bn=True).train(training)
    x, y = _data()
    pgd(model, x, y, eps=0.1, steps=2)
    apgd(model, x, y, eps=0.1, steps=2)
    assert all(m.training == training for m in model.modules())


def test_restarts_keep_the_worst_restart_per_example():
    model = _tiny_net(1).eval()
    x, y = _data(1, n=16)
    g = torch.Generator().manual_seed(5)
    combined = pgd(model, x, y, eps=0.3, steps=3, restarts=3, generator=g)
    g = torch.Generator().manual_seed(5)
    singles = torch.stack([per_example_loss("ce", model(x + pgd(model, x, y, eps=0.3, steps=3, generator=g)), y)
                           for _ in range(3)])
    got = per_example_loss("ce", model(x + combined), y)
    assert torch.allclose(got, singles.max(0).values, atol=1e-6)


def test_fgsm_is_one_signed_step_when_the_box_is_inactive():
    model, x, y = _logistic_case(7)
    delta = fgsm(model, x, y, eps=0.05)
    assert torch.allclose(delta.abs(), torch.full_like(delta, 0.05))      # linear model: the gradient sign is the optimum
    assert torch.allclose(per_example_loss("ce", model(x + delta), y), _closed_form_loss(model, x, y, 0.05, "linf"))


def test_apgd_checkpoints_follow_croce_hein():
    w = apgd_checkpoints(100)
    assert w[0] == 22 and w == sorted(w) and w[-1] <= 100
    gaps = [b - a for a, b in zip(w, w[1:])]
    assert all(g >= 6 for g in gaps)                                     # minimal period 0.06 * N
    p = [0.0, 0.22]
    while p[-1] + max(p[-1] - p[-2] - 0.03, 0.06) <= 1:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    assert w == sorted({math.ceil(q * 100) for q in p[1:]})


def test_apgd_dlr_needs_three_classes_and_errors_are_value_errors():
    model, x, y = _logistic_case(0)
    with pytest.raises(ValueError, match="3 classes"):
        apgd(model, x, y, eps=0.1, loss="dlr", steps=2)
    net = _tiny_net().eval()
    xi, yi = _data()
    for bad in ({"eps": -0.1}, {"eps": 0.1, "norm": "l1"}, {"eps": float("nan")}):
        with pytest.raises(ValueError):
            pgd(net, xi, yi, **bad)
        with pytest.raises(ValueError):
            apgd(net, xi, yi, **bad)
    with pytest.raises(ValueError, match="attack must be one of"):
        run_attack("cw", net, xi, yi, eps=0.1)
    with pytest.raises(ValueError, match="loss must be one of"):
        pgd(net, xi, yi, eps=0.1, loss="hinge")
