"""The class roster (``--roster roster.csv``): who should have handed in.

The CSV has a header row; columns are recognised by name (any case):

- the student's id: ``id``, ``student``, ``student id``, ``sid``, ``login``, ``username`` or ``sis user id``;
- ``name`` (or ``full name``, ``student name``), and ``email`` (or ``e-mail``), both optional.

A submission matches a roster row when its id or any id the export gave
(Canvas user id, Gradescope SID or e-mail, Moodle participant id or full
name) equals the row's id, e-mail or name, ignoring case. Roster students
with no submission get a gradebook row with 0 and status ``missing``;
submissions not on the roster are listed and graded all the same.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import dataclass
from pathlib import Path

from grader import scoring
from grader.intake.naming import safe_id
from grader.models import ProblemResult, Status, StudentReport
from grader.rubric import Rubric
from grader.submission import Submission

_ID = ("id", "student", "student id", "student_id", "sid", "login", "login id", "username", "user", "sis user id")
_NAME = ("name", "full name", "student name", "full_name")
_EMAIL = ("email", "e-mail", "mail", "email address")

#: What the student reads on every item when nothing was handed in.
NO_SUBMISSION = "No submission was received, so this scores 0."


class RosterError(Exception):
    """The roster file is unreadable or lacks an id column; the message says which and why."""


@dataclass(frozen=True)
class Person:
    """One roster row."""

    id: str
    """The id the course uses (a folder-safe form of it names the gradebook row)."""

    name: str = ""
    """Full name."""

    email: str = ""
    """E-mail address."""


@dataclass(frozen=True)
class Matched:
    """The class after matching against the roster."""

    submissions: list[Submission]
    """Every submission (roster ones with name and e-mail filled in)."""

    missing: list[Person]
    """Roster students with no submission."""

    unknown: list[Submission]
    """Submissions that match no roster row (graded anyway)."""

    shared: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    """Roster ids that more than one submission matched, with those submissions (a TA must choose)."""


def load_roster(path: Path) -> list[Person]:
    """Reads the roster CSV (``,``, ``;`` or tab separated; UTF-8 with or without BOM, else cp949/cp1252).

    Raises:
        RosterError: missing file, no id column, empty or duplicate ids (each row named).
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise RosterError(f"{path}: cannot read the roster ({exc.strerror or exc})") from None
    text = _decode(raw)
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if not rows:
        raise RosterError(f"{path}: empty roster (expected a header row with an 'id' column)")
    header = [c.strip().lower() for c in rows[0]]
    column = {key: next((header.index(n) for n in names if n in header), None)
              for key, names in (("id", _ID), ("name", _NAME), ("email", _EMAIL))}
    if column["id"] is None:
        raise RosterError(f"{path}: no id column; the header must name one of: {', '.join(_ID)}")
    people, errors, seen = [], [], {}
    for number, cells in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        cell = {k: (cells[i].strip() if i is not None and i < len(cells) else "") for k, i in column.items()}
        if not cell["id"]:
            errors.append(f"{path}: row {number}: empty id")
        elif cell["id"].lower() in seen:
            errors.append(f"{path}: row {number}: duplicate id {cell['id']!r} (first on row {seen[cell['id'].lower()]})")
        else:
            seen[cell["id"].lower()] = number
            people.append(Person(cell["id"], cell["name"], cell["email"]))
    if errors:
        raise RosterError("invalid roster:\n" + "\n".join(errors[:20]))
    return people


def _decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "cp949"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("cp1252", errors="replace")


def match(people: list[Person], submissions: list[Submission]) -> Matched:
    """Pairs submissions with roster rows (see module docstring)."""
    index: dict[str, Person] = {}
    for person in people:
        for key in (person.id, person.email, person.name, safe_id(person.id)):
            if key:
                index.setdefault(key.lower(), person)
    out, unknown, found = [], [], set()
    claims: dict[str, list[str]] = {}
    for submission in submissions:
        keys = (submission.student, submission.email, submission.name, *submission.aliases)
        person = next((index[k.lower()] for k in keys if k and k.lower() in index), None)
        if person is None:
            unknown.append(submission)
            out.append(submission)
            continue
        found.add(person.id)
        claims.setdefault(person.id, []).append(submission.student)
        out.append(dataclasses.replace(
            submission, name=submission.name or person.name, email=submission.email or person.email,
            aliases=tuple(dict.fromkeys((*submission.aliases, person.id))),
        ))
    missing = [p for p in people if p.id not in found]
    shared = {pid: names for pid, names in claims.items() if len(names) > 1}
    return Matched(out, missing, unknown, shared)


def student_id(person: Person) -> str:
    """The id of a roster student's gradebook row and report folder."""
    return safe_id(person.id)


def missing_report(person: Person, rubric: Rubric) -> StudentReport:
    """The report of a roster student who handed in nothing: every item 0, status ``missing``."""
    problems = tuple(
        ProblemResult(
            problem.id, problem.title,
            tuple(scoring.score_unavailable(item, Status.SKIPPED, NO_SUBMISSION) for item in problem.items),
        )
        for problem in rubric.problems
    )
    return StudentReport(
        student=student_id(person), assignment=rubric.id, problems=problems,
        warnings=(NO_SUBMISSION,), status="missing", name=person.name, email=person.email,
    )


def roster_summary(matched: Matched) -> str:
    """Lines for the TA: who is missing, and which submissions are not on the roster."""
    extra = sum(len(names) - 1 for names in matched.shared.values())
    lines = [f"Roster: {len(matched.submissions) - len(matched.unknown) - extra} on the roster handed in, "
             f"{len(matched.missing)} missing, {len(matched.unknown)} not on the roster"]
    if matched.missing:
        lines.append("  missing (0, status 'missing'): " + ", ".join(p.name or p.id for p in matched.missing))
    if matched.unknown:
        lines.append("  not on the roster (graded anyway): " + ", ".join(s.student for s in matched.unknown))
    for pid, names in matched.shared.items():
        lines.append(f"  warning: roster row {pid} matches {len(names)} submissions ({', '.join(names)}); "
                     "each is graded, but only one can be this student: rename or remove the others")
    return "\n".join(lines)
