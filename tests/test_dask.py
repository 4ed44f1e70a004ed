"""Grading on a Dask cluster gives the same reports as grading here."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main

# Only looked up here: importing distributed costs ~0.4 s of CPU, paid by every xdist worker at
# collection, while one worker runs these tests (imported there, in the test).
if importlib.util.find_spec("distributed") is None:  # pragma: no cover - depends on the machine
    if os.environ.get("CI"):
        # CI installs the [test] extra (tests/run.sh): a skip there would hide the Dask path
        raise ImportError("the [dask] extra is not installed: distributed is missing")
    pytest.skip("the [dask] extra is not installed (bash tests/run.sh installs it)", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]

#: A representative part of the sample class (keeps the test fast): full marks, a wrong
#: answer, a crash, a dense matrix, missing files, a notebook, P4 styles, written answers.
SUBSET = [
    "colab_notebook", "conv_offbyone", "crash_at_import", "dense_circulant", "full_marks",
    "missing_files", "p4_separate_file", "p4_wrong_sign", "written_answers_pdf_md",
]

pytestmark = pytest.mark.slow

_MEASURED = re.compile(r"\d+(\.\d+)?")

#: Items whose feedback reports measurements of this run (resident memory, the size a guard
#: settled at, timings): their texts cannot be equal between two runs.
_MEASURED_TEXT = {"p5-no-dense", "p5-guard-shape", "p5-guard-memory", "p5-guard-process", "p5-growth"}


def _comparable(report: dict) -> dict:
    """The report with measured figures masked in texts; scores, statuses and everything else exact."""

    def mask(value):
        if isinstance(value, str):
            return _MEASURED.sub("#", value)
        if isinstance(value, list):
            return [mask(v) for v in value]
        if isinstance(value, dict):
            if value.get("id") in _MEASURED_TEXT:
                return {k: v for k, v in value.items() if k != "feedback"}
            return {k: (v if k in ("score", "max_score", "status", "pending_points") else mask(v))
                    for k, v in value.items()}
        return value

    return mask(report)


def test_reports_from_a_local_dask_cluster_equal_the_local_run(sample_class_graded, tmp_path):
    import distributed

    local_out, _ = sample_class_graded
    students = tmp_path / "class"
    for name in SUBSET:
        shutil.copytree(ROOT / "submissions" / name, students / name)
    out = tmp_path / "reports"
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    ) as cluster:
        result = CliRunner().invoke(main, [str(students), "--out", str(out), "--scheduler", cluster.scheduler_address,
                                           "--rubric", str(ROOT / "rubrics" / "hw1.toml")])
    assert result.exit_code == 0, result.output
    assert "on the Dask cluster at tcp://127.0.0.1:" in result.output
    for name in SUBSET:
        got = json.loads((out / name / "report.json").read_text(encoding="utf-8"))
        want = json.loads((local_out / name / "report.json").read_text(encoding="utf-8"))
        assert _comparable(got) == _comparable(want), name
        figures = sorted(p.relative_to(local_out / name).as_posix() for p in (local_out / name).rglob("*.png"))
        assert sorted(p.relative_to(out / name).as_posix() for p in (out / name).rglob("*.png")) == figures


def test_an_unreachable_scheduler_is_a_usage_error(tmp_path, monkeypatch):
    from grader import dask_grading

    # Port 9 refuses at once: the client only retries until this budget is spent (2 s was pure wait).
    monkeypatch.setattr(dask_grading, "CONNECT_SECONDS", 0.5)
    result = CliRunner().invoke(main, [str(ROOT / "submissions" / "full_marks"), "--out", str(tmp_path),
                                       "--scheduler", "tcp://127.0.0.1:9", "--rubric",
                                       str(ROOT / "rubrics" / "hw1.toml")])
    assert result.exit_code == 2, result.output
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.output
