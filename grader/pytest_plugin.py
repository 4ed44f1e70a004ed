"""The pytest plugin the judge runs a rubric's suite with.

It provides the suite's fixtures (:mod:`grader.suite_api`), keeps only the
tests the rubric names, and turns each test's report into a plain outcome:
``passed``, ``failed`` (an assertion about the student's answer), ``error``
(the student's code raised or crashed), ``timeout`` or ``skipped``.
"""

from __future__ import annotations

import pytest

from grader.sandbox.outside.session import GraderError, StudentError, StudentTimeout
from grader.suite_api import StudentHandle, TestRecord, make_credit, make_flag, make_note

#: Longest failure message kept per test, so one verbose assertion cannot bloat a report.
_MAX_MESSAGE = 2000


class GradingPlugin:
    """Registered with ``pytest.main(plugins=[...])`` by the judge.

    A judge worker's prepared suite (:mod:`grader.judge_suites`) creates it unbound
    (``None``, ``None``: collection keeps every item) and each forked judge calls
    :meth:`bind` and :meth:`select`.

    Args:
        handle: the student handle given to the ``student`` fixture.
        tests: test function names the rubric asks for; others are deselected (None: keep all).
    """

    def __init__(self, handle: StudentHandle | None, tests: set[str] | None):
        self.handle = handle
        self.tests = tests
        self.records: dict[str, TestRecord] = {}
        self.outcomes: list[dict] = []
        self._by_nodeid: dict[str, dict] = {}
        self._running: str | None = None

    def bind(self, handle: StudentHandle, tests: set[str]) -> None:
        """Gives a prepared suite's plugin its job's student and tests (in the forked judge)."""
        self.handle = handle
        self.tests = tests

    # -- fixtures -------------------------------------------------------
    # Session-scoped: a judge's session is one job, whose handle never changes, and this
    # fixture has no teardown; as a function fixture it was set up and torn down again for
    # every test (a fixture execution, a hook call and a finalizer each time).
    @pytest.fixture(scope="session")
    def student(self) -> StudentHandle:
        return self.handle

    # These take the running test from pytest_runtest_logstart, not from the ``request``
    # fixture: pytest builds a fresh FixtureDef for ``request`` each time a fixture asks
    # for it (with an inspect.signature of its own), three times per test.
    @pytest.fixture
    def credit(self):
        return make_credit(self._record(self._running))

    @pytest.fixture
    def note(self):
        return make_note(self._record(self._running))

    @pytest.fixture
    def flag(self):
        return make_flag(self._record(self._running))

    def pytest_runtest_logstart(self, nodeid, location):
        # Called as each test's protocol starts, before its setup: the node id its
        # function-scoped fixtures (credit, note, flag) belong to.
        self._running = nodeid

    def _record(self, nodeid: str | None) -> TestRecord:
        return self.records.setdefault(nodeid, TestRecord())

    # -- selection ------------------------------------------------------
    def pytest_collection_modifyitems(self, config, items):
        if self.tests is not None:
            items[:] = self.select(items, config)

    def select(self, items: list, config) -> list:
        """The items this job's tests name, in order; the others are reported deselected."""
        keep = [item for item in items if _function_name(item) in self.tests]
        drop = [item for item in items if _function_name(item) not in self.tests]
        if drop:
            config.hook.pytest_deselected(items=drop)
        return keep

    # -- outcomes -------------------------------------------------------
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        if report.when == "call" or report.outcome != "passed":
            report.grader_status, report.grader_message = _classify(report, call)
            report.grader_internal = _is_internal(report, call)
            report.grader_test = _function_name(item)
            report.grader_case = item.callspec.id if hasattr(item, "callspec") else ""

    def pytest_runtest_logreport(self, report):
        status = getattr(report, "grader_status", None)
        if status is None:
            return
        existing = self._by_nodeid.get(report.nodeid)
        if existing is not None:
            # A teardown error after a result: keep the first, more useful, verdict.
            return
        record = self.records.get(report.nodeid, TestRecord())
        if status == "passed":
            credit = 1.0 if record.credit is None else record.credit
        else:
            credit = record.credit or 0.0
        entry = {
            "nodeid": report.nodeid,
            "test": report.grader_test,
            "case": report.grader_case,
            "status": status,
            "credit": credit,
            "message": report.grader_message,
            "notes": list(record.notes),
            "flags": list(record.flags) + (
                [f"the grader's check {report.grader_test} failed unexpectedly; its score may be wrong"]
                if getattr(report, "grader_internal", False) else []
            ),
            "duration": round(report.duration, 4),
        }
        self._by_nodeid[report.nodeid] = entry
        self.outcomes.append(entry)


def _function_name(item) -> str:
    return getattr(item, "originalname", None) or item.name.split("[")[0]


def _classify(report, call) -> tuple[str, str]:
    if report.outcome == "passed":
        return "passed", ""
    if report.outcome == "skipped":
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        return "skipped", reason.removeprefix("Skipped: ")
    exc = call.excinfo.value if call.excinfo is not None else None
    if isinstance(exc, StudentTimeout):
        return "timeout", str(exc)
    if isinstance(exc, StudentError):
        return "error", str(exc)[:_MAX_MESSAGE]
    if isinstance(exc, AssertionError):
        return "failed", _assertion_message(exc)
    if isinstance(exc, GraderError):
        return "error", f"grader could not run this check: {exc}"[:_MAX_MESSAGE]
    text = f"{type(exc).__name__}: {exc}" if exc is not None else str(report.longrepr)
    return "error", f"the check failed unexpectedly ({text})"[:_MAX_MESSAGE]


def _is_internal(report, call) -> bool:
    """Whether the check itself broke (a suite bug), as opposed to the student's code or answer."""
    if report.outcome != "failed" or call.excinfo is None:
        return False
    return not isinstance(call.excinfo.value, (StudentTimeout, StudentError, AssertionError))


def _assertion_message(exc: AssertionError) -> str:
    # pytest appends its introspection ("assert False ...") to a custom
    # message; the student needs the custom message, not the suite's code.
    text = str(exc)
    custom = text.split("\nassert ")[0].strip()
    return (custom or text or "assertion failed")[:_MAX_MESSAGE]
