"""Pictures for the HTML reports, as ``data:`` URIs so each page stays one self-contained file.

* the student's own figures: embedded only when their bytes really are PNG or
  JPEG (a file named ``plot.png`` holding HTML or SVG is not shown);
* Problem 4's observed runs (``runs.json``, written by the P4 suite): the
  iterate against the step for every run, one panel per α, coloured by where
  the run ended;
* the class summary's histogram of totals and per-item pass-rate chart.

Charts use matplotlib's Agg canvas without pyplot (no display, no global state, no network).
"""

from __future__ import annotations

import base64
import io
import json
import math
from pathlib import Path
from typing import Sequence

#: PNG and JPEG file signatures.
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"

#: Largest student image embedded (bytes); a bigger one is listed, not embedded.
MAX_IMAGE_BYTES = 4_000_000

#: At most this many runs and points per run are drawn (a huge runs.json must not stall a batch).
MAX_RUNS = 400
MAX_POINTS_PER_RUN = 2000

#: Colour per P4 outcome (where the run ended).
OUTCOME_COLOURS = {"wide": "#2ca02c", "sharp": "#ff7f0e", "diverged": "#d62728", "other": "#7f7f7f"}

#: Iterates beyond these bounds are drawn at the bound (diverged runs reach 1e300).
Y_CLIP = (-10.0, 25.0)


def image_data_uri(path: Path) -> str | None:
    """``data:image/png;base64,…`` for a real PNG or JPEG file, else None (wrong bytes, too big, unreadable)."""
    try:
        if not path.is_file() or path.is_symlink() or path.stat().st_size > MAX_IMAGE_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if data.startswith(PNG_MAGIC):
        mime = "image/png"
    elif data.startswith(JPEG_MAGIC):
        mime = "image/jpeg"
    else:
        return None
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def load_runs(path: Path) -> list[dict] | None:
    """The runs of a ``runs.json`` (schema 1), keeping only well-formed ones; None if absent or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("schema") != 1 or not isinstance(data.get("runs"), list):
        return None
    runs = []
    for run in data["runs"][:MAX_RUNS]:
        if not isinstance(run, dict) or not _is_number(run.get("alpha")):
            continue
        # JSON cannot hold inf or nan: the suite writes null for an iterate that overflowed (drawn at the edge).
        trajectory = [
            (float(p[0]), float("nan") if p[1] is None else float(p[1])) for p in run.get("trajectory") or ()
            if isinstance(p, (list, tuple)) and len(p) == 2 and _is_number(p[0])
            and (p[1] is None or _is_number(p[1], finite=False))
        ]
        outcome = run.get("outcome") if run.get("outcome") in OUTCOME_COLOURS else "other"
        runs.append({
            "alpha": float(f"{float(run['alpha']):.6g}"),  # one panel per α, as the suite groups them
            "start": _number_or_none(run.get("start")),
            "last": _number_or_none(run.get("last")),
            "steps": int(run["steps"]) if _is_number(run.get("steps")) else None,
            "outcome": outcome,
            "group": str(run.get("group", "")),
            "judged": bool(run.get("judged", False)),
            "trajectory": trajectory,
        })
    return runs


def runs_plot(runs: Sequence[dict]) -> str | None:
    """The P4 chains per α (iterate against step), coloured by outcome, as a PNG data URI (None: nothing to draw)."""
    from matplotlib.collections import LineCollection

    drawable = [r for r in runs if r["trajectory"]]
    if not drawable:
        return None
    alphas = sorted({r["alpha"] for r in drawable})
    cols = min(3, len(alphas))
    rows = math.ceil(len(alphas) / cols)
    fig = _figure((4.2 * cols, 3.2 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, alpha in zip(axes.flat, alphas):
        # One LineCollection per outcome, not one Line2D per run: a class's reports draw
        # thousands of runs in the grader's process, and per-artist cost dominated a batch.
        lines: dict[str, list] = {}
        for run in (r for r in drawable if r["alpha"] == alpha):
            points = run["trajectory"]
            if len(points) > MAX_POINTS_PER_RUN:
                stride = math.ceil(len(points) / MAX_POINTS_PER_RUN)
                points = points[::stride] + [points[-1]]
            lines.setdefault(run["outcome"], []).append([(p[0], _clip(p[1])) for p in points])
        right = max(p[0] for segments in lines.values() for segment in segments for p in segment)
        for outcome, segments in lines.items():
            ax.add_collection(LineCollection(segments, colors=OUTCOME_COLOURS[outcome], linewidths=0.9,
                                             alpha=0.7, label=outcome))
        ax.set_xlim(0, max(right, 1))
        ax.set_title(f"α = {alpha:g}")
        ax.set_xlabel("step")
        ax.set_ylabel("iterate x")
        ax.set_ylim(Y_CLIP[0] - 1, Y_CLIP[1] + 1)
        ax.axhline(0, color="#ff7f0e", lw=0.5, ls=":")
        ax.axhline(10, color="#2ca02c", lw=0.5, ls=":")
        # A fixed corner: loc="best" scores every drawn vertex against each candidate place.
        ax.legend(fontsize=7, loc="upper right")
    for ax in list(axes.flat)[len(alphas):]:
        ax.axis("off")
    fig.suptitle("Observed GD runs (values beyond [-10, 25] drawn at the edge)", fontsize=9)
    # Fixed margins (inches turned into fractions) instead of tight_layout, which lays every
    # tick label out twice: the panels' shape never changes, only how many there are.
    width, height = 4.2 * cols, 3.2 * rows
    fig.subplots_adjust(left=0.6 / width, right=1 - 0.15 / width, bottom=0.5 / height,
                        top=1 - 0.6 / height, wspace=0.3, hspace=0.75 / 3.2 * rows)
    return _to_uri(fig, tight=False)


def histogram(totals: Sequence[float], max_score: float) -> str | None:
    """Histogram of the class's totals, as a PNG data URI."""
    if not totals:
        return None
    fig = _figure((6, 3))
    ax = fig.subplots()
    bins = max(5, min(20, int(max_score) or 5))
    ax.hist(totals, bins=bins, range=(0, max(max_score, max(totals), 1)), color="#4c72b0", edgecolor="white")
    ax.set_xlabel("total points")
    ax.set_ylabel("students")
    ax.set_title("Totals")
    return _to_uri(fig)


def pass_rate_chart(rates: Sequence[tuple[str, float]]) -> str | None:
    """Horizontal bars: the fraction of students who passed each item, as a PNG data URI."""
    if not rates:
        return None
    fig = _figure((6.5, 0.32 * len(rates) + 1.0))
    ax = fig.subplots()
    labels = [name for name, _ in rates]
    values = [rate * 100 for _, rate in rates]
    colours = ["#d62728" if v < 50 else "#ff7f0e" if v < 80 else "#2ca02c" for v in values]
    ax.barh(range(len(rates)), values, color=colours)
    ax.set_yticks(range(len(rates)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of students with full points")
    ax.set_title("Pass rate per item")
    return _to_uri(fig)


def _figure(size: tuple[float, float]):
    # A bare Figure with an Agg canvas: no pyplot, so no global figure registry and no GUI backend.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig


def _to_uri(fig, tight: bool = True) -> str:
    buffer = io.BytesIO()
    if tight:
        fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=90)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _clip(value: float) -> float:
    if math.isnan(value):
        return Y_CLIP[1]
    return min(max(value, Y_CLIP[0]), Y_CLIP[1])


def _is_number(value, finite: bool = True) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value) or not finite


def _number_or_none(value) -> float | None:
    return float(value) if _is_number(value, finite=False) else None
