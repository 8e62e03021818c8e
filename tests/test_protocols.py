"""Official protocols of the training attack (``empirical.train.protocols``): each switch against an independent
re-implementation of the official code's loop (AWP ``AT_AWP/train_cifar10.py`` ``attack_pgd``; Liu et al.
``util/attack.py`` ``PGD.attack``), the last iterate of PGD, the TRADES-AWP warm-up counted as the official loop
counts it, and the checks of the configuration."""
import copy
import dataclasses

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from advland.empirical.attacks import pgd_attack, project, uniform_start
from advland.empirical.core.state import snapshot, state_equal
from advland.empirical.train import loop
from advland.empirical.train.config import TrainConfig, config_differences
from advland.empirical.train.loop import BATCH_STREAM, TrainRun, inner_maximization, train_step
from advland.empirical.train.protocols import PROTOCOLS, protocol_values
from advland.seeding import torch_generator


def tiny_cfg(**kw):
    base = dict(model="tiny", dataset="synthetic", method="at", eps=0.1, epochs=2, batch_size=32, attack_steps=3,
                optimizer="sgd", lr=0.05, num_classes=4)
    return TrainConfig(**{**base, **kw}).resolved()


def bn_buffers(model) -> dict:
    return {n: b.detach().clone() for n, b in model.named_buffers() if "running" in n}


def manual_pgd(model, x, y, delta, *, eps, alpha, steps):
    """The official loop written out: signed CE-gradient steps, clamp to the eps-ball then to the box, one last
    forward pass at the final point (AWP's ``all_loss``; it updates BN statistics in train mode); returns the
    last iterate."""
    for _ in range(steps):
        delta = delta.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(F.cross_entropy(model(x + delta), y), delta)
        delta = (delta.detach() + alpha * grad.sign()).clamp(-eps, eps)
        delta = (x + delta).clamp(0, 1) - x
    with torch.no_grad():
        model(x + delta)
    return delta


# ------------------------------------------------------------------ the last iterate

@settings(deadline=None, max_examples=10)
@given(seed=st.integers(0, 2**16), steps=st.integers(1, 6), restarts=st.integers(1, 2))
def test_pgd_last_iterate_is_the_official_one(seed, steps, restarts):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    x = torch.rand(10, 6, dtype=torch.float64)
    y = torch.randint(0, 3, (10,))
    kw = dict(eps=0.3, steps=steps, step_size=0.2, restarts=restarts)
    last = pgd_attack(model, x, y, generator=torch.Generator().manual_seed(seed), iterate="last", **kw)
    best = pgd_attack(model, x, y, generator=torch.Generator().manual_seed(seed), **kw)
    g = torch.Generator().manual_seed(seed)
    finals = []
    for _ in range(restarts):   # the same draws as pgd_attack: one uniform start per restart
        start = project((2 * torch.rand(x.shape, generator=g, dtype=x.dtype) - 1) * 0.3, x, 0.3, "linf")
        finals.append(manual_pgd(model, x, y, start, eps=0.3, alpha=0.2, steps=steps))
    losses = torch.stack([F.cross_entropy(model(x + d), y, reduction="none") for d in finals])
    expected = torch.stack(finals)[losses.argmax(0), torch.arange(len(x))]   # AWP: the worst restart's last point
    torch.testing.assert_close(last.delta, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(last.loss, losses.max(0).values.float(), rtol=1e-6, atol=1e-6)
    assert torch.all(best.loss >= last.loss - 1e-6)                 # the best iterate is at least as strong
    assert torch.equal(best.fooled, last.fooled)                     # robust accuracy counts every iterate either way


def test_pgd_rejects_an_unknown_iterate():
    with pytest.raises(ValueError, match="iterate"):
        pgd_attack(torch.nn.Linear(2, 2), torch.rand(1, 2), torch.tensor([0]), eps=0.1, iterate="first")


# ------------------------------------------------------------------ the switch against the official loops

def test_awp_protocol_reproduces_the_official_at_awp_attack(tiny_net, tiny_data):
    """Official AT-AWP attack: train-mode BN whose running statistics the attack updates, uniform start in the
    eps-ball, last iterate."""
    cfg = tiny_cfg(protocol="awp")
    assert (cfg.attack_iterate, cfg.random_start, cfg.bn_attack, cfg.attack_bn_stats) == ("last", "eps", "train",
                                                                                           "keep")
    model = tiny_net(bn=True).train()
    reference = copy.deepcopy(model).train()
    x, y = tiny_data(16)
    run = TrainRun(cfg, model)
    before = bn_buffers(run.base)
    x_adv = inner_maximization(run, x, y, cfg.eps)
    g = torch_generator(cfg.seed, BATCH_STREAM)
    start = ((2 * torch.rand(x.shape, generator=g) - 1) * cfg.eps)
    start = (x + start).clamp(0, 1) - x
    delta = manual_pgd(reference, x, y, start, eps=cfg.eps, alpha=cfg.attack_step_size, steps=cfg.attack_steps)
    torch.testing.assert_close(x_adv, x + delta, rtol=0, atol=1e-6)
    after = bn_buffers(run.base)
    assert any(not torch.equal(before[n], after[n]) for n in before)          # the attack moved the statistics
    for n, b in bn_buffers(reference).items():                                 # ... as the official loop does
        torch.testing.assert_close(after[n], b, rtol=1e-5, atol=1e-6)
    assert run.base.training


def test_liu_protocol_reproduces_the_official_liu_attack(tiny_net, tiny_data):
    """Liu et al.: eval-mode BN, start uniform in [-step, step]^d then projected, last iterate."""
    cfg = tiny_cfg(protocol="liu", eps=0.3, attack_step_size=0.02)
    assert (cfg.attack_iterate, cfg.random_start, cfg.bn_attack) == ("last", "step", "eval")
    model = tiny_net(bn=True).train()
    reference = copy.deepcopy(model).eval()
    x, y = tiny_data(16)
    run = TrainRun(cfg, model)
    before = snapshot(run.base)
    x_adv = inner_maximization(run, x, y, cfg.eps)
    assert state_equal(before, snapshot(run.base))
    g = torch_generator(cfg.seed, BATCH_STREAM)
    start = ((2 * torch.rand(x.shape, generator=g) - 1) * cfg.attack_step_size).clamp(-cfg.eps, cfg.eps)
    start = (x + start).clamp(0, 1) - x
    delta = manual_pgd(reference, x, y, start, eps=cfg.eps, alpha=cfg.attack_step_size, steps=cfg.attack_steps)
    torch.testing.assert_close(x_adv, x + delta, rtol=0, atol=1e-6)


@pytest.mark.parametrize("protocol", ["advland", "liu"])
def test_random_start_step_stays_within_one_step_per_iteration(protocol, tiny_net, tiny_data):
    """After one step the 'step' start is within 2 x step of x; the 'eps' start fills the eps-ball."""
    cfg = tiny_cfg(protocol=protocol, eps=0.3, attack_steps=1, attack_step_size=0.01)
    run = TrainRun(cfg, tiny_net(bn=False))
    x, y = tiny_data(32)
    reach = float((inner_maximization(run, x, y, cfg.eps) - x).abs().max())
    if protocol == "liu":
        assert reach <= 2 * cfg.attack_step_size + 1e-7
    else:
        assert reach > 0.5 * cfg.eps
    g = torch.Generator().manual_seed(0)
    start = uniform_start(x, 0.01, 0.3, "l2", g)
    assert float(start.abs().max()) <= 0.01 and float(start.flatten(1).norm(dim=1).max()) <= 0.3 + 1e-6
    assert ((x + start) >= 0).all() and ((x + start) <= 1).all()


@pytest.mark.parametrize("bn_attack,stats,moved", [("eval", "restore", False), ("train", "restore", False),
                                                   ("train", "keep", True)])
@pytest.mark.parametrize("method", ["at", "trades"])
def test_bn_statistics_move_only_when_kept(bn_attack, stats, moved, method, tiny_net, tiny_data):
    cfg = tiny_cfg(method=method, bn_attack=bn_attack, attack_bn_stats=stats)
    run = TrainRun(cfg, tiny_net(bn=True).train())
    x, y = tiny_data(16)
    before = bn_buffers(run.base)
    inner_maximization(run, x, y, cfg.eps)
    after = bn_buffers(run.base)
    assert any(not torch.equal(before[n], after[n]) for n in before) == moved
    assert run.base.training


# ------------------------------------------------------------------ the TRADES-AWP warm-up

def test_trades_awp_warmup_counts_epochs_as_the_official_loop(monkeypatch, tiny_net, tiny_data):
    """trades_AWP/train_trades_cifar.py: ``for epoch in range(1, epochs + 1)`` and AWP when ``epoch >= 10``."""
    epochs = 12
    official_without = sum(1 for epoch in range(1, epochs + 1) if not epoch >= 10)
    cfg = tiny_cfg(method="trades-awp", epochs=epochs, attack_steps=1)
    run = TrainRun(cfg, tiny_net(bn=False))
    x, y = tiny_data(8)
    calls = []
    original = loop.awp_perturbation
    monkeypatch.setattr(loop, "awp_perturbation", lambda *a: calls.append(1) or original(*a))
    without = 0
    for epoch in range(epochs):
        n = len(calls)
        train_step(run, x, y, epoch=epoch, eps_t=cfg.eps)
        without += len(calls) == n
    assert without == official_without == cfg.awp_warmup
    assert tiny_cfg(method="awp").awp_warmup == 0       # AT_AWP/train_cifar10.py: epochs from 0, warm-up 0


# ------------------------------------------------------------------ the configuration

def test_every_protocol_fills_the_fields_and_explicit_values_win():
    for protocol in PROTOCOLS:
        for method in ("clean", "at", "awp", "trades", "trades-awp"):
            try:
                values = protocol_values(protocol, method)
            except ValueError as err:
                assert "official code trains" in str(err)
                with pytest.raises(ValueError, match="official code trains"):
                    tiny_cfg(method=method, protocol=protocol)
                continue
            cfg = tiny_cfg(method=method, protocol=protocol)
            assert {k: getattr(cfg, k) for k in values} == values
    cfg = tiny_cfg(protocol="awp", attack_iterate="best", bn_attack="eval")
    assert (cfg.attack_iterate, cfg.bn_attack, cfg.attack_bn_stats) == ("best", "eval", "restore")
    assert tiny_cfg(bn_attack="train").attack_bn_stats == "restore"          # ours restores in train mode too


@pytest.mark.parametrize("bad,message", [
    (dict(protocol="liu", method="trades"), "official code trains"),
    (dict(protocol="trades", method="at"), "official code trains"),
    (dict(protocol="madry"), "protocol"),
    (dict(method="trades", random_start="step"), "random_start"),
    (dict(attack_bn_stats="keep"), "needs bn_attack 'train'"),
    (dict(attack_iterate="first"), "attack_iterate"),
])
def test_contradictory_settings_are_value_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        tiny_cfg(**bad)


@pytest.mark.parametrize("dataset,schedule,changed", [("mnist", "cos", []), ("mnist", "const", []),
                                                      ("cifar10", "linear", []), ("cifar10", "cos", ["eps_max"])])
def test_a_run_written_before_the_protocol_fields_resumes_when_nothing_changed(dataset, schedule, changed):
    """Its config.json lacks the attack fields (it ran with ours) and holds eps_max = null for a ramp (then 1.5x
    cos, 2x linear on every data set): only a default that changed its numbers (CIFAR-10 cos) is a difference."""
    now = dataclasses.asdict(TrainConfig(model="lenet", dataset=dataset, method="at", eps=0.1,
                                         schedule=schedule).resolved())
    old = {k: v for k, v in now.items() if k not in ("protocol", "attack_iterate", "random_start",
                                                     "attack_bn_stats")} | {"eps_max": None}
    assert config_differences(old, now) == changed
    assert config_differences(old, {**now, "attack_iterate": "last"}) == sorted(changed + ["attack_iterate"])
