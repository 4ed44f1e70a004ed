"""``report.json``: the machine-readable report (schema in docs/report-schema.md)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Sequence

from grader.models import SCHEMA_VERSION, StudentReport
from grader.sandbox.outside.confine import LAYERS


def report_to_dict(report: StudentReport) -> dict:
    """The report as the documented JSON structure."""
    return {
        "schema_version": SCHEMA_VERSION,
        "student": report.student,
        "assignment": report.assignment,
        "score": report.score,
        "max_score": report.max_score,
        "pending_points": report.pending_points,
        "warnings": list(report.warnings),
        "flags": list(report.flags),
        "sandbox": sandbox_metadata(report.sandbox),
        "problems": [
            {
                "id": p.id,
                "title": p.title,
                "score": p.score,
                "max_score": p.max_score,
                "files": list(p.files),
                "notes": list(p.notes),
                "flags": list(p.flags),
                "answers": [dataclasses.asdict(a) for a in p.answers],
                "items": [
                    {
                        "id": i.id,
                        "description": i.description,
                        "score": i.score,
                        "max_score": i.max_score,
                        "status": i.status.value,
                        "feedback": i.feedback,
                        "visibility": i.visibility,
                    }
                    for i in p.items
                ],
            }
            for p in report.problems
        ],
    }


def sandbox_metadata(layers: tuple[str, ...]) -> dict:
    """Which isolation layers confined the student's code, and which were missing."""
    return {"layers": list(layers), "missing": [layer for layer in LAYERS if layer not in layers]}


class JsonReport:
    """Writes ``<student>/report.json``."""

    def write_student(self, report: StudentReport, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(report_to_dict(report), indent=2, ensure_ascii=False)
        (folder / "report.json").write_text(text + "\n", encoding="utf-8")

    def write_class(self, reports: Sequence[StudentReport], out: Path) -> None:
        return None
