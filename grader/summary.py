"""The summary table printed at the end of a batch."""

from __future__ import annotations

from typing import Sequence

from grader.models import StudentReport
from grader.reports.base import points


def summary_table(reports: Sequence[StudentReport]) -> str:
    """A plain-text table: student, points per problem, total."""
    if not reports:
        return "(no students)"
    problem_ids = [p.id for p in reports[0].problems]
    header = ["student", *problem_ids, "total"]
    maxima = {p.id: p.max_score for p in reports[0].problems}
    rows = [header, ["(max)", *(points(maxima[pid]) for pid in problem_ids), points(reports[0].max_score)]]
    for report in reports:
        scores = {p.id: p for p in report.problems}
        cells = []
        for pid in problem_ids:
            problem = scores[pid]
            pending = any(i.status.value == "pending" for i in problem.items)
            cells.append(points(problem.score) + ("*" if pending else ""))
        rows.append([report.student, *cells, points(report.score) + ("*" if report.pending_points else "")])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    if any(r.pending_points for r in reports):
        lines.append("* includes manual items not graded yet (pending): the total covers the autograded part only")
    return "\n".join(lines)
