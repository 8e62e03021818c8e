"""A user claim file: run it with `advland verify --claims examples/user_claims.py --only mine`.

Each claim is a check function decorated with @claim; it returns an Outcome whose verdict is computed from
Quantities with bounds or from a counterexample search.
"""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from advland.claims import Context, Outcome, claim, search_counterexample
from advland.theory.linear import adversarial_loss

finite = st.floats(-3, 3, allow_nan=False, width=64)


def problems(d: int = 3, n: int = 4):
    """(w, X, y, ε, p): a random binary linear problem."""
    return st.tuples(hnp.arrays(float, d, elements=finite), hnp.arrays(float, (n, d), elements=finite),
                     hnp.arrays(float, n, elements=st.sampled_from([-1.0, 1.0])),
                     st.floats(0, 2), st.sampled_from([1.0, 2.0, np.inf]))


@claim("mine.adv-geq-clean", where="folklore", tags=("theory",),
       statement="The adversarial logistic loss is never below the clean loss.",
       formula="L_ε(w) >= L_0(w) for all ε >= 0")
def adv_geq_clean(ctx: Context) -> Outcome:
    result = search_counterexample(
        problems(), lambda c: adversarial_loss(*c) - adversarial_loss(c[0], c[1], c[2], 0.0, c[4]),
        seed=ctx.seed_for("adv-geq-clean"), max_examples=ctx.pick(smoke=50, cpu=300), tolerance=1e-12)
    return Outcome(summary=f"searched {result.n_examples} random problems for L_ε < L_0",
                   checks=[result.to_check("L_ε - L_0 >= 0")])
