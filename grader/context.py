"""The run context passed to every step instead of globals."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO


@dataclass
class Context:
    """Where output goes and how the grader runs; tests build their own.

    Args:
        stdout: where progress and tables go.
        stderr: where errors go.
        python: the interpreter used for judges and student children.
        tmp_root: parent folder for working copies (system default if None).
        keep_workdirs: leave working copies on disk for debugging.
        timings: if a list, each judge run appends its timing record (benchmarks).
    """

    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    python: str = sys.executable
    tmp_root: Path | None = None
    keep_workdirs: bool = False
    timings: list | None = None

    def say(self, text: str) -> None:
        """Prints a progress line."""
        print(text, file=self.stdout, flush=True)

    def warn(self, text: str) -> None:
        """Prints a warning or error line."""
        print(text, file=self.stderr, flush=True)


def default_jobs() -> int:
    """One job per core the process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
