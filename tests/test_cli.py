"""The one parser and its contracts: options generated from the dataclasses, config files, the exit status of
every failure (2 usage, 1 bug with a log, 130 Ctrl-C), the shared option vocabulary and the README summary."""
import argparse
import dataclasses
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from advland import cli, options
from advland.empirical.names import ATTACK_NAMES
from advland.empirical.train.config import TrainConfig
from advland.errors import UsageError
from advland.measure_commands import KINDS
from advland.options import SUBSET_HELP, _kind, flag_of, hints, read_config, settable_fields
from advland.train_commands import EVAL_ATTACKS, EvalOptions, train_config

ROOT = Path(__file__).resolve().parent.parent
REQUIRED_TRAIN = ["--model", "lenet", "--dataset", "mnist", "--method", "at", "--eps", "0.1"]


def subparser(*words) -> argparse.ArgumentParser:
    p = cli.build_parser()
    for w in words:
        p = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction)).choices[w]
    return p


def code_of(argv) -> int:
    """The exit status of ``advland ARGV``, argparse's own errors included."""
    try:
        return cli.main(argv)
    except SystemExit as e:
        return e.code


def sample(f: dataclasses.Field, hint):
    """A valid value of a settable field other than its default."""
    base, many, _ = _kind(hint)
    m = f.metadata
    if m["choices"]:
        value = next(c for c in reversed(m["choices"]) if c != f.default)
    elif base is bool:
        value = not f.default
    elif base is str:
        value = "some-" + f.name
    else:
        value = base((m["minimum"] or 0) + 3)
    return [value] * (m["nargs"] if isinstance(m["nargs"], int) else 2) if many else value


def as_text(value) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


# ------------------------------------------------------------------ generated options

OPTION_CLASSES = [(("train",), TrainConfig), (("eval",), EvalOptions)] + [(("measure", k), c) for k, c in KINDS.items()]


@pytest.mark.parametrize("words,cls", OPTION_CLASSES, ids=lambda v: "-".join(v) if isinstance(v, tuple) else "")
def test_every_settable_field_has_its_option_and_nothing_else_is_set(words, cls):
    parser = subparser(*words)
    dests = {a.dest: a for a in parser._actions if a.help != argparse.SUPPRESS}   # aliases are hidden
    types = hints(cls)
    for f in settable_fields(cls):
        action = dests[f.name]
        assert flag_of(f) in action.option_strings and action.default is argparse.SUPPRESS
        if f.metadata["choices"] and not isinstance(action, argparse.BooleanOptionalAction):
            assert tuple(action.choices) == f.metadata["choices"]
    # with the required options only, every other field keeps the dataclass default (by construction)
    required = [f for f in settable_fields(cls) if f.metadata["required"]]
    argv = [x for f in required for x in (flag_of(f), *as_text(sample(f, types[f.name])))]
    extra = ["--out", "x"] if words == ("train",) else []
    args = cli.build_parser().parse_args([*words, *argv, *extra])
    assert set(vars(args)) & {f.name for f in settable_fields(cls)} == {f.name for f in required}
    # each option, given alone, sets exactly its field
    for f in settable_fields(cls):
        value = sample(f, types[f.name])
        if isinstance(value, bool):
            tokens = [flag_of(f) if value else "--no-" + flag_of(f)[2:]]
        else:
            tokens = [flag_of(f), *as_text(value)]
        args = cli.build_parser().parse_args([*words, *argv, *tokens, *extra])
        assert getattr(args, f.name) == value, f.name


def test_derived_training_fields_have_no_option_and_are_resolved():
    derived = {f.name for f in dataclasses.fields(TrainConfig)} - {f.name for f in settable_fields(TrainConfig)}
    assert derived == {"num_classes", "in_channels"}
    dests = {a.dest for a in subparser("train")._actions}
    assert not derived & dests
    cfg = train_config(None, {"model": "vgg", "dataset": "cifar10", "method": "awp", "eps": 0.03,
                              "optimizer": "adam"})
    assert (cfg.num_classes, cfg.in_channels, cfg.augment) == (10, 3, True)
    assert (cfg.lr, cfg.weight_decay, cfg.awp_gamma, cfg.awp_warmup) == (1e-4, 0.0, 0.01, 0)
    assert cfg.attack_step_size == pytest.approx(2.5 * 0.03 / cfg.attack_steps) and cfg.periods == [0.0, 10.0]


def test_old_spellings_are_hidden_aliases():
    args = cli.build_parser().parse_args(["train", *REQUIRED_TRAIN, "--attack-steps", "3", "--attack-step-size",
                                          "0.01", "--bn-attack", "train", "--out", "x"])
    assert (args.attack_steps, args.attack_step_size, args.bn_attack) == (3, 0.01, "train")
    text = subparser("train").format_help()
    assert "--steps" in text and "--bn-mode" in text and "--attack-steps" not in text and "--bn-attack" not in text


def test_shared_vocabulary_means_the_same_everywhere():
    commands = [("train",), ("eval",), ("verify",)] + [("measure", k) for k in KINDS]
    for words in commands:
        actions = subparser(*words)._option_string_actions
        assert tuple(actions["--device"].choices) == ("auto", "cpu", "cuda"), words
        assert "--seed" in actions and "--data-dir" in actions, words
        if words != ("verify",):
            assert SUBSET_HELP in actions["--subset"].help and "--steps" in actions and "--out" in actions, words
    for words in [("train",)] + [("measure", k) for k in KINDS]:
        assert tuple(subparser(*words)._option_string_actions["--bn-mode"].choices) == ("eval", "train")
    assert set(EVAL_ATTACKS) <= set(ATTACK_NAMES)


def test_readme_command_summary_is_the_parser_synopsis():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Commands"):]
    block = re.search(r"```\n(.*?)```", section, re.S).group(1).rstrip("\n")
    assert block == cli.synopsis(), ("README.md's Commands block is stale; replace it by the output of\n"
                                     "python -c 'from advland.cli import synopsis; print(synopsis())'")


def readme_commands() -> list[list[str]]:
    """Every ``advland ...`` line of the README's bash blocks, as argv (comments dropped)."""
    import shlex

    readme = (ROOT / "README.md").read_text()
    lines = [line.split("#")[0].strip() for block in re.findall(r"```bash\n(.*?)```", readme, re.S)
             for line in block.splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("advland ")]


def test_readme_commands_are_accepted_by_the_parser():
    commands = readme_commands()
    assert {c[0] for c in commands} >= {"verify", "data", "train", "eval", "measure"}
    for argv in commands:
        args = cli.build_parser().parse_args(argv)
        if argv[0] == "train":
            assert train_config(args.config, options.given(args, TrainConfig)).lr == 1e-3


def test_readme_names_every_data_file_where_the_loader_reads_it():
    from advland.empirical import data

    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```\n(mnist/.*?)```", readme[readme.index("## Data"):], re.S).group(1)
    named = {t.replace("{1..5}", str(k)) for t in block.split() for k in range(1, 6)}
    for dataset in ("mnist", "cifar10"):
        for split in ("train", "test"):
            for layout in data._layouts(dataset, split):
                assert set(layout) <= named, layout


# ------------------------------------------------------------------ config files

def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return repr(v)


def field_values(cls):
    """Hypothesis strategy: a dict of valid values for some settable fields of ``cls``."""
    types = hints(cls)
    strategies = {}
    for f in settable_fields(cls):
        base, many, _ = _kind(types[f.name])
        lo = f.metadata["minimum"] or 0
        if f.metadata["choices"]:
            one = st.sampled_from(f.metadata["choices"])
        elif base is bool:
            one = st.booleans()
        elif base is int:
            one = st.integers(lo, 10**6)
        elif base is float:
            one = st.floats(lo, 1e6, allow_nan=False)
        else:
            one = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FFF, blacklist_categories=("Cs", "Cc")))
        strategies[f.name] = st.lists(one, min_size=1, max_size=4) if many else one
    return st.fixed_dictionaries({}, optional=strategies)


@given(values=field_values(TrainConfig))
def test_config_file_round_trip(values, tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "run.toml"
    path.write_text("".join(f"{k} = {toml_value(v)}\n" for k, v in values.items()), encoding="utf-8")
    assert read_config(path, TrainConfig) == values
    assert dataclasses.asdict(TrainConfig(**values)) == {**dataclasses.asdict(TrainConfig()), **values}


def test_flags_override_the_config_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('model = "lenet"\ndataset = "mnist"\nmethod = "trades"\neps = 0.2\nepochs = 3\nfast = true\n')
    args = cli.build_parser().parse_args(["train", "--config", str(path), "--epochs", "4", "--no-fast",
                                          "--out", "x"])
    cfg = train_config(args.config, options.given(args, TrainConfig))
    assert (cfg.method, cfg.eps, cfg.epochs, cfg.fast) == ("trades", 0.2, 4, False)


@pytest.mark.parametrize("text,message", [
    ("modle = 'lenet'\n", "unknown key 'modle'"),
    ("attack-steps = 3\n", "unknown key 'attack-steps' (the option --attack-steps is the key 'attack_steps')"),
    ("steps = 3\n", "the key 'attack_steps'"),
    ("num_classes = 3\n", "key 'num_classes' is derived"),
    ("epochs = 2.5\n", "epochs must be an integer, got 2.5"),
    ("eps = -1\n", "eps must be >= 0"),
    ("method = 'mart'\n", "method must be one of clean, at"),
    ("eps = \n", "is not valid TOML"),
])
def test_bad_config_files_are_usage_errors_naming_key_and_file(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(UsageError) as err:
        read_config(path, TrainConfig)
    assert message in str(err.value) and str(path) in str(err.value)


def test_config_file_errors_exit_2_before_any_work(tmp_path, capsys):
    out = tmp_path / "run"
    bad = tmp_path / "bad.toml"
    bad.write_text("widht = 4\n")
    assert cli.main(["train", "--config", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'widht'" in err and str(bad) in err
    assert cli.main(["train", "--config", str(tmp_path / "absent.toml"), "--out", str(out)]) == 2
    assert "absent.toml" in capsys.readouterr().err
    assert cli.main(["train", "--model", "lenet", "--out", str(out)]) == 2
    assert "--dataset is required" in capsys.readouterr().err
    assert not out.exists()


def test_committed_config_reproduces_the_committed_run():
    """configs/mnist-lenet4-at.toml resolves to reports/mnist-lenet4-at/config.json, field by field (the data
    folder is the machine's)."""
    cfg = dataclasses.asdict(train_config(ROOT / "configs" / "mnist-lenet4-at.toml", {}))
    committed = json.loads((ROOT / "reports" / "mnist-lenet4-at" / "config.json").read_text())
    assert set(cfg) == set(committed)
    for key in sorted(set(committed) - {"data_dir"}):
        assert cfg[key] == committed[key], key


# ------------------------------------------------------------------ exit status

def test_usage_error_exits_2_with_one_line_naming_the_value(tmp_path, capsys):
    missing = tmp_path / "no-such-run"
    assert cli.main(["eval", "--run", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(missing) in err and "Traceback" not in err
    assert code_of(["train", *REQUIRED_TRAIN, "--epochs", "0", "--out", str(tmp_path / "r")]) == 2
    assert "--epochs: must be >= 1, got 0" in capsys.readouterr().err


@pytest.fixture
def broken_handler(monkeypatch):
    """Make the eval and list handlers raise the exception given."""
    def install(exc):
        def handler(args):
            raise exc
        monkeypatch.setattr(cli, "eval_handler", handler)
        monkeypatch.setattr(cli, "cmd_list", handler)
    return install


def logged(err: str) -> Path:
    path = Path(re.search(r"traceback in (\S+)\)$", err.strip()).group(1))
    assert path.is_file()
    return path


def test_a_bug_exits_1_with_the_traceback_in_the_run_folder(tmp_path, capsys, broken_handler):
    broken_handler(ValueError("inner shape mismatch"))   # a ValueError from inside is a bug, not a usage error
    assert cli.main(["eval", "--run", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: ValueError: inner shape mismatch" in err
    log = logged(err)
    assert log.parent == tmp_path
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "ValueError: inner shape mismatch" in text
    assert f"advland eval --run {tmp_path}" in text


def test_a_bug_without_a_folder_logs_under_the_user_cache(tmp_path, capsys, monkeypatch, broken_handler):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    broken_handler(RuntimeError("boom"))
    assert cli.main(["list"]) == 1
    log = logged(capsys.readouterr().err)
    assert log.parent == tmp_path / "cache" / "advland" / "logs" and "RuntimeError: boom" in log.read_text()


def test_ctrl_c_exits_130_with_one_line(tmp_path, capsys, broken_handler):
    broken_handler(KeyboardInterrupt())
    assert cli.main(["eval", "--run", str(tmp_path)]) == 130
    err = capsys.readouterr().err
    assert err == "advland eval: interrupted\n" and not list(tmp_path.iterdir())


def test_cuda_on_a_machine_without_it_is_a_usage_error(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    out = tmp_path / "run"
    assert cli.main(["train", *REQUIRED_TRAIN, "--device", "cuda", "--out", str(out)]) == 2
    assert "--device cuda" in capsys.readouterr().err and not out.exists()
    assert cli.main(["verify", "--scale", "gpu", "--only", "theory", "--out", str(tmp_path / "rep")]) == 2
    assert "--scale gpu" in capsys.readouterr().err
    assert cli.verify_device("auto", "cpu") == "cpu"


def test_verify_checks_its_inputs_before_any_work(tmp_path, capsys):
    report = tmp_path / "report"
    assert cli.main(["verify", "--data-dir", str(tmp_path / "nowhere"), "--out", str(report)]) == 2
    assert "--data-dir" in capsys.readouterr().err
    assert cli.main(["verify", "--only", "no.such.claim", "--out", str(report)]) == 2
    assert "'no.such.claim'" in capsys.readouterr().err
    assert not report.exists()
