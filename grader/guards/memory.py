"""Child side: the peak of memory allocated while a callable runs, and where it was reached.

Python objects and numpy's array buffers are both reported to tracemalloc
(numpy calls ``PyTraceMalloc_Track`` for every data buffer it allocates), so
the traced peak above the start is what the callable needed at most. Views
(slices, ``as_strided``, ``broadcast_to``) allocate nothing and do not count.

With ``locate=True`` a line tracer runs in the student's frames only and
reads the traced peak at every line event, so each growth of the peak is
attributed to the student line that was running (for growth inside a library
call, the student line that made that call); the line to which the most
growth is attributed is reported. This costs one Python
call per executed student line, so callers locate only when the peak is
already known to be too high.
"""

from __future__ import annotations

import gc
import linecache
import sys
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable


@dataclass(frozen=True)
class PeakSite:
    """A student line, as the line tracer saw it."""

    file: str
    """The file, relative to the student's folder."""

    line: int
    """The line number."""

    function: str
    """The qualified name of the function running the line."""

    code: str
    """The source line, stripped."""

    def describe(self) -> str:
        """``conv1D.py:23 in Convolution1d.__matmul__: `A = np.zeros((m, n))```."""
        code = f": `{self.code}`" if self.code else ""
        return f"{self.file}:{self.line} in {self.function}{code}"


@dataclass
class PeakResult:
    """What :func:`measure_peak` saw."""

    peak_bytes: int
    """Traced peak above the traced memory at the start (0 if tracing was stopped)."""

    value: Any = None
    """What the callable returned (None if it raised)."""

    error: BaseException | None = None
    """What the callable raised, if anything."""

    stopped: bool = False
    """True when tracemalloc was no longer tracing at the end: the code stopped it."""

    site: PeakSite | None = None
    """``locate=True`` only: the student line during which the peak grew the
    most in total (one big allocation, or many small ones in a loop)."""

    site_bytes: int = 0
    """How much the peak grew, in total, while :attr:`site` ran."""



def measure_peak(
    run: Callable[[], Any],
    student_root: Path,
    locate: bool = False,
    frames: int = 1,
) -> PeakResult:
    """Runs ``run()`` with tracemalloc on and returns the peak it allocated.

    Exceptions from ``run`` are caught and returned in :attr:`PeakResult.error`.
    tracemalloc is stopped afterwards whatever happened.
    """
    gc.collect()
    if tracemalloc.is_tracing():
        tracemalloc.stop()
    tracemalloc.start(frames)
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    tracer = _LineTracer(Path(student_root), base) if locate else None
    value, error = None, None
    if tracer is not None:
        sys.settrace(tracer.on_call)
    try:
        value = run()
    except BaseException as exc:  # noqa: BLE001 - reported to the caller
        if isinstance(exc, KeyboardInterrupt):
            raise
        error = exc
    finally:
        if tracer is not None:
            sys.settrace(None)
        tracing = tracemalloc.is_tracing()
        peak = tracemalloc.get_traced_memory()[1] if tracing else 0
        if tracing:
            tracemalloc.stop()
    result = PeakResult(peak_bytes=max(0, peak - base), value=value, error=error, stopped=not tracing)
    if tracer is not None and tracing:
        tracer.check(None)
        result.site = tracer.best_site
        result.site_bytes = tracer.best_step
    return result


class _LineTracer:
    """A ``sys.settrace`` tracer active in the student's frames only."""

    def __init__(self, root: Path, base: int) -> None:
        self.root = str(root.resolve())
        self.root_path = root.resolve()
        self.base = base
        self.best = 0
        self.best_step = 0
        self.best_site: PeakSite | None = None
        self._growth: dict[PeakSite, int] = {}
        self.current: PeakSite | None = None
        self._sites: dict[tuple[str, int, str], PeakSite] = {}

    def _site(self, frame) -> PeakSite:
        code = frame.f_code
        key = (code.co_filename, frame.f_lineno, getattr(code, "co_qualname", code.co_name))
        site = self._sites.get(key)
        if site is None:
            try:
                rel = Path(code.co_filename).resolve().relative_to(self.root_path).as_posix()
            except ValueError:
                rel = Path(code.co_filename).name
            text = linecache.getline(code.co_filename, frame.f_lineno).strip()
            site = PeakSite(rel, frame.f_lineno, key[2], text[:100])
            self._sites[key] = site
        return site

    def _is_student(self, frame) -> bool:
        return frame is not None and frame.f_code.co_filename.startswith(self.root)

    def check(self, frame) -> None:
        """Attributes the growth of the peak since the last event to the line that was running."""
        if not tracemalloc.is_tracing():
            return
        peak = tracemalloc.get_traced_memory()[1] - self.base
        if peak > self.best:
            step, self.best = peak - self.best, peak
            if self.current is not None:
                total = self._growth.get(self.current, 0) + step
                self._growth[self.current] = total
                if total > self.best_step:
                    self.best_step, self.best_site = total, self.current

    def on_call(self, frame, event, arg):
        if not self._is_student(frame):
            return None
        self.check(frame)
        self.current = self._site(frame)
        return self.on_event

    def on_event(self, frame, event, arg):
        self.check(frame)
        if event == "line":
            self.current = self._site(frame)
        elif event == "return":
            caller = frame.f_back
            self.current = self._site(caller) if self._is_student(caller) else None
        return self.on_event
