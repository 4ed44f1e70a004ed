"""Grades one problem of one student: working copy, judge process, scores."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from pathlib import Path

from grader import integrity, scoring
from grader.answers import find_answers
from grader.context import Context
from grader.job import Job, job_to_json
from grader.judge_pool import JudgePool
from grader.models import ManualScore, Outcome, ProblemResult, Status
from grader.reports.sources import attach_sources
from grader.rubric import Problem, Rubric
from grader.sandbox.outside import judge_death
from grader.submission import FileProblem, Submission, prepare

#: Extra seconds the judge gets beyond the student's budget (pytest start-up, reference work).
JUDGE_SLACK_SECONDS = 60.0

#: How the note of a problem the grader could not check begins (such results are never cached).
INTERNAL_ERROR = "Internal grader error"


def grade_problem(
    submission: Submission,
    problem: Problem,
    rubric: Rubric,
    workroot: Path,
    report_dir: Path,
    ctx: Context,
    manual: dict[str, ManualScore] | None = None,
    judges: JudgePool | None = None,
) -> ProblemResult:
    """Grades one problem for one student and returns its scored items.

    Never raises for anything the student did; every failure becomes item
    statuses with feedback. A problem with ``answers`` globs also carries the
    student's written answers, for the TA who grades it by hand. ``judges``
    runs the judge (a one-worker pool is started for this call if None).
    """
    result = _grade_problem(submission, problem, rubric, workroot, report_dir, ctx, manual, judges)
    # While the working copy exists: the student's source lines that feedback names as file:line.
    result = attach_sources(result, workroot / "work")
    if problem.answers:
        found = find_answers(submission.folder, problem, rubric)
        notes = result.notes
        if not found:
            notes += (f"No written answer found: looked for {', '.join(problem.answers)} in your folder.",)
        result = dataclasses.replace(result, answers=found, notes=notes)
    return result


def _grade_problem(submission, problem, rubric, workroot, report_dir, ctx, manual, judges) -> ProblemResult:
    manual = manual or {}
    manual_scores = {i.id: scoring.score_manual_item(i, manual.get(i.id)) for i in problem.items if i.kind == "manual"}
    if not problem.autograded:
        return ProblemResult(problem.id, problem.title, tuple(manual_scores[i.id] for i in problem.items))

    workdir = workroot / "work"
    try:
        prepared = prepare(submission, problem, workdir, rubric)
    except FileProblem as exc:
        return _unavailable(problem, manual_scores, Status.ERROR, str(exc))
    files = tuple(m.describe(submission.folder) for m in prepared.matches)
    if prepared.missing:
        looked = ", ".join(prepared.missing)
        reason = (
            f"Missing file: {looked}. The grader looked for it by name (any case, .py or .ipynb, "
            f"names like '{Path(prepared.missing[0]).stem} (1).py') and by the names it must define. "
            "Hand in the file with the handout's name."
        )
        return _unavailable(problem, manual_scores, Status.ERROR, reason, files, prepared.notes)

    # Before the run: the working copy is the child's cwd, which the student's code may rewrite.
    own = {m.wanted.lower() for m in prepared.matches}
    skip = {f.lower() for p in rubric.problems for f in p.files} - own  # each file with its own problem
    skip |= {m.found.relative_to(submission.folder).as_posix().lower()
             for m in prepared.matches if m.found.is_relative_to(submission.folder)} - own
    scanned = integrity.internals_referenced(integrity.student_sources(prepared.workdir, skip))
    outcomes, notes, judge_flags = _run_judge(submission, problem, rubric, workroot, report_dir, ctx, judges)
    if outcomes is None:
        scored = {**manual_scores, **scoring.score_unavailable_items(problem.items, Status.ERROR, notes[-1])}
    else:
        scored = {**manual_scores, **{i.id: scoring.score_test_item(i, outcomes) for i in problem.items if i.kind == "test"}}
    items = scoring.apply_requires(problem.items, [scored[i.id] for i in problem.items])
    flags = tuple(dict.fromkeys([*judge_flags, *(f for o in outcomes or () for f in o.flags), *scanned]))
    return ProblemResult(
        problem.id, problem.title, tuple(items), files, tuple(prepared.notes) + tuple(notes), flags
    )


def _unavailable(problem, manual_scores, status, reason, files=(), notes=()) -> ProblemResult:
    scored = {**manual_scores, **scoring.score_unavailable_items(problem.items, status, reason)}
    items = tuple(scored[i.id] for i in problem.items)
    return ProblemResult(problem.id, problem.title, items, tuple(files), tuple(notes))


def _run_judge(
    submission: Submission,
    problem: Problem,
    rubric: Rubric,
    workroot: Path,
    report_dir: Path,
    ctx: Context,
    judges: JudgePool | None,
) -> tuple[list[Outcome] | None, list[str], tuple[str, ...]]:
    """Runs the judge; returns its outcomes (None if it failed), notes and review flags."""
    scratch = workroot / "judge"
    scratch.mkdir(parents=True, exist_ok=True)
    job = Job(
        student_id=submission.student,
        problem_id=problem.id,
        suite=str(problem.suite),
        tests=sorted({i.test for i in problem.items if i.test}),
        workdir=str((workroot / "work").resolve()),
        scratch=str(scratch.resolve()),
        files=list(problem.files),
        wall_seconds=problem.timeout,
        memory_bytes=problem.memory,
        reference_dir=str(rubric.reference) if rubric.reference else None,
        plugins=[
            [str(p), dict(o)]
            for p, o in zip(problem.plugins, problem.plugin_options or ({},) * len(problem.plugins))
        ],
    )
    started = time.monotonic()
    deadline = started + problem.timeout + JUDGE_SLACK_SECONDS
    # The log stays in memory (a file per job costs the file system more than its bytes); it is
    # written out only for a judge that failed, or for a run that keeps its working folders.
    if judges is None:
        with JudgePool(1, ctx.python, workroot / "worker") as pool:
            run = pool.run(job_to_json(job), None, deadline)
    else:
        run = judges.run(job_to_json(job), None, deadline)
    log_path = scratch / "judge.log"
    if ctx.keep_workdirs:
        log_path.write_bytes(run.log)
    raw = run.raw
    parsed = None
    if ctx.timings is not None:
        parsed = _parsed(run)
        seconds = parsed.get("student_seconds", 0.0) if isinstance(parsed, dict) else None
        try:
            seconds = float(seconds) if seconds is not None else None
        except (TypeError, ValueError):
            seconds = None
        ctx.timings.append({"student": submission.student, "problem": problem.id,
                            "judge_seconds": time.monotonic() - started, "student_seconds": seconds})
    if not run.finished or run.returncode != 0 or not raw:
        # Keep the judge's log beside the report: the working copy is deleted.
        report_dir.mkdir(parents=True, exist_ok=True)
        kept = report_dir / f"{problem.id}-judge.log"
        kept.write_bytes(run.log)
        log_path = kept
        death = judge_death.classify(run.returncode, stopped_by_runner=not run.finished, log=str(log_path))
        cause = "killed while student code ran" if death.student_caused else "failed"
        ctx.warn(f"grader: judge for {submission.student}/{problem.id} {cause} (exit {run.returncode}); log: {log_path}")
        return None, [death.message], death.flags
    result = parsed if parsed is not None else json.loads(raw)
    _keep_artifacts(scratch / "artifacts", report_dir / problem.id)
    outcomes = [
        Outcome(
            test=o["test"],
            case=o["case"],
            status=Status(o["status"]),
            credit=float(o["credit"]),
            message=o["message"],
            notes=tuple(o["notes"]),
            flags=tuple(o.get("flags", ())),
        )
        for o in result["outcomes"]
    ]
    notes = list(result.get("load_notes", []))
    output = result.get("output", "").strip()
    if output:
        notes.append("Your code printed (while the grader loaded and called it):\n" + output[:2000])
    return outcomes, notes, ()


def _parsed(run):
    """The judge's result document, parsed once (None: no result, or not JSON)."""
    if not run.finished:
        return None
    try:
        return json.loads(run.raw)
    except ValueError:
        return None


def _keep_artifacts(source: Path, target: Path) -> None:
    """Moves what the suite left in the judge's artifacts folder (figures, tables) beside the report.

    The judge's folder is deleted after grading, so its files are renamed into the report
    folder (no copy of a P4 runs.json per student); across file systems they are copied.
    """
    if not source.is_dir():
        return
    files = [p for p in sorted(source.iterdir()) if p.is_file() and not p.is_symlink()]
    if files:
        target.mkdir(parents=True, exist_ok=True)
        for path in files:
            try:
                os.replace(path, target / path.name)
            except OSError:  # another file system (or an odd target): copy, as before
                shutil.copyfile(path, target / path.name)
