"""Small SVG charts written by hand, for the HTML reports.

A report page embeds a few charts per student (Problem 4's observed runs) and
two per class. Drawing them with matplotlib cost a few hundred milliseconds
each in the grader's own process, more than grading the problem; an SVG is
text that the browser draws, so writing one costs about a millisecond.

The output is a ``data:image/svg+xml`` URI meant for an ``<img>`` tag, where
a browser never runs scripts or fetches anything. Every text is XML-escaped
anyway, since labels can come from a rubric or a student's run.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"


# XML escaping as xml.sax.saxutils does it (same bytes out), written here because importing
# saxutils imports urllib.request, http.client and email: ~40 ms of every grading run's start.
def escape(text: str) -> str:
    """``&``, ``<`` and ``>`` as entities (element content)."""
    return text.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")


def quoteattr(text: str) -> str:
    """An attribute value, quoted and escaped (also newlines and tabs)."""
    text = escape(text).replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    if '"' not in text:
        return f'"{text}"'
    if "'" not in text:
        return f"'{text}'"
    return '"{}"'.format(text.replace('"', "&quot;"))


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values (1, 2 or 5 × 10^k apart) covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low] if math.isfinite(low) else []
    raw = (high - low) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9)
    ticks = []
    k = first
    while k * step <= high + step * 1e-9:
        ticks.append(round(k * step, 12))
        k += 1
    return ticks


def _num(value: float) -> str:
    """A coordinate with one decimal, without a trailing ``.0``."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _label(value: float) -> str:
    return f"{value:g}"


@dataclass
class Canvas:
    """An SVG document under construction, ``width`` × ``height`` pixels."""

    width: float
    height: float
    parts: list[str] = field(default_factory=list)

    def text(self, x: float, y: float, content: str, size: float = 11, anchor: str = "middle",
             rotate: bool = False, weight: str = "normal") -> None:
        """Text centred (or anchored) at (x, y); ``rotate`` turns it 90° counter-clockwise."""
        turn = f' transform="rotate(-90 {_num(x)} {_num(y)})"' if rotate else ""
        bold = ' font-weight="bold"' if weight != "normal" else ""
        self.parts.append(
            f'<text x="{_num(x)}" y="{_num(y)}" font-size="{_num(size)}" text-anchor="{anchor}"{bold}{turn}>'
            f"{escape(content)}</text>"
        )

    def line(self, x1: float, y1: float, x2: float, y2: float, colour: str = "#000",
             width: float = 1.0, dash: str | None = None) -> None:
        """A straight segment."""
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(
            f'<line x1="{_num(x1)}" y1="{_num(y1)}" x2="{_num(x2)}" y2="{_num(y2)}" '
            f'stroke={quoteattr(colour)} stroke-width="{_num(width)}"{dashes}/>'
        )

    def rect(self, x: float, y: float, w: float, h: float, fill: str = "none", stroke: str | None = None) -> None:
        """A rectangle with its top-left corner at (x, y)."""
        outline = f" stroke={quoteattr(stroke)}" if stroke else ""
        self.parts.append(
            f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(max(w, 0))}" height="{_num(max(h, 0))}" '
            f"fill={quoteattr(fill)}{outline}/>"
        )

    def polyline(self, points: str, colour: str, width: float = 1.0, opacity: float = 1.0) -> None:
        """An open line through ``points``: pixel coordinates as ``"x,y x,y …"`` (see :func:`vertices`)."""
        self.parts.append(
            f'<polyline points="{points}" fill="none" stroke={quoteattr(colour)} '
            f'stroke-width="{_num(width)}" stroke-opacity="{opacity:g}"/>'
        )

    def svg(self) -> str:
        """The finished document."""
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{_num(self.width)}" height="{_num(self.height)}" '
            f'viewBox="0 0 {_num(self.width)} {_num(self.height)}" font-family={quoteattr(FONT)}>'
            f'<rect width="100%" height="100%" fill="#fff"/>{"".join(self.parts)}</svg>'
        )

    def data_uri(self) -> str:
        """The document as a ``data:image/svg+xml;base64,…`` URI."""
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg().encode("utf-8")).decode("ascii")


@dataclass(frozen=True)
class Panel:
    """One set of axes on a canvas: a pixel box and the data ranges it shows."""

    left: float
    """Pixel x of the plotting area's left edge."""

    top: float
    """Pixel y of the plotting area's top edge."""

    width: float
    """Plotting area's width in pixels."""

    height: float
    """Plotting area's height in pixels."""

    xlim: tuple[float, float]
    """Data range shown along x."""

    ylim: tuple[float, float]
    """Data range shown along y."""

    def x(self, value: float) -> float:
        """Pixel x of data ``value``."""
        low, high = self.xlim
        return self.left + (value - low) / ((high - low) or 1.0) * self.width

    def y(self, value: float) -> float:
        """Pixel y of data ``value`` (up is larger)."""
        low, high = self.ylim
        return self.top + self.height - (value - low) / ((high - low) or 1.0) * self.height

    # A class's runs plots hold hundreds of thousands of vertices: xs() and ys() map and write
    # a whole run's coordinates in one comprehension each.
    def xs(self, data: Iterable[float]) -> list[str]:
        """Pixel x of many data values, written with one decimal (for :func:`vertices`)."""
        x0, x1 = self.xlim
        sx = self.width / ((x1 - x0) or 1.0)
        base = self.left - x0 * sx
        return [f"{base + x * sx:.1f}" for x in data]

    def ys(self, data: Iterable[float], low: float, high: float, nan: float) -> list[str]:
        """Pixel y of many data values clipped to [low, high], nan drawn at ``nan``, with one decimal."""
        y0, y1 = self.ylim
        sy = self.height / ((y1 - y0) or 1.0)
        base = self.top + self.height + y0 * sy
        # Diverged and clipped points are many: their three texts are written once.
        at_nan, at_low, at_high = (f"{base - edge * sy:.1f}" for edge in (nan, low, high))
        return [at_nan if y != y else at_low if y < low else at_high if y > high else f"{base - y * sy:.1f}"
                for y in data]


def vertices(xs: Sequence[str], ys: Sequence[str]) -> str:
    """A polyline's ``points`` from written coordinates (:meth:`Panel.xs`, :meth:`Panel.ys`)."""
    return " ".join(map(",".join, zip(xs, ys)))


def draw_axes(canvas: Canvas, panel: Panel, title: str = "", xlabel: str = "", ylabel: str = "",
              xticks: Sequence[float] | None = None, yticks: Sequence[float] | None = None,
              xnames: Callable[[float], str] = _label, ynames: Callable[[float], str] = _label) -> None:
    """Frame, ticks with their labels, axis labels and title of ``panel``."""
    canvas.rect(panel.left, panel.top, panel.width, panel.height, stroke="#333")
    bottom = panel.top + panel.height
    for tick in nice_ticks(*panel.xlim) if xticks is None else xticks:
        x = panel.x(tick)
        canvas.line(x, bottom, x, bottom + 4, "#333")
        canvas.text(x, bottom + 15, xnames(tick), size=10)
    for tick in nice_ticks(*panel.ylim) if yticks is None else yticks:
        y = panel.y(tick)
        canvas.line(panel.left - 4, y, panel.left, y, "#333")
        canvas.text(panel.left - 6, y + 3.5, ynames(tick), size=10, anchor="end")
    if title:
        canvas.text(panel.left + panel.width / 2, panel.top - 7, title, size=12)
    if xlabel:
        canvas.text(panel.left + panel.width / 2, bottom + 30, xlabel, size=11)
    if ylabel:
        canvas.text(panel.left - 34, panel.top + panel.height / 2, ylabel, size=11, rotate=True)


def draw_legend(canvas: Canvas, panel: Panel, entries: Sequence[tuple[str, str]]) -> None:
    """A small legend (colour, label) in the panel's upper-right corner."""
    if not entries:
        return
    width = 14 + 6.5 * max(len(label) for _, label in entries) + 12
    left, top = panel.left + panel.width - width - 4, panel.top + 4
    canvas.rect(left, top, width, 14 * len(entries) + 4, fill="#fff", stroke="#ccc")
    for i, (colour, label) in enumerate(entries):
        y = top + 11 + 14 * i
        canvas.line(left + 4, y - 3.5, left + 16, y - 3.5, colour, width=2)
        canvas.text(left + 20, y, label, size=9.5, anchor="start")
