"""The TA's grading sheet: one Markdown page with the manual rubric and every student's written answers.

``grade manual-template`` writes it beside the scores CSV (``scores.csv`` →
``scores.md``), so the TA reads answers on one page and types points, comments
and deduction codes into the matching CSV row.
"""

from __future__ import annotations

from typing import Sequence

from grader.answers import find_answers
from grader.manual import COMMENT, DEDUCTIONS
from grader.reports.markdown import render_answer
from grader.rubric import Rubric
from grader.submission import Submission


def render_sheet(rubric: Rubric, submissions: Sequence[Submission], csv_name: str) -> str:
    """The grading sheet for ``submissions`` as Markdown."""
    lines = [
        f"# {rubric.id}: manual grading sheet",
        "",
        f"Fill in `{csv_name}`, one row per student. For each item: points in the item's column "
        f"(empty = still pending), a comment in `<item>{COMMENT}`, preset deduction codes in "
        f"`<item>{DEDUCTIONS}` (separated by spaces or `;`). With codes but no points, the item gets "
        "its points minus the deductions. Merge with `grade <class> --manual " + csv_name + "`.",
        "",
        "| column | problem | item | points | deductions (code: points off, comment) |",
        "|---|---|---|---|---|",
    ]
    manual_problems = [p for p in rubric.problems if any(i.kind == "manual" for i in p.items)]
    for problem in manual_problems:
        for item in problem.items:
            if item.kind != "manual":
                continue
            codes = "; ".join(f"`{d.code}`: -{d.points:g}, {d.comment}" for d in item.deductions) or "—"
            lines.append(f"| `{item.id}` | {problem.id} | {_cell(item.description)} | {item.points:g} | {_cell(codes)} |")
    for submission in submissions:
        lines += ["", "---", "", f"## {submission.student}", "", f"Folder: `{submission.folder.resolve()}`"]
        shown: set[str] = set()  # a whole-homework PDF or .md is shown once, under its first problem
        for problem in manual_problems:
            ids = ", ".join(f"`{i.id}`" for i in problem.items if i.kind == "manual")
            lines += ["", f"### {submission.student} — {problem.id}: {problem.title} (columns {ids})", ""]
            if not problem.answers:
                lines.append("(the rubric lists no answer files for this problem)")
                continue
            answers = find_answers(submission.folder, problem, rubric)
            if not answers:
                lines.append(f"No written answer found (looked for {', '.join(problem.answers)}).")
            for answer in answers:
                if answer.file in shown:
                    lines += [f"Written answer `{answer.file}`: shown above.", ""]
                    continue
                shown.add(answer.file)
                lines += [*render_answer(answer), ""]
    return "\n".join(lines).rstrip() + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
