"""The K-class linear model under a p-norm input threat, and the cvxpy plumbing shared by programs over its weights.

Liu et al. 2020 (slides, "Linear Model"): logits f(W, x) = Wᵀx with W = [w_1 … w_K] ∈ ℝ^{m×K}, and the loss

    g(x, W) = log(1 + Σ_{j≠y} exp((w_j − w_y)ᵀx)) = logsumexp_k(w_kᵀx) − w_yᵀx,
    g_ε(x, W) = max_{x' ∈ S_ε(x)} g(x', W),        S_ε(x) = {x' : ||x' − x||_p ≤ ε}.

Shapes: X (N, m), labels y (N,) in {0, …, K−1}, weights W (..., m, K) with optional leading batch axes.
A binary model w ∈ ℝ^m with labels ±1 is the K = 2 model W = [0, w] with labels (y+1)/2: both give ℓ(y wᵀx),
ℓ(m) = log(1 + e^{−m}) (``binary_weights``, ``binary_labels``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from .linear import check_eps, check_p, dual_exponent

MAX_VERTEX_DIM = 12  # vertex enumeration of the ℓ∞ ball visits 2^m points


def check_dataset(X, y, K):
    """(X, y, K) as float (N, m), int (N,) in {0..K−1}, int K >= 2; ValueError naming what is wrong."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X must be a non-empty (N, m) array, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X must be finite")
    if isinstance(K, bool) or int(K) != K or K < 2:
        raise ValueError(f"K must be an integer >= 2, got {K!r}")
    y = np.asarray(y)
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},) to match X, got {y.shape}")
    if y.size and (not np.all(np.isfinite(y)) or np.any(y != np.round(y)) or y.min() < 0 or y.max() >= K):
        raise ValueError(f"labels must be integers in [0, {int(K) - 1}], got {np.unique(y).tolist()}")
    return X, y.astype(int), int(K)


def check_weights(W, m: int):
    """W as a finite float array of shape (..., m, K) with K >= 2."""
    W = np.asarray(W, dtype=float)
    if W.ndim < 2 or W.shape[-2] != m or W.shape[-1] < 2:
        raise ValueError(f"W must have shape (..., {m}, K) with K >= 2, got {W.shape}")
    if not np.all(np.isfinite(W)):
        raise ValueError("W must be finite")
    return W


def binary_labels(y) -> np.ndarray:
    """Labels ±1 of a binary model as the class indices 0/1 of the K = 2 model."""
    y = np.asarray(y)
    if not np.all(np.isin(y, (-1, 1))):
        raise ValueError(f"binary labels must be -1 or +1, got {np.unique(y).tolist()}")
    return (y > 0).astype(int)


def binary_weights(w) -> np.ndarray:
    """w (..., m) as the K = 2 weights [0, w] (..., m, 2): w_1 − w_0 = w, so ℓ(y wᵀx) is their cross-entropy."""
    w = np.asarray(w, dtype=float)
    return np.stack([np.zeros_like(w), w], axis=-1)


def pair_differences(W, y) -> np.ndarray:
    """D[..., n, :, i] = w_i − w_{y_n}, shape (..., N, m, K); the column i = y_n is zero."""
    W = np.asarray(W, dtype=float)
    own = np.swapaxes(W[..., :, np.asarray(y, dtype=int)], -1, -2)  # (..., N, m): w_{y_n}
    return W[..., None, :, :] - own[..., :, :, None]


def worst_case_pair_scores(W, X, y, eps, p) -> np.ndarray:
    """μ[..., n, i] = max_{x' ∈ S_ε(x_n)} (w_i − w_{y_n})ᵀx' = (w_i − w_{y_n})ᵀx_n + ε ||w_i − w_{y_n}||_q,

    the dual-norm closed form (Hölder, attained at x' = x_n + ε s with s the dual direction of w_i − w_{y_n}).
    Shape (..., N, K), zero at i = y_n.
    """
    X, y, _ = check_dataset(X, y, np.shape(W)[-1])
    W = check_weights(W, X.shape[1])
    eps, q = check_eps(eps), dual_exponent(p)
    D = pair_differences(W, y)
    return np.einsum("...nmk,nm->...nk", D, X) + eps * np.linalg.norm(D, ord=q, axis=-2)


def linf_vertices(m: int) -> np.ndarray:
    """The 2^m vertices {−1, +1}^m of the unit ℓ∞ ball, shape (2^m, m)."""
    if isinstance(m, bool) or int(m) != m or not 1 <= m <= MAX_VERTEX_DIM:
        raise ValueError(f"vertex enumeration needs 1 <= m <= {MAX_VERTEX_DIM}, got m={m!r}")
    bits = (np.arange(2 ** int(m))[:, None] >> np.arange(int(m))[None, :]) & 1
    return 2.0 * bits - 1.0


def linf_ball_vertices(X, eps) -> np.ndarray:
    """x_n + ε v for every vertex v of the unit ℓ∞ ball: shape (N, 2^m, m)."""
    X = np.asarray(X, dtype=float)
    return X[:, None, :] + check_eps(eps) * linf_vertices(X.shape[1])[None, :, :]


def vertex_pair_scores(W, X, y, eps) -> np.ndarray:
    """μ[..., n, i] for the ℓ∞ threat by brute force: a linear function's maximum over the box
    {x' : ||x' − x_n||_∞ <= ε} is attained at one of its 2^m vertices. Independent of the dual norm."""
    X, y, _ = check_dataset(X, y, np.shape(W)[-1])
    W = check_weights(W, X.shape[1])
    P = linf_ball_vertices(X, eps)
    return np.einsum("...nmk,nvm->...nvk", pair_differences(W, y), P).max(axis=-2)


def cross_entropy(W, X, y) -> np.ndarray:
    """g(x_n, W) = logsumexp_k(w_kᵀx_n) − w_{y_n}ᵀx_n for each example, shape (..., N); X may be (N, m), or
    (N, V, m) for several inputs per example (result (..., N, V))."""
    X = np.asarray(X, dtype=float)
    W = np.asarray(W, dtype=float)
    y = np.asarray(y, dtype=int)
    lead = X.shape[:-1]
    logits = np.matmul(X.reshape(-1, X.shape[-1]), W)  # (..., N·V, K)
    logits = logits.reshape(logits.shape[:-2] + lead + (W.shape[-1],))
    idx = np.broadcast_to(y.reshape(y.shape + (1,) * (len(lead) - 1) + (1,)), logits.shape[:-1] + (1,))
    top = logits.max(axis=-1, keepdims=True)
    lse = top[..., 0] + np.log(np.exp(logits - top).sum(axis=-1))
    return lse - np.take_along_axis(logits, idx, axis=-1)[..., 0]


def adversarial_losses(W, X, y, eps, p) -> np.ndarray:
    """The exact per-example adversarial loss g_ε(x_n, W) = max_{x' ∈ S_ε(x_n)} g(x', W), shape (..., N).

    p = ∞: vertex enumeration — g(·, W) is convex in x' (log-sum-exp of affine maps), so its maximum over the box
    is attained at a vertex (m <= 12).  K = 2, any p: g depends on x' only through the single increasing score
    (w_{1−y} − w_y)ᵀx', so g_ε = log(1 + exp(μ)) with μ the worst-case pair score (closed form).
    Other cases have no exact inner maximum here: ValueError.
    """
    X, y, K = check_dataset(X, y, np.shape(W)[-1])
    W = check_weights(W, X.shape[1])
    p = check_p(p)
    if np.isinf(p):
        return cross_entropy(W, linf_ball_vertices(X, eps), y).max(axis=-1)
    if K == 2:
        return np.logaddexp(0.0, worst_case_pair_scores(W, X, y, eps, p).sum(axis=-1))
    raise ValueError(f"exact g_ε is available for p = inf (any K) or K = 2 (any p), got K={K}, p={p}")


def adversarial_loss(W, X, y, eps, p) -> np.ndarray:
    """L_ε(W) = (1/N) Σ_n g_ε(x_n, W), exact (see ``adversarial_losses``); shape (...)."""
    return adversarial_losses(W, X, y, eps, p).mean(axis=-1)


# ---- cvxpy plumbing shared by the programs of version_space and bad_directions ----

# Tried in order until one reports 'optimal': Clarabel at its default (1e-8) tolerances, Clarabel at 1e-7, then SCS
# at 1e-9. The exponential-cone programs are degenerate at W = 0 (every cone active at once), where Clarabel now and
# then stops at 'optimal_inaccurate'; the name of the attempt that succeeded is reported with the result.
SOLVER_ATTEMPTS = (
    ("CLARABEL", {}),
    ("CLARABEL", {"tol_gap_abs": 1e-7, "tol_gap_rel": 1e-7, "tol_feas": 1e-7}),
    ("SCS", {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iters": 200_000}),
)


@dataclass(frozen=True)
class ProgramResult:
    """A solved convex program: optimal value, optimal point, optional dual multipliers, solver and status.
    ``ok`` only for status 'optimal'; anything else (inaccurate, infeasible, solver error) is not evidence.
    ``at_box``: the optimal point lies on a box the program was bounded with (not part of the problem it stands
    for), so ``value`` is only an upper bound on that problem's minimum, not the minimum."""

    value: float
    point: np.ndarray | None
    solver: str
    status: str
    dual: np.ndarray | None = None
    at_box: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "optimal"


def solve_program(problem) -> tuple[str, str]:
    """Solve a cvxpy problem in place through ``SOLVER_ATTEMPTS``; returns (solver and settings, status) of the
    first attempt reaching 'optimal', else of the last attempt (a solver exception becomes the status)."""
    import warnings

    import cvxpy as cp

    name, status = "", "not solved"
    for solver, options in SOLVER_ATTEMPTS:
        name = solver + (f"({', '.join(f'{k}={v}' for k, v in options.items())})" if options else "")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                problem.solve(solver=solver, **options)
            except cp.error.SolverError as exc:
                status = f"solver_error: {exc}"
                continue
        status = str(problem.status)
        if status == "optimal":
            break
    return name, status


def cp_norm(expr, q, axis=None):
    """cvxpy ℓq norm (q = ∞ as 'inf'), along ``axis`` when given."""
    import cvxpy as cp

    order = "inf" if np.isinf(q) else q
    return cp.norm(expr, order) if axis is None else cp.norm(expr, order, axis=axis)
