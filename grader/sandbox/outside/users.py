"""User layer: student code never runs as the grader's user.

When the grader runs as root (CI, Gradescope), each child drops to an
unprivileged uid/gid of its own, derived from the id of the process that owns
the job (unique among live processes, so concurrent jobs never share one and
cannot signal or read each other). The working copy is handed to that uid
first, so the student's code can write it and nothing else. Without root,
the child keeps the TA's uid inside a user namespace (which is what lets the
other layers work unprivileged) and loses every capability.
"""

from __future__ import annotations

import os
import resource

from grader.sandbox.outside import _linux

#: First uid/gid used for jobs; job ids are ``BASE + owner pid``.
BASE_ID = 1_600_000_000

#: What the layer guarantees, for ``grade --sandbox-info``.
DESCRIPTION = "users: an unprivileged uid/gid per concurrent job (root only)"


def job_ids(owner_pid: int) -> tuple[int, int]:
    """The uid and gid for the job owned by process ``owner_pid``."""
    return BASE_ID + owner_pid, BASE_ID + owner_pid


def enter_user_namespace(extra_flags: int) -> None:
    """Unshares a user namespace (plus ``extra_flags``) mapping our own uid and gid to themselves."""
    uid, gid = os.getuid(), os.getgid()
    _linux.unshare(_linux.CLONE_NEWUSER | extra_flags)
    with open("/proc/self/setgroups", "w") as fh:
        fh.write("deny")
    with open("/proc/self/uid_map", "w") as fh:
        fh.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as fh:
        fh.write(f"{gid} {gid} 1")


def drop_to(uid: int, gid: int) -> None:
    """Becomes ``uid``/``gid`` with no supplementary groups (requires root); capabilities go with root."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def drop_capabilities() -> None:
    """Clears every capability (in a user namespace the process holds all of them)."""
    _linux.drop_all_capabilities()


def forbid_new_privileges() -> None:
    """No setuid binary or file capability can give privileges back (``PR_SET_NO_NEW_PRIVS``)."""
    if _linux.libc is not None:
        _linux.prctl(_linux.PR_SET_NO_NEW_PRIVS, 1)


def prlimit(pid: int, which: int, limits: tuple[int, int] | None = None) -> tuple[int, int]:
    """``resource.prlimit`` on a child that may run under its job's uid.

    Changing another uid's limits needs ``CAP_SYS_RESOURCE``, which containers
    often withhold even from root; a caller whose real uid and gid are the
    target's may always do it. So on refusal, as root, the call is made under
    the target's real ids: by this process itself for a target in another PID
    namespace (:func:`_as_real_ids`), otherwise by a forked helper that takes
    the target's ids.

    Raises:
        ProcessLookupError: the process is gone.
        PermissionError: neither way was allowed.
    """
    try:
        return _prlimit(pid, which, limits)
    except PermissionError:
        if os.geteuid() != 0:
            raise
    ids = _ids_of(pid)
    if _in_other_pid_namespace(pid):
        try:
            return _as_real_ids(ids, lambda: _prlimit(pid, which, limits))
        except PermissionError:
            pass  # refused even so (a security module?): the helper's way, as before
    return _prlimit_by_helper(pid, which, limits, ids)


def _prlimit(pid: int, which: int, limits: tuple[int, int] | None) -> tuple[int, int]:
    return resource.prlimit(pid, which, limits) if limits is not None else resource.prlimit(pid, which)


def _in_other_pid_namespace(pid: int) -> bool:
    """Whether ``pid`` lives in another PID namespace than this process (so it cannot name this process)."""
    try:
        return os.readlink(f"/proc/{pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
    except FileNotFoundError:
        raise ProcessLookupError(pid) from None
    except OSError:
        return False


def _as_real_ids(ids: tuple[int, int], call):
    """Runs ``call`` with this process's real uid and gid set to ``ids``, effective ids left root.

    The kernel lets a caller change another process's limits when the caller's
    real ids are the target's; only those are lent, for the two system calls of
    ``call``: the effective and saved ids stay 0, so nothing else about this
    process changes (its capabilities, who owns its files, whether it can be
    traced). During the call the target's uid could signal this process, which
    is why it is used only for a target in another PID namespace: from there no
    pid names this process. The ids are restored even if ``call`` raises.
    """
    uid, gid = os.getresuid()[0], os.getresgid()[0]
    os.setresgid(ids[1], -1, -1)
    try:
        os.setresuid(ids[0], -1, -1)
        try:
            return call()
        finally:
            os.setresuid(uid, -1, -1)
    finally:
        os.setresgid(gid, -1, -1)


def _prlimit_by_helper(pid: int, which: int, limits: tuple[int, int] | None, ids: tuple[int, int]) -> tuple[int, int]:
    """The call made by a forked helper that takes ``pid``'s real ``ids`` (a fork of this whole process)."""
    read_fd, write_fd = os.pipe()
    helper = os.fork()
    if helper == 0:
        os.close(read_fd)
        try:
            os.setgroups([])
            os.setresgid(ids[1], ids[1], ids[1])
            os.setresuid(ids[0], ids[0], ids[0])
            got = _prlimit(pid, which, limits)
            os.write(write_fd, f"ok {got[0]} {got[1]}".encode())
        except ProcessLookupError:
            os.write(write_fd, b"gone")
        except BaseException as exc:  # noqa: BLE001 - reported to the caller
            os.write(write_fd, f"error {exc}".encode())
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as fh:
        answer = fh.read().decode()
    os.waitpid(helper, 0)
    if answer.startswith("ok "):
        soft, hard = answer.split()[1:]
        return int(soft), int(hard)
    if answer == "gone":
        raise ProcessLookupError(pid)
    raise PermissionError(f"prlimit({pid}) refused: {answer}")


def _ids_of(pid: int) -> tuple[int, int]:
    """The real uid and gid of ``pid`` (from ``/proc``)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            fields = dict(line.split(":", 1) for line in fh if ":" in line)
    except FileNotFoundError:
        raise ProcessLookupError(pid) from None
    return int(fields["Uid"].split()[0]), int(fields["Gid"].split()[0])
