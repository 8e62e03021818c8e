"""yamada2021.orthogonal-curvature: the mechanism by which L2 adversarial training sharpens the weight loss of
logistic regression, as we derive it (theory/sharpening.py; the theorem's text is not available): the Hessian is
the fixed-example part plus an isotropic term κ(ε)(I − ŵŵᵀ) on the directions orthogonal to w, κ(ε) non-decreasing
in ε, so the curvature orthogonal to w (P∇²L_εP, P = I − ŵŵᵀ) is Loewner non-decreasing in ε at a fixed w while
every adversarial margin stays >= 0; under ℓ∞ the term is absent.

Checks: the closed-form Hessians against finite differences of the gradient (L2 with the term, ℓ∞ without it), and
searches over random problems for κ and for the Loewner order (``problem`` of _common.py).
"""
from __future__ import annotations

from ...model import Context, Outcome, unit_results
from ...registry import claim
from ...search import SearchResult
from ..liu2020._common import summary
from ._common import all_units, hessian_check, kappa_title, monotone_check

NAMES = ("hessian l2", "hessian linf", "kappa", "loewner")


def units(ctx: Context) -> dict:
    every = all_units(ctx)
    return {name: every[name] for name in NAMES}


def plan(ctx: Context) -> list:
    return list(units(ctx).values())


def kappa_check(result, params):
    return SearchResult.from_dict(result).to_check(kappa_title(params), key="kappa-monotone")


def decide(ctx: Context, results) -> Outcome:
    u = units(ctx)
    r = unit_results(u, results)
    checks = [hessian_check(r["hessian l2"], u["hessian l2"].params),
              hessian_check(r["hessian linf"], u["hessian linf"].params),
              kappa_check(r["kappa"], u["kappa"].params),
              monotone_check(r["loewner"], u["loewner"].params)]
    return Outcome(summary=summary(checks, {}), checks=checks,
                   scale_note="random problems with n <= 10, d <= 6; a failure is exact, a pass is a bounded search",
                   details={"statement": "for u ⊥ w, uᵀ∇²L_εu is non-decreasing in ε while all m_i(ε) >= 0 (Loewner "
                                         "order of P∇²L_εP); κ(ε) increases for every w"})


CLAIM = claim(
    "yamada2021.orthogonal-curvature",
    where="Yamada et al. 2021 (arXiv 2102.02950), main theorem (L2, linear logistic model): the mechanism, as derived "
          "in theory/sharpening.py",
    statement="The Hessian of the L2 adversarial logistic loss is the fixed-example Hessian plus κ(ε)(I − ŵŵᵀ) with "
              "κ(ε) non-decreasing in ε, so the curvature orthogonal to w is Loewner non-decreasing in ε at a fixed w "
              "while every adversarial margin stays non-negative; under ℓ∞ there is no such term.",
    formula="∇²L_ε = mean σ(m)σ(−m) a aᵀ + κ(ε)(I − ŵŵᵀ), κ(ε) = (ε/||w||)·mean σ(−m), a = yx − εŵ; "
            "P∇²L_ε2P ⪰ P∇²L_ε1P for ε1 <= ε2 <= margin radius",
    tags=("theory",),
    source="our reading: our derivation of the mechanism behind the abstract's statement (theorem text not available)",
    expect={"smoke": "confirmed", "cpu": "confirmed"},   # gpu and paper compute more examples: not yet seen there
)(plan=plan, decide=decide)
