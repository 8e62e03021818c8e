"""Attacks: feasibility invariants, closed-form worst case on a linear model, restarts, APGD schedule, errors."""
import functools
import math
from fractions import Fraction

import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

from advland.empirical.attacks import (ATTACK_NAMES, apgd, apgd_attack, apgd_checkpoints, attack, fgsm, fgsm_attack,
                                       per_example_loss, pgd, pgd_attack, robust_correct, run_attack)
from advland.empirical.core.state import snapshot, state_equal
from advland.empirical.evaluate import evaluate


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
def test_attacks_stay_feasible_and_report_their_best_iterate(seed, eps, norm, name):
    model = _tiny_net(seed % 7).eval()
    x, y = _data(seed)
    before = snapshot(model)
    kw = {"steps": 5} if name in ("pgd", "apgd-ce", "apgd-dlr") else {}
    result = attack(name, model, x, y, eps=eps, norm=norm, generator=torch.Generator().manual_seed(seed), **kw)
    delta = result.delta
    assert torch.all(_norm(delta, norm) <= eps + 1e-6)
    adv = x + delta
    assert adv.min() >= -1e-6 and adv.max() <= 1 + 1e-6
    loss = "dlr" if name == "apgd-dlr" else "ce"
    with torch.no_grad():
        logits = model(adv)
    torch.testing.assert_close(result.logits, logits)                   # kept, not recomputed by the caller
    torch.testing.assert_close(result.loss, per_example_loss(loss, logits, y))
    assert torch.all(result.fooled >= (logits.argmax(1) != y))          # the best iterate is one of the iterates
    assert state_equal(before, snapshot(model))
    assert all(p.grad is None for p in model.parameters())


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), eps=st.floats(0.0, 0.6), norm=st.sampled_from(["linf", "l2"]),
       steps=st.integers(0, 4))
def test_attacks_from_the_clean_point_never_lower_the_loss(seed, eps, norm, steps):
    model = _tiny_net(seed % 7).eval()
    x, y = _data(seed)
    with torch.no_grad():
        clean = per_example_loss("ce", model(x), y)
    for result in (pgd_attack(model, x, y, eps=eps, norm=norm, steps=steps, random_start=False),
                   fgsm_attack(model, x, y, eps=eps, norm=norm)):
        assert torch.all(result.loss >= clean)


@pytest.mark.parametrize("name,steps,restarts", [("pgd", 4, 1), ("pgd", 3, 2), ("fgsm-rs", 1, 1),
                                                 ("apgd-ce", 6, 1)])
def test_attacks_make_no_forward_pass_beyond_their_iterates(name, steps, restarts):
    """PGD: ``steps`` forward-backward passes and one forward pass per restart; APGD: one for its start and
    one per step (the last without a backward pass)."""
    model = _tiny_net(2).eval()
    x, y = _data(2)
    passes = {"forward": 0, "backward": 0}
    model.register_forward_hook(lambda *_: passes.__setitem__("forward", passes["forward"] + 1))
    model[0].register_full_backward_hook(lambda *_: passes.__setitem__("backward", passes["backward"] + 1))
    kw = {"steps": steps, "restarts": restarts} if name == "pgd" else {"steps": steps} if name != "fgsm-rs" else {}
    attack(name, model, x, y, eps=0.1, generator=torch.Generator().manual_seed(0), **kw)
    assert passes == {"forward": restarts * (steps + 1), "backward": restarts * steps}


class _Staircase(nn.Module):
    """3-class model on a 1-D input t, built so that the loss keeps rising along PGD's path while one
    intermediate iterate is misclassified. The logits are read from a table at s = t - 0.5 rounded to the
    grid 0, 0.1, 0.2, 0.3, and their input gradient is (0, 0, 1): d CE/d t = p_2 > 0 for label 0, so signed
    PGD from t = 0.5 with step 0.1 visits exactly the grid. CE along it: 0.55, 0.74 (class 1 wins), 0.55, 1.03
    (class 0 wins)."""
    TABLE = torch.tensor([[0.0, -1.0, -1.0], [0.0, 0.1, -10.0], [0.0, -1.0, -1.0], [0.0, -0.1, -0.1]])

    def forward(self, x):
        s = x[:, 0] - 0.5
        k = (s.detach() / 0.1).round().long().clamp(0, 3)
        return self.TABLE[k] + (s - s.detach())[:, None] * torch.tensor([0.0, 0.0, 1.0])


def test_robust_accuracy_counts_any_fooling_iterate():
    """The highest-loss iterate is classified correctly, an earlier one is not: the point is broken (AutoAttack's
    count) although the prediction at ``x + delta`` is right."""
    model = _Staircase()
    x, y = torch.full((1, 1), 0.5), torch.zeros(1, dtype=torch.long)
    result = attack("pgd", model, x, y, eps=0.3, steps=3, step_size=0.1, random_start=False)
    torch.testing.assert_close(result.delta, torch.full((1, 1), 0.3))
    assert model(x + result.delta).argmax(1).item() == 0                 # the delta-based count: robust
    assert result.fooled.tolist() == [True]                              # the any-iterate count: broken
    assert robust_correct("pgd", model, x, y, eps=0.3, steps=3, step_size=0.1, random_start=False).tolist() == [False]
    assert robust_correct("pgd", model, x, y, eps=0.04, steps=3, random_start=False).tolist() == [True]


def test_evaluation_counts_any_fooling_iterate_without_another_forward_pass():
    """``empirical.evaluate`` given the attack's whole result: robust accuracy by the any-iterate count, robust loss
    at the highest-loss iterate from the logits the attack kept; given a bare delta, the old count."""
    model = _Staircase()
    x, y = torch.full((1, 1), 0.5), torch.zeros(1, dtype=torch.long)
    kw = {"eps": 0.3, "steps": 3, "step_size": 0.1, "random_start": False}
    full = evaluate(model, x, y, attack=functools.partial(attack, "pgd", **kw))
    bare = evaluate(model, x, y, attack=functools.partial(pgd, **kw))
    assert (full["robust_acc"], bare["robust_acc"]) == (0.0, 1.0)
    assert full["robust_loss"] == pytest.approx(bare["robust_loss"]) and full["robust_loss"] > full["clean_loss"]


def test_robust_correct_attacks_only_clean_correct_points():
    model = _tiny_net(3).eval()
    x, y = _data(3, n=16)
    with torch.no_grad():
        clean = model(x).argmax(1) == y
    seen = []
    model.register_forward_pre_hook(lambda _m, inp: seen.append(inp[0].shape[0]))
    got = robust_correct("pgd", model, x, y, eps=0.2, steps=2, generator=torch.Generator().manual_seed(0))
    # the clean pass on all 16, then the clean-correct points, fewer as they break (``until_fooled``)
    assert seen[0] == 16 and seen[1] == int(clean.sum())
    assert all(a >= b for a, b in zip(seen[1:], seen[2:]))
    assert torch.all(got <= clean)
    with pytest.raises(ValueError, match="class labels"):
        robust_correct("pgd", model, x, torch.softmax(model(x), 1), eps=0.1)


def test_soft_targets_have_no_fooled_mask():
    model = _tiny_net(4).eval()
    x, y = _data(4)
    with torch.no_grad():
        p = torch.softmax(model(x), 1)
    kl = lambda logits, target: (target * (target.log() - torch.log_softmax(logits, 1))).sum(1)
    result = pgd_attack(model, x, p, eps=0.1, steps=2, loss=kl, generator=torch.Generator().manual_seed(0))
    assert result.fooled is None and torch.all(result.loss >= 0)


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


def _checkpoints_exact(steps):
    """Croce & Hein (2020) §3.2 in exact rational arithmetic."""
    p = [Fraction(0), Fraction(22, 100)]
    while p[-1] + max(p[-1] - p[-2] - Fraction(3, 100), Fraction(6, 100)) <= 1:
        p.append(p[-1] + max(p[-1] - p[-2] - Fraction(3, 100), Fraction(6, 100)))
    return sorted({math.ceil(q * steps) for q in p[1:]})


@settings(max_examples=50, deadline=None)
@given(steps=st.integers(1, 5000))
def test_apgd_checkpoints_follow_croce_hein(steps):
    w = apgd_checkpoints(steps)
    assert w == _checkpoints_exact(steps)
    assert w == sorted(w) and 1 <= w[0] and w[-1] <= steps


def test_apgd_checkpoints_of_common_budgets():
    assert apgd_checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]     # also the official code's
    assert apgd_checkpoints(10) == [3, 5, 6, 7, 8, 9, 10]
    for steps in (10, 20, 50, 100, 250, 1000):
        assert apgd_checkpoints(steps) == _checkpoints_exact(steps)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="steps"):
            apgd_checkpoints(bad)


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


# ---------------------------------------------------------------- the cheaper paths give the same answers

def _small_net(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(["pgd", "apgd-ce", "apgd-dlr", "fgsm-rs"]), seed=st.integers(0, 10_000),
       eps=st.floats(0.01, 0.5), steps=st.integers(1, 12), restarts=st.integers(1, 3))
def test_until_fooled_gives_the_same_fooled_mask(name, seed, eps, steps, restarts):
    """Dropping broken points changes no point's trajectory before it breaks (each point's step size, momentum and
    counters are its own), so the any-iterate count is equal, and points never broken end alike."""
    model = _small_net(seed % 7)
    g = torch.Generator().manual_seed(seed)
    x, y = torch.rand(40, 12, generator=g), torch.randint(0, 3, (40,), generator=g)
    kw = {"eps": eps} if name == "fgsm-rs" else {"eps": eps, "steps": steps}
    if name == "pgd":
        kw["restarts"] = restarts
    full, fast = (attack(name, model, x, y, until_fooled=flag, generator=torch.Generator().manual_seed(seed), **kw)
                  for flag in (False, True))
    assert torch.equal(full.fooled, fast.fooled)
    never = ~full.fooled
    assert torch.allclose(full.loss[never], fast.loss[never]) and torch.allclose(full.delta[never], fast.delta[never])
    assert torch.allclose(full.logits[never], fast.logits[never])
    counts = [robust_correct(name, model, x, y, until_fooled=flag, generator=torch.Generator().manual_seed(seed), **kw)
              for flag in (False, True)]
    assert torch.equal(*counts)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), eps=st.floats(0.01, 0.5), steps=st.integers(0, 6))
def test_the_unscored_last_iterate_is_the_last_iterate(seed, eps, steps):
    model = _small_net(seed % 5)
    g = torch.Generator().manual_seed(seed)
    x, y = torch.rand(30, 12, generator=g), torch.randint(0, 3, (30,), generator=g)
    scored = pgd_attack(model, x, y, eps=eps, steps=steps, iterate="last", generator=torch.Generator().manual_seed(1))
    fast = pgd(model, x, y, eps=eps, steps=steps, iterate="last", evaluate_last=False,
               generator=torch.Generator().manual_seed(1))
    assert torch.equal(scored.delta, fast)


def test_cheaper_paths_refuse_settings_they_cannot_serve():
    model = _small_net()
    x, y = torch.rand(4, 12), torch.tensor([0, 1, 2, 0])
    with pytest.raises(ValueError, match="evaluate_last=False"):
        pgd_attack(model, x, y, eps=0.1, evaluate_last=False)
    for run in (pgd_attack, apgd_attack):
        with pytest.raises(ValueError, match="until_fooled"):
            run(model, x, torch.softmax(model(x), 1).detach(), eps=0.1, until_fooled=True)
