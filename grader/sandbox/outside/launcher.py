"""How a :class:`ChildSession` gets a confined child: exec a fresh interpreter, or fork one from the zygote.

Both launchers take the same :class:`~grader.sandbox.outside.confine.Plan`
(every OS layer the machine allows, and the rlimits) and give the session a
process-like object (``pid``, ``returncode``, ``poll()``). :class:`ExecLauncher`
execs ``python -I child.py`` with :func:`confine.confine` as its
``preexec_fn``; :class:`ZygoteLauncher` asks a pre-imported zygote
(:mod:`grader.sandbox.inside.zygote`) to fork the child, which applies the
same :func:`confine.confine` to itself before it reads a request.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import BinaryIO

from grader.sandbox.outside import confine, filesystem, limits

_CHILD_SCRIPT = Path(__file__).resolve().parents[1] / "inside" / "child.py"
_ZYGOTE_SCRIPT = Path(__file__).resolve().parents[1] / "inside" / "zygote.py"

#: Seconds the zygote may take to import everything, and to fork a child.
ZYGOTE_START_SECONDS = 120.0
SPAWN_SECONDS = 30.0


class LaunchError(Exception):
    """No child could be started (the zygote is gone): not the student's fault."""


def plan_to_data(plan: confine.Plan) -> dict:
    """The plan as plain JSON data (for the zygote's socket)."""
    return json.loads(json.dumps(_as_data(plan), default=sorted))


def _as_data(value):
    """What ``dataclasses.asdict`` gives for the plan's values, without its deep copies (~0.1 ms per child)."""
    fields = getattr(type(value), "__dataclass_fields__", None)
    if fields is not None:
        return {name: _as_data(getattr(value, name)) for name in fields}
    if isinstance(value, (list, tuple)):
        return [_as_data(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_data(v) for k, v in value.items()}
    return value


def _tuples(value):
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def plan_from_data(data: dict) -> confine.Plan:
    """Rebuilds a plan from :func:`plan_to_data` (lists become the tuples the dataclasses hold)."""
    view = data.get("view")
    if view is not None:
        fields = {k: _tuples(v) for k, v in view.items() if k != "binds"}
        view = filesystem.View(binds=tuple(filesystem.Bind(**b) for b in view["binds"]), **fields)
    fields = {k: _tuples(v) for k, v in data.items() if k not in ("rlimits", "layers", "view")}
    return confine.Plan(
        rlimits=limits.Rlimits(**data["rlimits"]),
        layers=frozenset(data.get("layers", ())),
        view=view,
        **fields,
    )


class ExecLauncher:
    """Starts each child as a fresh ``python -I child.py``, confined by the plan before it execs."""

    def start(self, *, plan: confine.Plan, env: dict, req_fd: int, resp_fd: int, stdout: BinaryIO,
              stderr: BinaryIO):
        try:
            return subprocess.Popen(
                [sys.executable, "-I", str(_CHILD_SCRIPT), str(req_fd), str(resp_fd), plan.workdir],
                cwd=plan.workdir,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                pass_fds=(req_fd, resp_fd),
                env=env,
                preexec_fn=functools.partial(confine.confine, plan),
            )
        except subprocess.SubprocessError as exc:
            # Raised in the forked process before student code ran: a machine problem.
            raise LaunchError(str(exc)) from None

    def stop(self, proc, supervised: bool) -> None:
        limits.kill_tree(proc, supervised=supervised)


class ZygoteChild:
    """A child forked by the zygote, seen from the judge (a ``Popen``-like subset)."""

    def __init__(self, pid: int, reply_fd: int, lifeline_fd: int, read: bytes = b"") -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._reply = reply_fd
        self._lifeline: int | None = lifeline_fd
        self._buffer = b""
        # What was read past the pid line (a child that ended at once: its exit line too).
        self._take(read)
        if self.returncode is not None:
            os.close(self._reply)
            self._reply = -1

    def _take(self, chunk: bytes) -> None:
        """Adds what was read from the reply pipe; sets the exit code once its line is complete."""
        self._buffer += chunk
        for line in self._buffer.split(b"\n")[:-1]:
            message = json.loads(line)
            if "exit" in message:
                self.returncode = int(message["exit"])
        self._buffer = self._buffer.rsplit(b"\n", 1)[-1]

    def _read_exit(self, timeout: float | None) -> None:
        if self._reply < 0:
            return
        while self.returncode is None:
            ready = select.select([self._reply], [], [], timeout)[0]
            if not ready:
                return
            chunk = os.read(self._reply, 4096)
            if not chunk:  # the zygote died: its children died with it
                self.returncode = -9
                break
            self._take(chunk)
            timeout = 0 if timeout is not None else None
        os.close(self._reply)
        self._reply = -1

    def poll(self) -> int | None:
        """The exit code if the child has exited (and been reaped by the zygote), else None."""
        if self.returncode is None:
            self._read_exit(0)
        return self.returncode

    def terminate(self) -> None:
        """Asks the zygote to send SIGTERM (a PID-namespace supervisor then empties its namespace and mirrors the end)."""
        if self._lifeline is not None:
            try:
                os.write(self._lifeline, b"T")
            except OSError:
                pass

    def wait_for(self, seconds: float) -> int | None:
        """Waits up to ``seconds`` for the child's end; its exit code, or None."""
        deadline = time.monotonic() + seconds
        while self.returncode is None and time.monotonic() < deadline:
            self._read_exit(max(0.0, deadline - time.monotonic()))
        return self.returncode

    def kill(self) -> None:
        """Closes the lifeline: the zygote kills the child's process group."""
        if self._lifeline is not None:
            os.close(self._lifeline)
            self._lifeline = None

    def wait(self) -> int:
        """Waits until the zygote reports the child reaped."""
        if self.returncode is None:
            self._read_exit(None)
        return self.returncode


class ZygoteLauncher:
    """Forks children from a zygote reached through ``sock`` (its ``SOCK_SEQPACKET`` socket).

    Args:
        sock: the zygote's socket.
        plugins: paths of the trusted child plugins the children will load; the zygote
            compiles them once, before it forks.
    """

    def __init__(self, sock: socket.socket, plugins=()) -> None:
        self._sock = sock
        self._plugins = [str(p) for p in plugins]
        self._lock = threading.Lock()
        self._gone = False
        self._exec = ExecLauncher()

    @staticmethod
    def spawn_zygote() -> tuple[subprocess.Popen, socket.socket]:
        """Starts a zygote (with the child environment) and returns it with the grader's end of its socket."""
        return ZygoteLauncher.await_zygote(*ZygoteLauncher.start_zygote())

    @staticmethod
    def start_zygote() -> tuple[subprocess.Popen, socket.socket]:
        """Starts a zygote and returns at once; :meth:`await_zygote` waits until it is ready to fork."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", str(_ZYGOTE_SCRIPT), str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                env=limits.child_environment(),
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        return proc, ours

    @staticmethod
    def await_zygote(proc: subprocess.Popen, ours: socket.socket) -> tuple[subprocess.Popen, socket.socket]:
        """Waits for a zygote from :meth:`start_zygote` to say it is ready; kills it if it never does."""
        deadline = time.monotonic() + ZYGOTE_START_SECONDS
        if not select.select([ours], [], [], max(0.0, deadline - time.monotonic()))[0] or not ours.recv(64):
            limits.kill_tree(proc)
            ours.close()
            raise LaunchError("the child zygote did not start")
        return proc, ours

    def start(self, *, plan: confine.Plan, env: dict, req_fd: int, resp_fd: int, stdout: BinaryIO,
              stderr: BinaryIO):
        """Forks a child from the zygote; once the zygote is gone, execs children (same plan) instead.

        Where the sandbox is degraded, student code can kill the zygote (its parent); the
        rest of the job then runs on exec'd children, whose parent is the judge, so a
        second attempt is seen as what it is (a judge killed by student code).
        """
        if not self._gone:
            try:
                return self._fork(plan=plan, env=env, req_fd=req_fd, resp_fd=resp_fd, stdout=stdout,
                                  stderr=stderr)
            except LaunchError:
                self._gone = True
        return self._exec.start(plan=plan, env=env, req_fd=req_fd, resp_fd=resp_fd, stdout=stdout, stderr=stderr)

    def _fork(self, *, plan: confine.Plan, env: dict, req_fd: int, resp_fd: int, stdout: BinaryIO,
              stderr: BinaryIO) -> ZygoteChild:
        reply_r, reply_w = os.pipe()
        lifeline_r, lifeline_w = os.pipe()
        request = {"op": "spawn", "plan": plan_to_data(plan), "env": env, "plugins": self._plugins}
        try:
            with self._lock:
                socket.send_fds(self._sock, [json.dumps(request).encode()],
                                [req_fd, resp_fd, stdout.fileno(), stderr.fileno(), reply_w, lifeline_r])
        except OSError as exc:
            for fd in (reply_r, lifeline_w):
                os.close(fd)
            raise LaunchError(f"the child zygote is gone ({exc})") from None
        finally:
            os.close(reply_w)
            os.close(lifeline_r)
        read = b""
        deadline = time.monotonic() + SPAWN_SECONDS
        # Whole chunks, not a byte at a time (~15 reads per child); what follows the pid
        # line (an exit line already) goes to the child's buffer.
        while b"\n" not in read:
            remaining = deadline - time.monotonic()
            chunk = os.read(reply_r, 4096) if remaining > 0 and select.select([reply_r], [], [], remaining)[0] else b""
            if not chunk:
                os.close(reply_r)
                os.close(lifeline_w)
                raise LaunchError("the child zygote did not fork a child")
            read += chunk
        line, _, rest = read.partition(b"\n")
        return ZygoteChild(int(json.loads(line)["pid"]), reply_r, lifeline_w, rest)

    def stop(self, proc, supervised: bool, grace: float = 10.0) -> None:
        if not isinstance(proc, ZygoteChild):
            self._exec.stop(proc, supervised)
            return
        # As limits.kill_tree: a supervisor gets SIGTERM first, so a child that already
        # died (a segfault) is reported as it died; then the zygote kills the child (a
        # supervisor's death signal empties its namespace) and its group, and reaps it.
        if supervised and proc.poll() is None:
            proc.terminate()
            proc.wait_for(grace)
        proc.kill()
        proc.wait()
