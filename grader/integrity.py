"""Flags student code that reaches for the grader's own internals.

Observers and guards run inside the student's process (they must see what
the code does), so a submission that studies the grader's source can reach
them: read the recorder bound as ``__grader_observe__``, import
``grader.sandbox.inside.chains`` to forge runs, unhook the shape guard. The
judge checks what it can (P4's runs must add up to the calls); this scan
makes sure a TA looks at any file that names those internals, whatever the
score. It reads source text only, so it never runs student code.
"""

from __future__ import annotations

import re
from pathlib import Path

#: What no honest hand-in contains: the grader's hook names and imports of its package.
_PATTERN = re.compile(r"__grader_\w+|^\s*(?:from|import)\s+grader(?:\.|\s|$)|\bgrader\.(?:sandbox|guards|judge)\w*")


def student_sources(workdir: Path, skip: set[str] = frozenset(), limit: int = 200) -> list[tuple[str, Path]]:
    """The Python files of a working copy (its rubric files and any helper modules), by relative name.

    Args:
        skip: relative names to leave out: another problem's file (scanned with that problem), or
            the original a problem file was converted from (its converted copy is scanned).
    """
    found = []
    for path in sorted(workdir.rglob("*.py"))[:limit]:
        name = path.relative_to(workdir).as_posix()
        if path.is_file() and not path.is_symlink() and name.lower() not in skip:
            found.append((name, path))
    return found


def internals_referenced(paths: list[tuple[str, Path]], limit: int = 3) -> list[str]:
    """One review flag per file that names the grader's internals, with the first places (``file:line``).

    Args:
        paths: (the file's name in the report, its path) pairs.
        limit: places listed per file.
    """
    flags = []
    for name, path in paths:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        places = []
        for number, line in enumerate(text.splitlines(), start=1):
            match = _PATTERN.search(line)
            if match:
                places.append(f"{name}:{number} (`{match.group(0).strip()}`)")
        if places:
            more = f" and {len(places) - limit} more" if len(places) > limit else ""
            flags.append(f"the code refers to the grader's internals at {', '.join(places[:limit])}{more}: "
                         "a TA should check it does not tamper with the grading")
    return flags
