"""Finds a student's written answers (PDF, notebook, Markdown, LaTeX) for the TA.

A manually graded problem lists glob patterns in the rubric's ``answers``
(e.g. ``["*.pdf", "*.md", "*.tex", "*.ipynb"]``). Every file of the student's
folder whose name matches is shown in the report, read as:

- a PDF: its file name and page count (counted from the file's page objects,
  without a PDF library);
- a notebook: its markdown cells (code-only notebooks are skipped: they are
  code for the autograded problems, not written answers);
- anything else that is text (``.md``, ``.tex``, ``.txt``): the file's text.

Text is cut at :data:`MAX_CHARS` characters, and at most :data:`MAX_FILES` files
are shown per problem. Students often hand in one file per problem
(``hw1_p2.pdf``): a file whose name names some problem of the rubric as a
separate token (``p2`` in ``hw1_p2.pdf``, not in ``p21.md``) is shown only for
the problems it names; a file naming no problem (``answers.pdf``) is shown for
every problem with ``answers``.
"""

from __future__ import annotations

import fnmatch
import re
import zlib
from pathlib import Path

from grader.models import WrittenAnswer
from grader.notebooks import NotebookError, markdown_cells
from grader.rubric import Problem, Rubric
from grader.submission import read_source

#: Characters of an answer's text kept for the report.
MAX_CHARS = 6000

#: Answer files shown per problem.
MAX_FILES = 6

#: Files larger than this are named but not read (scans, videos).
MAX_READ_BYTES = 50 * 1024 * 1024

_IGNORED_DIRS = {"__pycache__", ".ipynb_checkpoints", ".git", "__MACOSX"}
_KINDS = {".pdf": "pdf", ".ipynb": "notebook", ".md": "markdown", ".markdown": "markdown", ".tex": "latex"}
_TEXT_SUFFIXES = {".md", ".markdown", ".tex", ".txt", ".rst"}


def find_answers(folder: Path, problem: Problem, rubric: Rubric) -> tuple[WrittenAnswer, ...]:
    """The written answers for ``problem`` in the student's ``folder`` (see module docstring)."""
    if not problem.answers or not folder.is_dir():
        return ()
    code_stems = {Path(f).stem.lower() for p in rubric.problems for f in p.files}
    problem_ids = [p.id for p in rubric.problems]
    chosen: list[tuple[int, Path]] = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.is_symlink() or _ignored(path, folder):
            continue
        if not any(fnmatch.fnmatch(path.name.lower(), g.lower()) for g in problem.answers):
            continue
        if path.stem.lower() in code_stems:
            continue  # conv1D.ipynb is the code of an autograded problem, not a proof
        named = _problems_named(path.stem, problem_ids)
        if named and problem.id not in named:
            continue
        # Files that name this problem come first, then files for the whole homework.
        chosen.append((0 if named else 1, path))
    answers = []
    for _, path in sorted(chosen, key=lambda c: (c[0], len(c[1].relative_to(folder).parts), str(c[1]))):
        name = path.relative_to(folder).as_posix()
        try:
            answer = read_answer(path, name)
        except OSError as exc:
            answer = WrittenAnswer(name, "file", note=f"could not be read: {exc.strerror or exc}")
        if answer is not None:
            answers.append(answer)
        if len(answers) >= MAX_FILES:
            break
    return tuple(answers)


def read_answer(path: Path, name: str) -> WrittenAnswer | None:
    """Reads one answer file; None for a notebook without markdown cells."""
    suffix = path.suffix.lower()
    kind = _KINDS.get(suffix, "text" if suffix in _TEXT_SUFFIXES else "file")
    size = path.stat().st_size
    if size > MAX_READ_BYTES:
        return WrittenAnswer(name, kind, note=f"not read: {size >> 20} MB is larger than {MAX_READ_BYTES >> 20} MB")
    if kind == "pdf":
        pages = pdf_page_count(path.read_bytes())
        note = "" if pages else "the page count could not be read (damaged or unusual PDF): open the file"
        return WrittenAnswer(name, kind, pages=pages, note=note)
    if kind == "file":
        return WrittenAnswer(name, kind, note="not a text file: open it")
    text = read_source(path)
    if kind == "notebook":
        try:
            cells = [c.strip() for c in markdown_cells(text) if c.strip()]
        except NotebookError as exc:
            return WrittenAnswer(name, kind, note=str(exc))
        if not cells:
            return None
        text = "\n\n---\n\n".join(cells)
    text = text.strip()
    truncated = len(text) > MAX_CHARS
    return WrittenAnswer(name, kind, text=text[:MAX_CHARS], truncated=truncated)


def _ignored(path: Path, root: Path) -> bool:
    return any(part in _IGNORED_DIRS or part.startswith(".") for part in path.relative_to(root).parts)


def _problems_named(stem: str, problem_ids: list[str]) -> set[str]:
    """The problem ids that appear in a file name as separate tokens."""
    stem = stem.lower()
    return {
        pid for pid in problem_ids
        if re.search(r"(?<![a-z0-9])" + re.escape(pid.lower()) + r"(?![0-9])", stem)
    }


# -- PDF page count ------------------------------------------------------------
_OBJECT = re.compile(rb"(\d+)\s+\d+\s+obj\b(.*?)\bendobj", re.S)
_PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z])")
_STREAM = re.compile(rb"stream\r?\n(.*?)endstream", re.S)
_FIRST = re.compile(rb"/First\s+(\d+)")


def pdf_page_count(data: bytes) -> int | None:
    """Counts the page objects of a PDF (None if it is not one or has none).

    Pages are ``/Type /Page`` objects, counted once per object number (an
    incremental update rewrites a page under the same number); objects packed
    in compressed object streams (PDF 1.5+) are unpacked with zlib.
    """
    if b"%PDF" not in data[:1024]:
        return None
    pages: set[int] = set()
    for match in _OBJECT.finditer(data):
        number, body = int(match.group(1)), match.group(2)
        head = body.split(b"stream", 1)[0]
        if _PAGE.search(head):
            pages.add(number)
        elif b"/ObjStm" in head:
            pages |= _object_stream_pages(head, body)
    return len(pages) or None


def _object_stream_pages(head: bytes, body: bytes) -> set[int]:
    """Page objects inside one compressed object stream."""
    stream, first = _STREAM.search(body), _FIRST.search(head)
    if stream is None or first is None:
        return set()
    try:
        raw = zlib.decompressobj().decompress(stream.group(1)) if b"/FlateDecode" in head else stream.group(1)
    except zlib.error:
        return set()
    offset = int(first.group(1))
    numbers = [int(n) for n in raw[:offset].split()]
    pairs = list(zip(numbers[0::2], numbers[1::2]))
    pages = set()
    for index, (number, start) in enumerate(pairs):
        end = pairs[index + 1][1] if index + 1 < len(pairs) else len(raw) - offset
        if _PAGE.search(raw[offset + start: offset + end]):
            pages.add(number)
    return pages
