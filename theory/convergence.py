"""SGD on the adversarial logistic loss and the tail bound of Liu et al. 2020 (slides, Theorem "Convergence", eq. 12).

The theorem: under the Lipschitzian assumption (eq. 9/10), an unbiased stochastic gradient with bounded variance and
the constant step α = 1/(L_θθ √T), for a sufficiently large T and an iterate θ_t drawn uniformly from {θ_1..θ_T},

    ∀γ >= 2:   P(||∇L_ε(θ_t)|| > γ ε L_θx) < 4 / (γ² − 2γ + 4).

Writing G = ||∇L_ε(θ_t)|| / (ε L_θx), the bound is Markov's inequality applied to (G − 1)² + 3 = G² − 2G + 4 under
the moment inequality E[G² − 2G] <= 0 (the slides show no proof; this is our reconstruction). A descent-lemma
argument with the additive term, f(θ') <= f(θ) + ∇f(θ)ᵀΔ + L_θθ||Δ||²/2 + 2εL_θx||Δ||, gives with α = 1/(L_θθ√T)

    (1/T) Σ_t E[(1 − α L_θθ/2)||∇_t||² − 2εL_θx||∇_t||] <= (L_θθ(f(θ_1) − f*) + σ²/2)/√T + 2εL_θx σ,

so E[G² − 2G] <= 0 needs the variance term 2εL_θx σ to vanish (σ = 0, or a sharper bound on E||ĝ||); the checks
test the moment inequality itself on the SGD iterates. The tightest tail E[G² − 2G] <= 0 allows is
``extremal_tail``: 1/(γ − 1)² (two-point laws at 1 and just above γ), and 4/(γ² − 2γ + 4) >= 1/(γ − 1)² exactly
when γ >= 2, which is where the range comes from. At ε = 0 the normalisation divides by zero: the event is ||∇|| > 0.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from .linear import check_eps, check_p, dual_direction, dual_exponent, lp_norm


def _check_gamma(gamma) -> np.ndarray:
    g = np.asarray(gamma, dtype=float)
    if not np.all(np.isfinite(g)) or np.any(g < 0):
        raise ValueError(f"γ must be finite and >= 0, got {gamma!r}")
    return g


def tail_bound(gamma) -> np.ndarray:
    """4 / (γ² − 2γ + 4), the right-hand side of eq. 12 (the slides state it for γ >= 2; it equals 1 at γ = 2)."""
    g = _check_gamma(gamma)
    return 4.0 / (g * g - 2.0 * g + 4.0)


def extremal_tail(gamma) -> np.ndarray:
    """sup {P(G > γ) : G >= 0, E[G² − 2G] <= 0} = min(1, 1/(γ − 1)²) for γ >= 1.

    Upper bound: 1{G > γ} <= (G − 1)²/(γ − 1)² and E[(G − 1)²] <= 1. Approached (not attained) by mass
    1/(γ' − 1)² at G = γ' ↓ γ and the rest at G = 1.
    """
    g = _check_gamma(gamma)
    if np.any(g < 1):
        raise ValueError(f"the extremal tail is defined here for γ >= 1, got {gamma!r}")
    with np.errstate(divide="ignore"):
        return np.minimum(1.0, 1.0 / (g - 1.0) ** 2)


def two_point_tail(gamma, low, high) -> float:
    """For the law with mass π at ``high`` > γ and 1 − π at ``low`` in [0, 2], the largest π with
    E[G² − 2G] <= 0, i.e. P(G > γ) of the worst two-point law on those atoms."""
    _check_gamma(gamma)
    low, high = float(low), float(high)
    if not (0.0 <= low <= 2.0) or not high > float(gamma):
        raise ValueError(f"need 0 <= low <= 2 and high > γ, got low={low!r}, high={high!r}, γ={gamma!r}")
    neg, pos = low * low - 2.0 * low, high * high - 2.0 * high  # neg <= 0 < pos for γ >= 2
    if pos <= 0:
        return 1.0
    return float(min(1.0, -neg / (pos - neg)))


def theorem_step(L_thetatheta, T) -> float:
    """α = 1 / (L_θθ √T), the constant step of the theorem."""
    L, T = float(L_thetatheta), int(T)
    if not (np.isfinite(L) and L > 0) or T < 1:
        raise ValueError(f"need L_θθ > 0 and T >= 1, got {L_thetatheta!r}, {T!r}")
    return 1.0 / (L * np.sqrt(T))


def batched_grads(W, X, y, eps, p) -> np.ndarray:
    """Gradients of the adversarial logistic loss (no bias) for many parameter vectors at once.

    W: (C, d); X: (C, n, d) or (n, d) (shared); y: (C, n) or (n,). Row c is
    ∇_w L_ε = −(1/n) Σ_i σ(−m_ci) (y_ci x_ci − ε s(w_c)),  m_ci = y_ci w_cᵀx_ci − ε||w_c||_q,
    the same Danskin gradient as ``theory.linear.adversarial_grad``, with s = ``dual_direction``.
    """
    X = np.asarray(X, dtype=float)
    return signed_grads(W, np.asarray(y, dtype=float)[..., None] * X, check_eps(eps), check_p(p))


def signed_grads(W, yX, eps: float, p: float) -> np.ndarray:
    """``batched_grads`` from the signed inputs yX = y·x (shape (C, n, d) or (n, d)); no input validation
    (the SGD inner loop calls it)."""
    W = np.atleast_2d(W)
    if yX.ndim == 2:
        M, n = W @ yX.T, yX.shape[0]
    else:
        M, n = np.einsum("cnd,cd->cn", yX, W), yX.shape[1]
    if eps > 0:
        M = M - eps * lp_norm(W, dual_exponent(p), axis=1)[:, None]
    coef = 1.0 / (1.0 + np.exp(np.clip(M, -700.0, 700.0)))  # σ(−m)
    smooth = coef @ yX if yX.ndim == 2 else np.einsum("cn,cnd->cd", coef, yX)
    if eps > 0:
        smooth = smooth - eps * coef.sum(axis=1)[:, None] * dual_rows(W, p)
    return -smooth / n


def dual_rows(W, p) -> np.ndarray:
    """``dual_direction`` applied to every row of W (vectorised for p = 2 and p = ∞)."""
    W = np.atleast_2d(np.asarray(W, dtype=float))
    p = check_p(p)
    if np.isinf(p):
        return np.sign(W)
    if p == 2.0:
        n = np.linalg.norm(W, axis=1, keepdims=True)
        return np.divide(W, n, out=np.zeros_like(W), where=n > 0)
    return np.stack([dual_direction(w, p) for w in W])


def sgd_trajectories(X, y, eps, p, T, *, step, batch, chains, rng, w0=None) -> np.ndarray:
    """Run ``chains`` independent SGD chains θ_{t+1} = θ_t − α ĝ_t for t = 1..T; ĝ_t is the adversarial gradient on a
    minibatch drawn uniformly with replacement (unbiased, bounded variance on bounded data).

    Returns the iterates θ_1..θ_T, shape (chains, T, d) (θ_1 = w0, default 0).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    N, d = X.shape
    if int(T) < 1 or int(batch) < 1 or int(chains) < 1:
        raise ValueError(f"T, batch and chains must be >= 1, got {T!r}, {batch!r}, {chains!r}")
    eps, p = check_eps(eps), check_p(p)
    yX = y[:, None] * X
    w = np.zeros((chains, d)) if w0 is None else np.tile(np.asarray(w0, float), (chains, 1))
    out = np.empty((chains, int(T), d))
    idx = rng.integers(0, N, size=(int(T), chains, int(batch)))
    for t in range(int(T)):
        out[:, t] = w
        w = w - step * signed_grads(w, yX[idx[t]], eps, p)
    return out


def full_grad_norms(iterates, X, y, eps, p, chunk: int = 4096) -> np.ndarray:
    """||∇L_ε(θ)||_2 (full batch) at every iterate; ``iterates`` has shape (..., d)."""
    W = np.asarray(iterates, dtype=float)
    flat = W.reshape(-1, W.shape[-1])
    norms = np.concatenate([np.linalg.norm(batched_grads(flat[i:i + chunk], X, y, eps, p), axis=1)
                            for i in range(0, len(flat), chunk)])
    return norms.reshape(W.shape[:-1])


def integrated_autocorr_time(series) -> float:
    """Sokal's integrated autocorrelation time τ = 1 + 2 Σ_k ρ_k with the self-consistent window k < 5τ.
    A constant series has τ = 1 (no information to correlate)."""
    x = np.asarray(series, dtype=float)
    x = x - x.mean()
    n = len(x)
    var = float(x @ x) / n
    if n < 4 or var <= 0:
        return 1.0
    f = np.fft.rfft(x, 2 * n)
    acf = np.fft.irfft(f * np.conj(f))[:n] / (var * n)
    tau = 1.0
    for k in range(1, n // 2):
        tau += 2.0 * acf[k]
        if k >= 5.0 * tau:
            break
    return max(1.0, float(tau))


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact two-sided binomial confidence interval for k successes in n trials."""
    k, n = int(k), int(n)
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n >= 1, got k={k!r}, n={n!r}")
    a = 1.0 - float(level)
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


def thinned(series, rng=None) -> tuple[np.ndarray, int]:
    """Roughly independent draws from autocorrelated chains: each row of ``series`` (one chain) is thinned with
    stride ⌈2τ⌉, τ = ``integrated_autocorr_time`` of that row, starting at a random offset in [0, stride) (from
    ``rng``; 0 without it) so the start of the run, where the gradient is largest, is not over-represented.
    Chains are independent and pooled. Returns the kept values and the largest stride."""
    series = np.atleast_2d(np.asarray(series, dtype=float))
    strides = [int(np.ceil(2.0 * integrated_autocorr_time(row))) for row in series]
    offsets = rng.integers(0, strides) if rng is not None else np.zeros(len(strides), dtype=int)
    kept = np.concatenate([row[o::s] for row, o, s in zip(series, offsets, strides)])
    return kept, int(max(strides))


def thinned_tail(norms, threshold, level: float = 0.95, rng=None) -> dict:
    """Frequency of ||∇|| > threshold over all iterates (the randomly selected iterate) and a Clopper–Pearson
    interval on the ``thinned`` sample of the gradient-norm chains."""
    norms = np.atleast_2d(np.asarray(norms, dtype=float))
    kept, stride = thinned(norms, rng)
    k = int(np.sum(kept > float(threshold)))
    lo, hi = clopper_pearson(k, kept.size, level)
    return {"freq": float(np.mean(norms > float(threshold))), "k": k, "n": int(kept.size), "lo": lo, "hi": hi,
            "stride": stride}


def thinned_mean(values, level: float = 0.95, rng=None) -> dict:
    """Mean over all iterates and a Student-t interval from the ``thinned`` sample."""
    values = np.atleast_2d(np.asarray(values, dtype=float))
    kept, stride = thinned(values, rng)
    n = kept.size
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * kept.std(ddof=1) / np.sqrt(n)) if n > 1 else np.inf
    return {"mean": float(values.mean()), "lo": float(kept.mean()) - half, "hi": float(kept.mean()) + half,
            "n": int(n), "stride": stride}
