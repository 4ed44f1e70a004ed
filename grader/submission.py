"""Finds students and their files, and prepares a working copy to grade.

Students do not follow naming rules: ``conv1D (1).py``, ``Conv1d.py``,
``conv1D.ipynb`` exported from Colab, a file in Latin-1. Each problem's file
is looked up by exact name, then case-insensitively, then as a notebook, then
by a loose name match, then by the names it must define; whichever is used is
written into the working copy under the handout's name, as UTF-8 Python.
"""

from __future__ import annotations

import ast
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from grader.notebooks import NotebookError, notebook_to_script
from grader.rubric import Problem, Rubric

#: Files larger than this are not copied into the working copy (datasets, videos).
MAX_COPIED_FILE = 20 * 1024 * 1024

_IGNORED_DIRS = {"__pycache__", ".ipynb_checkpoints", ".git", "__MACOSX"}
_CODE_SUFFIXES = {".py", ".ipynb"}


class SubmissionError(Exception):
    """The path given to the grader holds no gradable submissions."""


@dataclass(frozen=True)
class Submission:
    """One student's folder."""

    student: str
    """The student's id: the folder name."""

    folder: Path
    """The folder as handed in (never written to)."""


@dataclass(frozen=True)
class FileMatch:
    """Which student file stands for a file the rubric names."""

    wanted: str
    """The handout's file name, e.g. ``conv1D.py``."""

    found: Path
    """The student's file that is used."""

    how: str
    """``exact``, ``case``, ``notebook``, ``similar name`` or ``defines …``."""

    def describe(self) -> str:
        """A line for the report."""
        if self.how == "exact":
            return self.wanted
        return f"{self.found.name} (used as {self.wanted}: {self.how})"


def discover(path: Path, rubric: Rubric) -> list[Submission]:
    """Lists the submissions under ``path``: a class folder, or one student's folder.

    Raises:
        SubmissionError: when ``path`` is missing or holds nothing to grade.
    """
    path = Path(path)
    if not path.exists():
        raise SubmissionError(f"{path}: no such folder")
    if not path.is_dir():
        raise SubmissionError(f"{path}: not a folder (give a class folder or one student's folder)")
    if _looks_like_student(path, rubric):
        return [Submission(path.resolve().name, path)]
    students = [
        Submission(child.name, child)
        for child in sorted(path.iterdir(), key=lambda p: p.name)
        if child.is_dir() and not child.name.startswith(".") and child.name not in _IGNORED_DIRS
    ]
    if not students:
        raise SubmissionError(f"{path}: no student folders found (expected one folder per student)")
    return students


def _looks_like_student(path: Path, rubric: Rubric) -> bool:
    """A folder is one student's if it directly holds code files or a problem's file."""
    wanted = {f.lower() for p in rubric.problems for f in p.files}
    for entry in path.iterdir():
        if entry.is_file() and (entry.suffix.lower() in _CODE_SUFFIXES or entry.name.lower() in wanted):
            return True
    return False


def locate(folder: Path, wanted: str, defines: tuple[str, ...] = ()) -> FileMatch | None:
    """Finds the student's file that stands for ``wanted`` (see module docstring)."""
    files = sorted(
        (p for p in folder.rglob("*") if p.is_file() and not _ignored(p, folder)),
        key=lambda p: (len(p.relative_to(folder).parts), p.name),
    )
    stem = Path(wanted).stem
    for path in files:
        if path.name == wanted:
            return FileMatch(wanted, path, "exact")
    for path in files:
        if path.name.lower() == wanted.lower():
            return FileMatch(wanted, path, "case")
    for path in files:
        if path.suffix.lower() == ".ipynb" and path.stem.lower() == stem.lower():
            return FileMatch(wanted, path, "notebook")
    key = _loose(stem)
    for path in files:
        if path.suffix.lower() in _CODE_SUFFIXES and _loose(path.stem).startswith(key):
            return FileMatch(wanted, path, "similar name")
    if defines:
        for path in files:
            if path.suffix.lower() in _CODE_SUFFIXES and _defines_any(path, defines):
                return FileMatch(wanted, path, f"defines {', '.join(defines)}")
    return None


def _ignored(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts
    return any(part in _IGNORED_DIRS or part.startswith(".") for part in parts)


def _loose(stem: str) -> str:
    # "Conv1D (1)", "conv1d-final", "conv_1D" all reduce to "conv1d…".
    return re.sub(r"[^a-z0-9]", "", stem.lower())


def _defines_any(path: Path, names: tuple[str, ...]) -> bool:
    try:
        text = read_source(path)
        if path.suffix.lower() == ".ipynb":
            text = notebook_to_script(text)
        tree = ast.parse(text)
    except (SyntaxError, NotebookError, ValueError):
        return False
    return any(
        isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name in names for node in tree.body
    )


def read_source(path: Path) -> str:
    """Reads a student's text file whatever its encoding (UTF-8, BOM, UTF-16, Latin-1)."""
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


@dataclass(frozen=True)
class Prepared:
    """A working copy ready for the judge."""

    workdir: Path
    """The copy's root (the child's cwd)."""

    matches: tuple[FileMatch, ...]
    """How each needed file was found."""

    missing: tuple[str, ...]
    """Needed files that were not found."""

    notes: tuple[str, ...]
    """What was changed on the way (encodings, notebooks, skipped files)."""


def prepare(submission: Submission, problem: Problem, dest: Path) -> Prepared:
    """Copies the student's folder to ``dest`` and puts each needed file under its handout name.

    Raises:
        NotebookError: a needed notebook is not valid JSON/nbformat.
    """
    notes: list[str] = []
    _copy_tree(submission.folder, dest, notes)
    matches, missing = [], []
    for wanted in problem.files:
        match = locate(submission.folder, wanted, problem.defines)
        if match is None:
            missing.append(wanted)
            continue
        matches.append(match)
        text = read_source(match.found)
        if match.found.suffix.lower() == ".ipynb":
            text = notebook_to_script(text)
        (dest / wanted).write_text(text, encoding="utf-8")
    return Prepared(dest, tuple(matches), tuple(missing), tuple(notes))


def _copy_tree(src: Path, dest: Path, notes: list[str]) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.rglob("*")):
        if _ignored(path, src) or path.is_symlink():
            continue
        target = dest / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif path.stat().st_size > MAX_COPIED_FILE:
            notes.append(f"{path.relative_to(src)} was not copied (larger than {MAX_COPIED_FILE >> 20} MB)")
        elif path.suffix == ".py":
            # Python reads source as UTF-8; re-encode so a Latin-1 file still imports.
            target.write_text(read_source(path), encoding="utf-8")
        else:
            shutil.copyfile(path, target)
