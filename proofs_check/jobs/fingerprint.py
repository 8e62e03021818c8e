"""The fingerprint of the code that computes a unit kind, stored beside its numbers.

A kind's code is the module that defines its function and every ``advland`` module that module imports, directly
or through others, read from the source with ``ast`` (lazy imports inside functions included). The fingerprint is
the SHA-256 of those modules' names and code: their source less docstrings, comments and blank lines
(``code_text``), so that documenting an engine keeps its stored runs while any change to what executes,
a string constant included, does not. Numbers stored under another fingerprint were computed by other code:
they are recomputed, never trusted. Code a kind does not import (the runner, the store, the statistics, the
verdicts and the report, or another claim's decision) can change without invalidating its stored numbers, which is
what lets ``advland report`` and a changed decision reuse an expensive training run.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import inspect
import io
import sys
import tokenize
from pathlib import Path

ROOT_PACKAGE = "advland"


def module_imports(path: Path, name: str) -> set[str]:
    """Absolute names of every module the source at ``path`` (module ``name``) imports, relative imports resolved
    (``from pkg import x`` also yields ``pkg.x``, which may be a submodule)."""
    return set(_imports(path.read_text(encoding="utf-8"), name, path.name == "__init__.py", str(path)))


@functools.lru_cache(maxsize=None)
def _imports(source: str, name: str, is_package: bool, filename: str) -> frozenset[str]:
    """``module_imports`` of a source text, once per text in a process (the kinds' closures share most files)."""
    parts = name.split(".")
    found = set()
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts[: len(parts) - node.level + (1 if is_package else 0)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            found.add(module)
            found.update(f"{module}.{a.name}" for a in node.names)
    return frozenset(found)


def module_file(name: str) -> Path | None:
    """The source file of module ``name`` (None when it is not a module with a ``.py`` source)."""
    module = sys.modules.get(name)
    origin = getattr(module, "__file__", None) if module is not None else None
    if origin is None:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            return None
        origin = spec.origin if spec is not None else None
    return Path(origin) if origin and origin.endswith(".py") else None


def closure(name: str, path: Path) -> dict[str, Path]:
    """``{module: file}`` of ``name`` and every ``advland`` module it reaches through imports."""
    seen, todo = {name: path}, [name]
    while todo:
        current = todo.pop()
        for imported in module_imports(seen[current], current):
            if imported in seen or not (imported == ROOT_PACKAGE or imported.startswith(ROOT_PACKAGE + ".")):
                continue
            found = module_file(imported)
            if found is not None:
                seen[imported] = found
                todo.append(imported)
    return seen


def _docstrings(tree: ast.AST) -> list[ast.Constant]:
    """The docstring nodes: a string constant opening a module, class or function body."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                found.append(first.value)
    return found


@functools.lru_cache(maxsize=None)
def code_text(source: str) -> str:
    """``source`` without what does not execute: docstrings (each replaced by an empty string, so that a body keeps
    its statement), comments with the blanks before them, and blank lines; string constants are kept exactly.
    Positions come from ``ast`` and ``tokenize``, whose reading of them does not change between Python versions.
    Computed once per text in a process: the kinds' closures share most files."""
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(row: int, col: int) -> int:   # ast and tokenize rows start at 1; ast columns count UTF-8 bytes
        return starts[row - 1] + len(lines[row - 1].encode("utf-8")[:col].decode("utf-8"))

    cuts = [(offset(d.lineno, d.col_offset), offset(d.end_lineno, d.end_col_offset), '""')
            for d in _docstrings(ast.parse(source))]
    for t in tokenize.generate_tokens(io.StringIO(source).readline):
        row, col = t.start
        whole_line = (starts[row - 1], starts[row] if row < len(starts) else starts[-1], "")
        if t.type == tokenize.COMMENT:
            before = t.line[:col]
            cuts.append(whole_line if not before.strip()
                        else (starts[row - 1] + len(before.rstrip()), starts[row - 1] + t.end[1], ""))
        elif t.type == tokenize.NL and not t.line.strip():
            cuts.append(whole_line)
    out, at = [], 0
    for begin, end, replacement in sorted(cuts):
        begin = max(begin, at)
        out += [source[at:begin], replacement]
        at = max(at, end)
    out.append(source[at:])
    return "".join(out)


def code_fingerprint(fn) -> str:
    """12 hex digits of the SHA-256 over the module defining ``fn`` and its ``advland`` import closure (module
    names and ``code_text``, in name order)."""
    name = fn.__module__
    path = module_file(name) or Path(inspect.getsourcefile(fn))
    h = hashlib.sha256()
    for module, file in sorted(closure(name, path).items()):
        h.update(module.encode())
        h.update(code_text(file.read_text(encoding="utf-8")).encode())
    return h.hexdigest()[:12]
