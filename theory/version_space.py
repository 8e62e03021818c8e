"""The version space V_ε of a linear classifier and the threshold above which it is trivial
(Liu et al. 2020, slides "Linear Model": Definition (Version Space), eq. (6)/(7), and the Proposition after it).

    V_ε = {W : (w_i − w_y)ᵀx' <= 0  ∀i ∈ [K], ∀x' ∈ S_ε(x)}                       (slides, one point x)
        = {W : (w_i − w_{y_n})ᵀx_n + ε ||w_i − w_{y_n}||_q <= 0  ∀n, ∀i ≠ y_n}     (a data set; q dual to p)

using max_{||δ||_p <= ε} dᵀδ = ε||d||_q. V_ε is a closed convex cone, non-increasing in ε, and it always contains
the constant classifiers C = {u 1ᵀ : u ∈ ℝ^m} (every difference w_i − w_y is 0), so for K columns the *trivial*
version space is C, never {0}; for the binary model w = w_1 − w_0 it is {0}.

Threshold (robust margin). With r(W) = min over pairs with w_i ≠ w_{y_n} of (w_{y_n} − w_i)ᵀx_n / ||w_i − w_{y_n}||_q,
W ∈ V_ε iff ε <= r(W); so for ε > 0, V_ε is non-trivial iff ε <= ε* := sup_{W ∉ C} r(W).
  * binary: ε* = max(ρ, 0), ρ = max_{||w||_q <= 1} min_n y_n wᵀx_n — an LP for p = ∞ (q = 1), an SOCP for p = 2.
    By minimax ρ = min_{λ ∈ simplex} ||Σ_n λ_n y_n x_n||_p, so any λ certifies ρ <= ||Σ λ_n y_n x_n||_p.
  * K classes: ε* by bisection on ε with the program P(ε) of ``nontriviality_program`` (P(ε) >= εN/2 if V_ε ≠ C,
    P(ε) = 0 if V_ε = C). Every W ∉ C has a non-zero difference for every example, so ε* <= min_n ||x_n||_p.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .linear import check_eps, check_p, dual_exponent, lp_norm
from .multiclass import (ProgramResult, check_dataset, check_weights, cp_norm, pair_differences, solve_program,
                         vertex_pair_scores, worst_case_pair_scores)


def violation(W, X, y, eps, p, *, brute_force: bool = False) -> np.ndarray:
    """v(W) = max_{n, i} max_{x' ∈ S_ε(x_n)} (w_i − w_{y_n})ᵀx'; W ∈ V_ε iff v(W) <= 0. Shape (...) for W (..., m, K).

    brute_force=True evaluates the inner maximum over the 2^m vertices of the ℓ∞ ball (p = ∞ only) instead of the
    dual-norm closed form: an independent computation of the same number.
    """
    if brute_force:
        if not np.isinf(check_p(p)):
            raise ValueError(f"brute-force vertex enumeration needs p = inf, got p={p}")
        scores = vertex_pair_scores(W, X, y, eps)
    else:
        scores = worst_case_pair_scores(W, X, y, eps, p)
    return scores.max(axis=(-2, -1))


def strict_violation(W, X, y, eps, p) -> np.ndarray:
    """max over pairs i ≠ y_n only of the worst-case score: < 0 iff W is in the strict version space
    {W : (w_i − w_y)ᵀx' < 0 ∀i ≠ y, ∀x' ∈ S_ε(x)} (the corrected reading of the slides' second bullet)."""
    scores = worst_case_pair_scores(W, X, y, eps, p)
    _, y, K = check_dataset(X, y, np.shape(W)[-1])
    own = np.arange(K)[None, :] == y[:, None]
    return np.where(own, -np.inf, scores).max(axis=(-2, -1))


def robust_radius(W, X, y, p, zero_tol: float = 1e-6) -> np.ndarray:
    """r(W) = min over pairs (n, i) with w_i ≠ w_{y_n} of (w_{y_n} − w_i)ᵀx_n / ||w_i − w_{y_n}||_q (+∞ for W ∈ C).
    For ε >= 0: W ∈ V_ε iff ε <= r(W); r(W) < 0 means W misclassifies some x_n already at ε = 0.

    A difference with ||·||_q <= zero_tol · (largest difference of that W) counts as zero: a solver's merged columns
    differ by round-off whose direction is arbitrary, and its ratio would be noise.
    """
    X, y, _ = check_dataset(X, y, np.shape(W)[-1])
    W = check_weights(W, X.shape[1])
    D = pair_differences(W, y)
    norms = np.linalg.norm(D, ord=dual_exponent(p), axis=-2)
    scale = norms.max(axis=(-2, -1), keepdims=True)
    live = norms > zero_tol * scale
    lin = np.einsum("...nmk,nm->...nk", D, X)
    ratios = np.where(live, -lin / np.where(live, norms, 1.0), np.inf)
    return ratios.min(axis=(-2, -1))


def _binary_data(X, y):
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[0] == 0 or not np.all(np.isfinite(X)):
        raise ValueError(f"X must be a finite non-empty (N, m) array, got shape {X.shape}")
    if y.shape != (X.shape[0],) or not np.all(np.isin(y, (-1, 1))):
        raise ValueError("y must hold one label -1 or +1 per row of X")
    return X, y.astype(float)


def binary_robust_margin(X, y, p) -> ProgramResult:
    """ρ = max_{||w||_q <= 1} min_n y_n wᵀx_n (q dual to the threat norm p): LP for p = ∞, SOCP for p = 2.

    ``point`` is the maximizer w*, ``dual`` the multipliers λ of the margin constraints (λ >= 0, Σλ = 1 at optimum),
    the minimax certificate ρ = ||Σ λ_n y_n x_n||_p. The binary version space is {0} exactly for ε > max(ρ, 0).
    """
    import cvxpy as cp

    X, y = _binary_data(X, y)
    q = dual_exponent(p)
    w, t = cp.Variable(X.shape[1]), cp.Variable()
    margins = cp.multiply(y, X @ w) >= t
    problem = cp.Problem(cp.Maximize(t), [margins, cp_norm(w, q) <= 1])
    solver, status = solve_program(problem)
    if problem.value is None or w.value is None:
        return ProgramResult(np.nan, None, solver, status)
    return ProgramResult(float(problem.value), np.asarray(w.value), solver, status, np.asarray(margins.dual_value))


def binary_margin_bound(X, y, lam, p) -> float:
    """Weak-duality certificate: for any λ >= 0 (normalized to Σλ = 1), ρ <= ||Σ_n λ_n y_n x_n||_p, because
    min_n y_n wᵀx_n <= wᵀz_λ <= ||w||_q ||z_λ||_p. So no w ≠ 0 lies in V_ε for ε above this bound."""
    X, y = _binary_data(X, y)
    lam = np.clip(np.asarray(lam, dtype=float), 0.0, None)
    if lam.shape != y.shape or not lam.sum() > 0:
        raise ValueError("λ must be a non-negative, not all-zero vector with one entry per example")
    return float(lp_norm((lam / lam.sum() * y) @ X, p))


def nontriviality_program(X, y, K, p):
    """The program deciding whether V_ε ≠ C for a K-class data set, as a function ε -> ProgramResult:

        P(ε) = max_W Σ_n Σ_{i≠y_n} (w_{y_n} − w_i)ᵀx_n
               s.t.  (w_i − w_{y_n})ᵀx_n + ε ||w_i − w_{y_n}||_q <= 0   ∀n, i ≠ y_n      (W ∈ V_ε)
                     W1 = 0,  |W_jk| <= 1.

    Derivation: the objective is 0 on C. If W ∈ V_ε \\ C, centre it (W − (W1/K)1ᵀ, same differences) and scale it to
    max|W_jk| = 1 (V_ε is a cone); some row then has entries of both signs differing by >= 1, so for every n one
    difference w_i − w_{y_n} has ||·||_q >= ||·||_∞ >= 1/2, and each term is >= ε||w_i − w_{y_n}||_q: P(ε) >= εN/2.
    If V_ε = C the only feasible point is W = 0: P(ε) = 0. An LP for p = ∞, an SOCP for p = 2 (ε is a parameter).
    """
    import cvxpy as cp

    X, y, K = check_dataset(X, y, K)
    q = dual_exponent(p)
    N, m = X.shape
    pairs = [(n, i) for n in range(N) for i in range(K) if i != y[n]]
    A = np.zeros((K, len(pairs)))
    for r, (n, i) in enumerate(pairs):
        A[i, r], A[y[n], r] = 1.0, -1.0
    XP = X[[n for n, _ in pairs]].T  # (m, pairs): x_n for each pair
    W, eps = cp.Variable((m, K)), cp.Parameter(nonneg=True)
    D = W @ A
    scores = cp.sum(cp.multiply(XP, D), axis=0)
    constraints = [scores + eps * cp_norm(D, q, axis=0) <= 0, cp.sum(W, axis=1) == 0, cp.abs(W) <= 1]
    problem = cp.Problem(cp.Maximize(-cp.sum(scores)), constraints)

    def solve(e) -> ProgramResult:
        eps.value = check_eps(e)
        solver, status = solve_program(problem)
        if problem.value is None or W.value is None:
            return ProgramResult(np.nan, None, solver, status)
        return ProgramResult(float(problem.value), np.asarray(W.value), solver, status)

    return solve


@dataclass(frozen=True)
class Threshold:
    """ε* bracketed by bisection: V_ε ≠ C at ``lower`` (``member`` is the program's witness there; None if lower = 0)
    and ε* <= ``upper``. ``statuses`` lists every solve; ``ok`` only if all were optimal."""

    lower: float
    upper: float
    member: np.ndarray | None
    solver: str
    statuses: list[str] = field(default_factory=list)

    @property
    def value(self) -> float:
        return self.lower

    @property
    def ok(self) -> bool:
        return all(s == "optimal" for s in self.statuses)


def multiclass_robust_threshold(X, y, K, p, rtol: float = 1e-4) -> Threshold:
    """ε* = sup_{W ∉ C} r(W) for a K-class data set, by bisection on ε ∈ [0, min_n ||x_n||_p] with
    ``nontriviality_program``: V_ε ≠ C iff P(ε) > εN/4 (the gap between 0 and εN/2 decides it robustly)."""
    X, y, K = check_dataset(X, y, K)
    if not 0 < rtol < 1:
        raise ValueError(f"rtol must be in (0, 1), got {rtol!r}")
    program = nontriviality_program(X, y, K, p)
    statuses: list[str] = []
    solver = ""

    def nontrivial(e):
        nonlocal solver
        res = program(e)
        solver = res.solver
        statuses.append(res.status)
        return res.ok and res.value > e * X.shape[0] / 4, res

    upper = float(lp_norm(X, p, axis=1).min())
    if upper == 0.0:
        return Threshold(0.0, 0.0, None, solver, statuses)
    found, res = nontrivial(upper)
    if found:
        return Threshold(upper, upper, res.point, solver, statuses)
    lower, member = 0.0, None
    while upper - lower > rtol * upper and all(s == "optimal" for s in statuses):
        mid = 0.5 * (lower + upper)
        found, res = nontrivial(mid)
        if found:
            lower, member = mid, res.point
        else:
            upper = mid
    return Threshold(lower, upper, member, solver, statuses)
