"""Resource limits and the environment of processes that run student code (POSIX)."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
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
        env.update({"HOME": "/tmp", "TMPDIR": "/tmp", "MPLCONFIGDIR": "/tmp/.matplotlib"})
    return env


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
