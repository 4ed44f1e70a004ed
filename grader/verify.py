"""``grade verify``: proves the rubric's references right before any student is graded.

Three kinds of rows, all of which must pass:

- **checks**: every module listed in the rubric's ``[assignment] checks``
  defines ``run_all()``, returning results with ``problem``, ``name``,
  ``passed`` and ``detail`` attributes (e.g. SymPy checks of a written proof);
- **reference**: the ``[assignment] reference`` folder, graded as a student,
  earns full marks on every autograded item, and every problem with
  ``answers`` finds a written reference answer there;
- **starter**: the ``[assignment] starter`` folder, graded as a student,
  earns 0 on every autograded item (the suite does not reward unchanged code).
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path

from grader.answers import find_answers
from grader.context import Context
from grader.exitcodes import ExitCode
from grader.grade import grade_all
from grader.models import StudentReport
from grader.rubric import Rubric
from grader.submission import Submission


@dataclass(frozen=True)
class VerifyRow:
    """One line of the verify table."""

    kind: str
    """``check``, ``reference`` or ``starter``."""

    problem: str
    """The problem the row is about."""

    name: str
    """The check's name or the item's id."""

    ok: bool
    """Whether the row meets its expectation."""

    detail: str
    """What was found (score, check detail, the failure)."""


def main(*, rubric: Rubric, ctx: Context, jobs: int = 1, out: Path | None = None) -> ExitCode:
    """Runs every reference check, grades reference and starter, prints a table.

    Args:
        rubric: the rubric whose references are verified.
        ctx: where the table goes.
        jobs: problems graded in parallel.
        out: where the reference's and starter's reports go (a temporary folder if None).

    Returns:
        ``ExitCode.OK`` when every row passes, else ``ExitCode.CHECK_FAILED``.
    """
    rows = run_checks(rubric)
    scratch = Path(tempfile.mkdtemp(prefix="grader-verify-", dir=ctx.tmp_root)) if out is None else out
    quiet = Context(stdout=_Null(), stderr=ctx.stderr, python=ctx.python, tmp_root=ctx.tmp_root,
                    keep_workdirs=ctx.keep_workdirs)
    try:
        # One batch for both, so the judge workers (and their zygotes) start once.
        folders = {"reference": rubric.reference, "starter": rubric.starter}
        graded = [Submission(name, folder) for name, folder in folders.items() if folder is not None]
        reports = {r.student: r for r in grade_all(graded, rubric, scratch, jobs, quiet, {})} if graded else {}
        rows += grade_reference(rubric, reports.get("reference"))
        rows += grade_starter(rubric, reports.get("starter"))
    finally:
        if out is None:
            shutil.rmtree(scratch, ignore_errors=True)
    ctx.say(table(rows))
    failed = [r for r in rows if not r.ok]
    if failed:
        ctx.say(f"\nverify FAILED: {len(failed)} of {len(rows)} row(s) failed.")
        return ExitCode.CHECK_FAILED
    ctx.say(f"\nverify passed: {len(rows)} row(s).")
    return ExitCode.OK


def run_checks(rubric: Rubric) -> list[VerifyRow]:
    """Runs ``run_all()`` of every check module; an exception is one failed row."""
    rows = []
    for path in rubric.checks:
        try:
            results = list(_load(path).run_all())
        except Exception as exc:  # noqa: BLE001 - a broken check module is a failed verify, not a crash
            last = traceback.extract_tb(exc.__traceback__)[-1]
            where = f"{Path(last.filename).name}:{last.lineno}"
            rows.append(VerifyRow("check", "-", path.name, False, f"{type(exc).__name__}: {exc} ({where})"))
            continue
        if not results:
            rows.append(VerifyRow("check", "-", path.name, False, "run_all() returned no checks"))
        for result in results:
            rows.append(VerifyRow(
                "check", str(getattr(result, "problem", "-")), str(getattr(result, "name", "?")),
                bool(getattr(result, "passed", False)), str(getattr(result, "detail", "")),
            ))
    return rows


def grade_reference(rubric: Rubric, report: StudentReport | None) -> list[VerifyRow]:
    """The reference (graded as ``report``) must earn full marks on every autograded item and hold every written answer."""
    if rubric.reference is None or report is None:
        return [VerifyRow("reference", "-", "-", False, "the rubric has no [assignment] reference folder")]
    rows = _item_rows("reference", rubric, report, lambda score, top: score == top, "expected full marks")
    for problem in rubric.problems:
        if problem.answers:
            found = find_answers(rubric.reference, problem, rubric)
            detail = ", ".join(a.file for a in found) or f"no file matching {', '.join(problem.answers)}"
            rows.append(VerifyRow("reference", problem.id, "written-answer", bool(found), detail))
    return rows


def grade_starter(rubric: Rubric, report: StudentReport | None) -> list[VerifyRow]:
    """The unchanged starter (graded as ``report``) must earn 0 on every autograded item."""
    if rubric.starter is None or report is None:
        return []  # an assignment without starter code: nothing to check
    return _item_rows("starter", rubric, report, lambda score, top: score == 0,
                      "expected 0: unchanged starter code must not earn points")


def _item_rows(kind: str, rubric: Rubric, report: StudentReport, expected, want: str) -> list[VerifyRow]:
    rows = []
    for problem, result in zip(rubric.problems, report.problems):
        scores = {i.id: i for i in result.items}
        for item in problem.items:
            if item.kind != "test":
                continue
            got = scores[item.id]
            detail = f"{got.score:g}/{got.max_score:g} {got.status.value}"
            if not expected(got.score, got.max_score):
                detail += f" ({want})" + (": " + got.feedback.splitlines()[0] if got.feedback else "")
            rows.append(VerifyRow(kind, problem.id, item.id, expected(got.score, got.max_score), detail))
    return rows


def table(rows: list[VerifyRow]) -> str:
    """The rows as a plain-text table (details cut to one line)."""
    header = ("kind", "problem", "name", "result", "detail")
    body = [(r.kind, r.problem, r.name, "ok" if r.ok else "FAIL", _one_line(r.detail)) for r in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(4)]
    lines = []
    for line in [header, *body]:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(line[:4], widths)) + "  " + line[4])
    lines.insert(1, "-" * min(120, len(lines[0])))
    return "\n".join(lines)


def _one_line(text: str, limit: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _load(path: Path):
    """Imports a check module from its file (its folder goes on sys.path for its own imports)."""
    name = f"_grader_checks_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses need the module registered while it executes
    added = str(path.parent) not in sys.path
    if added:
        sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
        if added:
            sys.path.remove(str(path.parent))
    if not callable(getattr(module, "run_all", None)):
        raise AttributeError(f"{path.name} defines no run_all()")
    return module


class _Null:
    """A text sink for the grading progress lines verify does not show."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        return None
