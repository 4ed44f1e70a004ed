"""``<student>/report.html`` and ``index.html``: self-contained pages for students and TAs.

Rendered with Jinja2 templates (``templates/``) with autoescaping on, so every
value that comes from a submission (feedback, printed output, file names,
source lines) is text, never markup. Pictures are ``data:`` URIs and a
Content-Security-Policy forbids loading anything else, so a page works offline
and cannot call out.
"""

from __future__ import annotations

import datetime
import statistics
from pathlib import Path
from typing import Sequence

import jinja2
from markupsafe import Markup, escape

from grader.models import ItemScore, ProblemResult, Status, StudentReport
from grader.reports import figures
from grader.reports.base import points

_TEMPLATES = Path(__file__).with_name("templates")

#: Artifact files the suites write for the report itself (not the student's figures).
_SUITE_FILES = {"runs.json", figures.VIEW_NAME, "runs.md", "stdout.txt"}

#: Names that look like pictures; such a file whose bytes are not PNG/JPEG is listed, not embedded.
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".pdf", ".webp", ".bmp"}

#: Longest suite text file (runs.md) shown inline.
_MAX_TEXT_CHARS = 60_000

#: Embedded student images per problem stop at this many bytes (base64), so a page stays openable.
_MAX_IMAGES_BYTES = 12_000_000

#: Rows of the runs table shown (the plot shows every run).
_MAX_TABLE_ROWS = 200

_STATUS_LABELS = {
    Status.PASSED: "passed",
    Status.FAILED: "failed",
    Status.ERROR: "error",
    Status.TIMEOUT: "timeout",
    Status.SKIPPED: "skipped",
    Status.PENDING: "pending (graded by a TA)",
}


def environment() -> jinja2.Environment:
    """The template environment: autoescaping always on (also for templates without .html)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pts"] = points
    return env


def render_student(report: StudentReport, folder: Path, env: jinja2.Environment | None = None) -> str:
    """The student's page; ``folder`` holds the problem artifact folders (``<folder>/<problem>/``).

    ``env``: a template environment to reuse (compiling the templates costs more than rendering a page).
    """
    problems = [_problem_view(p, folder / p.id) for p in report.problems]
    return (env or environment()).get_template("student.html.j2").render(report=report, problems=problems)


def render_index(reports: Sequence[StudentReport], similar: Sequence = (), similar_date: str = "",
                 env: jinja2.Environment | None = None) -> str:
    """The class summary page.

    Args:
        similar: flagged pairs of the similarity report in ``out`` (:class:`grader.similarity.report.RankedPair`).
        similar_date: when that report was written, shown because it may be older than this run.
        env: a template environment to reuse (the student pages' one already compiled the base template).
    """
    reports = sorted(reports, key=lambda r: r.student)
    problems = list(reports[0].problems) if reports else []
    max_total = reports[0].max_score if reports else 0.0
    stats = []
    for index, problem in enumerate(problems):
        scores = [r.problems[index].score for r in reports]
        stats.append({
            "id": problem.id, "title": problem.title, "max": problem.max_score,
            "mean": statistics.fmean(scores), "median": statistics.median(scores),
        })
    totals = [r.score for r in reports]
    stats.append({"id": "total", "title": "all problems", "max": max_total,
                  "mean": statistics.fmean(totals) if totals else 0.0,
                  "median": statistics.median(totals) if totals else 0.0})
    rates = pass_rates(reports)
    return (env or environment()).get_template("index.html.j2").render(
        reports=reports,
        problems=problems,
        rows=[_row(r) for r in reports],
        stats=stats,
        histogram=figures.histogram(totals, max_total),
        pass_chart=figures.pass_rate_chart(rates),
        rates=rates,
        issues=class_issues(reports),
        pending=any(r.pending_points for r in reports),
        similar=list(similar),
        similar_date=similar_date,
    )


def pass_rates(reports: Sequence[StudentReport]) -> list[tuple[str, float]]:
    """``(problem item, fraction passed)`` for every autograded item, in rubric order."""
    if not reports:
        return []
    rates = []
    for index, problem in enumerate(reports[0].problems):
        for position, item in enumerate(problem.items):
            statuses = [r.problems[index].items[position].status for r in reports]
            if all(s is Status.PENDING for s in statuses):
                continue  # a manual item nobody has graded yet says nothing about the class
            rates.append((f"{problem.id} {item.id}", sum(s is Status.PASSED for s in statuses) / len(statuses)))
    return rates


def class_issues(reports: Sequence[StudentReport]) -> list[dict]:
    """What a TA should look at: errors, timeouts, guard findings (failed items naming student code), flags.

    Items of one problem failing for the same reason (a missing file fails them all) make one entry.
    """
    issues: list[dict] = []
    for report in reports:
        for problem in report.problems:
            merged: dict[tuple[str, str], dict] = {}
            for item in problem.items:
                kind = None
                if item.status is Status.ERROR:
                    kind = "error"
                elif item.status is Status.TIMEOUT:
                    kind = "timeout"
                elif item.status is Status.FAILED and item.locations:
                    kind = "finding"
                if not kind:
                    continue
                first = item.feedback.strip().splitlines()[0] if item.feedback.strip() else ""
                entry = merged.get((kind, first))
                if entry is None:
                    entry = merged[(kind, first)] = {
                        "student": report.student, "kind": kind, "where": problem.id, "item_ids": [], "text": first,
                        "locations": [],
                    }
                    issues.append(entry)
                entry["item_ids"].append(item.id)
                for loc in item.locations:
                    if f"{loc.file}:{loc.line}" not in entry["locations"]:
                        entry["locations"].append(f"{loc.file}:{loc.line}")
            for flag in problem.flags:
                issues.append({"student": report.student, "kind": "flag", "where": problem.id, "item_ids": [],
                               "text": flag, "locations": []})
        for warning in report.warnings:
            issues.append({"student": report.student, "kind": "warning", "where": "", "item_ids": [], "text": warning,
                           "locations": []})
    return issues


def _row(report: StudentReport) -> dict:
    statuses = [i.status for p in report.problems for i in p.items]
    return {
        "student": report.student,
        "cells": [
            {"score": p.score, "pending": any(i.status is Status.PENDING for i in p.items)} for p in report.problems
        ],
        "total": report.score,
        "pending": report.pending_points,
        "errors": sum(s in (Status.ERROR, Status.TIMEOUT) for s in statuses),
        "flags": len(report.flags),
    }


def _problem_view(problem: ProblemResult, artifacts: Path) -> dict:
    view = {
        "problem": problem,
        "item_views": [_item_view(i) for i in problem.items],
        "runs": None,
        "runs_rows": None,
        "runs_plot": None,
        "runs_more": 0,
        "runs_md": None,
        "figures": [],
        "not_embedded": [],
    }
    if not artifacts.is_dir():
        return view
    runs = figures.load_runs(artifacts / "runs.json")
    if runs:
        view["runs"] = runs[:_MAX_TABLE_ROWS]
        view["runs_rows"] = runs_rows(view["runs"])
        view["runs_more"] = max(0, len(runs) - _MAX_TABLE_ROWS)
        try:
            view["runs_plot"] = figures.runs_plot(runs)
        except Exception:  # noqa: BLE001 - odd observed values must not stop the batch; the table still shows
            view["runs_plot"] = None
    runs_md = artifacts / "runs.md"
    if runs_md.is_file() and not runs_md.is_symlink():
        view["runs_md"] = runs_md.read_text(encoding="utf-8", errors="replace")[:_MAX_TEXT_CHARS]
    embedded = 0
    for path in sorted(artifacts.iterdir()):
        if path.name in _SUITE_FILES or not path.is_file():
            continue
        uri = figures.image_data_uri(path)
        if uri is not None and embedded + len(uri) <= _MAX_IMAGES_BYTES:
            embedded += len(uri)
            view["figures"].append({"name": path.name, "uri": uri})
        elif uri is not None:
            view["not_embedded"].append((path.name, "the page already holds as many pictures as it can"))
        elif path.suffix.lower() in _IMAGE_SUFFIXES:
            view["not_embedded"].append((path.name, "it is not a PNG or JPEG file (or larger than 4 MB)"))
    return view


#: The status colour of each run's outcome in the runs table.
_OUTCOME_STATUS = {"wide": "passed", "sharp": "pending", "diverged": "failed"}


def runs_rows(runs: Sequence[dict]) -> Markup:
    """The runs table's rows (``<tr>`` lines, every text escaped), as the page template inserts them.

    Written here rather than by a template loop: a P4 page has a row per run, and the
    loop cost more than the rest of the page. Numbers are written as numbers (their text
    has nothing to escape); the outcome and group texts, few per page, are escaped once each.
    """
    rows = []
    texts: dict[str, str] = {}

    def text(value: str) -> str:
        if value not in texts:
            texts[value] = str(escape(value))
        return texts[value]

    for run in runs:
        start, last, steps, outcome = run["start"], run["last"], run["steps"], run["outcome"]
        rows.append(
            f'<tr><td class="num">{points(run["alpha"])}</td>'
            f'<td class="num">{"%.4g" % start if start is not None else ""}</td>'
            f'<td class="num">{"%.4g" % last if last is not None else ""}</td>'
            f'<td class="num">{int(steps) if steps is not None else ""}</td>'
            f'<td><span class="status {_OUTCOME_STATUS.get(outcome, "skipped")}">{text(outcome)}</span></td>'
            f'<td>{text(run["group"])}</td><td>{"yes" if run["judged"] else "no"}</td></tr>'
        )
    return Markup("\n".join(rows))


def _item_view(item: ItemScore) -> dict:
    hidden = item.visibility == "hidden"
    return {
        "item": item,
        "hidden": hidden,
        "status": "hidden" if hidden else item.status.value,
        "label": "hidden check: details are released after the deadline" if hidden else _STATUS_LABELS[item.status],
        "feedback": "" if hidden else item.feedback,
        "locations": () if hidden else item.locations,
    }


class HtmlReport:
    """Writes ``<student>/report.html`` and ``<out>/index.html``.

    One writer serves a whole batch, so its template environment (compiled templates) is made once.
    """

    def __init__(self) -> None:
        self._env: jinja2.Environment | None = None

    def write_student(self, report: StudentReport, folder: Path) -> None:
        if self._env is None:
            self._env = environment()
        folder.mkdir(parents=True, exist_ok=True)
        # errors="replace": a file name with undecodable bytes must not stop the batch.
        (folder / "report.html").write_text(render_student(report, folder, self._env), encoding="utf-8",
                                            errors="replace")

    def write_class(self, reports: Sequence[StudentReport], out: Path) -> None:
        if not reports:
            return
        out.mkdir(parents=True, exist_ok=True)
        similar, written = _similarity_pairs(out)
        if self._env is None:
            self._env = environment()
        (out / "index.html").write_text(
            render_index(reports, similar, written, self._env), encoding="utf-8", errors="replace"
        )


def _similarity_pairs(out: Path) -> tuple[list, str]:
    """The flagged pairs of a similarity report in ``out``, and when it was written ("" when none)."""
    from grader.similarity.report import CSV_NAME, read_pairs

    pairs = read_pairs(out, flagged_only=True)
    if not pairs:
        return [], ""
    stamp = datetime.datetime.fromtimestamp((out / CSV_NAME).stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    return pairs, stamp
