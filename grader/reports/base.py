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
