"""Units: the computations a claim needs, identified by what they compute.

A unit is a registered kind (``unit_kind``), its fully resolved parameters and the kind's version; its key is a hash
of those, so equal computations share one key (and one row of the results store). Kept apart from the claim model
so that the code that computes units (and with it the fingerprint stored beside their numbers) does not include
verdicts, reports or claim bookkeeping.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping

from advland.io import dumps, to_jsonable

_KIND = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z0-9][a-z0-9_-]*)+$")


@dataclass(frozen=True)
class Unit:
    """One computation: a registered kind, its parameters (JSON values, every default filled in: build units with
    ``UnitKind.unit``) and the kind's version. ``key`` identifies the numbers it yields: the first 16 hex digits of
    the sha256 of the canonical JSON (``advland.io`` rule, sorted keys) of {kind, params, version}."""

    kind: str
    params: Mapping[str, Any]
    version: str = "1"
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if not isinstance(self.kind, str) or not _KIND.match(self.kind):
            raise ValueError(f"unit kind {self.kind!r} must look like 'paperkey.name' (lower case, dotted)")
        if not isinstance(self.version, str) or not self.version:
            raise ValueError(f"unit version must be a non-empty string, got {self.version!r}")
        if not isinstance(self.params, Mapping):
            raise ValueError(f"unit params must be a mapping, got {type(self.params).__name__}")
        try:
            canonical = json.loads(dumps(dict(self.params)))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"params of unit {self.kind!r} are not JSON values: {exc}") from None
        object.__setattr__(self, "params", MappingProxyType(canonical))
        text = dumps({"kind": self.kind, "params": canonical, "version": self.version}, indent=None, sort_keys=True)
        object.__setattr__(self, "key", hashlib.sha256(text.encode("utf-8")).hexdigest()[:16])

    def __hash__(self) -> int:
        return hash(self.key)

    def with_params(self, **changes) -> "Unit":
        """The same unit with some parameters changed (e.g. a deliberately false variant); names must exist."""
        unknown = sorted(set(changes) - set(self.params))
        if unknown:
            raise ValueError(f"unit {self.kind!r} has no parameter {', '.join(unknown)}; "
                             f"it has {', '.join(self.params)}")
        return Unit(self.kind, {**self.params, **changes}, self.version)

    def describe(self) -> dict:
        return {"kind": self.kind, "version": self.version, "key": self.key, "params": to_jsonable(self.params)}


@dataclass(frozen=True)
class UnitKind:
    """A registered computation ``fn(**params) -> dict`` (JSON numbers only; a pure function of its params)."""

    name: str
    fn: Callable[..., dict]
    version: str = "1"

    def unit(self, **params) -> Unit:
        """A unit of this kind: every parameter of ``fn`` given or defaulted, unknown names rejected."""
        try:
            bound = inspect.signature(self.fn).bind(**params)
        except TypeError as exc:
            raise ValueError(f"unit kind {self.name!r}: {exc}") from None
        bound.apply_defaults()
        return Unit(self.name, bound.arguments, self.version)

    def compute(self, params: Mapping[str, Any]) -> dict:
        """The numbers for these params (given as a fresh copy, so ``fn`` cannot alter a unit)."""
        return self.fn(**json.loads(dumps(dict(params))))


_UNIT_KINDS: dict[str, UnitKind] = {}


def unit_kind(name: str, *, version: str = "1"):
    """Decorator registering ``fn(*, param=default, ...) -> dict`` as the unit kind ``name``; returns the
    ``UnitKind`` (``.unit(**params)`` builds units, ``.compute(params)`` runs ``fn``). Bump ``version`` when the
    numbers the function returns for the same params change."""
    if not _KIND.match(name):
        raise ValueError(f"unit kind {name!r} must look like 'paperkey.name' (lower case, dotted)")

    def register(fn) -> UnitKind:
        bad = [p.name for p in inspect.signature(fn).parameters.values()
               if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY)]
        if bad:
            raise ValueError(f"unit kind {name!r}: parameters must be named ({', '.join(bad)} is not)")
        old = _UNIT_KINDS.get(name)
        if old is not None and not _same_definition(old.fn, fn):
            raise ValueError(f"unit kind {name!r} is registered twice ({old.fn.__module__} and {fn.__module__})")
        _UNIT_KINDS[name] = UnitKind(name, fn, version)
        return _UNIT_KINDS[name]

    return register


def _same_definition(a, b) -> bool:
    """Whether two functions are one definition loaded twice (a module or claims file imported again)."""
    if a.__qualname__ != b.__qualname__:
        return False
    if a.__module__ == b.__module__:
        return True
    try:
        return inspect.getsource(a) == inspect.getsource(b)
    except (OSError, TypeError):
        return False


def kind_of(unit: Unit) -> UnitKind:
    """The registered kind that computes ``unit`` (its module must have been imported)."""
    kind = _UNIT_KINDS.get(unit.kind)
    if kind is None:
        raise KeyError(f"no unit kind {unit.kind!r} is registered (is the module declaring it imported?)")
    if kind.version != unit.version:
        raise KeyError(f"unit kind {unit.kind!r} is at version {kind.version}, the unit asks for {unit.version}")
    return kind


def unit_results(units: Mapping[str, Unit], results: Mapping[str, Mapping]) -> dict[str, Mapping]:
    """``{name: results[unit.key]}`` for a claim's named units."""
    missing = [name for name, u in units.items() if u.key not in results]
    if missing:
        raise KeyError(f"no results for the units {', '.join(missing)}")
    return {name: results[u.key] for name, u in units.items()}
