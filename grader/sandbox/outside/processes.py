"""Process layer: a PID namespace per child, so killing it kills everything it started.

After ``unshare(CLONE_NEWPID)`` the caller forks a minimal init (PID 1 of
the namespace), which forks the process that goes on to run student code.
When that process ends, the init reports its status and exits, and the
kernel kills every other process in the namespace, double-forked or
``setsid`` daemons included; none of them can see or signal a process
outside it, nor the init. The caller stays outside as a small *supervisor*:
it closes every file descriptor it inherited (so the child's pipes see EOF
when the child dies), waits, and exits the way the student's process did
(same exit status or same signal), so whoever started it learns the child's
fate unchanged. SIGTERM to the supervisor kills the namespace and waits
until it is empty, which makes stopping a child synchronous. Each dies when
its parent does (``PR_SET_PDEATHSIG``).

A zygote running as root forks its children more cheaply
(:class:`Namespaces`): it creates the PID namespace itself, starts a minimal
init in it (``cat`` reading a pipe only the zygote writes to, so it ends when
the zygote does; spawned without copying the zygote's memory) and forks the
child straight into it as PID 2, then
returns to its own namespace. That child stays as the supervisor
(:func:`fork_supervised_in_namespace`), inside the namespace but root-owned,
and forks the process that runs student code (PID 3, whose parent is visible
to it and cannot be signalled by it, as before). The zygote reaps the
supervisor, then kills the init, which the kernel lets be reaped only once
every pid of the namespace is free. Two forks of the zygote per child instead
of three.
"""

from __future__ import annotations

import os
import resource
import shutil
import select
import signal
import time

from grader.sandbox.outside import _linux

#: Namespace flags this layer adds (SysV IPC and hostname go with the PID namespace).
FLAGS = _linux.CLONE_NEWPID | _linux.CLONE_NEWIPC | _linux.CLONE_NEWUTS

#: What the layer guarantees, for ``grade --sandbox-info``.
DESCRIPTION = "processes: own PID namespace (nothing survives the child; other processes invisible)"

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

#: Seconds the init gets to report after a stop request before it is killed outright.
STOP_GRACE_SECONDS = 5.0


#: The init of a zygote's namespace: ``cat`` with its input a pipe that only the zygote writes to.
#: It has no signal handlers (so, as PID 1, ignores every signal sent from inside), and it reads
#: end-of-file, so exits, when the zygote closes its end or dies. It was ``sleep`` under
#: ``setpriv --pdeathsig``: two programs to start, each loader asking the CPU what it is, which
#: traps to the hypervisor on a virtual machine (1.97 ms of CPU per child here; ``cat``: 0.82 ms).
_INIT_PROGRAM = "cat"


class Namespaces:
    """A zygote's maker of PID namespaces, one per child, each with a minimal init.

    ``available`` is False off Linux, when not root (``setns`` back to the
    zygote's own namespace needs ``CAP_SYS_ADMIN``; a user-namespace sandbox
    keeps the three-process layout of :func:`fork_supervised`) or when
    ``cat`` is missing; the caller then forks as before.
    """

    def __init__(self) -> None:
        self._own: int | None = None
        self._program = shutil.which(_INIT_PROGRAM, path="/usr/bin:/bin")
        # init pid -> the write end of its input pipe (the init lives while it is open)
        self._lifelines: dict[int, int] = {}
        self.available = _linux.libc is not None and os.geteuid() == 0 and self._program is not None

    def enter(self) -> int:
        """Creates a PID namespace and starts its init; the caller's next fork becomes its PID 2.

        Returns the init's pid. Call :meth:`leave` right after that fork, and
        :meth:`release` once the init is reaped.

        Raises:
            OSError: the namespace or its init could not be made (the caller's state is unchanged).
        """
        if self._own is None:
            self._own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        _linux.unshare(_linux.CLONE_NEWPID)
        try:
            # Both ends close on exec; the zygote's forked children close every descriptor
            # but their own pipes at once (zygote._become_child), so only the zygote keeps it.
            lifeline_r, lifeline_w = os.pipe()
            try:
                # posix_spawn does not copy the zygote's memory; the init must not hold
                # any of the zygote's descriptors (a child's pipe would never see EOF).
                actions = [(os.POSIX_SPAWN_DUP2, lifeline_r, 0),
                           (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0), (os.POSIX_SPAWN_DUP2, 1, 2)]
                actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inheritable_fds() if fd > 2]
                init = os.posix_spawn(self._program, [self._program], {}, file_actions=actions, setsid=True)
            except BaseException:
                os.close(lifeline_w)
                raise
            finally:
                os.close(lifeline_r)
            self._lifelines[init] = lifeline_w
            return init
        except BaseException:
            self.leave()
            raise

    def release(self, init: int) -> None:
        """Closes the zygote's end of ``init``'s pipe (call once the init is reaped)."""
        fd = self._lifelines.pop(init, None)
        if fd is not None:
            os.close(fd)

    def leave(self) -> None:
        """Makes the caller's later forks land in its own PID namespace again."""
        _linux.setns(self._own, _linux.CLONE_NEWPID)


def _inheritable_fds() -> list[int]:
    fds = []
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.get_inheritable(int(name)):
                fds.append(int(name))
        except OSError:
            pass  # the listing's own descriptor, closed by now
    return fds


def die_with_parent() -> None:
    """Asks the kernel to SIGKILL this process when its parent dies (cleared by uid changes: call again)."""
    if _linux.libc is not None:
        _linux.prctl(_linux.PR_SET_PDEATHSIG, signal.SIGKILL)


def fork_supervised() -> None:
    """Forks after ``unshare(CLONE_NEWPID)``; returns only in the process that will run student code.

    Three processes result: the caller stays outside as the supervisor;
    its child is PID 1 of the namespace, a minimal init that reaps orphans
    and reports how the student's process ended; that init's child returns
    from this function. Student code is never PID 1, so signals behave for it
    as they do anywhere else (``os.kill(os.getpid(), SIGSEGV)`` kills it).
    """
    alive_r, alive_w = os.pipe()
    status_r, status_w = os.pipe()
    init = os.fork()
    if init != 0:
        os.close(alive_r)
        os.close(status_w)
        _supervise(init, keep=(alive_w, status_r), status_fd=status_r)  # never returns
    os.close(alive_w)
    os.close(status_r)
    die_with_parent()
    check_supervisor(alive_r)
    student = os.fork()
    if student != 0:
        _init(student, keep=(alive_r, status_w), status_fd=status_w)  # never returns
    os.close(alive_r)
    os.close(status_w)
    die_with_parent()
    os.setsid()  # its own group: killpg(0) from student code cannot reach the init


def fork_supervised_in_namespace() -> None:
    """As :func:`fork_supervised`, in PID 2 of a namespace a zygote made (and whose init it keeps).

    The caller stays as the supervisor (mirrors the student's end; SIGTERM kills
    the student and waits for it); the student's process (PID 3) returns.
    """
    alive_r, alive_w = os.pipe()
    student = os.fork()
    if student != 0:
        os.close(alive_r)
        _supervise_child(student, keep=(alive_w,))  # never returns
    os.close(alive_w)
    die_with_parent()
    check_supervisor(alive_r)
    os.close(alive_r)
    os.setsid()  # its own group: killpg(0) from student code cannot reach the supervisor


def _become_supervisor(keep: tuple[int, ...]) -> set:
    """A supervisor's set-up: only ``keep`` open, no core dumps, SIGCHLD and stop signals blocked (returned)."""
    _linux.set_name("grader-superv")
    _close_all_but(keep)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    waited = {signal.SIGCHLD, *_STOP_SIGNALS}
    signal.pthread_sigmask(signal.SIG_BLOCK, waited)
    return waited


def _supervise_child(student: int, keep: tuple[int, ...]) -> None:
    waited = _become_supervisor(keep)
    while True:
        got, status = os.waitpid(student, os.WNOHANG)
        if got == student:
            break
        if signal.sigwait(waited) in _STOP_SIGNALS:
            try:
                os.kill(student, signal.SIGKILL)  # what it started dies with the namespace's init
            except ProcessLookupError:
                pass
    _mirror(status)


def check_supervisor(alive_fd: int) -> None:
    """Exits at once if the supervisor died before our death signal was armed."""
    if select.select([alive_fd], [], [], 0)[0]:
        os._exit(111)


def _close_all_but(keep: tuple[int, ...]) -> None:
    # Nothing of the caller's survives here: no pipe end stays open on the child's behalf.
    low = 0
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 16)


def _init(student: int, keep: tuple[int, ...], status_fd: int) -> None:
    """PID 1: reaps everything; when the student's process ends, reports its status and exits (emptying the namespace).

    SIGTERM from the supervisor kills the student's process first, so one
    that already died (a segfault) is reported as it died, not as killed.
    Signals from inside the namespace never reach it: the kernel drops those
    an init has no handler for, and it has none (it waits for them blocked).
    """
    _linux.set_name("grader-init")
    _close_all_but(keep)
    waited = {signal.SIGCHLD, *_STOP_SIGNALS}
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_BLOCK, waited)
    while True:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                os._exit(1)
            if pid == 0:
                break
            if pid == student:
                os.write(status_fd, status.to_bytes(4, "little", signed=True))
                os._exit(0)
        if signal.sigwait(waited) in _STOP_SIGNALS:
            try:
                os.kill(student, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _supervise(init: int, keep: tuple[int, ...], status_fd: int) -> None:
    waited = _become_supervisor(keep)
    deadline = None
    while True:
        got, status = os.waitpid(init, os.WNOHANG)
        if got == init:
            break
        if deadline is None:
            sig = signal.sigwait(waited)
        else:
            remaining = deadline - time.monotonic()
            info = signal.sigtimedwait(waited, remaining) if remaining > 0 else None
            if info is None:
                # The init did not finish in time: kill it, and with it the namespace.
                os.kill(init, signal.SIGKILL)
                status = os.waitpid(init, 0)[1]
                break
            sig = info.si_signo
        if sig in _STOP_SIGNALS and deadline is None:
            os.kill(init, signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE_SECONDS
    reported = os.read(status_fd, 4)
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 and len(reported) == 4:
        status = int.from_bytes(reported, "little", signed=True)
    _mirror(status)


def _mirror(status: int) -> None:
    """Ends this process the way ``status`` says the student's did (same code, or same signal)."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


def student_pid(supervisor: int) -> int | None:
    """The host pid of the process that runs student code under ``supervisor`` (PID 2 of its namespace).

    Guards that watch the student's process from outside (``/proc``,
    ``prlimit``) need this pid, not the supervisor's. In a namespace of a
    zygote's making (:class:`Namespaces`) the supervisor is PID 2 and the
    student's process its child, PID 3.
    """
    if _namespace_pid(supervisor) == 2:
        return next(iter(_children(supervisor)), None)
    for init in _children(supervisor):
        for pid in _children(init):
            try:
                status = open(f"/proc/{pid}/status", encoding="ascii").read()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("NSpid:") and line.split()[-1] == "2":
                    return pid
    return None


def _namespace_pid(pid: int) -> int | None:
    """``pid``'s pid in its innermost PID namespace, if that is deeper than ours; else None."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            theirs = next((line.split()[1:] for line in fh if line.startswith("NSpid:")), [])
        with open("/proc/self/status", encoding="ascii") as fh:
            ours = next((line.split()[1:] for line in fh if line.startswith("NSpid:")), [])
    except OSError:
        return None
    return int(theirs[-1]) if len(theirs) > len(ours) >= 1 else None


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


def threads_of_user(uid: int) -> int:
    """Counts the tasks (threads) of ``uid``, which ``RLIMIT_NPROC`` counts."""
    count = 0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid == uid:
                count += len(os.listdir(f"/proc/{entry}/task"))
        except OSError:
            continue
    return count
