"""Fixtures shared by test files (the sample class graded once per test run), and how the run is spread.

``bash tests/run.sh`` runs the suite in two pytest-xdist workers (``--dist loadgroup``). Each
worker has a pytest session of its own, so this file makes sure that what is expensive is still
computed once per run:

* the sample class is graded once for the whole run, by whichever worker first needs it
  (:func:`once_per_run`); the other worker waits for it and reads the same folder;
* the tests of a module that share a module- or class-scoped fixture go to one worker together
  (an ``xdist_group`` named after the module), so that fixture is built once;
* the tests known to take longest are handed out first (:data:`LONG_FIRST`), so that neither
  worker is left with a long test at the end while the other has nothing to do.

Without xdist (``python -m pytest tests/test_x.py``) all of this is a no-op.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]

#: Node-id prefixes handed out first, in this order: the longest tests (or module groups) of the
#: suite (``--durations``), so that the run's tail is made of short tests. Anything not listed
#: keeps pytest's order after these. The sample class run comes first: several files read it.
LONG_FIRST = (
    "tests/test_sample_class.py",
    "tests/test_redteam.py",
    "tests/test_p5_batch.py",
    "tests/test_verify.py::test_verify_passes_on_the_hw1_rubric",
    "tests/test_judge_suites.py",
    "tests/test_judge_pool.py::test_deadline_kills",
    "tests/test_cache.py",
    "tests/test_sample_exports.py",
    "tests/test_integrations.py",
    "tests/test_p4.py::test_script_past_the_time_limit",
    "tests/test_p4.py::test_a_script_that_swallows_the_stop",
    "tests/test_similarity.py",
    "tests/test_dense_ban.py",  # one group of ~12 s of CPU (its module fixture)
    "tests/test_reference_sympy.py",  # one group of ~5 s (its module fixture)
    "tests/test_verify.py",
    "tests/test_judge_pool.py",
    # These read the class run: by the time a worker reaches them it is (nearly) done.
    "tests/test_dask.py::test_reports_from_a_local_dask_cluster_equal_the_local_run",
    "tests/test_load_invariance.py",
    "tests/test_browser.py",
    "tests/test_p4.py::test_p4_sample_student_items",
)


def _rank(nodeid: str) -> int:
    for rank, prefix in enumerate(LONG_FIRST):
        if nodeid.startswith(prefix):
            return rank
    return len(LONG_FIRST)


def _shares_a_module_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(defs and defs[-1].scope in ("module", "class", "package")
               for defs in info.name2fixturedefs.values())


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the xdist_group marks
def pytest_collection_modifyitems(config, items):
    modules_with_shared_fixtures = {item.module.__name__ for item in items
                                    if hasattr(item, "module") and _shares_a_module_fixture(item)}
    for item in items:
        module = getattr(item, "module", None)
        if module is not None and module.__name__ in modules_with_shared_fixtures:
            item.add_marker(pytest.mark.xdist_group(module.__name__))
    # A stable sort: every worker collects the same order, as xdist requires.
    items.sort(key=lambda item: _rank(item.nodeid))


def once_per_run(tmp_path_factory, name: str, compute):
    """``compute(folder)`` run once per test run, even across xdist workers: (folder, its JSON result).

    Under xdist the first worker to get here takes a lock on a file in the folder that all
    workers of this run share (the parent of each worker's base temp folder) and computes into
    ``<that folder>/<name>/``; the others wait on the lock and then read the recorded result. A
    failure is recorded too, so the other worker fails at once with the same message instead of
    computing it all again. Callers must treat the folder as read-only: other tests read it.
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.mktemp(name)
        return folder, compute(folder)
    shared = tmp_path_factory.getbasetemp().parent
    folder, record = shared / name, shared / f"{name}.json"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this worker dies
        if not record.exists():
            shutil.rmtree(folder, ignore_errors=True)  # left by a worker that died mid-way
            folder.mkdir()
            try:
                value = {"ok": compute(folder)}
            except BaseException as exc:
                value = {"failed": f"{type(exc).__name__}: {exc}"}
                record.write_text(json.dumps(value), encoding="utf-8")
                raise
            record.write_text(json.dumps(value), encoding="utf-8")
    value = json.loads(record.read_text(encoding="utf-8"))
    if "failed" in value:
        pytest.fail(f"{name}, computed by another worker of this run, failed: {value['failed']}", pytrace=False)
    return folder, value["ok"]


@pytest.fixture(scope="session")
def sample_class_graded(tmp_path_factory):
    """``grade submissions/`` run once, locally, as a TA would: (reports folder, the command's output).

    Once per test run (:func:`once_per_run`): the folder is shared, so tests only read it.
    """
    from grader.cli import main

    def grade_the_class(out: Path) -> str:
        result = CliRunner().invoke(
            main, [str(ROOT / "submissions"), "--out", str(out), "--rubric", str(ROOT / "rubrics" / "hw1.toml")]
        )
        assert result.exit_code == 0, result.output
        return result.output

    return once_per_run(tmp_path_factory, "sample-class", grade_the_class)


@pytest.fixture(scope="session")
def seed_from_class_run(sample_class_graded):
    """Copies the class run's cache entries and report folders of some students into a new reports folder.

    For tests that need those students graded into a folder of their own (the HTML pages of a
    two-student class) but test what is written from the results, not the grading: ``grade``
    into that folder then serves every problem from the cache, exactly as a TA's regrade does.
    Usage: ``seed_from_class_run(["full_marks"], out)``.
    """
    graded, _ = sample_class_graded

    def seed(students, out: Path) -> None:
        for student in students:
            shutil.copytree(graded / ".cache" / student, out / ".cache" / student)
            shutil.copytree(graded / student, out / student)

    return seed


@pytest.fixture(scope="session")
def zygote_launcher():
    """One child zygote for the test session (as each judge worker keeps one)."""
    from grader.sandbox.outside.launcher import ZygoteLauncher

    proc, sock = ZygoteLauncher.spawn_zygote()
    launcher = ZygoteLauncher(sock)
    launcher.zygote_pid = proc.pid
    yield launcher
    sock.close()
    proc.wait(timeout=30)


@pytest.fixture(autouse=True)
def _children_from_the_zygote(request, monkeypatch):
    """Every ChildSession a test builds without a launcher forks from the session's zygote, as in grading.

    ``GRADER_TEST_CHILD_LAUNCHER=exec`` runs them as fresh ``python -I child.py`` instead.
    """
    import os

    if os.environ.get("GRADER_TEST_CHILD_LAUNCHER") == "exec":
        return
    launcher = request.getfixturevalue("zygote_launcher")
    from grader.sandbox.outside.session import ChildSession

    monkeypatch.setattr(ChildSession, "_launcher", lambda self: self.launcher or launcher)
