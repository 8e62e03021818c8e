"""A user claim file: run it with `advland verify --claims examples/user_claims.py --only mine`.

Two forms of claim. The simple one is a check function decorated with @claim; it returns an Outcome whose verdict
is computed from Quantities with bounds or from a counterexample search. A claim in stages names the computations
it needs as units (a registered function of JSON parameters), decides from their numbers alone and draws its
figures from the same numbers, so the numbers can be stored and the report rebuilt without recomputing.
"""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from matplotlib.figure import Figure

from advland.claims import Check, Context, Outcome, Quantity, claim, search_counterexample, unit_kind
from advland.seeding import numpy_rng
from advland.theory.linear import adversarial_loss

finite = st.floats(-3, 3, allow_nan=False, width=64)


def problems(d: int = 3, n: int = 4):
    """(w, X, y, ε, p): a random binary linear problem."""
    return st.tuples(hnp.arrays(float, d, elements=finite), hnp.arrays(float, (n, d), elements=finite),
                     hnp.arrays(float, n, elements=st.sampled_from([-1.0, 1.0])),
                     st.floats(0, 2), st.sampled_from([1.0, 2.0, np.inf]))


@claim("mine.adv-geq-clean", where="folklore", tags=("theory",),
       statement="The adversarial logistic loss is never below the clean loss.",
       formula="L_ε(w) >= L_0(w) for all ε >= 0", source="our reading of the folklore")
def adv_geq_clean(ctx: Context) -> Outcome:
    result = search_counterexample(
        problems(), lambda c: adversarial_loss(*c) - adversarial_loss(c[0], c[1], c[2], 0.0, c[4]),
        seed=ctx.seed_for("adv-geq-clean"), max_examples=ctx.pick(smoke=50, cpu=300), tolerance=1e-12)
    return Outcome(summary=f"searched {result.n_examples} random problems for L_ε < L_0",
                   checks=[result.to_check("L_ε - L_0 >= 0")])


# ---- the same kind of statement in stages: units -> decide -> plot ----

@unit_kind("mine.loss-by-eps")
def loss_by_eps(*, seed: int, n_problems: int, eps: list, p: float = 2.0) -> dict:
    """L_ε(w) of random binary problems (w, X, y ~ N(0, 1), N = 4, d = 3) on a grid of budgets ε."""
    rng = numpy_rng(seed, "mine.loss-by-eps")
    losses = []
    for _ in range(n_problems):
        w, X, y = rng.normal(size=3), rng.normal(size=(4, 3)), rng.choice([-1.0, 1.0], 4)
        losses.append([adversarial_loss(w, X, y, e, p) for e in eps])
    return {"eps": eps, "losses": losses}


def plan(ctx: Context) -> list:
    return [loss_by_eps.unit(seed=ctx.seed, n_problems=ctx.pick(smoke=20, cpu=200), eps=[0.0, 0.1, 0.3, 1.0])]


def decide(ctx: Context, results) -> Outcome:
    (unit,) = plan(ctx)
    losses = np.asarray(results[unit.key]["losses"])
    step = Quantity("smallest step L_ε(next ε) − L_ε", float(np.diff(losses, axis=1).min()), bound=0.0, relation=">=")
    return Outcome(summary=f"{len(losses)} random problems on the ε grid {unit.params['eps']}",
                   checks=[Check.from_quantities("L_ε non-decreasing in ε", [step], key="monotone")])


def plot(ctx: Context, results) -> dict:
    (unit,) = plan(ctx)
    r = results[unit.key]
    fig = Figure(figsize=(5, 3.5))
    ax = fig.add_subplot()
    for row in r["losses"]:
        ax.plot(r["eps"], row, color="tab:blue", alpha=0.4)
    ax.set_xlabel("ε")
    ax.set_ylabel("L_ε(w)")
    return {"loss_by_eps": fig}


loss_monotone = claim("mine.adv-loss-monotone", where="folklore", tags=("theory",),
                      statement="The adversarial logistic loss grows with the budget ε.",
                      formula="ε1 <= ε2 ⇒ L_ε1(w) <= L_ε2(w)")(plan=plan, decide=decide, plot=plot)
