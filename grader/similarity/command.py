"""``grade similarity PATH``: compares a class and writes the similarity report."""

from __future__ import annotations

from pathlib import Path

from grader.context import Context
from grader.exitcodes import ExitCode
from grader.rubric import Rubric, RubricError
from grader.similarity import report
from grader.similarity.detect import (
    DEFAULT_MIN_TOKENS,
    DEFAULT_THRESHOLD,
    BoilerplateError,
    Similarity,
    compare_class,
)
from grader.similarity.sources import boilerplate_files, read_class

__all__ = ["DEFAULT_MIN_TOKENS", "DEFAULT_THRESHOLD", "main", "run", "summary"]


def main(
    *,
    path: Path,
    rubric: Rubric,
    out: Path,
    ctx: Context,
    threshold: float = DEFAULT_THRESHOLD,
    min_tokens: int = DEFAULT_MIN_TOKENS,
) -> ExitCode:
    """Compares every pair of students under ``path`` and writes ``out/similarity.{csv,html}``.

    Raises:
        SubmissionError: ``path`` holds no submissions.
        RubricError: a boilerplate file the rubric names cannot be read.
    """
    similarity = run(path=path, rubric=rubric, threshold=threshold, min_tokens=min_tokens)
    csv_path, html_path = report.write(similarity, Path(out))
    ctx.say(summary(similarity))
    ctx.say(f"Similarity report: {html_path} (all pairs: {csv_path})")
    return ExitCode.OK


def run(*, path: Path, rubric: Rubric, threshold: float, min_tokens: int) -> Similarity:
    """Reads the class and compares it (no files written)."""
    code = read_class(Path(path), rubric)
    try:
        return compare_class(code, boilerplate_files(rubric), threshold=threshold, min_tokens=min_tokens)
    except BoilerplateError as exc:
        raise RubricError(f"{rubric.path}: {exc}") from None


def summary(similarity: Similarity) -> str:
    """One line for the terminal."""
    flagged = [m for m in similarity.matches if m.flagged]
    line = (f"Similarity: {len(similarity.code.students)} student(s), {', '.join(similarity.code.wanted) or 'no files'}; "
            f"{len(flagged)} pair(s) flagged")
    if flagged:
        top = flagged[0]
        line += f", most similar: {top.student_a} and {top.student_b} on {top.file} ({top.similarity:.0%})"
    return line + " (a reason to look, not a verdict)"
