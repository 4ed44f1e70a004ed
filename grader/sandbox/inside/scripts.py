"""Running a student's script as ``__main__``, unattended, within a time limit.

The pieces an observer needs around the script: a stop signal that
``except Exception`` cannot swallow (and that a bare ``except:`` only delays
by one line), bounded capture of what it prints, and
saving the figures it shows or writes (whatever their file names).
"""

from __future__ import annotations

import contextlib
import io
import shutil
import signal
import sys
import time
import types
from dataclasses import dataclass
from pathlib import Path

from grader.sandbox.inside import loader
from grader.sandbox.inside.imports import compile_student

#: File signatures of the image formats a script may write with savefig.
_IMAGE_MAGIC = (b"\x89PNG", b"%PDF", b"\xff\xd8\xff", b"GIF8", b"<?xml", b"<svg")


class ScriptStopped(BaseException):
    """Raised inside the student's script when its time is up (not an Exception, so `except Exception` cannot swallow it)."""


class BoundedWriter(io.TextIOBase):
    """A text stream that keeps the first ``limit`` characters written to it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        if type(text) is not str:
            text = str(text)
        n = len(text)
        room = self.limit - self.size
        if n <= room:  # the common case, kept short: print() writes twice per line
            self.parts.append(text)
            self.size += n
        elif room > 0:
            self.parts.append(text[:room])
            self.size = self.limit
            self.dropped += n - room
        else:
            self.dropped += n
        return n

    def getvalue(self) -> str:
        return "".join(self.parts)


@dataclass
class Clock:
    """Whether student code is running now, and whether its time is up."""

    in_student: bool = False
    expired: bool = False


@contextlib.contextmanager
def time_limit(seconds: float, clock: Clock, root: Path | None = None):
    """Raises :class:`ScriptStopped` in student code once ``seconds`` have passed (and again every 0.5 s if swallowed).

    ``root``: the student's folder. Code that swallowed the stop (a bare ``except:``
    around ``plt.pause`` in ``while True``) is then stopped at its next line in a file
    under ``root``, and at every line after, whatever it catches.
    """
    swallowed = [0]

    def on_alarm(signum, frame):
        clock.expired = True
        if clock.in_student:
            signal.setitimer(signal.ITIMER_REAL, 0.5)
            if swallowed[0] and root is not None:
                _stop_at_every_line(frame, str(root).rstrip("/") + "/")
            swallowed[0] += 1
            raise ScriptStopped()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.01))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if swallowed[0] > 1 and root is not None:
            sys.settrace(None)


def _stop_at_every_line(frame, prefix: str) -> None:
    """From now on each line of student code (a file under ``prefix``) raises :class:`ScriptStopped`.

    The way a debugger stops a program (``bdb.set_trace``): a global trace function for
    new frames, and the local one set on the frames already running. An exception a
    trace function raises comes out of that line, so an ``except:`` clause that swallowed
    it raises again at its own next line, and the script unwinds.
    """

    def local(current, event, arg):
        if event == "line":
            raise ScriptStopped()
        return local

    def on_call(current, event, arg):
        return local if current.f_code.co_filename.startswith(prefix) else None

    sys.settrace(on_call)
    while frame is not None:
        if frame.f_code.co_filename.startswith(prefix):
            frame.f_trace = local
        frame = frame.f_back


class FigureSaver:
    """Saves shown figures and collects image files a script writes."""

    def __init__(self, artifacts: Path, student_root: Path, max_figures: int = 40) -> None:
        self.artifacts = artifacts
        self.root = student_root
        self.max_figures = max_figures
        self.saved: list[str] = []
        self._before = self._scan()

    def _scan(self) -> dict[Path, tuple[int, int]]:
        found = {}
        for path in self.root.rglob("*"):
            if path.is_file():
                stat = path.stat()
                found[path] = (stat.st_mtime_ns, stat.st_size)
        return found

    def on_show(self) -> None:
        """The ``plt.show()`` hook: saves every open figure, then closes them (as a closed window would)."""
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is None:
            return
        for num in plt.get_fignums():
            if len(self.saved) >= self.max_figures:
                break
            name = f"figure-{len(self.saved) + 1:02d}.png"
            try:
                plt.figure(num).savefig(self.artifacts / name, dpi=80)
                self.saved.append(name)
            except Exception:  # noqa: BLE001 - a broken figure must not stop the run
                pass
        plt.close("all")

    def collect_files(self) -> None:
        """Copies image files the script wrote or changed, whatever their names."""
        for path, stamp in self._scan().items():
            if self._before.get(path) == stamp or len(self.saved) >= self.max_figures:
                continue
            try:
                with open(path, "rb") as fh:
                    head = fh.read(8)
            except OSError:
                continue
            if not head.startswith(_IMAGE_MAGIC):
                continue
            name = "saved-" + path.relative_to(self.root).as_posix().replace("/", "_")
            shutil.copyfile(path, self.artifacts / name)
            self.saved.append(name)


@dataclass
class ScriptRun:
    """How one student script ended."""

    path: str
    """The script, relative to the student's folder."""

    status: str
    """``finished``, ``stopped`` (time limit), ``error`` or ``exit``."""

    message: str = ""
    """The error, for ``error``/``exit``."""

    seconds: float = 0.0
    """Wall-clock time the script ran."""


def run_main(path: Path, student_root: Path, transformers, namespace: dict, clock: Clock,
             globals_out: list | None = None) -> ScriptRun:
    """Runs one student file as ``__main__`` (as ``python file.py`` would) and reports how it ended.

    Args:
        namespace: names put into the script's globals first (e.g. an observer's recorder).
        globals_out: if a list, the script's globals are appended to it (once it ran, or failed).
    """
    rel = path.relative_to(student_root).as_posix()
    start = time.monotonic()
    try:
        code = compile_student(path, transformers)
    except loader.StudentCodeError as exc:
        return ScriptRun(rel, "error", str(exc))
    module = types.ModuleType("__main__")
    module.__file__ = str(path)
    module.__dict__.update(namespace)
    if globals_out is not None:
        globals_out.append(module.__dict__)
    saved_main, saved_argv = sys.modules.get("__main__"), sys.argv
    sys.modules["__main__"], sys.argv = module, [str(path)]
    status, message = "finished", ""
    clock.in_student = True
    try:
        exec(code, module.__dict__)
    except ScriptStopped:
        status = "stopped"
    except SystemExit as exc:
        if exc.code not in (None, 0):
            status, message = "exit", f"the script called exit({exc.code!r})"
    except BaseException as exc:  # noqa: BLE001 - any student failure is reported
        if clock.expired:
            status = "stopped"
        else:
            status = "error"
            message = str(loader.describe_exception(exc, student_root, f"running {rel}"))
    finally:
        clock.in_student = False
        sys.modules["__main__"], sys.argv = saved_main, saved_argv
    return ScriptRun(rel, status, message, round(time.monotonic() - start, 3))
