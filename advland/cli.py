"""The ``advland`` command line: one parser for list, show, verify, train, eval, measure and data.

The options of train, eval, measure and verify are generated from dataclasses (``advland.options``):
``TrainConfig`` (``advland.empirical.train.config``), ``EvalOptions``, the ``MeasureOptions`` of each kind and
``VerifyOptions`` with the executor's ``ClusterOptions`` (``advland.claims.jobs.executors``); ``synopsis()``
writes the README's command summary from this parser.

Exit status: 0 ok; 1 a claim ended in error (or was refuted, with --fail-on-refuted), a training run diverged,
a measurement holds NaN/inf, data check found a file missing or corrupt, or advland failed (a bug: the
traceback is written to a log file and the message says where); 2 a usage error (``advland.errors.UsageError``:
a bad option value, an unknown claim or selector, a broken claims or config file, a missing or corrupt data file
or run folder, an --out that holds what advland did not write), in one line naming the value; 130 interrupted
(Ctrl-C); 141 the reader of the output went away (``advland list --json | head``), silently.

Nothing is written into the current folder unless an option names it: hypothesis keeps its cache under the
user cache folder (``user_cache``), not in ``./.hypothesis``.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import sys
import textwrap
import time
import traceback
from pathlib import Path

from .claims.model import Context, Verdict
from .claims.jobs.executors import ClusterOptions, cluster_options, worker_device
from .claims.jobs.store import STATUSES
from .claims.registry import ClaimError, all_claims, select
from .data_commands import DataOptions, data_handler
from .empirical.train.config import TrainConfig
from .errors import UsageError
from .measure_commands import KINDS, handle as measure_handler
from .options import add_options, from_args, given, option
from .train_commands import EvalOptions, TrainOutOptions, eval_handler, train_handler
from .verify_options import ClaimsOptions, VerifyOptions

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_PIPE = 0, 1, 2, 130, 141


@dataclasses.dataclass(kw_only=True)
class ListOptions(ClaimsOptions):
    json: bool = option(False, "machine-readable output")


@dataclasses.dataclass(kw_only=True)
class PlanOptions:
    plan: bool = option(False, "print the units the selection needs, which of them the store holds and the "
                               "estimated cost of each at the scale; compute nothing")


@dataclasses.dataclass(kw_only=True)
class RunsOptions:
    store: str | None = option(None, "results store (default $ADVLAND_STORE, then ~/.cache/advland/store.sqlite)",
                               metavar="FILE")
    units_dir: str | None = option(None, "the units' folders (default: STORE-units/ beside the store)", metavar="DIR")
    status: str | None = option(None, "only units with this status", choices=STATUSES)
    prune: str | None = option(None, "forget the units with this status (all: every unit) and their folders",
                               choices=(*STATUSES, "all"))
    json: bool = option(False, "machine-readable output")


def build_parser() -> argparse.ArgumentParser:
    """The one parser of every command; no torch import."""
    parser = argparse.ArgumentParser(prog="advland", description=__doc__.split("\n\n")[0],
                                     epilog="Exit status: 0 ok; 1 failed (a claim in error, a run diverged, "
                                            "a bug: see the log named); 2 usage error; 130 interrupted.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="list the claims")
    add_options(p, ListOptions)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="show one claim's statement")
    p.add_argument("id", metavar="ID", help="claim id (advland list shows them)")
    add_options(p, ClaimsOptions)
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("verify", help="check claims and write the consistency report")
    add_options(p, VerifyOptions)
    add_options(p, ClusterOptions)
    p.add_argument("--cluster-config", metavar="FILE", help="TOML file of the executor's settings (keys: the option "
                   "names with underscores, e.g. slurm_partition = \"gpu\"); the options override it")
    add_options(p, PlanOptions)
    p.set_defaults(func=cmd_verify)   # a log in the report folder would make it one advland did not write

    p = sub.add_parser("report", help="rebuild the report from the results store, computing nothing")
    add_options(p, VerifyOptions)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("runs", help="list (or prune) the units of work in the results store")
    add_options(p, RunsOptions)
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("train", help="adversarially train a model; writes checkpoint, config and metrics",
                       description="Options override the values of --config FILE, which override the defaults; "
                                   "the file's keys are the fields of the run's config.json.")
    p.add_argument("--config", metavar="FILE", help="TOML file of settings (e.g. configs/mnist-lenet4-at.toml)")
    add_options(p, TrainConfig, config_file=True)
    p.add_argument("--liu-mnist-attack", action="store_true",
                   help="PGD of Liu et al. on MNIST: step 0.01, eps/0.01 + 10 steps (overrides --steps, --step-size)")
    add_options(p, TrainOutOptions)
    p.set_defaults(func=train_handler, folder="out",
                   interrupted="run the same command again to resume from the last finished epoch")

    p = sub.add_parser("eval", help="robust accuracy of a trained run; writes RUN/eval-ATTACK-SETTING.json")
    add_options(p, EvalOptions)
    p.set_defaults(func=eval_handler, folder="run", options=EvalOptions)

    p = sub.add_parser("measure", help="landscape measurements on a training run")
    kinds = p.add_subparsers(dest="measure", required=True, metavar="KIND")
    for name, cls in KINDS.items():
        k = kinds.add_parser(name, help=cls.__doc__)
        add_options(k, cls)
        k.set_defaults(func=measure_handler, folder="run", options=cls)

    p = sub.add_parser("data", help="check or fetch the data sets (checksums verified)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in (("check", "say which data files are present and valid, and where each missing one goes"),
                       ("fetch", "download the missing data files from the public mirrors, verified")):
        k = actions.add_parser(name, help=text)
        add_options(k, DataOptions)
        k.set_defaults(func=data_handler)
    return parser


def cmd_list(args) -> int:
    opts = from_args(args, ListOptions)
    claims = all_claims(opts.claims)
    if opts.json:
        print(json.dumps([c.describe() for c in claims], indent=2, ensure_ascii=False))
    else:
        width = max(len(c.id) for c in claims)
        for c in claims:
            print(f"{c.id:<{width}}  [{', '.join(c.tags)}]  {c.where}")
    return EXIT_OK


def cmd_show(args) -> int:
    claims = {c.id: c for c in all_claims(from_args(args, ClaimsOptions).claims)}
    if args.id not in claims:
        raise ClaimError(f"unknown claim {args.id!r}; `advland list` shows the ids")
    d = claims[args.id].describe()
    print(f"{d['id']}  ({d['where']})\ntags: {', '.join(d['tags'])}\n\n{d['statement']}\n\n    {d['formula']}")
    return EXIT_OK


def verify_device(device: str, scale: str, cluster: ClusterOptions | None = None) -> str:
    """The device units compute on: this machine's, or the workers' with --executor slurm or ray
    (``executors.worker_device``); the gpu and paper scales need CUDA there (never a silent CPU run)."""
    return worker_device(cluster or ClusterOptions(), device, scale)


def user_cache() -> Path:
    """advland's cache folder: ``$XDG_CACHE_HOME/advland``, default ``~/.cache/advland``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "advland"


def keep_hypothesis_out_of_the_current_folder() -> None:
    """Hypothesis caches what it learns from source files in ``./.hypothesis`` unless told otherwise; the
    counterexample searches keep no example database (``database=None``), and this moves that cache to the user
    cache folder, unless $HYPOTHESIS_STORAGE_DIRECTORY chooses a place."""
    from hypothesis.configuration import set_hypothesis_home_dir

    if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        set_hypothesis_home_dir(user_cache() / "hypothesis")


def cmd_report(args) -> int:
    """The report of ``verify`` from the numbers in the store alone; claims whose units are not there are skipped."""
    return cmd_verify(args, compute=False)


def cmd_runs(args) -> int:
    """The units of the store by status: queued (handed to an executor), running, done, failed; a queued or running
    unit whose driver is gone says so (the next verify takes it over, or follows its cluster job)."""
    from .claims.jobs.store import HELD, Store

    opts = from_args(args, RunsOptions)
    with Store(opts.store, artifacts_root=opts.units_dir) as store:
        if opts.prune:
            rows = store.rows(None if opts.prune == "all" else opts.prune)
            for r in rows:
                shutil.rmtree(store.artifacts_root / r.key, ignore_errors=True)
            print(f"pruned {store.prune(keys=[r.key for r in rows])} unit(s) from {store.path}")
            return EXIT_OK
        rows = store.rows(opts.status)
    if opts.json:
        print(json.dumps([dataclasses.asdict(r) for r in rows], indent=2))
        return EXIT_OK
    counts = ", ".join(f"{sum(r.status == s for r in rows)} {s}" for s in STATUSES)
    print(f"{len(rows)} unit(s) in {store.path}: {counts}")
    for r in rows:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.finished or r.started or 0))
        gone = " (driver gone)" if r.status in HELD and not r.alive() else ""
        job = f"  job {r.job}" if r.job and r.status in HELD else ""
        error = f"  {r.error.strip().splitlines()[-1][:100]}" if r.error else ""
        print(f"{r.key}  {r.status + gone:<22} {r.kind:<36} attempts {r.attempts}  {when}{job}{error}")
    return EXIT_OK


@dataclasses.dataclass(frozen=True)
class VerifySetup:
    """A verify run before anything is computed: its options, the claims chosen, their context and the environment
    the report records. ``advland verify``, ``advland report`` and the pytest plugin (``advland.pytest_plugin``)
    set up (``setup_verify``) and run (``run_verify``) through these two functions, so the same options give the
    same report."""

    opts: VerifyOptions
    claims: list
    ctx: Context
    env: dict
    cluster: ClusterOptions = dataclasses.field(default_factory=ClusterOptions)


def setup_verify(opts: VerifyOptions, cluster: ClusterOptions | None = None) -> VerifySetup:
    """Check the options (device, data folder, selection, and the report folder unless ``opts.out`` is None) and
    fix the context and the environment; UsageError naming what is wrong. ``cluster``: the executor's options
    (default: the local executor)."""
    from advland.environment import environment
    from advland.outputs import check_report_folder

    cluster = cluster or ClusterOptions()
    device = verify_device(opts.device, opts.scale, cluster)
    if opts.data_dir is not None and not Path(opts.data_dir).is_dir():
        raise UsageError(f"--data-dir {opts.data_dir}: no such folder")
    chosen = select(all_claims(opts.claims), opts.only)
    if opts.out is not None:
        check_report_folder(opts.out, "--out", overwrite=opts.overwrite)
    keep_hypothesis_out_of_the_current_folder()
    data_dir = opts.data_dir or os.environ.get("ADVLAND_DATA")
    ctx = Context(seed=opts.seed, scale=opts.scale, data_dir=data_dir, device=device)
    env = environment(opts.seed, scale=opts.scale, data_dir=data_dir, run_device=device)
    return VerifySetup(opts, chosen, ctx, env, cluster)


def run_verify(setup: VerifySetup, on_result, compute: bool = True) -> None:
    """Compute the claims of ``setup`` with the results store and the executor of its options, ``on_result``
    hearing of each claim as it is decided; the store, the executor and the code fingerprints go into
    ``setup.env``. Jobs an interrupted run leaves on a cluster (slurm) are named on stderr."""
    from advland.console import plural, say
    from .claims.jobs.executors import build_executor
    from .claims.jobs.store import Store
    from .claims.runner import run_claims

    opts, ctx, env = setup.opts, setup.ctx, setup.env
    with Store(opts.store, artifacts_root=opts.units_dir) as store:
        executor = build_executor(setup.cluster, store, scale=opts.scale, jobs=opts.jobs, data_dir=ctx.data_dir,
                                  device=ctx.device, claim_files=opts.claims, compute=compute)
        env["store"] = {"path": "<user cache>" if opts.store is None else Path(opts.store).name, "jobs": opts.jobs,
                        "executor": setup.cluster.executor if compute else "none (report)"}
        try:
            run_claims(setup.claims, ctx, on_result=on_result, executor=executor)
        finally:
            env["store"]["code_fingerprints"] = executor.fingerprints()
            if executor.left_running:
                say(f"advland verify: {plural(len(executor.left_running), 'job')} left running on the cluster "
                    f"({', '.join(executor.left_running[:5])}{', ...' if len(executor.left_running) > 5 else ''}); "
                    "the same command collects them when run again", file=sys.stderr)


def print_plan(opts: VerifyOptions, cluster: ClusterOptions) -> int:
    """``verify --plan``: the units of the selection, their state in the store and their estimated cost; computes
    and writes nothing (a store that does not exist yet is not created)."""
    from .claims.jobs.driver import Driver
    from .claims.jobs.plan import format_plan, plan_selection
    from .claims.jobs.store import Store, default_store_path

    try:
        device = verify_device(opts.device, opts.scale, cluster)
    except UsageError:   # the scale needs CUDA and there is none here: estimate for the GPU it will run on
        device = "cuda"
    chosen = select(all_claims(opts.claims), opts.only)
    data_dir = opts.data_dir or os.environ.get("ADVLAND_DATA")
    ctx = Context(seed=opts.seed, scale=opts.scale, data_dir=data_dir, device=device)
    path = Path(opts.store) if opts.store else default_store_path()
    store = Store(path, artifacts_root=opts.units_dir) if path.is_file() else None
    with store if store is not None else contextlib.nullcontext():
        planned, errors = plan_selection(chosen, ctx, store, Driver(store), device)
    print(format_plan(planned, errors, scale=opts.scale, device=device, store_path=store and store.path))
    return EXIT_OK


def cmd_verify(args, compute: bool = True) -> int:
    """Check the claims chosen and write the report; Ctrl-C writes the report of the claims finished (exit 130).
    Units come from the results store when it holds them (all of them, with ``compute=False``)."""
    from tqdm import tqdm

    from advland.console import plural, say, verify_totals
    from .claims.report import write_report

    opts = from_args(args, VerifyOptions)
    cluster = cluster_options(given(args, ClusterOptions), getattr(args, "cluster_config", None))
    if getattr(args, "plan", False):
        return print_plan(opts, cluster)
    setup = setup_verify(opts, cluster)
    chosen, env = setup.claims, setup.env
    say(f"advland verify: {plural(len(chosen), 'claim')} at scale {opts.scale} on {setup.ctx.device}, "
        f"seed {opts.seed}; report to {opts.out}", indent="    ")
    bar = tqdm(total=len(chosen), unit="claim", disable=None if opts.progress else True, file=sys.stderr)
    results = []

    def progress(r) -> None:
        results.append(r)
        bar.update()
        say(r.outcome.summary, first=f"{r.verdict.value:>12}  {r.claim.id} ({r.seconds:.1f} s): ", indent=" " * 14)

    interrupted = False
    try:
        run_verify(setup, progress, compute=compute)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    if interrupted:
        env["interrupted"] = {"finished": [r.claim.id for r in results],
                              "not_run": [c.id for c in chosen[len(results):]]}
        if not results:
            say(f"advland verify: interrupted before any claim finished; no report written ({opts.out} is as it was)",
                file=sys.stderr)
            return EXIT_INTERRUPTED
    paths = write_report(results, env, opts.out)
    for line in verify_totals(results, selected=len(chosen)):
        say(line, indent="    ")
    say(f"report: {paths['html']} (and claims.json, report.md beside it)", indent="    ")
    if interrupted:
        return EXIT_INTERRUPTED
    failing = {Verdict.ERROR} | ({Verdict.REFUTED} if opts.fail_on_refuted else set())
    return EXIT_FAILED if any(r.verdict in failing for r in results) else EXIT_OK


# ------------------------------------------------------------------ failures

def log_folder(args) -> Path:
    """Where the traceback of a failure goes: the command's run or out folder when it exists and is writable,
    else ``$XDG_CACHE_HOME/advland/logs`` (default ``~/.cache/advland/logs``)."""
    name = getattr(args, "folder", None)
    value = getattr(args, name, None) if name else None
    if value is None and name and hasattr(args, "options"):
        value = {f.name: f.default for f in dataclasses.fields(args.options)}.get(name)
    if value is not None and Path(value).is_dir() and os.access(value, os.W_OK | os.X_OK):
        return Path(value)
    return user_cache() / "logs"


def write_log(folder: Path, argv: list[str], trace: str) -> Path:
    """A new log file in ``folder`` holding the command line, the advland version and the traceback."""
    from advland import __version__

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"advland-error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    path.write_text(f"advland {__version__}\ncommand: advland {' '.join(argv)}\n\n{trace}", encoding="utf-8")
    return path


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
        sys.stdout.flush()   # a closed pipe shows here, inside the try, not at exit
        return code
    except BrokenPipeError:   # the reader went away (| head): stop quietly, as a tool killed by SIGPIPE would
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE
    except UsageError as exc:
        print(f"advland {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        hint = getattr(args, "interrupted", "")
        print(f"advland {args.command}: interrupted{'; ' + hint if hint else ''}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug: the traceback goes to a log file, one line to the terminal
        trace = traceback.format_exc()
        try:
            where = f"traceback in {write_log(log_folder(args), argv, trace)}"
        except OSError as err:
            print(trace, file=sys.stderr, end="")
            where = f"the log file could not be written: {err}"
        first = (str(exc).splitlines() or [""])[0]
        print(f"advland {args.command}: internal error: {type(exc).__name__}: {first} ({where})", file=sys.stderr)
        return EXIT_FAILED


# ------------------------------------------------------------------ the README's command summary

def _usage(action: argparse.Action) -> str:
    if not action.option_strings:
        return action.metavar or action.dest.upper()
    flag = action.option_strings[0]
    if isinstance(action, argparse.BooleanOptionalAction):
        text = f"--[no-]{flag[2:]}"
    elif action.nargs == 0:
        text = flag
    else:
        metavar = action.metavar or action.dest.upper()
        values = " ".join(metavar) if isinstance(metavar, tuple) else metavar
        text = f"{flag} {values}" + (" ..." if action.nargs == "+" else "")
    return text if getattr(action, "needed", action.required) else f"[{text}]"


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [_usage(a) for a in parser._actions if a.help != argparse.SUPPRESS
            and not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]


def _fill(head: str, parts: list[str], width: int) -> str:
    """``head`` and the options, wrapped at ``width`` under the first option; an option is never split."""
    text = textwrap.fill(" ".join(p.replace(" ", "\0") for p in parts), width=width, initial_indent=head + " ",
                         subsequent_indent=" " * (len(head) + 1), break_long_words=False, break_on_hyphens=False)
    return text.replace("\0", " ")


def synopsis(parser: argparse.ArgumentParser | None = None, width: int = 110) -> str:
    """Every command with all its options (required ones bare, optional ones in brackets), wrapped at ``width``;
    a command with kinds (measure, data) lists the options common to every kind once, then each kind's own (or,
    when no kind has options of its own, the kinds' names): the block of the README's Commands section."""
    lines = []
    top = next(a for a in (parser or build_parser())._actions if isinstance(a, argparse._SubParsersAction))
    for name, p in top.choices.items():
        kinds = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        if not kinds:
            lines.append(_fill(f"advland {name}", _options(p), width))
            continue
        own = {kind: _options(k) for kind, k in kinds[0].choices.items()}
        common = [o for o in next(iter(own.values())) if all(o in opts for opts in own.values())]
        own = {kind: [o for o in opts if o not in common] for kind, opts in own.items()}
        head = f"advland {name} {'KIND' if any(own.values()) else '|'.join(own)}"
        lines.append(_fill(head, _options(p) + common, width))
        lines += [_fill(f"    {kind}:", opts, width) for kind, opts in own.items() if opts]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
