"""Finds students and their files, and prepares a working copy to grade.

Students do not follow naming rules: ``conv1D (1).py``, ``Conv1d.py``,
``conv1D.ipynb`` exported from Colab, a file in Latin-1. Each problem's file
is looked up by exact name, then case-insensitively, then as a notebook, then
by a loose name match, then (when nothing matches by name, or only the
unchanged starter file does) by the names it must define; whichever is used
is written into the working copy under the handout's name, as UTF-8 Python.

Candidates that cannot be graded (empty, a PDF or other binary named ``.py``,
over the size cap) are passed over with a note; when none is left the
problem gets a :class:`FileProblem` message. When several usable files could
be the one, the best name match wins unless the submission's ``prefer`` says
``newest``, ``largest`` or a file name, and the report names the others.
How a class folder becomes submissions is :mod:`grader.intake`.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import re
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from grader.notebooks import NotebookError, notebook_for_problem, notebook_to_script
from grader.rubric import Problem, Rubric

#: Files larger than this are not copied into the working copy (datasets, videos).
MAX_COPIED_FILE = 20 * 1024 * 1024

#: A ``.py`` file larger than this is not source code a student wrote (data, a model dump).
MAX_SOURCE_BYTES = 2 * 1024 * 1024

#: Notebooks carry their outputs (plots as base64), so they may be larger.
MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024

_IGNORED_DIRS = {"__pycache__", ".ipynb_checkpoints", ".git", "__MACOSX"}
_CODE_SUFFIXES = {".py", ".ipynb"}


class SubmissionError(Exception):
    """The path given to the grader holds no gradable submissions."""


@dataclass(frozen=True)
class Submission:
    """One student's files, however they arrived (see :mod:`grader.intake`)."""

    student: str
    """The student's id: the folder name, or the id the LMS export gives (safe as a folder name)."""

    folder: Path
    """The folder as handed in, or where intake unpacked it (never written to)."""

    name: str = ""
    """The student's full name, when the export or the roster gives it."""

    email: str = ""
    """The student's e-mail, when the export or the roster gives it."""

    aliases: tuple[str, ...] = ()
    """Other ids the export gives (LMS user id, SID, e-mail), matched against a roster."""

    submitted_at: datetime | None = None
    """When the work was handed in, if the export says (timezone-aware)."""

    late: bool = False
    """Whether the LMS marked the submission late (Canvas's ``LATE``)."""

    notes: tuple[str, ...] = ()
    """What intake did on the way (resubmission chosen, archive members skipped); shown in the report."""

    prefer: str | None = None
    """How to choose between two candidate files for one problem: ``newest``, ``largest`` or a file name."""


@dataclass(frozen=True)
class FileMatch:
    """Which student file stands for a file the rubric names."""

    wanted: str
    """The handout's file name, e.g. ``conv1D.py``."""

    found: Path
    """The student's file that is used."""

    how: str
    """``exact``, ``case``, ``notebook``, ``similar name`` or ``defines …``."""

    def describe(self, folder: Path | None = None) -> str:
        """A line for the report; with the student's ``folder``, a file in a subfolder is named by its path."""
        shown = self.found.name
        if folder is not None:
            try:
                shown = self.found.relative_to(folder).as_posix()
            except ValueError:
                pass  # a file from elsewhere (a resubmission folder): its name is what the student knows
        if self.how == "exact" and shown == self.wanted:
            return self.wanted
        if self.how == "exact":
            return f"{shown} (used as {self.wanted})"
        return f"{shown} (used as {self.wanted}: {self.how})"


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
    """A folder is one student's if it directly holds code files or a problem's file.

    Unless at least :data:`_CLASS_MIN` of its sub-folders each hold a problem's file: that
    is a class folder with a stray file at its root (a TA's notes, the reference), whose
    students must not be merged into one. A student's own sub-folders (``p4/`` and ``p5/``,
    ``old/`` and ``new/``) stay below that.
    """
    if not root_code_files(path, rubric):
        return False
    return _folders_with_problem_files(path, rubric) < _CLASS_MIN


#: Sub-folders with a problem's file from which a folder is a class, whatever lies at its root.
_CLASS_MIN = 3


def root_code_files(path: Path, rubric: Rubric) -> list[str]:
    """The code files (or files a problem names) directly in ``path``."""
    wanted = {f.lower() for p in rubric.problems for f in p.files}
    return sorted(
        entry.name for entry in path.iterdir()
        if entry.is_file() and (entry.suffix.lower() in _CODE_SUFFIXES or entry.name.lower() in wanted)
    )


def _folders_with_problem_files(path: Path, rubric: Rubric) -> int:
    count = 0
    for child in sorted(path.iterdir(), key=lambda p: p.name):
        if not child.is_dir() or child.name.startswith(".") or child.name in _IGNORED_DIRS:
            continue
        if any(candidates(child, f) for p in rubric.problems for f in p.files):
            count += 1
            if count >= _CLASS_MIN:
                break
    return count


#: How well a file's name stands for the wanted one; lower is better.
_TIERS = ("exact", "case", "notebook", "similar name", "defines")


def candidates(folder: Path, wanted: str, defines: tuple[str, ...] = ()) -> list[FileMatch]:
    """Every student file that could stand for ``wanted``, best name match first (see module docstring).

    A file found by what it defines is listed only when no file matches by name.
    """
    files = _files(folder)
    stem, key = Path(wanted).stem, _loose(Path(wanted).stem)
    found: list[FileMatch] = []
    for path in files:
        if path.name == wanted:
            how = "exact"
        elif path.name.lower() == wanted.lower():
            how = "case"
        elif path.suffix.lower() == ".ipynb" and path.stem.lower() == stem.lower():
            how = "notebook"
        elif path.suffix.lower() in _CODE_SUFFIXES and _loose(path.stem).startswith(key):
            how = "similar name"
        else:
            continue
        found.append(FileMatch(wanted, path, how))
    if not found and defines:
        found = _by_definitions(files, wanted, defines)
    return sorted(found, key=lambda m: _TIERS.index(m.how.split(" ")[0] if m.how.startswith("defines") else m.how))


def _files(folder: Path) -> list[Path]:
    """The student's files (not links, not ignored ones), shallowest first."""
    return sorted(
        (p for p in folder.rglob("*") if p.is_file() and not p.is_symlink() and not _ignored(p, folder)),
        key=lambda p: (len(p.relative_to(folder).parts), p.name),
    )


def _by_definitions(files: list[Path], wanted: str, defines: tuple[str, ...]) -> list[FileMatch]:
    """The code files that define one of ``defines``, as candidates for ``wanted``."""
    return [
        FileMatch(wanted, path, f"defines {', '.join(defines)}")
        for path in files
        if path.suffix.lower() in _CODE_SUFFIXES and _defines_any(path, defines, Path(wanted).stem)
    ]


def locate(folder: Path, wanted: str, defines: tuple[str, ...] = ()) -> FileMatch | None:
    """The best name match for ``wanted`` (see :func:`candidates`), usable or not."""
    found = candidates(folder, wanted, defines)
    return found[0] if found else None


class FileProblem(Exception):
    """A needed file exists but cannot be graded; the message is written for the student."""


def unusable_reason(path: Path) -> str | None:
    """Why a student's code file cannot be graded (empty, binary, a PDF, too large), or None."""
    size = path.stat().st_size
    limit = MAX_NOTEBOOK_BYTES if path.suffix.lower() == ".ipynb" else MAX_SOURCE_BYTES
    if size > limit:
        return f"is {_size(size)}, over the {_size(limit)} limit for a source file"
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    if not head.strip():
        return "is empty" if size == 0 else "holds only blank lines"
    for magic, kind in _BINARY_MAGIC:
        if head.startswith(magic):
            return f"is {kind}, not Python source (only its name ends in {path.suffix})"
    if b"\x00" in head and _utf16_order(head) is None:
        return f"is a binary file, not Python source (only its name ends in {path.suffix})"
    return None


def _size(count: int) -> str:
    return f"{count / 2**20:.1f} MB" if count >= 2**20 else f"{count} bytes"


_BINARY_MAGIC = (
    (b"%PDF", "a PDF"), (b"PK\x03\x04", "a zip archive"), (b"\x1f\x8b", "a gzip archive"),
    (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"\x7fELF", "a compiled program"),
    (b"\xd0\xcf\x11\xe0", "an old Word/Excel document"), (b"{\\rtf", "an RTF document"),
)


def choose(folder: Path, wanted: str, defines: tuple[str, ...], prefer: str | None,
           starter: Path | None = None) -> tuple[FileMatch, list[str]]:
    """Picks the file that stands for ``wanted`` and says why, in notes for the report.

    Unusable candidates (empty, binary, too large) are passed over; among the
    rest the best name match wins, unless ``prefer`` is ``newest``, ``largest``
    or a file name.

    Raises:
        FileProblem: every candidate is unusable (the message names each and why).
        LookupError: there is no candidate at all.
    """
    found = candidates(folder, wanted, defines)
    if not found:
        raise LookupError(wanted)
    notes: list[str] = []
    usable = []
    rejected = []
    for match in found:
        reason = unusable_reason(match.found)
        if reason is None:
            usable.append(match)
        else:
            rejected.append(f"{_rel(match.found, folder)} {reason}")
    if not usable:
        raise FileProblem(
            f"Your file for {wanted} cannot be graded: {'; '.join(rejected)}. "
            f"Hand in {wanted} as Python source (UTF-8 text)."
        )
    if rejected:
        notes.append(f"Passed over for {wanted}: {'; '.join(rejected)}.")
    if starter is not None and prefer is None and defines and all(_same_text(m.found, starter) for m in usable):
        # conv1D.py left as the starter beside HW1_P5.py, which holds the classes: no other name
        # matches, so the file is found by what it defines, as when conv1D.py is absent.
        named = {m.found for m in usable}
        others = [m for m in _by_definitions(_files(folder), wanted, defines)
                  if m.found not in named and unusable_reason(m.found) is None and not _same_text(m.found, starter)]
        if others:
            notes.append(f"Passed over for {wanted}: {', '.join(_rel(m.found, folder) for m in usable)} "
                         f"(the unchanged starter file); {_rel(others[0].found, folder)} defines {', '.join(defines)}.")
            usable = others
    if starter is not None and len(usable) > 1 and prefer is None:
        # conv1D.py left as the starter beside conv1D_final.py: the work is in the other one.
        untouched = [m for m in usable if _same_text(m.found, starter)]
        if untouched and len(untouched) < len(usable):
            usable = [m for m in usable if m not in untouched]
            notes.append(f"Passed over for {wanted}: {', '.join(_rel(m.found, folder) for m in untouched)} "
                         "(the unchanged starter file).")
    chosen, why = _preferred(usable, prefer)
    if len(usable) > 1:
        others = ", ".join(_rel(m.found, folder) for m in usable if m is not chosen)
        notes.append(
            f"Several files could be {wanted}: used {_rel(chosen.found, folder)} ({why}); "
            f"not used: {others}. A TA can choose with --prefer newest|largest|NAME."
        )
    return chosen, notes


def _same_text(path: Path, other: Path) -> bool:
    """Whether two text files hold the same code, line endings and trailing spaces aside."""
    def lines(p: Path) -> list[str]:
        return [line.rstrip() for line in read_source(p).strip().splitlines()]

    try:
        return lines(path) == lines(other)
    except OSError:
        return False


def _preferred(usable: list[FileMatch], prefer: str | None) -> tuple[FileMatch, str]:
    if prefer == "newest":
        chosen = max(usable, key=lambda m: (m.found.stat().st_mtime_ns, -usable.index(m)))
        return chosen, "the newest, as --prefer newest asks"
    if prefer == "largest":
        chosen = max(usable, key=lambda m: (m.found.stat().st_size, -usable.index(m)))
        return chosen, "the largest, as --prefer largest asks"
    if prefer:
        named = [m for m in usable if m.found.name == prefer or fnmatch.fnmatch(m.found.name, prefer)]
        if named:
            return named[0], f"named {prefer!r}, as --prefer asks"
        return usable[0], f"best name match: {usable[0].how}; no candidate is named {prefer!r}, which --prefer asks for"
    return usable[0], f"best name match: {usable[0].how}"


def _rel(path: Path, folder: Path) -> str:
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return path.name


def _ignored(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts
    return any(part in _IGNORED_DIRS or part.startswith(".") for part in parts)


def _loose(stem: str) -> str:
    # "Conv1D (1)", "conv1d-final", "conv_1D" all reduce to "conv1d…".
    return re.sub(r"[^a-z0-9]", "", stem.lower())


def _defines_any(path: Path, names: tuple[str, ...], module: str) -> bool:
    """Whether ``path`` binds one of ``names`` at top level and does not import ``module``.

    ``experiment.py`` doing ``from wideMinima import f, fprime`` builds on the
    handout's file; graded as ``wideMinima.py`` it would import itself.
    """
    try:
        text = read_source(path)
        if path.suffix.lower() == ".ipynb":
            text = notebook_to_script(text)
        tree = ast.parse(text)
    except (SyntaxError, NotebookError, ValueError):
        return False
    if _imports(tree, module):
        return False
    return bool(top_level_names(tree) & set(names))


def _imports(tree: ast.Module, module: str) -> bool:
    """Whether ``tree`` imports ``module`` anywhere (compared loosely, as file names are)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            mods = [node.module]
        elif isinstance(node, ast.Import):
            mods = [a.name for a in node.names]
        else:
            continue
        if any(_loose(m.split(".")[-1]) == _loose(module) for m in mods):
            return True
    return False


def top_level_names(tree: ast.Module) -> set[str]:
    """Names a module binds at top level: defs, classes, assignments, imports."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def read_source(path: Path) -> str:
    """Reads a student's text file whatever its encoding (see :func:`decode_source`)."""
    return decode_source(path.read_bytes())[0]


def decode_source(raw: bytes) -> tuple[str, str]:
    """Decodes student text: UTF-8 (with or without BOM), UTF-16, cp949 (Korean), else cp1252.

    Returns:
        The text and the encoding used (``utf-8`` when nothing had to be guessed).
    """
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "UTF-16"
    order = _utf16_order(raw)
    if order is not None:
        return raw.decode(order, errors="replace"), "UTF-16 without a byte-order mark"
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("cp949")
    except UnicodeDecodeError:
        pass
    else:
        # Latin-1 bytes rarely decode as cp949; when they do, they give few Hangul syllables.
        wide = [c for c in text if ord(c) > 127]
        hangul = sum(1 for c in wide if "\uac00" <= c <= "\ud7a3")
        if wide and hangul >= 0.6 * len(wide):
            return text, "cp949 (Korean)"
    return raw.decode("cp1252", errors="replace"), "Latin-1 (cp1252)"


def _utf16_order(raw: bytes) -> str | None:
    """``utf-16-le``/``-be`` for BOM-less UTF-16 of mostly ASCII text, else None."""
    sample = raw[:4096]
    if len(sample) < 4 or b"\x00" not in sample:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) >= 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) >= 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


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


def prepare(submission: Submission, problem: Problem, dest: Path, rubric: Rubric | None = None) -> Prepared:
    """Copies the student's folder to ``dest`` and puts each needed file under its handout name.

    A notebook is converted to a script; when it also serves other problems of
    ``rubric``, their cells are left out (:func:`grader.notebooks.notebook_for_problem`).

    Raises:
        FileProblem: a needed file cannot be graded (unreadable notebook, empty, binary, too large).
    """
    notes: list[str] = []
    _copy_tree(submission.folder, dest, notes)
    matches, missing = [], []
    others = other_defines(rubric, problem)
    for wanted in problem.files:
        try:
            starter = rubric.starter / wanted if rubric is not None and rubric.starter is not None else None
            match, chosen_notes = choose(submission.folder, wanted, problem.defines, submission.prefer,
                                         starter if starter is not None and starter.is_file() else None)
        except LookupError:
            missing.append(wanted)
            notes += _linked_instead(submission.folder, wanted)
            continue
        notes += chosen_notes
        matches.append(match)
        name = _rel(match.found, submission.folder)
        try:
            text, encoding, skipped = problem_code(match.found, problem.defines, others)
        except NotebookError as exc:
            raise FileProblem(f"Your notebook {name} could not be read: {exc}.") from None
        if encoding != "utf-8":
            notes.append(f"{name} is not UTF-8: it was read as {encoding}. Save your files as UTF-8.")
        if skipped:
            notes.append(f"{name} serves several problems; for {problem.id} {skipped}")
        if match.found.suffix.lower() != ".ipynb" and is_notebook_json(read_source(match.found)):
            notes.append(f"{name} is a Jupyter notebook saved with a .py name: its code cells were graded. "
                         "Export it with File → Download → .py, or hand in the .ipynb.")
        (dest / wanted).write_text(text, encoding="utf-8")
    return Prepared(dest, tuple(matches), tuple(missing), tuple(notes))


def _linked_instead(folder: Path, wanted: str) -> list[str]:
    """Notes for symbolic links named like ``wanted``: they are never followed, so say why it is missing."""
    stem = Path(wanted).stem.lower()
    links = sorted(p for p in folder.rglob("*") if p.is_symlink() and Path(p.name).stem.lower() == stem)
    return [f"{_rel(p, folder)} is a symbolic link, which the grader does not follow: hand in the file itself."
            for p in links[:3]]


def other_defines(rubric: Rubric | None, problem: Problem) -> dict[str, tuple[str, ...]]:
    """The ``defines`` of the rubric's other problems, which tell their notebook cells apart."""
    return {p.id: p.defines for p in (rubric.problems if rubric else ()) if p.id != problem.id and p.defines}


def problem_code(
    path: Path, own: tuple[str, ...], others: dict[str, tuple[str, ...]], *, keep_imports: bool = True
) -> tuple[str, str, str]:
    """One problem's code in a handed-in file: ``(text, encoding, what was skipped)``.

    A script is decoded whatever its encoding; a notebook becomes its code cells,
    without those that belong only to ``others`` (:func:`grader.notebooks.notebook_for_problem`,
    which ``keep_imports`` is passed to).

    Raises:
        NotebookError: the notebook cannot be read.
    """
    text, encoding = decode_source(path.read_bytes())
    skipped = ""
    if path.suffix.lower() == ".ipynb":
        text, skipped = notebook_for_problem(text, own=own, others=others, keep_imports=keep_imports)
    elif is_notebook_json(text):
        # Saved from Jupyter as .py without exporting ("Save as"): the file is the notebook's JSON.
        text, skipped = notebook_for_problem(text, own=own, others=others, keep_imports=keep_imports)
    return text, encoding, skipped


def is_notebook_json(text: str) -> bool:
    """Whether a .py file's text is a notebook's JSON (a dict with "cells"), not Python."""
    head = text.lstrip()[:1]
    if head != "{":
        return False
    try:
        data = json.loads(text)
    except ValueError:
        return False
    return isinstance(data, dict) and isinstance(data.get("cells"), list)


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
