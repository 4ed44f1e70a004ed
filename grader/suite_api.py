"""What a rubric's pytest suite sees: the ``student``, ``credit`` and ``note`` fixtures.

Suites live in ``rubrics/`` (course content) and never import student code.
They reach it through ``student``::

    def test_forward(student):
        conv = student.module()                 # the problem's file, loaded in the child
        A = conv.Convolution1d(np.ones(3))      # a proxy; __init__ ran in the child
        assert np.allclose(A @ x, expected)     # __matmul__ ran in the child

``credit(fraction)`` gives partial credit for the current test,
``note(text)`` adds a line of feedback shown whatever the outcome, and
``flag(reason)`` asks a TA to review the submission (shown in the gradebook).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from grader.sandbox.outside.remote import Remote, unwrap, wrap
from grader.sandbox.outside.session import ChildSession


@dataclass
class StudentHandle:
    """The suite's door to one student's submission for one problem."""

    session: ChildSession
    """The child session (for plugin ops: ``student.request({...})``)."""

    files: list[str]
    """The problem's files, by the names the rubric gives them."""

    student_id: str
    """The student's id (folder name)."""

    problem_id: str
    """The rubric's problem id."""

    reference_dir: Path | None = None
    """The assignment's reference folder, for suites that compare with it."""

    load_notes: list[str] = field(default_factory=list)
    """Notes gathered while loading (for the report)."""

    artifacts_dir: Path | None = None
    """A folder whose files end up in the student's report folder for this problem (figures, tables)."""

    cache: dict = field(default_factory=dict)
    """Per-student memo, so several tests can share one expensive observation."""

    def module(self, path: str | None = None, required: tuple[str, ...] | list[str] = (), mode: str = "auto") -> Remote:
        """Loads a student file in the child and returns a proxy of the module.

        Args:
            path: one of the problem's files; defaults to the first.
            required: names the suite needs; the whole file runs if the
                definitions alone do not provide them.
            mode: ``auto``, ``definitions`` or ``full``.

        Raises:
            StudentError: the file did not load (syntax error, exception, exit).
        """
        path = path or self.files[0]
        info = self.session.load(path, list(required), mode)
        for text in info.get("notes", []):
            if text not in self.load_notes:
                self.load_notes.append(text)
        return wrap(self.session, info["module"])

    def request(self, message: dict) -> Any:
        """Sends a raw request (for ops that child plugins registered).

        Proxies anywhere in ``message`` travel as their handles, so a plugin op
        can be given the student's objects (``{"module": student.module()}``);
        handles in the answer come back as proxies.
        """
        return wrap(self.session, self.session.request(unwrap(message)))


@dataclass
class TestRecord:
    """What a test recorded about itself while it ran."""

    credit: float | None = None
    """Partial credit in [0, 1] set by the test, or None for pass/fail."""

    notes: list[str] = field(default_factory=list)
    """Feedback lines added with ``note()``."""

    flags: list[str] = field(default_factory=list)
    """Reasons to ask a TA to look, added with ``flag()``."""


def make_credit(record: TestRecord) -> Callable[[float], None]:
    """Builds the ``credit`` callable bound to one test's record."""

    def credit(fraction: float) -> None:
        if not 0.0 <= float(fraction) <= 1.0:
            raise ValueError(f"credit must be within [0, 1], got {fraction}")
        record.credit = float(fraction)

    return credit


def make_note(record: TestRecord) -> Callable[[str], None]:
    """Builds the ``note`` callable bound to one test's record."""
    return lambda text: record.notes.append(str(text))


def make_flag(record: TestRecord) -> Callable[[str], None]:
    """Builds the ``flag`` callable: asks a TA to review, with the reason."""
    return lambda reason: record.flags.append(str(reason))
