"""Progress display: a bar with an ETA on a terminal, plain lines elsewhere, -q and -v."""

import io

from grader.context import Context
from grader.models import ItemScore, ProblemResult, Status, StudentReport
from grader.progress import Progress, format_eta


class Tty(io.StringIO):
    def isatty(self):
        return True


def report(name, score):
    item = ItemScore("p5-forward", "A @ x", score, 4.0, Status.PASSED if score == 4 else Status.FAILED, "", "public")
    return StudentReport(name, "hw1", (ProblemResult("p5", "Conv", (item,)),))


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_plain_lines_with_eta_when_not_a_terminal():
    out, clock = io.StringIO(), FakeClock()
    progress = Progress(3, out, tty=False, verbosity=1, clock=clock)
    clock.now += 10
    progress.student_done(report("alice", 4))
    clock.now += 10
    progress.student_done(report("bob", 1))
    progress.student_done(report("carol", 4))
    progress.finish()
    assert out.getvalue().splitlines() == [
        "[1/3] alice: 4/4 (p5=4), ETA 20s",
        "[2/3] bob: 1/4 (p5=1), ETA 10s",
        "[3/3] carol: 4/4 (p5=4)",
    ]
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_terminal_bar_is_redrawn_in_place_and_ends_on_a_fresh_line():
    out, clock = Tty(), FakeClock()
    progress = Progress(4, out, tty=True, verbosity=1, clock=clock)
    clock.now += 30
    progress.student_done(report("alice", 4))
    text = out.getvalue()
    assert "[1/4] alice: 4/4 (p5=4)\n" in text
    assert text.endswith("\r" + "█" * 6 + "░" * 18 + " 1/4 ETA 1m30s")
    progress.finish()
    assert out.getvalue().endswith("\r\x1b[2KGraded 1/4 in 30s\n")


def test_quiet_prints_nothing_and_verbose_prints_items():
    quiet, verbose = io.StringIO(), io.StringIO()
    Progress(1, quiet, tty=False, verbosity=0).student_done(report("alice", 1))
    Progress(1, verbose, tty=False, verbosity=2).student_done(report("alice", 1))
    assert quiet.getvalue() == ""
    assert verbose.getvalue().splitlines() == ["[1/1] alice: 1/4 (p5=1)", "    p5 p5-forward: 1/4 failed"]


def test_context_picks_the_bar_for_a_terminal_and_quiet_silences_say():
    assert Context(stdout=Tty()).progress(2).tty is True
    assert Context(stdout=io.StringIO()).progress(2).tty is False
    out = io.StringIO()
    Context(stdout=out, verbosity=0).say("hello")
    assert out.getvalue() == ""


def test_format_eta():
    assert [format_eta(s) for s in (0, 59.4, 61, 3599, 3720)] == ["0s", "59s", "1m01s", "59m59s", "1h02m"]


def test_a_quiet_run_still_prints_the_final_scores(tmp_path):
    # `-q` promises "only warnings and errors (and final scores)": the table is the result, not progress.
    from pathlib import Path

    from grader import grade
    from grader.rubric import load_rubric

    root = Path(__file__).resolve().parents[1]
    (tmp_path / "class" / "alice").mkdir(parents=True)
    (tmp_path / "class" / "alice" / "answers.md").write_text("P1: see below\n", encoding="utf-8")
    out = io.StringIO()
    reports = grade.main(path=tmp_path / "class", rubric=load_rubric(root / "rubrics" / "hw1.toml"),
                         out=tmp_path / "reports", jobs=1, ctx=Context(stdout=out, stderr=io.StringIO(), verbosity=0),
                         cache=False)
    text = out.getvalue()
    assert [r.student for r in reports] == ["alice"]
    assert "alice" in text and "total" in text.lower() and "Grading" not in text, text
