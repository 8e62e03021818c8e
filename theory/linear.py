"""The binary linear logistic model under an exact worst-case input perturbation.

For margin ``m = y (wᵀx + b)`` and the p-norm threat ``||δ||_p <= ε`` the inner maximum is closed form
(Liu et al. 2020, §2 linear model; Yamada et al. 2021, §3):

    min_{||δ||_p <= ε} y wᵀ(x + δ) = y wᵀx − ε ||w||_q,      1/p + 1/q = 1,

attained at ``δ* = −ε y s`` with ``s`` a maximizer of ``sᵀw`` over the unit p-ball (the dual-norm subgradient
direction). So the adversarial logistic loss is ``ℓ(m − ε||w||_q)`` with ``ℓ(m) = log(1 + e^{−m})``.
The box constraint x + δ ∈ [0,1]^d is ignored here (it can only make the adversary weaker).
"""
from __future__ import annotations

import numpy as np


def check_eps(eps) -> float:
    """ε must be a finite, non-negative number."""
    try:
        value = float(eps)
    except (TypeError, ValueError):
        raise ValueError(f"ε must be a number, got {eps!r}") from None
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"ε must be finite and >= 0, got {eps!r}")
    return value


def check_p(p) -> float:
    """The threat norm: any p in [1, ∞] (np.inf for ℓ∞)."""
    p = float(p)
    if not (p >= 1.0):
        raise ValueError(f"p must be in [1, inf], got {p!r}")
    return p


def dual_exponent(p) -> float:
    """q with 1/p + 1/q = 1 (q = ∞ for p = 1, q = 1 for p = ∞)."""
    p = check_p(p)
    if p == 1.0:
        return np.inf
    if np.isinf(p):
        return 1.0
    return p / (p - 1.0)


def lp_norm(v, p, axis=None) -> np.ndarray:
    return np.linalg.norm(np.asarray(v, dtype=float), ord=check_p(p), axis=axis)


def dual_direction(w, p) -> np.ndarray:
    """A maximizer s of sᵀw over ||s||_p <= 1, so sᵀw = ||w||_q (a subgradient of ||·||_q at w).

    p=∞: sign(w);  p=2: w/||w||;  p=1: a signed unit vector at argmax |w_j|;  general p: sign(w)|w|^{q−1}/||w||_q^{q−1}.
    At w = 0 every s in the unit p-ball is a maximizer; 0 is returned.
    """
    w = np.asarray(w, dtype=float)
    p = check_p(p)
    if not np.any(w):
        return np.zeros_like(w)
    w = w / np.max(np.abs(w))  # the direction is scale-free; rescaling avoids under/overflow in the norms
    if np.isinf(p):
        return np.sign(w)
    if p == 1.0:
        s = np.zeros_like(w)
        j = int(np.argmax(np.abs(w)))
        s[j] = np.sign(w[j])
        return s
    q = dual_exponent(p)
    a = np.abs(w) ** (q - 1.0)
    return np.sign(w) * a / lp_norm(a, p)


def logistic_loss(m) -> np.ndarray:
    """ℓ(m) = log(1 + e^{−m}), computed stably."""
    return np.logaddexp(0.0, -np.asarray(m, dtype=float))


def sigmoid(z) -> np.ndarray:
    z = np.asarray(z, dtype=float)
    return np.exp(-np.logaddexp(0.0, -z))


def adversarial_margins(w, X, y, eps, p, b: float = 0.0) -> np.ndarray:
    """m_i(ε) = y_i (wᵀx_i + b) − ε ||w||_q, the margins at the exact worst-case inputs."""
    eps = check_eps(eps)
    w = np.asarray(w, dtype=float)
    return np.asarray(y, float) * (np.asarray(X, float) @ w + b) - eps * lp_norm(w, dual_exponent(p))


def adversarial_loss(w, X, y, eps, p, b: float = 0.0) -> float:
    """L_ε(w, b) = (1/N) Σ_i log(1 + exp(−y_i(wᵀx_i + b) + ε||w||_q))   (Liu et al. 2020, linear model)."""
    return float(np.mean(logistic_loss(adversarial_margins(w, X, y, eps, p, b))))


def worst_case_inputs(w, X, y, eps, p) -> np.ndarray:
    """x*_i = x_i − ε y_i s(w), the inputs attaining the inner maximum for every example."""
    eps = check_eps(eps)
    s = dual_direction(w, p)
    return np.asarray(X, float) - eps * np.asarray(y, float)[:, None] * s[None, :]


def adversarial_grad(w, X, y, eps, p, b: float = 0.0) -> np.ndarray:
    """Danskin gradient of L_ε w.r.t. w: the clean-loss gradient evaluated at the worst-case inputs,

        ∇_w L_ε = −(1/N) Σ_i σ(−m_i(ε)) · y_i x*_i ,     x*_i = x_i − ε y_i s(w),

    which equals −(1/N) Σ σ(−m_i)(y_i x_i − ε s(w)). Where ||w||_q is not differentiable (a zero
    coordinate for p=∞) this is the element of the subdifferential picked by ``dual_direction``.
    """
    X = np.asarray(X, float)
    y = np.asarray(y, float)
    m = adversarial_margins(w, X, y, eps, p, b)
    coef = sigmoid(-m)
    xstar = worst_case_inputs(w, X, y, eps, p)
    return -(coef * y) @ xstar / len(y)
