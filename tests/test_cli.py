"""The CLI only parses and passes through; exit codes follow ExitCode."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import cli
from grader.exitcodes import ExitCode

ROOT = Path(__file__).resolve().parents[1]
RUBRIC = ROOT / "rubrics" / "hw1.toml"


@pytest.fixture
def captured(monkeypatch):
    calls = []
    monkeypatch.setattr(cli.grade, "main", lambda **kw: calls.append(kw))
    return calls


def test_grade_path_is_short_for_run_and_passes_options_through(captured, tmp_path):
    result = CliRunner().invoke(cli.main, ["submissions", "--out", str(tmp_path), "--jobs", "3",
                                           "--rubric", str(RUBRIC)])
    assert result.exit_code == ExitCode.OK, result.output
    (kw,) = captured
    assert kw["path"] == Path("submissions") and kw["out"] == tmp_path and kw["jobs"] == 3
    assert kw["rubric"].id == "hw1" and kw["manual_csv"] is None
    assert kw["ctx"].keep_workdirs is False


def test_defaults_out_reports_and_jobs_cores(captured, monkeypatch):
    monkeypatch.setattr(cli, "default_jobs", lambda: 7)
    result = CliRunner().invoke(cli.main, ["run", "submissions/full_marks", "--rubric", str(RUBRIC)])
    assert result.exit_code == ExitCode.OK, result.output
    assert captured[0]["out"] == Path("reports") and captured[0]["jobs"] == 7


def test_rubric_error_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[assignment]\nid = "x"\n')
    result = CliRunner().invoke(cli.main, ["submissions", "--rubric", str(bad)])
    assert result.exit_code == ExitCode.USAGE
    lines = result.output.strip().splitlines()
    assert lines == [f"error: {bad}: no [[problems]] defined"]


def test_missing_submissions_folder_exits_2(tmp_path):
    result = CliRunner().invoke(cli.main, [str(tmp_path / "nope"), "--rubric", str(RUBRIC), "--out", str(tmp_path)])
    assert result.exit_code == ExitCode.USAGE
    assert "no such folder" in result.output


def test_bad_option_is_a_usage_error():
    result = CliRunner().invoke(cli.main, ["submissions", "--jobs", "0"])
    assert result.exit_code == ExitCode.USAGE


def test_internal_failure_exits_1(monkeypatch):
    def boom(**kw):
        raise RuntimeError("bug")

    monkeypatch.setattr(cli.grade, "main", boom)
    result = CliRunner().invoke(cli.main, ["submissions", "--rubric", str(RUBRIC)])
    assert result.exit_code == ExitCode.INTERNAL
    assert "internal error in the grader" in result.output and "RuntimeError: bug" in result.output


def test_manual_option_passes_the_csv_path(captured, tmp_path):
    result = CliRunner().invoke(cli.main, ["submissions", "--manual", "scores.csv", "--rubric", str(RUBRIC)])
    assert result.exit_code == ExitCode.OK, result.output
    assert captured[0]["manual_csv"] == Path("scores.csv")


def test_verify_passes_through_and_returns_its_exit_code(monkeypatch):
    calls = []

    def fake(**kw):
        calls.append(kw)
        return ExitCode.CHECK_FAILED

    monkeypatch.setattr(cli.verify, "main", fake)
    result = CliRunner().invoke(cli.main, ["verify", "--jobs", "2", "--rubric", str(RUBRIC)])
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert calls[0]["jobs"] == 2 and calls[0]["out"] is None and calls[0]["rubric"].id == "hw1"


def test_manual_template_passes_through(monkeypatch):
    calls = []
    monkeypatch.setattr(cli.manual, "template_main", lambda **kw: calls.append(kw))
    result = CliRunner().invoke(cli.main, ["manual-template", "submissions", "--out", "s.csv", "--force",
                                           "--rubric", str(RUBRIC)])
    assert result.exit_code == ExitCode.OK, result.output
    assert (calls[0]["path"], calls[0]["out"], calls[0]["force"]) == (Path("submissions"), Path("s.csv"), True)


def test_intake_options_pass_through(captured):
    result = CliRunner().invoke(cli.main, ["exports/", "--layout", "canvas", "--prefer", "newest",
                                           "--roster", "roster.csv", "--rubric", str(RUBRIC)])
    assert result.exit_code == ExitCode.OK, result.output
    kw = captured[0]
    assert (kw["layout"], kw["prefer"], kw["roster"]) == ("canvas", "newest", Path("roster.csv"))


def test_an_unknown_layout_is_a_usage_error(captured):
    result = CliRunner().invoke(cli.main, ["exports/", "--layout", "blackboard", "--rubric", str(RUBRIC)])
    assert result.exit_code == ExitCode.USAGE and "blackboard" in result.output and not captured


def test_a_bad_roster_exits_2_with_one_line(tmp_path):
    (tmp_path / "r.csv").write_text("name\nA\n")
    result = CliRunner().invoke(cli.main, ["submissions", "--roster", str(tmp_path / "r.csv"), "--rubric", str(RUBRIC)])
    assert result.exit_code == ExitCode.USAGE
    assert "r.csv: no id column" in result.output
