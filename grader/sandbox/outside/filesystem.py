"""Filesystem layer: the child sees a minimal root, not the grader's machine.

Inside a private mount namespace, :func:`enter` builds a new root on a
tmpfs and ``pivot_root``\\ s into it, so everything not mounted there stops
existing for the child (there is no path back: the old root is detached).
The new root holds:

* the system's library and binary directories (``/usr``, ``/lib*``, ``/bin``,
  ``/sbin``) and the Python installation (prefixes, site-packages),
  read-only, at their usual paths;
* the ``grader`` package alone (not its checkout: ``rubrics/``,
  ``reference/``, ``tests/`` stay invisible), read-only, plus any single
  trusted file the caller lists (the rubric's child plugins);
* the student's working copy, writable, at its real path (so tracebacks
  and ``file:line`` feedback name the same files the judge knows);
* an *outbox* for files the judge collects afterwards (figures), writable,
  mounted at the path the judge asked the child to write to;
* a private ``/tmp`` and ``/dev/shm`` (small tmpfs), ``/dev/null``,
  ``zero``, ``full``, ``random``, ``urandom``, a fresh ``/proc`` showing only
  the child's PID namespace, and a synthetic ``/etc`` (``passwd``,
  ``group``, the dynamic loader's cache, time zone, fonts).

Paths the caller wants hidden (the grader's checkout, ``$HOME``) are masked
with an empty read-only tmpfs when a bound system directory happens to
contain them (a checkout in ``/usr/src/app``, say).
"""

from __future__ import annotations

import functools
import os
import site
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path

from grader.sandbox.outside import _linux
from grader.sandbox.outside._linux import MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC, MS_REMOUNT

#: System directories the dynamic loader and the interpreter need.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")

#: Files (or directories) of /etc that are safe and useful to show.
ETC_ENTRIES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "fonts")

#: Devices the child may open.
DEVICES = ("null", "zero", "full", "random", "urandom")

_STATVFS_TO_MS = ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
                  (1024, 1024), (2048, 2048), (4096, 1 << 21))  # noatime, nodiratime, relatime


@dataclass(frozen=True)
class Bind:
    """One host path shown inside the view."""

    source: str
    """The host path."""

    target: str
    """Where the child sees it (usually the same path)."""

    writable: bool = False
    """Read-write (the working copy, the outbox) instead of read-only."""


@dataclass(frozen=True)
class View:
    """What the child's filesystem holds; everything else is absent."""

    binds: tuple[Bind, ...]
    """Host paths shown, in mount order (parents before children)."""

    hidden: tuple[str, ...] = ()
    """Host paths masked if a bound directory contains them."""

    tmp_bytes: int = 64 * 1024 * 1024
    """Size of the private ``/tmp``."""

    user: tuple[int, int] = (65534, 65534)
    """uid and gid named in the synthetic ``/etc/passwd``."""

    tmp_files: tuple[tuple[str, str], ...] = ()
    """``(host file, path under /tmp)`` copied into the private ``/tmp`` (caches the child would rebuild)."""


def python_dirs() -> list[str]:
    """The interpreter's installation directories and site-packages, deduplicated."""
    return list(_python_dirs())


@functools.lru_cache(maxsize=None)
def _python_dirs() -> tuple[str, ...]:
    # The same for the whole life of the process; the judge asked for it once per child
    # (six realpaths, ~50 lstat calls each time).
    candidates = [sys.base_prefix, sys.prefix, sys.base_exec_prefix, sys.exec_prefix, *site.getsitepackages()]
    user_site = site.getusersitepackages()
    if isinstance(user_site, str):
        candidates.append(user_site)
    candidates.append(os.path.dirname(os.path.realpath(sys.executable)))
    return tuple(_outermost([os.path.realpath(p) for p in candidates if p and os.path.isdir(p)]))


def default_view(
    *,
    workdir: Path,
    package_dir: Path,
    readable: tuple[Path, ...] = (),
    outbox: tuple[Path, Path] | None = None,
    hidden: tuple[Path, ...] = (),
    user: tuple[int, int] = (65534, 65534),
    tmp_files: tuple[tuple[str, str], ...] = (),
) -> View:
    """The view for a student child.

    Args:
        workdir: the working copy (writable).
        package_dir: the ``grader`` package directory (read-only).
        readable: extra trusted files to show read-only (child plugins).
        outbox: ``(host_dir, path_inside)``: a writable folder the child sees at ``path_inside``.
        hidden: host paths to mask if a system bind contains them.
        user: the child's uid and gid, for ``/etc/passwd``.
        tmp_files: ``(host file, path under /tmp)`` to copy into the private ``/tmp``.
    """
    binds = [Bind(d, d) for d in SYSTEM_DIRS if os.path.isdir(d) and not os.path.islink(d)]
    bound = [b.source for b in binds]
    binds += [Bind(p, p) for p in python_dirs() if not _inside_any(p, bound)]
    trusted = [Bind(str(package_dir), str(package_dir))]
    trusted += [Bind(str(p), str(p)) for p in readable]
    writable = [Bind(str(workdir), str(workdir), writable=True)]
    if outbox is not None:
        writable.append(Bind(str(outbox[0]), str(outbox[1]), writable=True))
    late = sorted(trusted + writable, key=lambda b: b.target.count("/"))
    home = os.path.expanduser("~")
    masks = tuple(dict.fromkeys([str(package_dir.parent), home, *map(str, hidden)]))
    return View(binds=tuple(binds) + tuple(late), hidden=masks, user=user, tmp_files=tmp_files)


def enter(view: View, root: str) -> None:
    """Builds ``view`` on a tmpfs at ``root`` and makes it the process's ``/``.

    Must run in a fresh mount namespace, as root of that namespace, and (for
    a ``/proc`` that shows only the sandbox) in the child's PID namespace.
    Changes the working directory to ``/``.

    Raises:
        OSError: a mount failed; the message names it.
    """
    os.makedirs(root, exist_ok=True)
    # Our mounts must not propagate back to the host, nor the host's to us.
    _linux.mount(None, "/", None, MS_REC | _linux.MS_PRIVATE)
    _linux.mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m")
    system = [b for b in view.binds if not b.writable and b.source in SYSTEM_DIRS]
    for name in SYSTEM_DIRS:
        if os.path.islink(name):
            os.symlink(os.readlink(name), root + name)
    for bind in system:
        _bind(root, bind)
    _populate_etc(root, view.user)
    _mount_tmpfs(root + "/tmp", "mode=1777,size=%d" % view.tmp_bytes)
    _seed_tmp(root, view.tmp_files)
    _populate_dev(root)
    os.makedirs(root + "/proc", exist_ok=True)
    _linux.mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    rest = [b for b in view.binds if b not in system]
    bound = [b.source for b in view.binds if not b.writable]
    masks = [h for h in view.hidden if _inside_any(h, bound) and h not in bound and os.path.isdir(h)]
    for mask in masks:
        _mount_tmpfs(root + mask, "mode=0755,size=1m")
    for bind in rest:
        _bind(root, bind)
    for mask in masks:
        _linux.mount(None, root + mask, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    old = root + "/.old-root"
    os.makedirs(old, exist_ok=True)
    _linux.pivot_root(root, old)
    os.chdir("/")
    _linux.umount("/.old-root", _linux.MNT_DETACH)
    os.rmdir("/.old-root")
    # The skeleton itself (mount points, /etc) is read-only too.
    _linux.mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _bind(root: str, bind: Bind, extra: int = MS_NOSUID | MS_NODEV) -> None:
    target = root + bind.target
    if os.path.isdir(bind.source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            open(target, "wb").close()
    _linux.mount(bind.source, target, None, MS_BIND | MS_REC)
    flags = MS_REMOUNT | MS_BIND | extra | _locked_flags(target)
    if not bind.writable:
        flags |= MS_RDONLY
    _linux.mount(None, target, None, flags)


def _locked_flags(path: str) -> int:
    """Mount flags a user namespace may not clear on remount (they must be repeated)."""
    got = os.statvfs(path).f_flag
    return sum(ms for st, ms in _STATVFS_TO_MS if got & st)


def _mount_tmpfs(target: str, options: str) -> None:
    os.makedirs(target, exist_ok=True)
    _linux.mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, options)


def _seed_tmp(root: str, files: tuple[tuple[str, str], ...]) -> None:
    for host, inside in files:
        target = os.path.normpath(root + "/tmp/" + inside)
        if not target.startswith(root + "/tmp/") or not os.path.isfile(host):
            continue
        folder = os.path.dirname(target)
        os.makedirs(folder, exist_ok=True)
        os.chmod(folder, 0o1777)  # the job's uid writes beside it (the private /tmp holds only this job)
        with open(host, "rb") as src, open(target, "wb") as dst:
            dst.write(src.read())
        os.chmod(target, 0o644)


def _populate_dev(root: str) -> None:
    dev = root + "/dev"
    os.makedirs(dev, exist_ok=True)
    _linux.mount("tmpfs", dev, "tmpfs", MS_NOSUID, "mode=0755,size=64k")
    for name in DEVICES:
        if os.path.exists("/dev/" + name):
            _bind(root, Bind("/dev/" + name, "/dev/" + name, writable=True), extra=MS_NOSUID)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{dev}/{name}")
    _mount_tmpfs(dev + "/shm", "mode=1777,size=16m")


def _populate_etc(root: str, user: tuple[int, int]) -> None:
    etc = root + "/etc"
    os.makedirs(etc, exist_ok=True)
    uid, gid = user
    with open(etc + "/passwd", "w", encoding="ascii") as fh:
        fh.write(f"root:x:0:0:root:/:/bin/false\nstudent:x:{uid}:{gid}:student:/tmp:/bin/false\n")
    with open(etc + "/group", "w", encoding="ascii") as fh:
        fh.write(f"root:x:0:\nstudent:x:{gid}:\n")
    for name in ETC_ENTRIES:
        host = "/etc/" + name
        if os.path.islink(host):
            os.symlink(os.readlink(host), f"{etc}/{name}")
        elif os.path.exists(host):
            _bind(root, Bind(host, host))


def _inside_any(path: str, parents: list[str]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in parents)


def _outermost(paths: list[str]) -> list[str]:
    """Drops paths inside another listed path; keeps order."""
    unique = list(dict.fromkeys(paths))
    return [p for p in unique if not _inside_any(p, [q for q in unique if q != p])]


def chown_tree(path: str, uid: int, gid: int) -> None:
    """Gives a tree to the job's user without following symlinks (they may point anywhere)."""
    os.lchown(path, uid, gid)
    for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
        for name in dirnames + filenames:
            try:
                os.lchown(os.path.join(dirpath, name), uid, gid)
            except FileNotFoundError:
                pass


def is_regular_file(path: Path) -> bool:
    """True for a regular file that is not a symlink (what the judge may copy out of an outbox)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False
