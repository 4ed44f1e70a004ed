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
from grader.submission import Submission, candidates, discover, root_code_files

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
            has_archive = any(archives.is_archive(e) for e in submission.folder.iterdir() if e.is_file())
            # Only then the name lookups (a walk of the folder per problem file).
            beside = archives.archives_beside_code(submission.folder, _missing(submission.folder, rubric)) if has_archive else []
            if beside:
                out.append(_with_archives_unpacked(submission, beside, scratch, tuple(unsupported)))
                continue
            empty = () if any(p.is_file() for p in submission.folder.rglob("*")) else (
                "Your folder is empty: nothing was handed in.",)
            out.append(dataclasses.replace(submission, notes=submission.notes + tuple(unsupported) + empty))
            continue
        target = scratch / "folders" / submission.student
        extra, opened = [], []
        for archive in packed:
            said = archives.extract_for_student(archive, target / archives.stem(archive))
            extra += said
            if not any("could not be unpacked" in line for line in said):
                opened.append(archive.name)
        target.mkdir(parents=True, exist_ok=True)
        for entry in submission.folder.iterdir():
            if entry.is_file() and not entry.is_symlink() and entry not in packed:
                shutil.copy2(entry, target / entry.name)  # a PDF of the proofs beside hw1.zip
        done = (f"Unpacked {', '.join(opened)} from your folder.",) if opened else ()
        out.append(Submission(submission.student, archives.single_root(target), notes=tuple(extra) + done))
    return out, notes


def _missing(folder: Path, rubric: Rubric) -> set[str]:
    """The lower-case stems of the problems' files that no loose file of ``folder`` stands for."""
    return {Path(f).stem.lower() for p in rubric.problems for f in p.files if not candidates(folder, f)}


def _with_archives_unpacked(submission: Submission, packed: list[Path], scratch: Path, notes: tuple) -> Submission:
    """A copy of the folder with its archives unpacked beside the loose files, which win over copies inside them."""
    target = scratch / "folders" / submission.student
    shutil.copytree(submission.folder, target, symlinks=True)
    extra, opened = [], []
    for archive in packed:
        place = target / archives.stem(archive)
        if place.exists():
            place = target / f"{archives.stem(archive)} (unpacked)"
        notes_of = archives.extract_for_student(archive, place)
        extra += notes_of
        if not any("could not be unpacked" in line for line in notes_of):
            opened.append(archive.name)
    said = (f"Unpacked {', '.join(opened)} beside your other files: a file outside it is used before a "
            "copy inside it.",) if opened else ()
    return Submission(submission.student, target, notes=submission.notes + notes + tuple(extra) + said)
