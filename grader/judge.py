"""The judge: runs one problem's suite against one student, in its own process.

The grader forks it from a pre-imported worker (:mod:`grader.judge_worker`);
``python -m grader.judge RESULT_FD`` with a :class:`Job` as JSON on stdin
runs the same judge in a fresh interpreter. The judge runs the rubric's pytest suite (in a
worker's fork, the items the worker already collected, :mod:`grader.judge_suites`;
otherwise ``pytest.main``); the suite reaches the
student's code only through the child that :class:`ChildSession` starts, so
student code can neither see nor patch the assertions. The outcomes go back as
one JSON document on ``RESULT_FD``, a pipe only the grader and the judge hold.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

import pytest

# The job's description lives apart so the grader's process can build one without importing pytest.
from grader.job import Job, job_to_json  # noqa: F401  (re-exported)
from grader.judge_suites import PreparedSuite, pytest_args
from grader.pytest_plugin import GradingPlugin
from grader.sandbox.outside.launcher import ZygoteLauncher
from grader.sandbox.outside.session import ChildSession, Limits
from grader.suite_api import StudentHandle


def run(job: Job, prepared: PreparedSuite | None = None) -> dict:
    """Runs the suite for one job and returns the plain-data result.

    ``prepared``: the suite as the judge worker configured and collected it; its
    items then run in this process. Without it (or for another suite, or one whose
    files changed since), the judge runs ``pytest.main`` on the suite.
    """
    scratch = Path(job.scratch)
    session = ChildSession(
        workdir=Path(job.workdir),
        limits=Limits(wall_seconds=job.wall_seconds, memory_bytes=job.memory_bytes),
        scratch=scratch / "child",
        plugins=[(p, o) for p, o in job.plugins],
        artifacts=scratch / "artifacts",
        launcher=(ZygoteLauncher(socket.socket(fileno=job.zygote_fd), plugins=[p for p, _ in job.plugins])
                  if job.zygote_fd is not None else None),
    )
    handle = StudentHandle(
        session=session,
        files=job.files,
        student_id=job.student_id,
        problem_id=job.problem_id,
        reference_dir=Path(job.reference_dir) if job.reference_dir else None,
        artifacts_dir=scratch / "artifacts",
    )
    if prepared is not None and (prepared.suite != job.suite or not prepared.current()):
        prepared.forget()
        prepared = None
    plugin = prepared.plugin if prepared is not None else GradingPlugin(handle, set(job.tests))
    try:
        if prepared is not None:
            exit_code = prepared.run(handle, set(job.tests))
        else:
            exit_code = pytest.main(pytest_args(job.suite), plugins=[plugin])
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


def write_result(job: Job, result_fd: int, prepared: PreparedSuite | None = None) -> None:
    """Runs the job and writes its result as one JSON document to ``result_fd`` (then closes it)."""
    # json.dumps, not json.dump: dump encodes in Python, chunk by chunk; dumps in C, the same text.
    text = json.dumps(run(job, prepared))
    with os.fdopen(result_fd, "w", encoding="utf-8") as channel:
        channel.write(text)


def main(argv: list[str]) -> int:
    """Entry point: reads the job from stdin, writes the result to ``argv[1]``'s fd."""
    write_result(Job(**json.loads(sys.stdin.read())), int(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
