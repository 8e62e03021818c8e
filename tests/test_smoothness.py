"""theory.smoothness: certified constants against independent numerical estimates; the liu2020.smoothness claim at
scale 'smoke' (decided from numbers that went through JSON); and false variants of eq. 11 that it must refute."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from advland.claims.model import Context, Verdict
from advland.claims.papers.liu2020 import smoothness as S
from claim_runs import as_json, computed, outcome_with, through_json
from falsify import assert_refuted
from advland.theory import linear, smoothness

finite = st.floats(-2, 2, allow_nan=False).map(lambda v: 0.0 if abs(v) < 1e-6 else v)
threats = st.sampled_from([2.0, np.inf])


def _unit_p_ball_point(rng, d, p):
    v = rng.normal(size=d)
    return v / linear.lp_norm(v, p) * rng.uniform(0, 1)


def _grad_g(x, y, theta):
    """∇_θ ℓ(yθᵀx) written out independently of theory.linear: −σ(−yθᵀx) y x."""
    m = y * theta @ x
    return -y * x / (1.0 + np.exp(m))


@given(st.integers(1, 6), st.sampled_from([1.0, 2.0, 3.0, np.inf]), st.integers(0, 2**31 - 1))
def test_identity_norm_bounds_and_is_attained(d, p, seed):
    rng = np.random.default_rng(seed)
    c = smoothness.identity_norm(d, p)
    v = _unit_p_ball_point(rng, d, p)
    assert np.linalg.norm(v) <= c + 1e-12
    # attained: a signed vertex for p >= 2, a basis vector for p <= 2
    best = np.ones(d) / linear.lp_norm(np.ones(d), p) if p >= 2 else np.eye(d)[0]
    assert np.linalg.norm(best) == pytest.approx(c)


@given(hnp.arrays(float, 3, elements=finite), st.floats(0, 1), threats, st.integers(0, 2**31 - 1))
def test_ball_radius_bounds_every_perturbed_input_and_is_attained(x, eps, p, seed):
    rng = np.random.default_rng(seed)
    R = smoothness.ball_radius_l2(x[None], eps, p)
    for _ in range(20):
        assert np.linalg.norm(x + eps * _unit_p_ball_point(rng, 3, p)) <= R + 1e-12
    s = np.sign(x) + (x == 0) if np.isinf(p) else (x / np.linalg.norm(x) if np.any(x) else np.eye(3)[0])
    assert np.linalg.norm(x + eps * s) == pytest.approx(R)


@settings(max_examples=60)
@given(hnp.arrays(float, 3, elements=finite), st.floats(0, 1), threats, st.floats(0.01, 2),
       st.integers(0, 2**31 - 1))
def test_certified_constants_dominate_numerical_estimates(x, eps, p, radius, seed):
    """Sample θ in the ball and x1, x2 in the threat ball: gradient norm <= L_θ, Hessian top eigenvalue (finite
    differences) <= L_θθ, and the x-Lipschitz ratio (in ||·||_p) <= L_θx."""
    rng = np.random.default_rng(seed)
    L = smoothness.lipschitz_constants(x[None], eps, p, radius)
    y = rng.choice([-1.0, 1.0])
    for _ in range(10):
        th = rng.normal(size=3)
        th *= radius * rng.uniform() / np.linalg.norm(th)
        x1, x2 = x + eps * _unit_p_ball_point(rng, 3, p), x + eps * _unit_p_ball_point(rng, 3, p)
        assert np.linalg.norm(_grad_g(x1, y, th)) <= L.L_theta + 1e-12
        h = 1e-5
        H = np.array([(_grad_g(x1, y, th + h * e) - _grad_g(x1, y, th - h * e)) / (2 * h) for e in np.eye(3)])
        assert np.max(np.linalg.eigvalsh((H + H.T) / 2)) <= L.L_thetatheta + 1e-6
        dx = linear.lp_norm(x1 - x2, p)
        if dx > 1e-9:
            assert np.linalg.norm(_grad_g(x1, y, th) - _grad_g(x2, y, th)) / dx <= L.L_thetax + 1e-9


@settings(max_examples=60)
@given(hnp.arrays(float, 3, elements=finite), st.floats(0, 1), threats, st.floats(0.01, 2),
       st.integers(0, 2**31 - 1))
def test_L_thetax_dominates_the_exact_jacobian_norm(x, eps, p, radius, seed):
    """||J||_{p→2} of x ↦ ∇_θg, J = yℓ'(m)I + ℓ''(m)xθᵀ, computed exactly (p = ∞: max over the vertices of the cube,
    where the convex map v ↦ ||Jv|| peaks; p = 2: spectral norm), with θ on the boundary sphere ||θ||_2 = B."""
    rng = np.random.default_rng(seed)
    L = smoothness.lipschitz_constants(x[None], eps, p, radius)
    vertices = np.array(np.meshgrid(*[[-1.0, 1.0]] * 3)).reshape(3, -1).T
    for _ in range(10):
        th = rng.choice([-1.0, 1.0], 3) * rng.uniform(0.2, 1.0, 3)
        th *= radius / np.linalg.norm(th)
        xs = x + eps * _unit_p_ball_point(rng, 3, p)
        y = rng.choice([-1.0, 1.0])
        m = y * th @ xs
        sig = 1.0 / (1.0 + np.exp(m))
        J = -y * sig * np.eye(3) + sig * (1 - sig) * np.outer(xs, th)
        op = np.max(np.linalg.norm(vertices @ J.T, axis=1)) if np.isinf(p) else np.linalg.norm(J, 2)
        assert op <= L.L_thetax + 1e-12


@settings(max_examples=60)
@given(hnp.arrays(float, (3, 3), elements=finite), st.floats(0, 1), threats, st.floats(0.0, 3.0),
       st.integers(0, 2**31 - 1))
def test_local_L_thetax_dominates_the_exact_jacobian_norm_at_its_theta(X, eps, p, scale, seed):
    """The constant certified at one θ bounds ||J||_{p→2} at that θ for every x' in the data's threat balls (exact
    operator norm as above), lies between its value c_p/2 at θ = 0 and the constant of a ball holding θ."""
    rng = np.random.default_rng(seed)
    y = rng.choice([-1.0, 1.0], 3)
    th = scale * rng.normal(size=3)
    local = smoothness.local_lipschitz_thetax(th, X, y, eps, p)
    vertices = np.array(np.meshgrid(*[[-1.0, 1.0]] * 3)).reshape(3, -1).T
    for _ in range(10):
        i = rng.integers(3)
        xs = X[i] + eps * _unit_p_ball_point(rng, 3, p)
        sig = 1.0 / (1.0 + np.exp(y[i] * th @ xs))
        J = -y[i] * sig * np.eye(3) + sig * (1 - sig) * np.outer(xs, th)
        op = np.max(np.linalg.norm(vertices @ J.T, axis=1)) if np.isinf(p) else np.linalg.norm(J, 2)
        assert op <= local + 1e-12
    c = smoothness.identity_norm(3, p)
    assert smoothness.local_lipschitz_thetax(np.zeros(3), X, y, eps, p) == pytest.approx(c / 2)
    assert local <= smoothness.lipschitz_constants(X, eps, p, np.linalg.norm(th)).L_thetax + 1e-12
    batch = smoothness.local_lipschitz_thetax(np.stack([th, 0 * th]), X, y, eps, p)
    assert batch.shape == (2,) and batch[0] == pytest.approx(local) and batch[1] == pytest.approx(c / 2)


@given(st.floats(0.0, 3.0), threats)
def test_L_thetax_uses_the_exact_sup_of_the_dual_norm_on_the_ball(radius, p):
    x = np.array([[0.5, -1.0, 0.25, 2.0]])
    L = smoothness.lipschitz_constants(x, 0.3, p, radius)
    sup_q = radius * (2.0 if np.isinf(p) else 1.0)  # sup ||θ||_1 = √d B (d = 4), sup ||θ||_2 = B
    s = 1.0 / (1.0 + np.exp(-radius * L.R))
    assert L.L_thetax == pytest.approx(s * smoothness.identity_norm(4, p) + L.R * sup_q / 4)


@given(st.integers(0, 2**31 - 1), threats, st.floats(0.01, 1))
def test_pair_gaps_agree_with_finite_differences(seed, p, eps):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=3), 1.0
    t1 = rng.normal(size=3) + 0.5
    t1[np.abs(t1) < 0.1] = 0.3  # away from the kinks of ||θ||_q
    dt = 1e-6 * rng.normal(size=3)
    dg, _, norm = smoothness.pair_gaps(x, y, t1, t1 + dt, eps, p)
    grad = linear.adversarial_grad(t1, x[None], np.array([y]), eps, p)
    assert norm == pytest.approx(np.linalg.norm(dt))
    assert dg == pytest.approx(abs(grad @ dt), rel=1e-3, abs=1e-12)


@pytest.mark.parametrize("p", [2.0, np.inf])
@pytest.mark.parametrize("eps", [0.1, 0.5])
def test_antipodal_jump_tends_to_its_limit(p, eps):
    x, u = np.array([0.4, -1.2, 0.7]), np.array([1.0, -0.5, 2.0])
    t1, t2 = smoothness.antipodal_pair(u, 1e-8)
    _, jump, _ = smoothness.pair_gaps(x, -1.0, t1, t2, eps, p)
    assert jump == pytest.approx(smoothness.antipodal_limit_jump(3, eps, p), rel=1e-6)
    # the limit jump is 2ε times the certified L_θx on a vanishing θ-ball
    assert smoothness.antipodal_limit_jump(3, eps, p) == pytest.approx(
        2 * eps * smoothness.lipschitz_constants(x[None], eps, p, 0.0).L_thetax)


def test_invalid_inputs_are_rejected():
    with pytest.raises(ValueError, match="theta_radius"):
        smoothness.lipschitz_constants(np.ones((1, 2)), 0.1, 2.0, -1.0)
    with pytest.raises(ValueError, match="ε"):
        smoothness.lipschitz_constants(np.ones((1, 2)), -0.1, 2.0, 1.0)
    with pytest.raises(ValueError, match="non-zero"):
        smoothness.antipodal_pair(np.array([1.0, 0.0]), 0.1)
    with pytest.raises(ValueError, match="dimension"):
        smoothness.identity_norm(0, 2.0)


SMOKE = Context(seed=0, scale="smoke")


@pytest.fixture(scope="module")
def raw():
    return computed(S.CLAIM.plan(SMOKE))


def test_smoothness_claim_is_confirmed_at_smoke(raw):
    out = S.CLAIM.decide(SMOKE, through_json(raw))
    assert out.verdict is Verdict.CONFIRMED, [(c.key, c.verdict) for c in out.checks]
    assert as_json(S.CLAIM.decide(SMOKE, raw)) == as_json(out)
    assert set(S.CLAIM.plot(SMOKE, through_json(raw))) == {"liu2020_smoothness_ratio", "liu2020_smoothness_jump"}


def test_false_variant_factor_one_is_refuted_by_the_tight_construction():
    out = outcome_with(S, SMOKE, factor=1.0)
    assert out.verdict is Verdict.REFUTED
    assert_refuted(out.check("through-zero-construction"))


def test_false_variant_without_additive_term_is_refuted():
    out = outcome_with(S, SMOKE, factor=0.0)
    assert_refuted(out.check("through-zero-construction"))
    assert_refuted(out.check("second-order-search"))  # the random search finds it too


def test_false_variant_with_underestimated_curvature_is_refuted():
    out = outcome_with(S, SMOKE, curvature_scale=0.5)
    assert out.verdict is Verdict.REFUTED
    assert_refuted(out.check("curvature-attained"))
