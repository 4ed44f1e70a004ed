"""Today's layout: one folder per student (named by id), or one student's folder.

A student folder that holds only archives (``hw1.zip``) is unpacked into the
scratch folder and graded from there.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from grader.intake import archives
from grader.rubric import Rubric
from grader.submission import Submission, discover, root_code_files

NAME = "folders"
TITLE = "one folder per student"


def detect(path: Path) -> bool:
    """Always a candidate: this is the fallback layout."""
    return path.is_dir()


def read(path: Path, rubric: Rubric, scratch: Path) -> tuple[list[Submission], list[str]]:
    """One submission per sub-folder (or ``path`` itself when it is one student's folder)."""
    found = discover(path, rubric)
    out, notes = [], []
    stray = root_code_files(path, rubric) if len(found) > 1 or found[0].folder != path else []
    if stray:
        notes.append(f"ignored at the class folder's root (in no student's folder): {', '.join(stray)}")
    for submission in found:
        packed = archives.only_archives(submission.folder)
        if not packed:
            unsupported = archives.unsupported_in(submission.folder)
            out.append(dataclasses.replace(submission, notes=submission.notes + tuple(unsupported)))
            continue
        target = scratch / "folders" / submission.student
        extra = []
        for archive in packed:
            extra += archives.extract_for_student(archive, target / archives.stem(archive))
        for entry in submission.folder.iterdir():
            if entry.is_file() and not entry.is_symlink() and entry not in packed:
                shutil.copy2(entry, target / entry.name)  # a PDF of the proofs beside hw1.zip
        out.append(Submission(submission.student, archives.single_root(target), notes=tuple(extra) + (
            f"Unpacked {', '.join(a.name for a in packed)} from your folder.",
        )))
    return out, notes
