"""Moodle's "Download all submissions": ``Full Name_12345_assignsubmission_file_/`` folders.

Each folder is one student's files (``assignsubmission_onlinetext_`` folders
hold the online text). Several folders of one participant are merged. With
"download submissions in folders" off, Moodle writes flat files named
``Full Name_12345_assignsubmission_file_conv1D.py``; both forms are read.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from grader.intake.naming import safe_id, unique
from grader.rubric import Rubric
from grader.submission import Submission

NAME = "moodle"
TITLE = "a Moodle download (Full Name_12345_assignsubmission_file_)"

_ENTRY = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<rest>.*)$")


def detect(path: Path) -> bool:
    """Most entries follow Moodle's naming (at least one does)."""
    if not path.is_dir():
        return False
    entries = [e for e in path.iterdir() if not e.name.startswith(".")]
    named = [e for e in entries if _ENTRY.match(e.name)]
    return bool(named) and len(named) * 2 > len(entries)


def read(path: Path, rubric: Rubric, scratch: Path) -> tuple[list[Submission], list[str]]:
    """One submission per Moodle participant id."""
    people: dict[str, dict] = {}
    notes = []
    for entry in sorted(path.iterdir()):
        if entry.name.startswith("."):
            continue
        match = _ENTRY.match(entry.name)
        if not match:
            notes.append(f"{entry.name}: not named as Moodle names submissions, ignored")
            continue
        person = people.setdefault(match.group("id"), {"name": match.group("name"), "entries": []})
        person["entries"].append((entry, match.group("rest")))
    ids = unique([safe_id(p["name"]) for p in people.values()])
    out = []
    for student, (pid, person) in zip(ids, people.items()):
        entries = person["entries"]
        if len(entries) == 1 and entries[0][0].is_dir():
            folder = entries[0][0]
        else:
            folder = scratch / NAME / student
            folder.mkdir(parents=True, exist_ok=True)
            for entry, rest in entries:
                if entry.is_dir():
                    shutil.copytree(entry, folder, dirs_exist_ok=True, symlinks=True)
                elif rest:
                    shutil.copy2(entry, folder / rest)
        out.append(Submission(student, folder, name=person["name"], aliases=(pid, person["name"])))
    return out, notes
