"""Pictures for the HTML reports, as ``data:`` URIs so each page stays one self-contained file.

* the student's own figures: embedded only when their bytes really are PNG or
  JPEG (a file named ``plot.png`` holding HTML or SVG is not shown);
* Problem 4's observed runs (``runs.json``, written by the P4 suite): the
  iterate against the step for every run, one panel per α, coloured by where
  the run ended;
* the class summary's histogram of totals and per-item pass-rate chart.

Charts are SVG written by :mod:`grader.reports.svg` (no plotting library in the grader's process).
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from collections.abc import Sequence

from grader import runs_view
from grader.reports import svg

#: PNG and JPEG file signatures.
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"

#: Largest student image embedded (bytes); a bigger one is listed, not embedded.
MAX_IMAGE_BYTES = 4_000_000

#: At most this many runs and points per run are drawn (a huge runs.json must not stall a batch).
MAX_RUNS = 400
MAX_POINTS_PER_RUN = 2000

#: The array companion of a runs.json, beside it (written by the P4 suite; :mod:`grader.runs_view`).
VIEW_NAME = runs_view.NAME

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
    """The runs of a ``runs.json`` (schema 1), keeping only well-formed ones; None if absent or unreadable.

    Read from its array companion (:data:`VIEW_NAME`) when that was written for these
    exact bytes: the same runs, without parsing thousands of JSON numbers.
    """
    try:
        raw = path.read_bytes()
        runs = _view_runs(path.with_name(VIEW_NAME), raw)
        if runs is not None:
            return runs
        data = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("schema") != 1 or not isinstance(data.get("runs"), list):
        return None
    runs = []
    for run in data["runs"][:MAX_RUNS]:
        if not isinstance(run, dict) or not _is_number(run.get("alpha")):
            continue
        # JSON cannot hold inf or nan: the suite writes null for an iterate that overflowed (drawn at the edge).
        trajectory = _trajectory(run.get("trajectory"))
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


def _view_runs(path: Path, text: bytes) -> list[dict] | None:
    """:func:`load_runs`'s runs from the array companion (:mod:`grader.runs_view`) of the runs.json whose bytes are ``text``.

    None (the caller then parses the JSON) when the companion is absent, malformed, or
    was written for other bytes: only a companion that says exactly what ``text`` says is used.
    """
    columns = runs_view.read(path, text)
    if columns is None:
        return None
    c = columns.arrays
    alpha, start, last, ends, point_steps, point_values = (c[k] for k in ("alpha", "start", "last", "ends", "step", "value"))
    names = [str(g) for g in columns.groups]
    kinds = [o if o in OUTCOME_COLOURS else "other" for o in columns.outcomes]
    begins = [0, *ends[:-1]]
    runs = []
    for i in range(min(len(alpha), MAX_RUNS)):
        if alpha[i] != alpha[i]:
            continue  # null in runs.json: not a number, so not drawn
        begin, end = begins[i], ends[i]
        runs.append({
            "alpha": float(f"{alpha[i]:.6g}"),
            "start": None if start[i] != start[i] else start[i],
            "last": None if last[i] != last[i] else last[i],
            "steps": c["steps"][i],
            "outcome": kinds[c["outcome"][i]],
            "group": names[c["group"][i]],
            "judged": bool(c["judged"][i]),
            "trajectory": Trajectory(tuple(point_steps[begin:end]), point_values[begin:end]),
        })
    return runs


class Trajectory(Sequence):
    """A run's (step, iterate) points as two columns, as the runs plot uses them (no tuple per point)."""

    __slots__ = ("steps", "values")

    def __init__(self, steps: tuple[int, ...], values: Sequence[float]) -> None:
        self.steps = steps
        self.values = values

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return list(zip(self.steps[index], self.values[index]))
        return self.steps[index], self.values[index]


def _columns(trajectory: Sequence) -> tuple[tuple, Sequence[float]]:
    """The steps (a tuple) and the values of a run's non-empty trajectory."""
    if isinstance(trajectory, Trajectory):
        return trajectory.steps, trajectory.values
    return tuple(zip(*trajectory))  # type: ignore[return-value]


def runs_plot(runs: Sequence[dict]) -> str | None:
    """The P4 chains per α (iterate against step), coloured by outcome, as an SVG data URI (None: nothing to draw)."""
    drawable = [r for r in runs if r["trajectory"]]
    if not drawable:
        return None
    alphas = sorted({r["alpha"] for r in drawable})
    cols = min(3, len(alphas))
    rows = math.ceil(len(alphas) / cols)
    cell_w, cell_h = 380.0, 290.0
    canvas = svg.Canvas(cell_w * cols, cell_h * rows + 24)
    canvas.text(canvas.width / 2, 16, "Observed GD runs (values beyond [-10, 25] drawn at the edge)", size=11)
    for index, alpha in enumerate(alphas):
        mine = [r for r in drawable if r["alpha"] == alpha]
        lines: dict[str, list] = {}
        for run in mine:
            steps, values = _columns(run["trajectory"])
            if len(steps) > MAX_POINTS_PER_RUN:
                stride = math.ceil(len(steps) / MAX_POINTS_PER_RUN)
                steps, values = steps[::stride] + steps[-1:], values[::stride] + values[-1:]
            lines.setdefault(run["outcome"], []).append((steps, values))
        right = max(max(steps) for segments in lines.values() for steps, _ in segments)
        row, col = divmod(index, cols)
        panel = svg.Panel(left=col * cell_w + 58, top=row * cell_h + 24 + 26, width=cell_w - 78, height=cell_h - 90,
                          xlim=(0.0, float(max(right, 1))), ylim=(Y_CLIP[0] - 1, Y_CLIP[1] + 1))
        svg.draw_axes(canvas, panel, title=f"α = {alpha:g}", xlabel="step", ylabel="iterate x")
        for level, colour in ((0, OUTCOME_COLOURS["sharp"]), (10, OUTCOME_COLOURS["wide"])):
            canvas.line(panel.left, panel.y(level), panel.left + panel.width, panel.y(level), colour, 0.8, "2,3")
        xs: dict[tuple, list[str]] = {}  # runs of one α mostly share their steps: their x are written once
        for outcome in OUTCOME_COLOURS:  # a fixed order, so the same runs always give the same picture
            for steps, values in lines.get(outcome, ()):
                if steps not in xs:
                    xs[steps] = panel.xs(steps)
                canvas.polyline(svg.vertices(xs[steps], panel.ys(values, Y_CLIP[0], Y_CLIP[1], nan=Y_CLIP[1])),
                                OUTCOME_COLOURS[outcome], width=1.0, opacity=0.7)
        svg.draw_legend(canvas, panel, [(OUTCOME_COLOURS[o], o) for o in OUTCOME_COLOURS if o in lines])
    return canvas.data_uri()


def histogram(totals: Sequence[float], max_score: float) -> str | None:
    """Histogram of the class's totals, as an SVG data URI."""
    if not totals:
        return None
    bins = max(5, min(20, int(max_score) or 5))
    high = max(max_score, max(totals), 1)
    counts = [0] * bins
    for total in totals:
        counts[min(bins - 1, max(0, int(total / high * bins)))] += 1
    canvas = svg.Canvas(540, 270)
    panel = svg.Panel(left=56, top=30, width=460, height=190, xlim=(0.0, float(high)),
                      ylim=(0.0, float(max(counts)) * 1.05))
    width = panel.width / bins
    for i, count in enumerate(counts):
        top = panel.y(count)
        canvas.rect(panel.left + i * width + 0.5, top, width - 1, panel.top + panel.height - top, fill="#4c72b0")
    yticks = [t for t in svg.nice_ticks(*panel.ylim) if t == int(t)]
    svg.draw_axes(canvas, panel, title="Totals", xlabel="total points", ylabel="students", yticks=yticks)
    return canvas.data_uri()


def pass_rate_chart(rates: Sequence[tuple[str, float]]) -> str | None:
    """Horizontal bars: the fraction of students who passed each item, as an SVG data URI."""
    if not rates:
        return None
    label_width = 8 + 6.2 * max(len(name) for name, _ in rates)
    canvas = svg.Canvas(label_width + 420, 24 * len(rates) + 80)
    panel = svg.Panel(left=label_width, top=30, width=390, height=24 * len(rates), xlim=(0.0, 100.0),
                      ylim=(0.0, float(len(rates))))
    for i, (name, rate) in enumerate(rates):
        value = rate * 100
        colour = "#d62728" if value < 50 else "#ff7f0e" if value < 80 else "#2ca02c"
        top = panel.top + 24 * i + 4
        canvas.rect(panel.left, top, panel.x(value) - panel.left, 16, fill=colour)
        canvas.text(panel.left - 6, top + 12, name, size=10, anchor="end")
    svg.draw_axes(canvas, panel, title="Pass rate per item", xlabel="% of students with full points", yticks=[])
    return canvas.data_uri()


_NUMBERS = frozenset((int, float))
_NULLABLE = frozenset((int, float, type(None)))


def _trajectory(points) -> list[tuple[float, float]]:
    """The well-formed (step, iterate) pairs of a run; null (an overflowed iterate) becomes nan.

    A class's runs files hold millions of points, so a well-formed trajectory (every point
    a [finite number, number or null] pair, as the suite writes them) is checked with
    C-level passes over it; anything else goes through the point-by-point filter.
    """
    if type(points) is not list:
        return []
    if set(map(type, points)) == {list} and set(map(len, points)) == {2}:
        steps, values = zip(*points)
        kinds = set(map(type, values))
        if set(map(type, steps)) <= _NUMBERS and kinds <= _NULLABLE and _all_finite(steps):
            if type(None) in kinds:
                nan = math.nan
                values = [nan if value is None else value for value in values]
            return list(zip(steps, values))
    return _filtered_trajectory(points)


def _all_finite(numbers: tuple) -> bool:
    """Whether every number is finite: their sum is (an inf or nan makes it inf or nan).

    False also when unsure (an int too large for a float): the caller then checks point by point.
    """
    try:
        return math.isfinite(sum(numbers))
    except OverflowError:
        return False


def _filtered_trajectory(points: list) -> list[tuple[float, float]]:
    """:func:`_trajectory` point by point: malformed points are dropped."""
    kept = []
    append, nan = kept.append, math.nan
    for point in points:
        if type(point) is not list or len(point) != 2:
            continue
        step, value = point
        kind = type(step)
        # step - step is 0 only for a finite number (inf - inf and nan - nan are nan).
        if (kind is not int and kind is not float) or step - step != 0:
            continue
        kind = type(value)
        if kind is float or kind is int:
            append((step, value))
        elif value is None:
            append((step, nan))
    return kept


def _is_number(value, finite: bool = True) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value) or not finite


def _number_or_none(value) -> float | None:
    return float(value) if _is_number(value, finite=False) else None
