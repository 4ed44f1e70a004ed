"""``grade PATH``: grades a class (or one student) and writes every report."""

from __future__ import annotations

import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from grader import manual
from grader.cache import ResultCache
from grader.context import Context
from grader.intake import late
from grader.intake.layouts import read_class
from grader.intake.roster import load_roster, missing_report, roster_summary, student_id
from grader.intake.roster import match as match_roster
from grader.judge_pool import JudgePool, suite_helpers
from grader.models import ManualScore, ProblemResult, StudentReport
from grader.reports import make_writers
from grader.rubric import Rubric
from grader.runner import grade_problem
from grader.sandbox.outside import confine
from grader.submission import Submission, SubmissionError
from grader.summary import summary_table


def _check_out(path: Path, out: Path) -> None:
    """Refuses, before any grading, a reports folder that would overwrite or mix with the submissions.

    Raises:
        SubmissionError: ``out`` is the class folder, is a file, or cannot be created.
    """
    where, target = Path(path).resolve(), Path(out).resolve()
    if target == where:
        raise SubmissionError(f"--out {out}: is the folder being graded; the reports would land among the "
                              "submissions (choose a folder beside it, e.g. --out reports)")
    if target.exists() and not target.is_dir():
        raise SubmissionError(f"--out {out}: exists and is not a folder")
    if where in target.parents:
        return  # checked against the students' folders once they are known (nothing created before)
    # Created and removed again: nothing is written before the other inputs are validated too.
    made = [p for p in (target, *target.parents) if not p.exists()]
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SubmissionError(f"--out {out}: cannot be created ({exc.strerror or exc})") from None
    for folder in made:  # deepest first
        try:
            folder.rmdir()
        except OSError:
            break


def _without_reports(submissions: list[Submission], out: Path, ctx: Context) -> list[Submission]:
    """Drops the reports folder when it sits in the class folder; refuses one inside a student's folder.

    Raises:
        SubmissionError: ``out`` is inside a student's folder (its reports would be graded as their files).
    """
    target = Path(out).resolve()
    kept = []
    for submission in submissions:
        folder = Path(submission.folder).resolve()
        if folder == target:
            ctx.say(f"  {submission.folder.name}/: the reports folder (--out), not a student")
            continue
        if folder in target.parents:
            raise SubmissionError(f"--out {out}: is inside {submission.student}'s folder; its reports would be "
                                  "read as their files (choose a folder outside the submissions)")
        kept.append(submission)
    if submissions and not kept:
        raise SubmissionError(f"{out}: only the reports folder was found, no student folder")
    return kept


def main(
    *,
    path: Path,
    rubric: Rubric,
    out: Path,
    jobs: int,
    ctx: Context,
    manual_csv: Path | None = None,
    layout: str | None = None,
    prefer: str | None = None,
    roster: Path | None = None,
    similarity: bool = False,
    cache: bool = True,
    scheduler: str | None = None,
) -> list[StudentReport]:
    """Grades every submission under ``path`` and writes reports to ``out``.

    Args:
        manual_csv: the TA's manual-scores CSV to merge (validated before any grading).
        layout: force a class layout (:data:`grader.intake.layouts.LAYOUT_NAMES`); None detects it.
        prefer: how to choose between two candidate files for one problem (``newest``, ``largest``, a name).
        roster: the class roster CSV (:mod:`grader.intake.roster`): missing students get a 0 row.
        similarity: also write ``similarity.{html,csv}`` (before the class pages, which may list its pairs).
        cache: reuse results from ``out/.cache`` whose inputs did not change (False: regrade all).
        scheduler: a Dask scheduler's address (``tcp://HOST:8786``) to grade on; None grades here.

    Raises:
        SubmissionError: ``path`` holds nothing to grade.
        ManualScoresError: the CSV is invalid (every bad cell is named).
        RosterError: the roster is unreadable.
    """
    people = load_roster(roster) if roster is not None else None
    _check_out(path, out)
    with read_class(path, rubric, layout, prefer=prefer, tmp_root=ctx.tmp_root) as intake:
        ctx.say(intake.description)
        for note in intake.notes:
            ctx.say(f"  {note}")
        intake.submissions = _without_reports(intake.submissions, out, ctx)
        matched = match_roster(people, intake.submissions) if people is not None else None
        if matched is not None:
            head, *rest = roster_summary(matched).splitlines()
            ctx.say(head)
            for line in rest:  # who is missing or unknown: shown under --quiet too
                ctx.warn(line.strip())
        missing = matched.missing if matched else []
        submissions, known = manual.known_students(path, rubric, matched.submissions if matched else intake.submissions)
        known |= {student_id(p) for p in missing}
        scores = manual.load_scores(manual_csv, rubric, known) if manual_csv is not None else {}
        where = f"on the Dask cluster at {scheduler}" if scheduler else f"with {jobs} job(s)"
        ctx.say(f"Grading {len(submissions)} submission(s) for {rubric.id} {where}")
        warning = confine.probe().warning()
        if warning:
            ctx.warn(warning)  # once per run: every child of this run is confined the same way
        results = ResultCache(out / ".cache", rubric, ctx.warn) if cache else None
        writers = make_writers()
        reports = grade_all(submissions, rubric, out, jobs, ctx, scores, results, scheduler, writers)
        if results is not None and results.hits:
            ctx.say(f"Reused {results.hits} cached result(s) from {results.folder} (--no-cache regrades all)")
        if similarity:
            similarity_report(submissions=submissions, rubric=rubric, out=out, ctx=ctx)
    for report in (missing_report(p, rubric) for p in missing):
        for writer in writers:
            writer.write_student(report, out / report.student)
        reports.append(report)
    reports.sort(key=lambda r: r.student)
    for writer in writers:
        writer.write_class(reports, out)
    ctx.say("")
    ctx.result(summary_table(reports))
    ctx.result(f"\nReports: {out}/<student>/report.html (and .md, .json), class summary: {out / 'index.html'}, "
            f"gradebook: {out / 'gradebook.csv'}")
    return reports


def similarity_report(**kwargs) -> None:
    """:func:`grader.similarity.command.after_grading`, imported only by a run that asks for the report."""
    from grader.similarity.command import after_grading

    after_grading(**kwargs)


def grade_all(
    submissions: list[Submission],
    rubric: Rubric,
    out: Path,
    jobs: int,
    ctx: Context,
    manual: dict[str, dict[str, ManualScore]],
    cache: ResultCache | None = None,
    scheduler: str | None = None,
    writers: list | None = None,
) -> list[StudentReport]:
    """Grades (student, problem) pairs in parallel; a student's report is written when complete.

    Jobs run on ``jobs`` pre-imported judge workers here, or on the Dask
    cluster at ``scheduler``; a job whose inputs are unchanged comes from ``cache``.
    ``writers`` write each student's reports (default: :func:`grader.reports.make_writers`).
    """
    writers = make_writers() if writers is None else writers
    tmp = Path(tempfile.mkdtemp(prefix="grader-", dir=ctx.tmp_root))
    tasks = [(s, p) for s in submissions for p in rubric.problems]
    results: dict[tuple[str, str], ProblemResult] = {}
    reports: list[StudentReport] = []
    remaining = {s.student: len(rubric.problems) for s in submissions}
    progress = ctx.progress(len(submissions))
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
                        warnings=submission.notes,
                        name=submission.name,
                        email=submission.email,
                        sandbox=layers,
                    )
                    report = late.apply(report, submission, rubric.late)
                    for writer in writers:
                        writer.write_student(report, out / submission.student)
                    reports.append(report)
                    progress.student_done(report)
    finally:
        progress.finish()
        if not ctx.keep_workdirs:
            shutil.rmtree(tmp, ignore_errors=True)
    return sorted(reports, key=lambda r: r.student)


def _grade_one(run, submission, problem, manual, report_dir, cache) -> ProblemResult:
    if cache is None:
        return run(submission, problem, manual)
    return cache.through(
        submission.student, submission.folder, problem, manual, report_dir, lambda: run(submission, problem, manual),
        prefer=submission.prefer,
    )

