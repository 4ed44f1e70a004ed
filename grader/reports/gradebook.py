"""``gradebook.csv``: one row per student, one column per problem, and the total."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

from grader.models import StudentReport
from grader.reports.base import points as _fmt


class GradebookCsv:
    """Writes ``<out>/gradebook.csv`` (columns: student, p1 … pN, total, pending)."""

    def write_student(self, report: StudentReport, folder: Path) -> None:
        return None

    def write_class(self, reports: Sequence[StudentReport], out: Path) -> None:
        if not reports:
            return
        problem_ids = [p.id for p in reports[0].problems]
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "gradebook.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["student", *problem_ids, "total", "pending", "flags", "status", "late", "name", "email"])
            for report in sorted(reports, key=lambda r: r.student):
                scores = {p.id: _fmt(p.score) for p in report.problems}
                writer.writerow(
                    [report.student, *(scores.get(pid, "") for pid in problem_ids),
                     _fmt(report.score), _fmt(report.pending_points), "; ".join(report.flags),
                     report.status, _fmt(sum(a.points for a in report.adjustments)) if report.adjustments else "",
                     report.name, report.email]
                )
