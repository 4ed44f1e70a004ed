"""``grade similarity PATH``: compares a class and writes the similarity report."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Sequence

from grader.context import Context
from grader.exitcodes import ExitCode
from grader.intake.layouts import read_class
from grader.rubric import Rubric, RubricError
from grader.similarity import report
from grader.similarity.detect import (
    DEFAULT_MIN_TOKENS,
    DEFAULT_THRESHOLD,
    BoilerplateError,
    Similarity,
    compare_class,
)
from grader.similarity.sources import boilerplate_files, read_files
from grader.submission import Submission

__all__ = ["DEFAULT_MIN_TOKENS", "DEFAULT_THRESHOLD", "after_grading", "compare", "main", "summary", "write_report"]


def main(
    *,
    path: Path,
    rubric: Rubric,
    out: Path,
    ctx: Context,
    threshold: float = DEFAULT_THRESHOLD,
    min_tokens: int = DEFAULT_MIN_TOKENS,
    layout: str | None = None,
    prefer: str | None = None,
) -> ExitCode:
    """Reads the class at ``path`` (any layout intake knows) and writes ``out/similarity.{csv,html}``.

    Raises:
        SubmissionError: ``path`` holds no submissions.
        RubricError: a boilerplate file the rubric names cannot be read.
    """
    with read_class(path, rubric, layout, prefer=prefer, tmp_root=ctx.tmp_root) as intake:
        ctx.say(intake.description)
        write_report(submissions=intake.submissions, rubric=rubric, out=out, ctx=ctx,
                     threshold=threshold, min_tokens=min_tokens)
    return ExitCode.OK


def write_report(
    *,
    submissions: Sequence[Submission],
    rubric: Rubric,
    out: Path,
    ctx: Context,
    threshold: float = DEFAULT_THRESHOLD,
    min_tokens: int = DEFAULT_MIN_TOKENS,
) -> Similarity:
    """Compares ``submissions`` (already read by intake, e.g. during a grading run) and writes the report."""
    similarity = compare(submissions=submissions, rubric=rubric, threshold=threshold, min_tokens=min_tokens)
    csv_path, html_path = report.write(similarity, Path(out))
    ctx.say(summary(similarity))
    ctx.say(f"Similarity report: {html_path} (all pairs: {csv_path})")
    return similarity


def after_grading(*, submissions: Sequence[Submission], rubric: Rubric, out: Path, ctx: Context) -> None:
    """``grade PATH --similarity``: writes the report, but never at the cost of the grades.

    The class pages and the gradebook are written after this, so a failure here
    (an unreadable boilerplate notebook, or a bug) is a warning, not a lost run.
    """
    try:
        write_report(submissions=submissions, rubric=rubric, out=out, ctx=ctx)
    except RubricError as exc:
        ctx.warn(f"similarity report not written: {exc}")
    except Exception:  # noqa: BLE001 - a bug in the similarity report must not cost the grades
        ctx.warn("similarity report not written: internal error (please report it):\n" + traceback.format_exc())


def compare(*, submissions: Sequence[Submission], rubric: Rubric, threshold: float, min_tokens: int) -> Similarity:
    """Reads the students' files and compares them (no files written)."""
    code = read_files(submissions, rubric)
    try:
        return compare_class(code, boilerplate_files(rubric), threshold=threshold, min_tokens=min_tokens)
    except BoilerplateError as exc:
        raise RubricError(f"{rubric.path}: {exc}") from None


def summary(similarity: Similarity) -> str:
    """One line for the terminal."""
    flagged = [m for m in similarity.matches if m.flagged]
    files = ", ".join(similarity.code.wanted) or "no files"
    line = f"Similarity: {len(similarity.code.students)} student(s), {files}; {len(flagged)} pair(s) flagged"
    if flagged:
        top = flagged[0]
        line += f", most similar: {top.student_a} and {top.student_b} on {top.file} ({top.similarity:.0%})"
    return line + " (a reason to look, not a verdict)"
