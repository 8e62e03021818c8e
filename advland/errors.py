"""advland's exceptions, and what the command line does with each.

* ``UsageError`` — the user's input cannot be used: a bad option value, an unknown model, claim or selector,
  a broken claims or config file, a missing or corrupt data file or run folder. ``advland`` prints one line
  naming the value and exits with status 2. Engine modules raise their own subclasses (``ClaimError`` in
  ``advland.claims.registry``, ``DataError`` in ``advland.empirical.data``).
* Any other exception is a bug (ours, or a library's): exit status 1, the traceback written to a log file
  whose path the message gives.
* Ctrl-C: exit status 130.

Torch-free, so that every layer may import it.
"""
from __future__ import annotations


class AdvlandError(Exception):
    """Base class of advland's own exceptions."""


class UsageError(AdvlandError):
    """The user's input (an option, a file, a folder) cannot be used; the message names the value and why."""
