"""The manual-scores CSV: template, validation (every error names its cell), merge into reports."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main as cli
from grader.exitcodes import ExitCode
from grader.manual import ManualScoresError, columns, known_students, load_scores, write_template
from grader.models import ManualScore
from grader.rubric import load_rubric

ROOT = Path(__file__).resolve().parents[1]
RUBRIC = ROOT / "rubrics" / "hw1.toml"
MANUAL_COLUMNS = [
    "p1a", "p1a_comment", "p1a_deductions",
    "p1b", "p1b_comment", "p1b_deductions",
    "p2", "p2_comment", "p2_deductions",
    "p3", "p3_comment", "p3_deductions",
]


@pytest.fixture(scope="module")
def rubric():
    return load_rubric(RUBRIC)


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


def scores_csv(tmp_path: Path, header: list[str], *rows: list[str]) -> Path:
    return write_csv(tmp_path / "scores.csv", [header, *rows])


# -- template ----------------------------------------------------------------------
def test_template_has_a_row_per_student_and_three_columns_per_manual_item(tmp_path, rubric):
    write_template(tmp_path / "s.csv", rubric, ["ann", "bob"])
    with open(tmp_path / "s.csv", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["student", *MANUAL_COLUMNS] == columns(rubric)
    assert [r[0] for r in rows[1:]] == ["ann", "bob"]
    assert all(cell == "" for r in rows[1:] for cell in r[1:])
    # An empty template loads as "everything pending".
    assert load_scores(tmp_path / "s.csv", rubric, {"ann", "bob"}) == {"ann": {}, "bob": {}}


def test_template_never_overwrites_scores_without_force(tmp_path, rubric):
    out = write_csv(tmp_path / "s.csv", [["student", "p2"], ["ann", "7"]])
    with pytest.raises(ManualScoresError, match="already exists"):
        write_template(out, rubric, ["ann"])
    assert "7" in out.read_text(encoding="utf-8")
    write_template(out, rubric, ["ann"], force=True)
    assert "7" not in out.read_text(encoding="utf-8")


# -- loading rules -----------------------------------------------------------------
def test_scores_comments_and_deductions_load(tmp_path, rubric):
    path = scores_csv(
        tmp_path, ["student", "p1a", "p1a_comment", "p1a_deductions", "p2", "p2_deductions"],
        ["ann", "2", "see step 2", "chain", "10", ""],
        ["bob", "", "", "chain; sign", "", "induction,theta0"],  # points derived from deductions
        ["cy", "", "comment alone", "", "", ""],  # still pending
        ["", "", "", "", "", ""],  # blank line at the end of a sheet
    )
    scores = load_scores(path, rubric, {"ann", "bob", "cy", "dee"})
    assert scores["ann"] == {
        "p1a": ManualScore(2.0, "see step 2", ("chain",)),
        "p2": ManualScore(10.0, "", ()),
    }
    assert scores["bob"] == {
        "p1a": ManualScore(1.0, "", ("chain", "sign")),  # 5 - 3 - 1
        "p2": ManualScore(4.0, "", ("induction", "theta0")),  # 10 - 4 - 2
    }
    assert scores["cy"] == {}
    assert "dee" not in scores


def test_semicolon_separated_sheet_with_bom_loads(tmp_path, rubric):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffstudent;p3;p3_comment;p2\nann;7,5;x, y;8.5\n".encode("utf-8"))
    assert load_scores(path, rubric, {"ann"}) == {"ann": {"p3": ManualScore(7.5, "x, y", ()), "p2": ManualScore(8.5)}}


def test_decimal_comma_is_not_a_number_in_a_comma_separated_sheet(tmp_path, rubric):
    path = scores_csv(tmp_path, ["student", "p3"], ["ann", "7,5"])
    with pytest.raises(ManualScoresError, match="column 'p3': not a number: '7,5'"):
        load_scores(path, rubric, {"ann"})


@pytest.mark.parametrize(
    ("header", "row", "expected"),
    [
        (["student", "p1a"], ["ann", "6"], "row 2 (student 'ann'), column 'p1a': score 6 is above the maximum 5"),
        (["student", "p2"], ["ann", "-1"], "row 2 (student 'ann'), column 'p2': negative score -1"),
        (["student", "p2"], ["zed", "3"], "row 2 (student 'zed'), column 'student': unknown student"),
        (["student", "p9"], ["ann", "3"], "row 1, column 'p9': unknown item; the manual items are p1a, p1b, p2, p3"),
        (["student", "p9_comment"], ["ann", "x"], "row 1, column 'p9_comment': unknown item"),
        (["student", "p5-forward"], ["ann", "4"], "row 1, column 'p5-forward': item 'p5-forward' is autograded"),
        (["student", "p3"], ["ann", "seven"], "row 2 (student 'ann'), column 'p3': not a number: 'seven'"),
        (["student", "p3"], ["ann", "nan"], "row 2 (student 'ann'), column 'p3': not a finite number"),
        (["student", "p1a_deductions"], ["ann", "chain typo"],
         "row 2 (student 'ann'), column 'p1a_deductions': unknown deduction code 'typo'; known: chain, sign"),
        (["student", "p2", "p2"], ["ann", "1", "2"], "row 1, column 'p2': duplicate column"),
        (["name", "p2"], ["ann", "1"], "row 1, column 'name': the first column must be 'student'"),
        (["student", "p2"], ["", "1"], "row 2, column 'student': empty student name"),
        (["student", "p2"], ["ann", "1", "9"], "row 2 (student 'ann'), column '#3': value in a column without a header"),
    ],
    ids=["above-max", "negative", "unknown-student", "unknown-item", "unknown-item-comment", "autograded-item",
         "non-number", "nan", "unknown-deduction", "duplicate-column", "no-student-column", "empty-student",
         "extra-cell"],
)
def test_each_validation_error_names_the_cell(tmp_path, rubric, header, row, expected):
    path = scores_csv(tmp_path, header, row)
    with pytest.raises(ManualScoresError) as info:
        load_scores(path, rubric, {"ann", "bob"})
    assert f"{path}: {expected}" in str(info.value)


def test_duplicate_student_row_names_both_rows(tmp_path, rubric):
    path = scores_csv(tmp_path, ["student", "p2"], ["ann", "1"], ["bob", "2"], ["ann", "3"])
    with pytest.raises(ManualScoresError, match=r"row 4 \(student 'ann'\), column 'student': duplicate row \(first on row 2\)"):
        load_scores(path, rubric, {"ann", "bob"})


def test_all_errors_are_reported_at_once(tmp_path, rubric):
    path = scores_csv(tmp_path, ["student", "p1a", "p2"], ["ann", "9", "x"], ["bob", "-2", "11"])
    with pytest.raises(ManualScoresError) as info:
        load_scores(path, rubric, {"ann", "bob"})
    assert len(str(info.value).splitlines()) == 1 + 4


@pytest.mark.parametrize(("content", "message"), [(None, "not found"), (b"\xff\xfe\x00bad", "not UTF-8"), (b"", "empty file")])
def test_unreadable_files(tmp_path, rubric, content, message):
    path = tmp_path / "scores.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ManualScoresError, match=message):
        load_scores(path, rubric, None)


def test_grading_one_student_accepts_the_class_sheet(tmp_path, rubric):
    for name in ("ann", "bob"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "conv1D.py").write_text("pass\n", encoding="utf-8")
    submissions, known = known_students(tmp_path / "ann", rubric)
    assert [s.student for s in submissions] == ["ann"]
    assert known == {"ann", "bob"}


# -- the command line and the round trip ---------------------------------------------
def test_cli_bad_sheet_exits_2_before_grading(tmp_path):
    (tmp_path / "class" / "ann").mkdir(parents=True)
    sheet = scores_csv(tmp_path, ["student", "p1a"], ["ann", "99"])
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "class"), "--rubric", str(RUBRIC),
                                      "--out", str(tmp_path / "out"), "--manual", str(sheet)])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "column 'p1a': score 99 is above the maximum 5" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_round_trip_template_fill_merge(tmp_path):
    klass = tmp_path / "class"
    for name in ("ann", "bob"):
        (klass / name).mkdir(parents=True)
        shutil.copyfile(ROOT / "reference" / "hw1" / "conv1D.py", klass / name / "conv1D.py")
    (klass / "ann" / "hw1.md").write_text("My proofs: $\\nabla L = X^T(X\\theta - Y)$", encoding="utf-8")
    runner = CliRunner()
    sheet = tmp_path / "scores.csv"
    made = runner.invoke(cli, ["manual-template", str(klass), "--rubric", str(RUBRIC), "--out", str(sheet)])
    assert made.exit_code == 0, made.output
    assert "My proofs" in (tmp_path / "scores.md").read_text(encoding="utf-8")

    # Before scoring: everything manual is pending and the total says so.
    out0 = tmp_path / "out0"
    # One job: two P5 jobs do not pay for a second judge worker and its zygote.
    graded = runner.invoke(cli, ["run", str(klass), "--rubric", str(RUBRIC), "--out", str(out0), "--jobs", "1"])
    assert graded.exit_code == 0, graded.output
    report0 = json.loads((out0 / "ann" / "report.json").read_text(encoding="utf-8"))
    assert report0["pending_points"] == 30
    statuses = {i["id"]: i["status"] for p in report0["problems"] for i in p["items"]}
    assert all(statuses[i] == "pending" for i in ("p1a", "p1b", "p2", "p3"))
    assert "this score covers the autograded part only" in (out0 / "ann" / "report.md").read_text(encoding="utf-8")
    assert "the total covers the autograded part only" in graded.output

    # The TA fills ann's row (bob stays pending) and merges.
    with open(sheet, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rows[0].update({"p1a": "", "p1a_deductions": "chain", "p1b": "5", "p2": "8", "p2_comment": "Clear induction.",
                    "p2_deductions": "theta0", "p3": "10", "p3_comment": ""})
    with open(sheet, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    # Into the same reports folder, as a TA regrades: the autograded problems come from the cache
    # (their keys hold no manual score), the manual ones are merged afresh.
    out1 = out0
    merged = runner.invoke(cli, ["run", str(klass), "--rubric", str(RUBRIC), "--out", str(out1),
                                 "--jobs", "1", "--manual", str(sheet)])
    assert merged.exit_code == 0, merged.output
    assert "cached result(s)" in merged.output, merged.output

    ann = json.loads((out1 / "ann" / "report.json").read_text(encoding="utf-8"))
    items = {i["id"]: i for p in ann["problems"] for i in p["items"]}
    assert (items["p1a"]["score"], items["p1a"]["status"]) == (2, "failed")  # 5 - 3 (chain)
    assert "-3: missing chain-rule step" in items["p1a"]["feedback"]
    assert (items["p1b"]["score"], items["p1b"]["status"]) == (5, "passed")
    assert items["p2"]["score"] == 8
    assert "-2: θ^0 ≠ 0 not used" in items["p2"]["feedback"] and "Clear induction." in items["p2"]["feedback"]
    assert items["p3"]["score"] == 10
    assert ann["pending_points"] == 0
    autograded = sum(i["score"] for p in ann["problems"] for i in p["items"] if i["id"] not in MANUAL_COLUMNS)
    assert ann["score"] == pytest.approx(autograded + 2 + 5 + 8 + 10)
    p1 = next(p for p in ann["problems"] if p["id"] == "p1")
    assert p1["answers"][0]["file"] == "hw1.md" and "My proofs" in p1["answers"][0]["text"]
    report_md = (out1 / "ann" / "report.md").read_text(encoding="utf-8")
    assert "not graded yet" not in report_md and "Clear induction." in report_md
    assert "My proofs" in report_md

    bob = json.loads((out1 / "bob" / "report.json").read_text(encoding="utf-8"))
    assert bob["pending_points"] == 30
    with open(out1 / "gradebook.csv", encoding="utf-8") as fh:
        book = {r["student"]: r for r in csv.DictReader(fh)}
    assert (book["ann"]["p1"], book["ann"]["p2"], book["ann"]["p3"]) == ("7", "8", "10")
    assert book["ann"]["pending"] == "0" and book["bob"]["pending"] == "30"
