"""Curvature of the adversarial logistic loss in the weights (Yamada et al. 2021, "Adversarial Training Makes
Weight Loss Landscape Sharper in Logistic Regression", arXiv 2102.02950: the linear logistic model under an L2
threat; the derivation follows).

With margins ``m_i(ε) = y_i wᵀx_i − ε||w||_q`` (theory.linear) the adversarial loss is
``L_ε(w) = (1/N) Σ ℓ(m_i(ε))``. Differentiating twice (chain rule; ℓ' = −σ(−m), ℓ'' = σ(m)σ(−m)):

    ∇²L_ε(w) = (1/N) Σ σ(m_i)σ(−m_i) a_i a_iᵀ  +  ε · [(1/N) Σ σ(−m_i)] · ∇²||w||_q,    a_i = y_i x_i − ε ∇||w||_q.

The first term is the Hessian of the clean loss at the *fixed* worst-case inputs x*_i (y_i x*_i = a_i); the
second exists only because the worst-case noise turns with w. For the L2 threat (q = 2)
``∇²||w||₂ = (I − ŵŵᵀ)/||w||``, so the second term is ``κ(ε)(I − ŵŵᵀ)`` with
``κ(ε) = (ε/||w||)·mean σ(−m_i(ε))``, the sharpening mechanism of the paper. For ℓ∞ (q = 1) ``||w||₁`` is
piecewise linear, its Hessian is 0 wherever no coordinate of w is 0, and the second term vanishes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog, minimize

from .bad_directions import eps_bar_binary
from .linear import (adversarial_grad, adversarial_loss, adversarial_margins, check_eps, dual_direction,
                     dual_exponent, lp_norm, sigmoid)


def _nonzero_weights(w) -> np.ndarray:
    w = np.asarray(w, dtype=float)
    if w.ndim != 1 or not np.any(w):
        raise ValueError(f"w must be a non-zero vector (L_ε is not twice differentiable at w = 0), got {w!r}")
    return w


def dual_norm_hessian(w, p) -> np.ndarray:
    """∇²||w||_q for the threat p (1/p + 1/q = 1), where it exists:

        ∇²||w||_q = (q − 1) [diag(|w|^{q−2}) / ||w||_q^{q−1} − g gᵀ / ||w||_q],    g = ∇||w||_q,

    which is (I − ŵŵᵀ)/||w||₂ for q = 2 and 0 for q ∈ {1, ∞} (piecewise linear norms; a.e., away from the
    kinks: a zero coordinate for q = 1, a tie in max|w_j| for q = ∞). For 1 < q < 2 a zero coordinate is a
    singularity and raises.
    """
    w = _nonzero_weights(w)
    q = dual_exponent(p)
    if q == 1.0 or np.isinf(q):
        return np.zeros((w.size, w.size))
    if q < 2.0 and not np.all(w):
        raise ValueError(f"∇²||w||_q is unbounded at a zero coordinate for q = {q} < 2")
    norm = lp_norm(w, q)
    g = dual_direction(w, p)
    return (q - 1.0) * (np.diag(np.abs(w) ** (q - 2.0)) / norm ** (q - 1.0) - np.outer(g, g) / norm)


def fixed_example_hessian(w, X, y, eps, p) -> np.ndarray:
    """(1/N) Σ σ(m_i)σ(−m_i) a_i a_iᵀ with a_i = y_i x_i − ε ∇||w||_q: the Hessian of the clean loss at the
    worst-case inputs held fixed (what a Hessian over pre-generated adversarial examples measures)."""
    w = _nonzero_weights(w)
    X, y = np.asarray(X, float), np.asarray(y, float)
    m = adversarial_margins(w, X, y, eps, p)
    a = y[:, None] * X - check_eps(eps) * dual_direction(w, p)[None, :]
    c = sigmoid(m) * sigmoid(-m)
    return (a * c[:, None]).T @ a / len(y)


def curvature_term(w, X, y, eps, p) -> np.ndarray:
    """ε · mean_i σ(−m_i(ε)) · ∇²||w||_q: the part of ∇²L_ε due to the noise direction turning with w."""
    w = _nonzero_weights(w)
    m = adversarial_margins(w, X, y, eps, p)
    return check_eps(eps) * float(np.mean(sigmoid(-m))) * dual_norm_hessian(w, p)


def adversarial_hessian(w, X, y, eps, p) -> np.ndarray:
    """The exact Hessian ∇²_w L_ε(w) (module docstring): fixed-example part + curvature term."""
    return fixed_example_hessian(w, X, y, eps, p) + curvature_term(w, X, y, eps, p)


def curvature_coefficient(w, X, y, eps) -> float:
    """κ(ε) = (ε/||w||₂) · mean_i σ(−m_i(ε)), the weight of (I − ŵŵᵀ) in the L2 Hessian (Yamada's mechanism);
    strictly increasing in ε for w ≠ 0 (both factors grow as the margins m_i(ε) fall)."""
    w = _nonzero_weights(w)
    m = adversarial_margins(w, X, y, eps, 2)
    return check_eps(eps) / float(np.linalg.norm(w)) * float(np.mean(sigmoid(-m)))


def orthogonal_projector(w) -> np.ndarray:
    """P = I − ŵŵᵀ, the projector onto the hyperplane orthogonal to w."""
    w = _nonzero_weights(w)
    u = w / np.linalg.norm(w)
    return np.eye(w.size) - np.outer(u, u)


def compress(H, w) -> np.ndarray:
    """P H P with P = I − ŵŵᵀ: H restricted to directions orthogonal to w (0 along ŵ)."""
    P = orthogonal_projector(w)
    return P @ np.asarray(H, float) @ P


def margin_radius(w, X, y, p) -> float:
    """min_i y_i wᵀx_i / ||w||_q: the largest ε with every adversarial margin m_i(ε) >= 0 (negative if a clean
    example is already misclassified). Below it, every worst-case input is still correctly classified."""
    w = _nonzero_weights(w)
    return float(np.min(np.asarray(y, float) * (np.asarray(X, float) @ w)) / lp_norm(w, dual_exponent(p)))


def central_difference_jacobian(fn, w, step: float = 1e-5) -> np.ndarray:
    """J[:, j] = (fn(w + h e_j) − fn(w − h e_j)) / 2h: an independent numerical derivative of a gradient map."""
    w = np.asarray(w, float)
    if not step > 0:
        raise ValueError(f"step must be > 0, got {step!r}")
    cols = []
    for j in range(w.size):
        e = np.zeros_like(w)
        e[j] = step
        cols.append((np.asarray(fn(w + e)) - np.asarray(fn(w - e))) / (2.0 * step))
    return np.stack(cols, axis=1)


def richardson_jacobian(fn, w, step: float = 1e-4) -> np.ndarray:
    """(4·J(h/2) − J(h)) / 3 with J the central difference of ``central_difference_jacobian``: Richardson's
    extrapolation cancels the O(h²) term of the central difference, leaving O(h⁴), so that a comparison with a
    closed form at tolerance 1e-6 is not decided by the truncation error where third derivatives are large."""
    return (4.0 * central_difference_jacobian(fn, w, step / 2) - central_difference_jacobian(fn, w, step)) / 3.0


def is_linearly_separable(X, y) -> tuple[bool, str]:
    """Whether some w has y_i wᵀx_i >= 1 for all i (feasibility LP, scipy HiGHS); returns (separable, status)."""
    X, y = np.asarray(X, float), np.asarray(y, float)
    A = -(y[:, None] * X)
    res = linprog(np.zeros(X.shape[1]), A_ub=A, b_ub=-np.ones(len(y)), bounds=(None, None), method="highs")
    if res.status == 0:
        return True, "highs: optimal (feasible)"
    if res.status == 2:
        return False, "highs: infeasible"
    raise RuntimeError(f"separability LP did not finish: highs status {res.status}: {res.message}")


def two_gaussians(rng: np.random.Generator, n: int, d: int, separation: float):
    """Balanced classes y = ±1 with x ~ N(y μ, I), μ = separation · e₁ (so ||μ|| = separation)."""
    if n < 2 or d < 1 or not separation >= 0:
        raise ValueError(f"need n >= 2, d >= 1, separation >= 0; got n={n}, d={d}, separation={separation}")
    y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    mu = np.zeros(d)
    mu[0] = separation
    return rng.standard_normal((n, d)) + y[:, None] * mu[None, :], y


@dataclass(frozen=True)
class AdversarialFit:
    """A minimizer of L_ε(w) + (λ/2)||w||² and how well it was solved."""

    w: np.ndarray
    eps: float
    weight_decay: float
    objective: float
    grad_norm: float
    n_iter: int
    converged: bool
    message: str


def fit_adversarial_logistic(X, y, eps, weight_decay: float, p=2, w0=None, gtol: float = 1e-9,
                             max_iter: int = 5000) -> AdversarialFit:
    """argmin_w L_ε(w) + (λ/2)||w||² by L-BFGS with the closed-form (Danskin) gradient; strictly convex for
    λ > 0 (ℓ convex non-increasing, m_i(ε) concave in w), so the minimizer is unique and finite even on
    separable data. ``grad_norm`` is ||∇(L_ε + λ/2||·||²)||₂ at the returned point.

    If ε >= ||mean_i y_i x_i||_p the minimizer is w = 0 (the subdifferential of L_ε at 0 is
    −½(mean y x − ε·B_p), B_p the unit p-ball, and it contains 0) and L_ε has no Hessian there; this raises
    rather than returning a point where the curvature is undefined.
    """
    X, y = np.asarray(X, float), np.asarray(y, float)
    eps = check_eps(eps)
    if not weight_decay > 0:
        raise ValueError(f"weight_decay must be > 0 (finite minimizer on separable data), got {weight_decay!r}")
    threshold = eps_bar_binary(X, y, p)[0]
    if eps >= threshold:
        raise ValueError(f"ε = {eps} >= ||mean y x||_p = {threshold:.4g}: the minimizer is w = 0")

    def fun(w):
        value = adversarial_loss(w, X, y, eps, p) + 0.5 * weight_decay * float(w @ w)
        return value, adversarial_grad(w, X, y, eps, p) + weight_decay * w

    start = (y[:, None] * X).mean(axis=0) if w0 is None else np.asarray(w0, float)
    res = minimize(fun, start, jac=True, method="L-BFGS-B",
                   options={"gtol": gtol, "ftol": 1e-16, "maxiter": max_iter, "maxcor": 30})
    g = fun(res.x)[1]
    grad_norm = float(np.linalg.norm(g))
    return AdversarialFit(w=res.x, eps=eps, weight_decay=float(weight_decay), objective=float(res.fun),
                          grad_norm=grad_norm, n_iter=int(res.nit), converged=bool(grad_norm <= 1e3 * gtol),
                          message=str(res.message))


def top_eigenvalues(H, k: int) -> np.ndarray:
    """The k largest eigenvalues of a symmetric matrix, largest first."""
    vals = np.linalg.eigvalsh((np.asarray(H, float) + np.asarray(H, float).T) / 2.0)
    return vals[::-1][:k]
