"""advland's claims, the engine that checks them, and the report and CLI.

Public API for user claim files::

    from advland.claims import claim, Context, Outcome, Check, Quantity, Verdict, search_counterexample
"""
from .model import Check, Claim, Context, Outcome, Quantity, Verdict, skipped
from .registry import claim
from .search import SearchResult, search_counterexample

__all__ = ["Check", "Claim", "Context", "Outcome", "Quantity", "Verdict", "skipped", "claim",
           "SearchResult", "search_counterexample"]
