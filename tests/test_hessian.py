"""Hessian instruments against independent computations on tiny float64 models.

The oracle is the dense Hessian of torch.autograd.functional.hessian on a flattened-parameter
closure over the whole data set in one batch (no batching, no torch.func.jvp), and
numpy.linalg.eigh of it.
"""
import functools
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st
from torch import nn
from torch.func import functional_call

from advland.empirical.landscape import eigen
from advland.empirical.landscape.hessian import HessianOperator, top_eigenvector
from advland.empirical.core.params import select_params
from advland.empirical.landscape.hvp import HVP_FUNCTIONS, gradient, hvp_finite_difference, loss_value
from advland.empirical.core.state import preserved, snapshot, state_equal

FAST = settings(max_examples=8, deadline=None)


def mlp(seed, scale=1.0, hidden=4, n=12):
    """3-hidden-3 tanh MLP with explicitly drawn weights and data. With scale=3 and every label set
    to the LEAST likely class (seed 19), negative curvature dominates: |λ_min| > λ_max."""
    g = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, hidden), nn.Tanh(), nn.Linear(hidden, 3)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=g, dtype=torch.float64) / p.shape[-1] ** 0.5)
    x = torch.randn(n, 3, generator=g, dtype=torch.float64)
    with torch.no_grad():
        logits = model(x)
    y = logits.argmin(1) if scale > 1 else torch.randint(0, 3, (n,), generator=g)
    return model, x, y


def bn_cnn(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(),
                          nn.Linear(2 * 3 * 3, 3)).double()
    with torch.no_grad():  # non-trivial running statistics so that a reset would show
        model[1].running_mean.uniform_(-1, 1)
        model[1].running_var.uniform_(0.5, 2)
    x = torch.rand(10, 1, 5, 5, dtype=torch.float64)
    y = torch.randint(0, 3, (10,))
    return model, x, y


CASES = {"typical": (0, 1.0), "negative_dominant": (19, 3.0)}


def dense_hessian(model, params, x, y):
    names = [n for n, _ in params]
    shapes = [p.shape for _, p in params]
    theta = torch.cat([p.detach().reshape(-1) for _, p in params])

    def loss(flat):
        parts = [t.view(s) for t, s in zip(torch.split(flat, [s.numel() for s in shapes]), shapes)]
        return F.cross_entropy(functional_call(model, dict(zip(names, parts)), (x,)), y)

    return torch.autograd.functional.hessian(loss, theta, vectorize=True)


def exact(case, params="all"):
    model, x, y = mlp(*CASES[case])
    with preserved(model, "eval"):
        h = dense_hessian(model, select_params(model, params), x, y)
    return model, x, y, h, np.linalg.eigvalsh(h.numpy())


def flat(tensors):
    return torch.cat([t.reshape(-1) for t in tensors])


# ---------------------------------------------------------------- parameter selection

def test_select_params_sets_and_errors():
    model, _, _ = bn_cnn()
    every = select_params(model, "all")
    weights = select_params(model, "weights")
    assert [n for n, _ in every] == [n for n, _ in model.named_parameters()]
    assert [n for n, _ in weights] == [n for n, p in model.named_parameters() if p.ndim > 1]
    with pytest.raises(ValueError, match="matches no"):
        select_params(nn.BatchNorm1d(3), "weights")
    with pytest.raises(ValueError, match="params must be one of"):
        select_params(model, "biases")


# ---------------------------------------------------------------- HVP correctness

@pytest.mark.parametrize("method", sorted(HVP_FUNCTIONS))
@pytest.mark.parametrize("params", ["all", "weights"])
def test_hvp_matches_dense_and_finite_differences(method, params):
    model, x, y = mlp(0)
    chosen = select_params(model, params)
    h = dense_hessian(model, chosen, x, y)
    g = torch.Generator().manual_seed(1)
    for _ in range(3):
        v = [torch.randn(p.shape, generator=g, dtype=p.dtype) for _, p in chosen]
        hv = flat(HVP_FUNCTIONS[method](model, chosen, x, y, v, 5))
        fd = flat(hvp_finite_difference(model, chosen, x, y, v, 5))
        torch.testing.assert_close(hv, h @ flat(v), rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(fd, hv, rtol=1e-6, atol=1e-8)


@FAST
@given(seed=st.integers(0, 2**16), case=st.sampled_from(sorted(CASES)))
def test_hvp_symmetry_and_routes_agree(seed, case):
    model, x, y = mlp(*CASES[case])
    op = HessianOperator(model, x, y, batch_size=5, method="forward_over_reverse")
    g = torch.Generator().manual_seed(seed)
    u, v = (torch.randn(op.dim, generator=g, dtype=torch.float64) for _ in range(2))
    assert torch.dot(u, op.matvec(v)).item() == pytest.approx(torch.dot(v, op.matvec(u)).item(),
                                                              rel=1e-10, abs=1e-12)
    other = HessianOperator(model, x, y, batch_size=5, method="double_backward")
    torch.testing.assert_close(other.matvec(v), op.matvec(v), rtol=1e-10, atol=1e-12)


@FAST
@given(batch_size=st.integers(1, 13))
def test_batch_size_invariance(batch_size):
    model, x, y = mlp(0)
    params = select_params(model)
    v = [torch.ones_like(p) for _, p in params]
    torch.testing.assert_close(loss_value(model, x, y, batch_size), loss_value(model, x, y, 12),
                               rtol=1e-12, atol=0)
    for method, hvp in HVP_FUNCTIONS.items():
        torch.testing.assert_close(flat(hvp(model, params, x, y, v, batch_size)),
                                   flat(hvp(model, params, x, y, v, 12)), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(flat(gradient(model, params, x, y, batch_size)),
                               flat(gradient(model, params, x, y, 12)), rtol=1e-10, atol=1e-12)


def test_bn_train_mode_routes_agree_with_dense():
    """Train-mode BN: batch statistics of the single full batch; forward-over-reverse must not
    trip on the running-statistics update and must equal double backward and the dense oracle."""
    model, x, y = bn_cnn()
    params = select_params(model)
    before = snapshot(model)
    with preserved(model, "train"):
        h = dense_hessian(model, params, x, y)
    ops = [HessianOperator(model, x, y, bn_mode="train", method=m, batch_size=10) for m in HVP_FUNCTIONS]
    v = torch.randn(ops[0].dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for op in ops:
        torch.testing.assert_close(op.matvec(v), h @ v, rtol=1e-9, atol=1e-11)
    assert state_equal(before, snapshot(model))


@pytest.mark.parametrize("bn_mode", ["eval", "train"])
def test_retained_graph_matches_recomputation_and_dense(bn_mode):
    model, x, y = bn_cnn()
    params = select_params(model)
    with preserved(model, bn_mode):
        h = dense_hessian(model, params, x, y)
    retained = HessianOperator(model, x, y, bn_mode=bn_mode, batch_size=10)
    graph = retained.describe()["hvp_graph"]
    assert graph["retained"] and graph["saved_bytes"] > 0
    just_below = HessianOperator(model, x, y, bn_mode=bn_mode, batch_size=10, memory_budget=graph["saved_bytes"] - 1)
    assert not just_below.describe()["hvp_graph"]["retained"]
    assert just_below.loss_value == pytest.approx(retained.loss_value, rel=1e-12)
    g = torch.Generator().manual_seed(2)
    for _ in range(3):
        v = torch.randn(retained.dim, generator=g, dtype=torch.float64)
        torch.testing.assert_close(retained.matvec(v), h @ v, rtol=1e-9, atol=1e-11)
        torch.testing.assert_close(just_below.matvec(v), retained.matvec(v), rtol=1e-10, atol=1e-12)


def test_retained_graph_refuses_parameters_changed_in_place():
    model, x, y = mlp(0)
    op = HessianOperator(model, x, y)
    with torch.no_grad():
        model[0].weight.add_(1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        op.matvec(torch.ones(op.dim, dtype=torch.float64))


@pytest.mark.parametrize("method", sorted(HVP_FUNCTIONS))
@pytest.mark.parametrize("memory_budget", [0, 2**30])
@pytest.mark.parametrize("bn_mode", ["eval", "train"])
def test_hvps_leave_graphs_held_over_the_model_usable(method, memory_budget, bn_mode):
    """Nothing is written into the model: a graph built over it before (saving its parameters and, in eval
    mode, its BN running statistics) still back-propagates after the operator's HVPs, to the same gradient."""
    model, x, y = bn_cnn()
    model.eval()
    tensors = list(model.parameters())
    held = F.cross_entropy(model(x), y)
    before = torch.autograd.grad(held, tensors, retain_graph=True)
    op = HessianOperator(model, x, y, bn_mode=bn_mode, method=method, batch_size=4, memory_budget=memory_budget)
    op.lanczos(k=1, max_iter=3)
    op.hutchinson_trace(num_samples=2)
    for a, b in zip(before, torch.autograd.grad(held, tensors)):
        assert torch.equal(a, b)


# ---------------------------------------------------------------- eigen-solvers vs eigh

@pytest.mark.parametrize("case", sorted(CASES))
def test_lanczos_and_power_iteration_match_eigh(case):
    model, x, y, h, ev = exact(case)
    op = HessianOperator(model, x, y)
    top = op.lanczos(k=3, which="LA", tol=1e-8)
    bottom = op.lanczos(k=1, which="SA", tol=1e-8)
    assert top.converged and bottom.converged
    np.testing.assert_allclose(top.eigenvalues, ev[::-1][:3], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(bottom.eigenvalues, ev[:1], rtol=1e-6, atol=1e-8)
    for pair in top.pairs + bottom.pairs:  # the reported residual is the true one
        true = (h @ pair.vector - pair.value * pair.vector).norm().item()
        assert pair.residual == pytest.approx(true, rel=1e-6, abs=1e-12)
    assert top.n_matvecs == top.iterations + 3 and bottom.n_matvecs == bottom.iterations + 1
    # power iteration (Liu / PyHessian) on the same Hessian finds the largest MAGNITUDES
    by_magnitude = ev[np.argsort(-np.abs(ev))][:3]
    power = eigen.power_iteration(lambda v: h @ v, op.dim, k=3, max_iter=2000, tol=1e-12,
                                  generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose(power.eigenvalues, by_magnitude, rtol=1e-5)
    assert power.converged and power.n_matvecs == power.iterations
    if case == "negative_dominant":  # the pitfall: "top" by magnitude is negative here
        assert -ev[0] > ev[-1] and power.eigenvalues[0] < 0 < top.eigenvalues[0]
        through_operator = op.power_iteration(k=1, max_iter=100, tol=1e-9)
        assert through_operator.eigenvalues[0] == pytest.approx(ev[0], rel=1e-6)


def test_lanczos_weights_only_matches_eigh():
    model, x, y, _, ev = exact("negative_dominant", params="weights")
    result = HessianOperator(model, x, y, params="weights").lanczos(k=2, which="SA", tol=1e-8)
    np.testing.assert_allclose(result.eigenvalues, ev[:2], rtol=1e-6, atol=1e-8)


@functools.lru_cache(maxsize=None)
def extremes():
    model, x, y = mlp(*CASES["negative_dominant"])
    op = HessianOperator(model, x, y)
    return op, op.lanczos(k=1, which="SA", tol=1e-8).pairs[0], op.lanczos(k=1, which="LA", tol=1e-8).pairs[0]


@FAST
@given(seed=st.integers(0, 2**16))
def test_rayleigh_quotient_within_extreme_eigenvalues(seed):
    op, lo, hi = extremes()
    v = torch.randn(op.dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    rq = (torch.dot(v, op.matvec(v)) / torch.dot(v, v)).item()
    assert lo.value - lo.residual - 1e-12 <= rq <= hi.value + hi.residual + 1e-12


def test_hutchinson_within_standard_errors_of_exact_trace():
    model, x, y, h, _ = exact("typical")
    exact_trace = torch.trace(h).item()
    result = eigen.hutchinson_trace(lambda v: h @ v, h.shape[0], num_samples=400,
                                    generator=torch.Generator().manual_seed(3))
    assert result.n_matvecs == 400 and result.stderr > 0
    assert abs(result.estimate - exact_trace) <= 4 * result.stderr
    through_operator = HessianOperator(model, x, y).hutchinson_trace(num_samples=20, seed=3)
    assert through_operator.n_matvecs == 20
    assert abs(through_operator.estimate - exact_trace) <= 5 * through_operator.stderr


def test_generic_solvers_on_explicit_indefinite_matrix():
    """Known spectrum, few distinct eigenvalues: Lanczos ends on an invariant Krylov space."""
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(60, 60, generator=g, dtype=torch.float64))
    spectrum = torch.tensor([-9.0, 4.0, 3.0] + [0.5] * 30 + [-0.25] * 27, dtype=torch.float64)
    a = q @ torch.diag(spectrum) @ q.T
    res = eigen.lanczos(lambda v: a @ v, 60, k=2, which="LA", tol=1e-10, generator=g)
    assert res.converged and res.iterations <= 5
    np.testing.assert_allclose(res.eigenvalues, [4.0, 3.0], rtol=1e-10)
    low = eigen.lanczos(lambda v: a @ v, 60, k=1, which="SA", tol=1e-10, generator=g)
    np.testing.assert_allclose(low.eigenvalues, [-9.0], rtol=1e-10)
    power = eigen.power_iteration(lambda v: a @ v, 60, k=1, max_iter=200, tol=1e-12, generator=g)
    assert power.eigenvalues[0] == pytest.approx(-9.0, rel=1e-8)


# ---------------------------------------------------------------- convergence flags and JSON

def test_non_converged_result_is_flagged_in_json():
    model, x, y = mlp(0, hidden=8)
    op = HessianOperator(model, x, y)
    res = op.lanczos(k=3, which="LA", tol=1e-12, max_iter=4)
    power = op.power_iteration(k=2, max_iter=2, tol=1e-12)
    for r in (res, power):
        assert not r.converged
        record = json.loads(json.dumps(op.report(r)))
        assert record["result"]["converged"] is False
        assert all(set(p) == {"value", "residual", "converged"} for p in record["result"]["pairs"])
        assert record["hessian"]["loss"] == "clean" and record["hessian"]["bn_mode"] == "eval"


def test_top_eigenvector_shapes_and_info():
    model, x, y, _, ev = exact("typical", params="weights")
    value, vectors, info = top_eigenvector(model, x, y, params="weights", tol=1e-8)
    assert value == pytest.approx(ev[-1], rel=1e-6)
    assert [v.shape for v in vectors] == [p.shape for _, p in select_params(model, "weights")]
    assert info["result"]["converged"] and info["hessian"]["params"] == "weights"


# ---------------------------------------------------------------- errors and adversarial loss

def test_nan_loss_and_bad_arguments_raise():
    model, x, y = mlp(0)
    with torch.no_grad():
        model[0].weight[0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="loss at θ is nan"):
        HessianOperator(model, x, y)
    model, x, y = mlp(0)
    for kwargs, message in [({"bn_mode": "test"}, "bn_mode"), ({"loss": "robust"}, "loss must"),
                            ({"method": "fd"}, "method must"), ({"batch_size": 0}, "batch_size"),
                            ({"loss": "adversarial"}, "exactly one"),
                            ({"x_adv": x}, "only to loss='adversarial'"),
                            ({"loss": "adversarial", "x_adv": x[:3]}, "shape")]:
        with pytest.raises(ValueError, match=message):
            HessianOperator(model, x, y, **kwargs)
    with pytest.raises(ValueError, match="same number"):
        HessianOperator(model, x, y[:5])


def test_adversarial_examples_frozen_and_described():
    pytest.importorskip("advland.empirical.attacks")
    model, _, y = mlp(0)
    x = torch.rand(12, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    attack = {"eps": 0.1, "steps": 5}
    op = HessianOperator(model, x, y, loss="adversarial", attack=attack, batch_size=5,
                         method="forward_over_reverse")
    d = op.describe()
    assert d["loss"] == "adversarial (examples frozen at θ)"
    assert d["adversarial_examples"] == {"source": "pgd", "attack": attack, "attack_bn_mode": "eval"}
    assert (op.x - x).abs().max() <= 0.1 + 1e-12 and op.loss_value > loss_value(model, x, y, 12)
    frozen = HessianOperator(model, x, y, loss="adversarial", x_adv=op.x, method="double_backward")
    assert frozen.describe()["adversarial_examples"] == {"source": "precomputed"}
    v = torch.randn(op.dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    torch.testing.assert_close(frozen.matvec(v), op.matvec(v), rtol=1e-10, atol=1e-12)
    h = dense_hessian(model, op.params, op.x, y)
    torch.testing.assert_close(op.matvec(v), h @ v, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- model state

@pytest.mark.parametrize("bn_mode", ["eval", "train"])
@pytest.mark.parametrize("model_training", [False, True])
def test_model_state_untouched(bn_mode, model_training):
    model, x, y = bn_cnn()
    model.train(model_training)
    before = snapshot(model)
    pytest.importorskip("advland.empirical.attacks")
    kwargs = {"loss": "adversarial", "attack": {"eps": 0.05, "steps": 2}, "attack_bn_mode": "train"}
    for method in HVP_FUNCTIONS:
        op = HessianOperator(model, x, y, bn_mode=bn_mode, method=method, batch_size=6, **kwargs)
        op.lanczos(k=1, max_iter=2)
        op.power_iteration(k=1, max_iter=1)
        op.hutchinson_trace(num_samples=2)
        with preserved(model, bn_mode):
            hvp_finite_difference(model, op.params, op.x, y, op.unflatten(torch.ones(op.dim,
                                  dtype=torch.float64)), 6)
        assert state_equal(before, snapshot(model))
    assert model.training == model_training


def test_solver_argument_errors_and_nonfinite_matvec():
    a = torch.eye(4, dtype=torch.float64)
    for kwargs, message in [({"k": 5}, "k must be <= n"), ({"which": "LM"}, "which must be"),
                            ({"tol": 0.0}, "tol must be"), ({"k": 0}, "k must be")]:
        with pytest.raises(ValueError, match=message):
            eigen.lanczos(lambda v: a @ v, 4, **kwargs)
    with pytest.raises(ValueError, match="num_samples"):
        eigen.hutchinson_trace(lambda v: a @ v, 4, num_samples=1)
    with pytest.raises(FloatingPointError, match="matvec number 1"):
        eigen.power_iteration(lambda v: v * float("nan"), 4)
