"""Finding live processes from outside any sandbox (for tests that check nothing survived)."""

from __future__ import annotations

from pathlib import Path


def live_processes(token: str | None = None, min_uid: int | None = None) -> list[str]:
    """Live (not zombie) processes with ``token`` as a command-line argument, or with a uid >= ``min_uid``.

    Pids a sandboxed child saw mean nothing here (it had its own PID
    namespace), so processes are found by what they are, not by pid.
    """
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if "\nState:\tZ" in status:
            continue
        uid = int(status.split("\nUid:\t", 1)[1].split()[0])
        by_token = token is not None and any(token.encode() in a for a in args)
        if by_token or (min_uid is not None and uid >= min_uid):
            found.append(f"{entry.name} uid={uid} {b' '.join(args)[:80]!r}")
    return found
