"""Reads the code the similarity report compares: each student's problem files and the boilerplate.

Everything the report knows about intake goes through :func:`read_files` (and
:func:`code_of` for one file): the class is read by :mod:`grader.intake` (any
layout: folders, archives, Canvas, Gradescope, Moodle) and each problem's file is
chosen as grading chooses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from grader.notebooks import NotebookError
from grader.rubric import Problem, Rubric
from grader.submission import FileProblem, Submission, choose, other_defines, problem_code

#: Code longer than this is not compared (a pasted dataset is not code to fingerprint).
MAX_CODE_CHARS = 1_000_000

_CODE_SUFFIXES = (".py", ".ipynb")


@dataclass(frozen=True)
class StudentFile:
    """The code a student handed in for one of the handout's files."""

    student: str
    """The student's id."""

    wanted: str
    """The handout's file name it stands for, e.g. ``conv1D.py``."""

    source: str
    """The student's file, relative to their folder (``conv1D (1).ipynb``)."""

    code: str
    """Its Python code (a notebook's code cells, joined), with ``\\n`` line ends."""


@dataclass(frozen=True)
class Skipped:
    """A student's file that was found but could not be compared."""

    student: str
    """The student's id."""

    wanted: str
    """The handout's file name."""

    reason: str
    """Why, for the TA."""


@dataclass(frozen=True)
class ClassCode:
    """What :func:`read_files` found."""

    students: tuple[str, ...]
    """Every student, in order."""

    files: tuple[StudentFile, ...]
    """The readable files, by handout name then student."""

    skipped: tuple[Skipped, ...]
    """Files found but unusable (empty, binary, too large, an unreadable notebook)."""

    wanted: tuple[str, ...]
    """The handout's file names compared (the rubric's problem files)."""


def read_files(submissions: Sequence[Submission], rubric: Rubric) -> ClassCode:
    """Reads every student's copy of each file the rubric's problems name.

    This is the adapter to intake (:mod:`grader.intake`, :func:`grader.submission.choose`):
    the file a student's problem is graded on is the file compared, and a notebook
    that serves several problems gives each problem only its own cells, as in grading.
    """
    others_of = {p.id: other_defines(rubric, p) for p in rubric.problems}
    wanted_by_file: dict[str, Problem] = {}
    for problem in rubric.problems:
        for name in problem.files:
            wanted_by_file.setdefault(name, problem)
    files, skipped = [], []
    for wanted, problem in wanted_by_file.items():
        for submission in submissions:
            try:
                match, _ = choose(submission.folder, wanted, problem.defines, submission.prefer)
            except LookupError:
                continue  # not handed in
            except FileProblem as exc:
                skipped.append(Skipped(submission.student, wanted, str(exc)))
                continue
            try:
                code = code_of(match.found, problem.defines, others_of[problem.id])
            except (ValueError, OSError) as exc:
                skipped.append(Skipped(submission.student, wanted, f"{match.found.name}: {exc}"))
                continue
            source = match.found.relative_to(submission.folder).as_posix()
            files.append(StudentFile(submission.student, wanted, source, code))
    return ClassCode(
        students=tuple(s.student for s in submissions),
        files=tuple(files),
        skipped=tuple(skipped),
        wanted=tuple(wanted_by_file),
    )


def code_of(path: Path, own: tuple[str, ...] = (), others: dict[str, tuple[str, ...]] | None = None) -> str:
    """A file's Python code: a script as text (any encoding), a notebook as its code cells.

    Args:
        own, others: for a notebook, the ``defines`` of the problem and of the other
            problems, so that only the problem's own cells are kept.

    Raises:
        ValueError: the file is too large or an unreadable notebook (the message says which).
    """
    try:
        # Another problem's imports kept for running are not this problem's work.
        text, _, _ = problem_code(path, own, others or {}, keep_imports=False)
    except NotebookError as exc:
        raise ValueError(str(exc)) from None
    if len(text) > MAX_CODE_CHARS:
        raise ValueError(f"{len(text)} characters of code, over the {MAX_CODE_CHARS} compared")
    # The tokenizer turns \r\n and \r into \n; do it first so its positions are ours.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def boilerplate_files(rubric: Rubric) -> tuple[Path, ...]:
    """The starter's code files and every file or folder the rubric's ``boilerplate`` names."""
    roots = ([rubric.starter] if rubric.starter is not None else []) + list(rubric.boilerplate)
    found: list[Path] = []
    for root in roots:
        if root.is_dir():
            found.extend(sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in _CODE_SUFFIXES))
        else:
            found.append(root)
    return tuple(dict.fromkeys(found))
