"""``grade check [PATH]``: a student's self-check on their own folder, public items only.

Hidden items are removed from the rubric before anything runs
(:func:`grader.public.public_rubric`), so nothing this prints or writes can
name them; the last lines say how many points are hidden and not counted.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from grader import grade, public
from grader.context import Context
from grader.exitcodes import ExitCode
from grader.models import Status, StudentReport
from grader.reports import make_writers
from grader.reports.base import points
from grader.rubric import Rubric
from grader.submission import discover

_STYLES = {
    Status.PASSED: ("passed", "green"),
    Status.FAILED: ("not yet", "red"),
    Status.ERROR: ("error", "red"),
    Status.TIMEOUT: ("timed out", "red"),
    Status.SKIPPED: ("skipped", "yellow"),
    Status.PENDING: ("graded by a TA", "blue"),
}


def main(*, rubric: Rubric, path: Path, out: Path | None, jobs: int, ctx: Context) -> ExitCode:
    """Grades the public items of the submission(s) in ``path`` and prints friendly feedback.

    Args:
        out: folder for the reports (default: a new temporary folder, kept and named in the output).
    """
    checked = public.public_rubric(rubric)
    submissions = discover(path, checked)
    out = out if out is not None else Path(tempfile.mkdtemp(prefix="grade-check-"))
    ctx.say(f"Checking {', '.join(s.student for s in submissions)} against the public checks of {rubric.id} …")
    writers = make_writers()
    reports = grade.grade_all(submissions, checked, out, jobs, ctx, {}, writers=writers)
    for writer in writers:
        writer.write_class(reports, out)
    for report in reports:
        render(report, rubric, ctx)
        ctx.say(f"Full report: {out / report.student / 'report.html'} (also report.md)")
    return ExitCode.OK


def render(report: StudentReport, rubric: Rubric, ctx: Context) -> None:
    """Prints the feedback (coloured on a terminal) and the public score; the score lines even with ``-q``."""
    colour = _isatty(ctx)

    def echo(text: str = "", **style) -> None:
        if ctx.verbosity > 0:
            click.echo(click.style(text, **style) if style else text, file=ctx.stdout, color=colour)

    echo()
    for problem in report.problems:
        if not any(i.status is not Status.PENDING for i in problem.items):
            continue  # proofs: nothing to check here
        echo(f"{problem.id}: {problem.title} — {points(problem.score)} / {points(problem.max_score)}", bold=True)
        for item in problem.items:
            label, fg = _STYLES[item.status]
            echo("  " + click.style(f"[{label}]", fg=fg, bold=True) + f" {item.id}: {item.description} "
                 f"({points(item.score)}/{points(item.max_score)})")
            if item.status is not Status.PASSED and item.feedback:
                for line in item.feedback.splitlines():
                    echo(f"      {line}")
        echo()
    autograded_max = round(sum(i.max_score for p in report.problems for i in p.items if i.status is not Status.PENDING), 6)
    score = f"Public score: {points(report.score)} / {points(autograded_max)} (public autograded checks only)"
    click.echo(click.style(score, bold=True), file=ctx.stdout, color=colour)
    sentence = public.not_counted_sentence(rubric)
    if sentence:
        click.echo(click.style(sentence, fg="yellow"), file=ctx.stdout, color=colour)


def _isatty(ctx: Context) -> bool:
    isatty = getattr(ctx.stdout, "isatty", None)
    return bool(isatty and isatty())
