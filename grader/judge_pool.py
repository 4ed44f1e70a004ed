"""Grader side of the pre-imported judge workers: a pool that runs one job per worker at a time.

Each worker (:mod:`grader.judge_worker`) imports pytest, numpy and the
suites' helpers once and forks a fresh judge per job. The pool hands a
worker to one grading thread at a time; the thread sends the job with a
result pipe and a log file it opened itself, reads the result from that pipe
until the job's deadline, and asks the worker to kill the judge (and its
process group) when the deadline passes. A worker that dies or stops
answering is killed and replaced; the job it held is reported as failed,
never as a result.
"""

from __future__ import annotations

import dataclasses
import json
import os
import queue
import select
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from grader.judge_worker import CPU_VARIABLE
from grader.sandbox.outside import limits

#: The grader's own package root, put on the workers' path.
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]

#: Seconds a worker may take to import everything, and to reap a killed judge.
START_SECONDS = 120.0
REAP_SECONDS = 30.0


@dataclass(frozen=True)
class JudgeRun:
    """What one judge run produced."""

    raw: bytes
    """Everything the judge wrote on the result pipe."""

    finished: bool
    """Whether the result pipe reached end-of-file before the deadline."""

    returncode: int | None
    """The judge's exit code (negative: killed by that signal; None: unknown, the worker failed)."""

    cpu_seconds: float | None = None
    """The judge process's own CPU time (user + system; not its children's), if the worker reported it."""

    log: bytes = b""
    """The judge's log (its stdout and stderr), when the pool kept it in memory (no ``log_path``)."""


def worker_environment(pycache: Path | None = None, cpu: int | None = None) -> dict[str, str]:
    """The judges' environment: the grader importable, no third-party pytest plugins, headless.

    ``cpu``: the one CPU the worker pins itself (and so its zygote, judges and children) to.
    """
    extra = {"GRADER_JUDGE_PYCACHE": str(pycache)} if pycache is not None else {}
    environ = {k: v for k, v in os.environ.items() if k != CPU_VARIABLE}
    if cpu is not None:
        environ[CPU_VARIABLE] = str(cpu)
    return {
        **extra,
        **environ,
        "PYTHONPATH": str(_PACKAGE_ROOT),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
        # Jobs run in parallel; a BLAS thread pool per judge would fight over the cores.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


class _Worker:
    """One worker process and the grader's end of its socket."""

    def __init__(self, python: str, preload: tuple[str, ...], cwd: Path, cpu: int | None = None) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock = ours
        self.cpu = cpu
        self.broken = False
        try:
            self.proc = subprocess.Popen(
                [python, "-m", "grader.judge_worker", str(theirs.fileno()), *preload],
                stdin=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                cwd=cwd,
                env=worker_environment(cwd / "pycache", cpu),
                start_new_session=True,
            )
        finally:
            theirs.close()
        ready = self._receive(time.monotonic() + START_SECONDS)
        if ready is None or "ready" not in ready:
            self.close()
            raise RuntimeError(f"judge worker did not start (exit {self.proc.poll()})")

    def _receive(self, deadline: float) -> dict | None:
        """The next control message, or None if the worker died or the deadline passed."""
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([self.sock], [], [], remaining)[0]:
            return None
        try:
            data = self.sock.recv(1 << 16)
        except OSError:
            return None
        return json.loads(data) if data else None

    def run(self, job_json: str, log_fd: int, deadline: float) -> JudgeRun:
        """Runs one job; the result pipe is read until EOF or ``deadline``."""
        read_fd, write_fd = os.pipe()
        try:
            try:
                # The job is JSON already: wrapped as it is, not parsed and written again.
                socket.send_fds(self.sock, [b'{"op": "run", "job": ' + job_json.encode() + b"}"], [write_fd, log_fd])
            except OSError:
                self.broken = True
                return JudgeRun(b"", False, None)
            finally:
                os.close(write_fd)
            started = self._receive(deadline)
            if started is None or "pid" not in started:
                self.broken = True
                return JudgeRun(b"", False, None)
            raw, finished = read_until_eof(read_fd, deadline)
        finally:
            os.close(read_fd)
        exited = self._receive(deadline) if finished else None
        if exited is None:
            # Past the deadline (or the judge hangs after writing): the worker kills its group.
            try:
                self.sock.send(b'{"op": "kill"}')
            except OSError:
                pass
            exited = self._receive(time.monotonic() + REAP_SECONDS)
        if exited is None or "exit" not in exited:
            self.broken = True
            return JudgeRun(raw, False, None)
        return JudgeRun(raw, finished, int(exited["exit"]), exited.get("cpu"))

    def close(self) -> None:
        """Closes the socket (the worker kills any judge and exits) and reaps the worker."""
        self.sock.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            limits.kill_tree(self.proc)


def spread_cpus(size: int) -> list[int] | None:
    """The CPUs a pool of ``size`` workers pins its workers to, one CPU each; None: the OS places them.

    A judge and its child take turns: the judge asks, the child answers, the judge
    waits, dozens of times per job. Where they run on different cores every turn
    wakes an idle core, which costs far more than the turn itself on a virtual
    machine (a pipe round trip between two cores took 80 µs here, on one core 3 µs).
    A worker's zygote, judges and children inherit its CPU, so each job's processes
    share one core and the jobs spread over all of them. Only a pool that has a worker
    for every CPU it may use pins: a smaller one (``--jobs 1``, a Dask worker with one
    thread) would put every such pool of the machine on the same first CPUs.
    """
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return None
    if len(allowed) < 2 or size < len(allowed):
        return None
    return allowed


class JudgePool:
    """Up to ``size`` pre-imported judge workers, started on first use.

    Where the pool has a worker for every CPU, each worker is pinned to one CPU
    (:func:`spread_cpus`); a replacement takes the CPU with the fewest workers.

    Args:
        size: how many judges may run at once.
        python: the interpreter the workers run.
        preload: helper files of the suites to import once in every worker.
        workdir: a folder of the grader's for the workers' working directory.
    """

    def __init__(self, size: int, python: str, workdir: Path, preload: Iterable[str] = ()) -> None:
        self._size = max(1, size)
        self._python = python
        self._preload = tuple(str(p) for p in preload)
        self._workdir = workdir
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._all: list[_Worker] = []
        self._slots = threading.Semaphore(self._size)
        self._cpus = spread_cpus(self._size)
        self._starting: list[int] = []  # CPUs of workers being started (not yet in _all)

    def run(self, job_json: str, log_path: Path | None, deadline: float) -> JudgeRun:
        """Runs one judge job on an idle worker (waiting for one if all are busy).

        The judge's log goes to ``log_path``; with None it is kept in memory and
        returned as :attr:`JudgeRun.log` (at most its last :data:`MAX_LOG_BYTES`).
        """
        with self._slots:
            worker = self._take()
            try:
                with open(log_path, "wb") if log_path is not None else _memory_file() as log:
                    result = worker.run(job_json, log.fileno(), deadline)
                    if log_path is None:
                        result = dataclasses.replace(result, log=_tail(log.fileno()))
            except BaseException:
                worker.broken = True
                raise
            finally:
                self._give_back(worker)
            return result

    def _take(self) -> _Worker:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        self._workdir.mkdir(parents=True, exist_ok=True)
        cpu = None
        with self._lock:
            if self._cpus:
                taken = [w.cpu for w in self._all] + self._starting
                cpu = min(self._cpus, key=taken.count)
                self._starting.append(cpu)
        try:
            worker = _Worker(self._python, self._preload, self._workdir, cpu)
        finally:
            with self._lock:
                if cpu is not None:
                    self._starting.remove(cpu)
        with self._lock:
            self._all.append(worker)
        return worker

    def _give_back(self, worker: _Worker) -> None:
        if worker.broken or worker.proc.poll() is not None:
            with self._lock:
                self._all.remove(worker)
            worker.close()
        else:
            self._idle.put(worker)

    def close(self) -> None:
        """Stops every worker."""
        with self._lock:
            workers, self._all = self._all, []
        for worker in workers:
            worker.close()

    def __enter__(self) -> "JudgePool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


#: The most of an in-memory judge log kept (its end, which says why a judge failed).
MAX_LOG_BYTES = 8 << 20


def _memory_file():
    """An anonymous file for a judge's log: creating a file costs a file system far more than its few bytes."""
    if hasattr(os, "memfd_create"):
        return open(os.memfd_create("judge-log", os.MFD_CLOEXEC), "w+b")
    return tempfile.TemporaryFile()


def _tail(fd: int) -> bytes:
    """What was written to ``fd``'s file, at most its last :data:`MAX_LOG_BYTES`."""
    size = os.fstat(fd).st_size
    start = max(0, size - MAX_LOG_BYTES)
    chunks = []
    while start < size:
        chunk = os.pread(fd, size - start, start)
        if not chunk:
            break
        chunks.append(chunk)
        start += len(chunk)
    return b"".join(chunks)


def suite_helpers(problems) -> list[str]:
    """The course-content helper files beside the problems' suites (not suites, not child plugins)."""
    suites = {p.suite.resolve() for p in problems if p.suite}
    plugins = {Path(x).resolve() for p in problems for x in p.plugins}
    helpers = set()
    for suite in suites:
        for path in suite.parent.glob("*.py"):
            path = path.resolve()
            if path not in suites and path not in plugins and not path.name.startswith(("test_", "conftest")):
                helpers.add(str(path))
    return sorted(helpers)


def read_until_eof(fd: int, deadline: float) -> tuple[bytes, bool]:
    """Reads ``fd`` until end-of-file (True) or until ``deadline`` (False)."""
    chunks = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return b"".join(chunks), False
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)
