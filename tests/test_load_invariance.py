"""No verdict depends on the machine's load: the same students graded idle and with every core busy agree.

Issue 9 found ``dense_transpose_only`` flipping between n·r and n² growth from
one run to the next, and the sample-class test failing under load. Every
decision now comes from counts, not timings (only time limits use the clock),
so grading a few sample students twice, once with all cores saturated by busy
processes, must give identical statuses and scores.
"""

from __future__ import annotations

import io
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


def _grade(student: str, tmp: Path) -> list[tuple]:
    rubric = load_rubric(ROOT / "rubrics" / "hw1.toml")
    ctx = Context(stdout=io.StringIO(), stderr=io.StringIO())
    submission = Submission(student, ROOT / "submissions" / student)
    verdicts = []
    for problem in rubric.problems:
        if not problem.autograded or not (submission.folder / problem.files[0]).exists():
            continue
        result = grade_problem(submission, problem, rubric, tmp / problem.id / "w", tmp / problem.id / "r", ctx)
        verdicts += [(problem.id, i.id, i.status.value, round(i.score, 6)) for i in result.items]
    return verdicts


def _busy(count: int) -> list[subprocess.Popen]:
    """Processes that keep one core each busy until killed."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


@pytest.mark.parametrize("student", STUDENTS)
def test_verdicts_are_the_same_idle_and_under_full_load(student, tmp_path):
    idle = _grade(student, tmp_path / "idle")
    busy = _busy(os.cpu_count() or 2)
    try:
        loaded = _grade(student, tmp_path / "loaded")
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    assert idle, f"{student}: nothing was graded"
    assert loaded == idle
