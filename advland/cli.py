"""The ``advland`` command line.

    advland list [--json] [--claims FILE]
    advland show ID [--claims FILE]
    advland verify [--only SELECTOR ...] [--scale smoke|cpu|gpu|paper] [--claims FILE] [--out DIR] [--seed N]
                   [--data-dir DIR] [--fail-on-refuted] [--no-progress]
    advland train ... | advland eval ... | advland measure ...      (empirical engine; see --help of each)

Exit status: 0 when every selected claim reached a verdict other than ``error``; 1 when at least one claim
ended in ``error`` (or, with --fail-on-refuted, was refuted); 2 for a usage error (bad option, unknown
selector or claim id, unreadable or broken claims file).
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys

from .claims.model import SCALES, Context, Verdict
from .claims.registry import ClaimError, all_claims, select

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EMPIRICAL_COMMANDS = ("advland.train_commands", "advland.measure_commands")


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="advland", description=__doc__.split("\n\n")[0],
                                     epilog="Exit status: 0 ok; 1 a claim ended in error (or refuted, with "
                                            "--fail-on-refuted); 2 usage error.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="list the claims")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--claims", action="append", default=[], metavar="FILE", help="also load claims from FILE")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="show one claim's statement")
    p.add_argument("id")
    p.add_argument("--claims", action="append", default=[], metavar="FILE")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("verify", help="check claims and write the consistency report")
    p.add_argument("--only", nargs="+", action="extend", default=[], metavar="SELECTOR",
                   help="claim id, glob (liu2020.*) or tag (theory, empirical, a paper key); default: all")
    p.add_argument("--scale", choices=SCALES, default="cpu",
                   help="experiment size (default cpu: minutes on a 2-core machine)")
    p.add_argument("--claims", action="append", default=[], metavar="FILE",
                   help="a Python file declaring claims with @proofs_check.claim (repeatable)")
    p.add_argument("--out", default="advland-report", metavar="DIR", help="report folder (default ./advland-report)")
    p.add_argument("--seed", type=_non_negative_int, default=0, help="master seed (default 0)")
    p.add_argument("--data-dir", default=None, help="data folder (default: $ADVLAND_DATA, then ~/.cache/advland/data)")
    p.add_argument("--fail-on-refuted", action="store_true", help="exit 1 when a claim is refuted (for CI gates)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_verify)

    for name in EMPIRICAL_COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def cmd_list(args) -> int:
    claims = all_claims(args.claims)
    if args.json:
        print(json.dumps([c.describe() for c in claims], indent=2, ensure_ascii=False))
    else:
        width = max(len(c.id) for c in claims)
        for c in claims:
            print(f"{c.id:<{width}}  [{', '.join(c.tags)}]  {c.where}")
    return EXIT_OK


def cmd_show(args) -> int:
    claims = {c.id: c for c in all_claims(args.claims)}
    if args.id not in claims:
        raise ClaimError(f"unknown claim {args.id!r}; `advland list` shows the ids")
    d = claims[args.id].describe()
    print(f"{d['id']}  ({d['where']})\ntags: {', '.join(d['tags'])}\n\n{d['statement']}\n\n    {d['formula']}")
    return EXIT_OK


def cmd_verify(args) -> int:
    from tqdm import tqdm

    from advland.environment import environment
    from .claims.report import write_report
    from .claims.runner import run_claims

    chosen = select(all_claims(args.claims), args.only)
    data_dir = args.data_dir or os.environ.get("ADVLAND_DATA")
    ctx = Context(seed=args.seed, scale=args.scale, data_dir=data_dir)
    env = environment(args.seed, scale=args.scale, data_dir=data_dir)
    bar = tqdm(total=len(chosen), unit="claim", disable=True if args.no_progress else None, file=sys.stderr)

    def progress(r) -> None:
        bar.update()
        tqdm.write(f"{r.verdict.value:>12}  {r.claim.id}  ({r.seconds:.1f} s)  {r.outcome.summary[:160]}")

    results = run_claims(chosen, ctx, on_result=progress)
    bar.close()
    paths = write_report(results, env, args.out)
    print(f"report: {paths['html']}  {paths['json']}  {paths['markdown']}")
    failing = {Verdict.ERROR} | ({Verdict.REFUTED} if args.fail_on_refuted else set())
    return EXIT_FAILED if any(r.verdict in failing for r in results) else EXIT_OK


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ClaimError as exc:
        print(f"advland: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
