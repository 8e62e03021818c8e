"""The fingerprint stored beside a unit's numbers covers exactly the code that computes the unit's kind."""
import importlib.util
import sys

from advland.claims.empirical import runs
from advland.claims.jobs.fingerprint import closure, code_fingerprint, module_file


def _closure_of(fn):
    return set(closure(fn.__module__, module_file(fn.__module__)))


def test_training_kind_covers_engines_and_lazy_imports_but_not_decisions():
    modules = _closure_of(runs.train_and_measure.fn)
    # the engines, reached through the lazily imported training module
    assert {"advland.claims.empirical.training", "advland.claims.empirical.measurements",
            "advland.empirical.attacks", "advland.empirical.train.loop", "advland.seeding", "advland.io"} <= modules
    # what decides, reports or schedules does not compute a training run's numbers
    assert not modules & {"advland.claims.stats", "advland.claims.report", "advland.claims.runner",
                          "advland.claims.jobs.local", "advland.claims.jobs.store", "advland.claims.empirical.evidence",
                          "advland.claims.empirical.protocols", "advland.claims.model", "advland.cli"}


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_editing_a_kind_s_own_module_changes_its_fingerprint_and_only_its_own(tmp_path):
    source = "from advland.seeding import stream_seed\n\ndef f():\n    return {'x': stream_seed(0, 'a')}\n"
    (tmp_path / "kind_a.py").write_text(source)
    (tmp_path / "kind_b.py").write_text(source)
    a, b = _load(tmp_path / "kind_a.py", "fp_kind_a"), _load(tmp_path / "kind_b.py", "fp_kind_b")
    before_a, before_b = code_fingerprint(a.f), code_fingerprint(b.f)
    assert before_a != before_b          # the module's name is part of what is hashed
    (tmp_path / "kind_a.py").write_text(source.replace("'a'", "'changed'"))
    assert code_fingerprint(a.f) != before_a
    assert code_fingerprint(b.f) == before_b
    assert "advland.seeding" in _closure_of(a.f)
