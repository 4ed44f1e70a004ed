"""Compares every pair of students, file by file, with copydetect.

copydetect tokenizes the code with Pygments and replaces every variable,
attribute, function and class name by one letter, drops comments and
whitespace, then fingerprints k-grams of what is left (winnowing). Renamed
variables, reformatting and added comments therefore change nothing. Only
k-grams lying wholly outside the code that matches the boilerplate (the
starter) are kept, so the starter is neither a match nor counted in a
student's share. All pairs are scored at once (:mod:`grader.similarity.screen`);
copydetect's ``compare_files`` gives the shared regions of the pairs shown.
"""

from __future__ import annotations

import dataclasses
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from grader.similarity.sources import ClassCode, StudentFile, code_of

#: Shortest run of tokens (after names become one letter) counted as shared: copydetect's default.
NOISE_TOKENS = 25

#: Winnowing window. 1 keeps every k-gram: files are small, so nothing is missed (the
#: guarantee threshold equals the noise threshold), and since no fingerprint is chosen by
#: its hash value the result does not depend on Python's per-process string-hash seed.
WINDOW = 1

#: Default share of one student's own (non-starter) code above which a pair is flagged.
DEFAULT_THRESHOLD = 0.5

#: Pairs shown side by side: every flagged one up to MAX_SHOWN, then the closest
#: UNFLAGGED_SHOWN others (the CSV lists every pair).
MAX_SHOWN = 200
UNFLAGGED_SHOWN = 10

#: Default least number of shared tokens for a flag: a short canonical answer (one
#: list comprehension) is written the same way by students who never met.
DEFAULT_MIN_TOKENS = 60


class BoilerplateError(ValueError):
    """A boilerplate file (starter or rubric-named) cannot be read."""


@dataclass(frozen=True)
class Match:
    """Two students' copies of one handout file that share code beyond the boilerplate."""

    file: str
    """The handout's file name, e.g. ``conv1D.py``."""

    student_a: str
    """The first student (in name order)."""

    student_b: str
    """The second student."""

    source_a: str
    """Student A's file, relative to their folder."""

    source_b: str
    """Student B's file."""

    similarity_a: float
    """Share of A's own code (boilerplate excluded, in tokens) that is also in B's, 0–1."""

    similarity_b: float
    """Share of B's own code that is also in A's, 0–1."""

    shared_tokens: int
    """Length of A's shared regions, in tokens (a name counts as one)."""

    flagged: bool
    """Whether the pair passes both thresholds (see :class:`Similarity`)."""

    shown: bool = False
    """Whether the report shows this pair side by side (see :func:`to_show`)."""

    regions_a: tuple[tuple[int, int], ...] = ()
    """Character ranges ``[start, end)`` of A's code that are shared (for shown pairs)."""

    regions_b: tuple[tuple[int, int], ...] = ()
    """Character ranges of B's code that are shared (for shown pairs)."""

    @property
    def similarity(self) -> float:
        """The larger of the two shares: one student may have copied all of the other's code."""
        return max(self.similarity_a, self.similarity_b)


@dataclass(frozen=True)
class Similarity:
    """The outcome of comparing a class."""

    matches: tuple[Match, ...]
    """Every pair that shares at least one region, ranked: flagged first, then by similarity."""

    code: ClassCode
    """What was read (students, their files, files that could not be compared)."""

    boilerplate: tuple[Path, ...]
    """The files whose code was ignored."""

    threshold: float
    """A pair is flagged when one student's share reaches this …"""

    min_tokens: int
    """… and they share at least this many tokens."""

    def sources(self) -> dict[tuple[str, str], StudentFile]:
        """Each compared file by (handout file name, student)."""
        return {(f.wanted, f.student): f for f in self.code.files}


def boilerplate_hashes(paths: Iterable[Path]) -> frozenset[int]:
    """Every fingerprint of the boilerplate files (notebooks read as their code).

    Raises:
        BoilerplateError: a boilerplate file cannot be read (the message names it).
    """
    hashes: set[int] = set()
    for path in paths:
        try:
            code = code_of(path)
        except ValueError as exc:
            raise BoilerplateError(f"boilerplate {path}: {exc}") from None
        hashes.update(_fingerprint(code, frozenset()).hashes)
    return frozenset(hashes)


def _fingerprint(code: str, boilerplate: frozenset[int]):
    from copydetect import CodeFingerprint  # imports matplotlib: only when comparing
    from copydetect.utils import get_token_coverage

    fingerprint = CodeFingerprint(
        "student.py", NOISE_TOKENS, WINDOW, language="python", fp=io.StringIO(_lexable(code))
    )
    if boilerplate:
        kept = _own_code(fingerprint.hash_idx, boilerplate, len(fingerprint.filtered_code))
        fingerprint.hash_idx = kept
        fingerprint.hashes = set(kept)
        fingerprint.token_coverage = get_token_coverage(kept, NOISE_TOKENS, len(fingerprint.filtered_code))
    return fingerprint


# A ``@`` that does not start a line (a decorator does) is matrix multiplication. Pygments
# lexes ``A@x`` (no spaces) as a decorator named ``@x``, which survives renaming while
# ``A @ x`` does not; "$" (lexed as one error token) stands for every such ``@`` instead.
# Same length, so positions in the lexed text are positions in the student's text.
_MATMUL = re.compile(r"(?m)^([ \t]*@?)|@")


def _lexable(code: str) -> str:
    """``code`` as the tokenizer should see it: no leading newlines, ``@`` as an operator."""
    return _MATMUL.sub(lambda m: m.group(1) if m.group(1) is not None else "$", code.lstrip("\n"))


def _lead(code: str) -> int:
    """How many leading newlines the tokenizer drops (Pygments strips them), to shift regions back."""
    return len(code) - len(code.lstrip("\n"))


def _own_code(hash_idx: dict[int, list[int]], boilerplate: frozenset[int], length: int) -> dict[int, list[int]]:
    """The k-grams (hash -> positions) that lie wholly outside the code the boilerplate covers.

    copydetect's own filter (``CodeFingerprint(boilerplate=...)``) drops only k-grams
    that occur in the boilerplate. A k-gram that straddles a starter line and a
    student's line survives it, so two students whose answers merely end with the same
    bracket would share the starter's next line. It also uses ``np.intersect1d(...,
    assume_unique=True)`` on a list with repeats, which drops occurrences of repeated
    code that is not boilerplate. Hence this filter.
    """
    import numpy as np  # here, not at the top: grading imports this module's names, not numpy

    k = NOISE_TOKENS
    covered = np.zeros(length + k, dtype=bool)
    for value, positions in hash_idx.items():
        if value in boilerplate:
            for position in positions:
                covered[position:position + k] = True
    # covered_before[p] = how many of the first p positions are boilerplate.
    covered_before = np.concatenate(([0], np.cumsum(covered)))
    kept: dict[int, list[int]] = {}
    for value, positions in hash_idx.items():
        if value in boilerplate:
            continue
        own = [p for p in positions if covered_before[p + k] == covered_before[p]]
        if own:
            kept[value] = own
    return kept


def compare_class(
    code: ClassCode,
    boilerplate: tuple[Path, ...],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    min_tokens: int = DEFAULT_MIN_TOKENS,
) -> Similarity:
    """Compares every pair of students on each handout file, ignoring the boilerplate.

    Every pair is scored with :func:`grader.similarity.screen.shared_tokens`; the
    pairs shown side by side (:func:`to_show`) get their regions from copydetect's
    ``compare_files``.
    """
    import numpy as np  # numpy and scipy (screen) only when a class is compared

    from grader.similarity import screen

    ignored = boilerplate_hashes(boilerplate)
    matches: list[Match] = []
    prints = {}
    for wanted in code.wanted:
        files = sorted((f for f in code.files if f.wanted == wanted), key=lambda f: f.student)
        fingerprints = [_fingerprint(f.code, ignored) for f in files]
        prints.update({(wanted, f.student): p for f, p in zip(files, fingerprints)})
        shared = screen.shared_tokens([screen.positions(p.hash_idx) for p in fingerprints], NOISE_TOKENS)
        for a, b in zip(*np.nonzero(np.triu(shared, k=1))):
            file_a, file_b = files[a], files[b]
            share_a = shared[a, b] / fingerprints[a].token_coverage
            share_b = shared[b, a] / fingerprints[b].token_coverage
            matches.append(Match(
                file=wanted,
                student_a=file_a.student,
                student_b=file_b.student,
                source_a=file_a.source,
                source_b=file_b.source,
                similarity_a=float(share_a),
                similarity_b=float(share_b),
                shared_tokens=int(shared[a, b]),
                flagged=bool(max(share_a, share_b) >= threshold and shared[a, b] >= min_tokens),
            ))
    matches.sort(key=lambda m: (not m.flagged, -m.similarity, -m.shared_tokens, m.file, m.student_a, m.student_b))
    shown = to_show(matches)
    sources = {(f.wanted, f.student): f for f in code.files}
    for index in shown:
        matches[index] = _with_regions(matches[index], prints, sources)
    return Similarity(tuple(matches), code, boilerplate, threshold, min_tokens)


def to_show(matches: list[Match]) -> list[int]:
    """Indexes of the ranked pairs shown side by side: flagged ones, then a few of the closest others."""
    flagged = [i for i, m in enumerate(matches) if m.flagged][:MAX_SHOWN]
    others = [i for i, m in enumerate(matches) if not m.flagged][:UNFLAGGED_SHOWN]
    return flagged + others


def _with_regions(match: Match, prints: dict, sources: dict) -> Match:
    from copydetect import compare_files

    key_a, key_b = (match.file, match.student_a), (match.file, match.student_b)
    _, _, (slices_a, slices_b) = compare_files(prints[key_a], prints[key_b])
    code_a, code_b = sources[key_a].code, sources[key_b].code
    return dataclasses.replace(
        match,
        regions_a=_regions(slices_a, code_a),
        regions_b=_regions(slices_b, code_b),
        shown=True,
    )


def _regions(slices, code: str) -> tuple[tuple[int, int], ...]:
    lead = _lead(code)
    regions = (_trimmed(code, int(start) + lead, int(end) + lead) for start, end in zip(slices[0], slices[1]))
    return tuple((start, end) for start, end in regions if start < end)


def _trimmed(code: str, start: int, end: int) -> tuple[int, int]:
    """A region without the blank and comment-only lines it ends with.

    copydetect ends a region where the next token starts, so it takes in the
    whitespace and comments (a notebook's ``# In[3]:`` marker) before it; they
    are not shared code.
    """
    while start < end:
        end = start + len(code[start:end].rstrip())
        line_start = max(code.rfind("\n", start, end) + 1, start)
        if line_start > start and code[line_start:end].lstrip().startswith("#"):
            end = line_start
            continue
        break
    return start, end
