"""Thin ctypes bindings for the Linux system calls the OS layers use.

Each wrapper raises :class:`OSError` with the errno and the call it made, so
a layer that cannot be applied says exactly why. Importing this module never
fails; :data:`libc` is None off Linux.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
PR_SET_NO_NEW_PRIVS = 38

_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(os.uname().machine) if hasattr(os, "uname") else None
_SYS_CAPSET = {"x86_64": 126, "aarch64": 91}.get(os.uname().machine) if hasattr(os, "uname") else None


def _load_libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


#: The C library, or None where these calls do not exist.
libc = _load_libc()


def _check(result: int, what: str) -> int:
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def _need_libc():
    if libc is None:
        raise OSError(errno.ENOSYS, "not Linux: no namespaces")
    return libc


def unshare(flags: int) -> None:
    """Moves the calling process into new namespaces (``unshare(2)``)."""
    _check(_need_libc().unshare(ctypes.c_int(flags)), f"unshare({flags:#x})")


def setns(fd: int, nstype: int) -> None:
    """Joins the namespace ``fd`` refers to (``setns(2)``); for a PID namespace, the one future children join."""
    _check(_need_libc().setns(ctypes.c_int(fd), ctypes.c_int(nstype)), f"setns({nstype:#x})")


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    """``mount(2)``."""
    enc = lambda s: None if s is None else os.fsencode(s)  # noqa: E731
    _check(
        _need_libc().mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
        f"mount({source!r}, {target!r}, {fstype!r}, {flags:#x})",
    )


def umount(target: str, flags: int = 0) -> None:
    """``umount2(2)``."""
    _check(_need_libc().umount2(os.fsencode(target), ctypes.c_int(flags)), f"umount2({target!r})")


def pivot_root(new_root: str, put_old: str) -> None:
    """``pivot_root(2)`` (no libc wrapper exists, so through ``syscall``)."""
    if _SYS_PIVOT_ROOT is None:
        raise OSError(errno.ENOSYS, "pivot_root: unknown syscall number on this machine")
    _check(
        _need_libc().syscall(ctypes.c_long(_SYS_PIVOT_ROOT), os.fsencode(new_root), os.fsencode(put_old)),
        "pivot_root",
    )


def prctl(option: int, value: int) -> None:
    """``prctl(2)`` with one argument."""
    _check(
        _need_libc().prctl(ctypes.c_int(option), ctypes.c_ulong(value), ctypes.c_ulong(0), ctypes.c_ulong(0),
                           ctypes.c_ulong(0)),
        f"prctl({option})",
    )


def set_name(name: str) -> None:
    """Names the calling thread (``comm``, at most 15 bytes) as ``ps``, ``top`` and ``perf`` show it.

    Best effort: a no-op off Linux, and a failure is ignored (a name is a
    diagnostic, never a sandbox layer).
    """
    if libc is None:
        return
    libc.prctl(ctypes.c_int(PR_SET_NAME), ctypes.c_char_p(name.encode()[:15]), ctypes.c_ulong(0),
               ctypes.c_ulong(0), ctypes.c_ulong(0))


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_all_capabilities() -> None:
    """Clears the effective, permitted and inheritable capability sets (``capset(2)``)."""
    if _SYS_CAPSET is None:
        raise OSError(errno.ENOSYS, "capset: unknown syscall number on this machine")
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3: two 32-bit words
    data = (_CapData * 2)()
    _check(_need_libc().syscall(ctypes.c_long(_SYS_CAPSET), ctypes.byref(header), data), "capset")
