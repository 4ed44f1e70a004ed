"""Finds the student's source lines that feedback names as ``file:line`` and attaches them to the items.

Guards and error messages already write where they saw something
(``conv1D.py:23 in Convolution1d.__matmul__``). The report shows that line,
highlighted, with a little context. It is read from the working copy that was
graded (so a notebook's line numbers match its converted script), and only for
files that are really in that copy: a path the feedback names elsewhere (the
grader's own files, a traceback into numpy) is ignored.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from grader.models import ProblemResult, SourceExcerpt

#: Lines shown before and after the named line.
CONTEXT = 2

#: At most this many excerpts per item (feedback may name dozens of places).
MAX_PER_ITEM = 5

#: Longest source line shown; the rest is cut (a minified line must not bloat the report).
MAX_LINE_CHARS = 300

#: Files larger than this are not read for excerpts.
MAX_FILE_BYTES = 2_000_000


def attach_sources(result: ProblemResult, workdir: Path) -> ProblemResult:
    """Returns ``result`` with each item's ``locations`` filled from the files in ``workdir``."""
    feedback = "\n".join(i.feedback for i in result.items)
    if not re.search(r":\d", feedback):
        return result  # nothing names a line: skip walking the working copy
    files = [name for name in _student_files(workdir) if f"{name}:" in feedback]
    if not files:
        return result
    cache: dict[str, list[str]] = {}
    items = []
    for item in result.items:
        found = find_locations(item.feedback, files)
        excerpts = []
        for name, line in found[:MAX_PER_ITEM]:
            if name not in cache:
                cache[name] = _read_lines(workdir / name)
            excerpt = excerpt_of(cache[name], name, line)
            if excerpt is not None:
                excerpts.append(excerpt)
        items.append(dataclasses.replace(item, locations=tuple(excerpts)) if excerpts else item)
    return dataclasses.replace(result, items=tuple(items))


def find_locations(text: str, files: list[str]) -> list[tuple[str, int]]:
    """The distinct ``(file, line)`` pairs ``text`` names, in order, for the given relative file names."""
    found: dict[tuple[str, int], None] = {}
    hits = []
    for name in files:
        # The name must not be the tail of a longer path or name (numpy/conv1D.py, myconv1D.py).
        pattern = rf"(?<![\w/\\.-]){re.escape(name)}:(\d+)\b"
        hits += [(m.start(), name, int(m.group(1))) for m in re.finditer(pattern, text)]
    for _, name, line in sorted(hits):
        found.setdefault((name, line), None)
    return list(found)


def excerpt_of(lines: list[str], name: str, line: int) -> SourceExcerpt | None:
    """The named line with :data:`CONTEXT` lines around it, or None if the file has no such line."""
    if not 1 <= line <= len(lines):
        return None
    first, last = max(1, line - CONTEXT), min(len(lines), line + CONTEXT)
    shown = tuple((n, _cut(lines[n - 1])) for n in range(first, last + 1))
    return SourceExcerpt(file=name, line=line, lines=shown)


def _student_files(workdir: Path) -> list[str]:
    if not workdir.is_dir():
        return []
    names = [
        p.relative_to(workdir).as_posix()
        for p in workdir.rglob("*.py")
        if p.is_file() and not p.is_symlink() and "__pycache__" not in p.parts
    ]
    # Longest first, so "sub/conv1D.py" is preferred to "conv1D.py" when both could match.
    return sorted(names, key=lambda n: (-len(n), n))


def _read_lines(path: Path) -> list[str]:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return []
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def _cut(text: str) -> str:
    text = text.rstrip("\r\n")
    return text if len(text) <= MAX_LINE_CHARS else text[:MAX_LINE_CHARS] + " …"
