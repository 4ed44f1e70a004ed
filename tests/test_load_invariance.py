"""No verdict depends on the machine's load: the same students graded idle and with every core busy agree.

Issue 9 found ``dense_transpose_only`` flipping between n·r and n² growth from
one run to the next, and the sample-class test failing under load. Every
decision now comes from counts, not timings (only time limits use the clock),
so grading a few sample students twice, once with all cores saturated by busy
processes, must give identical statuses and scores. The idle side is the session's
class run (tests/conftest.py), which grades these students as a TA would; only
the loaded side is graded here, the same way: the three students as one class,
with a busy process per core for as long as that takes.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader import grade
from grader.context import Context, default_jobs
from grader.rubric import load_rubric

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
    """The verdicts of the student's graded problems, read from the report.json a run wrote."""
    report = json.loads((out / student / "report.json").read_text(encoding="utf-8"))
    problems = {p["id"]: p for p in report["problems"]}
    return [(problem.id, i["id"], i["status"], round(i["score"], 6))
            for problem in _graded_problems(student) for i in problems[problem.id]["items"]]


def _busy(count: int) -> list[subprocess.Popen]:
    """Processes that keep one core each busy until killed."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Path:
    """The reports folder of STUDENTS graded as one class, as the class run grades them, with every core busy.

    One load period and one batch for the three tests below (rather than a batch per student):
    the load is the same for each of them, and it is on for the whole batch.
    """
    base = tmp_path_factory.mktemp("loaded")
    for student in STUDENTS:
        shutil.copytree(ROOT / "submissions" / student, base / "class" / student)
    busy = _busy(os.cpu_count() or 2)
    try:
        grade.main(path=base / "class", rubric=RUBRIC, out=base / "reports", jobs=default_jobs(),
                   ctx=Context(stdout=io.StringIO(), stderr=io.StringIO()), cache=False)
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    return base / "reports"


@pytest.mark.parametrize("student", STUDENTS)
def test_verdicts_are_the_same_idle_and_under_full_load(student, loaded, sample_class_graded):
    idle = _from_report(sample_class_graded[0], student)
    assert idle, f"{student}: nothing was graded"
    assert _from_report(loaded, student) == idle
