"""Grades one problem of one student: working copy, judge process, scores."""

from __future__ import annotations

import dataclasses
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

from grader import scoring
from grader.answers import find_answers
from grader.context import Context
from grader.judge import Job, job_to_json
from grader.models import ManualScore, Outcome, ProblemResult, Status
from grader.reports.sources import attach_sources
from grader.rubric import Problem, Rubric
from grader.sandbox.outside import judge_death, limits
from grader.submission import FileProblem, Submission, prepare

#: Extra seconds the judge gets beyond the student's budget (pytest start-up, reference work).
JUDGE_SLACK_SECONDS = 60.0

#: The grader's own package root, put on the judge's path.
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def grade_problem(
    submission: Submission,
    problem: Problem,
    rubric: Rubric,
    workroot: Path,
    report_dir: Path,
    ctx: Context,
    manual: dict[str, ManualScore] | None = None,
) -> ProblemResult:
    """Grades one problem for one student and returns its scored items.

    Never raises for anything the student did; every failure becomes item
    statuses with feedback. A problem with ``answers`` globs also carries the
    student's written answers, for the TA who grades it by hand.
    """
    result = _grade_problem(submission, problem, rubric, workroot, report_dir, ctx, manual)
    # While the working copy exists: the student's source lines that feedback names as file:line.
    result = attach_sources(result, workroot / "work")
    if problem.answers:
        found = find_answers(submission.folder, problem, rubric)
        notes = result.notes
        if not found:
            notes += (f"No written answer found: looked for {', '.join(problem.answers)} in your folder.",)
        result = dataclasses.replace(result, answers=found, notes=notes)
    return result


def _grade_problem(submission, problem, rubric, workroot, report_dir, ctx, manual) -> ProblemResult:
    manual = manual or {}
    manual_scores = {i.id: scoring.score_manual_item(i, manual.get(i.id)) for i in problem.items if i.kind == "manual"}
    if not problem.autograded:
        return ProblemResult(problem.id, problem.title, tuple(manual_scores[i.id] for i in problem.items))

    workdir = workroot / "work"
    try:
        prepared = prepare(submission, problem, workdir, rubric)
    except FileProblem as exc:
        return _unavailable(problem, manual_scores, Status.ERROR, str(exc))
    files = tuple(m.describe() for m in prepared.matches)
    if prepared.missing:
        looked = ", ".join(prepared.missing)
        reason = (
            f"Missing file: {looked}. The grader looked for it by name (any case, .py or .ipynb, "
            f"names like '{Path(prepared.missing[0]).stem} (1).py') and by the names it must define. "
            "Hand in the file with the handout's name."
        )
        return _unavailable(problem, manual_scores, Status.ERROR, reason, files, prepared.notes)

    outcomes, notes, judge_flags = _run_judge(submission, problem, rubric, workroot, report_dir, ctx)
    if outcomes is None:
        scored = {**manual_scores, **scoring.score_unavailable_items(problem.items, Status.ERROR, notes[-1])}
    else:
        scored = {**manual_scores, **{i.id: scoring.score_test_item(i, outcomes) for i in problem.items if i.kind == "test"}}
    items = scoring.apply_requires(problem.items, [scored[i.id] for i in problem.items])
    flags = tuple(dict.fromkeys([*judge_flags, *(f for o in outcomes or () for f in o.flags)]))
    return ProblemResult(
        problem.id, problem.title, tuple(items), files, tuple(prepared.notes) + tuple(notes), flags
    )


def _unavailable(problem, manual_scores, status, reason, files=(), notes=()) -> ProblemResult:
    scored = {**manual_scores, **scoring.score_unavailable_items(problem.items, status, reason)}
    items = tuple(scored[i.id] for i in problem.items)
    return ProblemResult(problem.id, problem.title, items, tuple(files), tuple(notes))


def _run_judge(
    submission: Submission, problem: Problem, rubric: Rubric, workroot: Path, report_dir: Path, ctx: Context
) -> tuple[list[Outcome] | None, list[str], tuple[str, ...]]:
    """Runs the judge process; returns its outcomes (None if it failed), notes and review flags."""
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
    read_fd, write_fd = os.pipe()
    env = {
        **os.environ,
        "PYTHONPATH": str(_PACKAGE_ROOT),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    log_path = scratch / "judge.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [ctx.python, "-m", "grader.judge", str(write_fd)],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(write_fd,),
            cwd=scratch,
            env=env,
            start_new_session=True,
        )
    os.close(write_fd)
    try:
        proc.stdin.write(job_to_json(job).encode("utf-8"))
        proc.stdin.close()
    except BrokenPipeError:
        pass
    deadline = time.monotonic() + problem.timeout + JUDGE_SLACK_SECONDS
    raw, finished = _read_until_eof(read_fd, deadline)
    os.close(read_fd)
    if finished:
        try:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    # Always: a judge past its deadline, and anything it or the student left in its group.
    limits.kill_tree(proc)
    if not finished or proc.returncode != 0 or not raw:
        # Keep the judge's log beside the report: the working copy is deleted.
        report_dir.mkdir(parents=True, exist_ok=True)
        kept = report_dir / f"{problem.id}-judge.log"
        shutil.copyfile(log_path, kept)
        log_path = kept
        death = judge_death.classify(proc.returncode, stopped_by_runner=not finished, log=str(log_path))
        cause = "killed while student code ran" if death.student_caused else "failed"
        ctx.warn(f"grader: judge for {submission.student}/{problem.id} {cause} (exit {proc.returncode}); log: {log_path}")
        return None, [death.message], death.flags
    result = json.loads(raw)
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
        notes.append("Your code printed (while the grader called it):\n" + output[:2000])
    return outcomes, notes, ()


def _keep_artifacts(source: Path, target: Path) -> None:
    """Copies what the suite left in the judge's artifacts folder (figures, tables) beside the report."""
    if not source.is_dir():
        return
    files = [p for p in sorted(source.iterdir()) if p.is_file() and not p.is_symlink()]
    if files:
        target.mkdir(parents=True, exist_ok=True)
        for path in files:
            shutil.copyfile(path, target / path.name)


def _read_until_eof(fd: int, deadline: float) -> tuple[bytes, bool]:
    chunks = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return b"".join(chunks), False
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)
