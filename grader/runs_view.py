"""P4's ``.runs-view``: the runs of a ``runs.json`` as plain little-endian arrays (layout in docs/p4.md).

The one definition of the layout, for both sides: the P4 suite writes the
companion (:func:`parts`, :func:`companion`) and the HTML report reads it
(:func:`read`) instead of parsing thousands of JSON numbers. The report uses it
only when it was written for the exact bytes of the ``runs.json`` beside it.
Imports nothing heavier than numpy, so a judge worker can load it.
"""

from __future__ import annotations

import array
import hashlib
import json
import math
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np

#: The companion's file name, beside runs.json. It starts with a dot: a child's outbox
#: never brings such a file into the artifacts (session._collect_outbox).
NAME = ".runs-view"

#: The outcomes as the companion numbers them (its header lists them).
OUTCOMES = ("wide", "sharp", "diverged", "other")

#: Per run, in this order: (name, array typecode, little-endian numpy dtype). ``ends`` is
#: where each run's trajectory ends in the point arrays (cumulative); floats hold nan for null.
RUN_COLUMNS = (("alpha", "d", "<f8"), ("start", "d", "<f8"), ("last", "d", "<f8"), ("steps", "q", "<i8"),
               ("ends", "q", "<i8"), ("group", "i", "<i4"), ("outcome", "b", "i1"), ("judged", "b", "i1"))
#: Per point, after the run columns.
POINT_COLUMNS = (("step", "q", "<i8"), ("value", "d", "<f8"))

_JUDGED = [name for name, _, _ in RUN_COLUMNS].index("judged")
_RUN_BYTES = sum(np.dtype(dtype).itemsize for _, _, dtype in RUN_COLUMNS)
_POINT_BYTES = sum(np.dtype(dtype).itemsize for _, _, dtype in POINT_COLUMNS)


class Columns(NamedTuple):
    """A decoded companion: the header's lists and one array per column (by name)."""

    groups: list
    """The run groups, as the ``group`` column numbers them."""

    outcomes: list
    """The outcomes, as the ``outcome`` column numbers them."""

    arrays: dict
    """Column name -> :class:`array.array` (run columns of length N, point columns of length M)."""


def parts(doc: dict) -> tuple[dict, bytes, bytes]:
    """The header and the bytes before and after the ``judged`` column, for a runs.json document (schema 1).

    Made from the document itself, so the companion says exactly what runs.json says;
    a verdict then only changes the marks (:func:`companion`).
    """
    runs = doc["runs"]
    groups = list(dict.fromkeys(r["group"] for r in runs))
    where = {g: i for i, g in enumerate(groups)}
    points = [point for r in runs for point in r["trajectory"]]
    values = {
        "alpha": [r["alpha"] for r in runs], "start": [r["start"] for r in runs], "last": [r["last"] for r in runs],
        "steps": [r["steps"] for r in runs], "ends": np.cumsum([len(r["trajectory"]) for r in runs], dtype=np.int64),
        "group": [where[r["group"]] for r in runs], "outcome": [OUTCOMES.index(r["outcome"]) for r in runs],
        "step": [k for k, _ in points], "value": [v for _, v in points],
    }

    def encoded(columns) -> bytes:
        out = []
        for name, _, dtype in columns:
            column = values[name]
            if dtype == "<f8":
                column = [math.nan if v is None else v for v in column]
            out.append(np.asarray(column, dtype=dtype).tobytes())
        return b"".join(out)

    header = {"schema": 1, "runs": len(runs), "points": len(points), "groups": groups, "outcomes": list(OUTCOMES)}
    return header, encoded(RUN_COLUMNS[:_JUDGED]), encoded(RUN_COLUMNS[_JUDGED + 1:] + POINT_COLUMNS)


def companion(made: tuple[dict, bytes, bytes], text: bytes, judged: list[bool]) -> bytes:
    """The companion of the runs.json whose bytes are ``text``, written with these ``judged`` marks."""
    header, head, tail = made
    header = {**header, "digest": _digest(text)}
    return (json.dumps(header, separators=(",", ":")).encode("ascii") + b"\n" + head
            + np.asarray(judged, dtype="i1").tobytes() + tail)


def read(path: Path, text: bytes) -> Columns | None:
    """The companion at ``path`` of the runs.json whose bytes are ``text``.

    None when it is absent, malformed, or was written for other bytes (a stale or
    planted file), so the caller parses the JSON instead. Indexes are checked: every
    group and outcome names an entry of the header, and trajectories fit the points.
    """
    try:
        data = path.read_bytes()
    except OSError:
        return None
    line, _, body = data.partition(b"\n")
    try:
        header = json.loads(line)
        n, m, groups, outcomes, digest = (header[k] for k in ("runs", "points", "groups", "outcomes", "digest"))
    except (ValueError, TypeError, KeyError):
        return None
    if (header.get("schema") != 1 or type(n) is not int or type(m) is not int or n < 0 or m < 0
            or type(groups) is not list or type(outcomes) is not list
            or len(body) != _RUN_BYTES * n + _POINT_BYTES * m or digest != _digest(text)):
        return None
    view, at, arrays = memoryview(body), 0, {}
    for columns, count in ((RUN_COLUMNS, n), (POINT_COLUMNS, m)):
        for name, code, dtype in columns:
            size = np.dtype(dtype).itemsize
            column = array.array(code)
            if column.itemsize != size:
                return None
            column.frombytes(view[at:at + size * count])
            if sys.byteorder == "big":
                column.byteswap()
            arrays[name] = column
            at += size * count
    ends = arrays["ends"]
    if (any(g < 0 or g >= len(groups) for g in arrays["group"])
            or any(o < 0 or o >= len(outcomes) for o in arrays["outcome"])
            or any(b > e for b, e in zip([0, *ends[:-1]], ends)) or (n and ends[-1] > m)):
        return None
    return Columns(groups, outcomes, arrays)


def _digest(text: bytes) -> str:
    return hashlib.blake2b(text, digest_size=16).hexdigest()
