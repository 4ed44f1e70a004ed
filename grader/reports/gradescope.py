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
    for p_index, problem in enumerate(report.problems, 1):
        for i_index, item in enumerate(problem.items, 1):
            if item.status is Status.PENDING:
                continue
            tests.append(
                {
                    "name": f"{problem.id} {item.id}: {item.description}",
                    "number": f"{p_index}.{i_index}",
                    "tags": [problem.id],
                    "score": item.score,
                    "max_score": item.max_score,
                    "status": "passed" if item.status is Status.PASSED else "failed",
                    "output": item.feedback,
                    "visibility": "after_published" if item.visibility == "hidden" else "visible",
                }
            )
    return {
        "score": round(sum(t["score"] for t in tests), 6),
        "output": "Autograded items only; written answers are graded by hand.",
        "visibility": "visible",
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
