"""AWP, measures and the training loop: independent recomputation, resume = uninterrupted, metrics that leave the
model bit-exact, divergence, fast path."""
import copy
import json

import pytest
import torch
import torch.nn.functional as F

from advland.empirical.attacks import pgd
from advland.empirical.core.params import select_params
from advland.empirical.core.state import snapshot, state_equal
from advland.empirical.train.awp import apply_perturbation, awp_direction
from advland.empirical.train.checkpoint import load_checkpoint, load_run
from advland.empirical.train.config import TrainConfig
from advland.empirical.train.loop import (BATCH_STREAM, TrainRun, awp_perturbation, epoch_metrics, inner_maximization,
                                          outer_loss, train, train_step, trades_kl)
from advland.empirical.train.metrics import dead_relu_fraction, full_batch_grad_norm, weight_norms
from advland.io import write_json
from advland.seeding import torch_generator


def tiny_cfg(**kw):
    base = dict(model="tiny", dataset="synthetic", method="at", eps=0.1, epochs=2, batch_size=32, eval_subset=32,
                grad_subset=32, attack_steps=2, eval_steps=2, optimizer="sgd", lr=0.05, num_classes=4)
    base.update(kw)
    return TrainConfig(**base)


def strip_times(history):
    return [{k: v for k, v in h.items() if k != "time_s"} for h in history]


def test_awp_perturbation_is_layerwise_relative_and_along_the_gradient(tiny_net, tiny_data):
    model = tiny_net().train()
    x, y = tiny_data(16)
    before = snapshot(model)
    gamma = 0.02
    v = awp_direction(model, copy.deepcopy(model), lambda m: F.cross_entropy(m(x), y), gamma)
    assert state_equal(before, snapshot(model))                            # the proxy did the work
    names = {n for n, _ in select_params(model, "weights")}
    assert set(v) == names and all(dict(model.named_parameters())[n].ndim > 1 for n in names)
    params = dict(model.named_parameters())
    grads = torch.autograd.grad(F.cross_entropy(model(x), y), list(params.values()))
    gdict = dict(zip(params, grads))
    for n, t in v.items():
        assert torch.isclose(t.norm(), gamma * params[n].detach().norm(), rtol=1e-5)
        assert F.cosine_similarity(t.flatten(), gdict[n].flatten(), dim=0) > 1 - 1e-5
    apply_perturbation(model, v, +1.0)
    apply_perturbation(model, v, -1.0)
    for n, p in model.named_parameters():
        assert torch.allclose(p, before["tensors"][n], atol=1e-7)


def test_awp_update_is_computed_at_w_plus_v_and_applied_to_w(tiny_net, tiny_data):
    cfg = tiny_cfg(method="awp", momentum=0.0, weight_decay=0.0, lr=0.1, awp_gamma=0.05).resolved()
    model = tiny_net(bn=False)
    ref = copy.deepcopy(model)
    x, y = tiny_data(32)
    run = TrainRun(cfg, model)
    train_step(run, x, y, epoch=0, eps_t=cfg.eps)
    # independent recomputation with the same random start
    gen = torch_generator(cfg.seed, BATCH_STREAM)
    ref.eval()
    x_adv = x + pgd(ref, x, y, eps=cfg.eps, steps=cfg.attack_steps, step_size=cfg.attack_step_size, generator=gen)
    ref.train()
    w = {n: p.detach().clone() for n, p in ref.named_parameters()}
    v = awp_direction(ref, copy.deepcopy(ref), lambda m: F.cross_entropy(m(x_adv), y), cfg.awp_gamma)
    apply_perturbation(ref, v, +1.0)
    grads = dict(zip(w, torch.autograd.grad(F.cross_entropy(ref(x_adv), y), list(ref.parameters()))))
    for n, p in model.named_parameters():
        assert torch.allclose(p, w[n] - cfg.lr * grads[n], atol=1e-6)


@pytest.mark.parametrize("method", ["awp", "trades-awp"])
def test_awp_perturbation_of_a_training_step_increases_the_training_loss(method, tiny_net, tiny_data):
    """AWP is a worst-case weight perturbation: at w + v the loss the step trains on must be higher than at w."""
    cfg = tiny_cfg(method=method, awp_gamma=0.01, awp_warmup=0).resolved()
    model = tiny_net(bn=False).train()
    x, y = tiny_data(32)
    run = TrainRun(cfg, model)
    x_adv = x + pgd(model, x, y, eps=cfg.eps, steps=2, generator=torch.Generator().manual_seed(0))
    before = float(outer_loss(cfg, model, x, y, x_adv).detach())
    apply_perturbation(model, awp_perturbation(run, x, y, x_adv), +1.0)
    assert float(outer_loss(cfg, model, x, y, x_adv).detach()) > before


def test_measures_agree_with_direct_computation_and_leave_the_model_bit_exact(tiny_net, tiny_data):
    model = tiny_net()
    x, y = tiny_data(40)
    direct = torch.autograd.grad(F.cross_entropy(model.eval()(x), y), list(model.parameters()))
    expected = torch.sqrt(sum((g ** 2).sum() for g in direct))
    model.train()                    # the measures run in eval mode: one that forgot would move the BN statistics
    before = snapshot(model)
    assert full_batch_grad_norm(model, x, y, batch_size=7) == pytest.approx(float(expected), rel=1e-5)
    gen = dict(norm="linf", steps=2, generator=torch.Generator().manual_seed(0))
    assert full_batch_grad_norm(model, x, y, eps=0.1, attack=gen, batch_size=40) > 0
    assert weight_norms(model) == {n: pytest.approx(float(p.detach().norm())) for n, p in model.named_parameters()}
    assert state_equal(before, snapshot(model))
    with torch.no_grad():
        model[-3].bias.fill_(-1e3)                          # second ReLU can never fire
    before = snapshot(model)
    dead = dead_relu_fraction(model, x, batch_size=9)
    assert state_equal(before, snapshot(model))
    assert set(dead) == {"2", "6"} and dead["6"] == 1.0
    with torch.no_grad():
        pre = model.eval()[:2](x)
    assert dead["2"] == pytest.approx(float(1 - (pre > 0).any(0).float().mean()))
    assert all(p.grad is None for p in model.parameters())


def test_epoch_metrics_leave_model_and_training_generators_bit_exact(tiny_net, tiny_data):
    """The per-epoch metrics run between two epochs: anything they changed (weights, BN statistics, train flags,
    the training generators) would make the next epoch differ from an uninterrupted run."""
    cfg = tiny_cfg(method="trades", bn_attack="train").resolved()
    run = TrainRun(cfg, tiny_net(bn=True))
    x, y = tiny_data(48)
    train_step(run, x[:32], y[:32], epoch=0, eps_t=cfg.eps)          # non-trivial BN statistics and momentum
    run.base.train()
    before, rng = snapshot(run.base), (run.gen_cpu.get_state(), run.gen.get_state())
    m = epoch_metrics(run, 0, (x, y), (x[:20], y[:20]), (x[:24], y[:24]))
    assert state_equal(before, snapshot(run.base))
    assert torch.equal(rng[0], run.gen_cpu.get_state()) and torch.equal(rng[1], run.gen.get_state())
    assert 0 <= m["test_robust_acc"] <= m["test_clean_acc"] <= 1 and m["grad_norm_robust"] > 0
    assert m == epoch_metrics(run, 0, (x, y), (x[:20], y[:20]), (x[:24], y[:24]))   # its own named streams


@pytest.mark.parametrize("method,extra", [
    ("trades-awp", dict(awp_warmup=1, schedule="cos", bn_attack="train", epochs=3)),
    ("awp", dict(optimizer="adam", lr=1e-3, schedule="linear", eps_update="batch", epochs=3)),
])
def test_interrupted_run_resumes_to_identical_results(tmp_path, method, extra, tiny_net, tiny_data):
    cfg = tiny_cfg(method=method, **extra)
    x, y = tiny_data(72)
    full = train(cfg, tmp_path / "full", data=(x, y, x, y), model=tiny_net())
    part = train(cfg, tmp_path / "part", data=(x, y, x, y), model=tiny_net(), stop_after=2)
    assert part["status"] == "running" and part["epochs_done"] == 2
    resumed = train(cfg, tmp_path / "part", data=(x, y, x, y), model=tiny_net(seed=99))
    assert full["status"] == resumed["status"] == "completed"
    assert strip_times(full["history"]) == strip_times(resumed["history"])
    a = load_checkpoint(tmp_path / "full" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "part" / "checkpoint.pt")
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    config = json.loads((tmp_path / "full" / "config.json").read_text())
    assert config["bn_attack"] == cfg.resolved().bn_attack and config["method"] == method
    assert set(full["history"][-1]) >= {"train_clean_acc", "train_robust_acc", "test_clean_acc", "test_robust_acc",
                                        "train_robust_loss", "test_clean_loss", "grad_norm_robust", "weight_norms",
                                        "dead_relu"}


def test_divergence_ends_the_run_with_a_status(tmp_path, tiny_net, tiny_data):
    x, y = tiny_data(64)
    doc = train(tiny_cfg(method="clean", lr=1e9, momentum=0.0, epochs=3), tmp_path, data=(x, y, x, y),
                model=tiny_net(bn=False))
    assert doc["status"] == "diverged"
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "diverged"


def test_fast_path_matches_reference_within_bf16_tolerance(tmp_path, tiny_net, tiny_data):
    x, y = tiny_data(32)
    cfg = tiny_cfg(epochs=1, lr=0.02)
    ref = train(cfg, tmp_path / "ref", data=(x, y, x, y), model=tiny_net(bn=False))
    fast = train(tiny_cfg(epochs=1, lr=0.02, fast=True), tmp_path / "fast", data=(x, y, x, y),
                 model=tiny_net(bn=False))
    a = load_checkpoint(tmp_path / "ref" / "checkpoint.pt")["model"]
    b = load_checkpoint(tmp_path / "fast" / "checkpoint.pt")["model"]
    w0 = tiny_net(bn=False).state_dict()
    for k in a:
        moved = (a[k] - w0[k]).norm()
        assert (a[k] - b[k]).norm() <= 0.1 * moved + 2e-2 * a[k].norm()   # bf16: ~3 significant digits
    assert any(not torch.equal(a[k], b[k]) for k in a)                   # bf16 autocast really ran
    h_ref, h_fast = ref["history"][-1], fast["history"][-1]
    assert abs(h_ref["test_clean_loss"] - h_fast["test_clean_loss"]) < 0.05 * h_ref["test_clean_loss"]


def test_checkpoint_is_weights_only_and_load_run_checks_the_model(tmp_path):
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(48, 1, 28, 28, generator=g), torch.randint(0, 10, (48,), generator=g)
    cfg = tiny_cfg(model="mlp", dataset="mnist", width=1, num_classes=10, epochs=1, batch_size=16)
    train(cfg, tmp_path, data=(x, y, x, y))
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert {"model", "optimizer", "rng", "epoch", "history"} <= set(state)
    model, config = load_run(tmp_path)
    assert not model.training and config["model"] == "mlp"
    assert all(torch.equal(v, state["model"][k]) for k, v in model.state_dict().items())
    config["width"] = 2
    write_json(tmp_path / "config.json", config)
    with pytest.raises(ValueError, match="does not match model"):
        load_run(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_run(tmp_path / "nothing")


def test_bad_configurations_fail_before_any_work(tmp_path, tiny_net, tiny_data):
    for bad in (dict(method="mart"), dict(eps=-0.1), dict(schedule="step"), dict(norm="l1"),
                dict(bn_attack="frozen"), dict(optimizer="lbfgs"), dict(periods=[0, 5])):
        with pytest.raises(ValueError):
            train(tiny_cfg(**bad), tmp_path / "bad", data=None, model=tiny_net())
        assert not (tmp_path / "bad").exists()
    x, y = tiny_data(32)
    train(tiny_cfg(epochs=1), tmp_path / "run", data=(x, y, x, y), model=tiny_net())
    with pytest.raises(ValueError, match="different configuration"):
        train(tiny_cfg(epochs=1, eps=0.2), tmp_path / "run", data=(x, y, x, y), model=tiny_net())
    # the rejected process left no record in the run it did not train
    assert len(json.loads((tmp_path / "run" / "environment.json").read_text())["invocations"]) == 1


def test_trades_kl_matches_torch_kl_div():
    g = torch.Generator().manual_seed(0)
    clean, adv = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    p = F.softmax(clean, dim=1)
    ref = F.kl_div(F.log_softmax(adv, dim=1), p, reduction="none").sum(1)
    assert torch.allclose(trades_kl(adv, p), ref, atol=1e-6)
    assert torch.allclose(trades_kl(clean, p), torch.zeros(6), atol=1e-6)


@pytest.mark.parametrize("bn_attack", ["eval", "train"])
@pytest.mark.parametrize("method", ["at", "trades"])
def test_inner_attack_leaves_bn_state_alone_and_stays_in_the_ball(bn_attack, method, tiny_net, tiny_data):
    cfg = tiny_cfg(method=method, bn_attack=bn_attack).resolved()
    run = TrainRun(cfg, tiny_net(bn=True).train())
    x, y = tiny_data(16)
    before = snapshot(run.base)
    x_adv = inner_maximization(run, x, y, cfg.eps)
    assert state_equal(before, snapshot(run.base))
    assert (x_adv - x).abs().max() <= cfg.eps + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
