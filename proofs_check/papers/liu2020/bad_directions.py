"""liu2020.bad-directions: the set T_ε of bad directions and the threshold ε̄ (Liu et al. 2020, slides "Theoretical
Analysis: Linear Model": Definition (8) and the Theorem after it).

Math in theory/bad_directions.py and theory/multiclass.py; here the searches and programs (units), the verdicts
(decide) and the figure (plot). A search's random stream is named by its check's title.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from advland.seeding import numpy_rng
from advland.theory import bad_directions as bd
from advland.theory import multiclass as mc
from advland.theory.linear import dual_exponent

from ...figures import legend, panels
from ...model import Check, Context, Outcome, Quantity, Verdict, hypothesis_seed, unit_kind, unit_results
from ...registry import claim
from ...search import SearchResult, digit_arrays, search_counterexample
from ._common import INF, NORM_NAME, grid_case, grid_dim, program_check, program_status, spread, summary

CONFIGS = ((2, INF), (2, 2.0), (3, INF))  # exact g_ε along rays: K = 2 closed form, or ℓ∞ vertices
TOL = 1e-6  # slack allowed to the numerically measured one-sided slopes (their error is ~1e-9 here)
DELTA = 0.05  # ε̄ is tested at ε̄(1 ± δ)
CLASS_SHARES = (1 / 2, 1 / 3, 1 / 6)  # class sizes of the 3-class data set (unequal: see _data)
MAX_DRAWS = 100  # draws of the 3-class data set allowed to separate ε̄ from the class-mean radius
THRESHOLD_RULES = ("program", "class-mean radius")  # how the 3-class ε̄ is computed; the second is a false variant
PLOTTED = ("binary data, ℓ∞", "binary data, ℓ2", "3-class data, ℓ∞")  # the data-set settings in the figure
PLOTTED_LOSS = ("binary data, ℓ∞", "3-class data, ℓ∞")

# ---- titles (also the names of the searches' random streams) ----


def nesting_title(reverse: bool = False) -> str:
    return "Theorem: T_ε2 ⊆ T_ε1 for ε1 >= ε2" + (" [reversed variant]" if reverse else "")


def slopes_title(swap_norms: bool = False) -> str:
    return "one-sided slopes of the exact 1-D loss = Danskin formula" + (
        " [swapped-norm variant]" if swap_norms else "")


def everything_bad_title(factor: float = 1.0) -> str:
    return f"Theorem (literal): T_ε = ℝ^(m×K) at ε = {factor:g}·ε̄"


# ---- units ----

@unit_kind("liu2020.bad-directions.nesting", version="2")
def nesting_search(*, seed: int, max_dim: int, max_examples: int, reverse: bool = False) -> dict:
    """Theorem, part 1: T_ε2 ⊆ T_ε1 for ε1 >= ε2 (reverse=True claims T_ε shrinks, a false variant). Membership from
    the exact 1-D loss γ ↦ L_ε(γW): 0 is a minimizer iff φ'(0+) >= 0 >= φ'(0−), measured by difference quotients."""

    def slack(case):
        small, large = case["eps"]
        a, b = (large, small) if reverse else (small, large)
        args = (case["W"], case["X"], case["y"])
        if bd.bad_direction_margin(*args, a, case["p"]) < -TOL:
            return None  # vacuous: W is not in T_a
        return float(bd.bad_direction_margin(*args, b, case["p"]))

    return search_counterexample(grid_case(CONFIGS, max_dim=max_dim), slack,
                                 seed=hypothesis_seed(seed, nesting_title(reverse)), max_examples=max_examples,
                                 tolerance=TOL).as_dict()


@unit_kind("liu2020.bad-directions.slopes", version="2")
def slopes_search(*, seed: int, max_dim: int, max_examples: int, swap_norms: bool = False) -> dict:
    """The measured one-sided slopes of γ ↦ L_ε(γW) agree with the Danskin formula (1/(NK))Σ(v_nᵀx_n ± ε||v_n||_q)
    (swap_norms: the formula with the p-norm where the dual norm belongs, a false variant)."""

    def slack(case):
        W = case["W"] / max(np.linalg.norm(case["W"]), 1e-300)
        args = (W, case["X"], case["y"], case["eps"][0])
        p_formula = dual_exponent(case["p"]) if swap_norms else case["p"]
        measured, formula = bd.loss_slopes(*args, case["p"]), bd.danskin_slopes(*args, p_formula)
        return -max(abs(float(a) - float(b)) for a, b in zip(measured, formula))

    return search_counterexample(grid_case(CONFIGS, n_eps=1, max_dim=max_dim), slack,
                                 seed=hypothesis_seed(seed, slopes_title(swap_norms)), max_examples=max_examples,
                                 tolerance=TOL).as_dict()


def class_counts(n: int) -> np.ndarray:
    """The 3-class data set's class sizes, n·CLASS_SHARES rounded (the first class takes the rounding): unequal at
    every n >= 6, which the threshold checks need (see ``_data``)."""
    counts = np.round(np.asarray(CLASS_SHARES) * n).astype(int)
    counts[0] += n - counts.sum()
    return counts


def _data(seed: int, n: int):
    """One point x ∈ ℝ³, a binary data set (n, m=3) and a 3-class data set (n, m=3) with unequal classes, Gaussian.

    With equal classes ε̄ equals the Chebyshev radius of the class means (``theory.bad_directions.class_mean_radius``,
    the classic mistake for it), and no check could tell the two apart. The 3-class data are drawn (from the same
    stream) until the two differ by at least 2δ relative, so that a threshold at the radius fails a check: below ε̄
    the search for a direction outside T_ε and the minimal loss, above ε̄(1 + 2δ) the tightness at ε(1 − δ)."""
    rng = numpy_rng(seed, "liu2020.bad-directions/data")
    x = rng.normal(size=3)
    a = rng.normal(size=3)
    ypm = np.where(np.arange(n) % 2 == 0, 1, -1)
    Xb = 0.6 * ypm[:, None] * a / np.linalg.norm(a) + rng.normal(size=(n, 3))
    ym = np.repeat(np.arange(3), class_counts(n))
    for _ in range(MAX_DRAWS):
        Xm = 1.5 * rng.normal(size=(3, 3))[ym] + rng.normal(size=(n, 3))
        eps_bar, radius = bd.eps_bar_multiclass(Xm, ym, 3, INF), bd.class_mean_radius(Xm, ym, INF)
        if not (eps_bar.ok and radius.ok) or abs(radius.value - eps_bar.value) >= 2 * DELTA * eps_bar.value:
            break  # a failed program is reported by the settings' programs, which make the checks inconclusive
    else:
        raise RuntimeError(f"no 3-class data set in {MAX_DRAWS} draws whose ε̄ differs from the class-mean radius "
                           f"by {2 * DELTA:g} (seed {seed}, n {n})")
    return {"x": x, "binary": (Xb, ypm), "multiclass": (Xm, ym), "class-mean radius": radius.value,
            "3-class eps_bar": eps_bar.value}


@unit_kind("liu2020.bad-directions.closed-forms", version="2")
def closed_forms(*, seed: int, n: int, swap_norms: bool = False) -> dict:
    """ε̄ by the closed forms (||x||_p, ||mean y x||_p) and by the multiclass program on the same data (swap_norms:
    the closed forms with the dual norm, a false variant)."""
    data = _data(seed, n)
    x, (Xb, ypm) = data["x"], data["binary"]
    rows = []
    for p in (INF, 2.0):
        pc = dual_exponent(p) if swap_norms else p
        for label, X, y, K, closed in (
                ("one point, K=2", x[None], [1], 2, bd.eps_bar_point(x, pc)),
                ("one point, K=3", x[None], [0], 3, bd.eps_bar_point(x, pc)),
                ("binary data", Xb, mc.binary_labels(ypm), 2, bd.eps_bar_binary(Xb, ypm, pc)[0])):
            res = bd.eps_bar_multiclass(X, y, K, p)
            rows.append({"label": f"{label}, {NORM_NAME[p]}", "closed": closed, "program": res.value,
                         **program_status(res)})
    return {"rows": rows}


def _settings(data, swap_norms: bool, rule: str = "program") -> dict:
    """The six settings with ε̄ and a direction U* attaining it. With swap_norms ε̄ is computed for the dual threat
    norm (the 'wrong margin' variant); with rule 'class-mean radius' the 3-class data set's ε̄ is the Chebyshev radius
    of its class means (the classic mistake), U* still the program's direction."""
    if rule not in THRESHOLD_RULES:
        raise ValueError(f"rule must be one of {THRESHOLD_RULES}, got {rule!r}")
    x, (Xb, ypm), (Xm, ym) = data["x"], data["binary"], data["multiclass"]
    out = {}
    for p in (INF, 2.0):
        pt = dual_exponent(p) if swap_norms else p
        for label, X, y in ((f"one point, binary, {NORM_NAME[p]}", x[None, :], np.array([1])),
                            (f"binary data, {NORM_NAME[p]}", Xb, ypm)):
            value, w_star = bd.eps_bar_binary(X, y, pt)
            if label.startswith("one point"):
                value = bd.eps_bar_point(x, pt)
            out[label] = {"X": X, "y": mc.binary_labels(y), "K": 2, "p": p, "eps_bar": value,
                          "U": mc.binary_weights(w_star), "programs": []}
    for label, X, y in (("one point, 3 classes, ℓ∞", x[None, :], np.array([0])), ("3-class data, ℓ∞", Xm, ym)):
        pt = dual_exponent(INF) if swap_norms else INF
        res = bd.eps_bar_multiclass(X, y, 3, pt)
        value = bd.eps_bar_point(x, pt) if label.startswith("one point") else res.value
        programs = [program_status(res)]
        if rule == "class-mean radius" and not label.startswith("one point"):
            radius = bd.class_mean_radius(X, y, pt)
            value, programs = radius.value, [*programs, program_status(radius)]
        out[label] = {"X": X, "y": y, "K": 3, "p": INF, "eps_bar": value, "U": res.point, "programs": programs}
    return out


def _everything_bad(settings, seed: int, factor: float, max_examples: int) -> dict:
    """Search over directions U = c·U* + grid noise for one with τ_ε(U) < 0 at ε = factor·ε̄."""
    labels = list(settings)

    @st.composite
    def directions(draw):
        label = draw(st.sampled_from(labels))
        s = settings[label]
        noise = draw(digit_arrays(s["U"].shape))
        c = draw(st.sampled_from([1.0, 0.0, -1.0, 4.0]))
        return label, c * s["U"] / np.abs(s["U"]).max() + draw(st.sampled_from([0.0, 0.01, 0.1, 1.0])) * noise

    def slack(case):
        label, U = case
        s = settings[label]
        return float(bd.bad_direction_margin(U, s["X"], s["y"], factor * s["eps_bar"], s["p"]))

    return search_counterexample(directions(), slack, seed=hypothesis_seed(seed, everything_bad_title(factor)),
                                 max_examples=max_examples, tolerance=TOL).as_dict()


def _minimizers(settings, programs, factor: float) -> dict:
    """min_W L_ε at ε = factor·ε̄ and factor·ε̄(1 ± δ) (cvxpy, exact inner max) per setting: the values, the spread
    of the minimizer above ε̄, and below it τ_ε(U*) and the exact loss (numpy) at the program's minimizer."""
    out = {}
    for label, s in settings.items():
        e = factor * s["eps_bar"]
        at, up, lo = programs[label](e), programs[label](e * (1 + DELTA)), programs[label](e * (1 - DELTA))
        row = {"programs": [program_status(r) for r in (at, up, lo)], "log K": np.log(s["K"]),
               "solver below": lo.solver, "at box below": lo.at_box}
        if at.ok and up.ok and lo.ok:
            row.update({"at": at.value, "above": up.value, "spread above": spread(up.point),
                        "tau below": float(bd.bad_direction_margin(s["U"], s["X"], s["y"], e * (1 - DELTA), s["p"])),
                        "loss below": float(mc.adversarial_loss(lo.point, s["X"], s["y"], e * (1 - DELTA), s["p"]))})
        out[label] = row
    return out


def _curves(settings, programs, seed: int, n_many: int, n_few: int, n_coarse: int, n_grid: int) -> dict:
    """The figure's numbers: the fraction of random directions in T_ε against ε/ε̄, from the Danskin slopes for
    n_many directions and from the slopes measured on the exact loss for n_few; and min_W L_ε against ε/ε̄."""
    rng = numpy_rng(seed, "liu2020.bad-directions/plot")
    fine, coarse = np.linspace(0, 1.3, 131), np.linspace(0, 1.3, n_coarse)
    fractions = {}
    for label in PLOTTED:
        s = settings[label]
        args = (s["X"], s["y"])
        U = rng.normal(size=(n_many, *s["U"].shape))
        lin, at_1 = bd.danskin_slopes(U, *args, 0.0, s["p"])[1], bd.danskin_slopes(U, *args, 1.0, s["p"])[1]
        theta = np.abs(lin) / np.maximum(at_1 - lin, 1e-300)  # φ'(0±) = lin ± ε(at_1 − lin): U ∈ T_ε iff ε >= θ
        U = rng.normal(size=(n_few, *s["U"].shape))
        fractions[label] = {
            "danskin": [float(np.mean(theta <= r * s["eps_bar"])) for r in fine],
            "measured": [float(np.mean(bd.bad_direction_margin(U, *args, r * s["eps_bar"], s["p"]) >= -TOL))
                         for r in coarse]}
    losses = {}
    for label in PLOTTED_LOSS:
        s = settings[label]
        grid = np.linspace(0, 1.5, n_grid)
        values = [programs[label](r * s["eps_bar"]) for r in grid]
        losses[label] = {"ratio": grid, "min loss": [v.value if v.ok else np.nan for v in values],
                         "at box": [v.at_box for v in values], "K": s["K"]}
    return {"n_many": n_many, "n_few": n_few, "fine": fine, "coarse": coarse, "fractions": fractions,
            "min loss": losses}


@unit_kind("liu2020.bad-directions.threshold", version="2")
def threshold(*, seed: int, n: int, max_examples: int, n_many: int, n_few: int, n_coarse: int, n_grid: int,
              swap_norms: bool = False, factor: float = 1.0, rule: str = "program") -> dict:
    """ε̄ for the six settings (one point, binary data, 3-class data; ℓ∞ and ℓ2) and, when its programs are optimal,
    the evidence for the Theorem's literal pieces at ε = factor·ε̄: the search for a direction outside T_ε, the
    minimal exact adversarial loss and its minimizer, tightness just below, and the figure's curves (one sequence of
    solves per setting's min-loss program; a minimum on the program's box is flagged, an upper bound only). False
    variants: swap_norms (ε̄ for the dual norm), factor, rule='class-mean radius' (the classic mistake)."""
    data = _data(seed, n)
    settings = _settings(data, swap_norms, rule)
    out = {"settings": {label: {"eps_bar": s["eps_bar"], "programs": s["programs"]} for label, s in settings.items()},
           "class counts": class_counts(n).tolist(), "class-mean radius": data["class-mean radius"],
           "3-class eps_bar": data["3-class eps_bar"]}
    if any(not r["ok"] for s in settings.values() for r in s["programs"]):
        return out
    programs = {label: bd.min_loss_program(s["X"], s["y"], s["K"], s["p"]) for label, s in settings.items()}
    out["everything bad"] = _everything_bad(settings, seed, factor, max_examples)
    out["minimizers"] = _minimizers(settings, programs, factor)
    out["curves"] = _curves(settings, programs, seed, n_many, n_few, n_coarse, n_grid)
    return out


def units(ctx: Context, *, reverse_nesting: bool = False, threshold_factor: float = 1.0,
          swap_norms: bool = False, rule: str = "program") -> dict:
    """The claim's units by name (false variants of the whole claim as keywords)."""
    grid = dict(seed=ctx.seed, max_dim=grid_dim(ctx))
    n = ctx.pick(smoke=8, cpu=12)
    return {
        "nesting": nesting_search.unit(**grid, max_examples=ctx.pick(smoke=30, cpu=400), reverse=reverse_nesting),
        "slopes": slopes_search.unit(**grid, max_examples=ctx.pick(smoke=20, cpu=300)),
        "closed forms": closed_forms.unit(seed=ctx.seed, n=n),
        "threshold": threshold.unit(seed=ctx.seed, n=n, max_examples=ctx.pick(smoke=20, cpu=300),
                                    n_many=ctx.pick(smoke=1000, cpu=20000), n_few=ctx.pick(smoke=100, cpu=500),
                                    n_coarse=ctx.pick(smoke=6, cpu=14), n_grid=ctx.pick(smoke=4, cpu=13),
                                    swap_norms=swap_norms, factor=threshold_factor, rule=rule),
    }


def plan(ctx: Context, **variant) -> list:
    return list(units(ctx, **variant).values())


# ---- decide ----

def nesting_check(result, params) -> Check:
    return SearchResult.from_dict(result).to_check(
        nesting_title(params["reverse"]), key="theorem-nesting",
        note="slack = τ_ε(W) = min(φ'(0+), −φ'(0−)) at the budget that must contain W")


def slopes_check(result, params) -> Check:
    return SearchResult.from_dict(result).to_check(slopes_title(params["swap_norms"]), key="danskin-slopes")


def closed_forms_check(result, params) -> Check:
    quantities = [Quantity(f"{r['label']}: program − closed form", float(r["program"]) - r["closed"], bound=0.0,
                           relation="==", tolerance=1e-6 * (1 + r["closed"]),
                           note=f"closed form {r['closed']:.6g}; {r['solver']}: {r['status']}")
                  for r in result["rows"]]
    tag = " [swapped-norm variant]" if params["swap_norms"] else ""
    return program_check(f"ε̄: closed forms = the multiclass program{tag}", quantities, result["rows"],
                         key="eps-bar-closed-forms")


def everything_bad_check(result, params) -> Check:
    """Literal piece 'T_ε = ℝ^{m×K} for ε >= ε̄', at the boundary ε = factor·ε̄ (factor < 1: false variant)."""
    return SearchResult.from_dict(result["everything bad"]).to_check(
        everything_bad_title(params["factor"]), key="everything-bad",
        note="slack = τ_ε(U) = min(φ'(0+), −φ'(0−)) of the exact loss along U")


def minimizer_checks(result, params) -> list[Check]:
    """Literal piece '0 ∈ argmin_W g_ε(x, W)' at ε = factor·ε̄ and factor·ε̄(1+δ): the exact adversarial loss minimized
    by cvxpy stays at log K, the minimizer a constant classifier; and tightness at factor·ε̄(1−δ): U* ∉ T_ε and the
    minimum (re-evaluated in numpy at the program's point) is below log K.

    The programs minimize over a box (``theory.bad_directions.min_loss_program``). A boxed minimum is an upper bound
    on min L_ε, which is all the tightness needs (a point below log K); and a boxed minimum >= log K is attained at
    the interior point 0, which makes 0 a global minimizer, so the literal piece needs no more either. A minimum on
    the box is labelled as the bound it is."""
    above_q, below_q, programs = [], [], []
    for label, m in result["minimizers"].items():
        programs += [*m["programs"], *result["settings"][label]["programs"]]
        if "at" not in m:
            continue
        logk = m["log K"]
        bound_note = ("the program's minimizer lies on its box: an upper bound on min L_ε − log K, not its value; "
                      if m["at box below"] else "")
        above_q += [
            Quantity(f"{label}: min L_ε at ε = ε̄ − log K", m["at"] - logk, bound=0.0, relation=">=", tolerance=1e-6),
            Quantity(f"{label}: min L_ε at ε̄(1+δ) − log K", m["above"] - logk, bound=0.0, relation=">=",
                     tolerance=1e-6),
            Quantity(f"{label}: spread of the minimizer at ε̄(1+δ) (0 = constant classifier)", m["spread above"],
                     bound=0.0, relation="<=", tolerance=1e-4)]
        below_q += [
            Quantity(f"{label}: τ_ε(U*) at ε̄(1−δ) (< 0: U* ∉ T_ε)", m["tau below"], bound=-TOL, relation="<"),
            Quantity(f"{label}: exact L_ε at the program's minimizer at ε̄(1−δ) − log K"
                     + (" (upper bound: minimizer on the box)" if m["at box below"] else ""), m["loss below"] - logk,
                     bound=-1e-6, relation="<", note=f"{bound_note}{m['solver below']}")]
    factor = params["factor"]
    tag = (f" [ε̄ scaled by {factor:g}]" if factor != 1 else "") + (
        f" [3-class ε̄ by the {params['rule']}]" if params["rule"] != "program" else "")
    below_q.append(Quantity("3-class data: Chebyshev radius of the class means / ε̄ of the program",
                            result["class-mean radius"] / result["3-class eps_bar"],
                            note=f"class sizes {result['class counts']}: unequal, so the radius (the classic mistake "
                                 "for ε̄) is not ε̄"))
    return [program_check(f"Theorem (literal): 0 ∈ argmin_W L_ε at ε = ε̄ and ε̄(1+δ), δ={DELTA}{tag}", above_q,
                          programs, key="zero-minimizes"),
            program_check(f"ε̄ is tight: at ε̄(1−δ) U* ∉ T_ε and min L_ε < log K{tag}", below_q, programs,
                          key="eps-bar-tight")]


def decide(ctx: Context, results, *, reverse_nesting: bool = False, threshold_factor: float = 1.0,
           swap_norms: bool = False, rule: str = "program") -> Outcome:
    u = units(ctx, reverse_nesting=reverse_nesting, threshold_factor=threshold_factor, swap_norms=swap_norms,
              rule=rule)
    r = unit_results(u, results)
    found, params = r["threshold"], u["threshold"].params
    checks = [nesting_check(r["nesting"], u["nesting"].params), slopes_check(r["slopes"], u["slopes"].params),
              closed_forms_check(r["closed forms"], u["closed forms"].params)]
    failed = [f"{label}: {p['solver']}: {p['status']}" for label, s in found["settings"].items()
              for p in s["programs"] if not p["ok"]]
    if failed:
        checks.append(Check("Theorem (literal): T_ε = ℝ^(m×K) and 0 ∈ argmin_W L_ε for ε >= ε̄",
                            Verdict.INCONCLUSIVE, note=f"the ε̄ program did not reach 'optimal': {'; '.join(failed)}",
                            key="theorem-literal"))
    else:
        checks += [everything_bad_check(found, params), *minimizer_checks(found, params)]
    return Outcome(
        summary=summary(checks, {}) + (" Thresholds checked: ε̄ = ||x||_p (one point), ||mean_n y_n x_n||_p "
                                       "(binary data), a convex program (K classes)."),
        checks=checks,
        scale_note=(f"toy data (m = 3, N = 8 at smoke / 12 at cpu; 3-class sizes {found['class counts']}); 3-class "
                    "settings with the ℓ∞ threat only, where the exact loss is computable by vertex enumeration; the "
                    "statements are exact for linear models"),
        details={"eps_bar": {k: s["eps_bar"] for k, s in found["settings"].items()},
                 "class counts": found["class counts"], "class-mean radius": found["class-mean radius"],
                 "solvers": sorted({p["solver"] for s in found["settings"].values() for p in s["programs"]})},
    )


# ---- plot ----

def plot(ctx: Context, results, **variant) -> dict:
    """Fraction of random directions in T_ε, and min_W L_ε, against ε/ε̄ for the data-set settings (lines: from the
    Danskin slopes; markers: from the slopes measured on the exact loss; the two must coincide). No figure when
    the ε̄ programs failed."""
    found = unit_results(units(ctx, **variant), results)["threshold"]
    if "curves" not in found:
        return {}
    c, eps_bar = found["curves"], {label: s["eps_bar"] for label, s in found["settings"].items()}
    fig, (ax_t, ax_l) = panels(
        (f"T_ε grows to everything at ε̄ (lines: Danskin, {c['n_many']} dirs;\n"
         f"dots: slopes measured on the exact loss, {c['n_few']} dirs)", "ε / ε̄", "fraction of random directions in T_ε"),
        ("the minimal adversarial loss reaches log K at ε̄\n"
         "(minimum over the box |W_jk| ≤ 5/max_n||x_n||_1; hollow: on the box)", "ε / ε̄",
         "min_W L_ε(W)  (cvxpy, exact inner max)"),
        suptitle="Liu et al. 2020: for ε ≥ ε̄ every direction is bad and W = 0 minimizes the adversarial loss",
        size=(11, 4))
    for label in PLOTTED:
        f = c["fractions"][label]
        line, = ax_t.plot(c["fine"], f["danskin"], label=f"{label} (ε̄ = {eps_bar[label]:.3f})")
        ax_t.plot(c["coarse"], f["measured"], "o", color=line.get_color(), ms=4)
    for label in PLOTTED_LOSS:
        m = c["min loss"][label]
        ratio, loss, boxed = (np.asarray(m[k], dtype=float) for k in ("ratio", "min loss", "at box"))
        line, = ax_l.plot(ratio, loss, marker="o", label=f"min L_ε, {label}")
        if boxed.any():
            ax_l.plot(ratio[boxed > 0], loss[boxed > 0], "o", mfc="white", color=line.get_color(),
                      label=f"{label}: minimum on the box (an upper bound)")
        ax_l.axhline(np.log(m["K"]), color=line.get_color(), ls=":", label=f"log {m['K']}")
    for ax in (ax_t, ax_l):
        ax.axvline(1.0, color="k", ls="--", label="ε = ε̄")
    legend(ax_t, ax_l, fontsize=8)
    return {"liu2020_bad_directions": fig}


CLAIM = claim(
    "liu2020.bad-directions",
    where="Liu et al. 2020, Definition (8) and the Theorem after it (slides, Theoretical Analysis: Linear Model)",
    statement="T_ε = {W | 0 ∈ argmin_γ g_ε(x, γW)}: T_ε2 ⊆ T_ε1 when ε1 ≥ ε2; ∃ε̄ such that ∀ε ≥ ε̄, "
              "T_ε = R^{m×K}; in this case 0 ∈ argmin_W g_ε(x, W)",
    formula="ε̄ = sup_W (−Σ_n v_nᵀx_n) / Σ_n ||v_n||_q, v_n = Σ_j w_j − K w_{y_n}; ε̄ = ||x||_p (one point), "
            "||(1/N)Σ_n y_n x_n||_p (binary)",
    tags=("theory", "linear"),
    source="slides, 'Theoretical Analysis: Linear Model': Definition (8) and the Theorem after it (verified text); "
           "the formulas for ε̄ are our derivation, checked against each other",
    expect="confirmed",
)(plan=plan, decide=decide, plot=plot)
