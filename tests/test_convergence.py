"""theory.convergence: the tail bound against the Markov/extremal argument, the batched SGD gradients against
theory.linear, the statistics against scipy; the liu2020.convergence claim and the claims of the readings it leaves
open at 'smoke' (decided from numbers that went through JSON); false tail bounds and thresholds refuted."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats

from advland.claims.model import Context, Verdict
from advland.claims.papers.liu2020 import convergence as C
from advland.claims.papers.liu2020 import convergence_eps_zero as CZ
from advland.claims.papers.liu2020 import convergence_proof as CP
from advland.claims.papers.liu2020 import gradients_nonvanishing as GN
from advland.claims.papers.liu2020 import gradients_nonvanishing_at_kinks as GK
from claim_runs import as_json, computed, run_variant, through_json
from falsify import assert_refuted
from advland.theory import convergence, linear

gammas = st.floats(2.0, 100.0)


@given(gammas)
def test_paper_bound_dominates_the_extremal_tail_for_gamma_at_least_two(g):
    assert convergence.tail_bound(g) >= convergence.extremal_tail(g) - 1e-15


def test_paper_bound_equals_one_at_gamma_two():
    assert convergence.tail_bound(2.0) == pytest.approx(1.0)
    assert convergence.extremal_tail(2.0) == pytest.approx(1.0)


@given(gammas, st.floats(0.0, 2.0), st.floats(1e-9, 5.0))
def test_two_point_laws_satisfy_the_moment_inequality_and_stay_below_the_extremal_tail(g, low, gap):
    pi = convergence.two_point_tail(g, low, g + gap)
    high = g + gap
    assert pi * (high ** 2 - 2 * high) + (1 - pi) * (low ** 2 - 2 * low) <= 1e-9
    assert pi <= convergence.extremal_tail(g) + 1e-12


@given(gammas)
def test_extremal_tail_is_approached_by_two_point_laws(g):
    assert convergence.two_point_tail(g, 1.0, g * (1 + 1e-9)) == pytest.approx(convergence.extremal_tail(g), rel=1e-6)


@settings(max_examples=50)
@given(hnp.arrays(float, 50, elements=st.floats(0.0, 10.0)), gammas)
def test_markov_step_on_empirical_laws(G, g):
    """Any sample with mean(G² − 2G) <= 0 has empirical P(G > γ) <= 1/(γ−1)² <= 4/(γ²−2γ+4)."""
    if np.mean(G * G - 2 * G) > 0:
        G = np.concatenate([G, np.ones(int(np.ceil(np.sum(G * G - 2 * G))) + 1)])  # add mass at G = 1
    assert np.mean(G * G - 2 * G) <= 0
    assert np.mean(G > g) <= convergence.extremal_tail(g) + 1e-12 <= convergence.tail_bound(g) + 1e-12


@given(st.integers(0, 2**31 - 1), st.sampled_from([1.0, 2.0, 3.0, np.inf]), st.floats(0.0, 1.0))
def test_batched_grads_match_theory_linear(seed, p, eps):
    rng = np.random.default_rng(seed)
    X, y, W = rng.normal(size=(12, 3)), rng.choice([-1.0, 1.0], 12), rng.normal(size=(4, 3))
    W[0, 1] = 0.0
    shared = convergence.batched_grads(W, X, y, eps, p)
    idx = rng.integers(0, 12, size=(4, 5))
    per_chain = convergence.batched_grads(W, X[idx], y[idx], eps, p)
    for c in range(4):
        np.testing.assert_allclose(shared[c], linear.adversarial_grad(W[c], X, y, eps, p), atol=1e-12)
        np.testing.assert_allclose(per_chain[c], linear.adversarial_grad(W[c], X[idx[c]], y[idx[c]], eps, p),
                                   atol=1e-12)
    np.testing.assert_allclose(convergence.full_grad_norms(W[None], X, y, eps, p)[0],
                               np.linalg.norm(shared, axis=1), atol=1e-12)


@pytest.mark.parametrize("p", [2.0, np.inf])
def test_sgd_first_step_is_unbiased(p):
    """The theorem's hypothesis: E[ĝ] = ∇L_ε. Averaged over many chains, the first step is −α∇L_ε(0)."""
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(30, 3)), rng.choice([-1.0, 1.0], 30)
    w0 = np.array([0.3, -0.2, 0.1])
    its = convergence.sgd_trajectories(X, y, 0.2, p, 2, step=0.5, batch=4, chains=4000, rng=rng, w0=w0)
    assert np.all(its[:, 0] == w0)
    steps = (its[:, 0] - its[:, 1]) / 0.5
    se = steps.std(axis=0) / np.sqrt(len(steps))
    assert np.all(np.abs(steps.mean(axis=0) - linear.adversarial_grad(w0, X, y, 0.2, p)) < 5 * se)


def test_theorem_step_and_validation():
    assert convergence.theorem_step(4.0, 100) == pytest.approx(1 / 40)
    with pytest.raises(ValueError, match="L_θθ"):
        convergence.theorem_step(0.0, 10)
    with pytest.raises(ValueError, match="γ"):
        convergence.tail_bound(-1.0)
    with pytest.raises(ValueError, match="low"):
        convergence.two_point_tail(3.0, 1.0, 2.5)
    with pytest.raises(ValueError, match="k"):
        convergence.clopper_pearson(5, 3)


@given(st.integers(1, 200), st.data())
def test_clopper_pearson_matches_scipy(n, data):
    k = data.draw(st.integers(0, n))
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    assert convergence.clopper_pearson(k, n) == pytest.approx((ci.low, ci.high), abs=1e-9)


def test_autocorrelation_time_of_white_noise_and_ar1():
    rng = np.random.default_rng(0)
    assert convergence.integrated_autocorr_time(rng.normal(size=20000)) == pytest.approx(1.0, abs=0.2)
    phi, x = 0.9, np.zeros(50000)
    for t in range(1, len(x)):
        x[t] = phi * x[t - 1] + rng.normal()
    assert convergence.integrated_autocorr_time(x) == pytest.approx((1 + phi) / (1 - phi), rel=0.25)


def test_thinned_statistics_on_independent_draws():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(4, 3000))
    tail = convergence.thinned_tail(z, 1.0, rng=rng)
    assert tail["stride"] <= 3 and tail["lo"] <= stats.norm.sf(1.0) <= tail["hi"]
    assert tail["freq"] == pytest.approx(np.mean(z > 1.0))
    m = convergence.thinned_mean(z, rng=rng)
    assert m["lo"] <= 0.0 <= m["hi"]


SMOKE = Context(seed=0, scale="smoke")
UNITS = C.units(SMOKE)
CLAIMS = {"liu2020.convergence": C, "liu2020.convergence-eps-zero": CZ, "liu2020.convergence-proof": CP,
          "liu2020.gradients-nonvanishing-every-eps": GN, "liu2020.gradients-nonvanishing-at-kinks": GK}


@pytest.fixture(scope="module")
def raw():
    return computed(C.CLAIM.plan(SMOKE))


@pytest.fixture(scope="module")
def outcomes(raw):
    return {claim_id: module.CLAIM.decide(SMOKE, through_json(raw)) for claim_id, module in CLAIMS.items()}


def test_each_reading_is_its_own_claim_on_the_same_units(raw, outcomes):
    """Eq. 12 in adversarial training (ε > 0) is confirmed; the readings the slides leave open are separate
    claims with their own verdicts, each saying what it rests on."""
    verdicts = {k: o.verdict for k, o in outcomes.items()}
    assert verdicts == {"liu2020.convergence": Verdict.CONFIRMED, "liu2020.convergence-eps-zero": Verdict.REFUTED,
                        "liu2020.convergence-proof": Verdict.CONFIRMED,
                        "liu2020.gradients-nonvanishing-every-eps": Verdict.REFUTED,
                        "liu2020.gradients-nonvanishing-at-kinks": Verdict.CONFIRMED}, {
        k: [(c.key, c.verdict.value, c.note) for c in o.checks] for k, o in outcomes.items()}
    literal = outcomes["liu2020.convergence-eps-zero"].check("literal-eq-12")
    assert literal.counterexample["freq"] == 1.0
    assert outcomes["liu2020.gradients-nonvanishing-every-eps"].check("every-eps").counterexample["p"] == 2
    assert "(verified text)" in C.CLAIM.source
    assert all(m.CLAIM.source.startswith("our reading") for m in (CZ, CP, GN, GK))
    planned = {u.key for u in C.CLAIM.plan(SMOKE)}
    assert all({u.key for u in m.CLAIM.plan(SMOKE)} <= planned for m in CLAIMS.values())  # one SGD unit for all
    for claim_id, module in CLAIMS.items():
        assert as_json(module.CLAIM.decide(SMOKE, raw)) == as_json(outcomes[claim_id])
    assert set(C.CLAIM.plot(SMOKE, through_json(raw))) == {"liu2020_convergence_tail"}
    assert set(GK.CLAIM.plot(SMOKE, through_json(raw))) == {"liu2020_convergence_plateau"}


def test_the_tail_is_decided_on_the_tightest_certified_l_thetax(raw):
    """L_θx of every setting: certified at each iterate, its maximum over them (the constant decided on) at most
    the ball constant and at least its value at θ = 0; the largest G with it at least the ball's."""
    sgd = through_json(raw)[UNITS["sgd"].key]
    for run in sgd["runs"]:
        L = run["L_thetax"]
        assert L["at 0"] - 1e-12 <= L["along"] <= L["ball"] + 1e-12
        assert run["max G"] >= run["max G ball"] - 1e-12
    assert any(run["L_thetax"]["along"] < 0.9 * run["L_thetax"]["ball"] for run in sgd["runs"])
    eq12 = C.tail_check(sgd)
    assert any(q.name.startswith("L_θx decided on") and "ball" in q.note for q in eq12.evidence)


@pytest.mark.parametrize("bound", [lambda g: 1.0 / np.asarray(g) ** 2,
                                   lambda g: convergence.tail_bound(g) / 10.0],
                         ids=["one-over-gamma-squared", "bound-over-ten"])
def test_too_small_tail_bounds_are_refuted(bound, monkeypatch):
    monkeypatch.setitem(C.TAIL_BOUNDS, "false", bound)
    result, _ = run_variant(UNITS["bound argument"], bound="false")
    for check in C.bound_checks(result):
        assert_refuted(check)


@pytest.mark.slow
def test_a_threshold_far_below_eps_l_thetax_is_refuted_by_the_sgd_data():
    """The ε > 0 check can fail: with the threshold γεL_θx/100 the large-gradient event is frequent at T and at 4T."""
    result, _ = run_variant(UNITS["sgd"], threshold_scale=0.01)
    corrected = C.tail_check(result)
    assert_refuted(corrected)
    assert "4T" in corrected.counterexample["event"]
