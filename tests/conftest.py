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
def _zygote_launcher():
    from grader.sandbox.launcher import ZygoteLauncher

    proc, sock = ZygoteLauncher.spawn_zygote()
    yield ZygoteLauncher(sock)
    sock.close()
    proc.wait(timeout=30)


@pytest.fixture(autouse=True)
def _children_from_the_zygote(request, monkeypatch):
    """With GRADER_TEST_CHILD_LAUNCHER=zygote, every ChildSession a test builds forks from one zygote."""
    import os

    if os.environ.get("GRADER_TEST_CHILD_LAUNCHER") != "zygote":
        return
    launcher = request.getfixturevalue("_zygote_launcher")
    from grader.sandbox.session import ChildSession

    monkeypatch.setattr(ChildSession, "_launcher", lambda self: self.launcher or launcher)


def pytest_report_header(config):
    import os

    if os.environ.get("GRADER_TEST_CHILD_LAUNCHER") == "zygote":
        return "zygote launcher in use: every ChildSession forks from one pre-imported zygote"
    return None
