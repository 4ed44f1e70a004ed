"""users.prlimit on a child under another uid: by lending the real ids (other PID namespace), or a helper."""

from __future__ import annotations

import os
import resource
import time

import pytest

from grader.sandbox.outside import _linux, users

#: A uid/gid no account uses: the target runs under it, as a sandboxed student does.
_ID = 1_600_000_321

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root, as the users layer does")


def _target(new_pid_namespace: bool):
    """Forks a process that sleeps under ``_ID``, in a new PID namespace if asked: (its pid here, the pid to reap)."""
    read_fd, write_fd = os.pipe()
    outer = os.fork()
    if outer == 0:
        try:
            if new_pid_namespace:
                _linux.unshare(_linux.CLONE_NEWPID)
            inner = os.fork()
            if inner == 0:
                os.setgroups([])
                os.setresgid(_ID, _ID, _ID)
                os.setresuid(_ID, _ID, _ID)
                os.write(write_fd, b"%d" % os.getpid())
                time.sleep(60)
                os._exit(0)
            if new_pid_namespace:
                os.waitpid(inner, 0)
        finally:
            os._exit(0)
    os.close(write_fd)
    seen_inside = int(os.read(read_fd, 32))
    os.close(read_fd)
    if not new_pid_namespace:
        os.waitpid(outer, 0)  # the target was re-parented; it is found by its own pid
        return seen_inside, None
    # Inside its namespace the target is pid 1's child; here it is the one process of that uid under outer.
    for _ in range(200):
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    status = open(f"/proc/{name}/status").read()
                except OSError:
                    continue
                if f"\nPPid:\t{outer}\n" in status and f"\nUid:\t{_ID}\t" in status:
                    return int(name), outer
        time.sleep(0.01)
    raise AssertionError("the target did not start")


def _kill(pid: int, outer: int | None) -> None:
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass
    if outer is not None:
        os.waitpid(outer, 0)


def _limit_as_seen_by_proc(pid: int) -> str:
    line = next(l for l in open(f"/proc/{pid}/limits") if l.startswith("Max address space"))
    return line.split()[3]


@pytest.mark.parametrize("new_pid_namespace", [True, False], ids=["other-pid-namespace", "same-pid-namespace"])
def test_the_limit_is_set_and_this_process_keeps_its_ids(new_pid_namespace, monkeypatch):
    helpers = []
    by_helper = users._prlimit_by_helper
    monkeypatch.setattr(users, "_prlimit_by_helper", lambda *a: (helpers.append(a), by_helper(*a))[1])
    pid, outer = _target(new_pid_namespace)
    try:
        before = os.getresuid(), os.getresgid()
        users.prlimit(pid, resource.RLIMIT_AS, (1 << 34, 1 << 34))
        assert users.prlimit(pid, resource.RLIMIT_AS) == (1 << 34, 1 << 34)
        assert _limit_as_seen_by_proc(pid) == str(1 << 34)
        assert (os.getresuid(), os.getresgid()) == before == ((0, 0, 0), (0, 0, 0))
        # Where nothing in the target's namespace can name this process, the ids are lent instead of
        # forking this whole process; in the same namespace the helper stays (it could be signalled).
        made_by_helper = bool(helpers)
        if _plain_prlimit_refused(pid):
            assert made_by_helper == (not new_pid_namespace)
            # Raising a hard limit needs CAP_SYS_RESOURCE, which neither way gives: still refused,
            # and the ids come back.
            with pytest.raises(PermissionError):
                users.prlimit(pid, resource.RLIMIT_AS, (1 << 35, 1 << 35))
            assert (os.getresuid(), os.getresgid()) == before
    finally:
        _kill(pid, outer)
    if outer is not None:  # reaped by outer (the other one is left to whoever adopted it)
        with pytest.raises(ProcessLookupError):
            users.prlimit(pid, resource.RLIMIT_AS)


def _plain_prlimit_refused(pid: int) -> bool:
    """Whether this machine refuses root a prlimit on another uid (no CAP_SYS_RESOURCE): only then do the two ways run."""
    try:
        resource.prlimit(pid, resource.RLIMIT_AS)
        return False
    except PermissionError:
        return True
