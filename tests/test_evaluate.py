"""The one evaluation loop: agreement with a direct one-batch computation whatever the batch size, one generator
consumed batch after batch, an explicit BatchNorm mode with the state restored, input validation."""
import functools

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings, strategies as st

from advland.empirical.attacks import pgd
from advland.empirical.core.state import snapshot, state_equal
from advland.empirical.evaluate import evaluate, loss_and_accuracy

ATTACK = functools.partial(pgd, eps=0.1, steps=3)
FIXTURES = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def direct(model, x, y):
    """Per-example CE and correctness in one batch, eval mode."""
    with torch.no_grad():
        logits = model.eval()(x)
    return F.cross_entropy(logits, y, reduction="none"), logits.argmax(1) == y


@FIXTURES
@given(batch_size=st.integers(1, 14), seed=st.integers(0, 2**31 - 1))
def test_eval_mode_metrics_match_a_direct_computation_for_any_batch_size(bn_net, bn_data, batch_size, seed):
    model, (x, y) = bn_net(), bn_data(13)
    r = evaluate(model, x, y, attack=ATTACK, generator=torch.Generator().manual_seed(seed), batch_size=batch_size,
                 keep_delta=True)
    g = torch.Generator().manual_seed(seed)                  # the attack's draws: one generator, batch after batch
    delta = torch.cat([ATTACK(model, x[i:i + batch_size], y[i:i + batch_size], generator=g)
                       for i in range(0, len(x), batch_size)])
    assert torch.equal(r["delta"], delta)
    for kind, inputs in (("clean", x), ("robust", x + delta)):
        loss, correct = direct(model, inputs, y)
        assert r[f"{kind}_loss"] == pytest.approx(float(loss.mean()), rel=1e-12)
        assert r[f"{kind}_acc"] == float(correct.double().mean())
    assert r["n"] == len(x) and r["robust_loss"] >= r["clean_loss"]  # PGD keeps its best iterate, delta = 0 included
    given_delta = evaluate(model, x, y, delta=delta, clean=False, batch_size=batch_size)
    assert given_delta["robust_loss"] == r["robust_loss"] and set(given_delta) == {"n", "robust_loss", "robust_acc"}


@pytest.mark.parametrize("bn_mode", ["eval", "train"])
def test_explicit_bn_mode_and_state_restored(bn_net, bn_data, bn_mode):
    model, (x, y) = bn_net(), bn_data(12)
    model.train(bn_mode == "eval")                           # the opposite of the mode asked for
    before = snapshot(model)
    r = evaluate(model, x, y, attack=ATTACK, generator=torch.Generator().manual_seed(0), bn_mode=bn_mode,
                 batch_size=4)
    assert state_equal(before, snapshot(model))
    with torch.no_grad():                                    # train mode: every batch normalized by its own stats
        logits = torch.cat([model.train(bn_mode == "train")(x[i:i + 4]) for i in range(0, 12, 4)])
    assert r["clean_loss"] == pytest.approx(float(F.cross_entropy(logits, y)), rel=1e-12)


def test_loss_and_accuracy_is_clean_without_a_perturbation(bn_net, bn_data):
    model, (x, y) = bn_net(), bn_data(12)
    loss, correct = direct(model, x, y)
    assert loss_and_accuracy(model, x, y, batch_size=5) == pytest.approx((float(loss.mean()),
                                                                          float(correct.double().mean())))
    zero = loss_and_accuracy(model, x, y, delta=torch.zeros_like(x), batch_size=5)
    assert zero == loss_and_accuracy(model, x, y, batch_size=5)


def test_rejects_bad_input(bn_net, bn_data):
    model, (x, y) = bn_net(), bn_data(6)
    with pytest.raises(ValueError, match="same number"):
        evaluate(model, x, y[:-1])
    with pytest.raises(ValueError, match="not both"):
        evaluate(model, x, y, attack=ATTACK, delta=torch.zeros_like(x))
    with pytest.raises(ValueError, match="shape"):
        evaluate(model, x, y, delta=torch.zeros_like(x[:-1]))
    with pytest.raises(ValueError, match="nothing to evaluate"):
        evaluate(model, x, y, clean=False)
    with pytest.raises(ValueError, match="keep_delta"):
        evaluate(model, x, y, keep_delta=True)
    with pytest.raises(ValueError, match="batch_size"):
        evaluate(model, x, y, batch_size=0)
    with pytest.raises(ValueError, match="bn_mode"):
        evaluate(model, x, y, bn_mode="frozen")
