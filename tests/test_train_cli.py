"""`advland train` / `advland eval` through the one parser: checks before any work, and a real tiny run."""
import json
import os
import subprocess
import sys

import pytest

from advland import cli

DATA = os.environ.get("ADVLAND_DATA")
needs_data = pytest.mark.skipif(not DATA, reason="ADVLAND_DATA is not set (MNIST needed for the CLI run)")


def run(*argv) -> int:
    """The exit status of ``advland ARGV``, argparse's own errors included."""
    try:
        return cli.main([str(a) for a in argv])
    except SystemExit as e:
        return e.code


def test_building_the_cli_does_not_import_torch():
    code = "import sys, advland.cli as c; c.build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("argv,message", [
    (["--model", "alexnet", "--dataset", "mnist", "--method", "at", "--eps", "0.1"], "'alexnet'"),
    (["--model", "lenet", "--dataset", "svhn", "--method", "at", "--eps", "0.1"], "'svhn'"),
    (["--model", "lenet", "--dataset", "mnist", "--method", "mart", "--eps", "0.1"], "'mart'"),
    (["--model", "lenet", "--dataset", "mnist", "--method", "at", "--eps", "-0.1"], "-0.1"),
    (["--model", "lenet", "--dataset", "mnist", "--method", "at", "--eps", "0.1", "--norm", "l1"], "'l1'"),
    (["--model", "preactresnet18", "--dataset", "mnist", "--method", "at", "--eps", "0.1"], "in_channels"),
    (["--model", "lenet", "--dataset", "mnist", "--method", "at", "--eps", "0.1", "--subset", "70000"], "70000"),
    (["--model", "lenet", "--dataset", "mnist", "--method", "at", "--eps", "0.1", "--periods", "0", "5"], "periods"),
    (["--model", "lenet", "--dataset", "mnist", "--method", "at", "--eps", "0.1", "--data-dir", "/no/such/dir"],
     "/no/such/dir"),
])
def test_bad_input_fails_with_status_2_before_any_work(tmp_path, capsys, argv, message):
    out = tmp_path / "run"
    assert run("train", *argv, "--out", out) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_an_out_folder_that_cannot_be_written_is_a_usage_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert run("train", "--model", "lenet", "--dataset", "mnist", "--method", "at", "--eps", "0.1",
               "--out", blocker / "run") == 2
    assert str(blocker) in capsys.readouterr().err


def test_eval_of_a_missing_run_is_a_clear_error(tmp_path, capsys):
    assert run("eval", "--run", tmp_path, "--attack", "pgd") == 2
    assert "not a training run: config.json is missing" in capsys.readouterr().err


@pytest.mark.slow
@needs_data
def test_train_then_eval_writes_the_run_files(tmp_path, capsys):
    out = tmp_path / "run"
    config_file = tmp_path / "tiny.toml"
    config_file.write_text('model = "lenet"\nwidth = 1\ndataset = "mnist"\nmethod = "at"\neps = 0.1\nepochs = 1\n'
                           'subset = 100\neval_subset = 50\nattack_steps = 2\neval_steps = 2\noptimizer = "adam"\n'
                           'batch_size = 50\n')
    assert run("train", "--config", config_file, "--lr", "1e-3", "--out", out) == 0
    config = json.loads((out / "config.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert config["bn_attack"] == "eval" and config["model"] == "lenet" and config["eps"] == 0.1
    assert config["lr"] == 1e-3 and config["attack_steps"] == 2 and config["data_dir"] == str(DATA)
    assert metrics["status"] == "completed" and (out / "checkpoint.pt").is_file()
    env = json.loads((out / "environment.json").read_text())["invocations"]
    assert len(env) == 1 and env[0]["seed"] == 0 and env[0]["versions"]["torch"] and "commit" in env[0]["git"]
    # the same run again is complete; another configuration in the same folder is refused before any work
    assert run("train", "--config", config_file, "--lr", "1e-3", "--out", out) == 0
    before = (out / "environment.json").read_text()
    capsys.readouterr()
    assert run("train", "--config", config_file, "--lr", "1e-2", "--out", out) == 2
    assert "different configuration (fields ['lr'])" in capsys.readouterr().err
    assert (out / "environment.json").read_text() == before
    # a run stopped before its first checkpoint (config.json only) is resumed
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    (crashed / "config.json").write_text((out / "config.json").read_text())
    assert run("train", "--config", config_file, "--lr", "1e-3", "--out", crashed) == 0
    # eval: a class-balanced subset of the test split, written where --out says
    result_file = tmp_path / "results" / "apgd.json"
    assert run("eval", "--run", out, "--attack", "apgd-ce", "--steps", "3", "--subset", "40",
               "--out", result_file) == 0
    result = json.loads(result_file.read_text())
    assert result["n"] == 40 and result["subset"] == 40 and 0 <= result["robust_acc"] <= result["clean_acc"] <= 1
    assert result["environment"]["device"]["cpu_count"] >= 1
    # a checkpoint of another model
    config["width"] = 3
    (out / "config.json").write_text(json.dumps(config))
    capsys.readouterr()
    assert run("eval", "--run", out, "--attack", "pgd", "--steps", "1", "--subset", "10") == 2
    assert "does not match model" in capsys.readouterr().err
