"""The assertion every falsifiability test makes: the engine refuted a deliberately false variant, and kept
the counterexample that decided it."""
from advland.claims.model import Check, Verdict


def assert_refuted(check: Check) -> Check:
    assert check.verdict is Verdict.REFUTED, check.as_dict()
    assert check.counterexample, check.as_dict()
    return check
