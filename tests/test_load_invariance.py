"""No verdict depends on the machine's load: the same students graded idle and with every core busy agree.

Issue 9 found ``dense_transpose_only`` flipping between n·r and n² growth from
one run to the next, and the sample-class test failing under load. Every
decision now comes from counts, not timings (only time limits use the clock),
so grading a few sample students twice, once with all cores saturated by busy
processes, must give identical statuses and scores. The idle side is the session's
class run (tests/conftest.py), which grades these students as a TA would; only
the loaded side is graded here.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.context import Context
from grader.rubric import load_rubric
from grader.runner import grade_problem
from grader.submission import Submission

ROOT = Path(__file__).resolve().parents[1]

#: The student whose growth verdict used to flip under load, slow O(n²) code whose guard size
#: used to come from timings, and a full-marks P4 + P5 hand-in.
STUDENTS = ["dense_transpose_only", "whole_row_walk_n2", "full_marks"]

pytestmark = pytest.mark.slow

RUBRIC = load_rubric(ROOT / "rubrics" / "hw1.toml")


def _graded_problems(student: str):
    folder = ROOT / "submissions" / student
    return [p for p in RUBRIC.problems if p.autograded and (folder / p.files[0]).exists()]


def _from_report(out: Path, student: str) -> list[tuple]:
    """The same verdicts, read from a report.json the class run wrote."""
    report = json.loads((out / student / "report.json").read_text(encoding="utf-8"))
    problems = {p["id"]: p for p in report["problems"]}
    return [(problem.id, i["id"], i["status"], round(i["score"], 6))
            for problem in _graded_problems(student) for i in problems[problem.id]["items"]]


def _grade(student: str, tmp: Path) -> list[tuple]:
    ctx = Context(stdout=io.StringIO(), stderr=io.StringIO())
    submission = Submission(student, ROOT / "submissions" / student)
    verdicts = []
    for problem in _graded_problems(student):
        result = grade_problem(submission, problem, RUBRIC, tmp / problem.id / "w", tmp / problem.id / "r", ctx)
        verdicts += [(problem.id, i.id, i.status.value, round(i.score, 6)) for i in result.items]
    return verdicts


def _busy(count: int) -> list[subprocess.Popen]:
    """Processes that keep one core each busy until killed."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


@pytest.mark.parametrize("student", STUDENTS)
def test_verdicts_are_the_same_idle_and_under_full_load(student, tmp_path, sample_class_graded):
    idle = _from_report(sample_class_graded[0], student)
    busy = _busy(os.cpu_count() or 2)
    try:
        loaded = _grade(student, tmp_path / "loaded")
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    assert idle, f"{student}: nothing was graded"
    assert loaded == idle
