"""What the grader sends a judge: one (student, problem) job, as plain data.

Apart from :mod:`grader.judge` so the grader's own process can describe a job
without importing what the judge runs (pytest, numpy, the sandbox session).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field


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
    # The fields as they are: asdict() would deep-copy every list only to have it written.
    return json.dumps(vars(job))
