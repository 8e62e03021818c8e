"""The executors behind ``advland verify --executor``: the driver's shared logic (reuse, retries of lost workers,
following a job left by a stopped driver, interruption) on a scripted engine, then the real engines (worker
processes, submitit's local and debug modes, a local Ray cluster) giving the local executor's verdicts, a worker
killed mid-unit retried from its checkpoint, an interrupted driver re-run completing only the missing units, and
nothing left running; ``--plan`` and ``advland runs``."""
from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from advland import cli
from advland.claims.jobs import cost
from advland.claims.jobs.driver import Driver, JobState
from advland.claims.jobs.executors import ClusterOptions, worker_device
from advland.claims.jobs.slurm import SlurmSettings, submitit_parameters
from advland.claims.jobs.store import Store, process_exists
from advland.claims.jobs.worker import Resources, run_task
from advland.claims.model import Context, Verdict
from advland.claims.registry import load_claims_file
from advland.claims.runner import run_claims
from advland.empirical.data import DataError, find_layout
from advland.errors import UsageError

HAVE_SUBMITIT = importlib.util.find_spec("submitit") is not None
HAVE_RAY = importlib.util.find_spec("ray") is not None
needs_submitit = pytest.mark.skipif(not HAVE_SUBMITIT, reason='submitit is not installed: pip install "advland[slurm]"')
needs_ray = pytest.mark.skipif(not HAVE_RAY, reason='Ray is not installed (an optional extra): pip install "advland[ray]"')


def _have(dataset: str) -> bool:
    try:
        return all(find_layout(dataset, split) for split in ("train", "test"))
    except DataError:
        return False


cifar = pytest.mark.skipif(not _have("cifar10"), reason="CIFAR-10 absent: set ADVLAND_DATA to a folder holding "
                                                        "cifar10/ (advland data fetch --dataset cifar10)")

# Unit kinds of the tests ("empirical." kinds go to the engine). Every call is logged beside the claims file, so a
# test sees which units were computed, and how often.
CLAIMS = textwrap.dedent('''
    import json
    import os
    import time
    from pathlib import Path

    from advland.claims import Check, Outcome, claim, unit_kind
    from advland.claims.jobs.context import current
    from advland.claims.model import Verdict

    HERE = Path(__file__).parent


    def _log(text):
        with open(HERE / "calls.log", "a") as f:
            f.write(text + "\\n")


    @unit_kind("empirical.x-square")
    def square(*, x: float = 1.0) -> dict:
        _log(f"square {x}")
        if x < 0:
            raise ValueError("negative x")
        return {"y": x * x}


    @unit_kind("empirical.x-steps")
    def steps(*, name: str = "a", steps: int = 3) -> dict:
        """Counts to ``steps`` with a checkpoint per step in its folder. At step 1 it writes its pid to pid.txt and
        waits until go.txt exists beside the claims (a test kills it there, or interrupts its driver); at most 5
        minutes, so that a job left by a test run that was itself killed ends."""
        folder = Path(current().workdir)
        checkpoint = folder / "checkpoint.json"
        done = json.loads(checkpoint.read_text())["done"] if checkpoint.exists() else 0
        _log(f"steps {name} from {done}")
        for step in range(done, steps):
            checkpoint.write_text(json.dumps({"done": step + 1}))
            if step == 0:
                (folder / "pid.txt").write_text(str(os.getpid()))
                deadline = time.monotonic() + 300
                while not (HERE / "go.txt").exists():
                    if time.monotonic() > deadline or not HERE.exists():
                        raise TimeoutError("go.txt never came")
                    time.sleep(0.1)
        return {"steps": steps, "resumed_from": done}


    def _decide(ctx, results):
        ys = sorted(r.get("y", r.get("steps")) for r in results.values())
        return Outcome(f"values {ys}", [Check("non-negative", Verdict.CONFIRMED if min(ys) >= 0
                                              else Verdict.REFUTED, key="non-negative")])


    good = claim("x.good", where="w", statement="s", formula="f")(
        plan=lambda ctx: [square.unit(x=x) for x in (1.0, 2.0, 3.0)], decide=_decide)
    shared = claim("x.shared", where="w", statement="s", formula="f")(
        plan=lambda ctx: [square.unit(x=2.0)], decide=_decide)
    broken = claim("x.broken", where="w", statement="s", formula="f")(
        plan=lambda ctx: [square.unit(x=-1.0)], decide=_decide)
    waits = claim("x.waits", where="w", statement="s", formula="f")(
        plan=lambda ctx: [steps.unit(name="w")], decide=_decide)
''')


@pytest.fixture
def claims_file(tmp_path):
    path = tmp_path / "claims.py"
    path.write_text(CLAIMS)
    return path


def _calls(claims_file) -> list[str]:
    log = claims_file.with_name("calls.log")
    return sorted(log.read_text().splitlines()) if log.exists() else []


# ------------------------------------------------------------------ the driver's shared logic, on a scripted engine

class Scripted:
    """An engine whose jobs do what ``script`` says, launch after launch, per unit param ``x`` (or ``name``):
    ``ok`` computes the unit here, ``lost`` ends without a reply, ``hang`` keeps running."""

    name = "scripted"
    capacity = None

    def __init__(self, script, *, detached=False, followable=()):
        self.script = {k: list(v) for k, v in script.items()}
        self.detached = detached
        self.followable = set(followable)
        self.launched, self.cancelled, self.closed = [], [], 0
        self.jobs = {}

    def _what(self, task):
        key = task.params.get("x", task.params.get("name"))
        return self.script[key].pop(0) if self.script.get(key) else "ok"

    def launch(self, tasks):
        names = []
        for task in tasks:
            name = f"scripted:{len(self.launched)}"
            self.launched.append(task)
            self.jobs[name] = (task, self._what(task))
            names.append(name)
        return names

    def poll(self, jobs):
        states = {}
        for name in jobs:
            task, what = self.jobs[name]
            states[name] = (JobState("running") if what == "hang" else JobState("lost", reason="killed by the test")
                            if what == "lost" else JobState("done", run_task(task, in_worker=False)))
        return states

    def follow(self, job, task):
        if job in self.followable:
            self.jobs[job] = (task, "ok")
            return True
        return False

    def cancel(self, jobs):
        self.cancelled += jobs

    def wait(self, seconds):
        time.sleep(0.01)

    def close(self):
        self.closed += 1


def _driver(store, backend, **kw):
    return Driver(store, backend=backend, poll_s=0.01, **kw)


def test_a_lost_worker_is_launched_again_and_the_unit_completes(claims_file, tmp_path):
    good = load_claims_file(claims_file)[0]
    backend = Scripted({2.0: ["lost"]})
    with Store(tmp_path / "s.sqlite") as store:
        (r,) = run_claims([good], Context(), executor=_driver(store, backend))
        row = store.row(next(u.key for u in r.units if u.params["x"] == 2.0))
        assert r.verdict is Verdict.CONFIRMED and row.status == "done" and row.attempts == 2
    assert len(backend.launched) == 4 and backend.closed == 1


def test_a_unit_whose_worker_is_lost_every_time_fails_naming_it_after_the_retries(claims_file, tmp_path):
    shared = load_claims_file(claims_file)[1]
    backend = Scripted({2.0: ["lost"] * 5})
    with Store(tmp_path / "s.sqlite") as store:
        (r,) = run_claims([shared], Context(), executor=_driver(store, backend, retries=1))
        row = store.row(r.units[0].key)
    # a lost worker is a failed experiment, not a defect of the check: no evidence
    assert r.verdict is Verdict.INCONCLUSIVE and "WorkerLost" in r.outcome.summary
    assert r.units[0].key in r.outcome.summary
    assert len(backend.launched) == 2 and row.status == "failed" and row.attempts == 2


def test_a_unit_that_raises_is_recorded_with_its_traceback_and_not_retried(claims_file, tmp_path):
    broken = load_claims_file(claims_file)[2]
    backend = Scripted({})
    with Store(tmp_path / "s.sqlite") as store:
        (r,) = run_claims([broken], Context(), executor=_driver(store, backend))
        assert "ValueError: negative x" in store.row(r.units[0].key).error
    assert r.verdict is Verdict.INCONCLUSIVE and len(backend.launched) == 1   # a failed experiment: no evidence


def _interrupt_after_first(outcome):
    raise KeyboardInterrupt


def test_an_interrupted_driver_leaves_a_detached_engine_s_jobs_for_the_next_one(claims_file, tmp_path):
    """SLURM-like: the jobs stay on the cluster with their names in the store; the next driver follows them
    (nothing launched again) and collects their results."""
    good = load_claims_file(claims_file)[0]
    units = good.plan(Context())
    first = Scripted({1.0: ["ok"], 2.0: ["hang"], 3.0: ["hang"]}, detached=True)
    with Store(tmp_path / "s.sqlite") as store:
        driver = _driver(store, first)
        with pytest.raises(KeyboardInterrupt):
            driver.run(units, on_outcome=_interrupt_after_first)
        assert sorted(driver.left_running) == ["scripted:1", "scripted:2"] and not first.cancelled
        held = {u.params["x"]: store.row(u.key) for u in units}
        assert held[1.0].status == "done" and {held[x].job for x in (2.0, 3.0)} == {"scripted:1", "scripted:2"}
        store.db.execute("UPDATE units SET pid = -1, heartbeat = 0 WHERE status != 'done'")   # that driver is gone
        second = Scripted({}, followable={"scripted:1", "scripted:2"})
        outcomes = _driver(store, second).run(units)
        assert second.launched == [] and all(o.ok for o in outcomes.values())
        assert all(store.row(u.key).attempts == 1 for u in units)


def test_an_interrupted_driver_stops_its_own_workers_and_records_the_units_interrupted(claims_file, tmp_path):
    good = load_claims_file(claims_file)[0]
    units = good.plan(Context())
    backend = Scripted({1.0: ["ok"], 2.0: ["hang"], 3.0: ["hang"]})
    with Store(tmp_path / "s.sqlite") as store:
        driver = _driver(store, backend)
        with pytest.raises(KeyboardInterrupt):
            driver.run(units, on_outcome=_interrupt_after_first)
        rows = {u.params["x"]: store.row(u.key) for u in units}
    assert sorted(backend.cancelled) == ["scripted:1", "scripted:2"] and driver.left_running == []
    assert rows[1.0].status == "done" and all(rows[x].status == "failed" and rows[x].error.startswith("Interrupted")
                                              for x in (2.0, 3.0))


def test_a_job_of_other_code_is_cancelled_not_followed(claims_file, tmp_path):
    shared = load_claims_file(claims_file)[1]
    (unit,) = shared.plan(Context())
    with Store(tmp_path / "s.sqlite") as store:
        old = _driver(store, Scripted({}), fingerprint="old")
        store.try_start(old.stored(unit), status="queued")
        store.launched(old.stored(unit), "scripted:9", "running")
        store.db.execute("UPDATE units SET pid = -1, heartbeat = 0")
        backend = Scripted({}, followable={"scripted:9"})
        assert _driver(store, backend, fingerprint="new").run([unit])[unit.key].ok
    assert backend.cancelled == ["scripted:9"] and len(backend.launched) == 1


def test_a_unit_held_by_another_live_driver_is_waited_for_not_launched(claims_file, tmp_path):
    (unit,) = load_claims_file(claims_file)[1].plan(Context())
    backend = Scripted({})
    with Store(tmp_path / "s.sqlite") as store:
        driver = _driver(store, backend)
        store.try_start(driver.stored(unit), status="running")
        store.db.execute("UPDATE units SET pid = ?", (os.getppid(),))       # a live process that is not us

        def other_driver_finishes():
            time.sleep(0.5)
            with Store(tmp_path / "s.sqlite") as own:
                own.finish(driver.stored(unit), {"y": 4.0})

        thread = threading.Thread(target=other_driver_finishes)
        thread.start()
        outcome = driver.run([unit])[unit.key]
        thread.join()
    assert outcome.reused and outcome.results == {"y": 4.0} and backend.launched == []


# ------------------------------------------------------------------ the real engines: same verdicts as local

def _verify(claims_file, tmp_path, name, *extra, only=("x.good", "x.shared", "x.broken")) -> dict:
    out = tmp_path / f"report-{name}"
    code = cli.main(["verify", "--claims", str(claims_file), "--only", *only, "--scale", "smoke", "--no-progress",
                     "--store", str(tmp_path / f"{name}.sqlite"), "--out", str(out), *extra])
    assert code in (cli.EXIT_OK, cli.EXIT_FAILED)
    doc = json.loads((out / "claims.json").read_text())
    return {c["id"]: (c["verdict"], c["evidence"]["summary"]) for c in doc["claims"]}


def test_submitit_debug_mode_gives_the_local_verdicts(claims_file, tmp_path):
    pytest.importorskip("submitit", reason='submitit is not installed: pip install "advland[slurm]"')
    local = _verify(claims_file, tmp_path, "local", "--jobs", "1")
    debug = _verify(claims_file, tmp_path, "debug", "--executor", "slurm", "--slurm-mode", "debug")
    assert debug == local and local["x.good"][0] == "confirmed" and local["x.broken"][0] == "inconclusive"
    assert _calls(claims_file).count("square 2.0") == 2          # once per store, shared by two claims


@pytest.mark.slow
@pytest.mark.parametrize("engine", [
    pytest.param(["--jobs", "2"], id="local-processes"),
    pytest.param(["--executor", "slurm", "--slurm-mode", "local"], id="submitit-local", marks=needs_submitit),
    pytest.param(["--executor", "ray", "--unit-cpus", "1"], id="ray-local-cluster", marks=needs_ray),
])
def test_every_engine_gives_the_verdicts_of_the_local_executor(claims_file, tmp_path, engine):
    local = _verify(claims_file, tmp_path, "local", "--jobs", "1")
    assert _verify(claims_file, tmp_path, "engine", *engine) == local


@pytest.mark.slow
@cifar
@pytest.mark.parametrize("engine", [
    pytest.param(["--executor", "slurm", "--slurm-mode", "local"], id="submitit-local", marks=needs_submitit),
    pytest.param(["--executor", "ray", "--unit-cpus", "1"], id="ray-local-cluster", marks=needs_ray),
])
def test_a_real_smoke_selection_gives_the_local_verdicts(tmp_path, engine):
    """stutz2021.scale-invariance at smoke scale: one training unit (an MLP on 100 CIFAR-10 images)."""
    def verify(name, *extra):
        out = tmp_path / name
        cli.main(["verify", "--only", "stutz2021.scale-invariance", "--scale", "smoke", "--no-progress",
                  "--store", str(tmp_path / f"{name}.sqlite"), "--out", str(out), *extra])
        return [(c["id"], c["verdict"], c["evidence"]["summary"])
                for c in json.loads((out / "claims.json").read_text())["claims"]]

    assert verify("engine", *engine) == verify("local", "--jobs", "1")


# ------------------------------------------------------------------ killed workers, interrupted drivers, no strays

class Verify:
    """``advland verify`` in a process of its own (its own session: a signal reaches the driver alone), its output
    in a file (a job left running keeps no pipe of ours open), every process it starts carrying ``marker`` in its
    environment. PYTHONHASHSEED is fixed because the module name of a claims file is derived from ``hash(path)``,
    and that name is part of the code fingerprint of the file's unit kinds: another seed would make another run
    see other code. SIGINT is reset to its default in the driver: a test session started in the background (``&``)
    ignores it, and its children would inherit that."""

    def __init__(self, claims_file, tmp_path, marker, *extra, only=("x.good", "x.waits")):
        env = {**os.environ, "ADVLAND_TEST_MARKER": marker, "PYTHONHASHSEED": "0"}
        self.log = tmp_path / f"verify-{uuid.uuid4().hex[:8]}.log"
        with open(self.log, "w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "advland", "verify", "--claims", str(claims_file), "--only", *only,
                 "--scale", "smoke", "--no-progress", "--store", str(tmp_path / "s.sqlite"), "--out",
                 str(tmp_path / "report"), *extra], env=env, start_new_session=True, stdout=out,
                stderr=subprocess.STDOUT, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.pid = self.process.pid

    def finish(self, timeout: float) -> tuple[int, str]:
        """(exit status, output) once the driver has ended."""
        code = self.process.wait(timeout)
        return code, self.log.read_text()


def _marked(marker) -> list[int]:
    """Processes whose environment carries ``marker``."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if f"ADVLAND_TEST_MARKER={marker}".encode() in (proc / "environ").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def _no_process_left(marker, timeout=30.0) -> bool:
    deadline = time.monotonic() + timeout
    while _marked(marker) and time.monotonic() < deadline:
        time.sleep(0.5)
    return not _marked(marker)


def _wait_for(path: Path, timeout=180.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.2)


def _unit_dir(tmp_path, claims) -> Path:
    (unit,) = [c for c in claims if c.id == "x.waits"][0].plan(Context())
    return tmp_path / "s-units" / unit.key   # the units' folder of the store s.sqlite


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
@pytest.mark.parametrize("engine", [
    pytest.param(["--jobs", "2"], id="local-processes"),
    pytest.param(["--executor", "slurm", "--slurm-mode", "local"], id="submitit-local", marks=needs_submitit),
    pytest.param(["--executor", "ray", "--unit-cpus", "1"], id="ray-local-cluster", marks=needs_ray),
])
def test_a_worker_killed_mid_unit_is_retried_and_resumes_from_its_checkpoint(claims_file, tmp_path, engine):
    folder = _unit_dir(tmp_path, load_claims_file(claims_file))
    marker = uuid.uuid4().hex
    driver = Verify(claims_file, tmp_path, marker, *engine, only=("x.waits",))
    _wait_for(folder / "pid.txt")
    pid = int((folder / "pid.txt").read_text())
    os.kill(pid, signal.SIGKILL)                               # mid-unit: after its first checkpoint
    claims_file.with_name("go.txt").write_text("the retry may finish")
    code, output = driver.finish(timeout=300)
    assert code == 0, output
    doc = json.loads((tmp_path / "report" / "claims.json").read_text())
    assert doc["claims"][0]["verdict"] == "confirmed"
    with Store(tmp_path / "s.sqlite") as store:
        (row,) = store.rows()
        assert row.status == "done" and row.attempts == 2
        assert store.raw_results(row.key)["resumed_from"] == 1  # the retry resumed from the checkpoint
    assert _calls(claims_file) == ["steps w from 0", "steps w from 1"]
    assert _no_process_left(marker)


@pytest.mark.slow
@needs_submitit
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_a_preempted_slurm_job_is_requeued_and_resumes_from_its_checkpoint(claims_file, tmp_path):
    """SLURM's preemption signal (USR2) to the task: submitit requeues it (here, in its local mode, the same job
    starts the task again) and the unit resumes from its checkpoint; the driver sees one job, one attempt."""
    folder = _unit_dir(tmp_path, load_claims_file(claims_file))
    marker = uuid.uuid4().hex
    driver = Verify(claims_file, tmp_path, marker, "--executor", "slurm", "--slurm-mode", "local", only=("x.waits",))
    _wait_for(folder / "pid.txt")
    os.kill(int((folder / "pid.txt").read_text()), signal.SIGUSR2)
    claims_file.with_name("go.txt").write_text("the requeued task may finish")
    code, output = driver.finish(timeout=300)
    assert code == 0, output
    with Store(tmp_path / "s.sqlite") as store:
        (row,) = store.rows()
        assert row.status == "done" and row.attempts == 1 and store.raw_results(row.key)["resumed_from"] == 1
    assert _calls(claims_file) == ["steps w from 0", "steps w from 1"]
    assert _no_process_left(marker)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
@pytest.mark.parametrize("engine", [
    pytest.param(["--jobs", "2"], id="local-processes"),
    pytest.param(["--executor", "ray", "--unit-cpus", "1"], id="ray-local-cluster", marks=needs_ray),
])
def test_an_interrupted_driver_stops_everything_and_the_rerun_computes_only_what_is_missing(claims_file, tmp_path,
                                                                                            engine):
    folder = _unit_dir(tmp_path, load_claims_file(claims_file))
    marker = uuid.uuid4().hex
    driver = Verify(claims_file, tmp_path, marker, *engine)
    _wait_for(folder / "pid.txt")
    _wait_for_done(tmp_path / "s.sqlite", 3)                   # x.good's three units
    driver.process.send_signal(signal.SIGINT)
    code, output = driver.finish(timeout=120)
    assert code == cli.EXIT_INTERRUPTED, output
    assert _no_process_left(marker), "a worker or a Ray process outlived the interrupted driver"
    with Store(tmp_path / "s.sqlite") as store:
        waits = [r for r in store.rows() if r.kind == "empirical.x-steps"][0]
        assert waits.status == "failed" and waits.error.startswith("Interrupted")
    claims_file.with_name("go.txt").write_text("finish")
    code, output = Verify(claims_file, tmp_path, marker, *engine).finish(timeout=300)
    assert code == 0, output
    assert _calls(claims_file) == ["square 1.0", "square 2.0", "square 3.0", "steps w from 0", "steps w from 1"]
    assert _no_process_left(marker)


@pytest.mark.slow
@needs_submitit
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_a_rerun_follows_the_slurm_jobs_an_interrupted_driver_left_instead_of_submitting_them_again(claims_file,
                                                                                                  tmp_path):
    engine = ["--executor", "slurm", "--slurm-mode", "local"]
    folder = _unit_dir(tmp_path, load_claims_file(claims_file))
    marker = uuid.uuid4().hex
    driver = Verify(claims_file, tmp_path, marker, *engine)
    _wait_for(folder / "pid.txt")
    _wait_for_done(tmp_path / "s.sqlite", 3)
    driver.process.send_signal(signal.SIGINT)
    code, output = driver.finish(timeout=120)
    assert code == cli.EXIT_INTERRUPTED and "left running on the cluster" in output, output
    with Store(tmp_path / "s.sqlite") as store:
        waits = [r for r in store.rows() if r.kind == "empirical.x-steps"][0]
        assert waits.status == "running" and waits.job.startswith("submitit-local:") and not waits.alive()
    rerun = Verify(claims_file, tmp_path, marker, *engine)
    _wait_for_held(tmp_path / "s.sqlite", rerun.pid)           # the rerun has adopted the job ...
    claims_file.with_name("go.txt").write_text("finish")       # ... which then finishes
    code, output = rerun.finish(timeout=300)
    assert code == 0, output
    assert _calls(claims_file) == ["square 1.0", "square 2.0", "square 3.0", "steps w from 0"]   # never again
    with Store(tmp_path / "s.sqlite") as store:
        assert all(r.status == "done" and r.attempts == 1 for r in store.rows())
    assert _no_process_left(marker)


def _wait_for_done(path, count, timeout=180.0):
    deadline = time.monotonic() + timeout
    while True:
        if path.exists():
            with Store(path) as store:
                if len(store.rows("done")) >= count:
                    return
        assert time.monotonic() < deadline, "the units never finished"
        time.sleep(0.3)


def _wait_for_held(path, pid, timeout=120.0):
    deadline = time.monotonic() + timeout
    while True:
        with Store(path) as store:
            if any(r.pid == pid and r.status == "running" for r in store.rows()):
                return
        assert time.monotonic() < deadline, "the rerun never took the unit over"
        time.sleep(0.3)


# ------------------------------------------------------------------ --plan, runs, options

def test_plan_names_the_units_their_state_and_cost_and_computes_nothing(claims_file, tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    common = ["--claims", str(claims_file), "--only", "x.good", "x.shared", "--scale", "smoke", "--store", str(store)]
    assert cli.main(["verify", *common, "--plan"]) == cli.EXIT_OK
    before = capsys.readouterr().out
    assert not store.exists() and _calls(claims_file) == []         # nothing computed, no store created
    assert before.count("empirical.x-square") == 3 and "absent" in before and "unknown" in before
    assert cli.main(["verify", *common, "--out", str(tmp_path / "r"), "--no-progress", "--jobs", "1"]) == cli.EXIT_OK
    capsys.readouterr()
    assert cli.main(["verify", *common, "--plan"]) == cli.EXIT_OK
    after = capsys.readouterr().out
    units = [line for line in after.splitlines() if "empirical.x-square" in line]
    assert all(" done " in line and " measured " in line for line in units) and "to compute: 0 of 3" in after


def test_plan_estimates_every_training_unit_of_the_paper_scale_without_a_gpu(tmp_path, capsys):
    assert cli.main(["verify", "--only", "liu2020.hessian-grows", "--scale", "paper", "--plan",
                     "--store", str(tmp_path / "none.sqlite")]) == cli.EXIT_OK
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if " empirical.train " in line]
    assert lines and all(" model " in line and (" h " in line or " min " in line) for line in lines)
    assert "training on cuda" in out and "GPU" in out


def test_runs_shows_queued_running_done_and_failed(tmp_path, capsys):
    from types import SimpleNamespace

    units = [SimpleNamespace(key=f"k{i}", kind="empirical.x", params={}, version="1") for i in range(4)]
    with Store(tmp_path / "s.sqlite") as store:
        for u in units:
            store.try_start(u, status="queued")
        store.launched(units[1], "slurm:7_1", "running")
        store.finish(units[2], {"y": 1})
        store.fail(units[3], "Traceback ...\nValueError: boom")
        store.db.execute("UPDATE units SET pid = -1, heartbeat = 0 WHERE key = 'k0'")
    assert cli.main(["runs", "--store", str(tmp_path / "s.sqlite")]) == cli.EXIT_OK
    out = capsys.readouterr().out.splitlines()
    assert "1 queued, 1 running, 1 done, 1 failed" in out[0]
    rows = {line.split()[0]: line for line in out[1:]}
    assert "queued (driver gone)" in rows["k0"] and "running" in rows["k1"] and "job slurm:7_1" in rows["k1"]
    assert " done " in rows["k2"] and "ValueError: boom" in rows["k3"]


def test_the_cluster_config_file_is_overridden_by_the_options(claims_file, tmp_path, capsys):
    config = tmp_path / "cluster.toml"
    config.write_text('executor = "slurm"\nslurm_mode = "debug"\nunit_gpus = 3\nretries = 0\n')
    args = cli.build_parser().parse_args(["verify", "--cluster-config", str(config), "--unit-gpus", "0"])
    from advland.claims.jobs.executors import cluster_options
    from advland.options import given

    options = cluster_options(given(args, ClusterOptions), args.cluster_config)
    assert (options.executor, options.slurm_mode, options.unit_gpus, options.retries) == ("slurm", "debug", 0, 0)
    config.write_text('slurm_partion = "gpu"\n')
    assert cli.main(["verify", "--claims", str(claims_file), "--cluster-config", str(config), "--plan"]) == 2
    assert "unknown key 'slurm_partion'" in capsys.readouterr().err


def test_the_workers_device_decides_with_slurm_and_ray():
    slurm = ClusterOptions(executor="slurm")
    assert worker_device(slurm, "auto", "paper") == "cuda"               # a login node has no GPU: the workers do
    assert worker_device(slurm, "auto", "cpu") == "cpu"
    with pytest.raises(UsageError, match="--unit-gpus"):
        worker_device(slurm, "cuda", "cpu")
    with pytest.raises(UsageError, match="--scale gpu"):
        worker_device(ClusterOptions(executor="ray", unit_gpus=0), "auto", "gpu")


def test_sbatch_gets_the_options():
    params = submitit_parameters(SlurmSettings(partition="gpu", account="lab", time_min=90, array_parallelism=8,
                                               setup=("source venv/bin/activate",), extra=("qos=high",)),
                                 Resources(gpus=1, cpus=4, mem_gb=32))
    assert params["slurm_partition"] == "gpu" and params["slurm_account"] == "lab" and params["timeout_min"] == 90
    assert (params["gpus_per_node"], params["cpus_per_task"], params["mem_gb"]) == (1, 4, 32)
    assert params["slurm_array_parallelism"] == 8 and params["slurm_setup"] == ["source venv/bin/activate"]
    assert params["slurm_additional_parameters"] == {"qos": "high"}
    with pytest.raises(UsageError, match="KEY=VALUE"):
        SlurmSettings(extra=("qos",))


def test_slurm_mode_needs_a_slurm_machine(claims_file, tmp_path, capsys):
    pytest.importorskip("submitit", reason='submitit is not installed: pip install "advland[slurm]"')
    if any((Path(p) / "srun").exists() for p in os.environ.get("PATH", "").split(os.pathsep)):
        pytest.skip("this machine has srun")
    code = cli.main(["verify", "--claims", str(claims_file), "--only", "x.good", "--scale", "smoke", "--no-progress",
                     "--store", str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "r"), "--executor", "slurm"])
    assert code == cli.EXIT_USAGE and "srun" in capsys.readouterr().err


def test_ray_missing_is_a_clear_usage_error(claims_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)        # as if Ray were not installed
    code = cli.main(["verify", "--claims", str(claims_file), "--only", "x.good", "--scale", "smoke", "--no-progress",
                     "--store", str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "r"), "--executor", "ray"])
    assert code == cli.EXIT_USAGE and 'pip install "advland[ray]"' in capsys.readouterr().err


# ------------------------------------------------------------------ the cost model

def _train_params(**config):
    from advland.claims.empirical.runs import resolve_params

    base = {"model": "lenet", "width": 2, "dataset": "mnist", "method": "at", "eps": 0.1, "epochs": 2, "subset": 200,
            "attack_steps": 2}
    return resolve_params({**base, **config}, [], [{"name": "eval", "n": 50, "steps": 2}])


def test_training_passes_grow_with_epochs_steps_and_examples():
    base = cost.training_passes(_train_params())
    assert cost.training_passes(_train_params(epochs=4)) > base
    assert cost.training_passes(_train_params(attack_steps=5)) > base
    assert cost.training_passes(_train_params(subset=400)) > base
    assert cost.training_passes(_train_params(method="trades")) > base


def test_a_stored_unit_calibrates_the_estimate_of_a_similar_one(tmp_path):
    from advland.claims.empirical.runs import training_unit

    done = training_unit(config={**_train_params()["config"]}, measures=[{"name": "eval", "n": 50, "steps": 2}])
    longer = training_unit(config={**_train_params(epochs=4)["config"]}, measures=[{"name": "eval", "n": 50,
                                                                                    "steps": 2}])
    with Store(tmp_path / "s.sqlite") as store:
        store.try_start(done)
        store.finish(done, {"seconds": 10.0}, environment={"device": "cpu"}, seconds=10.0)
        model = cost.CostModel(store.rows("done"))
    assert model.estimate(done, "cpu") == cost.Estimate(10.0, "cpu", "measured")
    estimate = model.estimate(longer, "cpu")
    ratio = cost.training_passes(dict(longer.params)) / cost.training_passes(dict(done.params))
    assert estimate.basis == "calibrated" and estimate.seconds == pytest.approx(10.0 * ratio)
    assert model.estimate(longer, "cuda").basis == "model"                 # the store knows no GPU run
    assert cost.CostModel().estimate(longer, "cpu").seconds == pytest.approx(
        cost.training_passes(dict(longer.params)) * cost.CPU_SECONDS_PER_PASS[("lenet", 2, "mnist")])


def test_a_unit_of_a_kind_never_run_has_no_estimate(claims_file):
    (unit,) = load_claims_file(claims_file)[1].plan(Context())
    assert cost.CostModel().estimate(unit, "cuda") == cost.Estimate(None, "cpu", "unknown")


def test_process_probe():
    assert process_exists(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not process_exists(child.pid)


def test_the_heartbeat_thread_ends_with_the_run(claims_file, tmp_path):
    good = load_claims_file(claims_file)[0]
    before = threading.active_count()
    with Store(tmp_path / "s.sqlite") as store:
        run_claims([good], Context(), executor=_driver(store, Scripted({})))
    assert threading.active_count() == before


def test_the_readme_s_cluster_config_is_valid(tmp_path):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = readme[readme.index("# cluster.toml"):]
    config = tmp_path / "cluster.toml"
    config.write_text(block[:block.index("```")])
    from advland.claims.jobs.executors import cluster_options

    options = cluster_options({}, config)
    assert (options.executor, options.slurm_partition, options.unit_gpus) == ("slurm", "gpu", 1)
