"""The fingerprint stored beside a unit's numbers covers exactly the code that computes the unit's kind."""
import ast
import importlib.util
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

import advland
from advland.claims.empirical import runs
from advland.claims.jobs.fingerprint import closure, code_fingerprint, code_text, module_file


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


def _executable(source: str) -> str:
    """The AST of ``source`` with every docstring emptied: what runs, whatever the layout."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                first.value.value = ""
    return ast.dump(tree)


def test_code_text_keeps_everything_that_executes_in_every_module_of_advland():
    """For each source file of the package: code_text parses, and to the same program (docstrings emptied)."""
    root = Path(advland.__file__).resolve().parents[1]
    files = [p for p in root.rglob("*.py") if ".tox" not in p.parts and "site-packages" not in p.parts]
    assert len(files) > 50
    for path in files:
        source = path.read_text(encoding="utf-8")
        assert _executable(code_text(source)) == _executable(source), path


_words = st.text(alphabet="abc xyz#'\"\\é", max_size=12)


@given(doc=_words, comment=_words, blank=st.integers(0, 2), constant=_words, other=_words, value=st.integers(0, 9))
def test_code_text_ignores_docstrings_comments_and_blank_lines_not_code(doc, comment, blank, constant, other, value):
    def module(doc="", comment="", blank=0, constant=constant, value=value):
        return (f"{doc!r}\nimport math  # {comment}\n" + "\n" * blank
                + f"def f(x):\n    {doc!r}\n    # {comment}\n    return math.sqrt(x) + {value}  # {comment}\n"
                + f"S = {constant!r}\n")
    assert code_text(module(doc, comment, blank)) == code_text(module())
    assert code_text(module(value=value + 1)) != code_text(module())
    if other != constant:                  # a string constant that is no docstring executes
        assert code_text(module(constant=other)) != code_text(module())
