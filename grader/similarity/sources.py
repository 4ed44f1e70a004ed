"""Reads the code the similarity report compares: each student's problem files and the boilerplate.

Everything the report knows about how submissions are laid out goes through
:func:`read_class` (and :func:`code_of` for one file), so a change in intake
(class layouts, archives, notebooks) is a change here only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.notebooks import NotebookError, notebook_to_script
from grader.rubric import Rubric
from grader.submission import discover, locate, read_source

#: Files larger than this are not compared (a pasted dataset is not code to fingerprint).
MAX_CODE_BYTES = 1024 * 1024

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
    """What :func:`read_class` found."""

    students: tuple[str, ...]
    """Every student, in order."""

    files: tuple[StudentFile, ...]
    """The readable files, by handout name then student."""

    skipped: tuple[Skipped, ...]
    """Files found but unreadable or too large."""

    wanted: tuple[str, ...]
    """The handout's file names compared (the rubric's problem files)."""


def read_class(path: Path, rubric: Rubric) -> ClassCode:
    """Reads every student's copy of each file the rubric's problems name.

    This is the adapter to intake: today it uses :func:`grader.submission.discover`
    and :func:`grader.submission.locate`.

    Raises:
        SubmissionError: ``path`` holds no submissions.
    """
    submissions = discover(Path(path), rubric)
    wanted_by_file: dict[str, tuple[str, ...]] = {}
    for problem in rubric.problems:
        for name in problem.files:
            wanted_by_file.setdefault(name, problem.defines)
    files, skipped = [], []
    for wanted, defines in wanted_by_file.items():
        for submission in submissions:
            match = locate(submission.folder, wanted, defines)
            if match is None:
                continue
            try:
                code = code_of(match.found)
            except ValueError as exc:
                skipped.append(Skipped(submission.student, wanted, f"{match.found.name}: {exc}"))
                continue
            source = str(match.found.relative_to(submission.folder))
            files.append(StudentFile(submission.student, wanted, source, code))
    return ClassCode(
        students=tuple(s.student for s in submissions),
        files=tuple(files),
        skipped=tuple(skipped),
        wanted=tuple(wanted_by_file),
    )


def code_of(path: Path) -> str:
    """A file's Python code: a script as text (any encoding), a notebook as its code cells.

    Raises:
        ValueError: the file is too large or an unreadable notebook (the message says which).
    """
    if path.stat().st_size > MAX_CODE_BYTES:
        raise ValueError(f"larger than {MAX_CODE_BYTES >> 20} MB, not compared")
    text = read_source(path)
    if path.suffix.lower() == ".ipynb":
        try:
            text = notebook_to_script(text)
        except NotebookError as exc:
            raise ValueError(str(exc)) from None
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
