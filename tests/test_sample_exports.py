"""Grades each sample LMS export (sample_exports/<layout>/) as a TA would, against tests/expected_exports/."""

from __future__ import annotations

import csv
import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = Path(__file__).with_name("expected_exports")
# Moodle is checked by discovery only (tests/test_intake.py): grading it adds nothing the others do not.
EXPORTS = {"canvas": "canvas", "zips": "zips", "gradescope": "gradescope"}

pytestmark = pytest.mark.slow


def _rubric(tmp: Path, late: str | None) -> Path:
    rubric = ROOT / "rubrics" / "hw1.toml"
    if not late:
        return rubric
    # hw1.toml plus the expectation's [late] table, written elsewhere with its relative paths made absolute.
    text = rubric.read_text(encoding="utf-8").replace('"../', f'"{ROOT}/').replace('"hw1/', f'"{ROOT}/rubrics/hw1/')
    path = tmp / "hw1-late.toml"
    path.write_text(text + "\n" + late, encoding="utf-8")
    return path


@pytest.fixture(scope="module", params=sorted(EXPORTS))
def graded(request, tmp_path_factory):
    name = request.param
    expected = tomllib.loads((EXPECTED / f"{name}.toml").read_text(encoding="utf-8"))
    tmp = tmp_path_factory.mktemp(name)
    # One job: these tests are about intake (layouts, names, late, roster), and a run's second
    # judge worker with its zygote costs more CPU than the few jobs it would take.
    args = [str(ROOT / "sample_exports" / EXPORTS[name]), "--out", str(tmp / "out"), "--jobs", "1",
            "--rubric", str(_rubric(tmp, expected.get("late")))]
    if "roster" in expected:
        args += ["--roster", str(ROOT / expected["roster"])]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return expected, tmp / "out", result.output


def test_the_layout_is_detected_and_said(graded):
    expected, _, output = graded
    assert expected["why"]
    for needle in expected["output"]:
        assert needle in output, output


def test_every_student_scores_as_expected(graded):
    expected, out, _ = graded
    with open(out / "gradebook.csv", encoding="utf-8") as fh:
        rows = {r["student"]: r for r in csv.DictReader(fh)}
    assert sorted(rows) == sorted(expected["students"])
    for student, want in expected["students"].items():
        report = json.loads((out / student / "report.json").read_text(encoding="utf-8"))
        problems = {p["id"]: p for p in report["problems"]}
        assert report["status"] == want.get("status", "graded") == rows[student]["status"]
        assert report["score"] == pytest.approx(want["total"]) and float(rows[student]["total"]) == pytest.approx(want["total"])
        for pid, score in want["problems"].items():
            assert problems[pid]["score"] == pytest.approx(score), (student, pid, json.dumps(problems[pid], indent=1))
        for needle in want.get("warnings", []):
            assert any(needle in w for w in report["warnings"]), (student, needle, report["warnings"])
        for needle in want.get("adjustments", []):
            assert any(needle in a["label"] for a in report["adjustments"]), (student, report["adjustments"])
        for pid, needles in want.get("notes", {}).items():
            for needle in needles:
                assert any(needle in n for n in problems[pid]["notes"]), (student, pid, needle, problems[pid]["notes"])
        feedback = {i["id"]: i["feedback"] for p in report["problems"] for i in p["items"]}
        for item, needles in want.get("feedback", {}).items():
            for needle in needles:
                assert needle in feedback[item], (student, item, feedback[item])
        if report["adjustments"]:
            md = (out / student / "report.md").read_text(encoding="utf-8")
            assert f"**{report['adjustments'][0]['label']}:" in md  # its own line in the report
