"""Resource limits and the environment of processes that run student code (POSIX)."""

from __future__ import annotations

import functools
import os
import resource
import signal
import subprocess
import sys
from dataclasses import dataclass

#: Environment variables passed through to the child; everything else is dropped
#: so the grader's own settings (tokens, CI variables) never reach student code.
_PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

#: Largest file the child may write.
FILE_SIZE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Rlimits:
    """The kernel's per-process caps for a child."""

    memory_bytes: int
    """Address space (``RLIMIT_AS``)."""

    cpu_seconds: int
    """CPU time (``RLIMIT_CPU``); the hard limit one second later kills."""

    max_processes: int | None = 64
    """Tasks of the child's uid (``RLIMIT_NPROC``); None leaves it (it counts the whole uid)."""

    max_open_files: int = 256
    """Open file descriptors (``RLIMIT_NOFILE``)."""

    file_bytes: int = FILE_SIZE_BYTES
    """Largest file written (``RLIMIT_FSIZE``)."""

    def apply(self) -> None:
        """Sets every limit on the calling process (soft = hard, no core dumps)."""
        resource.setrlimit(resource.RLIMIT_AS, (self.memory_bytes, self.memory_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (self.cpu_seconds, self.cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.file_bytes, self.file_bytes))
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.max_open_files, self.max_open_files))
        if self.max_processes is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (self.max_processes, self.max_processes))


def child_environment(sandboxed: bool = False) -> dict[str, str]:
    """The environment of a student child: headless, single-threaded BLAS.

    Args:
        sandboxed: the child sees the filesystem view, where only ``/tmp``
            and its working copy exist: home and temp folders point there.
    """
    env = {key: os.environ[key] for key in _PASSED_THROUGH if key in os.environ}
    env.update(
        {
            "MPLBACKEND": "Agg",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONIOENCODING": "utf-8",
            # One thread each: jobs run in parallel, and BLAS thread pools
            # reserve address space that would count against the memory cap.
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
    )
    if sandboxed:
        env.update({"HOME": "/tmp", "TMPDIR": "/tmp", "MPLCONFIGDIR": "/tmp/" + MATPLOTLIB_DIR})
    return env


#: Where a sandboxed child's matplotlib keeps its config and caches, under its private /tmp.
MATPLOTLIB_DIR = ".matplotlib"


def matplotlib_font_caches() -> tuple[tuple[str, str], ...]:
    """The grader's own matplotlib font lists, as ``(host file, path under /tmp)``.

    A sandboxed child starts with an empty ``/tmp``; without these it would
    rebuild the font list (a good part of a second) at every start, and a
    submission that crashes on every call restarts many times per problem.
    Found without importing matplotlib; on a fresh machine, built once by a
    short trusted subprocess (the grader's own interpreter, no student code).
    """
    found = _font_lists()
    if not found and _build_font_list():
        found = _font_lists()
    return found


@functools.lru_cache(maxsize=1)
def _build_font_list() -> bool:
    """Builds matplotlib's font list in the grader's cache (at most one try per process)."""
    try:
        done = subprocess.run([sys.executable, "-I", "-c", "import matplotlib.font_manager"],
                              env={**os.environ, "MPLBACKEND": "Agg"}, capture_output=True, timeout=300)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _font_lists() -> tuple[tuple[str, str], ...]:
    folder = os.environ.get("MPLCONFIGDIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "matplotlib"
    )
    try:
        names = sorted(n for n in os.listdir(folder) if n.startswith("fontlist") and n.endswith(".json"))
    except OSError:
        return ()
    return tuple((os.path.join(folder, n), f"{MATPLOTLIB_DIR}/{n}") for n in names)


def kill_tree(proc: subprocess.Popen, supervised: bool = False, grace: float = 10.0) -> None:
    """Stops a child and everything it started, and reaps it.

    Args:
        supervised: ``proc`` is a PID-namespace supervisor
            (:mod:`grader.sandbox.outside.processes`): SIGTERM makes it kill
            the namespace and return once it is empty. Without one, the
            child's process group is killed (a ``setsid`` descendant escapes).
        grace: seconds a supervisor gets before it is killed outright.
    """
    if supervised and proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=grace)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        if proc.returncode is not None:
            return  # reaped: its pid (and group id) may already belong to someone else
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass
    proc.wait()
