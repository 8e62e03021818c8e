"""An honest console (issue 9, item 2): verify's totals, skipped checks with their reason and fix, the report path;
lines wrapped, never cut inside a word; plain progress lines in a log; a user claim that exits or is interrupted;
no traceback for what a user can cause; nothing written into the current folder; and `advland data`."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, strategies as st

from advland import cli, console
from advland.empirical import data

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "user_claims.py"
DATA = os.environ.get("ADVLAND_DATA")
needs_data = pytest.mark.skipif(not DATA, reason="ADVLAND_DATA is not set (the MNIST files are needed)")

CLAIMS = '''
import sys
from advland.claims import claim, Check, Outcome, Verdict

@claim("t.good", where="here", statement="s", formula="f")
def good(ctx):
    return Outcome("a summary long enough to be wrapped " * 6,
                   [Check("holds", Verdict.CONFIRMED),
                    Check("on MNIST", Verdict.SKIPPED, note="MNIST unavailable: mnist train data not found under /x.\\n"
                          "  /x/mnist/train-images-idx3-ubyte.gz [missing]\\n"
                          "fix: advland data fetch --dataset mnist --data-dir /x")])

@claim("t.exits", where="here", statement="s", formula="f")
def exits(ctx):
    sys.exit(0)

@claim("t.interrupted", where="here", statement="s", formula="f")
def interrupted(ctx):
    raise KeyboardInterrupt
'''


def advland(*argv) -> int:
    try:
        return cli.main([str(a) for a in argv])
    except SystemExit as e:
        return e.code


@pytest.fixture
def claims_file(tmp_path):
    f = tmp_path / "claims.py"
    f.write_text(CLAIMS)
    return f


def verify(tmp_path, claims_file, *only, extra=()):
    out = tmp_path / "report"
    return advland("verify", "--no-progress", "--scale", "smoke", "--claims", claims_file, "--only", *only,
                   "--out", out, *extra), out


# ------------------------------------------------------------------ verify's account

def test_verify_prints_totals_skipped_checks_with_reason_and_fix_and_the_report_path(tmp_path, claims_file, capsys,
                                                                                    monkeypatch):
    monkeypatch.setenv("COLUMNS", "70")
    code, out = verify(tmp_path, claims_file, "t.good")
    text = capsys.readouterr().out
    flat = " ".join(text.split())
    assert code == 0
    assert "1 claim: 1 confirmed" in text and "2 checks: 1 confirmed, 1 skipped" in text
    assert "skipped: t.good / on MNIST: MNIST unavailable: mnist train data not found under /x." in flat
    assert "fix: advland data fetch --dataset mnist --data-dir /x" in flat
    assert f"report: {out / 'report.html'}" in flat
    assert all(len(line) <= 70 for line in text.splitlines() if " " in line.strip())


def test_missing_data_messages_carry_the_command_that_fixes_it(tmp_path):
    with pytest.raises(data.DataError) as err:
        data.load_arrays("mnist", "test", tmp_path)
    fixes = [line for line in str(err.value).splitlines() if line.startswith(console.FIX)]
    assert fixes == [f"fix: advland data fetch --dataset mnist --data-dir {tmp_path}   (offline: advland data check "
                     f"--dataset mnist --data-dir {tmp_path} says where each file comes from)"]


@given(st.lists(st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF,
                                      blacklist_categories=("Zs", "Zl", "Zp", "Cc")), min_size=1, max_size=30),
                min_size=1, max_size=40), st.integers(40, 120))
def test_console_lines_are_wrapped_not_cut(words, columns):
    text = console.wrap(" ".join(words), first="  result: ", indent="    ", columns=columns)
    assert text.split() == ["result:", *words]                       # every word whole, in order
    assert all(len(line) <= columns or len(line.split()) == 1 + (i == 0) for i, line in enumerate(text.splitlines()))


def test_user_claim_calling_sys_exit_is_an_error_verdict(tmp_path, claims_file, capsys):
    code, out = verify(tmp_path, claims_file, "t.exits", "t.good")
    doc = json.loads((out / "claims.json").read_text())
    assert code == cli.EXIT_FAILED
    assert {c["id"]: c["verdict"] for c in doc["claims"]} == {"t.good": "confirmed", "t.exits": "error"}
    assert "sys.exit(0)" in next(c for c in doc["claims"] if c["id"] == "t.exits")["evidence"]["summary"]
    assert "error: t.exits" in capsys.readouterr().out


def test_user_claims_file_calling_sys_exit_on_import_is_a_usage_error(tmp_path, capsys):
    f = tmp_path / "exits.py"
    f.write_text("import sys\nsys.exit(0)\n")
    assert advland("verify", "--claims", f, "--out", tmp_path / "r") == cli.EXIT_USAGE
    assert "exits.py failed to import: SystemExit" in capsys.readouterr().err and not (tmp_path / "r").exists()


def test_ctrl_c_in_verify_writes_the_report_of_the_finished_claims_and_exits_130(tmp_path, claims_file, capsys):
    code, out = verify(tmp_path, claims_file, "t.good", "t.interrupted")
    assert code == cli.EXIT_INTERRUPTED
    doc = json.loads((out / "claims.json").read_text())
    assert [c["id"] for c in doc["claims"]] == ["t.good"]
    assert doc["environment"]["interrupted"] == {"finished": ["t.good"], "not_run": ["t.interrupted"]}
    assert "interrupted: 1 of 2 claims finished" in capsys.readouterr().out


def test_ctrl_c_before_any_claim_finishes_keeps_the_previous_report(tmp_path, claims_file, capsys):
    code, out = verify(tmp_path, claims_file, "t.good")
    before = (out / "claims.json").read_text()
    assert verify(tmp_path, claims_file, "t.interrupted")[0] == cli.EXIT_INTERRUPTED
    assert "no report written" in capsys.readouterr().err and (out / "claims.json").read_text() == before


@pytest.mark.slow
def test_verify_into_a_log_prints_a_line_per_claim_and_writes_nothing_into_the_current_folder(tmp_path):
    """A real process, as a user runs it, with its output going to a file: the example's counterexample search
    (hypothesis) must not create ./.hypothesis."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("HYPOTHESIS_STORAGE_DIRECTORY", None)
    cwd = tmp_path / "work"
    cwd.mkdir()
    with open(tmp_path / "log.txt", "w") as log:
        code = subprocess.run([sys.executable, "-m", "advland", "verify", "--scale", "smoke", "--claims", EXAMPLE,
                               "--only", "mine", "--out", "report"], cwd=cwd, env=env, stdout=log,
                              stderr=subprocess.STDOUT, timeout=300).returncode
    text = (tmp_path / "log.txt").read_text()
    assert code == 0, text
    assert os.listdir(cwd) == ["report"]
    claims = [c["id"] for c in json.loads((cwd / "report" / "claims.json").read_text())["claims"]]
    assert all(re.search(rf"^ *confirmed  {re.escape(c)} \(", text, re.M) for c in claims)
    assert "\r" not in text and "report: report/report.html" in text


# ------------------------------------------------------------------ no traceback for what a user can cause

@pytest.mark.slow
def test_list_json_into_a_closed_pipe():
    read, write = os.pipe()
    os.close(read)                                   # the reader is gone before advland writes (| head -0)
    proc = subprocess.run([sys.executable, "-m", "advland", "list", "--json"], stdout=write, stderr=subprocess.PIPE,
                          text=True, timeout=120)
    os.close(write)
    assert proc.returncode == cli.EXIT_PIPE and proc.stderr == ""


@pytest.mark.slow
def test_verify_into_a_closed_pipe_still_writes_the_report(tmp_path, claims_file):
    read, write = os.pipe()
    os.close(read)
    proc = subprocess.run([sys.executable, "-m", "advland", "verify", "--claims", claims_file, "--only", "t.good",
                           "--scale", "smoke", "--out", tmp_path / "report"], stdout=write, stderr=subprocess.PIPE,
                          text=True, timeout=120)
    os.close(write)
    assert proc.returncode == 0 and proc.stderr == ""
    assert json.loads((tmp_path / "report" / "claims.json").read_text())["claims"][0]["verdict"] == "confirmed"


def test_truncated_checkpoint_is_one_line_naming_the_file(tmp_path, capsys):
    from advland.empirical.models import build_model
    from advland.empirical.train.checkpoint import save_checkpoint
    from advland.io import write_json

    run = tmp_path / "run"
    run.mkdir()
    save_checkpoint(run / "checkpoint.pt", {"model": build_model("lenet", width=1).state_dict()})
    whole = (run / "checkpoint.pt").read_bytes()
    (run / "checkpoint.pt").write_bytes(whole[: len(whole) // 2])
    write_json(run / "config.json", {"model": "lenet", "width": 1, "dataset": "mnist", "num_classes": 10,
                                     "method": "at", "eps": 0.1, "norm": "linf", "seed": 0,
                                     "data_dir": DATA or str(tmp_path)})
    if not DATA:
        pytest.skip("ADVLAND_DATA is not set (eval checks the data before the checkpoint)")
    assert advland("eval", "--run", run, "--subset", "10") == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{run / 'checkpoint.pt'} cannot be read: truncated" in err


def test_broken_config_json_names_the_file(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"")
    (run / "config.json").write_text('{"model": "lenet",')
    assert advland("measure", "hessian", "--run", run) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{run / 'config.json'} is not readable JSON" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_measure_device_cuda_on_a_cpu_machine_is_one_line(tmp_path, capsys):
    from advland.empirical.models import build_model
    from advland.empirical.train.checkpoint import save_checkpoint
    from advland.io import write_json

    run = tmp_path / "run"
    run.mkdir()
    save_checkpoint(run / "checkpoint.pt", {"model": build_model("lenet", width=1).state_dict()})
    write_json(run / "config.json", {"model": "lenet", "width": 1, "dataset": "mnist", "num_classes": 10,
                                     "method": "at", "eps": 0.1, "norm": "linf", "seed": 0})
    if not DATA:
        pytest.skip("ADVLAND_DATA is not set (measure checks the data before the device)")
    assert advland("measure", "hessian", "--run", run, "--device", "cuda") == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--device cuda" in err and "Traceback" not in err


@needs_data
@pytest.mark.slow
def test_train_prints_a_line_per_epoch_and_ctrl_c_says_how_to_resume(tmp_path, capsys, monkeypatch):
    argv = ["train", "--model", "lenet", "--width", "1", "--dataset", "mnist", "--method", "at", "--eps", "0.1",
            "--epochs", "2", "--subset", "20", "--eval-subset", "10", "--grad-subset", "10", "--steps", "1",
            "--eval-steps", "1", "--batch-size", "10", "--optimizer", "adam", "--out", tmp_path / "run"]
    assert advland(*argv) == 0
    text = capsys.readouterr().out
    assert re.search(r"^epoch 1/2: train loss [\d.]+, test clean acc [\d.]+, robust acc [\d.]+ \(\d+ s\)$", text, re.M)
    assert re.search(r"^epoch 2/2: ", text, re.M) and (tmp_path / "run" / ".advland-run").is_file()

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr("advland.empirical.train.loop.train", interrupted)
    assert advland(*argv[:-1], tmp_path / "run2") == cli.EXIT_INTERRUPTED
    assert capsys.readouterr().err == ("advland train: interrupted; run the same command again to resume from the "
                                       "last finished epoch\n")


# ------------------------------------------------------------------ advland data

def test_data_check_names_each_missing_or_corrupt_file_and_the_fix(tmp_path, capsys):
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"truncated")
    assert advland("data", "check", "--dataset", "mnist", "--data-dir", tmp_path) == 1
    text = " ".join(capsys.readouterr().out.split())                   # undo the wrapping
    digest = data.CHECKSUMS["mnist/t10k-labels-idx1-ubyte.gz"][1]
    assert f"[corrupt] {tmp_path / 'mnist' / 't10k-labels-idx1-ubyte.gz'} sha256 {digest}" in text
    assert f"[missing] {tmp_path / 'mnist' / 'train-images-idx3-ubyte.gz'}" in text
    assert f"fetch: advland data fetch --dataset mnist --data-dir {tmp_path}" in text and "by hand: download" in text


@needs_data
def test_data_check_of_the_real_data_passes(capsys):
    assert advland("data", "check", "--dataset", "mnist") == 0
    assert f"mnist under {DATA}: complete, every file verified" in capsys.readouterr().out


def test_data_fetch_offline_says_how_to_put_the_files_by_hand(tmp_path, capsys, monkeypatch):
    def offline(dataset, data_dir=None, **kw):
        raise data.DataError(f"could not download {dataset} into {data_dir}:\n  https://mirror/x.gz: <urlopen "
                             "error [Errno -2] Name or service not known>")
    monkeypatch.setattr(data, "download", offline)
    assert advland("data", "fetch", "--dataset", "cifar10", "--data-dir", tmp_path) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Name or service not known" in err and "cifar-10-python.tar.gz" in err
    assert f"advland data check --dataset cifar10 --data-dir {tmp_path}" in err
