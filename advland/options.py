"""Options declared once, on the fields of a dataclass; the command line and config files are built from them.

``option(default, help, ...)`` returns a dataclass field whose metadata says how a user sets it:

* ``choices`` (the allowed values) and ``minimum`` (the smallest allowed number), checked by ``check_value``
  whether the value comes from a flag, a config file or Python;
* ``flag``: the command-line spelling (default ``--field-name``); ``aliases``: older spellings, accepted
  and not shown;
* ``required``: must be given (on the command line, or for ``train`` in its config file);
* ``nargs``: the number of values of a list field (default: one or more);
* ``settable=False``: derived from other fields (``TrainConfig.num_classes``); neither a flag nor a key.

``add_options(parser, cls)`` adds one option per settable field; an option the user did not give is absent
from the namespace (``given``), so that the values of a config file (``read_config``) sit between the
dataclass defaults and the flags.

The options shared by several commands are declared once, below, and mean the same everywhere:
``--subset``, ``--seed``, ``--device``, ``--data-dir``, ``--batch-size``, ``--bn-mode``, ``--steps``,
``--overwrite``.
Torch-free: ``resolve_device`` imports torch only when asked about a GPU.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import typing
from pathlib import Path

from advland.empirical.names import BN_MODES
from advland.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEVICES = ("auto", "cpu", "cuda")
SUBSET_HELP = ("use N examples of the split read, class-balanced (N // K per class, the lowest labels one more) "
               "and drawn with --seed; a larger N keeps the examples of a smaller one")


def option(default, help: str, *, choices=None, minimum=None, flag=None, aliases=(), required=False,
           nargs=None, metavar=None, settable=True) -> dataclasses.Field:
    """A dataclass field carrying how the user sets it (see the module docstring)."""
    meta = {"help": help, "choices": tuple(choices) if choices is not None else None, "minimum": minimum,
            "flag": flag, "aliases": tuple(aliases), "required": required, "nargs": nargs, "metavar": metavar,
            "settable": settable}
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


# ------------------------------------------------------------------ the shared vocabulary

def subset_option(default: int | None, split: str) -> dataclasses.Field:
    return option(default, f"{SUBSET_HELP} (here: of {split}; default: {default or 'all'})", minimum=1, metavar="N")


def seed_option() -> dataclasses.Field:
    return option(0, "master seed of every random draw", minimum=0, metavar="N")


def device_option(default: str = "cpu") -> dataclasses.Field:
    return option(default, "auto: cuda when torch sees a GPU, else cpu; cuda without a GPU is an error",
                  choices=DEVICES)


def data_dir_option(fallback: str = "$ADVLAND_DATA, then ~/.cache/advland/data") -> dataclasses.Field:
    return option(None, f"data folder (default: {fallback})", metavar="DIR")


def batch_size_option(default: int) -> dataclasses.Field:
    return option(default, "examples per forward/backward pass", minimum=1, metavar="N")


def bn_mode_option(what: str, **kw) -> dataclasses.Field:
    return option("eval", f"BatchNorm mode of {what}", choices=BN_MODES, **kw)


def steps_option(default: int | None, what: str, default_text: str | None = None, **kw) -> dataclasses.Field:
    text = f"iterations of {what}" + (f" (default: {default_text})" if default_text else "")
    return option(default, text, minimum=1, metavar="N", **kw)


def overwrite_option(help: str) -> dataclasses.Field:
    """``--overwrite``: the one option that lets a command replace what advland did not write (``advland.outputs``)."""
    return option(False, help)


def resolve_device(device: str) -> str:
    """'cpu' or 'cuda': 'auto' is cuda when torch sees a GPU, else cpu; 'cuda' without a GPU is a UsageError
    (never a silent CPU run). Imports torch unless the answer is 'cpu' by request."""
    if device not in DEVICES:
        raise UsageError(f"--device must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "cpu":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if device == "auto":
        return "cpu"
    raise UsageError(f"--device cuda: torch {torch.__version__} sees no CUDA GPU on this machine "
                     "(use --device cpu or auto)")


# ------------------------------------------------------------------ fields, values and checks

def settable_fields(cls) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if f.metadata.get("settable", False)]


def flag_of(f: dataclasses.Field) -> str:
    return f.metadata["flag"] or "--" + f.name.replace("_", "-")


def _kind(hint) -> tuple[type, bool, bool]:
    """(element type, is a list, may be None) of a field's annotation."""
    args = typing.get_args(hint)
    optional = type(None) in args
    if optional:
        hint = next(a for a in args if a is not type(None))
    if typing.get_origin(hint) in (list, tuple):
        return typing.get_args(hint)[0], True, optional
    return hint, False, optional


def hints(cls) -> dict:
    return typing.get_type_hints(cls)


def _scalar(f: dataclasses.Field, base: type, value):
    if base is bool:
        ok = isinstance(value, bool)
    elif base is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif base is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, base)
    if not ok:
        kind = {bool: "true or false", int: "an integer", float: "a finite number"}.get(base, f"a {base.__name__}")
        raise ValueError(f"must be {kind}, got {value!r}")
    choices, minimum = f.metadata.get("choices"), f.metadata.get("minimum")
    if choices is not None and value not in choices:
        raise ValueError(f"must be one of {', '.join(map(str, choices))}, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"must be >= {minimum}, got {value!r}")
    return value


def check_value(f: dataclasses.Field, hint, value):
    """The value of field ``f`` (annotation ``hint``) checked against its type, choices and minimum; numbers
    become float where the field is a float, lists become lists. Raises ValueError saying what is wrong."""
    base, many, optional = _kind(hint)
    if value is None:
        if optional:
            return None
        raise ValueError("must be given")
    if not many:
        return _scalar(f, base, value)
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"must be a non-empty list, got {value!r}")
    nargs = f.metadata.get("nargs")
    if isinstance(nargs, int) and len(value) != nargs:
        raise ValueError(f"must have {nargs} values, got {list(value)!r}")
    return [_scalar(f, base, v) for v in value]


def check_fields(obj, skip=()) -> None:
    """Every settable field of a dataclass instance but ``skip`` checked by ``check_value``; ValueError naming
    the field."""
    types = hints(type(obj))
    for f in settable_fields(type(obj)):
        if f.name in skip:
            continue
        try:
            check_value(f, types[f.name], getattr(obj, f.name))
        except ValueError as err:
            raise ValueError(f"{f.name} {err}") from None


# ------------------------------------------------------------------ argparse

def _from_text(f: dataclasses.Field, base: type):
    """argparse ``type``: the text of one value, converted and checked."""
    def parse(text: str):
        try:
            value = base(text)
        except ValueError:
            value = text
        try:
            return _scalar(f, base, value)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    parse.__name__ = base.__name__
    return parse


def _help(f: dataclasses.Field) -> str:
    text = f.metadata["help"]
    default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
    if not (f.metadata["required"] or default is None or default is False or default == []) and "default" not in text:
        text += f" (default: {' '.join(map(str, default)) if isinstance(default, (list, tuple)) else default})"
    return text.replace("%", "%%")


def add_options(parser, cls, *, config_file: bool = False) -> None:
    """One option per settable field of ``cls`` (see the module docstring). With ``config_file`` the values may
    also come from a config file: required fields are checked after merging it (``require``), and every
    yes/no field has a ``--no-`` form to override the file."""
    types = hints(cls)
    for f in settable_fields(cls):
        base, many, _ = _kind(types[f.name])
        kw = {"dest": f.name, "default": argparse.SUPPRESS, "help": _help(f)}
        if f.metadata["required"] and config_file:
            kw["help"] += " (required, here or in the config file)"
        if base is bool and not many:
            kw["action"] = argparse.BooleanOptionalAction if config_file or f.default is not False else "store_true"
        else:
            choices = f.metadata["choices"]
            kw["type"], kw["choices"] = _from_text(f, base), choices
            kw["metavar"] = f.metadata["metavar"] or ("|".join(map(str, choices)) if choices else f.name.upper())
            if many:
                kw["nargs"] = f.metadata["nargs"] or "+"
                if base is str:
                    kw["action"] = "extend"
        action = parser.add_argument(flag_of(f), required=f.metadata["required"] and not config_file, **kw)
        action.needed = f.metadata["required"]   # for usage summaries: required, on the line or in the file
        for alias in f.metadata["aliases"]:
            parser.add_argument(alias, **{**kw, "help": argparse.SUPPRESS})


def given(args: argparse.Namespace, cls) -> dict:
    """The settable fields of ``cls`` the user gave on the command line."""
    return {f.name: getattr(args, f.name) for f in settable_fields(cls) if hasattr(args, f.name)}


def require(cls, values: dict, where: str) -> None:
    """UsageError naming the first required field of ``cls`` missing from ``values``."""
    for f in settable_fields(cls):
        if f.metadata["required"] and f.name not in values:
            raise UsageError(f"{flag_of(f)} is required ({where})")


def from_args(args: argparse.Namespace, cls):
    """An instance of ``cls``: its defaults, overridden by the options given."""
    return cls(**given(args, cls))


# ------------------------------------------------------------------ config files

def read_config(path, cls) -> dict:
    """The values of a TOML config file for ``cls``: one ``key = value`` per setting, keys being the field
    names (as in a run's config.json). UsageError naming the file and the key for an unknown or derived key,
    a value of the wrong type or out of range, or a file that cannot be read or is not TOML."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise UsageError(f"config file {path}: {err.strerror or err}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise UsageError(f"config file {path} is not valid TOML: {err}") from None
    fields = {f.name: f for f in dataclasses.fields(cls)}
    settable = {f.name for f in settable_fields(cls)}
    flags = {spelling: f.name for f in settable_fields(cls) for spelling in (flag_of(f), *f.metadata["aliases"])}
    types = hints(cls)
    values = {}
    for key, value in data.items():
        if key not in fields:
            spelled = flags.get("--" + key.replace("_", "-"))
            hint = f" (the option --{key.replace('_', '-')} is the key {spelled!r})" if spelled else ""
            raise UsageError(f"config file {path}: unknown key {key!r}{hint}; the keys are {', '.join(sorted(settable))}")
        if key not in settable:
            raise UsageError(f"config file {path}: key {key!r} is derived ({fields[key].metadata['help']}) and "
                             "cannot be set")
        try:
            values[key] = check_value(fields[key], types[key], value)
        except ValueError as err:
            raise UsageError(f"config file {path}: {key} {err}") from None
    return values
