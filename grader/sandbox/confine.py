"""Confines a freshly forked child before it reads its first request (the zygote's sandbox step).

:func:`confine` applies, in the forked process itself, every layer today's
exec'd child gets from ``limits.preexec`` and ``limits.child_environment``:
its own session (a time limit kills its whole group), death with its parent,
rlimits (address space, CPU, file size, no core), the child environment and
nothing else, stdin from ``/dev/null``, stdout/stderr to the judge's files,
no inherited descriptor but its two pipes, the student's folder as cwd and
first on ``sys.path``. The OS isolation layers of the sandbox issue plug in
here: whatever function they provide is called from :func:`confine`, so every
child the zygote forks gets every layer.
"""

from __future__ import annotations

import ctypes
import os
import random
import resource
import signal
import sys

_PR_SET_PDEATHSIG = 1

#: Largest file a child may write (as ``limits.preexec``).
FSIZE_BYTES = 256 * 1024 * 1024


def die_with_parent() -> None:
    """SIGKILL this process when its parent dies (Linux; a no-op elsewhere)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def _close_other_fds(keep: set[int]) -> None:
    try:
        open_fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        open_fds = list(range(3, 1024))
    for fd in open_fds:
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def confine(spec: dict, *, stdout_fd: int, stderr_fd: int, keep: tuple[int, ...]) -> None:
    """Applies the sandbox to this (just forked) process.

    Args:
        spec: ``workdir``, ``memory_bytes``, ``cpu_seconds``, ``env`` (the child environment).
        stdout_fd, stderr_fd: the judge's files for the student's output.
        keep: descriptors to keep open (the request and response pipes).
    """
    os.setsid()
    die_with_parent()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(stdout_fd, 1)
    os.dup2(stderr_fd, 2)
    _close_other_fds(set(keep))
    memory, cpu = int(spec["memory_bytes"]), int(spec["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FSIZE_BYTES, FSIZE_BYTES))
    os.environ.clear()
    os.environ.update(spec["env"])
    sys.dont_write_bytecode = True
    # Python's own streams on the new descriptors, as a fresh interpreter would have them.
    sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
    sys.stdin = open(0, "r", closefd=False)
    # A fresh interpreter draws new seeds; a fork would share the zygote's.
    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(None)
