"""The set T_ε of 'bad directions' and the threshold ε̄ above which every direction is bad
(Liu et al. 2020, slides "Linear Model": Definition (8) and the Theorem after it).

    T_ε = {W : 0 ∈ argmin_{γ ∈ ℝ} g_ε(x, γW)}            (slides, one point; a data set uses L_ε = mean_n g_ε)

φ(γ) = L_ε(γW) is convex (a mean of maxima of convex functions), so W ∈ T_ε iff φ'(0+) >= 0 >= φ'(0−).

Slopes (Danskin). At γ = 0 every x' ∈ S_ε(x) maximizes g(x', 0) = log K, and ∂_γ g(x', γW)|₀ = (1/K) vᵀx' with
v = Σ_j w_j − K w_y, so with v_n = Σ_j w_j − K w_{y_n} and q dual to p:

    φ'(0±) = (1/(NK)) Σ_n (v_nᵀx_n ± ε ||v_n||_q),         W ∈ T_ε  iff  ε Σ_n ||v_n||_q >= |Σ_n v_nᵀx_n|.

Both sides grow with ε, so T_{ε2} ⊆ T_{ε1} for ε1 >= ε2, and T_ε = ℝ^{m×K} iff ε >= ε̄ with

    ε̄ = sup_W (−Σ_n v_nᵀx_n) / Σ_n ||v_n||_q :
      one point:        ε̄ = ||x||_p                      (v ranges over all of ℝ^m);
      binary data set:  ε̄ = ||(1/N) Σ_n y_n x_n||_p       (v_n = −y_n w for W = [0, w]);
      K classes:        the convex program of ``eps_bar_multiclass``.
Then every direction is non-descending at 0 and, L_ε being convex, W = 0 is a global minimizer with L_ε(0) = log K.
"""
from __future__ import annotations

import numpy as np

from .linear import check_eps, check_p, dual_direction, dual_exponent, lp_norm
from .multiclass import (ProgramResult, adversarial_loss, binary_labels, check_dataset, check_weights, cp_norm,
                         linf_vertices, solve_program)


BOX_RTOL = 1e-4  # a minimizer within this relative distance of the box of ``min_loss_program`` counts as on it


def danskin_slopes(W, X, y, eps, p) -> tuple[np.ndarray, np.ndarray]:
    """(φ'(0−), φ'(0+)) of φ(γ) = L_ε(γW) from the Danskin formula above; each of shape (...) for W (..., m, K)."""
    X, y, K = check_dataset(X, y, np.shape(W)[-1])
    W = check_weights(W, X.shape[1])
    eps, q = check_eps(eps), dual_exponent(p)
    v = W.sum(axis=-1)[..., None, :] - K * np.swapaxes(W[..., :, y], -1, -2)  # (..., N, m)
    lin = np.einsum("...nm,nm->...n", v, X)
    spread = eps * np.linalg.norm(v, ord=q, axis=-1)
    return (lin - spread).mean(axis=-1) / K, (lin + spread).mean(axis=-1) / K


def one_sided_slopes(phi, h: float) -> tuple[np.ndarray, np.ndarray]:
    """(φ'(0−), φ'(0+)) of a function φ: ℝ → ℝ^B (vectorized over B functions) from one-sided difference quotients
    with one Richardson step: D(t) = (φ(t) − φ(0))/t, φ'(0+) ≈ 2D(h/2) − D(h), error O(h²) where φ is C³ on (0, h];
    the left slope alike from φ(−h), φ(−h/2)."""
    if not h > 0:
        raise ValueError(f"step h must be > 0, got {h!r}")
    f0 = np.asarray(phi(0.0))
    right = 2.0 * (np.asarray(phi(h / 2)) - f0) / (h / 2) - (np.asarray(phi(h)) - f0) / h
    left = 2.0 * (f0 - np.asarray(phi(-h / 2))) / (h / 2) - (f0 - np.asarray(phi(-h))) / h
    return left, right


def loss_slopes(W, X, y, eps, p) -> tuple[np.ndarray, np.ndarray]:
    """(φ'(0−), φ'(0+)) of φ(γ) = L_ε(γ Ŵ) for the unit direction Ŵ = W/||W||_F, measured on the exact loss
    (``multiclass.adversarial_loss``: vertex enumeration for p = ∞, closed form for K = 2) — independent of the
    Danskin formula and of ε̄. Membership in T_ε (a cone) is unaffected by the normalization; W = 0 gives (0, 0)."""
    X, y, K = check_dataset(X, y, np.shape(W)[-1])
    W = check_weights(W, X.shape[1])
    eps = check_eps(eps)
    norm = np.linalg.norm(W, axis=(-2, -1), keepdims=True)
    unit = W / np.where(norm > 0, norm, 1.0)
    h = 1e-4 / (1.0 + np.linalg.norm(X, axis=1).max() + eps * np.sqrt(X.shape[1]))
    return one_sided_slopes(lambda g: adversarial_loss(g * unit, X, y, eps, p), h)


def bad_direction_margin(W, X, y, eps, p) -> np.ndarray:
    """τ_ε(W) = min(φ'(0+), −φ'(0−)) from ``loss_slopes``: W ∈ T_ε iff τ_ε(W) >= 0 (0 minimizes the convex φ)."""
    left, right = loss_slopes(W, X, y, eps, p)
    return np.minimum(right, -left)


def eps_bar_point(x, p) -> float:
    """ε̄ = ||x||_p for one example (any K): sup_v (−vᵀx)/||v||_q = ||x||_p by Hölder."""
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or not np.all(np.isfinite(x)):
        raise ValueError(f"x must be a finite vector, got shape {x.shape}")
    return float(lp_norm(x, check_p(p)))


def eps_bar_binary(X, y, p) -> tuple[float, np.ndarray]:
    """ε̄ = ||z||_p with z = (1/N) Σ_n y_n x_n (labels ±1), and the binary direction w* with ||w*||_q = 1,
    w*ᵀz = ||z||_p that attains it: along w* the slope at 0 is ½(ε − ε̄)||w*||_q, negative for every ε < ε̄."""
    X = np.asarray(X, dtype=float)
    sign = 2.0 * binary_labels(y) - 1.0  # validates the labels ±1
    if X.ndim != 2 or sign.shape != (X.shape[0],) or not np.all(np.isfinite(X)):
        raise ValueError(f"X must be a finite (N, m) array with one label per row, got {X.shape} and {sign.shape}")
    z = (sign @ X) / X.shape[0]
    return float(lp_norm(z, p)), dual_direction(z, dual_exponent(p))


def eps_bar_multiclass(X, y, K, p) -> ProgramResult:
    """ε̄ for a K-class data set as a convex program (derivation in the module docstring):

        ε̄ = max_{(v_c)} −Σ_c v_cᵀS_c   s.t.  Σ_c N_c ||v_c||_q <= 1,   Σ_c v_c = 0 if every class occurs,

    over the classes c that occur, S_c = Σ_{y_n = c} x_n, N_c their count (v_n depends on n only through y_n; the v_c =
    Σ_j w_j − K w_c of all K classes sum to 0, and any family of the occurring ones is reachable when a class is
    missing). ``point`` is a direction U* attaining it (U*1 = 0, u_c = −v_c/K): U* ∉ T_ε for every ε < ε̄.
    LP for p = ∞, SOCP for p = 2.
    """
    import cvxpy as cp

    X, y, K = check_dataset(X, y, K)
    q = dual_exponent(p)
    present = np.unique(y)
    S = np.stack([X[y == c].sum(axis=0) for c in present], axis=1)  # (m, C)
    counts = np.array([np.sum(y == c) for c in present], dtype=float)
    V = cp.Variable((X.shape[1], len(present)))
    constraints = [counts @ cp_norm(V, q, axis=0) <= 1]
    if len(present) == K:
        constraints.append(cp.sum(V, axis=1) == 0)
    problem = cp.Problem(cp.Maximize(-cp.sum(cp.multiply(V, S))), constraints)
    solver, status = solve_program(problem)
    if problem.value is None or V.value is None:
        return ProgramResult(np.nan, None, solver, status)
    U = np.zeros((X.shape[1], K))
    U[:, present] = -np.asarray(V.value) / K
    missing = np.setdiff1d(np.arange(K), present)
    if missing.size:
        U[:, missing] = -U[:, present].sum(axis=1, keepdims=True) / missing.size
    return ProgramResult(float(problem.value), U, solver, status)


def class_mean_radius(X, y, p) -> ProgramResult:
    """min_z max_c ||μ_c − z||_p, the Chebyshev radius of the class means μ_c of the classes present: the classic
    mistake for ε̄ of a K-class data set. With u_c = N_c v_c the program of ``eps_bar_multiclass`` is
    sup −Σ_c u_cᵀμ_c / Σ_c ||u_c||_q over Σ_c u_c / N_c = 0, which for equal counts N_c is Σ_c u_c = 0, whose value
    is this radius (LP duality); with unequal counts the constraint, and ε̄, differ. ``point`` is the centre z."""
    import cvxpy as cp

    X, y, _ = check_dataset(X, y, int(np.max(y)) + 2)
    means = np.stack([X[y == c].mean(axis=0) for c in np.unique(y)])
    z, radius = cp.Variable(X.shape[1]), cp.Variable()
    problem = cp.Problem(cp.Minimize(radius), [cp_norm(mean - z, check_p(p)) <= radius for mean in means])
    solver, status = solve_program(problem)
    if problem.value is None or z.value is None:
        return ProgramResult(np.nan, None, solver, status)
    return ProgramResult(float(problem.value), np.asarray(z.value), solver, status)


def min_loss_program(X, y, K, p, box: float | None = None):
    """min_W L_ε(W) over the box |W_jk| <= box, as a function ε -> ProgramResult (ε a cvxpy parameter):

      K = 2 (binary, any p): W = [0, w], L_ε = (1/N) Σ_n logistic(−y_n wᵀx_n + ε||w||_q), convex (cp.logistic);
      K >= 3, p = ∞: L_ε = (1/N) Σ_n max_v [logsumexp(Wᵀ(x_n + εv)) − w_{y_n}ᵀ(x_n + εv)] over the 2^m vertices v,
                     exact because the loss is convex in the input; gauge W1 = 0 (L_ε is invariant under W + u1ᵀ).

    The box keeps the program bounded when the data are robustly separable (inf L_ε = 0 only at infinity); since
    L_ε is convex, a minimizer in the box's interior is global, and any box point with L_ε < log K proves 0 is not.
    When the minimizer touches the box (some |W_jk| >= (1 − BOX_RTOL)·box) the result says so (``at_box``): its
    value is the minimum over the box, an upper bound on min_W L_ε that may lie well above it. (A boxed minimum
    >= log K still proves W = 0 a global minimizer: 0 is an interior point attaining it, and L_ε is convex.)
    Default box: 5 / max_n ||x_n||_1, so clean logits stay within ±5 (well-conditioned exponential cones).
    """
    import cvxpy as cp

    X, y, K = check_dataset(X, y, K)
    p = check_p(p)
    if box is None:
        box = 5.0 / max(float(np.abs(X).sum(axis=1).max()), 1e-12)
    if not box > 0:
        raise ValueError(f"box must be > 0, got {box!r}")
    eps = cp.Parameter(nonneg=True)
    N, m = X.shape
    if K == 2:
        sign = 2.0 * y - 1.0
        w = cp.Variable(m)
        loss = cp.sum(cp.logistic(-cp.multiply(sign, X @ w) + eps * cp_norm(w, dual_exponent(p)))) / N
        problem = cp.Problem(cp.Minimize(loss), [cp.abs(w) <= box])
        variable, to_weights = w, lambda value: np.stack([np.zeros(m), value], axis=1)
    elif np.isinf(p):
        V = linf_vertices(m)
        base = np.repeat(X, len(V), axis=0)  # row (n, v) -> x_n
        shift = np.tile(V, (N, 1))  # row (n, v) -> v
        onehot = np.repeat(np.eye(K)[y], len(V), axis=0)
        W = cp.Variable((m, K))
        Z = base @ W + eps * (shift @ W)
        ce = cp.log_sum_exp(Z, axis=1) - cp.sum(cp.multiply(onehot, Z), axis=1)
        loss = cp.sum(cp.max(cp.reshape(ce, (N, len(V)), order="C"), axis=1)) / N
        problem = cp.Problem(cp.Minimize(loss), [cp.sum(W, axis=1) == 0, cp.abs(W) <= box])
        variable, to_weights = W, np.asarray
    else:
        raise ValueError(f"the exact adversarial loss needs K = 2 or p = inf, got K={K}, p={p}")

    def solve(e) -> ProgramResult:
        eps.value = check_eps(e)
        solver, status = solve_program(problem)
        if problem.value is None or variable.value is None:
            return ProgramResult(np.nan, None, solver, status)
        point = np.asarray(variable.value)
        return ProgramResult(float(problem.value), to_weights(point), solver, status,
                             at_box=bool(np.abs(point).max() >= (1 - BOX_RTOL) * box))

    return solve
