"""A pre-imported judge worker: imports the judge's modules once, forks a fresh judge per job.

Started by :class:`grader.judge_pool.JudgePool` as
``python -m grader.judge_worker SOCK_FD [PRELOAD ...]``. It imports pytest,
numpy, the grader's judge modules and the suites' helper files (``PRELOAD``)
once. The first job of each suite has the worker configure pytest and collect
that suite (:func:`grader.judge_suites.prepare`: course content is imported,
no test runs, no fixture is instantiated). For each job it forks: the forked
judge binds its student to the prepared suite and runs the job's items, with
the results ``python -m grader.judge`` would give, and dies when it is done, so
nothing a test, a fixture or the student's answers leave in memory reaches the
next job.

The socket to the grader is an ``AF_UNIX`` ``SOCK_SEQPACKET`` pair: one JSON
object per message. Requests and replies:

* grader → worker ``{"op": "run", "job": {...}}`` with two file descriptors
  attached (``SCM_RIGHTS``): the result pipe and the judge's log, both chosen
  by the grader. The worker forks and replies ``{"pid": PID}``; when that
  judge has exited it replies ``{"exit": CODE, "cpu": SECONDS}`` (negative code: killed
  by a signal; ``cpu``: the judge's own user + system CPU time, for the benchmarks).
* grader → worker ``{"op": "kill"}`` while a judge runs: the worker kills the
  judge's process group and reaps it (the reply is still ``{"exit": ...}``).
  The worker, not the grader, kills and reaps, so a pid is never signalled
  after it was reused.
* the grader closing its end: the worker kills any running judge and exits.

The result travels on the grader's pipe as plain JSON; this channel carries
only control messages.
"""

from __future__ import annotations

import ctypes
import gc
import inspect
import json
import os
import select
import signal
import socket
import sys
import traceback

from grader.sandbox.outside import _linux

#: The environment variable naming the one CPU a worker (and all it starts) runs on.
CPU_VARIABLE = "GRADER_WORKER_CPU"

#: Largest control message (a job is a few kB).
MAX_MESSAGE = 1 << 20

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:  # not Linux: the grader kills the worker on close instead
        pass


def preload(paths: list[str]) -> None:
    """Imports what every judge needs, so a forked judge starts with it in memory."""
    import encodings.ascii  # noqa: F401  (the guards read /proc as ASCII)
    import numpy  # noqa: F401
    import numpy.ma  # noqa: F401  (numpy imports it on the first np.unique: in every P4 judge otherwise)
    import pytest  # noqa: F401
    from _pytest.config import default_plugins

    import grader.judge  # noqa: F401  (pytest plugin, session, suite API)
    from grader.content import load_content_module

    # pytest imports its built-in plugins on every pytest.main; import them now.
    for name in default_plugins:
        try:
            __import__(f"_pytest.{name}")
        except ImportError:
            pass
    for path in paths:
        try:
            load_content_module(path)
        except Exception:  # noqa: BLE001 - the forked judge loads it again and reports
            pass
    # Which OS layers this machine allows is found once (forked trials), not by every judge.
    from grader.sandbox.outside import confine

    confine.probe()
    # The suites' assertion-rewritten bytecode is cached outside the checkout, in the
    # pool's folder, so only the first judge of a run compiles them.
    prefix = os.environ.get("GRADER_JUDGE_PYCACHE")
    if prefix:
        sys.pycache_prefix = prefix
        sys.dont_write_bytecode = False
    _map_module_files()
    # What is imported now is never garbage: a judge's collections skip it (and do not
    # touch, so do not copy, the pages it shares with this worker). No gc.collect() first:
    # the preload leaves no cyclic garbage (a full collection here found none; ~20 ms).
    gc.freeze()


def _map_module_files() -> None:
    """Fills :mod:`inspect`'s map of module files for every module imported so far.

    pytest formats a failing test's traceback with ``inspect.findsource``, whose
    ``getmodule`` resolves (``realpath``, a few ``lstat`` each) the file of every
    module not yet in that map: some 450 modules, ~8 ms, in the first failure
    of every judge. Done here once, each judge starts with the map filled.
    """
    inspect.getmodule(compile("", "<grader: map module files>", "exec"))


def _run_judge(sock: socket.socket, job: dict, result_fd: int, log_fd: int, prepared=None) -> None:
    """In the forked judge: becomes a fresh judge process and never returns."""
    code = 1
    try:
        sock.close()
        if job.get("zygote_fd") is not None:
            os.set_inheritable(job["zygote_fd"], False)
        os.setsid()  # its own group: a time limit kills it and what it started
        _die_with_parent()
        _linux.set_name("grader-judge")
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        for fd in (null, log_fd):
            os.close(fd)
        os.chdir(job["scratch"])
        from grader import judge

        judge.write_result(judge.Job(**job), result_fd, prepared)
        code = 0
    except BaseException:  # noqa: BLE001 - logged for the grader, exit 1
        try:
            traceback.print_exc()
        except BaseException:  # noqa: BLE001
            pass
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001
                pass
        os._exit(code)


def _wait(sock: socket.socket, pid: int) -> tuple[int, float, bool]:
    """Waits for the judge ``pid``; kills it if asked. Returns (exit code, its CPU seconds, grader still there)."""
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    connected = True
    try:
        while True:
            watched = [sock] if connected else []
            if pidfd is not None:
                ready = select.select(watched + [pidfd], [], [])[0]
            else:
                ready = select.select(watched, [], [], 0.01)[0]
            if sock in ready:
                data = sock.recv(MAX_MESSAGE)
                if not data or json.loads(data).get("op") == "kill":
                    connected = connected and bool(data)
                    _kill_group(pid)
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime, connected
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _kill_group(pid: int) -> None:
    # The judge is its group's leader and not yet reaped, so the pid is still its own.
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


class _Zygote:
    """The worker's child zygote, restarted if it died; its socket is inherited by every judge.

    Used only where the sandbox gives each child its own PID namespace and uid.
    """

    def __init__(self) -> None:
        self.proc = None
        self.sock = None
        self.pending = False  # started by :meth:`start`, not yet ready

    @staticmethod
    def wanted() -> bool:
        from grader.sandbox.outside import confine

        # Without its own PID namespace and uid, a child could signal the zygote, or write
        # into its memory through /proc and so into every later child: exec them instead.
        return {"processes", "users"} <= set(confine.probe().active)

    def start(self) -> None:
        """Starts the zygote without waiting for it: its imports run while the worker imports its own."""
        from grader.sandbox.outside.launcher import ZygoteLauncher

        if self.proc is None and self.wanted():
            try:
                self.proc, self.sock = ZygoteLauncher.start_zygote()
                self.pending = True
            except OSError:
                self.proc = self.sock = None  # fd() tries again

    def fd(self) -> int | None:
        from grader.sandbox.outside.launcher import LaunchError, ZygoteLauncher

        if not self.wanted():
            return None
        if self.pending:
            self.pending = False
            try:
                ZygoteLauncher.await_zygote(self.proc, self.sock)
            except LaunchError:
                self.proc = self.sock = None  # started afresh below
        if self.proc is not None and self.proc.poll() is None:
            return self.sock.fileno()
        if self.sock is not None:
            self.sock.close()
        try:
            self.proc, self.sock = ZygoteLauncher.spawn_zygote()
        except LaunchError:
            self.proc = self.sock = None  # judges exec each child instead
            return None
        return self.sock.fileno()


def _prepared(suites: dict, job: dict):
    """The worker's prepared suite for ``job``, prepared on its first job (None: jobs run ``pytest.main``)."""
    suite = job.get("suite", "")
    if suite not in suites:
        from grader import judge_suites

        # At most half the job's budget, so a suite that hangs at import still reaches the
        # fork (whose pytest.main hangs the same way) before the job's deadline kills it.
        seconds = min(judge_suites.PREPARE_SECONDS, float(job.get("wall_seconds", 0)) / 2)
        try:
            suites[suite] = judge_suites.prepare(suite, seconds) if seconds > 0 else None
        except BaseException:  # noqa: BLE001 - e.g. its time limit struck in its clean-up
            suites[suite] = None
        # What collection built is never garbage either (see preload).
        _map_module_files()
        gc.collect()
        gc.freeze()
    return suites[suite]


def serve(sock: socket.socket, zygote: _Zygote | None = None) -> None:
    """Forks one judge per request until the grader closes the socket."""
    zygote = zygote or _Zygote()
    suites: dict = {}
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 2)
        except (ConnectionError, OSError):
            return
        if not data:
            return
        request = json.loads(data)
        if request.get("op") != "run" or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            sock.send(json.dumps({"error": "expected a run request with two descriptors"}).encode())
            continue
        result_fd, log_fd = fds
        # The suite first: a zygote started with the worker goes on importing meanwhile.
        prepared = _prepared(suites, request["job"])
        request["job"]["zygote_fd"] = zygote.fd()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _run_judge(sock, request["job"], result_fd, log_fd, prepared)
        os.close(result_fd)
        os.close(log_fd)
        sock.send(json.dumps({"pid": pid}).encode())
        code, cpu, connected = _wait(sock, pid)
        if not connected:
            return
        sock.send(json.dumps({"exit": code, "cpu": round(cpu, 6)}).encode())


def _pin() -> None:
    """Pins this worker to the CPU its pool chose (see :func:`grader.judge_pool.spread_cpus`), if any.

    Done first, so the zygote and every judge and child inherit it.
    """
    cpu = os.environ.pop(CPU_VARIABLE, "")
    if cpu.isdigit():
        try:
            os.sched_setaffinity(0, {int(cpu)})
        except OSError:  # that CPU went away: the OS places this worker
            pass


def main(argv: list[str]) -> int:
    """Entry point: ``judge_worker SOCK_FD [PRELOAD ...]``."""
    _die_with_parent()
    _pin()
    _linux.set_name("grader-judgewk")
    sock = socket.socket(fileno=int(argv[1]))
    # Every worker's first job needs its zygote: started before the preload, it imports
    # in parallel with it (and with the first suite's collection) where a core is free.
    zygote = _Zygote()
    zygote.start()
    preload(argv[2:])
    sock.send(json.dumps({"ready": os.getpid()}).encode())
    serve(sock, zygote)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
