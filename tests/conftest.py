"""Fixtures shared by test files: the sample class graded once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def sample_class_graded(tmp_path_factory):
    """``grade submissions/`` run once, locally, as a TA would: (reports folder, the command's output)."""
    from grader.cli import main

    out = tmp_path_factory.mktemp("reports")
    result = CliRunner().invoke(
        main, [str(ROOT / "submissions"), "--out", str(out), "--rubric", str(ROOT / "rubrics" / "hw1.toml")]
    )
    assert result.exit_code == 0, result.output
    return out, result.output


@pytest.fixture(scope="session")
def seed_from_class_run(sample_class_graded):
    """Copies the class run's cache entries and report folders of some students into a new reports folder.

    For tests that need those students graded into a folder of their own (the HTML pages of a
    two-student class) but test what is written from the results, not the grading: ``grade``
    into that folder then serves every problem from the cache, exactly as a TA's regrade does.
    Usage: ``seed_from_class_run(["full_marks"], out)``.
    """
    import shutil

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
