"""The contract every report writer follows."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, Sequence

from grader.models import StudentReport


class ReportWriter(Protocol):
    """Writes one kind of report. Writers are listed explicitly in :data:`grader.reports.WRITERS`."""

    def write_student(self, report: StudentReport, folder: Path) -> None:
        """Writes the per-student output into ``folder`` (``<out>/<student>/``)."""

    def write_class(self, reports: Sequence[StudentReport], out: Path) -> None:
        """Writes the class-level output into ``out`` once all students are graded."""


def points(value: float) -> str:
    """Points as people read them: rounded to 2 decimals, no trailing zeros (14.8333 → ``14.83``, 12.0 → ``12``).

    Tables, Markdown and the gradebook use it; the JSON reports keep the exact value.
    """
    text = f"{round(float(value), 2):.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
