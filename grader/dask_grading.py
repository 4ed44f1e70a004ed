"""Grading on a Dask cluster (``grade PATH --scheduler tcp://HOST:8786``; extra ``[dask]``).

Each (student, problem) is one Dask task. The task carries the student's
files as bytes, the rubric's path and the digest of the course content the
client graded with; the Dask worker writes the files into a temporary folder
and grades them exactly as a local run does: through its own pool of
pre-imported judge workers (one per Dask thread, started by a
:class:`JudgeWorkers` worker plugin) and the same sandbox. It returns the
result as plain data, with the files the grading left in the student's
report folder (figures, a failed judge's log). The client keeps the cache and
writes the reports, so they are the same as a local run's.

Every Dask worker needs the grader and the course content (rubric, suites,
reference) at the same paths as the client, as with any Dask deployment
sharing one environment; a worker whose course content differs refuses the
task with a message that says so.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

from grader.cache import result_from_dict, tree_digest
from grader.context import Context
from grader.judge_pool import JudgePool, suite_helpers
from grader.models import ManualScore, ProblemResult
from grader.rubric import Problem, Rubric, load_rubric
from grader.runner import grade_problem
from grader.submission import Submission

try:
    from distributed import WorkerPlugin
except ImportError:  # the [dask] extra is not installed: DaskGrader says so
    WorkerPlugin = object

PLUGIN_NAME = "mfdnn-grader-judges"

#: Seconds to wait for the scheduler to answer.
CONNECT_SECONDS = 20.0

#: Files larger than this are not shipped to the workers (the working copy skips them too).
MAX_SHIPPED_FILE = 20 * 1024 * 1024
_SKIPPED_DIRS = {"__pycache__", ".git", ".ipynb_checkpoints"}


class DaskSchedulerError(Exception):
    """The Dask scheduler cannot be used (extra not installed, unreachable)."""


def content_digest(rubric: Rubric) -> str:
    """The digest of what decides grading besides the student's files: rubric, suites, reference."""
    suites = sorted({p.suite.parent for p in rubric.problems if p.suite})
    plugins = sorted({Path(x) for p in rubric.problems for x in p.plugins})
    reference = [rubric.reference] if rubric.reference else []
    return tree_digest([rubric.path, *suites, *plugins, *reference])


class JudgeWorkers(WorkerPlugin):
    """Dask worker plugin: a pool of pre-imported judge workers, one per Dask thread of the worker."""

    name = PLUGIN_NAME

    def __init__(self, preload: list[str]) -> None:
        self.preload = preload
        self.pool: JudgePool | None = None
        self.tmp: tempfile.TemporaryDirectory | None = None
        self.rubrics: dict[str, Rubric] = {}

    def setup(self, worker) -> None:
        nthreads = getattr(getattr(worker, "state", None), "nthreads", None) or getattr(worker, "nthreads", 1)
        self.tmp = tempfile.TemporaryDirectory(prefix="grader-dask-")
        self.pool = JudgePool(nthreads, sys.executable, Path(self.tmp.name) / "workers", preload=self.preload)

    def teardown(self, worker) -> None:
        if self.pool is not None:
            self.pool.close()
        if self.tmp is not None:
            self.tmp.cleanup()


def _student_files(folder: Path) -> dict[str, str]:
    files = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not _SKIPPED_DIRS.intersection(rel.parts) and path.stat().st_size <= MAX_SHIPPED_FILE:
            files[rel.as_posix()] = base64.b64encode(path.read_bytes()).decode("ascii")
    return files


def grade_task(payload: dict) -> dict:
    """Runs on a Dask worker: grades one (student, problem) and returns plain data."""
    from distributed import get_worker

    plugin: JudgeWorkers = get_worker().plugins[PLUGIN_NAME]
    rubric = plugin.rubrics.get(payload["rubric"])
    if rubric is None:
        rubric = plugin.rubrics.setdefault(payload["rubric"], load_rubric(Path(payload["rubric"])))
    if content_digest(rubric) != payload["content"]:
        raise RuntimeError(
            f"this Dask worker's course content (rubric {payload['rubric']}, its suites and reference) "
            "differs from the client's: install the same checkout on every worker"
        )
    problem = next(p for p in rubric.problems if p.id == payload["problem"])
    manual = {k: ManualScore(**v) for k, v in payload["manual"].items()}
    with tempfile.TemporaryDirectory(prefix="grader-task-") as tmp:
        folder = Path(tmp) / "submission" / payload["student"]
        for rel, data in payload["files"].items():
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(base64.b64decode(data))
        folder.mkdir(parents=True, exist_ok=True)
        report_dir = Path(tmp) / "report"
        ctx = Context(stdout=sys.stdout, stderr=sys.stderr, tmp_root=Path(tmp))
        result = grade_problem(
            Submission(payload["student"], folder), problem, rubric, Path(tmp) / "work", report_dir, ctx,
            manual, plugin.pool,
        )
        left = {
            p.relative_to(report_dir).as_posix(): base64.b64encode(p.read_bytes()).decode("ascii")
            for p in sorted(report_dir.rglob("*")) if p.is_file()
        } if report_dir.is_dir() else {}
    # Plain JSON data back, like every other boundary of the grader.
    return {"result": json.loads(json.dumps(dataclasses.asdict(result))), "files": left}


class DaskGrader:
    """Client side: sends (student, problem) jobs to the cluster at ``address``.

    Used as a context manager; :meth:`grade` blocks until its task is done,
    so the caller's thread pool (:attr:`threads` threads, the cluster's
    total) keeps every Dask thread busy.
    """

    def __init__(self, address: str, rubric: Rubric) -> None:
        try:
            from distributed import Client
        except ImportError as exc:
            raise DaskSchedulerError(
                "--scheduler needs the Dask extra: pip install -e \".[dask]\""
            ) from exc
        try:
            self._client = Client(address, timeout=CONNECT_SECONDS)
        except (OSError, TimeoutError) as exc:
            raise DaskSchedulerError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
        self._client.register_plugin(JudgeWorkers(suite_helpers(rubric.problems)), name=PLUGIN_NAME)
        self._rubric = rubric
        self._content = content_digest(rubric)
        self.threads = max(1, sum(self._client.nthreads().values()))

    def grade(self, submission: Submission, problem: Problem, manual: dict[str, ManualScore] | None,
              report_dir: Path) -> ProblemResult:
        """Grades one job on the cluster and writes the files it left into ``report_dir``."""
        payload = {
            "student": submission.student,
            "problem": problem.id,
            "rubric": str(self._rubric.path.resolve()),
            "content": self._content,
            "manual": {k: dataclasses.asdict(v) for k, v in (manual or {}).items()},
            "files": _student_files(submission.folder),
        }
        # pure=False: a regrade (--no-cache) must run again, not reuse Dask's memory of the task.
        answer = self._client.submit(grade_task, payload, pure=False).result()
        for rel, data in answer["files"].items():
            target = report_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(base64.b64decode(data))
        return result_from_dict(answer["result"])

    def close(self) -> None:
        """Disconnects from the cluster (the cluster and its workers stay up)."""
        self._client.close()

    def __enter__(self) -> "DaskGrader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
