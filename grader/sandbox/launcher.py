"""How a :class:`ChildSession` gets a confined child: exec a fresh interpreter, or fork one from the zygote.

Both launchers give the session a process-like object (``pid``,
``returncode``, ``poll()``) and stop it the same way: the child and its whole
process group are killed and reaped. :class:`ExecLauncher` is today's
``python -I child.py`` start-up; :class:`ZygoteLauncher` asks a pre-imported
zygote (:mod:`grader.sandbox.zygote`) to fork the child, which confines
itself (:mod:`grader.sandbox.confine`) before it reads a request.
"""

from __future__ import annotations

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

from grader.sandbox import limits

_CHILD_SCRIPT = Path(__file__).with_name("child.py")
_ZYGOTE_SCRIPT = Path(__file__).with_name("zygote.py")

#: Seconds the zygote may take to import everything, and to fork a child.
ZYGOTE_START_SECONDS = 120.0
SPAWN_SECONDS = 30.0


class LaunchError(Exception):
    """No child could be started (the zygote is gone): not the student's fault."""


class ExecLauncher:
    """Starts each child as a fresh ``python -I child.py`` (rlimits, own session, death with the judge)."""

    def start(self, *, workdir: Path, req_fd: int, resp_fd: int, stdout: BinaryIO, stderr: BinaryIO,
              memory_bytes: int, cpu_seconds: int):
        return subprocess.Popen(
            [sys.executable, "-I", str(_CHILD_SCRIPT), str(req_fd), str(resp_fd), str(workdir)],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            pass_fds=(req_fd, resp_fd),
            env=limits.child_environment(),
            preexec_fn=limits.preexec(memory_bytes, cpu_seconds),
        )

    def stop(self, proc) -> None:
        limits.kill_tree(proc)


class ZygoteChild:
    """A child forked by the zygote, seen from the judge (a ``Popen``-like subset)."""

    def __init__(self, pid: int, reply_fd: int, lifeline_fd: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._reply = reply_fd
        self._lifeline: int | None = lifeline_fd
        self._buffer = b""

    def _read_exit(self, timeout: float | None) -> None:
        while self.returncode is None:
            ready = select.select([self._reply], [], [], timeout)[0]
            if not ready:
                return
            chunk = os.read(self._reply, 4096)
            if not chunk:  # the zygote died: its children died with it
                self.returncode = -9
                break
            self._buffer += chunk
            for line in self._buffer.split(b"\n")[:-1]:
                message = json.loads(line)
                if "exit" in message:
                    self.returncode = int(message["exit"])
            self._buffer = self._buffer.rsplit(b"\n", 1)[-1]
            timeout = 0 if timeout is not None else None
        os.close(self._reply)
        self._reply = -1

    def poll(self) -> int | None:
        """The exit code if the child has exited (and been reaped by the zygote), else None."""
        if self.returncode is None:
            self._read_exit(0)
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
    """Forks children from a zygote reached through ``sock`` (its ``SOCK_SEQPACKET`` socket)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._lock = threading.Lock()

    @staticmethod
    def spawn_zygote() -> tuple[subprocess.Popen, socket.socket]:
        """Starts a zygote (with the child environment) and returns it with the grader's end of its socket."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", str(_ZYGOTE_SCRIPT), str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                env=limits.child_environment(),
                start_new_session=True,
            )
        finally:
            theirs.close()
        deadline = time.monotonic() + ZYGOTE_START_SECONDS
        if not select.select([ours], [], [], max(0.0, deadline - time.monotonic()))[0] or not ours.recv(64):
            limits.kill_tree(proc)
            ours.close()
            raise LaunchError("the child zygote did not start")
        return proc, ours

    def start(self, *, workdir: Path, req_fd: int, resp_fd: int, stdout: BinaryIO, stderr: BinaryIO,
              memory_bytes: int, cpu_seconds: int) -> ZygoteChild:
        reply_r, reply_w = os.pipe()
        lifeline_r, lifeline_w = os.pipe()
        request = {
            "op": "spawn",
            "confine": {
                "workdir": str(workdir),
                "memory_bytes": memory_bytes,
                "cpu_seconds": cpu_seconds,
                "env": limits.child_environment(),
            },
        }
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
        line = b""
        deadline = time.monotonic() + SPAWN_SECONDS
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            chunk = os.read(reply_r, 1) if remaining > 0 and select.select([reply_r], [], [], remaining)[0] else b""
            if not chunk:
                os.close(reply_r)
                os.close(lifeline_w)
                raise LaunchError("the child zygote did not fork a child")
            line += chunk
        return ZygoteChild(int(json.loads(line)["pid"]), reply_r, lifeline_w)

    def stop(self, proc: ZygoteChild) -> None:
        proc.kill()
        proc.wait()
