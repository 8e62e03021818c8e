"""advland's claims as pytest test items: ``pytest --advland [SELECTOR ...]``.

Registered through the ``pytest11`` entry point ``advland`` and inactive unless ``--advland`` is given. Its options
are those of ``advland verify`` (``pytest_addoption`` reads them from ``advland.verify_options``, which imports
neither torch nor the claims); the
claims are imported only with ``--advland``. With ``--advland``:

* **One run, as ``advland verify`` runs it.** The claims chosen by the SELECTORs (ids, globs and tags, as
  ``advland verify --only``; none: every claim) are set up and computed by ``advland.cli.setup_verify`` and
  ``run_verify`` (the same results store, executor, context and recorded environment) before the items are
  built, and ``--advland-out DIR`` writes the same report. The store keeps every finished unit, so a second run
  (``--lf``, another ``-k``) decides again from stored numbers instead of recomputing.
* **Items.** Each claim is a collector named by its id holding the item ``verdict`` (the claim's verdict) and one
  item per check, named by the check's stable key: ``liu2020.version-space::verdict``,
  ``liu2020.version-space::bullet-2-as-written``. ``-k`` matches claim ids, check keys and the claims' tags; in
  JUnit XML the class name is the claim id, the test name the check key (or ``verdict``), and the verdict, the
  expected verdict and the check's title are properties. A check keyed ``verdict`` would clash with the claim's
  item: that claim's ``verdict`` item is an error saying so.
* **Claims only, unless paths are given.** Without paths on the command line no test file is collected and no
  ``conftest.py`` is loaded, so ``pytest --advland theory`` in a checkout runs the theory claims, not the unit tests
  that ``testpaths`` names; ``pytest tests --advland theory`` runs both (paths go before ``--advland``, whose
  SELECTORs take every word after it).
* **pytest-xdist.** The controller runs the claims and hands the report's document (``claims.json``) to the
  workers, which build the same items from it: no claim is computed twice, and ``--advland-jobs`` (not ``-n``)
  sets how many units are computed at once.

Outcomes (``outcome``): confirmed passes; refuted fails, the message holding the deciding checks, their numbers
against their bounds and the counterexample; error is a pytest error carrying the traceback; skipped is a skip
with its reason; inconclusive is a skip saying what the evidence lacks, and a failure with ``--advland-strict``.
A claim that declares the verdict its authors expect at this scale (``claim(..., expect=...)``) passes when the
verdict matches and fails on any other decided verdict, with both in the message; its checks that share the
expected refuted or inconclusive verdict are xfail. A skipped claim stays a skip and an error an error whatever
was expected: they say the claim could not be decided here, not that its verdict changed.
"""
from __future__ import annotations

import dataclasses
import json
import types

import pytest

VERDICT_ITEM = "verdict"
WORKER_KEY = "advland_document"
# The options of `advland verify` that a pytest run takes, as --advland-NAME (the SELECTORs are --advland's values).
VERIFY_OPTIONS = ("scale", "claims", "out", "overwrite", "seed", "data_dir", "device", "store", "jobs")
OUT_HELP = "also write the report (claims.json, report.md, report.html) to DIR, as advland verify --out does"
PASSED, FAILED, ERROR, SKIPPED, XFAILED = "passed", "failed", "error", "skipped", "xfailed"


class _PluginOptions:
    """The parser ``advland.options.add_options`` fills, in front of a pytest option group: the fields of
    ``VERIFY_OPTIONS`` become ``--advland-NAME`` (dest ``advland_NAME``) with verify's defaults, type, choices
    and checks (no report unless ``--advland-out`` is given); the other fields are left out."""

    def __init__(self, group, defaults: dict):
        self.group, self.defaults = group, defaults

    def add_argument(self, flag: str, *, dest: str, default, required: bool, **kw):
        if dest in VERIFY_OPTIONS:
            kw["help"] = OUT_HELP if dest == "out" else kw["help"].replace("--out", "--advland-out")
            self.group.addoption(f"--advland-{flag[2:]}", dest=f"advland_{dest}", default=self.defaults[dest], **kw)
        return types.SimpleNamespace()


def pytest_addoption(parser) -> None:
    from advland.verify_options import VerifyOptions
    from advland.options import add_options

    group = parser.getgroup("advland", "advland claims as test items (inactive without --advland)")
    group.addoption("--advland", nargs="*", default=None, metavar="SELECTOR",
                    help="collect advland's claims as test items: claim ids, globs (liu2020.*) or tags (theory, a "
                         "paper key); none: every claim. Paths to test files go before --advland")
    group.addoption("--advland-strict", action="store_true", default=False,
                    help="an inconclusive verdict fails (default: it is a skip)")
    defaults = {f.name: f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
                for f in dataclasses.fields(VerifyOptions)}
    add_options(_PluginOptions(group, {**defaults, "out": None}), VerifyOptions)


def _claims_only(namespace) -> bool:
    """--advland given without paths: claims only."""
    return getattr(namespace, "advland", None) is not None and not namespace.file_or_dir


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config) -> None:
    if _claims_only(early_config.known_args_namespace):
        early_config.known_args_namespace.noconftest = True


def pytest_configure(config) -> None:
    if config.getoption("advland") is None:
        return
    if _claims_only(config.option):
        config.args[:] = []
    config.pluginmanager.register(ClaimsPlugin(config), "advland-claims")


def verify_options(config):
    """The ``VerifyOptions`` of this pytest run."""
    from advland.verify_options import VerifyOptions

    return VerifyOptions(only=list(config.getoption("advland")), progress=False,
                         **{name: config.getoption(f"advland_{name}") for name in VERIFY_OPTIONS})


class ClaimsPlugin:
    """The claims of one pytest run: set up at configure time (a bad option is a usage error before anything
    runs), computed once (``document``), and turned into items after the test files are collected."""

    def __init__(self, config):
        from advland.cli import setup_verify
        from advland.errors import UsageError

        self.config = config
        self.strict = config.getoption("advland_strict")
        self.setup = self._document = None
        if hasattr(config, "workerinput"):   # an xdist worker: the controller computes
            return
        try:
            self.setup = setup_verify(verify_options(config))
        except UsageError as exc:
            raise pytest.UsageError(f"advland: {exc}") from None

    def document(self) -> dict:
        """The claims.json document of the run: computed here the first time (and the report written when asked),
        or, in an xdist worker, the one the controller computed."""
        if self._document is None:
            if self.setup is None:
                self._document = self.config.workerinput[WORKER_KEY]
            else:
                self._document = self._run()
        return self._document

    def _run(self) -> dict:
        from advland.cli import run_verify
        from advland.claims.report import document, write_report

        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        quiet = terminal is None or self.config.getoption("verbose") < 0
        results = []

        def progress(r) -> None:
            results.append(r)
            if not quiet:
                terminal.write_line(f"advland: {r.verdict.value:>12}  {r.claim.id} ({r.seconds:.1f} s)")

        run_verify(self.setup, progress)
        if self.setup.opts.out is not None:
            write_report(results, self.setup.env, self.setup.opts.out)
        return document(results, self.setup.env)

    def pytest_report_header(self, config) -> list[str]:
        if self.setup is None:
            return []
        opts, ctx = self.setup.opts, self.setup.ctx
        chosen = " ".join(opts.only) or "every claim"
        return [f"advland: {len(self.setup.claims)} claims ({chosen}) at scale {ctx.scale} on {ctx.device}, seed "
                f"{ctx.seed}{', strict' if self.strict else ''}; report: {opts.out or 'none'}"]

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node) -> None:
        """xdist (controller): compute before the first worker starts, and give each worker the document."""
        node.workerinput[WORKER_KEY] = self.document()

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session, config, items) -> None:
        doc = self.document()
        scale = doc["environment"]["scale"]
        for entry in doc["claims"]:
            node = ClaimNode.from_parent(session, name=entry["id"], nodeid=entry["id"], entry=entry, scale=scale,
                                         strict=self.strict)
            report = node.ihook.pytest_make_collect_report(collector=node)
            node.ihook.pytest_collectreport(report=report)
            items.extend(report.result)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        """A skip of a claim's item is reported at the item, not at the line of this module that raised it."""
        report = (yield).get_result()
        if isinstance(item, _ClaimItem) and report.skipped and isinstance(report.longrepr, tuple):
            report.longrepr = (item.nodeid, None, report.longrepr[2])

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self._document is None or self.setup is None:
            return
        from advland.console import counts

        claims = self._document["claims"]
        expected = [c for c in claims if c.get("expect")]
        met = sum(c["verdict"] == c["expect"] for c in expected)
        terminalreporter.write_line(
            f"advland: {len(claims)} claims: {counts(c['verdict'] for c in claims)}"
            + (f"; {met} of {len(expected)} as expected" if expected else "")
            + (f"; report in {self.setup.opts.out}" if self.setup.opts.out else ""))


# ------------------------------------------------------------------ outcomes and messages

def outcome(verdict: str, expect: str | None, *, strict: bool, check: bool) -> str:
    """The pytest outcome of a claim's verdict (``check`` False) or of one of its checks' (True), given the verdict
    the claim expects at this scale (None: none) (module docstring)."""
    if verdict == "error":
        return ERROR
    if verdict == "skipped":
        return SKIPPED
    if verdict == "inconclusive" and strict:
        return FAILED
    if expect is None or (check and verdict != expect):
        return {"confirmed": PASSED, "refuted": FAILED, "inconclusive": SKIPPED}[verdict]
    if verdict != expect:
        return FAILED
    return XFAILED if check and verdict != "confirmed" else PASSED


def check_lines(chk: dict) -> list[str]:
    """A check in a message: verdict, key and title, note, its numbers against their bounds, its counterexample."""
    from advland.claims.report import quantity_line

    lines = [f"{chk['verdict']}: [{chk['key']}] {chk['name']}"]
    lines += [f"    {line}" for line in str(chk.get("note") or "").splitlines()]
    lines += [f"    {quantity_line(q)}" for q in chk["evidence"]]
    if "counterexample" in chk:
        lines.append(f"    counterexample: {json.dumps(chk['counterexample'], ensure_ascii=False)}")
    return lines


def _traceback(entry: dict) -> str:
    details = entry["evidence"]["details"]
    return details.get("traceback", "") if isinstance(details, dict) else ""


def _settle(checks: list[dict], scale: str) -> str:
    """What the inconclusive checks lack, as their notes say, and what would settle them where the notes do not."""
    why = "; ".join(f"{c['key']}: {c.get('note') or 'no reason given'}" for c in checks if c["verdict"] == "inconclusive")
    larger = "" if scale == "paper" or "settled by" in why else " (a larger --advland-scale may settle it)"
    return f"inconclusive: {why}{larger}"


def claim_message(entry: dict, scale: str, result: str) -> str:
    """Why the claim's ``verdict`` item has the outcome ``result``."""
    verdict, expect, checks = entry["verdict"], entry.get("expect"), entry["evidence"]["checks"]
    head = (f"{entry['id']} is {'in error' if verdict == 'error' else verdict} at the {scale} scale"
            + (f", expected {expect}" if expect and expect != verdict else "") + f": {entry['evidence']['summary']}")
    if result == SKIPPED:
        if verdict == "inconclusive":
            return _settle(checks, scale)
        return "skipped: " + "; ".join(c.get("note") or c["name"] for c in checks if c["verdict"] == "skipped")
    if result == ERROR:
        return f"{head}\n{_traceback(entry)}".rstrip()
    deciding = [c for c in checks if c["verdict"] == verdict]
    lines = [head, "", f"checks ({len(checks)}): " + ", ".join(f"{c['key']} {c['verdict']}" for c in checks)]
    for chk in deciding if verdict != "confirmed" else []:
        lines += check_lines(chk)
    if verdict == "inconclusive":
        lines.append(_settle(checks, scale))
    return "\n".join(lines)


def check_message(entry: dict, chk: dict, scale: str, result: str) -> str:
    """Why a check's item has the outcome ``result``."""
    if result == SKIPPED:
        return _settle([chk], scale) if chk["verdict"] == "inconclusive" else f"skipped: {chk.get('note') or chk['name']}"
    if result == XFAILED:
        return f"{chk['verdict']}, as the claim {entry['id']} is expected to be at the {scale} scale"
    lines = [f"{entry['id']} / {chk['key']} at the {scale} scale", *check_lines(chk)]
    if result == ERROR:
        lines.append(_traceback(entry))
    return "\n".join(lines).rstrip()


# ------------------------------------------------------------------ nodes

class ClaimNode(pytest.Collector):
    """A claim: its ``verdict`` item, then one item per check, built from its claims.json entry."""

    def __init__(self, *, entry: dict, scale: str, strict: bool, **kw):
        super().__init__(**kw)
        self.entry, self.scale, self.strict = entry, scale, strict

    def collect(self) -> list:
        checks = self.entry["evidence"]["checks"]
        clash = any(c["key"] == VERDICT_ITEM for c in checks)
        verdict = VerdictItem.from_parent(self, name=VERDICT_ITEM, clash=clash)
        return [verdict] + [CheckItem.from_parent(self, name=c["key"], check=c) for c in checks
                            if c["key"] != VERDICT_ITEM]


class _ClaimItem(pytest.Item):
    """An item whose outcome and message are decided before it runs (``result``, ``message``)."""

    result: str
    message: str

    def __init__(self, **kw):
        super().__init__(**kw)
        entry = self.parent.entry
        self.extra_keyword_matches.update(entry["tags"])
        self.user_properties += [("claim", entry["id"]), ("claim_verdict", entry["verdict"]),
                                 ("expect", entry.get("expect") or "")]

    def reportinfo(self):
        """The heading of the item's failure: 'claim ID, verdict' or 'claim ID, check KEY' (not the node id: pytest
        reads this as a dotted Python name and would print the dots of a claim id as '::')."""
        what = "verdict" if isinstance(self, VerdictItem) else f"check {self.name}"
        return self.path, None, f"claim {self.parent.entry['id']}, {what}"

    def setup(self) -> None:
        if self.result == ERROR:
            pytest.fail(self.message, pytrace=False)

    def runtest(self) -> None:
        if self.result == FAILED:
            pytest.fail(self.message, pytrace=False)
        if self.result == SKIPPED:
            pytest.skip(self.message)
        if self.result == XFAILED:
            pytest.xfail(self.message)


class VerdictItem(_ClaimItem):
    """The claim's verdict, against the verdict expected at this scale."""

    def __init__(self, *, clash: bool = False, **kw):
        super().__init__(**kw)
        claim = self.parent
        expect = claim.entry.get("expect")
        self.result = outcome(claim.entry["verdict"], expect, strict=claim.strict, check=False)
        self.message = claim_message(claim.entry, claim.scale, self.result)
        if clash:
            self.result = ERROR
            self.message = (f"{claim.entry['id']}: a check is keyed {VERDICT_ITEM!r}, the name of the claim's own "
                            "item; give that check another key")


class CheckItem(_ClaimItem):
    """One check of the claim, by its key."""

    def __init__(self, *, check: dict, **kw):
        super().__init__(**kw)
        claim = self.parent
        self.check = check
        self.result = outcome(check["verdict"], claim.entry.get("expect"), strict=claim.strict, check=True)
        self.message = check_message(claim.entry, check, claim.scale, self.result)
        self.user_properties += [("check", check["key"]), ("check_name", check["name"]),
                                 ("check_verdict", check["verdict"])]
