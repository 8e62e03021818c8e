"""Bad directions T_ε and the threshold ε̄ (theory/bad_directions.py, theory/multiclass.py) and the claim
liu2020.bad-directions: properties against independent computations, the claim's verdict at smoke scale (decided from
numbers that went through JSON), and false variants that the same units and checks must refute."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from advland.claims.model import Context, Verdict
from advland.claims.papers.liu2020 import bad_directions as B
from advland.claims.runner import evaluate
from claim_runs import as_json, computed, run_variant, through_json
from falsify import assert_refuted
from advland.theory import bad_directions as bd, linear, multiclass as mc

INF = float("inf")
FAST = settings(max_examples=30, deadline=None)
finite = st.floats(-3, 3, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def problems(draw, configs=((2, INF), (2, 2.0), (3, INF))):
    """Random float data, labels, a batch of directions and a budget, for settings with an exact loss."""
    K, p = draw(st.sampled_from(configs))
    m, N = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    X = draw(arrays(float, (N, m), elements=finite))
    y = np.array(draw(st.lists(st.integers(0, K - 1), min_size=N, max_size=N)))
    W = draw(arrays(float, (3, m, K), elements=finite))
    return X, y, W, draw(st.floats(0, 2, allow_nan=False)), p


def gaussian_data(seed, n=9, K=3, m=3):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % K
    return 1.5 * rng.normal(size=(K, m))[y] + rng.normal(size=(n, m)), y


# ---- theory ----

@FAST
@given(problems())
def test_measured_slopes_match_danskin(case):
    X, y, W, eps, p = case
    size = np.abs(W).max(axis=(1, 2), keepdims=True)
    assume(np.all((size == 0) | (size > 1e-12)))  # slopes along sub-1e-12 directions are below float resolution
    unit = W / np.maximum(np.linalg.norm(W, axis=(1, 2), keepdims=True), 1e-300)
    for measured, formula in zip(bd.loss_slopes(W, X, y, eps, p), bd.danskin_slopes(unit, X, y, eps, p)):
        np.testing.assert_allclose(measured, formula, atol=1e-6)


@FAST
@given(problems(), st.floats(0, 1))
def test_margin_monotone_in_eps(case, t):
    """T_ε grows with ε: the Danskin margin min(φ'(0+), −φ'(0−)) is non-decreasing in ε."""
    X, y, W, eps, p = case

    def margin(e):
        left, right = bd.danskin_slopes(W, X, y, e, p)
        return np.minimum(right, -left)

    assert np.all(margin(eps) >= margin(t * eps) - 1e-12)


def test_one_sided_slopes_of_a_kink():
    """φ(γ) = a|γ| + bγ + γ²: φ'(0−) = b − a, φ'(0+) = b + a."""
    a, b = np.array([0.5, 0.0, 2.0]), np.array([-1.0, 0.3, 1.0])
    left, right = bd.one_sided_slopes(lambda g: a * abs(g) + b * g + g * g, 1e-4)
    np.testing.assert_allclose(left, b - a, atol=1e-9)
    np.testing.assert_allclose(right, b + a, atol=1e-9)


@FAST
@given(problems(((2, INF), (2, 2.0))))
def test_k2_exact_loss_matches_the_binary_closed_form(case):
    """The K = 2 model [0, w] has the binary adversarial loss of theory/linear.py (an independent implementation)."""
    X, _, W, eps, p = case
    ypm = np.where(np.arange(len(X)) % 2 == 0, 1, -1)
    w = W[0, :, 1] - W[0, :, 0]
    assert mc.adversarial_loss(W[0], X, mc.binary_labels(ypm), eps, p) == pytest.approx(
        linear.adversarial_loss(w, X, ypm, eps, p), abs=1e-12)


@FAST
@given(problems(((3, INF),)), st.integers(0, 2**31 - 1))
def test_vertex_loss_is_the_max_over_the_box(case, seed):
    X, y, W, eps, _ = case
    exact = mc.adversarial_losses(W, X, y, eps, INF)
    rng = np.random.default_rng(seed)
    for _ in range(8):
        pts = X + eps * rng.uniform(-1, 1, X.shape)
        assert np.all(mc.cross_entropy(W, pts, y) <= exact + 1e-12)


@pytest.mark.parametrize("p", [INF, 2.0])
def test_eps_bar_closed_forms_equal_the_program(p):
    X, y = gaussian_data(0, K=2)
    ypm = 2 * y - 1
    value, w_star = bd.eps_bar_binary(X, ypm, p)
    res = bd.eps_bar_multiclass(X, y, 2, p)
    assert res.ok and res.value == pytest.approx(value, rel=1e-6)
    # w* attains: w*ᵀz = ||z||_p with ||w*||_q = 1
    z = ypm @ X / len(X)
    assert w_star @ z == pytest.approx(value, rel=1e-9)
    assert linear.lp_norm(w_star, linear.dual_exponent(p)) == pytest.approx(1.0)
    x = X[0]
    for K in (2, 3):
        assert bd.eps_bar_multiclass(x[None], [1], K, p).value == pytest.approx(bd.eps_bar_point(x, p), rel=1e-6)


def test_eps_bar_program_handles_a_missing_class():
    """With a class absent, ε̄ = max_c ||mean of class c||_p (derivation in eps_bar_multiclass)."""
    X, y = gaussian_data(1, n=6, K=2)
    res = bd.eps_bar_multiclass(X, y, 3, INF)
    expected = max(linear.lp_norm(X[y == c].mean(axis=0), INF) for c in (0, 1))
    assert res.ok and res.value == pytest.approx(expected, rel=1e-6)


def test_eps_bar_is_the_exact_threshold_of_T():
    """At ε̄ every random direction is in T_ε (Danskin margin >= 0); just below, U* is not."""
    X, y = gaussian_data(2)
    res = bd.eps_bar_multiclass(X, y, 3, INF)
    U = np.random.default_rng(0).normal(size=(500, 3, 3))
    assert np.all(bd.bad_direction_margin(U, X, y, res.value, INF) >= -1e-7)
    assert bd.bad_direction_margin(res.point, X, y, 0.97 * res.value, INF) < 0
    assert bd.bad_direction_margin(res.point, X, y, res.value, INF) == pytest.approx(0, abs=1e-7)


@pytest.mark.parametrize("K,p", [(2, INF), (2, 2.0), (3, INF)])
def test_min_loss_program_crosses_log_k_at_eps_bar(K, p):
    X, y = gaussian_data(3, K=K)
    eps_bar = bd.eps_bar_multiclass(X, y, K, p).value
    program = bd.min_loss_program(X, y, K, p)
    above, below = program(1.05 * eps_bar), program(0.9 * eps_bar)
    assert above.ok and below.ok
    assert above.value == pytest.approx(np.log(K), abs=1e-6)
    assert np.max(np.abs(above.point - above.point.mean(axis=1, keepdims=True))) <= 1e-4
    # the witness below is checked in numpy, not by the solver's own objective
    assert mc.adversarial_loss(below.point, X, y, 0.9 * eps_bar, p) < np.log(K) - 1e-5


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(2, 4))
def test_class_mean_radius_is_eps_bar_exactly_for_balanced_classes(seed, per_class):
    """Equal class sizes: ε̄ of the K-class program is the Chebyshev radius of the class means (the reason a
    balanced data set cannot tell the two apart); shifting one example to another class separates them."""
    X, y = gaussian_data(seed, n=3 * per_class)
    radius = bd.class_mean_radius(X, y, INF).value
    assert bd.eps_bar_multiclass(X, y, 3, INF).value == pytest.approx(radius, rel=1e-6)
    assert radius <= max(linear.lp_norm(X[y == c].mean(axis=0), INF) for c in range(3)) + 1e-9  # z = 0 is feasible


def test_min_loss_program_says_when_its_minimizer_is_on_the_box():
    """Below ε̄ on separable-ish data the loss keeps falling outward: a small box holds the minimizer on its face,
    and the result says so; its value is then an upper bound on the minimum over a larger box."""
    X, y = gaussian_data(3, K=2)
    eps = 0.5 * bd.eps_bar_multiclass(X, y, 2, INF).value
    small, default = bd.min_loss_program(X, y, 2, INF, box=1e-3)(eps), bd.min_loss_program(X, y, 2, INF)(eps)
    assert small.ok and small.at_box and np.abs(small.point).max() == pytest.approx(1e-3, rel=1e-4)
    assert default.ok and default.value < small.value - 1e-6
    interior = bd.min_loss_program(X, y, 2, INF)(1.05 * bd.eps_bar_multiclass(X, y, 2, INF).value)
    assert interior.ok and not interior.at_box  # W = 0 above ε̄: deep inside the box


def test_validation_errors():
    X, y = np.zeros((2, 2)), np.array([0, 1])
    with pytest.raises(ValueError, match="ε"):
        bd.danskin_slopes(np.zeros((2, 3)), X, y, -1.0, INF)
    with pytest.raises(ValueError, match="exact"):
        mc.adversarial_loss(np.zeros((2, 3)), X, y, 0.1, 2.0)
    with pytest.raises(ValueError, match="exact"):
        bd.min_loss_program(X, y, 3, 2.0)
    with pytest.raises(ValueError, match="h"):
        bd.one_sided_slopes(lambda g: g, 0.0)
    with pytest.raises(ValueError, match="m <="):
        mc.linf_vertices(40)


# ---- the claim ----

SMOKE = Context(seed=0, scale="smoke")
UNITS = B.units(SMOKE)


@pytest.fixture(scope="module")
def raw():
    return computed(B.CLAIM.plan(SMOKE))


@pytest.fixture(scope="module")
def outcome(raw):
    return B.CLAIM.decide(SMOKE, through_json(raw))


@pytest.mark.parametrize("scale", ["smoke", "cpu"])
def test_three_class_data_are_unbalanced_at_every_scale(scale):
    """With equal classes the class-mean radius equals ε̄ and no check could catch that mistake: the 3-class data
    have unequal classes and an ε̄ at least 2δ away from the radius."""
    n = B.units(Context(seed=0, scale=scale))["threshold"].params["n"]
    counts = B.class_counts(n)
    assert counts.sum() == n and len(set(counts.tolist())) == 3
    for seed in range(3):
        data = B._data(seed, n)
        X, y = data["multiclass"]
        assert np.bincount(y).tolist() == counts.tolist()
        eps_bar = bd.eps_bar_multiclass(X, y, 3, INF).value
        assert abs(data["class-mean radius"] - eps_bar) >= 2 * B.DELTA * eps_bar


def test_claim_confirmed_at_smoke(outcome):
    assert outcome.verdict is Verdict.CONFIRMED, [(c.key, c.verdict, c.note) for c in outcome.checks]
    eps_bar = outcome.details["eps_bar"]
    assert eps_bar["one point, binary, ℓ∞"] == pytest.approx(eps_bar["one point, 3 classes, ℓ∞"])


def test_decided_and_drawn_from_stored_numbers(raw, outcome):
    assert as_json(B.CLAIM.decide(SMOKE, raw)) == as_json(outcome)
    assert set(B.CLAIM.plot(SMOKE, through_json(raw))) == {"liu2020_bad_directions"}


# ---- falsifiability: the same units and checks refute false variants ----

def test_reversed_nesting_is_refuted():
    assert_refuted(B.nesting_check(*run_variant(UNITS["nesting"], reverse=True)))


def test_wrong_norm_in_the_slope_formula_is_refuted():
    assert_refuted(B.slopes_check(*run_variant(UNITS["slopes"], swap_norms=True)))


def test_wrong_norm_in_the_closed_forms_is_refuted():
    assert_refuted(B.closed_forms_check(*run_variant(UNITS["closed forms"], swap_norms=True)))


def test_half_threshold_is_refuted():
    result, params = run_variant(UNITS["threshold"], factor=0.5)
    assert_refuted(B.everything_bad_check(result, params))
    optimal_at_half, _ = B.minimizer_checks(result, params)
    assert_refuted(optimal_at_half)


@pytest.mark.parametrize("scale", ["smoke", "cpu"])
def test_class_mean_radius_as_the_threshold_is_refuted(scale):
    """The classic mistake, ε̄ of the 3-class data as the Chebyshev radius of its class means, fails a check."""
    unit = B.units(Context(seed=0, scale=scale))["threshold"]
    result, params = run_variant(unit, rule="class-mean radius")
    checks = [B.everything_bad_check(result, params), *B.minimizer_checks(result, params)]
    assert any(c.verdict is Verdict.REFUTED and c.counterexample for c in checks), [c.as_dict() for c in checks]


def test_wrong_margin_norm_threshold_is_refuted():
    _, tight = B.minimizer_checks(*run_variant(UNITS["threshold"], swap_norms=True))
    assert_refuted(tight)


def test_solver_failure_is_inconclusive(monkeypatch):
    """A solver that cannot run makes the ε̄ checks inconclusive, never confirmed or refuted."""
    monkeypatch.setattr(mc, "SOLVER_ATTEMPTS", (("NO_SUCH_SOLVER", {}),))
    out = evaluate(B.CLAIM, SMOKE)
    assert out.verdict is Verdict.INCONCLUSIVE
    assert out.check("theorem-literal").verdict is Verdict.INCONCLUSIVE
    assert any(c.verdict is Verdict.INCONCLUSIVE and "NO_SUCH_SOLVER" in c.note for c in out.checks)
