"""Version space V_ε of linear models (theory/version_space.py, theory/multiclass.py) and the claims
liu2020.version-space, liu2020.version-space-strict and liu2020.version-space-threshold: properties against
independent computations, the claims' verdicts at smoke scale (decided from numbers that went through JSON), and
false variants that the same units and checks must refute."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from advland.claims.model import Context, Verdict
from advland.claims.papers.liu2020 import version_space as V
from advland.claims.papers.liu2020 import version_space_strict as VS
from advland.claims.papers.liu2020 import version_space_threshold as VT
from advland.claims.runner import evaluate
from claim_runs import as_json, computed, run_variant, through_json
from falsify import assert_refuted
from advland.theory import linear, multiclass as mc, version_space as vs

INF = float("inf")
FAST = settings(max_examples=40, deadline=None)
finite = st.floats(-3, 3, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def problems(draw, K=None):
    """Random float data, labels and a batch of weights."""
    K = K or draw(st.integers(2, 4))
    m, N = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    X = draw(arrays(float, (N, m), elements=finite))
    y = np.array(draw(st.lists(st.integers(0, K - 1), min_size=N, max_size=N)))
    W = draw(arrays(float, (2, m, K), elements=finite))
    eps = draw(st.floats(0, 2, allow_nan=False))
    return X, y, W, eps


def separable_data(seed, n=10, K=3):
    rng = np.random.default_rng(seed)
    W0 = rng.normal(size=(2, K))
    pool = rng.uniform(-2, 2, size=(300, 2))
    top = np.sort(pool @ W0, axis=1)
    X = pool[top[:, -1] - top[:, -2] >= 0.5][:n]
    return X, np.argmax(X @ W0, axis=1)


# ---- theory ----

@FAST
@given(problems())
def test_closed_form_worst_case_equals_vertex_enumeration(case):
    X, y, W, eps = case
    np.testing.assert_allclose(mc.worst_case_pair_scores(W, X, y, eps, INF), mc.vertex_pair_scores(W, X, y, eps),
                               atol=1e-9)


@FAST
@given(problems(), st.integers(0, 2**31 - 1))
def test_l2_worst_case_attained_and_never_exceeded(case, seed):
    """The ℓ2 closed form is attained at x + ε d/||d|| and no random point of the ball beats it."""
    X, y, W, eps = case
    scores = mc.worst_case_pair_scores(W, X, y, eps, 2.0)
    D = mc.pair_differences(W, y)  # (B, N, m, K)
    norms = np.linalg.norm(D, axis=-2, keepdims=True)
    attained = np.einsum("bnmk,bnmk->bnk", D, X[None, :, :, None] + eps * D / np.where(norms > 0, norms, 1))
    np.testing.assert_allclose(attained, scores, atol=1e-9)
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(64, X.shape[1]))
    pts = X[:, None, :] + eps * u / np.linalg.norm(u, axis=1, keepdims=True) * rng.uniform(0, 1, (64, 1))
    sampled = np.einsum("bnmk,nsm->bnsk", D, pts).max(axis=-2)
    assert np.all(sampled <= scores + 1e-9)


@FAST
@given(problems(), st.sampled_from([INF, 2.0]))
def test_robust_radius_decides_membership(case, p):
    X, y, W, _ = case
    r = vs.robust_radius(W, X, y, p)
    for b in range(len(W)):
        if np.isfinite(r[b]) and r[b] > 1e-6:
            assert vs.violation(W[b], X, y, r[b] * (1 - 1e-6), p) <= 1e-9
            assert vs.violation(W[b], X, y, r[b] * (1 + 1e-3), p) > 0


@FAST
@given(problems(), st.sampled_from([INF, 2.0]), st.floats(0, 1))
def test_violation_monotone_in_eps_and_zero_on_constant_classifiers(case, p, t):
    X, y, W, eps = case
    assert np.all(vs.violation(W, X, y, t * eps, p) <= vs.violation(W, X, y, eps, p) + 1e-12)
    const = np.repeat(W[:, :, :1], W.shape[-1], axis=-1)
    assert np.all(vs.violation(const, X, y, eps, p) == 0)
    assert np.all(vs.strict_violation(const, X, y, eps, p) == 0)  # constant W is never strictly inside


@pytest.mark.parametrize("p", [INF, 2.0])
def test_binary_margin_strong_duality_and_k2_bisection(p):
    X, y = separable_data(0, K=2)
    ypm = 2 * y - 1
    res = vs.binary_robust_margin(X, ypm, p)
    assert res.ok
    # strong duality: the multipliers certify the value; any other λ gives a weaker bound (weak duality)
    assert vs.binary_margin_bound(X, ypm, res.dual, p) == pytest.approx(res.value, rel=1e-6)
    lam = np.random.default_rng(1).uniform(size=len(y))
    assert vs.binary_margin_bound(X, ypm, lam, p) >= res.value - 1e-9
    # the witness attains it: y_n wᵀx_n >= ρ ||w||_q
    q = linear.dual_exponent(p)
    assert np.min(ypm * (X @ res.point)) >= res.value * linear.lp_norm(res.point, q) - 1e-7
    # the K = 2 model gives the same threshold through the bisection of the general program
    th = vs.multiclass_robust_threshold(X, y, 2, p, rtol=1e-5)
    assert th.ok and th.lower <= res.value * (1 + 1e-6) and res.value <= th.upper * (1 + 1e-6)


@pytest.mark.parametrize("K", [2, 3])
@pytest.mark.parametrize("p", [INF, 2.0])
def test_single_point_threshold_is_the_p_norm(K, p):
    x = np.array([[0.7, -1.3, 0.4]])
    th = vs.multiclass_robust_threshold(x, [1], K, p, rtol=1e-6)
    assert th.ok and th.value == pytest.approx(linear.lp_norm(x[0], p), rel=1e-5)


@pytest.mark.parametrize("p", [INF, 2.0])
def test_nontriviality_program_gap(p):
    """P(ε) >= εN/2 while V_ε ≠ C, and P(ε) = 0 above the threshold."""
    X, y = separable_data(3)
    th = vs.multiclass_robust_threshold(X, y, 3, p, rtol=1e-4)
    program = vs.nontriviality_program(X, y, 3, p)
    below, above = program(0.9 * th.value), program(1.1 * th.upper)
    assert below.ok and above.ok
    assert below.value >= 0.9 * th.value * len(y) / 2
    assert abs(above.value) <= 1e-6
    # the witness is verified without the program: closed form and (ℓ∞) vertex enumeration
    assert vs.violation(below.point, X, y, 0.9 * th.value, p) <= 1e-7
    assert vs.robust_radius(th.member, X, y, p) >= th.lower * (1 - 1e-6)


def test_validation_errors():
    X, y = np.zeros((2, 2)), np.array([0, 1])
    W = np.zeros((2, 3))
    with pytest.raises(ValueError, match="ε"):
        vs.violation(W, X, y, -0.1, INF)
    with pytest.raises(ValueError, match="labels"):
        vs.violation(W, X, np.array([0, 3]), 0.1, INF)
    with pytest.raises(ValueError, match="p = inf"):
        vs.violation(W, X, y, 0.1, 2.0, brute_force=True)
    with pytest.raises(ValueError, match="shape"):
        vs.violation(np.zeros((3, 3)), X, y, 0.1, INF)
    with pytest.raises(ValueError, match="-1 or \\+1"):
        vs.binary_robust_margin(X, np.array([0, 1]), INF)
    with pytest.raises(ValueError, match="rtol"):
        vs.multiclass_robust_threshold(X, y, 3, INF, rtol=0)


# ---- the claims: the slides' statement, the strict bullet 2, the threshold ----

SMOKE = Context(seed=0, scale="smoke")
UNITS = V.units(SMOKE)
THRESHOLD_UNITS = VT.units(SMOKE)


@pytest.fixture(scope="module")
def raw():
    return computed([*V.CLAIM.plan(SMOKE), *VS.CLAIM.plan(SMOKE), *VT.CLAIM.plan(SMOKE)])


@pytest.fixture(scope="module")
def outcome(raw):
    return V.CLAIM.decide(SMOKE, through_json(raw))


@pytest.mark.slow
def test_claim_refuted_by_the_literal_bullet_only(outcome):
    assert outcome.verdict is Verdict.REFUTED
    refuted = {c.key for c in outcome.checks if c.verdict is Verdict.REFUTED}
    assert refuted and refuted <= {"bullet-2-as-written", "bullet-2-as-written-constructions"}
    for c in outcome.checks:
        if c.key not in refuted:
            assert c.verdict is Verdict.CONFIRMED, (c.key, c.note)


@pytest.mark.slow
def test_readings_are_claims_of_their_own(raw, outcome):
    """The strict bullet 2 and the threshold are not checks of the slides' claim: each is its own claim, confirmed,
    and says it rests on our reading while the slides' claim rests on their text."""
    assert {c.key for c in outcome.checks}.isdisjoint({"bullet-2-corrected", "threshold-member-below"})
    for module in (VS, VT):
        out = module.CLAIM.decide(SMOKE, through_json(raw))
        assert out.verdict is Verdict.CONFIRMED, [(c.key, c.verdict, c.note) for c in out.checks]
        assert module.CLAIM.source.startswith("our reading")
    assert "(verified text)" in V.CLAIM.source


@pytest.mark.slow
def test_decided_and_drawn_from_stored_numbers(raw, outcome):
    assert as_json(V.CLAIM.decide(SMOKE, raw)) == as_json(outcome)
    assert as_json(VT.CLAIM.decide(SMOKE, raw)) == as_json(VT.CLAIM.decide(SMOKE, through_json(raw)))
    assert set(VT.CLAIM.plot(SMOKE, through_json(raw))) == {"liu2020_version_space"}


@pytest.mark.slow
def test_literal_counterexample_really_violates(raw, outcome):
    ex = outcome.check("bullet-2-as-written").counterexample["example"]
    W, X, y, eps = (np.array(ex["W"]), np.array(ex["X"]), np.array(ex["y"]), ex["eps"][0])
    assert vs.violation(W, X, y, eps, INF) <= 0 and np.any(W != 0)
    # g_ε(x, γW) does not go to 0 along this member of V_ε
    assert min(mc.adversarial_loss(g * W, X, y, eps, INF) for g in (1.0, 1e3, 1e6)) >= np.log(2) - 1e-9
    strict = VS.CLAIM.decide(SMOKE, through_json(raw))
    assert strict.check("bullet-2-corrected").verdict is Verdict.CONFIRMED


@pytest.mark.slow
def test_threshold_reported_in_details(raw):
    eps = VT.CLAIM.decide(SMOKE, through_json(raw)).details["thresholds ε*"]
    assert set(eps) == {"binary ℓ∞", "binary ℓ2", "multiclass ℓ∞", "multiclass ℓ2"}
    assert all(v > 0 for v in eps.values())


# ---- falsifiability: the same units and checks refute false variants ----

def test_reversed_nesting_is_refuted():
    assert_refuted(V.nesting_check(*run_variant(UNITS["nesting"], reverse=True)))


def test_wrong_norm_in_closed_form_is_refuted():
    assert_refuted(V.membership_check(*run_variant(UNITS["membership"], swap_norms=True)))


def test_convexity_of_the_complement_is_refuted():
    assert_refuted(V.convexity_check(*run_variant(UNITS["convexity"], complement=True)))


def test_wrong_margin_norm_is_refuted():
    below, _, _ = VT.threshold_checks(*run_variant(THRESHOLD_UNITS["thresholds"], swap_norms=True))
    assert_refuted(below)


def test_scaled_thresholds_are_refuted():
    below, _, _ = VT.threshold_checks(*run_variant(THRESHOLD_UNITS["thresholds"], factor=2.0))
    assert_refuted(below)
    _, above_binary, above_multi = VT.threshold_checks(*run_variant(THRESHOLD_UNITS["thresholds"], factor=0.5))
    assert_refuted(above_binary)
    assert_refuted(above_multi)


def test_solver_failure_is_inconclusive(monkeypatch):
    """A solver that cannot run makes the threshold checks inconclusive, never confirmed or refuted."""
    monkeypatch.setattr(mc, "SOLVER_ATTEMPTS", (("NO_SUCH_SOLVER", {}),))
    out = evaluate(VT.CLAIM, SMOKE)
    threshold_checks = [c for c in out.checks if c.key.startswith("threshold-")]
    assert len(threshold_checks) == 3 and all(c.verdict is Verdict.INCONCLUSIVE for c in threshold_checks)
    assert any("NO_SUCH_SOLVER" in c.note for c in threshold_checks)
