"""Units shared by the claims of Yamada, Kanai, Iwata, Takahashi, Yamanaka, Takahashi, Kumagai (2021), "Adversarial
Training Makes Weight Loss Landscape Sharper in Logistic Regression" (arXiv 2102.02950).

The full text is not available here: the verified wording is the abstract ("adversarial training with the L2 norm
constraints sharpens the weight loss landscape in the linear logistic regression model"; "the weight loss landscape
becomes sharper as the magnitude of the noise of adversarial training increases"), sharpness = eigenvalues of the
Hessian w.r.t. the weights. The abstract's statement is claim yamada2021.l2-sharpening (l2_sharpening.py); the
readings of the theorem it cannot settle are claims of their own: every eigenvalue non-decreasing at a fixed w
(fixed_w_eigenvalues.py) and the curvature orthogonal to w (orthogonal_curvature.py). The Hessian
∇²L_ε = fixed-example part + κ(ε)(I − ŵŵᵀ) and its monotone parts are derived in theory/sharpening.py.

Units: searches on the Hessian formula and on monotonicity at a fixed w (each draw decoded into the problem it
stands for), the λ_max construction, the curvatures at a fixed trained w, and the sharpness curves at the trained
minimizers w*(ε) (synthetic Gaussians, MNIST 3 vs 8). A search's random stream is named by its check's title.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from advland.seeding import numpy_rng
from advland.theory.bad_directions import eps_bar_binary
from advland.theory.linear import adversarial_grad
from advland.theory.sharpening import (adversarial_hessian, richardson_jacobian, compress,
                                       curvature_coefficient, fit_adversarial_logistic, fixed_example_hessian,
                                       is_linearly_separable, margin_radius, top_eigenvalues, two_gaussians)

from ...model import Check, Context, hypothesis_seed, unit_kind
from ...search import SearchResult, search_counterexample

FD_STEP = 1e-4          # the larger step of the Richardson-extrapolated finite differences
WEIGHT_DECAY = 1e-3     # λ in L_ε(w) + (λ/2)||w||²: keeps w*(ε) finite on separable data
GRID_FRACTIONS = (0.0, 0.1, 0.2, 0.35, 0.5, 0.65)   # ε / ||mean y x||₂ (the minimizer is 0 beyond 1)
MNIST_DIGITS = (3, 8)
SEPARATIONS = (3.0, 0.5)   # ||μ|| of the two synthetic Gaussian data sets (separable, not separable)
HESSIANS = {f.__name__: f for f in (adversarial_hessian, fixed_example_hessian)}  # closed forms by name


# ------------------------------------------------------------------ random problems for the searches

def problem(example, margin_condition: bool):
    """(X, y, w, ε1, ε2) from a drawn (seed, n, d, k, j1, j2): ||w|| = 10^(k/4), f = j/20. With the margin
    condition the labels are those of w (clean margins > 0) and ε = f·(margin radius), so 0 <= ε1 <= ε2 and every
    m_i(ε) >= 0 on [ε1, ε2]; without it the labels are random and ε = 3f. (All integers: quick to shrink.)"""
    seed, n, d, k, j1, j2 = example
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d)
    w *= 10.0 ** (k / 4) / np.linalg.norm(w)
    lo, hi = sorted((j1 / 20, j2 / 20))
    if margin_condition:
        y = np.where(X @ w >= 0, 1.0, -1.0)
        top = margin_radius(w, X, y, 2)
    else:
        y = rng.choice([-1.0, 1.0], n)
        top = 3.0
    return X, y, w, lo * top, hi * top


_PROBLEMS = st.tuples(st.integers(0, 2**16), st.integers(1, 8), st.integers(2, 6), st.integers(-4, 4),
                      st.integers(0, 20), st.integers(0, 20))


def decode_problem(margin_condition: bool):
    """The decoder of a ``problem`` draw for a search: the named values it stands for."""
    return lambda example: dict(zip(("X", "y", "w", "eps1", "eps2"), problem(example, margin_condition)))


def hessian_problem(example):
    """(X, y, w, ε) from a drawn (seed, n, d, k): labels ±1 at random, |w_j| >= 0.1 (away from the kinks of ||w||₁
    for p = ∞), ε = k/10."""
    seed, n, d, k = example
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((n, d)), rng.choice([-1.0, 1.0], n)
    w = np.sign(rng.standard_normal(d)) * (0.1 + np.abs(rng.standard_normal(d)))
    return X, y, w, k / 10


def _relative_error(a, b) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


# ------------------------------------------------------------------ titles (also the searches' stream names)

def hessian_title(params) -> str:
    return f"{params['hessian']} (p={params['p']}) = finite differences of the gradient"


def monotone_title(params) -> str:
    matrix = "P∇²L_εP" if params["compressed"] else "∇²L_ε"
    words = "non-decreasing" if params["direction"] == 1 else "non-increasing"
    return (f"{params['order']} of {matrix} {words} in ε at fixed w"
            + (" (all m_i(ε) >= 0)" if params["margin_condition"] else " (no margin condition)"))


def kappa_title(params) -> str:
    return ("κ(ε) = (ε/||w||)·mean σ(−m_i) " + ("non-decreasing" if params["direction"] == 1 else "non-increasing")
            + " in ε")


# ------------------------------------------------------------------ units: searches and the construction

@unit_kind("yamada2021.hessian-formula", version="3")
def hessian_search(*, seed: int, p, hessian: str, max_examples: int, tolerance: float = 1e-6) -> dict:
    """A closed-form Hessian (``HESSIANS[hessian]``) against Richardson-extrapolated central differences of the
    Danskin gradient (theory.linear.adversarial_grad; steps FD_STEP and FD_STEP/2, error O(h⁴)), at random problems
    (``hessian_problem``). Slack = tolerance − relative Frobenius error."""
    formula, p_value = HESSIANS[hessian], float(p)

    def slack(example):
        X, y, w, eps = hessian_problem(example)
        fd = richardson_jacobian(lambda v: adversarial_grad(v, X, y, eps, p_value), w, step=FD_STEP)
        return tolerance - _relative_error(formula(w, X, y, eps, p_value), (fd + fd.T) / 2)

    strategy = st.tuples(st.integers(0, 2**16), st.integers(1, 10), st.integers(2, 6), st.integers(0, 20))
    title = hessian_title({"hessian": hessian, "p": p})
    return search_counterexample(strategy, slack, seed=hypothesis_seed(seed, title), max_examples=max_examples,
                                 decode=lambda e: dict(zip(("X", "y", "w", "eps"), hessian_problem(e)))).as_dict()


@unit_kind("yamada2021.fixed-w-monotone", version="2")
def monotone_search(*, seed: int, max_examples: int, order: str = "loewner", compressed: bool = True,
                    margin_condition: bool = True, direction: int = 1) -> dict:
    """At a fixed w, is M(ε) = ∇²L_ε(w) (or its compression P∇²L_εP, P = I − ŵŵᵀ) monotone in ε?

    order='loewner': slack = λ_min(direction·(M(ε2) − M(ε1))); order='eigenvalues': slack = min_k
    direction·(λ_k(M(ε2)) − λ_k(M(ε1))) (sorted spectra). ε1 <= ε2, drawn inside or outside the margin condition.
    True: loewner, compressed, margin condition, direction +1. For u ⊥ w, uᵀ∇²L_εu = mean σ(m_i)σ(−m_i)(y_i uᵀx_i)²
    + κ(ε)||u||², and both terms grow when every m_i(ε) >= 0 falls.
    """
    if order not in ("loewner", "eigenvalues") or direction not in (1, -1):
        raise ValueError(f"order must be 'loewner' or 'eigenvalues' and direction ±1, got {order!r}, {direction!r}")

    def matrix_at(w, X, y, eps):
        H = adversarial_hessian(w, X, y, eps, 2)
        return compress(H, w) if compressed else H

    def slack(example):
        X, y, w, e1, e2 = problem(example, margin_condition)
        A, B = matrix_at(w, X, y, e1), matrix_at(w, X, y, e2)
        scale = 1e-9 * (1.0 + np.abs(A).max() + np.abs(B).max())
        if order == "loewner":
            gap = np.linalg.eigvalsh(direction * (B - A))[0]
        else:
            gap = np.min(direction * (np.linalg.eigvalsh(B) - np.linalg.eigvalsh(A)))
        return gap + scale    # rounding allowance relative to the matrices' size

    title = monotone_title(dict(order=order, compressed=compressed, margin_condition=margin_condition,
                                direction=direction))
    return search_counterexample(_PROBLEMS, slack, seed=hypothesis_seed(seed, title), max_examples=max_examples,
                                 decode=decode_problem(margin_condition)).as_dict()


@unit_kind("yamada2021.curvature-coefficient", version="2")
def kappa_search(*, seed: int, max_examples: int, direction: int = 1) -> dict:
    """κ(ε) = (ε/||w||)·mean σ(−m_i(ε)) is non-decreasing in ε for every w, X, y (no margin condition)."""

    def slack(example):
        X, y, w, e1, e2 = problem(example, margin_condition=False)
        return direction * (curvature_coefficient(w, X, y, e2) - curvature_coefficient(w, X, y, e1))

    return search_counterexample(_PROBLEMS, slack, seed=hypothesis_seed(seed, kappa_title({"direction": direction})),
                                 max_examples=max_examples, decode=decode_problem(False)).as_dict()


def falling_lambda_max_example(t: float = 2.4, c: float = 0.05, s: float = 0.3):
    """Targeted construction: d = 2, w = e₁, x = (t, ±c), y = +1, ε1 = 0, ε2 = s·t (< t, so both adversarial
    examples stay correctly classified). Along ŵ the curvature is σσ(m)m² with m = t − ε, which falls once m is
    below ≈ 2.4, while the orthogonal curvature σσ(m)c² + κ(ε) stays small; so λ_max itself falls."""
    X = np.array([[t, c], [t, -c]])
    return X, np.ones(2), np.array([1.0, 0.0]), 0.0, s * t


def fixed_w_curves(X, y, w, top: float) -> dict:
    """Curvatures at a fixed w on 40 budgets in [0, top]: κ(ε), λ_max(P∇²L_εP), λ_max(∇²L_ε), ŵᵀ∇²L_εŵ."""
    eps = np.linspace(0.0, top, 40)
    hs = [adversarial_hessian(w, X, y, e, 2) for e in eps]
    u = w / np.linalg.norm(w)
    return {"eps": eps, "kappa": [curvature_coefficient(w, X, y, e) for e in eps],
            "lambda_max compressed": [top_eigenvalues(compress(H, w), 1)[0] for H in hs],
            "lambda_max": [top_eigenvalues(H, 1)[0] for H in hs], "along w": [u @ H @ u for H in hs],
            "margin radius": margin_radius(w, X, y, 2)}


@unit_kind("yamada2021.lambda-max-construction")
def lambda_max_construction() -> dict:
    """λ_max(∇²L_ε(w)) at ε1 and ε2 on the construction, its margin radius, and its fixed-w curves up to 2ε2."""
    X, y, w, e1, e2 = falling_lambda_max_example()
    l1, l2 = (top_eigenvalues(adversarial_hessian(w, X, y, e, 2), 1)[0] for e in (e1, e2))
    return {"X": X, "y": y, "w": w, "eps1": e1, "eps2": e2, "lambda_max": [l1, l2],
            "margin radius": margin_radius(w, X, y, 2), "fixed w": fixed_w_curves(X, y, w, 2.0 * e2)}


# ------------------------------------------------------------------ units: trained minimizers

def sharpness_curve(X, y, fractions, weight_decay: float = WEIGHT_DECAY, k: int = 3) -> dict:
    """Fit w*(ε) for ε = f·||mean y x||₂ (warm-started in increasing ε) and measure, at each, the top-k eigenvalues
    of ∇²L_ε(w*) — the unregularized adversarial loss; the regularizer would add λI, the same shift at every ε —
    plus ||w*||, the scale-normalized λ_max·||w*||², κ(ε), the margin radius and the solver's gradient norm."""
    threshold = eps_bar_binary(X, y, 2)[0]
    rows, weights, w0 = [], [], None
    for f in sorted(fractions):
        fit = fit_adversarial_logistic(X, y, f * threshold, weight_decay, p=2, w0=w0)
        w0 = fit.w
        weights.append(fit.w)
        top = top_eigenvalues(adversarial_hessian(fit.w, X, y, fit.eps, 2), k)
        norm = float(np.linalg.norm(fit.w))
        rows.append({"eps": fit.eps, "top": top, "lambda_max": top[0], "w_norm": norm,
                     "normalized": top[0] * norm ** 2, "kappa": curvature_coefficient(fit.w, X, y, fit.eps),
                     "margin_radius": margin_radius(fit.w, X, y, 2), "grad_norm": fit.grad_norm,
                     "converged": fit.converged, "n_iter": fit.n_iter})
    return {"threshold": threshold, "weight_decay": weight_decay, "rows": rows, "weights": weights}


def _without_weights(curve: dict) -> dict:
    return {k: v for k, v in curve.items() if k != "weights"}


def _gaussians(seed: int, n: int, separation: float):
    """The synthetic data set: two Gaussians in d = 50 (theory.sharpening.two_gaussians) from a named stream."""
    return two_gaussians(numpy_rng(seed, f"two gaussians {separation}"), n, 50, separation)


@unit_kind("yamada2021.gaussian-sharpness", version="2")
def gaussian_sharpness(*, seed: int, n: int, separation: float, fractions: list, decays: list) -> dict:
    """Two Gaussians in d = 50: separability (LP) and the sharpness curve for every weight decay."""
    X, y = _gaussians(seed, n, separation)
    separable, status = is_linearly_separable(X, y)
    return {"separable": separable, "lp_status": status,
            "curves": [_without_weights(sharpness_curve(X, y, fractions, weight_decay=decay)) for decay in decays]}


@unit_kind("yamada2021.fixed-w-trained")
def fixed_w_trained(*, seed: int, n: int, separation: float) -> dict:
    """The curvatures at the fixed w = w*(0) (weight decay WEIGHT_DECAY) of the two-Gaussian data set along
    ε ∈ [0, 0.95·||mean y x||₂] (``fixed_w_curves``)."""
    X, y = _gaussians(seed, n, separation)
    w = fit_adversarial_logistic(X, y, 0.0, WEIGHT_DECAY, p=2).w
    return fixed_w_curves(X, y, w, 0.95 * eps_bar_binary(X, y, 2)[0])


def mnist_pair(data_dir, seed: int, n: int):
    """A class-balanced subset of n MNIST training images of MNIST_DIGITS, flattened, pixels/255, y = ±1, as
    ((X, y), ""); (None, reason) when the files are missing or fail verification (the reason names them)."""
    from advland.empirical.data import DataError, balanced_subset, load_arrays   # imports torch: only for MNIST
    try:
        x, labels = load_arrays("mnist", "train", data_dir)
    except DataError as exc:
        return None, f"MNIST unavailable: {exc}"
    pool = np.flatnonzero(np.isin(labels, MNIST_DIGITS))
    idx = pool[balanced_subset(labels[pool], n, hypothesis_seed(seed, "mnist subset"))]
    X = x[idx].reshape(len(idx), -1).astype(float) / 255.0
    return (X, np.where(labels[idx] == MNIST_DIGITS[0], 1.0, -1.0)), ""


@unit_kind("yamada2021.mnist-sharpness")
def mnist_sharpness(*, seed: int, n: int, fractions: list, data_dir: str | None) -> dict:
    """MNIST 3 vs 8 (n images): separability and the sharpness curve at WEIGHT_DECAY, or why MNIST is missing."""
    data, reason = mnist_pair(data_dir, seed, n)
    if data is None:
        return {"reason": reason}
    X, y = data
    separable, status = is_linearly_separable(X, y)
    return {"separable": separable, "lp_status": status,
            "curve": _without_weights(sharpness_curve(X, y, fractions, weight_decay=WEIGHT_DECAY))}


def all_units(ctx: Context) -> dict:
    """Every unit of the Yamada claims by name; each claim plans the ones it decides from."""
    sizes = dict(seed=ctx.seed, fractions=list(ctx.pick(smoke=GRID_FRACTIONS[::2], cpu=GRID_FRACTIONS)))
    n_syn = ctx.pick(smoke=120, cpu=400, gpu=2000)
    decays = list(ctx.pick(smoke=(WEIGHT_DECAY,), cpu=(1e-4, WEIGHT_DECAY, 1e-2)))
    hessian_examples = ctx.pick(smoke=15, cpu=60, gpu=200)
    monotone_examples = ctx.pick(smoke=40, cpu=200, gpu=1000)
    return {
        "hessian l2": hessian_search.unit(seed=ctx.seed, p=2, hessian="adversarial_hessian",
                                          max_examples=hessian_examples),
        "hessian linf": hessian_search.unit(seed=ctx.seed, p=np.inf, hessian="fixed_example_hessian",
                                            max_examples=hessian_examples),
        "kappa": kappa_search.unit(seed=ctx.seed, max_examples=ctx.pick(smoke=30, cpu=200, gpu=1000)),
        "eigenvalues": monotone_search.unit(seed=ctx.seed, max_examples=monotone_examples, order="eigenvalues",
                                            compressed=False),
        "targeted": lambda_max_construction.unit(),
        "loewner": monotone_search.unit(seed=ctx.seed, max_examples=monotone_examples),
        "fixed w trained": fixed_w_trained.unit(seed=ctx.seed, n=n_syn, separation=SEPARATIONS[0]),
        **{f"gaussians {s:g}": gaussian_sharpness.unit(**sizes, n=n_syn, separation=s, decays=decays)
           for s in SEPARATIONS},
        "mnist": mnist_sharpness.unit(**sizes, n=ctx.pick(smoke=200, cpu=2000, gpu=11000), data_dir=ctx.data_dir),
    }


# ------------------------------------------------------------------ check builders shared by the claims

def hessian_check(result, params) -> Check:
    return SearchResult.from_dict(result).to_check(
        hessian_title(params), key=f"hessian-{'linf' if params['p'] == 'inf' else 'l2'}",
        note=f"relative Frobenius error tolerance {params['tolerance']:g}; Richardson-extrapolated central "
             f"differences, steps {FD_STEP:g} and {FD_STEP / 2:g}")


def monotone_check(result, params) -> Check:
    return SearchResult.from_dict(result).to_check(
        monotone_title(params), key=f"fixed-w-{params['order']}",
        note="||w|| = 10^(k/4), ε = (j/20)·(margin radius) under the margin condition, 3j/20 otherwise, for a drawn "
             "(seed, n, d, k, j1, j2) (problem() of papers/yamada2021/_common.py)")
