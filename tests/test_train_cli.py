"""`advland train` / `advland eval` through empirical.cli.register with a parser built here."""
import argparse
import json
import os
import subprocess
import sys

import pytest
import torch

from advland import train_commands as cli

DATA = os.environ.get("ADVLAND_DATA")
needs_data = pytest.mark.skipif(not DATA, reason="ADVLAND_DATA is not set (MNIST needed for the CLI run)")


def parse(*argv):
    parser = argparse.ArgumentParser(prog="advland")
    cli.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(list(argv))


def run(*argv):
    args = parse(*argv)
    return args.func(args)


def test_building_the_cli_does_not_import_torch():
    code = "import sys, advland.cli as c; c.build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("argv,message", [
    (["--model", "alexnet", "--dataset", "mnist", "--method", "at", "--eps", "0.1"], "unknown model"),
    (["--model", "lenet", "--dataset", "svhn", "--method", "at", "--eps", "0.1"], "unknown dataset"),
    (["--model", "preactresnet18", "--dataset", "mnist", "--method", "at", "--eps", "0.1"], "in_channels"),
])
def test_bad_names_fail_before_any_work(tmp_path, capsys, argv, message):
    out = tmp_path / "run"
    assert run("train", *argv, "--out", str(out)) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("argv", [
    ["--method", "mart", "--eps", "0.1"], ["--method", "at", "--eps", "-0.1"],
    ["--method", "at", "--eps", "0.1", "--schedule", "step"], ["--method", "at", "--eps", "0.1", "--norm", "l1"],
])
def test_bad_choices_are_argparse_errors(tmp_path, argv):
    with pytest.raises(SystemExit):
        parse("train", "--model", "lenet", "--dataset", "mnist", *argv, "--out", str(tmp_path / "r"))


def test_eval_of_a_missing_run_is_a_clear_error(tmp_path, capsys):
    assert run("eval", "--run", str(tmp_path / "none"), "--attack", "pgd") == 2
    assert "not a training run" in capsys.readouterr().err


@needs_data
def test_train_then_eval_writes_the_run_files(tmp_path, capsys):
    out = tmp_path / "run"
    code = run("train", "--model", "lenet", "--width", "1", "--dataset", "mnist", "--method", "at", "--eps", "0.1",
               "--epochs", "1", "--subset", "100", "--eval-subset", "50", "--attack-steps", "2", "--eval-steps", "2",
               "--optimizer", "adam", "--lr", "1e-3", "--batch-size", "50", "--out", str(out))
    assert code == 0
    config = json.loads((out / "config.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert config["bn_attack"] == "eval" and config["model"] == "lenet" and config["eps"] == 0.1
    assert metrics["status"] == "completed" and (out / "checkpoint.pt").is_file()
    env = json.loads((out / "environment.json").read_text())["invocations"]
    assert len(env) == 1 and env[0]["seed"] == 0 and env[0]["versions"]["torch"] and "commit" in env[0]["git"]
    assert run("eval", "--run", str(out), "--attack", "apgd-ce", "--steps", "3", "--subset", "40") == 0
    result = json.loads((out / "eval_apgd-ce.json").read_text())
    assert result["n"] == 40 and 0 <= result["robust_acc"] <= result["clean_acc"] <= 1
    assert result["environment"]["device"]["cpu_count"] >= 1
    # a checkpoint of another model
    config["width"] = 3
    (out / "config.json").write_text(json.dumps(config))
    capsys.readouterr()
    assert run("eval", "--run", str(out), "--attack", "pgd", "--steps", "1", "--subset", "10") == 2
    assert "does not match model" in capsys.readouterr().err


def test_cli_choices_agree_with_the_engine():
    from advland.empirical import attacks
    from advland.empirical.train import loop as train

    assert cli.METHODS == train.METHODS and cli.NORMS == attacks.NORMS
    assert set(cli.ATTACKS) <= set(attacks.ATTACK_NAMES)
