"""``report.md``: the feedback written for the student."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from grader.models import ItemScore, Status, StudentReport, WrittenAnswer
from grader.reports.base import points

_ICONS = {
    Status.PASSED: "passed",
    Status.FAILED: "FAILED",
    Status.ERROR: "ERROR",
    Status.TIMEOUT: "TIMEOUT",
    Status.SKIPPED: "skipped",
    Status.PENDING: "pending (graded by a TA)",
}


def render(report: StudentReport) -> str:
    """The student's report as Markdown; hidden items show no details."""
    lines = [f"# {report.assignment}: feedback for {report.student}", ""]
    total = f"**Score: {points(report.score)} / {points(report.max_score)}**"
    if report.pending_points:
        total += (
            f" — {points(report.pending_points)} points are not graded yet (manual items); "
            "this score covers the autograded part only."
        )
    lines += [total, ""]
    for adjustment in report.adjustments:
        lines += [f"**{adjustment.label}: {adjustment.points:+g} points** (included in the score above)", ""]
    for warning in report.warnings:
        lines.append(f"> {warning}")
    for flag in report.flags:
        lines.append(f"> Marked for review by a TA: {flag}")
    for problem in report.problems:
        lines += ["", f"## {problem.id}: {problem.title} — {points(problem.score)} / {points(problem.max_score)}", ""]
        if problem.files:
            lines.append("Graded file(s): " + ", ".join(f"`{f}`" for f in problem.files))
            lines.append("")
        for item in problem.items:
            lines += _item(item)
        for answer in problem.answers:
            lines += ["", *render_answer(answer)]
        for note in problem.notes:
            lines += ["", _quote(note)]
    return "\n".join(lines).rstrip() + "\n"


def _item(item: ItemScore) -> list[str]:
    head = f"- **{item.id}** {item.description}: {points(item.score)} / {points(item.max_score)}"
    if item.visibility == "hidden":
        return [f"{head} (hidden check: details are released after the deadline)"]
    lines = [f"{head} — {_ICONS[item.status]}"]
    if item.feedback:
        lines += _indent(item.feedback)
    return lines


def render_answer(answer: WrittenAnswer) -> list[str]:
    """A written answer: its file, pages or text (fenced, so its Markdown cannot break the report)."""
    head = f"Written answer `{answer.file}` ({answer.kind}"
    if answer.pages is not None:
        head += f", {answer.pages} page{'s' if answer.pages != 1 else ''}"
    head += ")"
    if answer.note:
        head += f": {answer.note}"
    lines = [head]
    if answer.text:
        longest = max((len(run) for run in re.findall(r"`+", answer.text)), default=0)
        fence = "`" * max(3, longest + 1)
        lines += ["", fence, answer.text, fence]
        if answer.truncated:
            lines.append(f"(cut after {len(answer.text)} characters: open the file for the rest)")
    return lines


def _indent(text: str) -> list[str]:
    return ["  " + line for line in text.splitlines()]


def _quote(text: str) -> str:
    body = text.splitlines() or [""]
    if len(body) == 1:
        return f"> {body[0]}"
    return f"> {body[0]}\n\n```\n" + "\n".join(body[1:]) + "\n```"


class MarkdownReport:
    """Writes ``<student>/report.md``."""

    def write_student(self, report: StudentReport, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "report.md").write_text(render(report), encoding="utf-8")

    def write_class(self, reports: Sequence[StudentReport], out: Path) -> None:
        return None
