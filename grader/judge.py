"""The judge: runs one problem's suite against one student, in its own process.

The grader forks it from a pre-imported worker (:mod:`grader.judge_worker`);
``python -m grader.judge RESULT_FD`` with a :class:`Job` as JSON on stdin
runs the same judge in a fresh interpreter. The judge runs the rubric's pytest suite; the suite reaches the
student's code only through the child that :class:`ChildSession` starts, so
student code can neither see nor patch the assertions. The outcomes go back as
one JSON document on ``RESULT_FD``, a pipe only the grader and the judge hold.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

from grader.pytest_plugin import GradingPlugin
from grader.sandbox.outside.launcher import ZygoteLauncher
from grader.sandbox.outside.session import ChildSession, Limits
from grader.suite_api import StudentHandle


@dataclass(frozen=True)
class Job:
    """Everything the judge needs for one (student, problem)."""

    student_id: str
    """The student's id."""

    problem_id: str
    """The rubric's problem id."""

    suite: str
    """Absolute path of the pytest suite file."""

    tests: list[str]
    """Test function names the rubric's items name."""

    workdir: str
    """The student's working copy (the child's cwd)."""

    scratch: str
    """A folder of the grader's for logs and captured output."""

    files: list[str]
    """The problem's files, by their rubric names, inside ``workdir``."""

    wall_seconds: float
    """The problem's wall-clock budget."""

    memory_bytes: int
    """The child's address-space cap."""

    reference_dir: str | None = None
    """The assignment's reference folder."""

    plugins: list[list] = field(default_factory=list)
    """``[path, options]`` pairs of child plugins to load in every child."""

    zygote_fd: int | None = None
    """The child zygote's socket, inherited from the judge worker (None: exec each child)."""


def job_to_json(job: Job) -> str:
    """Serializes a job for the judge's stdin."""
    return json.dumps(asdict(job))


def run(job: Job) -> dict:
    """Runs the suite for one job and returns the plain-data result."""
    scratch = Path(job.scratch)
    session = ChildSession(
        workdir=Path(job.workdir),
        limits=Limits(wall_seconds=job.wall_seconds, memory_bytes=job.memory_bytes),
        scratch=scratch / "child",
        plugins=[(p, o) for p, o in job.plugins],
        artifacts=scratch / "artifacts",
        launcher=ZygoteLauncher(socket.socket(fileno=job.zygote_fd)) if job.zygote_fd is not None else None,
    )
    handle = StudentHandle(
        session=session,
        files=job.files,
        student_id=job.student_id,
        problem_id=job.problem_id,
        reference_dir=Path(job.reference_dir) if job.reference_dir else None,
        artifacts_dir=scratch / "artifacts",
    )
    plugin = GradingPlugin(handle, set(job.tests))
    args = [
        job.suite,
        "-q",
        "-p", "no:cacheprovider",
        "-p", "no:randomly",
        # Its teardown runs gc.collect five times over the whole pre-imported heap;
        # the judge has no use for reports of exceptions raised in __del__.
        "-p", "no:unraisableexception",
        "--rootdir", str(Path(job.suite).parent),
        "--confcutdir", str(Path(job.suite).parent),
        # Collect the suite whatever its name, but only it: a pattern like *.py would
        # also assertion-rewrite (and recompile) every module the suite imports.
        "-o", f"python_files={Path(job.suite).name}",
        "--tb=short",
    ]
    try:
        exit_code = pytest.main(args, plugins=[plugin])
    finally:
        session.close()
    return {
        "pytest_exit": int(exit_code),
        "outcomes": plugin.outcomes,
        "load_notes": handle.load_notes,
        "output": session.captured_output(),
        "elapsed_budget": round(job.wall_seconds - session.remaining(), 3),
        "student_seconds": round(session.total_busy_seconds(), 6),
    }


def write_result(job: Job, result_fd: int) -> None:
    """Runs the job and writes its result as one JSON document to ``result_fd`` (then closes it)."""
    result = run(job)
    with os.fdopen(result_fd, "w", encoding="utf-8") as channel:
        json.dump(result, channel)


def main(argv: list[str]) -> int:
    """Entry point: reads the job from stdin, writes the result to ``argv[1]``'s fd."""
    write_result(Job(**json.loads(sys.stdin.read())), int(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
