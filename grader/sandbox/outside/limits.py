"""OS-level limits for processes that run student code (Linux/POSIX)."""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess

#: Environment variables passed through to the child; everything else is dropped
#: so the grader's own settings (tokens, CI variables) never reach student code.
_PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

_PR_SET_PDEATHSIG = 1


def child_environment() -> dict[str, str]:
    """The environment of a student child: headless, single-threaded BLAS."""
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
    return env


def preexec(memory_bytes: int, cpu_seconds: int):
    """Returns a ``preexec_fn`` that limits the child before it runs.

    The child gets its own session (so its whole process group can be killed),
    dies with its parent, and is capped in address space, CPU time, file size
    and core dumps.
    """

    def apply() -> None:
        os.setsid()
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except OSError:
            pass
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        fsize = 256 * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return apply


def kill_tree(proc: subprocess.Popen) -> None:
    """Kills a child started with :func:`preexec` and its process group, and reaps it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass
    proc.wait()
