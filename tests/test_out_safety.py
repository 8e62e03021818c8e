"""No command loses a file it did not write (issue 9, item 1): every --out is checked before any work; a report
folder is replaced atomically, a kill at any step leaves the old report or the new one, and the next run cleans
what a killed one left; results of eval and measure are kept per setting."""
import json
import dataclasses
import os
from pathlib import Path

import pytest
import torch

from advland import cli, outputs
from advland.empirical.models import build_model
from advland.empirical.train.config import TrainConfig
from advland.errors import UsageError
from advland.empirical.train.checkpoint import save_checkpoint
from advland.io import write_json

DATA = os.environ.get("ADVLAND_DATA")
needs_data = pytest.mark.skipif(not DATA, reason="ADVLAND_DATA is not set (the MNIST files are needed)")
TRAIN = ["train", "--model", "lenet", "--width", "1", "--dataset", "mnist", "--method", "at", "--eps", "0.1",
         "--epochs", "1", "--subset", "20", "--eval-subset", "10", "--grad-subset", "10", "--steps", "1",
         "--eval-steps", "1", "--batch-size", "10"]

CLAIMS = '''
from advland.claims import claim, Check, Outcome, Verdict
from pathlib import Path

@claim("t.ok", where="here", statement="s", formula="f")
def ok(ctx):
    Path(__file__).with_name("ran").write_text("the claim ran")
    return Outcome("fine", [Check("c", Verdict.CONFIRMED)])
'''


def advland(*argv) -> int:
    try:
        return cli.main([str(a) for a in argv])
    except SystemExit as e:
        return e.code


@pytest.fixture
def claims_file(tmp_path):
    f = tmp_path / "claims" / "mine.py"
    f.parent.mkdir()
    f.write_text(CLAIMS)
    return f


def verify(out, claims_file, *extra) -> int:
    return advland("verify", "--no-progress", "--scale", "smoke", "--claims", claims_file, "--only", "t.ok",
                   "--out", out, *extra)


def user_files(folder: Path) -> dict:
    (folder / "sub").mkdir(parents=True)
    files = {folder / "thesis.txt": "four years of work", folder / "sub" / "data.csv": "1,2,3"}
    for path, text in files.items():
        path.write_text(text)
    return files


def intact(files: dict) -> bool:
    return all(p.read_text() == text for p, text in files.items())


# ------------------------------------------------------------------ verify --out

def test_out_creates_a_missing_folder(tmp_path, claims_file):
    out = tmp_path / "deep" / "er" / "report"
    assert verify(out, claims_file) == 0
    marker = json.loads((out / outputs.REPORT_MARKER).read_text())
    assert marker["kind"] == "report" and "claims.json" in marker["files"]
    assert sorted(os.listdir(out.parent)) == ["report"]          # no staging or old folder beside it


def test_out_refuses_a_folder_with_user_files(tmp_path, claims_file, capsys):
    out = tmp_path / "mine"
    files = user_files(out)
    assert verify(out, claims_file) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--overwrite" in err and "thesis.txt" in err
    assert intact(files) and not (claims_file.parent / "ran").exists()   # refused before any work


def test_out_refuses_an_existing_file(tmp_path, claims_file, capsys):
    out = tmp_path / "notes.txt"
    out.write_text("mine")
    assert verify(out, claims_file) == 2
    assert "--overwrite" in capsys.readouterr().err and out.read_text() == "mine"
    assert not (claims_file.parent / "ran").exists() and sorted(os.listdir(tmp_path)) == ["claims", "notes.txt"]


def test_out_overwrite_replaces_what_the_user_named(tmp_path, claims_file):
    out = tmp_path / "mine"
    user_files(out)
    assert verify(out, claims_file, "--overwrite") == 0
    assert (out / "claims.json").is_file() and not (out / "thesis.txt").exists()
    assert sorted(os.listdir(tmp_path)) == ["claims", "mine"]


def test_out_replaces_a_previous_report(tmp_path, claims_file):
    out = tmp_path / "report"
    assert verify(out, claims_file) == 0
    (out / "plots" / "stale.png").write_bytes(b"an old plot of ours")
    marker = json.loads((out / outputs.REPORT_MARKER).read_text())
    marker["files"].append("plots/stale.png")
    (out / outputs.REPORT_MARKER).write_text(json.dumps(marker))
    assert verify(out, claims_file) == 0
    assert not (out / "plots" / "stale.png").exists() and sorted(os.listdir(tmp_path)) == ["claims", "report"]


def test_out_recognises_a_report_written_before_markers(tmp_path, claims_file):
    out = tmp_path / "report"
    (out / "plots").mkdir(parents=True)
    (out / "claims.json").write_text('{"schema_version": 1}')
    (out / "report.md").write_text("old")
    (out / "plots" / "a__b.png").write_bytes(b"png")
    assert verify(out, claims_file) == 0 and (out / outputs.REPORT_MARKER).is_file()


def test_out_refuses_a_report_folder_the_user_added_a_file_to(tmp_path, claims_file, capsys):
    out = tmp_path / "report"
    assert verify(out, claims_file) == 0
    (out / "my-notes.md").write_text("notes")
    assert verify(out, claims_file) == 2
    assert "my-notes.md" in capsys.readouterr().err and (out / "my-notes.md").read_text() == "notes"


def test_out_never_replaces_the_current_folder(tmp_path, claims_file, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert verify(".", claims_file, "--overwrite") == 2
    assert "current folder" in capsys.readouterr().err and (tmp_path / "claims").is_dir()


@pytest.mark.parametrize("where", ["under a file", "unwritable"])
def test_out_in_an_unwritable_place_is_refused_before_any_work(tmp_path, claims_file, capsys, where):
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "report" if where == "under a file" else Path("/proc/advland-report")
    assert verify(out, claims_file) == 2
    assert "cannot write" in capsys.readouterr().err and not (claims_file.parent / "ran").exists()


# ------------------------------------------------------------------ atomic replacement and debris

def old_report(d: Path) -> None:
    (d / "plots").mkdir()
    (d / "plots" / "old.png").write_bytes(b"old")
    (d / "claims.json").write_text('{"schema_version": 1, "which": "old"}')


def new_report(d: Path) -> None:
    (d / "plots").mkdir()
    (d / "plots" / "new.png").write_bytes(b"new")
    (d / "report.md").write_text("new")
    (d / "claims.json").write_text('{"schema_version": 1, "which": "new"}')


def which(folder: Path) -> str | None:
    """'old' or 'new' when ``folder`` holds that complete report, else None."""
    if not (folder / outputs.REPORT_MARKER).is_file():
        return None
    files = json.loads((folder / outputs.REPORT_MARKER).read_text())["files"]
    name = json.loads((folder / "claims.json").read_text())["which"]
    expected = {"old": ["claims.json", "plots/old.png"],
                "new": ["claims.json", "plots/new.png", "report.md"]}[name]
    return name if files == expected and outputs.entries(folder) == sorted(expected + [outputs.REPORT_MARKER]) else None


KILL_EVENTS = {"open", "os.rename", "os.mkdir", "os.rmdir", "os.remove", "os.chmod", "shutil.rmtree",
               "tempfile.mkdtemp", "tempfile.mkstemp", "ctypes.call_function"}


def killed_at(step: int, target: Path, exchange: bool) -> bool:
    """Replace ``target`` by the new report in a child process killed (os._exit, no clean-up runs) just before
    its ``step``-th file-system operation; True if it finished first."""
    pid = os.fork()
    if pid == 0:   # the child: never returns
        try:
            if not exchange:
                outputs._exchange = lambda a, b: False
            count = [0]

            def hook(event, args):
                if event in KILL_EVENTS:
                    count[0] += 1
                    if count[0] == step:
                        os._exit(9)
            import sys
            sys.addaudithook(hook)
            outputs.replace_folder(target, new_report)
            os._exit(0)
        finally:
            os._exit(3)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2-exchange", "two-renames"])
def test_a_kill_at_any_step_leaves_the_old_or_the_new_report(tmp_path, exchange):
    if exchange and not outputs._exchange(tmp_path, tmp_path):
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available here")
    seen = set()
    for step in range(1, 500):
        base = tmp_path / str(step)
        base.mkdir()
        target = base / "report"
        outputs.replace_folder(target, old_report)
        finished = killed_at(step, target, exchange)
        now = which(target)
        if exchange:
            assert now in ("old", "new"), step             # at every instant: the old report or the new one
        else:
            assert now in ("old", "new") or not target.exists(), step
        outputs.clean_debris(target)                         # what the next run does first
        after = which(target)
        assert after in ("old", "new") and (now is None or after == now), step
        assert sorted(os.listdir(base)) == ["report"], step  # no debris left
        seen.add(after)
        if finished:
            break
    assert finished and seen == {"old", "new"}


def test_debris_of_a_killed_run_is_cleaned_by_the_next(tmp_path, claims_file):
    out = tmp_path / "report"
    assert verify(out, claims_file) == 0
    dead = 2 ** 22 + 12345                                    # above Linux's pid_max default: no such process
    for name in (f".report.advland-staging-{dead}-x1", f".report.advland-old-{dead}-x2", ".report.staging-abc"):
        (tmp_path / name / "plots").mkdir(parents=True)
        (tmp_path / name / "claims.json").write_text('{"schema_version": 1}')
    live = tmp_path / f".report.advland-staging-{os.getppid()}-x3"   # a run in progress elsewhere: left alone
    live.mkdir()
    assert verify(out, claims_file) == 0
    assert sorted(os.listdir(tmp_path)) == sorted(["claims", "report", live.name])


def test_a_missing_report_is_restored_from_the_old_copy_a_kill_left(tmp_path):
    target = tmp_path / "report"
    old = tmp_path / f".report.advland-old-{2 ** 22 + 1}-x"
    old.mkdir()
    old_report(old)
    outputs.clean_debris(target)
    assert json.loads((target / "claims.json").read_text())["which"] == "old" and os.listdir(tmp_path) == ["report"]


# ------------------------------------------------------------------ train --out

@needs_data
def test_train_out_refuses_a_folder_with_user_files(tmp_path, capsys):
    out = tmp_path / "run"
    files = user_files(out)
    assert advland(*TRAIN, "--out", out) == 2
    err = capsys.readouterr().err
    assert "--overwrite" in err and "thesis.txt" in err and intact(files)
    assert sorted(os.listdir(out)) == ["sub", "thesis.txt"]


@needs_data
def test_train_out_refuses_a_file_and_a_run_of_another_configuration(tmp_path, capsys):
    from advland.options import given
    from advland.train_commands import _check_training_inputs, train_config

    blocker = tmp_path / "file"
    blocker.write_text("mine")
    assert advland(*TRAIN, "--out", blocker) == 2
    assert "--overwrite" in capsys.readouterr().err and blocker.read_text() == "mine"
    args = cli.build_parser().parse_args([*TRAIN, "--out", "x"])
    cfg = train_config(None, given(args, TrainConfig))
    other = tmp_path / "other"
    other.mkdir()
    write_json(other / "config.json", {**dataclasses.asdict(cfg), "lr": 0.5})
    assert advland(*TRAIN, "--out", other) == 2
    assert "different configuration (fields ['lr'])" in capsys.readouterr().err
    assert _check_training_inputs(cfg, other, overwrite=True)      # --overwrite: emptied before training
    assert not _check_training_inputs(cfg, tmp_path / "new", overwrite=False)


# ------------------------------------------------------------------ eval and measure results per setting

def make_run(path: Path) -> Path:
    torch.manual_seed(0)
    path.mkdir()
    save_checkpoint(path / "checkpoint.pt", {"model": build_model("lenet", width=1).state_dict()})
    write_json(path / "config.json", {"model": "lenet", "width": 1, "dataset": "mnist", "num_classes": 10,
                                      "method": "at", "eps": 0.1, "norm": "linf", "seed": 0})
    return path


@needs_data
def test_eval_results_of_different_settings_are_kept(tmp_path):
    run = make_run(tmp_path / "run")
    common = ["eval", "--run", run, "--subset", "10", "--steps", "1", "--batch-size", "10"]
    assert advland(*common, "--eps", "0.1") == 0
    assert advland(*common, "--eps", "0.05") == 0
    assert advland(*common, "--eps", "0.05") == 0                   # the same setting: its own file, replaced
    files = sorted(run.glob("eval-pgd-*.json"))
    settings = [json.loads(f.read_text())["setting"] for f in files]
    assert len(files) == 2 and sorted(s["eps"] for s in settings) == [0.05, 0.1]
    assert all(s["subset"] == 10 and s["steps"] == 1 for s in settings)


@needs_data
def test_eval_out_refuses_the_result_of_another_setting(tmp_path, capsys):
    run = make_run(tmp_path / "run")
    out = tmp_path / "result.json"
    common = ["eval", "--run", run, "--subset", "10", "--steps", "1", "--batch-size", "10", "--out", out]
    assert advland(*common) == 0
    before = out.read_text()
    assert advland(*common, "--eps", "0.05") == 2
    err = capsys.readouterr().err
    assert "another setting" in err and "eps 0.1 -> 0.05" in err and "--overwrite" in err and out.read_text() == before
    assert advland(*common, "--eps", "0.05", "--overwrite") == 0
    assert json.loads(out.read_text())["setting"]["eps"] == 0.05


def test_result_files_refuse_user_files_and_plots(tmp_path):
    record = outputs.result_record("measure scan", {"eps": 0.1}, tmp_path)
    mine = tmp_path / "mine.json"
    mine.write_text('{"my": "numbers"}')
    with pytest.raises(UsageError, match="not this setting's result.*--overwrite"):
        outputs.check_result_file(mine, "--out", record)
    plot = tmp_path / "r.png"
    plot.write_bytes(b"my figure")
    with pytest.raises(UsageError, match="r.png exists"):
        outputs.check_result_file(tmp_path / "r.json", "--out", record, companions=[plot])
    write_json(tmp_path / "r.json", record)                         # our result of this setting: replaced
    assert outputs.check_result_file(tmp_path / "r.json", "--out", record, companions=[plot]) == tmp_path / "r.json"
    assert outputs.check_result_file(mine, "--out", record, overwrite=True) == mine
    with pytest.raises(UsageError, match="cannot write"):
        outputs.check_result_file(mine / "under-a-file.json", "--out", record)


def test_setting_keys_tell_settings_apart():
    a = {"attack": "pgd", "eps": 0.1, "steps": 20, "subset": None}
    assert outputs.setting_key(a) == outputs.setting_key(dict(reversed(list(a.items()))))
    assert len({outputs.setting_key({**a, k: v}) for k, v in
                [("eps", 0.05), ("steps", 10), ("subset", 20), ("attack", "apgd-ce")]} | {outputs.setting_key(a)}) == 5
    assert outputs.result_name("eval-pgd", a).startswith("eval-pgd-")


def test_a_dead_pid_is_not_alive():
    assert not outputs._pid_alive(2 ** 22 + 7) and outputs._pid_alive(os.getpid())
