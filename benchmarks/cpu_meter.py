"""CPU time of a process and all its descendants, for the benchmarks.

Wall-clock figures move with whatever else the machine runs; the CPU time the
grader's whole process tree spends does not (much). ``getrusage`` cannot give
it: RUSAGE_CHILDREN counts only descendants that were reaped by their own
parents, and the sandbox's children die inside PID namespaces, zygotes and
supervisors. A cgroup counts every task that ever ran in it, so the meter
moves this process into a fresh cgroup (v2, else v1 ``cpuacct``); everything
it starts afterwards is counted. Without a writable cgroup hierarchy (not
root, macOS) it falls back to ``getrusage`` and says so.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path


def _mounts() -> list[tuple[str, str, str]]:
    """(mount point, filesystem type, super options) of every cgroup mount."""
    found = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            found.append((fields[4], tail[0], tail[2]))
    return found


def _own_path(controller: str | None) -> str:
    """This process's cgroup path in the v2 hierarchy (None) or the v1 hierarchy holding ``controller``."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        if (controller is None and names == "") or (controller and controller in names.split(",")):
            return path
    return "/"


class TreeCpu:
    """Reads the CPU seconds this process and every descendant have used since :meth:`start`."""

    def __init__(self) -> None:
        self.source = "getrusage (undercounts descendants that were not reaped by their parents)"
        self._usage_file: Path | None = None
        self._scale = 1.0
        self._home: Path | None = None
        self._group: Path | None = None

    def start(self) -> "TreeCpu":
        """Moves this process into a cgroup of its own, if it can."""
        for point, kind, options in _mounts():
            try:
                if kind == "cgroup2":
                    home = Path(point) / _own_path(None).lstrip("/")
                    usage, scale, name = "cpu.stat", 1e-6, "cgroup v2 cpu.stat"
                elif "cpuacct" in options.split(","):
                    home = Path(point) / _own_path("cpuacct").lstrip("/")
                    usage, scale, name = "cpuacct.usage", 1e-9, "cgroup v1 cpuacct"
                else:
                    continue
                group = home / f"grader-bench-{os.getpid()}"
                group.mkdir(exist_ok=True)
                (group / "cgroup.procs").write_text(str(os.getpid()))
            except OSError:
                continue
            self._home, self._group = home, group
            self._usage_file, self._scale, self.source = group / usage, scale, name
            break
        return self

    def seconds(self) -> float:
        """CPU seconds (user + system) used so far by the tree."""
        if self._usage_file is not None:
            text = self._usage_file.read_text()
            if self._usage_file.name == "cpu.stat":
                text = next(line.split()[1] for line in text.splitlines() if line.startswith("usage_usec"))
            return int(text.strip()) * self._scale
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    def stop(self) -> None:
        """Moves this process back and removes its cgroup (it is removed only once empty)."""
        if self._group is None:
            return
        try:
            (self._home / "cgroup.procs").write_text(str(os.getpid()))
            self._group.rmdir()
        except OSError:
            pass  # a descendant still runs in it; the empty folder is harmless
        self._group = None
