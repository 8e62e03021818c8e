"""theory.linear: the closed-form inner maximum against brute force, the Danskin gradient against finite
differences, and input validation."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from advland.theory import linear

finite = st.floats(-3, 3, allow_nan=False)
ps = st.sampled_from([1.0, 2.0, 3.0, np.inf])


@given(hnp.arrays(float, 3, elements=finite), hnp.arrays(float, 3, elements=finite),
       st.sampled_from([-1.0, 1.0]), st.floats(0, 2))
def test_linf_margin_equals_vertex_enumeration(w, x, y, eps):
    # the margin is linear in δ, so its minimum over the ℓ∞ ball is at a vertex
    vertices = np.array(list(itertools.product([-eps, eps], repeat=3)))
    brute = np.min(y * (x + vertices) @ w)
    closed = linear.adversarial_margins(w, x[None], np.array([y]), eps, np.inf)[0]
    assert closed == pytest.approx(brute, abs=1e-9)


@given(hnp.arrays(float, 4, elements=finite), hnp.arrays(float, 4, elements=finite),
       st.sampled_from([-1.0, 1.0]), st.floats(0, 2), ps)
def test_worst_case_input_attains_margin_and_is_feasible(w, x, y, eps, p):
    xs = linear.worst_case_inputs(w, x[None], np.array([y]), eps, p)[0]
    assert linear.lp_norm(xs - x, p) <= eps + 1e-9
    assert y * xs @ w == pytest.approx(linear.adversarial_margins(w, x[None], np.array([y]), eps, p)[0], abs=1e-8)


@settings(max_examples=50)
@given(hnp.arrays(float, 4, elements=finite), st.floats(0.01, 2), ps, st.integers(0, 2**31 - 1))
def test_no_random_perturbation_beats_the_closed_form(w, eps, p, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=4), 1.0
    d = rng.normal(size=(200, 4))
    d = eps * d / linear.lp_norm(d, p, axis=1)[:, None]
    closed = linear.adversarial_margins(w, x[None], np.array([y]), eps, p)[0]
    assert np.min(y * (x + d) @ w) >= closed - 1e-9


@given(st.integers(0, 2**31 - 1), ps, st.floats(0, 1))
def test_gradient_matches_finite_differences(seed, p, eps):
    rng = np.random.default_rng(seed)
    X, y, w = rng.normal(size=(10, 4)), rng.choice([-1.0, 1.0], 10), rng.normal(size=4) + 0.5
    h = 1e-6
    fd = [(linear.adversarial_loss(w + h * e, X, y, eps, p) - linear.adversarial_loss(w - h * e, X, y, eps, p)) / (2 * h)
          for e in np.eye(4)]
    np.testing.assert_allclose(linear.adversarial_grad(w, X, y, eps, p), fd, atol=1e-6)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "a", None])
def test_bad_eps_is_rejected(bad):
    with pytest.raises(ValueError, match="ε"):
        linear.check_eps(bad)


def test_bad_p_is_rejected():
    with pytest.raises(ValueError):
        linear.dual_exponent(0.5)


@given(ps)
def test_dual_exponent_is_an_involution(p):
    assert linear.dual_exponent(linear.dual_exponent(p)) == pytest.approx(p)


@given(hnp.arrays(float, 3, elements=st.floats(-1e-160, 1e-160) | st.floats(-1e300, 1e300)), ps)
def test_dual_direction_is_finite_and_attains_the_dual_norm_at_any_scale(w, p):
    s = linear.dual_direction(w, p)
    assert np.all(np.isfinite(s)) and linear.lp_norm(s, p) <= 1 + 1e-9
    if np.any(w):
        scale = np.max(np.abs(w))
        assert s @ (w / scale) == pytest.approx(linear.lp_norm(w / scale, linear.dual_exponent(p)), rel=1e-9)
