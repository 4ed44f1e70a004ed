"""The run context passed to every step instead of globals."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from grader.progress import Progress


@dataclass
class Context:
    """Where output goes and how the grader runs; tests build their own.

    Args:
        stdout: where progress and tables go.
        stderr: where errors go.
        python: the interpreter used for judges and student children.
        tmp_root: parent folder for working copies (system default if None).
        keep_workdirs: leave working copies on disk for debugging.
        verbosity: 0 quiet (``-q``: warnings only), 1 normal, 2 per-item detail (``-v``).
        timings: if a list, each judge run appends its timing record (benchmarks).
    """

    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    python: str = sys.executable
    tmp_root: Path | None = None
    keep_workdirs: bool = False
    verbosity: int = 1
    timings: list | None = None

    def say(self, text: str) -> None:
        """Prints a progress line (not with ``-q``)."""
        if self.verbosity > 0:
            print(text, file=self.stdout, flush=True)

    def result(self, text: str) -> None:
        """Prints a final result (the scores table): with ``-q`` too, which keeps only warnings and results."""
        print(text, file=self.stdout, flush=True)

    def progress(self, total: int) -> Progress:
        """A progress display for a batch of ``total`` students: a bar on a terminal, lines otherwise."""
        isatty = getattr(self.stdout, "isatty", None)
        return Progress(total, self.stdout, tty=bool(isatty and isatty()), verbosity=self.verbosity)

    def warn(self, text: str) -> None:
        """Prints a warning or error line."""
        print(text, file=self.stderr, flush=True)


def default_jobs() -> int:
    """One job per core the process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
