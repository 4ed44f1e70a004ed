"""The TA's manual-scores CSV: the template, and loading it with cell-level validation.

Columns (see ``docs/manual-grading.md``):

- ``student``: the student's folder name;
- ``<item>``: points for the manual item ``<item>`` (e.g. ``p1a``);
- ``<item>_comment``: a comment the student reads;
- ``<item>_deductions``: codes of the rubric's preset deductions, separated by
  spaces, ``;`` or ``,`` (e.g. ``chain sign``).

The file may be ``,``, ``;`` or tab separated (a ``;`` sheet may write 7,5
for 7.5), UTF-8 with or without a BOM. Rules: an empty points cell leaves the item ``pending``, unless deductions are
given, in which case the points are the item's points minus the deductions
(never below 0). A points cell that is filled always wins; its deductions are
then only shown as feedback. Missing item columns and missing students are
pending too. Every error names the row (file line and student) and the column.
"""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path

from grader.models import ManualScore
from grader.rubric import Item, Rubric
from grader.submission import Submission, SubmissionError, discover

#: Suffixes of the extra columns of each manual item.
COMMENT, DEDUCTIONS = "_comment", "_deductions"

#: Errors listed in one message before the rest are summarized.
MAX_ERRORS = 20

_SEPARATORS = re.compile(r"[\s;,]+")


class ManualScoresError(Exception):
    """The manual-scores CSV is invalid; the message names every bad cell."""


def columns(rubric: Rubric) -> list[str]:
    """The template's header: ``student``, then points, comment, deductions per manual item."""
    header = ["student"]
    for item in rubric.manual_items:
        header += [item.id, item.id + COMMENT, item.id + DEDUCTIONS]
    return header


def write_template(out: Path, rubric: Rubric, students: list[str], force: bool = False) -> None:
    """Writes an empty scores CSV with one row per student.

    Raises:
        ManualScoresError: the rubric has no manual items, or ``out`` exists and ``force`` is False
            (a template must never overwrite a TA's scores).
    """
    if not rubric.manual_items:
        raise ManualScoresError(f"{rubric.path}: the rubric has no manual items")
    if out.exists() and not force:
        raise ManualScoresError(f"{out}: already exists; it may hold scores (use --force to overwrite)")
    out.parent.mkdir(parents=True, exist_ok=True)
    header = columns(rubric)
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for student in students:
            writer.writerow([student] + [""] * (len(header) - 1))


def load_scores(path: Path, rubric: Rubric, students: set[str] | None = None) -> dict[str, dict[str, ManualScore]]:
    """Reads a filled-in scores CSV into ``{student: {item id: ManualScore}}``.

    Args:
        path: the CSV (UTF-8, with or without a BOM; ``,``, ``;`` or tab separated).
        rubric: gives the manual items, their points and deduction codes.
        students: the known students; a row for anyone else is an error (None: no check).

    Raises:
        ManualScoresError: listing every invalid cell as ``file: row N (student 'x'), column 'c': reason``.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ManualScoresError(f"{path}: manual-scores file not found") from None
    except UnicodeDecodeError:
        raise ManualScoresError(f"{path}: not UTF-8 text (save the sheet as 'CSV UTF-8')") from None
    return _Reader(Path(path), rubric, students).read(text)


def known_students(
    path: Path, rubric: Rubric, submissions: list[Submission] | None = None
) -> tuple[list[Submission], set[str]]:
    """The submissions under ``path`` and the student names a scores CSV may contain.

    Args:
        submissions: the class as intake already read it (None: read ``path`` as one folder per student).

    When ``path`` is one student's folder, the CSV is usually the whole class's,
    so the student's classmates (sibling folders) are known too.
    """
    if submissions is None:
        submissions = discover(path, rubric)
    known = {s.student for s in submissions}
    if len(submissions) == 1 and Path(submissions[0].folder).resolve() == Path(path).resolve():
        try:
            known |= {s.student for s in discover(Path(path).resolve().parent, rubric)}
        except SubmissionError:
            pass
    return submissions, known


class _Reader:
    def __init__(self, path: Path, rubric: Rubric, students: set[str] | None):
        self.path = path
        self.items = {i.id: i for i in rubric.manual_items}
        self.autograded = {i.id for p in rubric.problems for i in p.items if i.kind != "manual"}
        self.students = students
        self.errors: list[str] = []
        self.decimal_comma = False

    def error(self, row: int, student: str | None, column: str, reason: str) -> None:
        where = f"row {row}" + (f" (student {student!r})" if student else "")
        self.errors.append(f"{self.path}: {where}, column {column!r}: {reason}")

    def read(self, text: str) -> dict[str, dict[str, ManualScore]]:
        first = text.split("\n", 1)[0]
        delimiter = "," if "," in first else ";" if ";" in first else "\t" if "\t" in first else ","
        # A ';'-separated sheet comes from a spreadsheet in a locale that writes 7,5 for 7.5.
        self.decimal_comma = delimiter != ","
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
        if not rows or not any(cell.strip() for cell in rows[0]):
            raise ManualScoresError(f"{self.path}: empty file (expected a header row starting with 'student')")
        header = [cell.strip() for cell in rows[0]]
        plan = self._header(header)
        if plan is None:
            raise ManualScoresError("invalid manual scores:\n" + "\n".join(self.errors))
        scores: dict[str, dict[str, ManualScore]] = {}
        first_row: dict[str, int] = {}
        for number, cells in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in cells):
                continue  # blank lines spreadsheets leave at the end
            if any(c.strip() for c in cells[len(header):]):
                self.error(number, cells[0].strip(), f"#{len(header) + 1}", "value in a column without a header")
            cells = cells + [""] * (len(header) - len(cells))
            student = cells[0].strip()
            if not student:
                self.error(number, None, "student", "empty student name")
                continue
            if self.students is not None and student not in self.students:
                self.error(number, student, "student", f"unknown student (no folder named {student!r})")
                continue
            if student in first_row:
                self.error(number, student, "student", f"duplicate row (first on row {first_row[student]})")
                continue
            first_row[student] = number
            row_scores = {}
            for item_id, (points_col, comment_col, deductions_col) in plan.items():
                score = self._score(
                    number, student, self.items[item_id],
                    cells[points_col] if points_col is not None else "",
                    cells[comment_col] if comment_col is not None else "",
                    cells[deductions_col] if deductions_col is not None else "",
                )
                if score is not None:
                    row_scores[item_id] = score
            scores[student] = row_scores
        if self.errors:
            shown = self.errors[:MAX_ERRORS]
            more = len(self.errors) - len(shown)
            raise ManualScoresError(
                "invalid manual scores:\n" + "\n".join(shown) + (f"\n(and {more} more)" if more > 0 else "")
            )
        return scores

    def _header(self, header: list[str]) -> dict[str, list[int | None]] | None:
        """Maps each item id to its [points, comment, deductions] column indexes."""
        if header[0] != "student":
            self.error(1, None, header[0], "the first column must be 'student'")
            return None
        plan: dict[str, list[int | None]] = {}
        seen: dict[str, int] = {}
        for index, name in enumerate(header[1:], start=1):
            if not name:
                continue
            if name in seen:
                self.error(1, None, name, f"duplicate column (also column {seen[name] + 1})")
                continue
            seen[name] = index
            item_id, slot = name, 0
            for suffix, number in ((COMMENT, 1), (DEDUCTIONS, 2)):
                if name.endswith(suffix) and name[: -len(suffix)] in self.items:
                    item_id, slot = name[: -len(suffix)], number
            if item_id not in self.items:
                base = re.sub(f"({COMMENT}|{DEDUCTIONS})$", "", name)
                reason = (
                    f"item {base!r} is autograded, not manual" if base in self.autograded
                    else f"unknown item; the manual items are {', '.join(self.items) or 'none'}"
                )
                self.error(1, None, name, reason)
                continue
            plan.setdefault(item_id, [None, None, None])[slot] = index
        return plan

    def _score(
        self, row: int, student: str, item: Item, points_cell: str, comment: str, deductions_cell: str
    ) -> ManualScore | None:
        known = {d.code: d for d in item.deductions}
        codes: list[str] = []
        for code in _SEPARATORS.split(deductions_cell.strip()):
            if not code:
                continue
            if code not in known:
                listed = ", ".join(known) or "none (this item has no preset deductions)"
                self.error(row, student, item.id + DEDUCTIONS, f"unknown deduction code {code!r}; known: {listed}")
            elif code not in codes:
                codes.append(code)
        points_text = points_cell.strip()
        if not points_text:
            if not codes:
                return None  # still pending, even if a comment is there
            points = max(0.0, item.points - sum(known[c].points for c in codes))
        else:
            if self.decimal_comma and re.fullmatch(r"\d+,\d+", points_text):
                points_text = points_text.replace(",", ".")
            try:
                points = float(points_text)
            except ValueError:
                self.error(row, student, item.id, f"not a number: {points_text!r}")
                return None
            if not math.isfinite(points):
                self.error(row, student, item.id, f"not a finite number: {points_text!r}")
                return None
            if points < 0:
                self.error(row, student, item.id, f"negative score {points:g}")
                return None
            if points > item.points:
                self.error(row, student, item.id, f"score {points:g} is above the maximum {item.points:g}")
                return None
        return ManualScore(points=points, comment=comment.strip(), deductions=tuple(codes))


def template_main(*, path: Path, rubric: Rubric, out: Path, force: bool, ctx, layout: str | None = None) -> None:
    """``grade manual-template``: writes the scores CSV and, beside it, the TA's grading sheet."""
    from grader.intake.layouts import read_class
    from grader.reports.grading_sheet import render_sheet

    with read_class(path, rubric, layout, tmp_root=ctx.tmp_root) as intake:
        submissions = intake.submissions
        write_template(out, rubric, [s.student for s in submissions], force=force)
        sheet = out.with_suffix(".md")
        sheet.write_text(render_sheet(rubric, submissions, out.name), encoding="utf-8")
    ctx.say(
        f"Wrote {out} ({len(submissions)} student(s), {len(rubric.manual_items)} manual item(s)) "
        f"and the grading sheet {sheet}"
    )
