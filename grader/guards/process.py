"""Judge side: the student's child as the kernel sees it (Linux).

The judge reads the child's resident memory from ``/proc/<pid>/status``,
resets the child's resident peak (``VmHWM``) by writing ``5`` to
``/proc/<pid>/clear_refs``, and caps the child's address space with
``prlimit``. None of this goes through the child, so student code cannot hide
a large allocation from it by turning tracemalloc off.

Child side, :func:`release_free_memory` hands freed heap memory back to the
kernel (glibc ``malloc_trim``) so that an allocation measured afterwards shows
as new resident memory instead of reusing pages kept from earlier work.
"""

from __future__ import annotations

import ctypes
import gc
import resource
from dataclasses import dataclass

from grader.sandbox.outside.users import prlimit  # works on a child under its own uid


@dataclass(frozen=True)
class Residency:
    """Memory figures of a process, in bytes."""

    rss: int
    """Resident set size now (``VmRSS``)."""

    peak_rss: int
    """Resident peak since start or the last reset (``VmHWM``)."""

    address_space: int
    """Mapped address space now (``VmSize``)."""


def read(pid: int) -> Residency:
    """Reads ``/proc/<pid>/status``.

    Raises:
        ProcessLookupError: the process is gone.
    """
    values: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM", "VmSize"):
                    values[key] = int(rest.split()[0]) * 1024
    except FileNotFoundError:
        raise ProcessLookupError(pid) from None
    if "VmRSS" not in values:  # a zombie has no memory lines
        raise ProcessLookupError(pid)
    return Residency(values["VmRSS"], values.get("VmHWM", values["VmRSS"]), values.get("VmSize", 0))


def reset_peak(pid: int) -> bool:
    """Resets the resident peak of ``pid`` to its current resident size.

    Returns False where the kernel does not allow it (then compare with the
    peak before instead).
    """
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def cap_address_space(pid: int, limit: int) -> int:
    """Lowers ``pid``'s address-space limit (soft and hard) to ``limit`` bytes.

    The hard limit goes down too, so the process cannot raise it back (without
    privileges). A limit above the current hard limit is clipped to it.

    Returns:
        The limit now in force.
    """
    soft, hard = prlimit(pid, resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    prlimit(pid, resource.RLIMIT_AS, (limit, limit))
    return limit


def release_free_memory() -> None:
    """Child side: collects garbage and returns free heap pages to the kernel."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
