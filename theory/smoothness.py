"""Certified Lipschitz constants of the logistic loss, and the smoothness bound of its adversarial version.

Liu et al. 2020 (slides, Assumption "Lipschitzian smoothness", eq. 9/10) assume for g(x, θ):

    |g(x,θ1) − g(x,θ2)|             <= L_θ  ||θ1 − θ2||
    ||∇_θg(x,θ1) − ∇_θg(x,θ2)||     <= L_θθ ||θ1 − θ2||
    ||∇_θg(x1,θ) − ∇_θg(x2,θ)||     <= L_θx ||x1 − x2||_p

and conclude (Theorem "Smoothness of g_ε", eq. 11) for g_ε(x,θ) = max_{||x'−x||_p<=ε} g(x',θ):

    |g_ε(x,θ1) − g_ε(x,θ2)|          <= L_θ  ||θ1 − θ2||
    ||∇_θg_ε(x,θ1) − ∇_θg_ε(x,θ2)||  <= L_θθ ||θ1 − θ2|| + 2 ε L_θx.

Here g(x,θ) = ℓ(y θᵀx), ℓ(m) = log(1 + e^{−m}), the binary linear model of ``theory.linear`` (no bias).
The constants are certified on the domain the proof uses: θ in the Euclidean ball ||θ||_2 <= B (convex, so it
holds every segment between two of its points) and x' in the threat balls S_ε^p(x_i) of the data (x*_θ lies there).
With R = sup ||x'||_2 over those balls, |ℓ'| = σ(−m) <= σ(|m|) <= σ(BR) and 0 < ℓ'' <= 1/4:

* ∇_θ g = ℓ'(m) y x, so ||∇_θ g||_2 <= σ(BR) R                         -> L_θ  = σ(BR) R  (<= R)
* ∇²_θ g = ℓ''(m) x xᵀ, top eigenvalue ℓ''(m)||x||² <= R²/4            -> L_θθ = R²/4
* the Jacobian of x ↦ ∇_θ g is J = y ℓ'(m) I + ℓ''(m) x θᵀ; for v = x1 − x2,
  ||J v||_2 <= |ℓ'| ||v||_2 + ℓ'' ||x||_2 |θᵀv| <= (σ(BR) c_p + R ||θ||_q / 4) ||v||_p,
  with c_p = sup_{||v||_p<=1} ||v||_2 = d^{max(0, 1/2 − 1/p)} (√d for p = ∞) and Hölder |θᵀv| <= ||θ||_q||v||_p,
  ||θ||_q <= d^{max(0, 1/q − 1/2)} B                                    -> L_θx = σ(BR) c_p + R B_q / 4.

As B → 0 these tend to the constants at θ = 0: L_θx → c_p/2, which the antipodal construction attains.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .linear import adversarial_grad, adversarial_loss, check_eps, check_p, dual_exponent, lp_norm, sigmoid


@dataclass(frozen=True)
class LipschitzConstants:
    """Certified constants of g(x,θ) = ℓ(yθᵀx) on {||θ||_2 <= theta_radius} × threat balls (radius in ``R``)."""

    L_theta: float
    L_thetatheta: float
    L_thetax: float
    R: float
    theta_radius: float
    p: float

    def smoothness_rhs(self, dtheta_norm: float, eps: float, factor: float = 2.0,
                       curvature_scale: float = 1.0) -> float:
        """L_θθ ||Δθ|| + factor·ε·L_θx (eq. 11 with factor 2; other factors/scales for false variants)."""
        return curvature_scale * self.L_thetatheta * dtheta_norm + factor * check_eps(eps) * self.L_thetax


def identity_norm(d: int, p) -> float:
    """c_p = ||I||_{p→2} = sup_{||v||_p <= 1} ||v||_2 = d^{max(0, 1/2 − 1/p)}."""
    p = check_p(p)
    if d < 1:
        raise ValueError(f"dimension must be >= 1, got {d!r}")
    return float(d) ** max(0.0, 0.5 - (0.0 if np.isinf(p) else 1.0 / p))


def ball_radius_l2(X, eps, p) -> float:
    """R = max_i sup_{||x' − x_i||_p <= ε} ||x'||_2 (exact for p = 2 and p = ∞, an upper bound otherwise).

    p = 2: ||x_i||_2 + ε.  p = ∞: || |x_i| + ε ||_2 (move every coordinate outward by ε).
    Other p: ||x_i||_2 + ε c_p (triangle inequality with ||δ||_2 <= c_p ||δ||_p).
    """
    X = np.atleast_2d(np.asarray(X, dtype=float))
    eps, p = check_eps(eps), check_p(p)
    if np.isinf(p):
        return float(np.max(np.linalg.norm(np.abs(X) + eps, axis=1)))
    if p == 2.0:
        return float(np.max(np.linalg.norm(X, axis=1)) + eps)
    return float(np.max(np.linalg.norm(X, axis=1)) + eps * identity_norm(X.shape[1], p))


def local_lipschitz_thetax(thetas, X, y, eps, p, chunk: int = 8192) -> np.ndarray:
    """A certified L_θx at each θ of ``thetas`` (shape (..., d)): the constant of the third line of eq. 9/10 at that
    θ alone, over x' in the threat balls S_ε^p(x_i) of the data (labels y = ±1), where ``lipschitz_constants``
    bounds it over a whole ball of θ. With m = yθᵀx' and R = sup ||x'||_2 over the balls (``ball_radius_l2``),

        ||J v||_2 <= σ(−m)||v||_2 + σ(m)σ(−m)||x'||_2 |θᵀv| <= h(m)||v||_p,   h(m) = c_p σ(−m) + k σ(m)σ(−m),

    k = R||θ||_q, and m ranges over [min_i y_iθᵀx_i − ε||θ||_q, max_i y_iθᵀx_i + ε||θ||_q]. h' = σ(m)σ(−m)(k(1 −
    2σ(m)) − c_p), so h increases up to m* = logit((1 − c_p/k)/2) when k > c_p and decreases after (decreases
    everywhere when k <= c_p): its maximum over the interval is at m* clipped to it (at the left end if k <= c_p).
    At θ = 0 this is c_p/2, the limit of ``lipschitz_constants`` as B → 0, and it never exceeds the ball constant of
    a ball holding θ (σ(−m) <= σ(BR), σσ <= 1/4, ||θ||_q <= B_q)."""
    X = np.atleast_2d(np.asarray(X, dtype=float))
    y = np.asarray(y, dtype=float)
    eps, p = check_eps(eps), check_p(p)
    thetas = np.asarray(thetas, dtype=float)
    flat = thetas.reshape(-1, X.shape[1])
    c, R, q = identity_norm(X.shape[1], p), ball_radius_l2(X, eps, p), dual_exponent(p)
    out = np.empty(len(flat))
    for start in range(0, len(flat), chunk):
        T = flat[start:start + chunk]
        margins = T @ (y[:, None] * X).T
        tq = lp_norm(T, q, axis=1)
        lo, hi = margins.min(axis=1) - eps * tq, margins.max(axis=1) + eps * tq
        k = R * tq
        with np.errstate(divide="ignore"):
            peak = np.log(np.maximum(k - c, 0.0) / (k + c))  # m* = logit((1 − c/k)/2); −∞ when k <= c
        m = np.clip(peak, lo, hi)
        out[start:start + chunk] = sigmoid(-m) * (c + k * sigmoid(m))
    return out.reshape(thetas.shape[:-1])


def lipschitz_constants(X, eps, p, theta_radius) -> LipschitzConstants:
    """Certified L_θ, L_θθ, L_θx of ℓ(yθᵀx) for ||θ||_2 <= theta_radius and x' in the ε-balls of the rows of X
    (derivation in the module docstring)."""
    X = np.atleast_2d(np.asarray(X, dtype=float))
    p = check_p(p)
    B = float(theta_radius)
    if not (np.isfinite(B) and B >= 0):
        raise ValueError(f"theta_radius must be finite and >= 0, got {theta_radius!r}")
    d = X.shape[1]
    R = ball_radius_l2(X, eps, p)
    B_q = B * identity_norm(d, p)  # ||θ||_q <= d^{max(0, 1/q − 1/2)} ||θ||_2 and 1/q − 1/2 = 1/2 − 1/p
    s = float(sigmoid(B * R))
    return LipschitzConstants(L_theta=s * R, L_thetatheta=R * R / 4.0,
                              L_thetax=s * identity_norm(d, p) + R * B_q / 4.0, R=R, theta_radius=B, p=p)


def pair_gaps(x, y, theta1, theta2, eps, p) -> tuple[float, float, float]:
    """(|g_ε(θ1) − g_ε(θ2)|, ||∇g_ε(θ1) − ∇g_ε(θ2)||_2, ||θ1 − θ2||_2) for one example (x, y), exact inner max."""
    X = np.atleast_2d(np.asarray(x, dtype=float))
    Y = np.atleast_1d(np.asarray(y, dtype=float))
    t1, t2 = np.asarray(theta1, float), np.asarray(theta2, float)
    dg = abs(adversarial_loss(t1, X, Y, eps, p) - adversarial_loss(t2, X, Y, eps, p))
    dgrad = float(np.linalg.norm(adversarial_grad(t1, X, Y, eps, p) - adversarial_grad(t2, X, Y, eps, p)))
    return float(dg), dgrad, float(np.linalg.norm(t1 - t2))


def antipodal_pair(u, h) -> tuple[np.ndarray, np.ndarray]:
    """θ1 = h u, θ2 = −h u: the whole parameter passes through 0, so s(θ) (sign(θ) for ℓ∞, θ/||θ|| for ℓ2) flips
    entirely and x* jumps by 2ε (in ||·||_p, and by 2ε c_p in ||·||_2 when every u_j ≠ 0)."""
    u = np.asarray(u, dtype=float)
    if not np.all(u != 0):
        raise ValueError("u must have every coordinate non-zero so that sign(θ) flips in all of them")
    return h * u, -h * u


def antipodal_limit_jump(d: int, eps, p) -> float:
    """lim_{h→0} ||∇g_ε(hu) − ∇g_ε(−hu)|| = ε c_p: both margins → 0 so σ(−m) → 1/2 and
    Δ∇ → −½ y (x*_1 − x*_2) = ε s(u), of Euclidean norm ε c_p (p ∈ {2, ∞}). Equals 2ε·L_θx(B→0)."""
    return check_eps(eps) * identity_norm(d, p)


__all__ = ["LipschitzConstants", "identity_norm", "ball_radius_l2", "local_lipschitz_thetax", "lipschitz_constants",
           "pair_gaps", "antipodal_pair", "antipodal_limit_jump"]
