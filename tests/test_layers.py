"""The package's shape: one top-level name, layers that import only downwards, no import cycle.

The contracts are read from the source with ``ast`` (every import, including those inside functions), so a
lazy import cannot hide a cycle or a forbidden dependency.
"""
import subprocess
import sys
from pathlib import Path

import pytest

import advland
from advland.claims.jobs.fingerprint import module_imports as _imports

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"advland.theory": ROOT / "theory", "advland.empirical": ROOT / "empirical",
           "advland.claims": ROOT / "proofs_check", "advland": ROOT / "advland"}


def _module_name(path: Path) -> str:
    for package, folder in FOLDERS.items():
        if folder in path.parents:
            parts = path.relative_to(folder).with_suffix("").parts
            return ".".join((package, *parts)).removesuffix(".__init__")
    raise AssertionError(path)


FILES = {_module_name(p): p for folder in FOLDERS.values() for p in folder.rglob("*.py")}
GRAPH = {name: {m for m in _imports(path, name) if m in FILES} for name, path in FILES.items()}


def test_every_import_of_the_packages_is_found():
    assert "advland.empirical.landscape.hessian" in GRAPH
    assert "advland.empirical.attacks" in GRAPH["advland.empirical.landscape.hessian"]


@pytest.mark.parametrize("module", [m for m in GRAPH if m.startswith("advland.theory")])
def test_theory_imports_no_empirical_no_claims_no_torch(module):
    imported = _imports(FILES[module], module)
    assert not {m for m in imported if m.startswith(("advland.empirical", "advland.claims", "torch"))}


@pytest.mark.parametrize("module", [m for m in GRAPH if m.startswith("advland.empirical")])
def test_empirical_imports_no_theory_and_no_claims(module):
    assert not {m for m in GRAPH[module] if m.startswith(("advland.theory", "advland.claims"))}


def test_only_claims_and_the_cli_see_both_theory_and_empirical():
    both = {m for m, deps in GRAPH.items()
            if any(d.startswith("advland.theory") for d in deps) and any(d.startswith("advland.empirical") for d in deps)}
    assert all(m.startswith("advland.claims") for m in both), both


def test_no_import_cycle():
    state: dict[str, int] = {}

    def visit(m, stack):
        state[m] = 1
        for d in GRAPH[m]:
            if d == m or d.startswith(m + "."):   # a package importing its own submodule
                continue
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(d):] + [d]))
            if d not in state:
                visit(d, stack + [d])
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m, [m])


def _python(code: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True)


@pytest.mark.parametrize("old", ["theory", "empirical", "proofs_check"])
def test_old_top_level_names_are_not_importable(old, tmp_path):
    """Outside the checkout (no working directory on sys.path) only ``advland`` is installed."""
    result = _python(f"import {old}", tmp_path)
    assert result.returncode != 0 and "ModuleNotFoundError" in result.stderr


def test_theory_and_the_cli_import_no_torch(tmp_path):
    code = ("import sys, advland.theory, advland.theory.bad_directions, advland.cli as c; c.build_parser(); "
            "print(sorted(m for m in ('torch', 'cvxpy') if m in sys.modules))")
    result = _python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_version_is_the_distribution_version():
    from importlib.metadata import version

    assert advland.__version__ == version("advland")


def test_every_package_folder_is_listed_for_the_wheel():
    """The editable install maps whole folders, so a subpackage missing from pyproject's list would only
    vanish from the wheel; compare the list with the folders that hold an ``__init__.py``."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    packages = {name for name, path in FILES.items() if path.name == "__init__.py"}
    assert listed == packages
