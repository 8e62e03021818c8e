"""Where claims come from: the built-in paper modules and user claim files, and selection among them.

A claim is declared in one of two forms (``model`` describes the stages)::

    @claim("mypaper.monotone", where="My et al. 2024, Lemma 1", statement="...", formula="...",
           tags=("theory", "mypaper"))
    def monotone(ctx: Context) -> Outcome: ...                      # simple form: one check function

    CLAIM = claim("mypaper.sharp", where=..., statement=..., formula=...)(plan=plan, decide=decide, plot=plot)

Either gives a ``Claim``; a module's claims are its ``Claim`` attributes. The built-in claims live one per file
in ``papers/<paper>/<claim>.py``.
"""
from __future__ import annotations

import fnmatch
import hashlib
import importlib
import importlib.util
import re
import sys
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from types import ModuleType

from advland.errors import UsageError

from .model import SCALES, Claim, Verdict

BUILTIN_MODULES = (   # relative to this package, in report order
    ".papers.liu2020.version_space", ".papers.liu2020.version_space_strict", ".papers.liu2020.version_space_threshold",
    ".papers.liu2020.bad_directions", ".papers.liu2020.smoothness", ".papers.liu2020.convergence",
    ".papers.liu2020.convergence_eps_zero", ".papers.liu2020.convergence_proof",
    ".papers.liu2020.gradients_nonvanishing", ".papers.liu2020.gradients_nonvanishing_at_kinks",
    ".papers.yamada2021.l2_sharpening", ".papers.yamada2021.fixed_w_eigenvalues",
    ".papers.yamada2021.orthogonal_curvature",
    ".papers.liu2020.escape_from_init", ".papers.liu2020.constant_eps_stalls", ".papers.liu2020.periodic_schedule",
    ".papers.liu2020.hessian_grows", ".papers.liu2020.perturbation_cosine", ".papers.liu2020.nonvanishing_gradient",
    ".papers.yamada2021.resnet_sharpening", ".papers.stutz2021.scale_invariance",
    ".papers.stutz2021.flatness_tracks_overfitting", ".papers.stutz2021.flatness_vs_gap",
    ".papers.wu2020.flatness_tracks_gap", ".papers.wu2020.awp_flatter_and_better",
)

_ID = re.compile(r"^[a-z][a-z0-9_]*\.[a-z0-9][a-z0-9_.-]*$")


class ClaimError(UsageError):
    """A claim file or selector that cannot be used; the message says why."""


def claim(id: str, *, where: str, statement: str, formula: str, tags=("theory",), source: str = "",
          corrects: str = "", expect=None):
    """Declare a claim: ``claim(...)(check)`` (or ``@claim(...)`` on ``check(ctx) -> Outcome``), or
    ``claim(...)(plan=..., decide=..., plot=...)`` for a claim in stages. ``source``: what the statement rests on,
    e.g. "abstract (verified text)" or "our reading: ..." (shown in the report). ``corrects``: the id of the claim
    whose statement, as written, this one corrects (``all_claims`` checks that it exists). ``expect``: the verdict
    the authors expect (``expectation``), e.g. "refuted" for a statement the suite shows false as written.

    An id is 'paperkey.name' in lower case: the paper key of lower-case letters, digits and '_', starting with a
    letter; after the dot, lower-case letters, digits, '.', '_' and '-' (ids select claims, glob patterns included,
    and name plot files, so one spelling per claim)."""
    if not isinstance(id, str) or not _ID.match(id):
        raise ClaimError(_id_error(id))
    if corrects and (corrects == id or not _ID.match(str(corrects))):
        raise ClaimError(f"claim {id!r}: corrects={corrects!r} must be the id of another claim")
    paper = id.split(".", 1)[0]
    tags = tuple(dict.fromkeys((*tags, paper)))
    expect = expectation(id, expect)

    def declare(check=None, *, plan=None, decide=None, plot=None) -> Claim:
        if check is not None:
            if plan is not None or decide is not None or plot is not None:
                raise ClaimError(f"claim {id!r}: give either a check function or plan/decide/plot, not both")
            return Claim(id, where, statement, formula, tags, plan=_no_units, decide=partial(_by_check, check),
                         source=source, corrects=corrects, expect=expect)
        if plan is None or decide is None:
            raise ClaimError(f"claim {id!r}: a claim in stages needs plan and decide (plot is optional)")
        return Claim(id, where, statement, formula, tags, plan=plan, decide=decide, plot=plot, source=source,
                     corrects=corrects, expect=expect)

    return declare


EXPECTABLE = tuple(v.value for v in Verdict if v is not Verdict.ERROR)


def expectation(id: str, expect) -> tuple[tuple[str, Verdict], ...]:
    """``expect=`` of a claim as (scale, verdict) pairs in scale order: None, no expectation; a verdict name, that
    verdict at every scale; a mapping {scale: verdict name}, those verdicts at the scales it names only (at the
    others the claim has no expectation). An error is never expected: it is a fault of the check, not a finding."""
    if expect is None:
        return ()
    by_scale = expect if isinstance(expect, Mapping) else dict.fromkeys(SCALES, expect)
    if not by_scale:
        raise ClaimError(f"claim {id!r}: expect={{}} names no scale; give a verdict name or {{scale: verdict}}")
    unknown = [s for s in by_scale if s not in SCALES]
    if unknown:
        raise ClaimError(f"claim {id!r}: expect names the scale {unknown[0]!r}; the scales are {', '.join(SCALES)}")
    for scale, verdict in by_scale.items():
        if verdict not in EXPECTABLE:
            where = f"expect[{scale!r}]" if isinstance(expect, Mapping) else "expect"
            raise ClaimError(f"claim {id!r}: {where} = {verdict!r} is not an expected verdict; give one of "
                             f"{', '.join(EXPECTABLE)}")
    return tuple((s, Verdict(by_scale[s])) for s in SCALES if s in by_scale)


def _id_error(id) -> str:
    """Why ``id`` is not a claim id, with the rule and, when lower-casing fixes it, the id to use."""
    message = (f"claim id {id!r} must look like 'paperkey.name' in lower case: the paper key of letters a-z, digits "
               "and '_' (starting with a letter), a dot, then letters a-z, digits, '.', '_' or '-', "
               "e.g. 'mine.adv-geq-clean'")
    if isinstance(id, str) and _ID.match(id.lower()):
        message += f"; did you mean {id.lower()!r}?"
    return message


def _no_units(ctx) -> list:
    return []


def _by_check(check, ctx, results):
    return check(ctx)


def claims_of(module: ModuleType) -> list[Claim]:
    return [v for v in vars(module).values() if isinstance(v, Claim)]


def load_claims_file(path: str | Path) -> list[Claim]:
    """Import a user's Python file and return the claims it declares."""
    path = Path(path)
    if not path.is_file():
        raise ClaimError(f"claims file {path} does not exist or is not a file")
    # a name fixed by the file's path (not Python's per-process string hash): the fingerprint of the unit kinds
    # the file declares includes the module name, and must be the same in every process
    name = f"advland_user_claims_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ClaimError(f"claims file {path} cannot be imported (is it a .py file?)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # the user's file is broken (or exits): say where, no traceback
        raise ClaimError(f"claims file {path} failed to import: {type(exc).__name__}: {exc}") from exc
    found = claims_of(module)
    if not found:
        raise ClaimError(f"claims file {path} declares no claim (decorate a check with @claim(...))")
    return found


def all_claims(extra_files=()) -> list[Claim]:
    """Built-in claims followed by those of the given files; ids must be unique, and a claim that corrects
    another names one of them."""
    found: list[Claim] = []
    for name in BUILTIN_MODULES:
        found.extend(claims_of(importlib.import_module(name, __package__)))
    for f in extra_files:
        found.extend(load_claims_file(f))
    seen: dict[str, Claim] = {}
    for c in found:
        if c.id in seen:
            raise ClaimError(f"claim id {c.id!r} is declared twice")
        seen[c.id] = c
    for c in found:
        if c.corrects and c.corrects not in seen:
            raise ClaimError(f"claim {c.id!r} corrects {c.corrects!r}, which is not a claim")
    return found


def select(claims: list[Claim], selectors) -> list[Claim]:
    """Claims matching any selector: an exact id, a glob over ids, or a tag. A selector that matches
    nothing is an error (a typo must not silently run zero claims)."""
    if not selectors:
        return list(claims)
    chosen: dict[str, Claim] = {}
    for sel in selectors:
        hits = [c for c in claims if c.id == sel or sel in c.tags or fnmatch.fnmatchcase(c.id, sel)]
        if not hits:
            known = ", ".join(sorted({t for c in claims for t in c.tags}))
            raise ClaimError(f"selector {sel!r} matches no claim id, glob or tag (tags: {known})")
        for c in hits:
            chosen.setdefault(c.id, c)
    return [c for c in claims if c.id in chosen]
