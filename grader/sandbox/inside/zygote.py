"""The child zygote: imports what student code needs once, then forks one fresh child per request.

Started by :class:`grader.sandbox.outside.launcher.ZygoteLauncher` as
``python -I zygote.py SOCK_FD`` with the child environment. It imports numpy,
scipy, matplotlib (Agg, pyplot) and the child's own modules, and **never runs
student code**: it only forks. Each forked child takes the judge's
descriptors and environment, then applies every layer of the sandbox to
itself with :func:`grader.sandbox.outside.confine.confine` and the judge's
plan (the same function and plan the exec'd child gets as its
``preexec_fn``), then serves one student's problem exactly as ``child.py``
does and exits. The spawn request also names the
trusted child plugins the judge will load; the zygote reads and compiles them
(never runs them) once, so a child only executes their code and calls
``register``. A child never
serves a second student, so nothing one student's code changes in memory
(patched numpy, module globals, ``sys.modules``) reaches the next one: the
next child is forked from the zygote's untouched memory.

Requests arrive on an ``AF_UNIX`` ``SOCK_SEQPACKET`` socket, one JSON object
each, with six descriptors attached: the child's request pipe (read end),
response pipe (write end), stdout and stderr files, a reply pipe (write end)
and a lifeline pipe (read end). The zygote answers on the reply pipe, one
JSON line ``{"pid": PID}`` and later ``{"exit": CODE}``, so a requester that
died never leaves an answer for the next one. When the lifeline reaches
end-of-file (the judge closed it, or died) the zygote kills the child's
process group (a ``T`` on it asks for SIGTERM first); it reaps every child
itself, so a pid is never signalled after reuse.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import os
import random
import select
import signal
import socket
import stat
import sys
import tempfile
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from grader.sandbox.outside import confine as confinement  # noqa: E402
from grader.sandbox.outside import _linux, processes  # noqa: E402
from grader.sandbox.outside.launcher import plan_from_data  # noqa: E402

MAX_MESSAGE = 1 << 16


#: numpy's lazily imported submodules that scipy's array-API layer would import only to copy
#: them into its own numpy namespace (its ``clone_module`` runs ``from numpy import *`` and reads
#: every name ``dir(numpy)`` lists): tools no student answer uses, about 60 ms of the zygote's
#: start-up with their own imports (charset_normalizer, email, importlib.metadata). A child
#: that does use one imports it then, as a fresh interpreter would.
_COMPAT_SKIPS = frozenset({"f2py", "testing"})


@contextlib.contextmanager
def _numpy_names_without(numpy, names: frozenset[str]) -> Iterator[None]:
    """While active, ``numpy.__all__`` and ``dir(numpy)`` leave out ``names`` not imported yet; numpy's own after."""
    own_dir, own_all = numpy.__dict__.get("__dir__"), numpy.__dict__.get("__all__")
    names = {name for name in names if f"numpy.{name}" not in sys.modules}
    if own_dir is None or not isinstance(own_all, list) or not names:
        yield
        return
    numpy.__dir__ = lambda: [name for name in own_dir() if name not in names]
    numpy.__all__ = [name for name in own_all if name not in names]
    try:
        yield
    finally:
        numpy.__dir__, numpy.__all__ = own_dir, own_all


def preimport() -> None:
    """What every child would import anyway: numpy, scipy, matplotlib with pyplot (Agg), the child."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    import numpy  # noqa: F401

    with _numpy_names_without(numpy, _COMPAT_SKIPS):
        import scipy  # noqa: F401
        import scipy.linalg  # noqa: F401
        import scipy.special  # noqa: F401

    from grader.sandbox.inside import child  # noqa: F401

    # The grader's child-side modules that the trusted plugins import (guards, observer).
    for name in ("grader.guards.memory", "grader.guards.process", "grader.guards.shapes",
                 "grader.sandbox.inside.observe", "grader.sandbox.inside.scripts",
                 "grader.sandbox.inside.imports"):
        try:
            __import__(name)
        except ImportError:  # moved or renamed: the plugin imports it itself
            pass

    from grader.sandbox.inside import imports

    imports.record_preimported()
    # Never garbage: children's collections skip it and leave its pages shared. No
    # gc.collect() first: these imports leave no cyclic garbage (a full collection here found
    # none) and it cost ~45 ms of every start-up.
    gc.freeze()


def _close_other_fds(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _become_child(request: dict, fds: list[int]) -> tuple[int, int]:
    """What ``subprocess.Popen`` does for the exec'd child, done in the fork: descriptors and environment."""
    req_fd, resp_fd, out_fd, err_fd = fds[:4]
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    _close_other_fds({req_fd, resp_fd})  # the zygote's socket, other children's pipes
    os.environ.clear()
    os.environ.update(request["env"])
    sys.dont_write_bytecode = True
    return req_fd, resp_fd


def _after_confine() -> None:
    """Python's own state as a fresh interpreter would have it."""
    sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
    sys.stdin = open(0, "r", closefd=False)
    # A fresh interpreter draws new seeds; a fork would share the zygote's.
    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        # The state numpy.random.seed(None) leaves (first word 0x80000000, position 623, no cached
        # gaussian), the other words straight from the OS: seed(None) ran a 623-step Python loop
        # over numpy scalars, ~0.6 ms and ~170 page faults per child (set_state: ~0.4 ms, ~110).
        key = numpy.frombuffer(os.urandom(624 * 4), dtype=numpy.uint32).copy()
        key[0] = 0x80000000
        numpy.random.set_state(("MT19937", key, 623, 0, 0.0))


def _child(request: dict, fds: list[int], compiled: dict, in_namespace: bool = False, mount_point: str = "") -> None:
    """In the forked child: confine, then serve; never returns.

    ``in_namespace``: the zygote forked it as PID 2 of a namespace it made (whose init it keeps).
    ``mount_point``: the zygote's empty directory to build the child's root on, instead of the plan's.
    """
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        _linux.set_name("grader-child")
        req_fd, resp_fd = _become_child(request, fds)
        plan = plan_from_data(request["plan"])
        if mount_point:
            plan = dataclasses.replace(plan, root=mount_point)
        # Every layer, in this process: with the processes layer this returns in PID 2
        # of a new namespace, and the pid the zygote reaps mirrors its end.
        confinement.confine(plan, in_namespace=in_namespace)
        _linux.set_name("student")
        _after_confine()
        from grader.sandbox.inside import child

        child.serve_student(req_fd, resp_fd, Path(plan.workdir), compiled)
        code = 0
    except BaseException:  # noqa: BLE001 - the judge sees the exit status (and stderr)
        try:
            import traceback

            traceback.print_exc()
        except BaseException:  # noqa: BLE001
            pass
    finally:
        os._exit(code)


def mount_point() -> str:
    """The empty directory every child of this user's zygotes builds its root on, or "" (use the plan's).

    One per user under the temporary directory, shared by concurrent zygotes and
    kept (a zygote killed with its judge could not remove its own; removing a
    shared one would pull it from under another zygote's child). Used only if it
    is a real directory owned by this user that nobody else may write to (the
    temporary directory is sticky, so nobody else can replace it either).
    """
    path = os.path.join(tempfile.gettempdir(), f"grader-zygote-root-{os.geteuid()}")
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return ""
    try:
        st = os.lstat(path)
    except OSError:
        return ""
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
        return ""
    return path


class Zygote:
    """The zygote's loop: spawns on request, kills on a closed lifeline, reaps and reports."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        # pid -> (pidfd, lifeline read end, reply write end)
        self.children: dict[int, tuple[int, int, int]] = {}
        # pid of a child forked into a namespace of ours -> [init pid, init's pidfd, child's status or None]
        self.inits: dict[int, list] = {}
        self.namespaces = processes.Namespaces()
        # plugin path -> (source, code): compiled here once, executed only in children
        self.compiled: dict[str, tuple[str, object]] = {}
        # plugin path -> the stat signature its compiled entry was read under
        self._signatures: dict[str, tuple] = {}
        # a request's plugin path -> str(Path(it)), the key the child looks its plugin up by
        self._paths: dict[str, str] = {}
        # One empty directory for every child's new root (each mounts its tmpfs on it in its
        # own mount namespace): a directory made and removed on the host per child cost an
        # ext4 inode each time.
        self.mount_point = mount_point()

    def compile_plugins(self, paths) -> None:
        """Compiles (never runs) the trusted plugin files a spawn request names, when new or changed."""
        for path in paths if isinstance(paths, list) else ():
            try:
                path = self._paths.get(path) or self._paths.setdefault(path, str(Path(path)))
                # Re-read only a file whose stat changed: reading and comparing every plugin on
                # every spawn cost ~0.4 ms and ~100 page faults (all of the zygote's pages are
                # write-protected again after each fork). A stale entry is still never used:
                # the child compares its own reading of the file with the source kept here.
                st = os.stat(path)
                signature = (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
                if path in self.compiled and self._signatures.get(path) == signature:
                    continue
                from grader.sandbox.inside.child import compile_plugin

                source = Path(path).read_text(encoding="utf-8")
                if self.compiled.get(path, ("",))[0] != source:
                    self.compiled[path] = (source, compile_plugin(path, source))
                self._signatures[path] = signature
            except (OSError, ValueError, SyntaxError, TypeError):
                self.compiled.pop(str(path), None)  # the child reads it and reports as it always did
                self._signatures.pop(str(path), None)

    def spawn(self, request: dict, fds: list[int]) -> None:
        if len(fds) != 6:
            for fd in fds:
                os.close(fd)
            return
        reply, lifeline = fds[4], fds[5]
        self.compile_plugins(request.get("plugins", []))
        init = self._namespace(request)
        try:
            pid = os.fork()
        except BaseException:
            if init is not None:
                self.namespaces.leave()
                self._end_init(init)
                self.namespaces.release(init)
            raise
        if pid == 0:
            _child(request, fds, self.compiled, in_namespace=init is not None, mount_point=self.mount_point)
        if init is not None:
            self.namespaces.leave()
            self.inits[pid] = [init, os.pidfd_open(init), None]
        for fd in fds[:4]:
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        self.children[pid] = (pidfd, lifeline, reply)
        self._reply(reply, "pid", pid)

    def _namespace(self, request: dict) -> int | None:
        """A fresh PID namespace with its init for the next fork (the child's plan wants one), or None."""
        layers = request.get("plan", {}).get("layers", ())
        if not self.namespaces.available or "processes" not in layers:
            return None
        try:
            return self.namespaces.enter()
        except OSError:
            self.namespaces.available = False  # children supervise themselves, as before
            return None

    @staticmethod
    def _end_init(init: int) -> None:
        try:
            os.kill(init, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(init, 0)

    @staticmethod
    def _reply(fd: int, key: str, value: int) -> None:
        """Writes the JSON line ``{"key": value}`` (the bytes json.dumps gives, without its machinery)."""
        try:
            # After each fork every page the zygote writes faults once; json.dumps touched ~20.
            os.write(fd, b'{"%s": %d}\n' % (key.encode(), value))
        except OSError:
            pass  # the requester is gone; the child is still reaped

    def kill(self, pid: int) -> None:
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def reap(self, pid: int) -> None:
        """Reaps the child; answers once nothing of it is left (for ours: once its namespace is empty)."""
        pidfd, lifeline, reply = self.children[pid]
        _, status = os.waitpid(pid, 0)
        # Whatever the child started in its group goes with it.
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if pid in self.inits:
            # The supervisor is reaped first: the init waits for every pid of the namespace
            # to be freed before it can be reaped itself (then the namespace is empty).
            self.inits[pid][2] = status
            try:
                os.kill(self.inits[pid][0], signal.SIGKILL)
            except ProcessLookupError:
                pass
            return
        self._finish(pid, status)

    def reap_init(self, pid: int) -> None:
        """The init of ``pid``'s namespace ended: the namespace is empty; answers for the child."""
        init, init_fd, status = self.inits.pop(pid)
        os.waitpid(init, 0)
        os.close(init_fd)
        self.namespaces.release(init)
        self._finish(pid, status)

    def _finish(self, pid: int, status: int) -> None:
        pidfd, lifeline, reply = self.children.pop(pid)
        self._reply(reply, "exit", os.waitstatus_to_exitcode(status))
        for fd in (pidfd, lifeline, reply):
            os.close(fd)

    def serve(self) -> None:
        while True:
            by_fd = {}
            for pid, (pidfd, lifeline, _) in self.children.items():
                if pid in self.inits and self.inits[pid][2] is not None:
                    by_fd[self.inits[pid][1]] = ("init", pid)  # reaped; waiting for its namespace
                    continue
                by_fd[pidfd] = ("exited", pid)
                by_fd[lifeline] = ("lifeline", pid)
            ready = select.select([self.sock, *by_fd], [], [])[0]
            for fd in ready:
                if fd is self.sock:
                    try:
                        data, fds, _, _ = socket.recv_fds(self.sock, MAX_MESSAGE, 6)
                    except OSError:
                        data, fds = b"", []
                    if not data:
                        self.shutdown()
                        return
                    self.spawn(json.loads(data), fds)
                    continue
                what, pid = by_fd[fd]
                if pid not in self.children:
                    continue
                if what == "exited":
                    self.reap(pid)
                elif what == "init":
                    self.reap_init(pid)
                else:
                    try:
                        said = os.read(fd, 1)
                    except OSError:
                        said = b""
                    if said == b"T":
                        try:
                            os.kill(pid, signal.SIGTERM)
                        except ProcessLookupError:
                            pass
                    elif not said:
                        self.kill(pid)
                        self.reap(pid)

    def shutdown(self) -> None:
        for pid in list(self.children):
            if pid not in self.inits or self.inits[pid][2] is None:
                self.kill(pid)
                self.reap(pid)
            if pid in self.inits:
                self.reap_init(pid)


def main(argv: list[str]) -> None:
    """Entry point: ``zygote.py SOCK_FD``."""
    processes.die_with_parent()
    _linux.set_name("grader-zygote")
    sock = socket.socket(fileno=int(argv[1]))
    preimport()
    sock.send(b'{"ready": true}')
    Zygote(sock).serve()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
