"""Progress of a batch: a bar with an ETA on a terminal, plain lines elsewhere (CI logs).

Driven through :meth:`grader.context.Context.progress`; verbosity 0 (``-q``)
prints nothing, 1 one line (or bar update) per finished student, 2 (``-v``)
also every item's score and status.
"""

from __future__ import annotations

import time
from typing import Callable, TextIO

from grader.models import StudentReport
from grader.reports.base import points

#: Width of the bar, in characters.
BAR_WIDTH = 24


def format_eta(seconds: float) -> str:
    """``42s``, ``3m05s`` or ``1h02m``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def summary_line(report: StudentReport) -> str:
    """``alice: 35/65 (p4=15 p5=20)``."""
    parts = " ".join(f"{p.id}={points(p.score)}" for p in report.problems if p.max_score)
    return f"{report.student}: {points(report.score)}/{points(report.max_score)} ({parts})"


def item_lines(report: StudentReport) -> list[str]:
    """One indented line per item: id, score, status (``-v``)."""
    return [
        f"    {p.id} {i.id}: {points(i.score)}/{points(i.max_score)} {i.status.value}"
        for p in report.problems
        for i in p.items
    ]


class Progress:
    """Reports students as they finish.

    Args:
        total: students in the batch.
        stream: where to write.
        tty: draw a bar redrawn in place (a terminal) instead of one line per student.
        verbosity: 0 quiet, 1 normal, 2 per-item detail.
        clock: seconds, monotonic (tests pass a fake one).
    """

    def __init__(
        self, total: int, stream: TextIO, *, tty: bool, verbosity: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.total = total
        self.stream = stream
        self.tty = tty
        self.verbosity = verbosity
        self.clock = clock
        self.started = clock()
        self.done = 0
        self._bar_shown = False

    def eta(self) -> float | None:
        """Seconds left, from the mean time per finished student (None before the first one)."""
        if self.done == 0:
            return None
        elapsed = self.clock() - self.started
        return elapsed / self.done * (self.total - self.done)

    def student_done(self, report: StudentReport) -> None:
        """Records one finished student and shows it."""
        self.done += 1
        if self.verbosity <= 0:
            return
        eta = self.eta()
        eta_text = f", ETA {format_eta(eta)}" if eta is not None and self.done < self.total else ""
        line = f"[{self.done}/{self.total}] {summary_line(report)}"
        if not self.tty:
            self._write(line + eta_text + "\n")
            for detail in item_lines(report) if self.verbosity >= 2 else ():
                self._write(detail + "\n")
            return
        # On a terminal: the finished student's line scrolls up, the bar stays at the bottom.
        self._clear_bar()
        self._write(line + "\n")
        for detail in item_lines(report) if self.verbosity >= 2 else ():
            self._write(detail + "\n")
        self._draw_bar(eta)

    def finish(self) -> None:
        """Ends the bar's line (terminal) so what follows starts on a fresh line."""
        if self._bar_shown:
            self._clear_bar()
            elapsed = self.clock() - self.started
            self._write(f"Graded {self.done}/{self.total} in {format_eta(elapsed)}\n")

    def _draw_bar(self, eta: float | None) -> None:
        filled = int(BAR_WIDTH * self.done / max(1, self.total))
        bar = "█" * filled + "░" * (BAR_WIDTH - filled)
        tail = f" ETA {format_eta(eta)}" if eta is not None and self.done < self.total else " done"
        self._write(f"\r{bar} {self.done}/{self.total}{tail}")
        self._bar_shown = True

    def _clear_bar(self) -> None:
        if self._bar_shown:
            self._write("\r\x1b[2K")
            self._bar_shown = False

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
