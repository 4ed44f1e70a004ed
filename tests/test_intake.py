"""Taking a class as it arrives: layout detection, each layout, roster and late policy (no grading)."""

from __future__ import annotations

import dataclasses
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from grader.intake import late
from grader.intake.canvas import split_resubmission
from grader.intake.layouts import LAYOUT_NAMES, detect, read_class
from grader.intake.roster import RosterError, load_roster, match, missing_report
from grader.models import ProblemResult, Status, StudentReport
from grader.rubric import RubricError, load_rubric
from grader.submission import Submission, SubmissionError

ROOT = Path(__file__).resolve().parents[1]
RUBRIC = load_rubric(ROOT / "rubrics" / "hw1.toml")
EXPORTS = ROOT / "sample_exports"
CODE = "class Convolution1d:\n    pass\n"
KST = timezone(timedelta(hours=9))


def _students(intake) -> list[str]:
    return [s.student for s in intake.submissions]


@pytest.mark.parametrize("folder,layout,students", [
    ("submissions", "folders", None),
    ("sample_exports/canvas", "canvas", ["kimminjun", "leejisoo", "parkseoyeon"]),
    ("sample_exports/zips", "archives", ["choi_yuna", "han_mirae", "jung_hoon"]),
    ("sample_exports/gradescope", "gradescope", ["2026-10001", "2026-10002", "2026-10003", "2026-10004"]),
    ("sample_exports/moodle", "moodle", ["Baek_Harin", "Oh_Sejin"]),
])
def test_each_sample_export_is_detected_and_said_in_one_line(folder, layout, students):
    assert detect(ROOT / folder) == layout
    with read_class(ROOT / folder, RUBRIC) as intake:
        assert intake.layout == layout and "\n" not in intake.description
        assert intake.description.startswith("Layout: ") and "detected" in intake.description
        if students is not None:
            assert _students(intake) == students
        else:
            assert _students(intake) == sorted(p.name for p in (ROOT / folder).iterdir() if p.is_dir())


def test_a_forced_layout_wins_and_is_said(tmp_path):
    (tmp_path / "smithjohn_1_2_conv1D.py").write_text(CODE)
    with read_class(tmp_path, RUBRIC, "folders") as intake:
        assert _students(intake) == [tmp_path.name] and "forced with --layout" in intake.description


def test_an_unknown_layout_and_a_layout_that_finds_nothing_are_usage_errors(tmp_path):
    with pytest.raises(SubmissionError, match="unknown layout 'blackboard'"):
        read_class(tmp_path, RUBRIC, "blackboard")
    (tmp_path / "alice").mkdir()
    with pytest.raises(SubmissionError, match="no submissions found as a Canvas"):
        read_class(tmp_path, RUBRIC, "canvas")
    assert set(LAYOUT_NAMES) == {"folders", "archives", "canvas", "gradescope", "moodle"}


def test_unpacked_files_are_removed_when_the_intake_closes():
    with read_class(EXPORTS / "zips", RUBRIC) as intake:
        scratch = intake.scratch
        assert scratch.is_dir()
    assert not scratch.exists()


# -- Canvas ------------------------------------------------------------------

@pytest.mark.parametrize("name,expected", [
    ("conv1D.py", ("conv1D.py", 0)), ("conv1D-1.py", ("conv1D.py", 1)), ("conv1D-12.py", ("conv1D.py", 12)),
    ("hw1-2.tar.gz", ("hw1.tar.gz", 2)), ("wide-minima.py", ("wide-minima.py", 0)),
])
def test_canvas_resubmission_suffixes(name, expected):
    assert split_resubmission(name) == expected


def test_canvas_highest_resubmission_wins_and_the_report_says_so():
    with read_class(EXPORTS / "canvas", RUBRIC) as intake:
        kim = next(s for s in intake.submissions if s.student == "kimminjun")
        assert sorted(p.name for p in kim.folder.iterdir()) == ["conv1D.py", "wideMinima.py"]
        assert (kim.folder / "conv1D.py").read_text() == (ROOT / "submissions/full_marks/conv1D.py").read_text()
        assert "conv1D-1.py was graded as conv1D.py" in kim.notes[0] and "older: conv1D.py" in kim.notes[0]
        assert kim.aliases == ("1001",) and not kim.late
        lee = next(s for s in intake.submissions if s.student == "leejisoo")
        assert lee.late and "Canvas marked this submission LATE." in lee.notes


def test_canvas_unpacks_an_uploaded_zip_and_keeps_two_students_with_one_login_apart(tmp_path):
    with zipfile.ZipFile(tmp_path / "kimjin_7_1_hw1.zip", "w") as zf:
        zf.writestr("hw1/conv1D.py", CODE)
    (tmp_path / "kimjin_8_2_conv1D.py").write_text(CODE)
    with read_class(tmp_path, RUBRIC) as intake:
        assert _students(intake) == ["kimjin_7", "kimjin_8"]
        assert (intake.submissions[0].folder / "conv1D.py").read_text() == CODE


def test_a_whole_class_zip_is_unpacked_then_detected(tmp_path):
    with zipfile.ZipFile(tmp_path / "submissions.zip", "w") as zf:
        for entry in sorted((EXPORTS / "canvas").iterdir()):
            zf.write(entry, entry.name)
    with read_class(tmp_path / "submissions.zip", RUBRIC) as intake:
        assert intake.layout == "canvas" and len(intake.submissions) == 3


# -- Gradescope and Moodle -----------------------------------------------------

def test_gradescope_metadata_gives_students_times_and_groups():
    with read_class(EXPORTS / "gradescope", RUBRIC) as intake:
        by_id = {s.student: s for s in intake.submissions}
    seo = by_id["2026-10001"]
    assert (seo.name, seo.email) == ("Seo Jiwoo", "jiwoo@example.edu")
    assert seo.submitted_at == datetime(2026, 3, 20, 22, 41, 7, 123456, tzinfo=KST)
    assert "Submitted on Gradescope at 2026-03-20 22:41:07+09:00." in seo.notes
    group = [by_id["2026-10003"], by_id["2026-10004"]]
    assert group[0].folder == group[1].folder and "Group submission with Lim Sora." in group[0].notes


def test_gradescope_ruby_tags_and_unlisted_folders(tmp_path):
    (tmp_path / "submission_1").mkdir()
    (tmp_path / "submission_1" / "conv1D.py").write_text(CODE)
    (tmp_path / "stray").mkdir()
    (tmp_path / "submission_metadata.yml").write_text(
        "submission_1: !ruby/hash:ActiveSupport::HashWithIndifferentAccess\n"
        "  :submitters:\n  - :name: A B\n    :sid: '42'\n  :created_at: 2026-03-21T01:00:00Z\n"
        "  :history: !ruby/array:Array []\n"
    )
    with read_class(tmp_path, RUBRIC) as intake:
        assert _students(intake) == ["42"]
        assert intake.submissions[0].submitted_at == datetime(2026, 3, 21, 1, tzinfo=timezone.utc)
        assert any("stray: a folder not listed" in n for n in intake.notes)


def test_broken_gradescope_metadata_is_a_usage_error(tmp_path):
    (tmp_path / "submission_metadata.yml").write_text("a: [unclosed\n")
    with pytest.raises(SubmissionError, match="submission_metadata.yml: not readable YAML"):
        read_class(tmp_path, RUBRIC)


def test_moodle_merges_a_participants_folders_and_reads_flat_files(tmp_path):
    with read_class(EXPORTS / "moodle", RUBRIC) as intake:
        baek = next(s for s in intake.submissions if s.student == "Baek_Harin")
        assert sorted(p.name for p in baek.folder.iterdir()) == ["conv1D.py", "onlinetext.html"]
        assert baek.aliases == ("20042", "Baek Harin") and baek.name == "Baek Harin"
        oh = next(s for s in intake.submissions if s.student == "Oh_Sejin")
        assert oh.folder == EXPORTS / "moodle" / "Oh Sejin_20041_assignsubmission_file_"  # one folder: used in place
    (tmp_path / "Kim Ara_301_assignsubmission_file_conv1D.py").write_text(CODE)
    with read_class(tmp_path, RUBRIC) as intake:
        assert _students(intake) == ["Kim_Ara"] and (intake.submissions[0].folder / "conv1D.py").is_file()


# -- roster ----------------------------------------------------------------------

def test_roster_matches_by_id_alias_email_or_name_and_lists_the_rest(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("Student ID;Full Name;E-mail\n1001;Kim Minjun;k@x\nOh Sejin;;\nz9;Zed;seo@example.edu\n"
                      "404;Nobody;n@x\n", encoding="utf-8-sig")
    people = load_roster(roster)
    subs = [Submission("kimminjun", tmp_path, aliases=("1001",)), Submission("Oh_Sejin", tmp_path, aliases=("Oh Sejin",)),
            Submission("s3", tmp_path, email="SEO@example.edu"), Submission("stranger", tmp_path)]
    matched = match(people, subs)
    assert [s.name for s in matched.submissions] == ["Kim Minjun", "", "Zed", ""]
    assert matched.submissions[0].email == "k@x" and "z9" in matched.submissions[2].aliases
    assert [p.id for p in matched.missing] == ["404"]
    assert [s.student for s in matched.unknown] == ["stranger"]


@pytest.mark.parametrize("text,error", [
    ("name,email\nA,a@x\n", "no id column"),
    ("id,name\n1,A\n1,B\n", "row 3: duplicate id '1'"),
    ("id,name\n,A\n", "row 2: empty id"),
    ("", "empty roster"),
])
def test_bad_rosters_name_the_row(tmp_path, text, error):
    (tmp_path / "r.csv").write_text(text)
    with pytest.raises(RosterError, match=error):
        load_roster(tmp_path / "r.csv")
    with pytest.raises(RosterError, match="cannot read"):
        load_roster(tmp_path / "absent.csv")


def test_a_missing_student_scores_zero_with_status_missing():
    report = missing_report(load_roster_row("2026-9", "Ko Eun"), RUBRIC)
    assert (report.student, report.status, report.score, report.max_score) == ("2026-9", "missing", 0, 65)
    assert all(i.status is Status.SKIPPED and i.score == 0 for p in report.problems for i in p.items)
    assert report.pending_points == 0  # manual items are 0 too, not pending


def load_roster_row(pid, name):
    from grader.intake.roster import Person

    return Person(pid, name)


# -- late policy -------------------------------------------------------------------

def _rubric_with(tmp_path, late_toml: str):
    """hw1.toml plus a [late] table, written elsewhere (its relative paths made absolute)."""
    text = (ROOT / "rubrics" / "hw1.toml").read_text(encoding="utf-8")
    text = text.replace('"../', f'"{ROOT}/').replace('"hw1/', f'"{ROOT}/rubrics/hw1/')
    path = tmp_path / "hw1.toml"
    path.write_text(text + "\n" + late_toml, encoding="utf-8")
    return load_rubric(path)


def test_the_late_policy_loads_from_the_rubric(tmp_path):
    rubric = _rubric_with(tmp_path, '[late]\ndeadline = 2026-03-20T23:59:00+09:00\ngrace = "15m"\nper_day = 10\ncap = 50\n')
    assert rubric.late == late.LatePolicy(datetime(2026, 3, 20, 23, 59, tzinfo=KST), 900.0, 10.0, 50.0, None)


@pytest.mark.parametrize("body,error", [
    ('deadline = 2026-03-20T23:59:00\nper_day = 10', "has no timezone offset"),
    ('deadline = "tomorrow"\nper_day = 10', "not a date-time"),
    ('deadline = 2026-03-20T23:59:00Z', "give per_day"),
    ('deadline = 2026-03-20T23:59:00Z\nper_day = 120', "per_day must be a percentage"),
    ('deadline = 2026-03-20T23:59:00Z\nmax_days = -1', "max_days must be a whole number"),
    ('deadline = 2026-03-20T23:59:00Z\nper_day = 5\npenalty = 3', "unknown key"),
])
def test_a_bad_late_policy_names_the_rubric_and_the_reason(tmp_path, body, error):
    with pytest.raises(RubricError, match=rf"hw1.toml: \[late\]: .*{error}"):
        _rubric_with(tmp_path, "[late]\n" + body + "\n")


DEADLINE = datetime(2026, 3, 20, 23, 59, tzinfo=KST)


@pytest.mark.parametrize("policy,after,earned,expected", [
    (late.LatePolicy(DEADLINE, per_day=10), timedelta(hours=-1), 20, None),
    (late.LatePolicy(DEADLINE, per_day=10), timedelta(hours=1), 20, -2),
    (late.LatePolicy(DEADLINE, per_day=10), timedelta(hours=25), 20, -4),
    (late.LatePolicy(DEADLINE, grace_seconds=900, per_day=10), timedelta(minutes=10), 20, None),
    (late.LatePolicy(DEADLINE, per_day=10, cap=50), timedelta(hours=2), 35, -3.5),
    (late.LatePolicy(DEADLINE, per_day=10, cap=50), timedelta(hours=2), 40, -7.5),
    (late.LatePolicy(DEADLINE, per_day=40), timedelta(days=4), 20, -20),
    (late.LatePolicy(DEADLINE, per_day=10, max_days=2), timedelta(days=2, hours=1), 20, -20),
])
def test_late_penalties(policy, after, earned, expected):
    got = late.penalty(policy, DEADLINE + after, earned, 65)
    assert (got.points if got else None) == (pytest.approx(expected) if expected is not None else None)


def test_the_penalty_is_its_own_report_line_and_a_time_less_late_marker_is_only_noted():
    report = StudentReport("s", "hw1", (ProblemResult("p5", "t", (), ()),))
    policy = late.LatePolicy(DEADLINE, per_day=10)
    canvas = late.apply(report, Submission("s", Path("."), late=True), policy)
    assert canvas.adjustments == () and "no submission time" in canvas.warnings[0]
    on_time = late.apply(report, Submission("s", Path("."), submitted_at=DEADLINE), policy)
    assert on_time == report
    scored = dataclasses.replace(report, problems=(ProblemResult("p5", "t", (_item(20),)),))
    late_one = late.apply(scored, Submission("s", Path("."), submitted_at=DEADLINE + timedelta(hours=30)), policy)
    assert late_one.score == 16 and late_one.adjustments[0].label.startswith("Late penalty: submitted 30.0 h")


def _item(points):
    from grader.models import ItemScore

    return ItemScore("i", "d", points, points, Status.PASSED, "", "public")


def test_a_student_folder_holding_only_an_archive_is_unpacked_with_its_other_files(tmp_path):
    student = tmp_path / "class" / "alice"
    student.mkdir(parents=True)
    with zipfile.ZipFile(student / "hw1.zip", "w") as zf:
        zf.writestr("hw1/conv1D.py", CODE)
    (student / "proofs.pdf").write_bytes(b"%PDF-1.4\n")
    (tmp_path / "class" / "bob").mkdir()
    (tmp_path / "class" / "bob" / "conv1D.py").write_text(CODE)
    with read_class(tmp_path / "class", RUBRIC) as intake:
        assert intake.layout == "folders" and _students(intake) == ["alice", "bob"]
        alice = intake.submissions[0]
        files = sorted(p.relative_to(alice.folder).as_posix() for p in alice.folder.rglob("*") if p.is_file())
        assert files == ["hw1/hw1/conv1D.py", "proofs.pdf"] and "Unpacked hw1.zip" in alice.notes[-1]
        assert intake.submissions[1].folder == tmp_path / "class" / "bob"


def test_a_students_own_folder_with_a_data_zip_stays_one_student(tmp_path):
    student = tmp_path / "dana"
    student.mkdir()
    (student / "conv1D.py").write_text(CODE)
    with zipfile.ZipFile(student / "data.zip", "w") as zf:
        zf.writestr("data.csv", "1,2\n")
    with read_class(student, RUBRIC) as intake:
        assert intake.layout == "folders" and _students(intake) == ["dana"]
        assert intake.submissions[0].folder == student


def test_a_stray_file_at_the_class_root_does_not_merge_the_class_into_one_student(tmp_path):
    # A TA's notes and the reference beside the students' folders.
    for student, name in (("s01", "hw1/conv1D.py"), ("s02", "wideMinima.py"), ("s03", "Conv1D (2).py")):
        (tmp_path / student / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / student / name).write_text("x = 1\n", encoding="utf-8")
    (tmp_path / "ta_notes.py").write_text("# grading notes\n", encoding="utf-8")
    (tmp_path / "conv1D.py").write_text("# reference\n", encoding="utf-8")
    with read_class(tmp_path, RUBRIC, "folders") as intake:
        assert sorted(s.student for s in intake.submissions) == ["s01", "s02", "s03"]
        assert any("ignored at the class folder's root" in n and "ta_notes.py" in n for n in intake.notes), intake.notes


def test_a_student_who_splits_the_problems_into_folders_is_still_one_student(tmp_path):
    (tmp_path / "p4").mkdir()
    (tmp_path / "p4" / "wideMinima.py").write_text("x = 1\n", encoding="utf-8")
    (tmp_path / "p5").mkdir()
    (tmp_path / "p5" / "conv1D.py").write_text("x = 1\n", encoding="utf-8")
    (tmp_path / "notes.py").write_text("x = 1\n", encoding="utf-8")
    with read_class(tmp_path, RUBRIC, "folders") as intake:
        assert [s.folder for s in intake.submissions] == [tmp_path]


def test_the_reports_folder_is_never_graded_nor_written_among_the_submissions(tmp_path):
    from click.testing import CliRunner

    from grader.cli import main

    for student in ("s01", "s02"):
        (tmp_path / student).mkdir()
        (tmp_path / student / "conv1D.py").write_text("x = 1\n", encoding="utf-8")
    (tmp_path / "reports").mkdir()  # a previous run's reports, inside the class folder
    (tmp_path / "reports" / "report.md").write_text("# old\n", encoding="utf-8")
    (tmp_path / "a_file").write_text("", encoding="utf-8")
    runner = CliRunner()
    for out, needle in ((tmp_path, "is the folder being graded"), (tmp_path / "s01" / "r", "is inside s01's folder"),
                        (tmp_path / "a_file", "exists and is not a folder")):
        result = runner.invoke(main, [str(tmp_path), "--out", str(out), "--jobs", "1"])
        assert result.exit_code == 2 and needle in result.output, result.output
    assert not (tmp_path / "s01" / "r").exists()


def test_a_reports_folder_inside_the_class_folder_is_not_a_student(tmp_path):
    import io

    from grader.context import Context
    from grader.grade import _without_reports
    from grader.submission import Submission

    out = io.StringIO()
    subs = [Submission("reports", tmp_path / "reports"), Submission("s01", tmp_path / "s01")]
    kept = _without_reports(subs, tmp_path / "reports", Context(stdout=out, stderr=io.StringIO()))
    assert [s.student for s in kept] == ["s01"] and "the reports folder (--out), not a student" in out.getvalue()


def test_an_archive_beside_loose_files_is_unpacked_when_it_holds_a_missing_problem_file(tmp_path):
    student = tmp_path / "erin"
    student.mkdir()
    (student / "wideMinima.py").write_text(CODE)
    with zipfile.ZipFile(student / "hw1.zip", "w") as zf:
        zf.writestr("hw1/conv1D.py", CODE)
    with read_class(student, RUBRIC) as intake:
        [submission] = intake.submissions
        assert (submission.folder / "wideMinima.py").exists()
        assert list(submission.folder.rglob("conv1D.py")), list(submission.folder.rglob("*"))
        assert any("Unpacked hw1.zip beside your other files" in n for n in submission.notes), submission.notes


def test_an_archive_that_cannot_be_unpacked_is_not_also_said_to_be_unpacked(tmp_path):
    student = tmp_path / "finn"
    student.mkdir()
    (student / "hw1.zip").write_bytes(b"PK\x03\x04 not really a zip")
    with read_class(student, RUBRIC) as intake:
        [submission] = intake.submissions
        assert any("could not be unpacked" in n for n in submission.notes), submission.notes
        assert not any(n.startswith("Unpacked") for n in submission.notes), submission.notes


def test_a_roster_row_two_submissions_match_is_said(tmp_path):
    from grader.intake.roster import Person, roster_summary
    from grader.submission import Submission

    people = [Person(id="s40_lee", name="Lee", email="")]
    matched = match(people, [Submission("S40_Lee", tmp_path / "a"), Submission("s40_lee", tmp_path / "b")])
    assert matched.shared == {"s40_lee": ["S40_Lee", "s40_lee"]}
    summary = roster_summary(matched)
    assert summary.startswith("Roster: 1 on the roster handed in") and "matches 2 submissions" in summary, summary


def test_an_empty_student_folder_is_said_to_be_empty(tmp_path):
    for student in ("ann", "bob"):
        (tmp_path / student).mkdir()
    (tmp_path / "ann" / "conv1D.py").write_text(CODE)
    with read_class(tmp_path, RUBRIC, "folders") as intake:
        notes = {s.student: s.notes for s in intake.submissions}
        assert "Your folder is empty: nothing was handed in." in notes["bob"] and not notes["ann"], notes
