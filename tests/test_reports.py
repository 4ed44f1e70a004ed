"""Report writers: report.json follows docs/report-schema.md; report.md hides hidden items."""

import csv
import json
import re
from pathlib import Path

from grader.models import SCHEMA_VERSION, ItemScore, ProblemResult, Status, StudentReport
from grader.reports import make_writers
from grader.reports.gradescope import to_gradescope
from grader.reports.json_report import report_to_dict
from grader.reports.markdown import render

SCHEMA_DOC = Path(__file__).resolve().parents[1] / "docs" / "report-schema.md"


def sample_report() -> StudentReport:
    items = (
        ItemScore("p5-forward", "A @ x", 3.0, 4.0, Status.FAILED, "[n=5,r=5] wrong at index 0", "public"),
        ItemScore("p5-adjoint", "adjoint", 0.0, 1.0, Status.FAILED, "secret detail", "hidden"),
    )
    manual = (ItemScore("p1a", "proof", 0.0, 5.0, Status.PENDING, "Not graded yet", "public"),)
    return StudentReport(
        "alice", "hw1",
        (ProblemResult("p1", "Least squares", manual), ProblemResult("p5", "Conv", items, ("conv1D.py",), flags=("look",))),
    )


def documented_fields(section: str) -> set[str]:
    text = SCHEMA_DOC.read_text(encoding="utf-8")
    block = text.split(f"## {section}")[1].split("\n## ")[0]
    fields = set()
    for row in re.findall(r"^\| `([^|]+)` \|", block, flags=re.M):
        fields.update(f.strip(" `") for f in row.split(","))
    return fields


def test_report_json_has_exactly_the_documented_fields():
    data = report_to_dict(sample_report())
    assert data["schema_version"] == SCHEMA_VERSION
    assert set(data) == documented_fields("Top level")
    assert set(data["problems"][1]) == documented_fields("Problem object")
    assert set(data["problems"][1]["items"][0]) == documented_fields("Item object")
    assert (data["score"], data["max_score"], data["pending_points"]) == (3.0, 10.0, 5.0)
    assert data["flags"] == ["p5: look"]
    assert {i["status"] for p in data["problems"] for i in p["items"]} <= {
        "passed", "failed", "error", "timeout", "skipped", "pending"}


def test_markdown_shows_public_feedback_and_hides_hidden_details():
    text = render(sample_report())
    assert "wrong at index 0" in text and "secret detail" not in text
    assert "covers the autograded part only" in text


def test_gradescope_results_leave_out_pending_items_and_delay_hidden_ones():
    data = to_gradescope(sample_report())
    assert [t["name"].split(":")[0] for t in data["tests"]] == ["p5 p5-forward", "p5 p5-adjoint"]
    assert data["score"] == 3.0 and data["tests"][1]["visibility"] == "after_published"


def test_all_writers_write_their_files(tmp_path):
    report = sample_report()
    for writer in make_writers():
        writer.write_student(report, tmp_path / report.student)
        writer.write_class([report], tmp_path)
    assert json.loads((tmp_path / "alice" / "report.json").read_text())["student"] == "alice"
    assert (tmp_path / "alice" / "report.md").exists() and (tmp_path / "alice" / "results.json").exists()
    assert (tmp_path / "alice" / "report.html").exists() and (tmp_path / "index.html").exists()
    with open(tmp_path / "gradebook.csv") as fh:
        row = next(csv.DictReader(fh))
    assert (row["student"], row["p1"], row["p5"], row["total"], row["pending"]) == ("alice", "0", "3", "3", "5")


def _thirds_report() -> StudentReport:
    items = tuple(
        ItemScore(f"p5-{k}", "part", 14.833333 / 3, 5.0, Status.FAILED, "", "public") for k in range(3)
    )
    return StudentReport("bob", "hw1", (ProblemResult("p5", "Conv", items, ("conv1D.py",)),))


def test_scores_are_rounded_to_2_decimals_in_tables_markdown_and_gradebook_but_exact_in_json(tmp_path):
    from grader.reports.base import points
    from grader.summary import summary_table

    report = _thirds_report()
    assert [points(v) for v in (14.833333, 14.6324, 12.0, 7.5, -0.0)] == ["14.83", "14.63", "12", "7.5", "0"]
    text = render(report)
    assert "**Score: 14.83 / 15**" in text and "— 14.83 / 15" in text and ": 4.94 / 5 —" in text
    assert "14.8333" not in text and "4.9444" not in text
    table = summary_table([report])
    assert "14.83" in table and "14.8333" not in table
    for writer in make_writers():
        writer.write_student(report, tmp_path / "bob")
        writer.write_class([report], tmp_path)
    with open(tmp_path / "gradebook.csv", encoding="utf-8") as fh:
        row = next(csv.DictReader(fh))
    assert (row["p5"], row["total"]) == ("14.83", "14.83")
    data = json.loads((tmp_path / "bob" / "report.json").read_text(encoding="utf-8"))
    assert data["score"] == round(3 * (14.833333 / 3), 6)  # exact (to the models' 6 decimals)
