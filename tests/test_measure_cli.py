"""`advland measure ...` end to end on a tiny LeNet run over 20 MNIST test images: JSON + PNG next to the
run, recorded settings, and clear failures (no checkpoint, empty parameter subset, NaN losses, a
non-converged eigen-solve kept with its flag)."""
import json
import math
import os
from pathlib import Path

import pytest
import torch

from advland import cli
from advland.empirical.train.checkpoint import save_checkpoint
from advland.io import write_json
from advland.empirical.models import build_model

needs_data = pytest.mark.skipif(not os.environ.get("ADVLAND_DATA"),
                                reason="ADVLAND_DATA is not set (needs the MNIST files, e.g. /work/shared/data)")
COMMON = ["--subset", "20", "--steps", "2", "--batch-size", "10"]


def advland(*argv) -> int:
    """The exit status of ``advland ARGV``, argparse's own errors included."""
    try:
        return cli.main([str(a) for a in argv])
    except SystemExit as e:
        return e.code


def make_run(path: Path, nan: bool = False, **recorded) -> Path:
    torch.manual_seed(0)
    model = build_model("lenet", width=1)
    if nan:
        with torch.no_grad():
            model.fc2.weight.fill_(float("nan"))
    path.mkdir()
    save_checkpoint(path / "checkpoint.pt", {"model": model.state_dict()})
    write_json(path / "config.json", {"model": "lenet", "width": 1, "dataset": "mnist", "num_classes": 10,
                                      "method": "at", "eps": 0.1, "norm": "linf", "seed": 0, **recorded})
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("runs") / "lenet")


def read(path: Path) -> dict:
    assert path.with_suffix(".png").stat().st_size > 0
    return json.loads(path.read_text())


@needs_data
def test_scan_writes_json_and_png_next_to_run(run):
    assert advland("measure", "scan", "--run", run, *COMMON, "--points", "3", "--frozen",
                   "--normalization", "filter-all") == 0
    res = read(next(run.glob("measure-scan-*.json")))   # the setting's key in the name
    assert res["bn_mode"] == "eval" and res["adversarial"] == "frozen" and res["eps"] == 0.1
    assert res["coords"] == [[-1.0, 0.0, 1.0]] and all(math.isfinite(v) for v in res["loss"])
    assert not list(run.glob(".*"))  # no temp files left behind


@needs_data
def test_two_dimensional_clean_scan(run, tmp_path):
    out = tmp_path / "plane.json"
    assert advland("measure", "scan", "--run", run, *COMMON, "--dims", "2", "--points", "2", "--eps", "0",
                   "--out", out) == 0
    res = read(out)
    assert res["adversarial"] == "none" and len(res["loss"]) == 2 and len(res["loss"][0]) == 2


@needs_data
def test_hessian_reports_eigenvalues_and_curvature_check(run, tmp_path):
    out = tmp_path / "h.json"
    assert advland("measure", "hessian", "--run", run, *COMMON, "--params", "weights", "--k", "2", "--tol", "1e-3",
                   "--out", out) == 0
    res = read(out)
    assert len(res["eigenvalues"]) == 2 and res["eigenvalues"][0] >= res["eigenvalues"][1]
    assert res["curvature_check"]["eigenvalue"] == res["eigenvalues"][0] and res["curvature_check"]["ok"]
    assert res["hessian"]["hessian"]["loss"].startswith("adversarial")


@needs_data
def test_hessian_bottom_eigenvalue_and_trace_bracket_the_spectrum(run, tmp_path):
    out = tmp_path / "h.json"
    assert advland("measure", "hessian", "--run", run, *COMMON, "--eps", "0", "--tol", "1e-3", "--bottom", "1",
                   "--trace-samples", "30", "--out", out) == 0
    res = read(out)
    lo, hi, dim = res["bottom_eigenvalues"][0], res["eigenvalues"][0], res["hessian"]["hessian"]["dim"]
    assert lo <= hi and res["min_over_max"] == abs(lo) / hi and res["bottom"]["result"]["which"] == "SA"
    t = res["trace"]
    assert dim * lo - 5 * t["stderr"] <= t["estimate"] <= dim * hi + 5 * t["stderr"]  # λ_min·n <= tr H <= λ_max·n
    assert advland("measure", "hessian", "--run", run, *COMMON, "--bottom", "-1", "--out", out) == 2


@needs_data
def test_non_converged_eigen_solve_is_kept_with_its_flag(run, tmp_path, capsys):
    out = tmp_path / "h.json"
    assert advland("measure", "hessian", "--run", run, *COMMON, "--eps", "0", "--max-iter", "2",
                   "--tol", "1e-12", "--out", out) == 0
    assert read(out)["converged"] is False
    assert "did not converge" in capsys.readouterr().err


@needs_data
def test_flatness_and_cosine(run, tmp_path):
    for kind in ("average", "worst"):
        out = tmp_path / f"{kind}.json"
        assert advland("measure", "flatness", "--run", run, *COMMON, "--kind", kind, "--samples", "2",
                       "--ascent-steps", "2", "--out", out) == 0
        res = read(out)
        assert res["kind"] == kind and math.isfinite(res["flatness"])
    out = tmp_path / "step.json"
    assert advland("measure", "flatness", "--run", run, *COMMON, "--kind", "worst", "--samples", "1",
                   "--ascent-steps", "1", "--input-step", "0.005", "--out", out) == 0
    res = read(out)
    assert res["input_step"] == 0.005 and res["attack"]["input_step"] == 0.005
    assert advland("measure", "flatness", "--run", run, *COMMON, "--input-step", "0.005") == 2  # average case
    out = tmp_path / "cos.json"
    assert advland("measure", "cosine", "--run", run, *COMMON, "--direction", "random", "--scales", "0", "0.5",
                   "--out", out) == 0
    assert [r["scale"] for r in read(out)["rows"]] == [0.0, 0.5]


@needs_data
def test_clear_errors(run, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.json").write_text((run / "config.json").read_text())
    assert advland("measure", "scan", "--run", empty, *COMMON) == 2
    assert "checkpoint.pt is missing" in capsys.readouterr().err
    assert advland("measure", "scan", "--run", tmp_path / "none", *COMMON) == 2
    assert "no such folder" in capsys.readouterr().err
    assert advland("measure", "scan", "--run", run, *COMMON, "--include", "nosuchlayer") == 2
    assert "matches no parameter" in capsys.readouterr().err
    assert advland("measure", "scan", "--run", run, *COMMON, "--eps", "-1") == 2
    assert "eps" in capsys.readouterr().err
    assert advland("measure", "flatness", "--run", run, *COMMON, "--include", "conv") == 2
    assert "unrecognized arguments: --include" in capsys.readouterr().err   # scan and cosine only
    for argv, message in ((["scan", "--dims", "2", "--direction", "eigen"], "--dims 2 needs --direction random"),
                          (["scan", "--include", "conv", "--direction", "eigen"], "random directions only"),
                          (["cosine", "--eps", "0"], "needs --eps > 0"),
                          (["flatness", "--kind", "worst", "--norm", "l2"], "L-inf only"),
                          (["hessian", "--subset", "20000"], "20000"),
                          (["hessian", "--out", empty], "is a folder")):
        assert advland("measure", argv[0], "--run", run, *COMMON, *argv[1:]) == 2
        assert message in capsys.readouterr().err


@needs_data
def test_nan_losses_are_reported(tmp_path, capsys):
    broken = make_run(tmp_path / "broken", nan=True)
    assert advland("measure", "scan", "--run", broken, *COMMON, "--eps", "0", "--points", "2") == 1
    assert "NaN/inf losses" in capsys.readouterr().err
    assert read(next(broken.glob("measure-scan-*.json")))["loss"] == ["nan", "nan"]   # advland.io: non-finite as strings
    assert advland("measure", "hessian", "--run", broken, *COMMON, "--eps", "0") == 1
    assert "undefined" in capsys.readouterr().err


@needs_data
def test_the_data_folder_recorded_in_the_run_is_used(tmp_path, monkeypatch, capsys):
    recorded = make_run(tmp_path / "recorded", data_dir=os.environ["ADVLAND_DATA"])
    monkeypatch.delenv("ADVLAND_DATA")
    assert advland("measure", "scan", "--run", recorded, *COMMON, "--eps", "0", "--points", "1") == 0
    elsewhere = make_run(tmp_path / "elsewhere", data_dir=str(tmp_path / "moved"))
    assert advland("measure", "scan", "--run", elsewhere, *COMMON, "--eps", "0", "--points", "1") == 2
    assert str(tmp_path / "moved") in capsys.readouterr().err


def test_registered_in_the_advland_command_line():
    from advland.measure_commands import handle

    args = cli.build_parser().parse_args(["measure", "flatness", "--run", "somewhere", "--kind", "worst"])
    assert args.func is handle and args.measure == "flatness" and args.kind == "worst"
