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
from grader.sandbox.outside import confine
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
    scheduler: str | None = None,
) -> list[StudentReport]:
    """Grades every submission under ``path`` and writes reports to ``out``.

    Args:
        manual_csv: the TA's manual-scores CSV to merge (validated before any grading).
        cache: reuse results from ``out/.cache`` whose inputs did not change (False: regrade all).
        scheduler: a Dask scheduler's address (``tcp://HOST:8786``) to grade on; None grades here.

    Raises:
        SubmissionError: ``path`` holds nothing to grade.
        ManualScoresError: the CSV is invalid (every bad cell is named).
    """
    submissions, known = manual.known_students(path, rubric)
    scores = manual.load_scores(manual_csv, rubric, known) if manual_csv is not None else {}
    where = f"on the Dask cluster at {scheduler}" if scheduler else f"with {jobs} job(s)"
    ctx.say(f"Grading {len(submissions)} submission(s) for {rubric.id} {where}")
    warning = confine.probe().warning()
    if warning:
        ctx.warn(warning)  # once per run: every child of this run is confined the same way
    results = ResultCache(out / ".cache", rubric, ctx.warn) if cache else None
    reports = grade_all(submissions, rubric, out, jobs, ctx, scores, results, scheduler)
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
    scheduler: str | None = None,
) -> list[StudentReport]:
    """Grades (student, problem) pairs in parallel; a student's report is written when complete.

    Jobs run on ``jobs`` pre-imported judge workers here, or on the Dask
    cluster at ``scheduler``; a job whose inputs are unchanged comes from ``cache``.
    """
    tmp = Path(tempfile.mkdtemp(prefix="grader-", dir=ctx.tmp_root))
    tasks = [(s, p) for s in submissions for p in rubric.problems]
    results: dict[tuple[str, str], ProblemResult] = {}
    reports: list[StudentReport] = []
    remaining = {s.student: len(rubric.problems) for s in submissions}
    if scheduler:
        from grader.dask_grading import DaskGrader

        backend = DaskGrader(scheduler, rubric)
        threads = backend.threads

        def run(s, p, m):
            return backend.grade(s, p, m, out / s.student)
    else:
        backend = JudgePool(jobs, ctx.python, tmp / "workers", preload=suite_helpers(rubric.problems))
        threads = jobs

        def run(s, p, m):
            return grade_problem(s, p, rubric, tmp / s.student / p.id, out / s.student, ctx, m, backend)

    layers = confine.probe().active + ("rlimits",)
    try:
        with backend, ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            futures = {
                pool.submit(_grade_one, run, s, p, manual.get(s.student), out / s.student, cache): (s, p)
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
                        sandbox=layers,
                    )
                    for writer in WRITERS:
                        writer.write_student(report, out / submission.student)
                    reports.append(report)
                    ctx.say(f"[{len(reports)}/{len(submissions)}] {_progress_line(report)}")
    finally:
        if not ctx.keep_workdirs:
            shutil.rmtree(tmp, ignore_errors=True)
    return sorted(reports, key=lambda r: r.student)


def _grade_one(run, submission, problem, manual, report_dir, cache) -> ProblemResult:
    if cache is None:
        return run(submission, problem, manual)
    return cache.through(
        submission.student, submission.folder, problem, manual, report_dir, lambda: run(submission, problem, manual)
    )


def _progress_line(report: StudentReport) -> str:
    parts = " ".join(f"{p.id}={p.score:g}" for p in report.problems if p.max_score)
    return f"{report.student}: {report.score:g}/{report.max_score:g} ({parts})"
