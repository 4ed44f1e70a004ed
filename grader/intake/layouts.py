"""Which layout a class folder has, and the submissions it holds.

Each layout is one small module with ``NAME``, ``TITLE``, ``detect(path)``
(does ``path`` look like this layout?) and ``read(path, rubric, scratch)``
(its submissions). :data:`LAYOUTS` lists them in the order they are tried:
the most specific first, today's one-folder-per-student last.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.intake import archives, canvas, folders, gradescope, moodle
from grader.rubric import Rubric
from grader.submission import Submission, SubmissionError

#: Layout modules, in detection order.
LAYOUTS = (gradescope, moodle, canvas, archives, folders)

#: The names ``--layout`` accepts.
LAYOUT_NAMES = tuple(m.NAME for m in LAYOUTS)


@dataclass
class Intake:
    """The submissions of a class and where they came from.

    Use as a context manager: unpacked archives live in ``scratch`` until exit.
    """

    submissions: list[Submission]
    """One per student, sorted by id."""

    layout: str
    """The layout's name (one of :data:`LAYOUT_NAMES`)."""

    description: str
    """One line for the TA: which layout, how many students, whether it was detected or forced."""

    scratch: Path | None = None
    """Temporary folder holding unpacked files (removed by :meth:`close`)."""

    notes: list[str] = field(default_factory=list)
    """Class-level notes (archives that could not be read, files that fit no student)."""

    def close(self) -> None:
        """Removes the unpacked files."""
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None

    def __enter__(self) -> "Intake":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def detect(path: Path) -> str:
    """The name of the layout ``path`` looks like (``folders`` when nothing more specific fits)."""
    for module in LAYOUTS:
        if module.detect(path):
            return module.NAME
    return folders.NAME


def read_class(
    path: Path,
    rubric: Rubric,
    layout: str | None = None,
    *,
    prefer: str | None = None,
    tmp_root: Path | None = None,
) -> Intake:
    """Reads the class at ``path`` (a folder, or one archive of it) into submissions.

    Args:
        layout: force a layout (one of :data:`LAYOUT_NAMES`); None detects it.
        prefer: passed to every submission (``newest``, ``largest`` or a file name).
        tmp_root: parent of the scratch folder for unpacked files.

    Raises:
        SubmissionError: ``path`` is missing, holds nothing to grade, or the forced layout does not fit.
    """
    path = Path(path)
    if not path.exists():
        raise SubmissionError(f"{path}: no such folder")
    if layout is not None and layout not in LAYOUT_NAMES:
        raise SubmissionError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUT_NAMES)}")
    scratch = Path(tempfile.mkdtemp(prefix="grader-intake-", dir=tmp_root))
    intake_notes: list[str] = []
    try:
        if path.is_file() and archives.is_archive(path):
            # The whole class as one download (Canvas's submissions.zip): unpack, then look inside.
            unpacked = scratch / "_class"
            try:
                intake_notes += archives.extract(path, unpacked, archives.CLASS_LIMITS)
            except archives.ArchiveError as exc:
                raise SubmissionError(f"{path}: {exc}") from None
            path = archives.single_root(unpacked)
        elif not path.is_dir():
            raise SubmissionError(f"{path}: not a folder (give a class folder, one student's folder, or a .zip of them)")
        name = layout or detect(path)
        module = next(m for m in LAYOUTS if m.NAME == name)
        submissions, notes = module.read(path, rubric, scratch)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    if not submissions:
        shutil.rmtree(scratch, ignore_errors=True)
        hint = "" if layout is None else f" (forced --layout {layout}; try without it)"
        raise SubmissionError(f"{path}: no submissions found as {module.TITLE}{hint}")
    submissions = sorted(
        (dataclasses.replace(s, prefer=prefer) if prefer else s for s in submissions), key=lambda s: s.student
    )
    how = "forced with --layout" if layout else "detected; force another with --layout"
    description = f"Layout: {module.TITLE} — {len(submissions)} submission(s) ({how})"
    return Intake(submissions, name, description, scratch, intake_notes + notes)
