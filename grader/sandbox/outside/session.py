"""Judge side of the sandbox: starts the student's child and talks to it.

The judge (which runs the suite's assertions) never imports student code. It
starts a child process with resource limits, sends it requests over a pipe
pair that only the two of them hold, and waits for each answer with the
problem's remaining wall-clock budget. A child that overruns is killed with
everything it started; a child that dies is described, and the next request
starts a fresh one.

Every child is confined by :func:`grader.sandbox.outside.confine.confine`
before the interpreter even starts (filesystem view, no network, its own PID
namespace, its own uid, rlimits: whatever :func:`~grader.sandbox.outside.confine.probe`
found this machine allows).
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from grader.sandbox import protocol
from grader.sandbox.outside import confine, filesystem, limits, processes
from grader.sandbox.outside.launcher import ExecLauncher, LaunchError


class StudentFailure(Exception):
    """Base class: the student's code, not the suite, failed a request."""

    status = "error"


class StudentError(StudentFailure):
    """Student code raised, did not compile, or exited.

    Attributes:
        kind: ``syntax``, ``exception``, ``exit``, ``memory`` or ``crash``.
        where: ``file:line`` of the innermost student frame, if known.
    """

    def __init__(self, message: str, kind: str = "exception", where: str | None = None):
        super().__init__(message)
        self.kind = kind
        self.where = where


class StudentTimeout(StudentFailure):
    """The problem's wall-clock budget ran out while student code ran."""

    status = "timeout"


class GraderError(Exception):
    """The child could not serve a request for a reason that is not the student's."""


@dataclass(frozen=True)
class Limits:
    """Resource limits for one student's problem."""

    wall_seconds: float
    """Wall-clock budget for everything the child does for this problem."""

    memory_bytes: int
    """Address-space cap of the child."""

    cpu_seconds: int | None = None
    """CPU-time cap; defaults to the wall budget rounded up, plus a little."""

    output_bytes: int = 64 * 1024
    """How much of the student's stdout/stderr is kept for the report."""

    max_processes: int = 64
    """Processes and threads the child may have at once (``RLIMIT_NPROC``)."""

    max_open_files: int = 256
    """Open file descriptors (``RLIMIT_NOFILE``)."""

#: What the judge copies out of a child's outbox, at most (figures are small).
OUTBOX_MAX_FILES = 64
OUTBOX_MAX_BYTES = 32 * 1024 * 1024


@dataclass
class _Running:
    proc: object  # a Popen, or a launcher's Popen-like child
    req_fd: int
    resp_fd: int
    generation: int
    student_pid: int | None = None


@dataclass
class ChildSession:
    """One student's child for one problem, restarted after a crash.

    Args:
        workdir: the student's working copy (the child's cwd).
        limits: the problem's limits.
        scratch: a folder of the judge's for the child's captured output.
        plugins: ``(path, options)`` of trusted child plugins loaded in every child.
        artifacts: the judge's folder for figures; the child sees a private
            outbox at this path, copied in (regular files only) on :meth:`close`.
        sandbox: the OS layers to use (default: all this machine allows).
        reserved: names of artifacts only the judge writes (e.g. a suite's ``runs.json``): the
            outbox never brings a file of such a name, even when the judge wrote none, so
            student code cannot plant what the report shows as the grader's.
    """

    workdir: Path
    limits: Limits
    scratch: Path
    plugins: list[tuple[str, dict]] = field(default_factory=list)
    artifacts: Path | None = None
    sandbox: confine.SandboxInfo | None = None
    reserved: set[str] = field(default_factory=set)
    _running: _Running | None = None
    _deadline: float | None = None
    _generation: int = 0
    _loads: dict = field(default_factory=dict)
    _load_failures: dict = field(default_factory=dict)
    _siblings: list = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    tampered: str | None = None
    """Why the child's channel was found corrupted, once it was: no child is started again for this job."""
    busy_seconds: float = 0.0
    """Wall time spent waiting for the child's answers (the student's code and in-child checks), for benchmarks."""
    launcher: object = None
    """How children start (:mod:`grader.sandbox.outside.launcher`); None: a fresh ``python -I child.py``."""

    def _launcher(self):
        return self.launcher if self.launcher is not None else ExecLauncher()

    # -- lifecycle ------------------------------------------------------
    @property
    def generation(self) -> int:
        """Counts child starts; handles from an older generation are stale."""
        return self._generation

    def remaining(self) -> float:
        """Seconds left in the problem's wall-clock budget."""
        if self._deadline is None:
            return self.limits.wall_seconds
        return self._deadline - time.monotonic()

    def _start(self) -> _Running:
        if self.tampered is not None:
            # A process that wrote into the grader's private pipe is hostile, not unlucky:
            # restarting it for every later check only lets it spend the time limit (and
            # whether it ran out would then depend on the machine's speed).
            raise StudentError(
                f"Not run: the student's process {self.tampered} in an earlier check, "
                "and the grader does not restart a process that tampers with its channel",
                kind="crash",
            )
        if self.remaining() <= 0:
            raise StudentTimeout(self._timeout_message())
        if self._deadline is None:
            self._deadline = time.monotonic() + self.limits.wall_seconds
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        self.scratch.mkdir(parents=True, exist_ok=True)
        out = open(self.scratch / "stdout.txt", "ab")
        err = open(self.scratch / "stderr.txt", "ab")
        plan = self._plan()
        try:
            proc = self._launcher().start(
                plan=plan, env=limits.child_environment(sandboxed="filesystem" in plan.layers),
                req_fd=req_r, resp_fd=resp_w, stdout=out, stderr=err,
            )
        except LaunchError as exc:
            os.close(req_w)
            os.close(resp_r)
            said = (self.scratch / "stderr.txt").read_text(errors="replace").strip().splitlines()
            detail = said[-1].removeprefix("grader: ") if said and said[-1].startswith("grader: ") else str(exc)
            raise GraderError(f"could not start the sandboxed child: {detail}") from None
        finally:
            out.close()
            err.close()
            os.close(req_r)
            os.close(resp_w)
        self._generation += 1
        self._running = _Running(proc, req_w, resp_r, self._generation)
        for path, options in self.plugins:
            self._roundtrip({"op": "plugin", "path": path, "options": options})
        return self._running

    def _plan(self) -> confine.Plan:
        if self.sandbox is None:
            self.sandbox = confine.probe()
        cpu = self.limits.cpu_seconds or int(self.limits.wall_seconds) + 5
        outbox = None
        if self.artifacts is not None and "filesystem" in self.sandbox.active:
            host = self.scratch / "outbox"
            host.mkdir(parents=True, exist_ok=True)
            outbox = (host, Path(self.artifacts).resolve())
        elif self.artifacts is not None:
            Path(self.artifacts).mkdir(parents=True, exist_ok=True)
            outbox = (Path(self.artifacts), Path(self.artifacts))
        return confine.plan_for(
            workdir=self.workdir,
            rlimits=limits.Rlimits(
                memory_bytes=self.limits.memory_bytes,
                cpu_seconds=cpu,
                max_processes=self.limits.max_processes,
                max_open_files=self.limits.max_open_files,
            ),
            scratch=self.scratch,
            readable=tuple(Path(p) for p, _ in self.plugins),
            outbox=outbox,
            info=self.sandbox,
            tmp_files=limits.matplotlib_font_caches(),
        )

    def _collect_outbox(self) -> None:
        """Copies what the child left for the judge: regular files only, bounded, never over the judge's own."""
        outbox = self.scratch / "outbox"
        if self.artifacts is None or not outbox.is_dir():
            return
        target = Path(self.artifacts)
        target.mkdir(parents=True, exist_ok=True)
        budget = OUTBOX_MAX_BYTES
        for path in sorted(outbox.iterdir())[:OUTBOX_MAX_FILES]:
            if (path.name.startswith(".") or path.name in self.reserved or not filesystem.is_regular_file(path)
                    or (target / path.name).exists()):
                continue
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
            except OSError:
                continue
            with os.fdopen(fd, "rb") as src:
                data = src.read(budget + 1)
            if len(data) > budget:
                continue
            budget -= len(data)
            (target / path.name).write_bytes(data)
        shutil.rmtree(outbox, ignore_errors=True)

    @property
    def pid(self) -> int | None:
        """The running child's process id (None when no child runs), for guards that watch it from outside."""
        running = self._running
        if running is None:
            return None
        if self.sandbox is not None and "processes" in self.sandbox.active:
            # proc.pid is the namespace's supervisor; student code runs two forks below it.
            if running.student_pid is None:
                running.student_pid = processes.student_pid(running.proc.pid)
            return running.student_pid
        return running.proc.pid

    def sibling(self, name: str, memory_bytes: int | None = None) -> "ChildSession":
        """A second child for the same student's working copy, with the same plugins.

        It shares this session's wall-clock budget (the problem's time limit
        covers both), keeps its output in its own scratch folder ``name``, and
        is closed with this session. Guards use it to measure student code in
        a fresh process.
        """
        if self._deadline is None:
            self._deadline = time.monotonic() + self.limits.wall_seconds
        limits = self.limits if memory_bytes is None else replace(self.limits, memory_bytes=memory_bytes)
        other = ChildSession(
            workdir=self.workdir, limits=limits, scratch=self.scratch.parent / name, plugins=list(self.plugins),
            artifacts=self.artifacts, sandbox=self.sandbox, launcher=self.launcher, reserved=self.reserved,
        )
        other._deadline = self._deadline
        self._siblings.append(other)
        return other

    def total_busy_seconds(self) -> float:
        """:attr:`busy_seconds` of this session and its siblings."""
        return self.busy_seconds + sum(o.total_busy_seconds() for o in self._siblings)

    def close(self) -> None:
        """Stops the child (and any sibling) and everything it started."""
        siblings, self._siblings = self._siblings, []
        for other in siblings:
            self.busy_seconds += other.total_busy_seconds()
            other.close()
        running = self._stop()
        if running is not None:
            self.events.append(_exit_description(running.proc.returncode) or "child finished")
        self._collect_outbox()

    def _stop(self) -> _Running | None:
        """Detaches the running child, closes its channel and kills its group; returns it."""
        running, self._running = self._running, None
        if running is None:
            return None
        for fd in (running.req_fd, running.resp_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        self._launcher().stop(running.proc, supervised="processes" in (self.sandbox.active if self.sandbox else ()))
        return running

    def __enter__(self) -> "ChildSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- requests -------------------------------------------------------
    def request(self, message: dict) -> Any:
        """Sends one request and returns its decoded value.

        Raises:
            StudentError: the student's code failed (or the child died).
            StudentTimeout: the budget ran out; the child was killed.
        """
        if self._running is None:
            self._start()
        return self._roundtrip(message)

    def _roundtrip(self, message: dict) -> Any:
        running = self._running
        assert running is not None
        started = time.perf_counter()
        try:
            protocol.write_frame(running.req_fd, message)
            response = self._read(running)
        except (BrokenPipeError, EOFError, protocol.ProtocolError) as exc:
            self._stop()
            described = _exit_description(running.proc.returncode)
            if isinstance(exc, protocol.ProtocolError):
                described = (
                    "corrupted the grader's private channel (it wrote into or closed a file "
                    f"descriptor it does not own: {exc})"
                )
                self.tampered = described
            raise StudentError(f"the student's process {described}", kind="crash") from None
        finally:
            if message.get("op") != "plugin":  # loading a trusted plugin is the grader's own time
                self.busy_seconds += time.perf_counter() - started
        if response.get("ok"):
            return response.get("value")
        error = response.get("error") or {}
        kind = error.get("kind", "exception")
        if kind in ("protocol", "grader"):
            raise GraderError(error.get("message", "unknown error"))
        raise StudentError(error.get("message", "unknown error"), kind=kind, where=error.get("where"))

    def _read(self, running: _Running) -> dict:
        remaining = self.remaining()
        ready = select.select([running.resp_fd], [], [], max(remaining, 0))[0] if remaining > 0 else []
        if not ready:
            self._stop()
            raise StudentTimeout(self._timeout_message())
        # The header has arrived; give the body the rest of the budget too.
        return protocol.read_frame(running.resp_fd)

    def _timeout_message(self) -> str:
        return (
            f"stopped after the time limit of {self.limits.wall_seconds:g} s "
            "(an endless loop, or code far slower than needed)"
        )

    # -- loading (remembered, so a restarted child loads the same way) --
    def load(self, path: str, required: list[str], mode: str = "auto") -> dict:
        """Loads a student file in the child (once per child generation)."""
        key = (path, tuple(required), mode)
        if key in self._load_failures:
            # A fresh exception each time: re-raising one object grows its traceback
            # with every test, and formatting those costs the problem's time budget.
            failed = self._load_failures[key]
            raise StudentError(str(failed), kind=failed.kind, where=failed.where)
        if self._running is None:
            self._start()
        cached = self._loads.get(key)
        if cached and cached[0] == self._generation:
            return cached[1]
        try:
            value = self.request({"op": "load", "path": path, "required": list(required), "mode": mode})
        except StudentError as exc:
            if exc.kind != "crash":
                # The same file fails the same way every time; don't pay for it again.
                self._load_failures[key] = exc
            raise
        self._loads[key] = (self._generation, value)
        return value

    def captured_output(self) -> str:
        """The student's stdout and stderr so far, trimmed to the limit."""
        parts = []
        for name in ("stdout.txt", "stderr.txt"):
            path = self.scratch / name
            if path.exists() and path.stat().st_size:
                with open(path, "rb") as fh:
                    data = fh.read(self.limits.output_bytes)
                parts.append(data.decode("utf-8", errors="replace"))
        return "\n".join(parts)


def _exit_description(returncode: int | None) -> str:
    if returncode is None:
        return "is still running"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        if -returncode == signal.SIGXCPU:
            return "was stopped by the CPU-time limit"
        return f"was killed by {name} (a crash, or the memory limit)"
    if returncode == 0:
        return "exited (the student's code ended the process, e.g. os._exit or sys.exit in a method)"
    return f"exited with status {returncode} (e.g. sys.exit or os._exit in the student's code)"
