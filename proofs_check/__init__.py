"""advland's claims, the engine that checks them, and the report and CLI.

Public API for user claim files::

    from advland.claims import claim, Context, Outcome, Check, Quantity, Verdict, search_counterexample
    from advland.claims import Unit, unit_kind          # claims in stages: plan -> units -> decide -> plot
    from advland.claims import digit_arrays             # integer-coded arrays: strategies that shrink fast
"""
from .model import Check, Claim, Context, Outcome, Quantity, Unit, Verdict, skipped, unit_kind
from .registry import claim
from .search import SearchError, SearchResult, digit_arrays, search_counterexample

__all__ = ["Check", "Claim", "Context", "Outcome", "Quantity", "Unit", "Verdict", "skipped", "unit_kind", "claim",
           "SearchError", "SearchResult", "digit_arrays", "search_counterexample"]
