"""``grade PATH``: grades a class (or one student) and writes every report."""

from __future__ import annotations

import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from grader import manual
from grader.cache import ResultCache
from grader.context import Context
from grader.judge_pool import JudgePool, suite_helpers
from grader.models import ManualScore, ProblemResult, StudentReport
from grader.reports import WRITERS
from grader.rubric import Rubric
from grader.runner import grade_problem
from grader.submission import Submission
from grader.summary import summary_table


def main(
    *,
    path: Path,
    rubric: Rubric,
    out: Path,
    jobs: int,
    ctx: Context,
    manual_csv: Path | None = None,
    cache: bool = True,
) -> list[StudentReport]:
    """Grades every submission under ``path`` and writes reports to ``out``.

    Args:
        manual_csv: the TA's manual-scores CSV to merge (validated before any grading).
        cache: reuse results from ``out/.cache`` whose inputs did not change (False: regrade all).

    Raises:
        SubmissionError: ``path`` holds nothing to grade.
        ManualScoresError: the CSV is invalid (every bad cell is named).
    """
    submissions, known = manual.known_students(path, rubric)
    scores = manual.load_scores(manual_csv, rubric, known) if manual_csv is not None else {}
    ctx.say(f"Grading {len(submissions)} submission(s) for {rubric.id} with {jobs} job(s)")
    results = ResultCache(out / ".cache", rubric, ctx.warn) if cache else None
    reports = grade_all(submissions, rubric, out, jobs, ctx, scores, results)
    if results is not None and results.hits:
        ctx.say(f"Reused {results.hits} cached result(s) from {results.folder} (--no-cache regrades all)")
    for writer in WRITERS:
        writer.write_class(reports, out)
    ctx.say("")
    ctx.say(summary_table(reports))
    ctx.say(f"\nReports: {out}/<student>/report.md, gradebook: {out / 'gradebook.csv'}")
    return reports


def grade_all(
    submissions: list[Submission],
    rubric: Rubric,
    out: Path,
    jobs: int,
    ctx: Context,
    manual: dict[str, dict[str, ManualScore]],
    cache: ResultCache | None = None,
) -> list[StudentReport]:
    """Grades (student, problem) pairs in parallel; a student's report is written when complete."""
    tmp = Path(tempfile.mkdtemp(prefix="grader-", dir=ctx.tmp_root))
    tasks = [(s, p) for s in submissions for p in rubric.problems]
    results: dict[tuple[str, str], ProblemResult] = {}
    reports: list[StudentReport] = []
    remaining = {s.student: len(rubric.problems) for s in submissions}
    judges = JudgePool(jobs, ctx.python, tmp / "workers", preload=suite_helpers(rubric.problems))
    try:
        with judges, ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {
                pool.submit(
                    _grade_one, s, p, rubric, tmp / s.student / p.id, out / s.student, ctx,
                    manual.get(s.student), judges, cache,
                ): (s, p)
                for s, p in tasks
            }
            for future in as_completed(futures):
                submission, problem = futures[future]
                results[(submission.student, problem.id)] = future.result()
                remaining[submission.student] -= 1
                if remaining[submission.student] == 0:
                    report = StudentReport(
                        student=submission.student,
                        assignment=rubric.id,
                        problems=tuple(results[(submission.student, p.id)] for p in rubric.problems),
                    )
                    for writer in WRITERS:
                        writer.write_student(report, out / submission.student)
                    reports.append(report)
                    ctx.say(f"[{len(reports)}/{len(submissions)}] {_progress_line(report)}")
    finally:
        if not ctx.keep_workdirs:
            shutil.rmtree(tmp, ignore_errors=True)
    return sorted(reports, key=lambda r: r.student)


def _grade_one(submission, problem, rubric, workroot, report_dir, ctx, manual, judges, cache) -> ProblemResult:
    def grade() -> ProblemResult:
        return grade_problem(submission, problem, rubric, workroot, report_dir, ctx, manual, judges)

    if cache is None:
        return grade()
    return cache.through(submission.student, submission.folder, problem, manual, report_dir, grade)


def _progress_line(report: StudentReport) -> str:
    parts = " ".join(f"{p.id}={p.score:g}" for p in report.problems if p.max_score)
    return f"{report.student}: {report.score:g}/{report.max_score:g} ({parts})"
