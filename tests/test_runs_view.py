"""P4's runs.json and its array companion: the report reads the same runs from either, and trusts only a match."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from grader import runs_view
from grader.content import load_content_module
from grader.reports import figures
from grader.sandbox.inside.chains import ChainBuilder

ROOT = Path(__file__).resolve().parents[1]
gd = load_content_module(ROOT / "rubrics" / "hw1" / "gd_runs.py")


def _stream() -> tuple[list, dict]:
    """Runs as the P4 suite gets them: a vectorized call, scalar runs, and a run that overflows to inf and nan."""
    builder = ChainBuilder()
    x = np.array([-4.0, 1.0, 8.0, 19.0])
    with np.errstate(all="ignore"):
        for _ in range(300):
            g = np.asarray(gd.fprime_starter(x), dtype=float)
            builder.feed(x.copy(), g)
            x = x - 0.01 * g
        for start, alpha, steps in ((3.0, 0.3, 100), (-2.0, 4.0, 60), (12.0, 4.0, 400)):
            y = start
            for _ in range(steps):
                g = float(gd.fprime_starter(y))
                builder.feed_scalar(y, g)
                y = y - alpha * g
    data = builder.runs_data()
    return gd.runs_from_stream(data, "fprime"), data


def _write(folder: Path, marks: list[bool] | None = None) -> tuple[object, list[bool]]:
    runs, data = _stream()
    doc = gd.runs_json(runs, data)
    written = gd.RunsFile(doc)
    marks = marks if marks is not None else [i % 3 == 0 for i in range(len(runs))]
    text = written.text(marks).encode("utf-8")
    (folder / "runs.json").write_bytes(text)
    (folder / runs_view.NAME).write_bytes(written.view(text, marks))
    return written, marks


def _plain(runs: list[dict]) -> list[dict]:
    """The runs with trajectories as lists of pairs and nan spelt out, for comparing."""
    def value(v):
        return "nan" if isinstance(v, float) and math.isnan(v) else (type(v).__name__, v)

    return [{**r, "trajectory": [(value(s), value(v)) for s, v in r["trajectory"]]} for r in runs]


def test_the_companion_says_what_runs_json_says(tmp_path):
    _write(tmp_path)
    from_view = figures._view_runs(tmp_path / figures.VIEW_NAME, (tmp_path / "runs.json").read_bytes())
    assert from_view is not None  # the report really reads the companion
    (tmp_path / "json").mkdir()
    shutil.copy(tmp_path / "runs.json", tmp_path / "json" / "runs.json")
    from_json = figures.load_runs(tmp_path / "json" / "runs.json")
    assert _plain(figures.load_runs(tmp_path / "runs.json")) == _plain(from_view) == _plain(from_json)
    assert any(r["last"] is None for r in from_json)  # the overflowed run (null in the JSON) is among them
    assert any(math.isnan(v) for r in from_json for _, v in r["trajectory"])
    assert figures.runs_plot(from_view) == figures.runs_plot(from_json)


@pytest.mark.parametrize("spoil", ["stale", "truncated", "garbage", "wrong-count"])
def test_a_companion_that_does_not_match_is_ignored(tmp_path, spoil):
    written, marks = _write(tmp_path)
    view = tmp_path / figures.VIEW_NAME
    if spoil == "stale":  # runs.json rewritten (other marks), the companion left from before
        flipped = [not m for m in marks]
        (tmp_path / "runs.json").write_bytes(written.text(flipped).encode("utf-8"))
    elif spoil == "truncated":
        view.write_bytes(view.read_bytes()[:-9])
    elif spoil == "garbage":
        view.write_bytes(b"\x00" * 300)
    else:
        line, _, body = view.read_bytes().partition(b"\n")
        view.write_bytes(line.replace(b'"runs":', b'"runs":1') + b"\n" + body)
    assert figures._view_runs(view, (tmp_path / "runs.json").read_bytes()) is None
    runs = figures.load_runs(tmp_path / "runs.json")
    expected = [not m for m in marks] if spoil == "stale" else marks
    assert [r["judged"] for r in runs] == expected
