"""``grade ci [PATH]``: grades a repository's files in CI (GitHub Classroom, GitLab, any runner).

Prints a Markdown summary (also appended to ``$GITHUB_STEP_SUMMARY`` when set),
writes JUnit XML (for the CI's test view) and a JSON summary, and exits with
:attr:`ExitCode.BELOW_MIN_SCORE` when the score is under ``--min-score``.

A student's CI log is visible to the student, so only public items are graded
unless ``all_items`` is set (a private runner the students cannot read).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Mapping

from grader import grade, public
from grader.context import Context
from grader.exitcodes import ExitCode
from grader.models import Status, StudentReport
from grader.reports import make_writers
from grader.reports.base import points
from grader.reports.json_report import report_to_dict
from grader.rubric import Rubric
from grader.submission import SubmissionError, discover

_MARKS = {
    Status.PASSED: "✅ passed",
    Status.FAILED: "❌ failed",
    Status.ERROR: "💥 error",
    Status.TIMEOUT: "⏱️ timeout",
    Status.SKIPPED: "➖ skipped",
    Status.PENDING: "📝 graded by a TA",
}


def parse_min_score(text: str | None) -> tuple[float, bool] | None:
    """``"40"`` → (40, False) points; ``"60%"`` → (60, True) percent of the autograded maximum.

    Raises:
        SubmissionError: not a number (a usage error, exit 2).
    """
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(%?)\s*", text)
    if not match:
        raise SubmissionError(f"--min-score must be points like 40 or a percentage like 60%, got {text!r}")
    value, percent = float(match.group(1)), bool(match.group(2))
    if percent and value > 100:
        raise SubmissionError(f"--min-score {text.strip()}: a percentage above 100% can never be reached")
    return value, percent


def main(
    *,
    rubric: Rubric,
    path: Path,
    out: Path | None,
    jobs: int,
    ctx: Context,
    min_score: str | None = None,
    junit: Path | None = None,
    json_path: Path | None = None,
    all_items: bool = False,
    env: Mapping[str, str] | None = None,
) -> ExitCode:
    """Grades ``path`` (one student's files) and writes the CI outputs.

    Args:
        out: report folder (default: a temporary folder); ``junit``/``json_path`` default into it.
        min_score: threshold, points or a percentage of the autograded maximum.
        all_items: grade hidden items too (only on a runner students cannot read).
        env: environment to read ``GITHUB_STEP_SUMMARY``/``GITHUB_OUTPUT`` from (default: os.environ).
    """
    env = os.environ if env is None else env
    threshold = parse_min_score(min_score)
    graded = rubric if all_items else public.public_rubric(rubric)
    if threshold is not None and not threshold[1]:
        most = sum(i.points for p in graded.problems if p.autograded for i in p.items if i.kind == "test")
        if threshold[0] > most + 1e-9:
            raise SubmissionError(f"--min-score {min_score.strip()}: above the {most:g} points these checks can give")
    out = out if out is not None else Path(tempfile.mkdtemp(prefix="grade-ci-"))
    submissions = discover(path, graded)
    if len(submissions) != 1:
        names = ", ".join(s.student for s in submissions)
        raise SubmissionError(f"{path}: grade ci grades one student's files, but found {len(submissions)}: {names}")
    writers = make_writers()
    reports = grade.grade_all(submissions, graded, out, jobs, ctx, {}, writers=writers)
    for writer in writers:
        writer.write_class(reports, out)
    [report] = reports
    autograded_max = autograded_maximum(report)
    required = None
    if threshold is not None:
        required = threshold[0] * autograded_max / 100 if threshold[1] else threshold[0]
    passed = required is None or report.score + 1e-9 >= required
    note = "" if all_items else public.not_counted_sentence(rubric)

    markdown = summary_markdown(report, autograded_max, required, passed, note)
    print(markdown, file=ctx.stdout, flush=True)
    if env.get("GITHUB_STEP_SUMMARY"):
        with open(env["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as fh:
            fh.write(markdown + "\n")
    if env.get("GITHUB_OUTPUT"):
        with open(env["GITHUB_OUTPUT"], "a", encoding="utf-8") as fh:
            fh.write(f"score={report.score:g}\nmax_score={autograded_max:g}\n")
    junit = junit if junit is not None else out / "junit.xml"
    json_path = json_path if json_path is not None else out / "ci.json"
    for target in (junit, json_path):
        target.parent.mkdir(parents=True, exist_ok=True)
    junit.write_bytes(junit_xml(report))
    summary = {
        "schema": 1,
        "student": report.student,
        "assignment": report.assignment,
        "score": report.score,
        "max_score": autograded_max,
        "min_score": required,
        "passed": passed,
        "hidden_items_graded": all_items,
        "hidden_points_not_counted": 0.0 if all_items else public.hidden_points(rubric),
        "report": report_to_dict(report),
    }
    json_path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    ctx.say(f"JUnit XML: {junit}, JSON: {json_path}, reports: {out / report.student}")
    return ExitCode.OK if passed else ExitCode.BELOW_MIN_SCORE


def autograded_maximum(report: StudentReport) -> float:
    """Points of the items the grader scores itself (manual items excluded)."""
    return round(sum(i.max_score for p in report.problems for i in p.items if i.status is not Status.PENDING), 6)


def summary_markdown(report: StudentReport, maximum: float, required: float | None, passed: bool, note: str) -> str:
    """The Markdown summary: total, threshold, one row per autograded item."""
    lines = [f"## {report.assignment}: {points(report.score)} / {points(maximum)} points (autograded)", ""]
    if required is not None:
        verdict = "✅ at or above" if passed else "❌ below"
        lines += [f"{verdict} the required {points(required)} points.", ""]
    if note:
        lines += [f"> {note}", ""]
    lines += ["| problem | item | points | result |", "|---|---|---:|---|"]
    for problem in report.problems:
        for item in problem.items:
            if item.status is Status.PENDING:
                continue
            lines.append(f"| {problem.id} | {_cell(item.id)}: {_cell(item.description)} | "
                         f"{points(item.score)} / {points(item.max_score)} | {_MARKS[item.status]} |")
    failing = [(p, i) for p in report.problems for i in p.items
               if i.status in (Status.FAILED, Status.ERROR, Status.TIMEOUT) and i.feedback]
    if failing:
        lines += ["", "<details><summary>What to fix</summary>", ""]
        for problem, item in failing:
            fence = "`" * max(3, max((len(r) for r in re.findall(r"`+", item.feedback)), default=0) + 1)
            lines += [f"**{problem.id} {item.id}**", "", fence, item.feedback, fence, ""]
        lines.append("</details>")
    return "\n".join(lines)


def junit_xml(report: StudentReport) -> bytes:
    """JUnit XML: one testsuite per problem, one testcase per autograded item."""
    root = ET.Element("testsuites", name=report.assignment)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for problem in report.problems:
        cases = [i for i in problem.items if i.status is not Status.PENDING]
        if not cases:
            continue
        suite = ET.SubElement(root, "testsuite", name=f"{report.assignment}.{problem.id}")
        counts = {"tests": len(cases), "failures": 0, "errors": 0, "skipped": 0}
        for item in cases:
            case = ET.SubElement(suite, "testcase", classname=f"{report.assignment}.{problem.id}", name=item.id)
            first = _xml((item.feedback.strip().splitlines() or [item.description])[0])
            if item.status is Status.FAILED:
                counts["failures"] += 1
                ET.SubElement(case, "failure", message=first).text = _xml(item.feedback)
            elif item.status in (Status.ERROR, Status.TIMEOUT):
                counts["errors"] += 1
                ET.SubElement(case, "error", message=f"{item.status.value}: {first}").text = _xml(item.feedback)
            elif item.status is Status.SKIPPED:
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=first)
            ET.SubElement(case, "system-out").text = _xml(f"{points(item.score)} / {points(item.max_score)} points: {item.description}")
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


#: Characters XML 1.0 cannot carry (student output may contain them).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
