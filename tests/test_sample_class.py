"""Grades the whole sample class once, as a TA would, and checks every student's expected result.

Each ``submissions/<student>/`` has ``tests/expected/<student>.toml`` stating
why the student exists, the score of every autograded problem, the status of
every autograded item, and feedback substrings that must appear.
"""

from __future__ import annotations

import csv
import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.reports.base import points
from grader.rubric import load_rubric

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "submissions"
EXPECTED = Path(__file__).with_name("expected")
RUBRIC = load_rubric(ROOT / "rubrics" / "hw1.toml")
STUDENTS = sorted(p.name for p in SUBMISSIONS.iterdir() if p.is_dir())

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graded(sample_class_graded):
    # Graded once per session (tests/conftest.py): the Dask test compares with the same run.
    return sample_class_graded


def _expected(student: str) -> dict:
    return tomllib.loads((EXPECTED / f"{student}.toml").read_text(encoding="utf-8"))


def test_every_student_has_an_expectation_and_vice_versa():
    expected = sorted(p.stem for p in EXPECTED.glob("*.toml"))
    assert expected == STUDENTS


@pytest.mark.parametrize("student", STUDENTS)
def test_student_scores_and_statuses(graded, student):
    out, _ = graded
    report = json.loads((out / student / "report.json").read_text(encoding="utf-8"))
    expected = _expected(student)
    assert expected.get("why"), f"{student}.toml must say why the student exists"
    problems = {p["id"]: p for p in report["problems"]}
    for problem in RUBRIC.problems:
        got = problems[problem.id]
        if not problem.autograded:
            assert all(i["status"] == "pending" for i in got["items"]), problem.id
            continue
        assert problem.id in expected["problems"], f"{student}.toml lacks [problems.{problem.id}]"
        want = expected["problems"][problem.id]
        statuses = {i["id"]: i["status"] for i in got["items"]}
        autograded = {i.id for i in problem.items if i.kind == "test"}
        assert set(want["items"]) == autograded, f"{student}.toml must list every item of {problem.id}"
        assert {k: statuses[k] for k in autograded} == want["items"], json.dumps(got, indent=1)
        assert got["score"] == pytest.approx(want["score"], abs=1e-5), json.dumps(got, indent=1)
        feedback = {i["id"]: i["feedback"] for i in got["items"]}
        for problem_wide in ("Missing file:", "was stopped at the time limit (after", "GD runs: the first"):
            saying = [k for k, text in feedback.items() if problem_wide in text]
            assert len(saying) <= 1, f"{problem_wide!r} repeated under {saying}: say it once per problem"
        for item_id, needles in want.get("feedback", {}).items():
            for needle in needles:
                assert needle in feedback[item_id], f"{needle!r} not in feedback of {item_id}: {feedback[item_id]}"


def test_gradebook_has_one_row_per_student(graded):
    out, _ = graded
    with open(out / "gradebook.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["student"] for r in rows] == STUDENTS
    assert list(rows[0])[: len(RUBRIC.problems) + 2] == ["student", *(p.id for p in RUBRIC.problems), "total"]
    for row in rows:
        report = json.loads((out / row["student"] / "report.json").read_text(encoding="utf-8"))
        # The gradebook rounds to 2 decimals; report.json keeps the exact score.
        assert row["total"] == points(report["score"])
        for problem in report["problems"]:
            assert row[problem["id"]] == points(problem["score"])


def test_summary_table_lists_every_student(graded):
    _, output = graded
    table = output[output.index("student "):]
    for student in STUDENTS:
        assert student in table


def test_student_output_never_reaches_the_graders_output(graded):
    _, output = graded
    # noisy_full_marks prints "DEBUG forward"; forgery_attempt prints a fake JSON score.
    assert "DEBUG forward" not in output
    assert '"score": 100' not in output


def test_forgery_leaves_no_file_outside_its_copy(graded):
    assert not (SUBMISSIONS / "results.json").exists()
    assert not any(SUBMISSIONS.glob("*/results.json"))


def test_markdown_report_is_written_for_each_student(graded):
    out, _ = graded
    for student in STUDENTS:
        text = (out / student / "report.md").read_text(encoding="utf-8")
        assert text.startswith(f"# {RUBRIC.id}: feedback for {student}")


def test_a_student_graded_alone_gets_the_same_result_as_in_the_class(graded, tmp_path):
    """Broken, hanging and hostile classmates change nothing for anyone else."""
    out, _ = graded
    student = "full_marks"
    # Alone and with one job (the class run had one per core): nothing else may change a verdict.
    result = CliRunner().invoke(main, [str(SUBMISSIONS / student), "--out", str(tmp_path), "--jobs", "1",
                                       "--rubric", str(RUBRIC.path)])
    assert result.exit_code == 0, result.output

    def verdicts(folder):
        report = json.loads((folder / student / "report.json").read_text(encoding="utf-8"))
        return [(i["id"], i["status"], i["score"]) for p in report["problems"] for i in p["items"]]

    assert verdicts(tmp_path) == verdicts(out)
