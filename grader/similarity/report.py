"""Writes ``similarity.csv`` and ``similarity.html``, and reads the ranked pairs back for other pages.

Every piece of student text (names, file names, code, error messages) is
HTML-escaped; the page loads nothing from outside.
"""

from __future__ import annotations

import csv
import html
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the class page reads pairs without the comparison's imports
    from grader.similarity.detect import Match, Similarity

CSV_NAME = "similarity.csv"
HTML_NAME = "similarity.html"

_COLUMNS = ("rank", "file", "student_a", "student_b", "similarity_a", "similarity_b",
            "shared_tokens", "flagged", "source_a", "source_b", "detail")

NOT_A_VERDICT = (
    "Similarity is a reason to look, not a verdict. A high share means two files have the same "
    "code once names, layout and comments are set aside, and the starter code is removed. Students "
    "who never met write short, standard answers the same way, and shared code may be allowed "
    "collaboration or a common source. Read both files and talk to the students before concluding anything."
)


@dataclass(frozen=True)
class RankedPair:
    """One row of ``similarity.csv``: what the class summary page lists."""

    rank: int
    """1 is the most similar pair."""

    file: str
    """The handout's file name."""

    student_a: str
    """First student."""

    student_b: str
    """Second student."""

    similarity_a: float
    """Share of A's own code also in B's, 0–1."""

    similarity_b: float
    """Share of B's own code also in A's, 0–1."""

    shared_tokens: int
    """Length of the shared code, in tokens."""

    flagged: bool
    """Whether it passed the report's thresholds."""

    detail: str
    """Link to the side-by-side view relative to the report folder (``similarity.html#pair-1``), or ``""``."""


def shown(similarity: Similarity) -> set[int]:
    """Ranks (1-based) of the pairs the page shows side by side (see :func:`grader.similarity.detect.to_show`)."""
    return {rank for rank, m in enumerate(similarity.matches, start=1) if m.shown}


def write(similarity: Similarity, out: Path) -> tuple[Path, Path]:
    """Writes both files into ``out`` (created if needed) and returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    detailed = shown(similarity)
    csv_path = out / CSV_NAME
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(_COLUMNS)
        for rank, m in enumerate(similarity.matches, start=1):
            writer.writerow([
                rank, m.file, _cell(m.student_a), _cell(m.student_b), f"{m.similarity_a:.3f}", f"{m.similarity_b:.3f}",
                m.shared_tokens, "yes" if m.flagged else "no", _cell(m.source_a), _cell(m.source_b),
                f"{HTML_NAME}#pair-{rank}" if rank in detailed else "",
            ])
    html_path = out / HTML_NAME
    html_path.write_text(_page(similarity, detailed), encoding="utf-8")
    return csv_path, html_path


def read_pairs(out: Path, *, flagged_only: bool = False) -> list[RankedPair]:
    """The ranked pairs of ``out/similarity.csv``, for the class summary page.

    Returns ``[]`` when there is no such file, or it is not one :func:`write` wrote
    (a class page must not fail over it).
    """
    path = Path(out) / CSV_NAME
    if not path.is_file():
        return []
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [
                RankedPair(
                    rank=int(row["rank"]), file=row["file"],
                    student_a=_uncell(row["student_a"]), student_b=_uncell(row["student_b"]),
                    similarity_a=float(row["similarity_a"]), similarity_b=float(row["similarity_b"]),
                    shared_tokens=int(row["shared_tokens"]), flagged=row["flagged"] == "yes", detail=row["detail"],
                )
                for row in csv.DictReader(handle)
            ]
    except (KeyError, ValueError, TypeError, UnicodeDecodeError, csv.Error):
        return []
    return [r for r in rows if r.flagged] if flagged_only else rows


# A spreadsheet runs a cell that starts with one of these as a formula; student
# folder and file names are student text, so such a cell gets a leading quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def _uncell(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_START) else text


# -- the page ---------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
.verdict { border: 2px solid #b58900; background: #fdf6e3; padding: .8em 1em; max-width: 60em; }
table.pairs { border-collapse: collapse; margin: 1em 0; }
table.pairs th, table.pairs td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; }
table.pairs td.num { text-align: right; }
tr.flagged td { background: #fff4e5; }
.pair { margin-top: 2em; border-top: 1px solid #999; }
.sides { display: flex; gap: 1em; }
.side { flex: 1 1 50%; min-width: 0; }
pre { background: #f7f7f7; padding: .5em; white-space: pre-wrap; overflow-wrap: anywhere;
      font-size: 12px; line-height: 1.35; }
.ln { color: #999; user-select: none; display: inline-block; width: 3.5em; }
mark { background: #ffd54f; }
"""


def _page(similarity: Similarity, detailed: set[int]) -> str:
    e = _escape
    code = similarity.code
    flagged = sum(m.flagged for m in similarity.matches)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Code similarity</title>',
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Code similarity</h1>",
        f'<p class="verdict"><strong>{e(NOT_A_VERDICT)}</strong></p>',
        f"<p>{len(code.students)} student(s); files compared: {e(', '.join(code.wanted)) or 'none'}. "
        f"Ignored as boilerplate: {e(', '.join('/'.join(p.parts[-2:]) for p in similarity.boilerplate)) or 'nothing'}. "
        f"A pair is flagged when one student's own code (starter removed) is at least "
        f"{similarity.threshold:.0%} shared and the shared code is at least {similarity.min_tokens} tokens "
        f"(a name counts as one token). Flagged pairs: {flagged} of {len(similarity.matches)} that share any code. "
        f"Every pair is in <a href=\"{CSV_NAME}\">{CSV_NAME}</a>.</p>",
        _coverage(similarity),
        _table(similarity, detailed),
    ]
    sources = similarity.sources()
    for rank, m in enumerate(similarity.matches, start=1):
        if rank in detailed:
            parts.append(_detail(rank, m, sources[(m.file, m.student_a)].code, sources[(m.file, m.student_b)].code))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _coverage(similarity: Similarity) -> str:
    e = _escape
    code = similarity.code
    lines = []
    for wanted in code.wanted:
        have = {f.student for f in code.files if f.wanted == wanted}
        skipped = {s.student for s in code.skipped if s.wanted == wanted}
        missing = [s for s in code.students if s not in have and s not in skipped]
        line = f"<li>{e(wanted)}: {len(have)} compared"
        if missing:
            line += f"; not handed in by {len(missing)}: {e(', '.join(missing))}"
        lines.append(line + "</li>")
    for s in code.skipped:
        lines.append(f"<li>{e(s.wanted)} of {e(s.student)} not compared: {e(s.reason)}</li>")
    return "<ul>" + "".join(lines) + "</ul>"


def _table(similarity: Similarity, detailed: set[int]) -> str:
    e = _escape
    if not similarity.matches:
        return "<p>No two submissions share code beyond the boilerplate.</p>"
    rows = [
        "<table class=\"pairs\"><tr><th>rank</th><th>file</th><th>student A</th><th>student B</th>"
        "<th>A's code shared</th><th>B's code shared</th><th>shared tokens</th><th>flagged</th></tr>"
    ]
    for rank, m in enumerate(similarity.matches, start=1):
        if rank not in detailed:
            continue
        link = f'<a href="#pair-{rank}">{rank}</a>'
        rows.append(
            f'<tr class="{"flagged" if m.flagged else ""}"><td class="num">{link}</td><td>{e(m.file)}</td>'
            f"<td>{e(m.student_a)}</td><td>{e(m.student_b)}</td><td class=\"num\">{m.similarity_a:.0%}</td>"
            f"<td class=\"num\">{m.similarity_b:.0%}</td><td class=\"num\">{m.shared_tokens}</td>"
            f"<td>{'yes' if m.flagged else 'no'}</td></tr>"
        )
    rows.append("</table>")
    hidden = len(similarity.matches) - len(detailed)
    if hidden:
        rows.append(f"<p>{hidden} more pair(s) with a smaller overlap are listed in {CSV_NAME} only.</p>")
    return "\n".join(rows)


def _detail(rank: int, m: Match, code_a: str, code_b: str) -> str:
    e = _escape
    sides = []
    for student, source, share, code, regions in (
        (m.student_a, m.source_a, m.similarity_a, code_a, m.regions_a),
        (m.student_b, m.source_b, m.similarity_b, code_b, m.regions_b),
    ):
        sides.append(
            f'<div class="side"><h3>{e(student)}: {e(source)} ({share:.0%} of own code shared)</h3>'
            f"<pre>{highlight(code, regions)}</pre></div>"
        )
    return (
        f'<section class="pair" id="pair-{rank}"><h2>#{rank} {e(m.file)}: {e(m.student_a)} and {e(m.student_b)}'
        f'{" (flagged)" if m.flagged else ""}</h2>'
        f'<div class="sides">{"".join(sides)}</div></section>'
    )


def highlight(code: str, regions: tuple[tuple[int, int], ...]) -> str:
    """``code`` as escaped HTML lines with line numbers, its ``[start, end)`` regions in ``<mark>``."""
    marked = bytearray(len(code))
    for start, end in regions:
        start, end = max(0, start), min(end, len(code))
        if start < end:
            marked[start:end] = b"\1" * (end - start)
    lines, position = [], 0
    for number, line in enumerate(code.splitlines(keepends=True) or [""], start=1):
        text = line.rstrip("\r\n")
        pieces, i = [], 0
        while i < len(text):
            j = i
            while j < len(text) and marked[position + j] == marked[position + i]:
                j += 1
            chunk = _escape(text[i:j])
            pieces.append(f"<mark>{chunk}</mark>" if marked[position + i] else chunk)
            i = j
        lines.append(f'<span class="ln">{number}</span>{"".join(pieces)}')
        position += len(line)
    return "\n".join(lines)


def _escape(text: str) -> str:
    return html.escape(str(text), quote=True)
