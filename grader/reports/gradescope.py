"""``<student>/results.json`` in Gradescope's autograder format, for CI on Gradescope.

One Gradescope test per autograded item; manual items are left out because
Gradescope grades those in its own rubric. Hidden items are shown after the
grades are published.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from grader.models import Status, StudentReport


def to_gradescope(report: StudentReport) -> dict:
    """The report as Gradescope's results.json structure."""
    tests = []
    for problem in report.problems:
        for item in problem.items:
            if item.status is Status.PENDING:
                continue
            tests.append(
                {
                    "name": f"{problem.id} {item.id}: {item.description}",
                    "score": item.score,
                    "max_score": item.max_score,
                    "status": "passed" if item.status is Status.PASSED else "failed",
                    "output": item.feedback,
                    "visibility": "after_published" if item.visibility == "hidden" else "visible",
                }
            )
    return {
        "score": round(sum(t["score"] for t in tests), 6),
        "output": "Autograded items only; proofs (P1-P3) are graded by hand.",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


class GradescopeResults:
    """Writes ``<student>/results.json``."""

    def write_student(self, report: StudentReport, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(to_gradescope(report), indent=2, ensure_ascii=False)
        (folder / "results.json").write_text(text + "\n", encoding="utf-8")

    def write_class(self, reports: Sequence[StudentReport], out: Path) -> None:
        return None
