"""Where commands write, and the rule that no command loses a file it did not write.

Every ``--out`` is checked before any work starts:

* a missing folder or file is created, its parent folders too;
* a report folder advland wrote (``check_report_folder``) is recognised by its marker file ``.advland-report``,
  a JSON object listing every file of the report, and is replaced by the new report; a report written before
  the marker existed is recognised by its ``claims.json`` (with ``schema_version``) and nothing but report files;
* a run folder (``check_run_folder``) is advland's when it holds the marker ``.advland-run`` or a run's
  ``config.json``; ``train`` resumes it and never deletes a file in it;
* a result file of ``eval`` or ``measure`` (``check_result_file``) records ``written_by``, its ``setting`` and
  ``setting_key``: it is replaced only by the result of the same setting on the same run. The default file name
  holds the setting's key (``result_name``), so results of different settings sit side by side;
* anything else (a folder holding other files, a file, the result of another setting) is refused with a
  ``UsageError`` naming ``--overwrite``, the option that replaces it anyway. The current folder, one holding it,
  the home folder and a file-system root are never replaced, whatever the options.

A report folder is replaced atomically (``replace_folder``): the new report is written into a hidden staging
folder beside DIR, then swapped with DIR in one step by ``renameat2(RENAME_EXCHANGE)`` (Linux >= 3.15,
glibc >= 2.28), or by two renames where that call is missing; the old folder is removed only once the new one
is in place. A kill at any moment leaves DIR holding the old report or the new one; with two renames there is one
instant where DIR is missing and the old report waits beside it, and ``clean_debris`` (run before every write)
puts it back. ``clean_debris`` also removes the hidden folders that dead processes left beside DIR.
"""
from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable

from advland.errors import UsageError
from advland.io import atomic_write, dumps, umask_mode

REPORT_MARKER, RUN_MARKER = ".advland-report", ".advland-run"
REPORT_FILES = ("claims.json", "report.md", "report.html")
OVERWRITE = "--overwrite"
_DEBRIS = re.compile(r"^\.(?P<name>.+)\.advland-(?P<what>staging|old)-(?P<pid>\d+)-[^/]*$")
_LEGACY_DEBRIS = re.compile(r"^\.(?P<name>.+)\.(?:staging-[^/]*|old-\d+)$")   # the report writer before markers


def written_by() -> str:
    from advland import __version__

    return f"advland {__version__}"


# ------------------------------------------------------------------ what a folder holds

def entries(folder: Path) -> list[str]:
    """Every file (symbolic links included, never followed) and every empty folder under ``folder``, as
    paths relative to it (folders with a trailing '/'), sorted."""
    found = []
    for root, dirs, files in os.walk(folder):
        rel = Path(root).relative_to(folder)
        links = [d for d in dirs if os.path.islink(os.path.join(root, d))]
        dirs[:] = [d for d in dirs if d not in links]
        found += [(rel / f).as_posix() for f in files + links]
        if not dirs and not files and not links and root != str(folder):
            found.append(rel.as_posix() + "/")
    return sorted(found)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def report_files(folder: Path) -> set[str]:
    """The entries of ``folder`` that a report of advland wrote: those its marker lists (and the marker), or for
    a report older than the marker, the report files when its claims.json is a report's. Empty if neither."""
    mark = _read_json(folder / REPORT_MARKER)
    if isinstance(mark, dict) and mark.get("kind") == "report" and isinstance(mark.get("files"), list):
        return {str(f) for f in mark["files"]} | {REPORT_MARKER, "plots/"}
    claims = _read_json(folder / "claims.json")
    return _report_names(folder) if isinstance(claims, dict) and "schema_version" in claims else set()


def _report_names(folder: Path) -> set[str]:
    """The names a report has, among the entries of ``folder``: the report files and plots/*.png."""
    return set(REPORT_FILES) | {"plots/"} | {e for e in entries(folder) if re.fullmatch(r"plots/[^/]+\.png", e)}


def foreign_entries(folder: Path, ours: set[str]) -> list[str]:
    return [e for e in entries(folder) if e not in ours]


def _listed(names: list[str], limit: int = 3) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def refuse_protected(path: Path, flag: str, shown) -> None:
    """The current folder, a folder holding it, the home folder and a root are never replaced or emptied."""
    cwd = Path.cwd().resolve()
    real = path.resolve()
    if real == cwd or real in cwd.parents or real == Path.home().resolve() or real.parent == real:
        raise UsageError(f"{flag} {shown} is the current folder, holds it, or is the home folder or a root; "
                         "advland never replaces those: name a new folder")


def probe(folder: Path, flag: str, shown) -> None:
    """Create ``folder`` if needed and write (then remove) a file in it: the only test that holds for every
    user (root included) and file system (read-only mounts, /proc)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise UsageError(f"{flag} {shown}: cannot write in {folder} ({err.strerror or err})") from None


def writable_folder(path, flag: str) -> Path:
    """``path``, a folder that exists or is created here, and that can be written into."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UsageError(f"{flag} {p}: exists and is not a folder")
    probe(p, flag, p)
    return p


# ------------------------------------------------------------------ report folders

def check_report_folder(path, flag: str = "--out", *, overwrite: bool = False) -> Path:
    """``path`` as an absolute report folder that may be written: missing, empty, or a report of advland (or
    anything, with ``overwrite``); its parent is created and must be writable. Debris of killed runs beside it
    is cleaned first. UsageError naming the option otherwise."""
    p = Path(os.path.abspath(path))
    if p.parent.is_dir():
        clean_debris(p)
    if os.path.lexists(p):
        refuse_protected(p, flag, path)
        if p.is_symlink() or not p.is_dir():
            if not overwrite:
                raise UsageError(f"{flag} {path} is a file, not a report folder; choose another {flag}, or pass "
                                 f"{OVERWRITE} to replace it by the report")
        else:
            foreign = foreign_entries(p, report_files(p))
            if foreign and not overwrite:
                raise UsageError(f"{flag} {path} holds files advland did not write ({_listed(foreign)}); choose a "
                                 f"new or empty folder, or pass {OVERWRITE} to replace it (its files are deleted)")
    probe(p.parent, flag, path)
    return p


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def clean_debris(path) -> list[Path]:
    """Tidy what killed writes of ``path`` left beside it: a hidden old copy is put back when ``path`` is missing
    (the instant between two renames), every other staging or old folder of a process no longer running is
    removed, and so is a leftover of the report writer before markers when it holds report files only.
    Returns what was removed or restored."""
    p = Path(os.path.abspath(path))
    done = []
    candidates = []
    for e in sorted(p.parent.iterdir()) if p.parent.is_dir() else []:
        m = _DEBRIS.match(e.name)
        if m and m["name"] == p.name and int(m["pid"]) != os.getpid() and not _pid_alive(int(m["pid"])):
            candidates.append((m["what"], e))
        m = _LEGACY_DEBRIS.match(e.name)
        if m and m["name"] == p.name and e.is_dir() and not foreign_entries(e, _report_names(e)):
            candidates.append(("legacy", e))
    for what, e in candidates:
        if what == "old" and not os.path.lexists(p):
            os.rename(e, p)
        else:
            _remove(e)
        done.append(e)
    return done


def _exchange(a: Path, b: Path) -> bool:
    """Swap the paths ``a`` and ``b`` in one atomic step with Linux's renameat2(RENAME_EXCHANGE); False where
    the system or the file system does not offer it (then nothing happened)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))


def _swap_in(new: Path, target: Path) -> None:
    """Put the folder ``new`` at ``target``, then remove what was there (module docstring)."""
    if not os.path.lexists(target):
        os.rename(new, target)
    elif _exchange(new, target):
        _remove(new)                     # ``new`` now names the old folder
    else:
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.advland-old-{os.getpid()}-", dir=target.parent))
        os.rmdir(old)
        os.rename(target, old)
        os.rename(new, target)
        _remove(old)


def replace_folder(path, fill: Callable[[Path], None], kind: str = "report") -> Path:
    """Write a folder at ``path`` atomically: ``fill(staging)`` writes the files into a hidden staging folder
    beside it, a marker ``.advland-<kind>`` listing them is added, and the staging folder replaces ``path``
    (module docstring). On any failure before the swap ``path`` is left as it was and the staging folder removed."""
    p = Path(os.path.abspath(path))
    p.parent.mkdir(parents=True, exist_ok=True)
    clean_debris(p)
    staging = Path(tempfile.mkdtemp(prefix=f".{p.name}.advland-staging-{os.getpid()}-", dir=p.parent))
    try:
        staging.chmod(umask_mode(0o777))
        fill(staging)
        doc = {"written_by": written_by(), "kind": kind, "files": entries(staging)}
        atomic_write(staging / f".advland-{kind}", lambda f: f.write((dumps(doc) + "\n").encode("utf-8")))
        _swap_in(staging, p)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return p


# ------------------------------------------------------------------ run folders

def run_folder_state(path, flag: str = "--out", *, overwrite: bool = False) -> str:
    """What the run folder ``path`` is: 'new' (missing or empty), 'run' (a run of advland: its marker or a run's
    config.json), or 'other' (a file, or a folder holding other files), which only ``overwrite`` accepts
    (UsageError naming it without, or when the folder is protected: ``refuse_protected``)."""
    p = Path(path)
    if not os.path.lexists(p) or (p.is_dir() and not p.is_symlink() and not any(p.iterdir())):
        return "new"
    if p.is_dir() and not p.is_symlink() and ((p / RUN_MARKER).is_file() or (p / "config.json").is_file()):
        return "run"
    if not overwrite:
        what = ("is a file, not a run folder" if p.is_symlink() or not p.is_dir()
                else f"holds files advland did not write ({_listed(entries(p))})")
        raise UsageError(f"{flag} {path} {what}; choose a new or empty folder, or pass {OVERWRITE} to replace it "
                         "(what is there is deleted before training starts)")
    refuse_protected(p, flag, path)
    return "other"


def empty_folder(path) -> None:
    """Delete what ``path`` holds (a file at ``path`` is deleted); the folder itself stays."""
    p = Path(path)
    if p.is_symlink() or (p.exists() and not p.is_dir()):
        p.unlink()
        return
    for e in p.iterdir() if p.is_dir() else []:
        _remove(e)


def mark_run_folder(path) -> None:
    """The marker ``.advland-run`` in a run folder (kept when present)."""
    marker = Path(path) / RUN_MARKER
    if not marker.exists():
        atomic_write(marker, lambda f: f.write((dumps({"written_by": written_by(), "kind": "run"}) + "\n")
                                               .encode("utf-8")))


# ------------------------------------------------------------------ result files of eval and measure

def setting_key(setting: dict) -> str:
    """First 8 hex digits of the sha256 of the setting's canonical JSON (``advland.io`` rule, sorted keys)."""
    return hashlib.sha256(dumps(setting, indent=None, sort_keys=True).encode("utf-8")).hexdigest()[:8]


def result_name(what: str, setting: dict) -> str:
    """The default file name of a result: ``WHAT-KEY.json`` (e.g. ``eval-pgd-1a2b3c4d.json``)."""
    return f"{what}-{setting_key(setting)}.json"


def result_record(what: str, setting: dict, run) -> dict:
    """The keys every result file carries, that ``check_result_file`` recognises."""
    return {"written_by": written_by(), "result": what, "run": os.path.abspath(run), "setting": setting,
            "setting_key": setting_key(setting)}


def _differences(old: dict, new: dict) -> str:
    keys = sorted(set(old) | set(new), key=str)
    return ", ".join(f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k))


def check_result_file(path, flag: str, record: dict, *, overwrite: bool = False, companions=()) -> Path:
    """``path``, a result file that may be written (its folder is created): missing, or the result of the same
    ``record`` (``result_record``: kind, run and setting), or anything with ``overwrite``. ``companions`` are
    files written beside it (a plot): present, they too need the same result at ``path`` or ``overwrite``."""
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{flag} {path}: is a folder, expected a file name")
    probe(p.parent, flag, path)
    if overwrite:
        return p
    old = _read_json(p) if p.is_file() else None
    same = (isinstance(old, dict) and old.get("written_by", "").startswith("advland ")
            and (old.get("result"), old.get("run"), old.get("setting_key")) ==
            (record["result"], record["run"], record["setting_key"]))
    if os.path.lexists(p) and not same:
        if isinstance(old, dict) and isinstance(old.get("setting"), dict) and "written_by" in old:
            why = (f"holds the {old.get('result')} result of another setting or run "
                   f"({_differences({**old['setting'], 'run': old.get('run')}, {**record['setting'], 'run': record['run']})})")
        else:
            why = "exists and is not this setting's result"
        raise UsageError(f"{flag} {path} {why}; choose another {flag}, or pass {OVERWRITE} to replace it")
    for c in companions:
        if os.path.lexists(c) and not same:
            raise UsageError(f"{flag} {path}: {c} exists and is not this result's; choose another {flag}, or pass "
                             f"{OVERWRITE} to replace it")
    return p
