"""Matrix-free symmetric eigen-solvers and trace estimation for a counted matvec v ↦ H v.

Every solver takes ``matvec`` (1-D tensor -> 1-D tensor of the same size), counts its calls, and
returns a result that carries a ``converged`` flag per eigenpair. ``to_json`` never emits a bare
eigenvalue: each value travels with its residual and its flag (``EigenResult``).

* ``lanczos``: Lanczos with full reorthogonalization (twice, "twice is enough"), Ritz pairs of the
  tridiagonal T_m = Q_mᵀ H Q_m; ``which='LA'`` gives the k largest ALGEBRAIC eigenvalues and
  ``'SA'`` the k smallest (PyHessian's power iteration, pyhessian/hessian.py ``eigenvalues``, finds
  the largest MAGNITUDE instead). Stops when the cheap residual |β_m s_{m,i}| of each wanted pair is below
  tol · ‖H‖ (‖H‖ estimated by the largest |Ritz value|), then reports the explicit residual
  ‖H y − θ y‖ (one matvec per pair): H, being symmetric, has an eigenvalue within that distance
  of θ.
* ``power_iteration``: power iteration with deflation as in Liu et al. (official code,
  util/hessian.py): Gaussian start, Gram–Schmidt against the eigenvectors already found, Rayleigh
  quotient, stop when |λ_t − λ_{t−1}| < tol (|λ_{t−1}| + 1e-6), at most ``max_iter`` matvecs per
  eigenvalue. Converges to the largest-MAGNITUDE eigenvalues.
* ``hutchinson_trace``: tr H ≈ mean of zᵀ H z over Rademacher z, with standard error s/√m.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

LANCZOS_WHICH = ("LA", "SA")
CONVERGENCE_RULES = {
    "lanczos": "explicit residual ||Hv - lambda v|| <= tol * ||H|| (||H|| = largest |Ritz value|)",
    "power_iteration": "relative change of the Rayleigh quotient < tol between two iterations "
                       "(Liu et al.); says nothing about the error: read the residual",
}


@dataclass
class EigenPair:
    value: float
    vector: torch.Tensor = field(repr=False)
    residual: float          # ‖H v − λ v‖ with ‖v‖ = 1
    converged: bool

    def to_json(self) -> dict:
        return {"value": self.value, "residual": self.residual, "converged": self.converged}


@dataclass
class EigenResult:
    method: str              # 'lanczos' | 'power_iteration'
    which: str               # 'LA' (largest algebraic), 'SA' (smallest algebraic), 'LM' (largest magnitude)
    pairs: list[EigenPair]
    n_matvecs: int
    iterations: int
    tol: float

    @property
    def eigenvalues(self) -> list[float]:
        return [p.value for p in self.pairs]

    @property
    def converged(self) -> bool:
        return all(p.converged for p in self.pairs)

    def to_json(self) -> dict:
        return {"method": self.method, "which": self.which, "tol": self.tol,
                "convergence_rule": CONVERGENCE_RULES[self.method], "converged": self.converged,
                "n_matvecs": self.n_matvecs, "iterations": self.iterations, "pairs": [p.to_json() for p in self.pairs]}


@dataclass
class TraceResult:
    estimate: float
    stderr: float
    n_samples: int
    n_matvecs: int

    def to_json(self) -> dict:
        return {"method": "hutchinson_rademacher", "estimate": self.estimate,
                "stderr": self.stderr, "n_samples": self.n_samples, "n_matvecs": self.n_matvecs}


class CountedMatvec:
    """Wraps a matvec, counts its calls, and refuses non-finite products."""

    def __init__(self, matvec):
        self.matvec = matvec
        self.count = 0

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        self.count += 1
        hv = self.matvec(v)
        if not torch.isfinite(hv).all():
            raise FloatingPointError(f"matvec number {self.count} returned NaN or inf")
        return hv


def _check(name, value, low, kind=int):
    if isinstance(value, bool) or not isinstance(value, kind) or value < low:
        raise ValueError(f"{name} must be {kind.__name__} >= {low}, got {value!r}")
    return value


def _start_vector(n, generator, like):
    v = torch.randn(n, generator=generator, dtype=torch.float64)
    return (v / v.norm()).to(device=like.device, dtype=like.dtype)


def lanczos(matvec, n: int, *, k: int = 1, which: str = "LA", tol: float = 1e-4,
            max_iter: int | None = None, generator: torch.Generator | None = None,
            like: torch.Tensor | None = None) -> EigenResult:
    """k extreme eigenpairs of a symmetric operator of size n (see module docstring).

    ``max_iter`` bounds the Krylov dimension (default min(n, 2k + 50)); ``like`` gives the
    dtype/device of the vectors (default float64, cpu). A run that stops at ``max_iter`` before all
    wanted residuals are small is returned with ``converged=False`` on the offending pairs.
    """
    _check("n", n, 1)
    _check("k", k, 1)
    if k > n:
        raise ValueError(f"k must be <= n, got k={k}, n={n}")
    if which not in LANCZOS_WHICH:
        raise ValueError(f"which must be one of {LANCZOS_WHICH}, got {which!r}")
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol!r}")
    max_iter = min(n, 2 * k + 50) if max_iter is None else _check("max_iter", max_iter, k)
    max_iter = min(max_iter, n)
    like = torch.zeros((), dtype=torch.float64) if like is None else like
    op = CountedMatvec(matvec)

    basis = torch.empty((max_iter, n), dtype=like.dtype, device=like.device)
    basis[0] = _start_vector(n, generator, like)
    alphas, betas = [], []
    for m in range(1, max_iter + 1):
        q = basis[:m]
        w = op(q[-1])
        alphas.append(torch.dot(q[-1], w).item())
        for _ in range(2):  # full reorthogonalization against the whole basis, done twice
            w = w - q.T @ (q @ w)
        betas.append(w.norm().item())
        theta, s = _tridiagonal_eigh(alphas, betas[:-1])
        wanted = _wanted(theta, k, which)
        scale = max(abs(theta[0].item()), abs(theta[-1].item()), 1e-300)
        invariant = betas[-1] <= 1e-10 * scale
        estimates = [abs(betas[-1] * s[-1, i].item()) for i in wanted]
        if m >= k and (invariant or max(estimates) <= tol * scale):
            break
        if m < max_iter:
            if invariant:  # Krylov space exhausted before k pairs: continue from a fresh direction
                betas[-1] = 0.0
                w = _start_vector(n, generator, like)
                for _ in range(2):
                    w = w - q.T @ (q @ w)
            basis[m] = w / w.norm()

    q = basis[:m].to(torch.float64)
    pairs = []
    for i in wanted:
        y = (q.T @ s[:, i]).to(like.dtype)
        y = y / y.norm()
        residual = (op(y) - theta[i].item() * y).norm().item()
        pairs.append(EigenPair(theta[i].item(), y, residual, residual <= tol * scale))
    return EigenResult("lanczos", which, pairs, op.count, m, tol)


def _tridiagonal_eigh(alphas, offdiag):
    t = torch.diag(torch.tensor(alphas, dtype=torch.float64))
    if offdiag:
        off = torch.tensor(offdiag, dtype=torch.float64)
        t = t + torch.diag(off, 1) + torch.diag(off, -1)
    return torch.linalg.eigh(t)  # ascending Ritz values, columns = eigenvectors of T


def _wanted(theta, k, which):
    m = theta.shape[0]
    return list(range(m - 1, max(m - 1 - k, -1), -1)) if which == "LA" else list(range(min(k, m)))


def power_iteration(matvec, n: int, *, k: int = 1, max_iter: int = 50, tol: float = 1e-3,
                    generator: torch.Generator | None = None,
                    like: torch.Tensor | None = None) -> EigenResult:
    """Top-k by magnitude with deflation, Liu et al.'s settings by default (≤ 50 iterations, 1e-3).

    Each eigenvalue restarts from a fresh Gaussian vector; the residual reported is that of the
    returned Rayleigh pair (λ, v) with the matvec already computed (no extra cost).
    """
    _check("n", n, 1)
    _check("k", k, 1)
    _check("max_iter", max_iter, 1)
    if k > n:
        raise ValueError(f"k must be <= n, got k={k}, n={n}")
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol!r}")
    like = torch.zeros((), dtype=torch.float64) if like is None else like
    op = CountedMatvec(matvec)
    found: list[torch.Tensor] = []
    pairs, iterations = [], 0

    def deflate(w):
        for u in found:
            w = w - torch.dot(u, w) * u
        return w

    for _ in range(k):
        v = deflate(_start_vector(n, generator, like))
        v = v / v.norm()
        previous, converged = None, False
        for _ in range(max_iter):
            iterations += 1
            hv = op(v)
            value = torch.dot(v, hv).item()
            residual = (hv - value * v).norm().item()
            vector = v
            if previous is not None and abs(value - previous) < tol * (abs(previous) + 1e-6):
                converged = True
                break
            previous = value
            w = deflate(hv)
            norm = w.norm()
            if norm == 0:  # H v = 0 on the deflated space: v is an exact eigenvector for 0
                converged = True
                break
            v = w / norm
        pairs.append(EigenPair(value, vector, residual, converged))
        found.append(vector)
    return EigenResult("power_iteration", "LM", pairs, op.count, iterations, tol)


def hutchinson_trace(matvec, n: int, *, num_samples: int = 100,
                     generator: torch.Generator | None = None,
                     like: torch.Tensor | None = None) -> TraceResult:
    """tr H = E[zᵀ H z] for z with i.i.d. ±1 entries (Hutchinson 1990); stderr = s / √m, m ≥ 2."""
    _check("n", n, 1)
    _check("num_samples", num_samples, 2)
    like = torch.zeros((), dtype=torch.float64) if like is None else like
    op = CountedMatvec(matvec)
    samples = []
    for _ in range(num_samples):
        z = torch.randint(0, 2, (n,), generator=generator, dtype=torch.int64) * 2 - 1
        z = z.to(device=like.device, dtype=like.dtype)
        samples.append(torch.dot(z, op(z)).item())
    t = torch.tensor(samples, dtype=torch.float64)
    return TraceResult(t.mean().item(), t.std(unbiased=True).item() / math.sqrt(num_samples),
                       num_samples, op.count)
