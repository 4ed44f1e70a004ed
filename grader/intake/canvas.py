"""Canvas's "Download submissions": one flat folder of renamed files.

Canvas names each file ``<lastfirst>_[LATE_]<user id>_<submission id>_<original name>``
(``smithjohn_LATE_12345_67890_conv1D.py``). A student who uploads a file again
gets Canvas's resubmission suffix: ``conv1D-1.py``, ``conv1D-2.py``. For each
original name the highest suffix wins, the file is put back under its
original name, and the report says which one was used. An archive a student
uploaded (``smithjohn_12345_67890_hw1.zip``) is unpacked in place. ``LATE``
is recorded on the submission.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from grader.intake import archives
from grader.intake.naming import safe_id
from grader.rubric import Rubric
from grader.submission import Submission

NAME = "canvas"
TITLE = "a Canvas bulk download (lastfirst_[LATE_]userid_submissionid_file)"

_FILE = re.compile(r"^(?P<login>[^_\s]+)_(?:(?P<late>LATE)_)?(?P<user>\d+)_(?P<sub>\d+)_(?P<name>.+)$")
_RESUBMISSION = re.compile(r"^(?P<base>.+?)-(?P<n>\d{1,3})$")


def detect(path: Path) -> bool:
    """Most files directly in ``path`` follow Canvas's naming (at least one does)."""
    if not path.is_dir():
        return False
    files = [e for e in path.iterdir() if e.is_file() and not e.name.startswith(".")]
    named = [e for e in files if _FILE.match(e.name)]
    return bool(named) and len(named) * 2 > len(files)


def split_resubmission(name: str) -> tuple[str, int]:
    """``conv1D-2.py`` → (``conv1D.py``, 2); ``conv1D.py`` → (``conv1D.py``, 0)."""
    path = Path(name)
    suffix = "".join(path.suffixes[-2:]) if name.lower().endswith(".tar.gz") else path.suffix
    stem = name[: len(name) - len(suffix)] if suffix else name
    match = _RESUBMISSION.match(stem)
    if not match:
        return name, 0
    return match.group("base") + suffix, int(match.group("n"))


def read(path: Path, rubric: Rubric, scratch: Path) -> tuple[list[Submission], list[str]]:
    """One submission per Canvas user id; files are copied under their original names."""
    groups: dict[str, dict] = {}
    notes = []
    for entry in sorted(path.iterdir()):
        if entry.name.startswith(".") or not entry.is_file():
            continue
        match = _FILE.match(entry.name)
        if not match:
            notes.append(f"{entry.name}: not named as Canvas names submissions, ignored")
            continue
        group = groups.setdefault(match.group("user"), {"login": match.group("login"), "late": False, "files": {}})
        group["late"] |= bool(match.group("late"))
        original, number = split_resubmission(match.group("name"))
        group["files"].setdefault(original, []).append((number, entry))
    logins = [g["login"] for g in groups.values()]
    out = []
    for user, group in groups.items():
        student = safe_id(group["login"] if logins.count(group["login"]) == 1 else f"{group['login']}_{user}")
        folder = scratch / NAME / student
        folder.mkdir(parents=True, exist_ok=True)
        student_notes = []
        for original, versions in sorted(group["files"].items()):
            versions.sort(key=lambda v: v[0])
            number, chosen = versions[-1]
            if len(versions) > 1 or number:
                older = ", ".join(_version_name(original, n) for n, _ in versions[:-1]) or "none in the download"
                student_notes.append(
                    f"Canvas resubmission: {_version_name(original, number)} was graded as {original} "
                    f"(the highest resubmission number wins; older: {older})."
                )
            if archives.is_archive(chosen):
                student_notes += archives.extract_for_student(chosen, folder / archives.stem(Path(original)))
            elif archives.unsupported_note(chosen):
                student_notes.append(archives.unsupported_note(chosen).replace(chosen.name, original))
            else:
                dest = folder / original
                shutil.copy2(chosen, dest)
        if group["late"]:
            student_notes.append("Canvas marked this submission LATE.")
        out.append(
            Submission(
                student, archives.single_root(folder), aliases=(user,), late=group["late"],
                notes=tuple(student_notes),
            )
        )
    return out, notes


def _version_name(original: str, number: int) -> str:
    if not number:
        return original
    path = Path(original)
    return f"{path.stem}-{number}{path.suffix}"
