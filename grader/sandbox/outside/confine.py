"""Applies every OS layer to a freshly forked process: :func:`confine`.

This is the one entry point that puts a process in the sandbox, used by
:class:`~grader.sandbox.outside.session.ChildSession` as the ``preexec_fn``
of the exec'd child and usable as is by a pre-imported zygote that forks per
job::

    plan = confine.plan_for(workdir=..., rlimits=..., readable=plugin_files, ...)
    pid = os.fork()
    if pid == 0:
        confine.confine(plan)   # from here on: confined, PID 1 of its namespace
        run_student_code()
    # the parent sees ``pid`` exit (or die) exactly as the confined process did

It uses ``unshare(2)``, ``mount(2)`` and ``pivot_root(2)`` through ctypes
rather than bubblewrap: bwrap can only confine a program it then *execs*, so a
zygote that forks a pre-imported interpreter could not use it without paying
the interpreter start-up it exists to avoid; the system calls work in the
forked process directly, in tens of milliseconds, with no extra binary.

Which layers the machine allows is found once per process by :func:`probe`
(forked trials, cached); ``GRADER_SANDBOX=rlimits`` forces every OS layer off
(for tests of the degraded path, or to debug a submission).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.sandbox.outside import _linux, filesystem, network, processes, users
from grader.sandbox.outside.filesystem import View
from grader.sandbox.outside.limits import Rlimits

#: The OS layers, in the order they are reported; rlimits always apply.
LAYERS = ("filesystem", "network", "processes", "users")

#: Environment variable that forces the sandbox down (``rlimits``) or states it explicitly (``auto``).
MODE_VARIABLE = "GRADER_SANDBOX"

_DESCRIPTIONS = {
    "filesystem": "filesystem: private root (Python read-only, working copy writable, private /tmp; "
                  "class folder, reports, $HOME, rubrics/, reference/ invisible)",
    "network": network.DESCRIPTION,
    "processes": processes.DESCRIPTION,
    "users": users.DESCRIPTION,
    "rlimits": "rlimits: address space, CPU time, file size, no core dumps, processes, open files",
}


class ConfinementError(RuntimeError):
    """A layer the plan asked for could not be applied (the process must not run student code)."""


@dataclass(frozen=True)
class SandboxInfo:
    """Which layers this machine gives a child, and why the others are missing."""

    active: tuple[str, ...]
    """OS layers that will be applied (``rlimits`` is always applied and not listed)."""

    missing: dict[str, str] = field(default_factory=dict)
    """Layer → why it is unavailable."""

    forced: bool = False
    """The layers were turned off on purpose (``GRADER_SANDBOX=rlimits``)."""

    def warning(self) -> str | None:
        """One line naming what is missing, or None when every layer is active."""
        if not self.missing:
            return None
        what = "; ".join(f"{layer} ({why})" for layer, why in self.missing.items())
        return (
            f"grader: WARNING: sandbox degraded, student code runs without: {what}. "
            "Active: " + (", ".join(self.active + ("rlimits",))) + ". See README 'What the sandbox guarantees'."
        )

    def describe(self) -> str:
        """Multi-line text for ``grade --sandbox-info``."""
        lines = ["Sandbox layers for student code on this machine:"]
        for layer in LAYERS:
            mark = "on " if layer in self.active else "OFF"
            detail = _DESCRIPTIONS[layer] if layer in self.active else f"{layer}: {self.missing.get(layer, '')}"
            lines.append(f"  [{mark}] {detail}")
        lines.append(f"  [on ] {_DESCRIPTIONS['rlimits']}")
        if self.forced:
            lines.append(f"  (forced down by {MODE_VARIABLE}=rlimits)")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        """Plain data for report metadata."""
        return {"layers": [*self.active, "rlimits"], "missing": dict(self.missing), "forced": self.forced}


@dataclass(frozen=True)
class Plan:
    """Everything :func:`confine` needs, computed by the caller before forking."""

    workdir: str
    """The working copy: the confined process's cwd, writable, chowned to ``uid`` under root."""

    rlimits: Rlimits
    """Kernel resource caps applied last."""

    layers: frozenset[str] = frozenset()
    """OS layers to apply (a subset of :data:`LAYERS`; see :func:`probe`)."""

    view: View | None = None
    """The filesystem view (required with the ``filesystem`` layer)."""

    root: str = ""
    """An empty host directory to build the new root on (only a mount point: nothing is written to the host)."""

    uid: int = 65534
    """The job's uid when dropping root."""

    gid: int = 65534
    """The job's gid when dropping root."""

    owned: tuple[str, ...] = ()
    """Directories (as the child sees them) handed to ``uid`` besides ``workdir`` (the outbox)."""


@functools.lru_cache(maxsize=None)
def _probe(mode: str) -> SandboxInfo:
    if mode == "rlimits":
        return SandboxInfo((), {layer: f"turned off by {MODE_VARIABLE}=rlimits" for layer in LAYERS}, forced=True)
    if _linux.libc is None:
        reason = f"not available on {sys.platform} (Linux namespaces only)"
        return SandboxInfo((), {layer: reason for layer in LAYERS})
    root = os.geteuid() == 0
    missing: dict[str, str] = {}
    if not root and not _trial(_try_user_namespace):
        reason = "not root, and this machine does not allow unprivileged user namespaces"
        missing = {layer: reason for layer in ("filesystem", "network", "processes")}
    else:
        for layer, trial in (("network", _try_network), ("filesystem", _try_filesystem),
                             ("processes", _try_processes)):
            if not _trial(trial):
                missing[layer] = "the kernel refused the namespace (container without CAP_SYS_ADMIN, or seccomp)"
    if not root:
        missing["users"] = "not running as root, so the child keeps your uid (inside its view)"
    elif not _trial(_try_users):
        missing["users"] = "setuid to an unprivileged uid failed (no CAP_SETUID)"
    active = tuple(layer for layer in LAYERS if layer not in missing)
    return SandboxInfo(active, {layer: missing[layer] for layer in LAYERS if layer in missing})


def probe(mode: str | None = None) -> SandboxInfo:
    """Finds which layers this machine allows (forked trials, cached per process).

    Args:
        mode: ``auto`` (every layer the machine allows) or ``rlimits`` (none);
            default: the ``GRADER_SANDBOX`` environment variable, else ``auto``.
    """
    mode = (mode or os.environ.get(MODE_VARIABLE) or "auto").strip().lower()
    if mode not in ("auto", "rlimits"):
        raise ValueError(f"{MODE_VARIABLE} must be 'auto' or 'rlimits', not {mode!r}")
    return _probe(mode)


def confine(plan: Plan, *, in_namespace: bool = False) -> None:
    """Puts the calling, freshly forked process into the sandbox the plan describes.

    Call it in a process that has just been forked and has not yet run any
    student code (a ``preexec_fn``, or a zygote's child right after
    ``os.fork()``). In order it: starts a new session and arms
    death-with-parent; unshares the mount, network, PID, IPC and UTS
    namespaces the plan's layers need (inside a user namespace when not
    root); forks a minimal init for the namespace and, from it, the process
    that returns, leaving the caller behind as the supervisor that mirrors
    that process's exit status and never returns; builds the
    filesystem view and ``pivot_root``\\ s into it; hands the working copy to
    the job's uid and drops to it (root) or drops every capability (user
    namespace); forbids new privileges; changes to the working copy; and
    applies the rlimits. It imports nothing and takes tens of milliseconds
    (two forks, a dozen mounts), far less than an interpreter start.

    With the ``processes`` layer the function returns in a *different*
    process from the one that called it (PID 2 of the new namespace); the
    original pid, which the caller's parent waits for, exits or dies exactly
    as that process does. Killing the original pid (SIGTERM: cleanly; SIGKILL:
    through the death signal) kills every process in the namespace.

    ``in_namespace``: the caller is already PID 2 of a PID namespace made for
    it (a zygote's :class:`~grader.sandbox.outside.processes.Namespaces`),
    whose maker keeps its init; then only the student's process is forked
    here (PID 3), and the caller stays as its supervisor.

    Raises:
        ConfinementError: a layer of the plan could not be applied; the
            process must then exit without running student code.
    """
    try:
        _confine(plan, in_namespace)
    except OSError as exc:
        message = f"sandbox setup failed: {exc}"
        try:  # stderr is the judge's file: the only trace a preexec_fn failure can leave
            os.write(2, f"grader: {message}\n".encode())
        except OSError:
            pass
        raise ConfinementError(message) from exc


def _confine(plan: Plan, in_namespace: bool = False) -> None:
    layers = plan.layers
    try:
        os.setsid()
    except PermissionError:
        pass  # already a session leader
    processes.die_with_parent()
    flags = 0
    if "filesystem" in layers or "processes" in layers:
        flags |= _linux.CLONE_NEWNS  # a fresh /proc needs a private mount table
    if "network" in layers:
        flags |= network.FLAGS
    if "processes" in layers:
        flags |= processes.FLAGS & ~_linux.CLONE_NEWPID if in_namespace else processes.FLAGS
    in_user_ns = bool(flags) and os.geteuid() != 0
    if in_user_ns:
        users.enter_user_namespace(flags)
    elif flags:
        _linux.unshare(flags)
    if "processes" in layers:
        processes.fork_supervised_in_namespace() if in_namespace else processes.fork_supervised()
    if "filesystem" in layers:
        if plan.view is None:
            raise OSError(0, "the filesystem layer needs a view")
        filesystem.enter(plan.view, plan.root)
    elif "processes" in layers:
        _linux.mount(None, "/", None, _linux.MS_REC | _linux.MS_PRIVATE)
        _linux.mount("proc", "/proc", "proc", _linux.MS_NOSUID | _linux.MS_NODEV | _linux.MS_NOEXEC)
    if "users" in layers:
        for path in (plan.workdir, *plan.owned):
            filesystem.chown_tree(path, plan.uid, plan.gid)
        users.drop_to(plan.uid, plan.gid)
    elif in_user_ns:
        users.drop_capabilities()
    users.forbid_new_privileges()
    processes.die_with_parent()  # a credential change cleared it
    os.chdir(plan.workdir)
    plan.rlimits.apply()


def plan_for(
    *,
    workdir: Path,
    rlimits: Rlimits,
    scratch: Path,
    readable: tuple[Path, ...] = (),
    outbox: tuple[Path, Path] | None = None,
    owner_pid: int | None = None,
    info: SandboxInfo | None = None,
    tmp_files: tuple[tuple[str, str], ...] = (),
) -> Plan:
    """Builds the plan for one job with every layer :func:`probe` found.

    Args:
        workdir: the student's working copy.
        rlimits: the job's resource caps (``max_processes`` is adjusted when
            the child keeps a uid that other processes share).
        scratch: a host directory of the caller's; the new root's mount point goes in it.
        readable: trusted files the child must read (child plugins).
        outbox: ``(host_dir, path_inside)`` for files the judge collects.
        owner_pid: the process that owns the job (its pid picks the job's uid); default: this one.
        info: the layers to use; default :func:`probe`.
        tmp_files: ``(host file, path under /tmp)`` copied into the child's private ``/tmp``.
    """
    info = info or probe()
    layers = frozenset(info.active)
    uid, gid = users.job_ids(owner_pid or os.getpid())
    if "users" not in layers and rlimits.max_processes is not None:
        if os.geteuid() == 0:
            rlimits = dataclasses.replace(rlimits, max_processes=None)  # not enforced for root
        else:
            # RLIMIT_NPROC counts every task of the uid: leave room for the TA's own
            # (and leave it alone where they cannot be counted: no /proc, e.g. macOS).
            busy = processes.threads_of_user(os.getuid())
            rlimits = dataclasses.replace(rlimits, max_processes=busy + rlimits.max_processes if busy else None)
    package_dir = _package_dir()
    workdir = workdir.resolve()  # once: each resolve is a realpath (an lstat per component)
    view = None
    owned: tuple[str, ...] = ()
    if "filesystem" in layers:
        view = filesystem.default_view(
            workdir=workdir,
            package_dir=package_dir,
            readable=tuple(Path(p).resolve() for p in readable),
            outbox=outbox,
            user=(uid, gid) if "users" in layers else (os.getuid(), os.getgid()),
            tmp_files=tmp_files,
        )
    if "users" in layers and outbox is not None:
        owned = (str(outbox[1]),)  # the path the child sees (after pivot_root the host path is gone)
    return Plan(
        workdir=str(workdir),
        rlimits=rlimits,
        layers=layers,
        view=view,
        root=str(scratch / "root"),
        uid=uid,
        gid=gid,
        owned=owned,
    )


@functools.lru_cache(maxsize=None)
def _package_dir() -> Path:
    """The directory holding the ``grader`` package (the child's view shows the package alone)."""
    return Path(__file__).resolve().parents[2]


# -- trials (each in a forked process, so nothing here touches the caller) --
def _trial(func) -> bool:
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            func()
            code = 0
        except BaseException:  # noqa: BLE001 - any failure means "unavailable"
            pass
        os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


def _unshare(flags: int) -> None:
    if os.geteuid() == 0:
        _linux.unshare(flags)
    else:
        users.enter_user_namespace(flags)


def _try_user_namespace() -> None:
    users.enter_user_namespace(0)


def _try_network() -> None:
    _unshare(network.FLAGS)


def _try_filesystem() -> None:
    _unshare(_linux.CLONE_NEWNS)
    _linux.mount(None, "/", None, _linux.MS_REC | _linux.MS_PRIVATE)
    target = tempfile.gettempdir()
    _linux.mount("tmpfs", target, "tmpfs", 0, "size=64k")
    os.mkdir(target + "/r")
    _linux.mount(target + "/r", target + "/r", None, _linux.MS_BIND)


def _try_processes() -> None:
    _unshare(processes.FLAGS | _linux.CLONE_NEWNS)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            _linux.mount(None, "/", None, _linux.MS_REC | _linux.MS_PRIVATE)
            target = tempfile.gettempdir()
            _linux.mount("tmpfs", target, "tmpfs", 0, "size=64k")
            os.mkdir(target + "/proc")
            _linux.mount("proc", target + "/proc", "proc", 0)
            code = 0 if os.getpid() == 1 else 1
        finally:
            os._exit(code)
    if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0:
        raise OSError(0, "no PID namespace")


def _try_users() -> None:
    uid, gid = users.job_ids(os.getpid())
    users.drop_to(uid, gid)
