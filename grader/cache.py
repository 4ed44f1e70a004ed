"""The result cache: a (student, problem) result is reused only when nothing that decides it changed.

The key of a result is a SHA-256 over everything its grading read:

* the student's files (every file in their folder, by path and content);
* the problem's part of the rubric (its fields and items, the assignment's id
  and folders) and the TA's manual scores for that student and problem;
* the suites' folder (the suite, its helper modules) and the problem's child plugins;
* the reference folder;
* the grader itself (version and the source of every module of ``grader/``).

So a changed rubric item changes the key of its own problem only, and an
edit to a suite's folder or to the grader regrades everything that used it.
Entries live in ``<reports>/.cache/<student>/<problem>.json`` with their key
and a digest of their content; an entry that cannot be read, does not match
its digest or does not decode into a result is reported and regraded, never
used. Results the grader could not produce (its own errors) are not stored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Callable, Iterable

from grader.models import ItemScore, ManualScore, ProblemResult, SourceExcerpt, Status, WrittenAnswer
from grader.rubric import Problem, Rubric
from grader.runner import INTERNAL_ERROR

#: Bump when the entry format changes; older entries are then misses.
FORMAT = 1

_GRADER_ROOT = Path(__file__).resolve().parent
_SKIPPED_DIRS = {"__pycache__", ".git", ".ipynb_checkpoints"}


def tree_digest(paths: Iterable[Path]) -> str:
    """SHA-256 of the files under ``paths`` (folders walked), by relative path and content."""
    digest = hashlib.sha256()
    for root in paths:
        root = Path(root)
        files = [root] if root.is_file() else sorted(
            p for p in root.rglob("*") if p.is_file() and not _SKIPPED_DIRS.intersection(p.relative_to(root).parts)
        ) if root.is_dir() else []
        digest.update(f"root {root.name} {len(files)}\n".encode())
        for path in files:
            rel = path.relative_to(root).as_posix() if path != root else path.name
            digest.update(f"file {rel} {path.stat().st_size}\n".encode("utf-8", "surrogateescape"))
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def grader_version() -> str:
    """The grader's identity for cache keys: its package version and the digest of its source."""
    try:
        from importlib.metadata import version

        declared = version("mfdnn-grader")
    except Exception:  # noqa: BLE001 - not installed: the source digest alone
        declared = "unknown"
    return f"{declared}+{tree_digest([_GRADER_ROOT])[:16]}"


def _canonical(value) -> str:
    def default(obj):
        if isinstance(obj, Path):
            return str(obj)
        if dataclasses.is_dataclass(obj):
            return dataclasses.asdict(obj)
        raise TypeError(f"cannot hash {type(obj).__name__}")

    return json.dumps(value, sort_keys=True, default=default, ensure_ascii=False)


class ResultCache:
    """Looks up and stores problem results under ``folder``.

    Args:
        folder: the cache folder (``<reports>/.cache``).
        rubric: the loaded rubric (the assignment's part of every key).
        warn: where a corrupt entry is reported.
    """

    def __init__(self, folder: Path, rubric: Rubric, warn: Callable[[str], None]) -> None:
        self.folder = folder
        self._rubric = rubric
        self._warn = warn
        self._lock = threading.Lock()
        self._digests: dict[str, str] = {}
        self._problems: dict[str, tuple[Problem, str]] = {}
        self._grader = grader_version()
        self.hits = 0
        self.misses = 0

    def _digest(self, name: str, paths: Iterable[Path]) -> str:
        with self._lock:
            if name not in self._digests:
                self._digests[name] = tree_digest(paths)
            return self._digests[name]

    def key(
        self, student_folder: Path, problem: Problem, manual: dict[str, ManualScore] | None, prefer: str | None = None
    ) -> str:
        """The key of one (student, problem) result.

        ``prefer`` (``--prefer``) is part of it: it can change which of the student's files is graded.
        """
        manual = {i.id: (manual or {}).get(i.id) for i in problem.items if i.kind == "manual"}
        parts = {
            "problem": self._problem_part(problem),
            "manual": manual,
            "student": tree_digest([student_folder]),
            "prefer": prefer,
        }
        return hashlib.sha256(_canonical(parts).encode("utf-8")).hexdigest()

    def _problem_part(self, problem: Problem) -> str:
        """The digest of what every student's key for ``problem`` shares, computed once per problem."""
        with self._lock:
            known = self._problems.get(problem.id)
        if known is not None and known[0] is problem:
            return known[1]
        rubric = self._rubric
        suites = sorted({str(problem.suite.parent)} if problem.suite else set())
        parts = {
            "format": FORMAT,
            "grader": self._grader,
            "assignment": [rubric.id, str(rubric.reference), str(rubric.starter)],
            "problem": problem,
            "plugin_options": list(problem.plugin_options),
            "suites": self._digest("suites:" + problem.id, [Path(s) for s in suites] + list(problem.plugins)),
            "reference": self._digest("reference", [rubric.reference] if rubric.reference else []),
        }
        digest = hashlib.sha256(_canonical(parts).encode("utf-8")).hexdigest()
        with self._lock:
            self._problems[problem.id] = (problem, digest)
        return digest

    def _path(self, student: str, problem_id: str) -> Path:
        return self.folder / student / f"{problem_id}.json"

    def get(self, student: str, problem_id: str, key: str, report_dir: Path) -> ProblemResult | None:
        """The stored result for this key, or None (a miss; a corrupt entry is reported)."""
        path = self._path(student, problem_id)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return self._miss()
        except (OSError, UnicodeDecodeError) as exc:
            return self._corrupt(path, f"unreadable: {exc}")
        try:
            entry = json.loads(text)
            if entry.get("key") != key:
                return self._miss()  # stale: something that decides the result changed
            payload = _canonical(entry["result"])
            if hashlib.sha256(payload.encode("utf-8")).hexdigest() != entry["digest"]:
                return self._corrupt(path, "its content does not match its digest")
            result = result_from_dict(entry["result"])
            artifacts = [str(a) for a in entry.get("artifacts", [])]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return self._corrupt(path, f"{type(exc).__name__}: {exc}")
        if any(not (report_dir / a).is_file() for a in artifacts):
            return self._miss()  # figures it produced were deleted from the reports: regrade
        with self._lock:
            self.hits += 1
        return result

    def put(self, student: str, problem_id: str, key: str, result: ProblemResult, report_dir: Path) -> None:
        """Stores a result (atomically: a crash never leaves half an entry)."""
        data = dataclasses.asdict(result)
        artifacts_dir = report_dir / problem_id
        artifacts = sorted(
            p.relative_to(report_dir).as_posix() for p in artifacts_dir.rglob("*") if p.is_file()
        ) if artifacts_dir.is_dir() else []
        payload = _canonical(data)
        digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()
        # The entry as json.dump would write {"key", "digest", "artifacts", "result"}, with the
        # result's canonical text as it is (not parsed back and written again).
        text = (f'{{"key": {json.dumps(key)}, "digest": {json.dumps(digest)}, '
                f'"artifacts": {json.dumps(artifacts, ensure_ascii=False)}, "result": {payload}}}')
        path = self._path(student, problem_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{problem_id}-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)

    def through(
        self,
        student: str,
        folder: Path,
        problem: Problem,
        manual: dict[str, ManualScore] | None,
        report_dir: Path,
        grade: Callable[[], ProblemResult],
        prefer: str | None = None,
    ) -> ProblemResult:
        """The cached result if its key matches, else ``grade()``'s, stored unless the grader failed."""
        key = self.key(folder, problem, manual, prefer)
        cached = self.get(student, problem.id, key, report_dir)
        if cached is not None:
            return cached
        result = grade()
        if not any(n.startswith(INTERNAL_ERROR) for n in result.notes):
            self.put(student, problem.id, key, result, report_dir)
        return result

    def _miss(self) -> None:
        with self._lock:
            self.misses += 1
        return None

    def _corrupt(self, path: Path, reason: str) -> None:
        self._warn(f"grader: ignoring corrupt cache entry {path} ({reason}); regrading")
        return self._miss()


def result_from_dict(data: dict) -> ProblemResult:
    """Rebuilds a :class:`ProblemResult` from ``dataclasses.asdict`` output (strictly: unknown fields fail)."""
    items = tuple(
        ItemScore(**{**i, "status": Status(i["status"]), "locations": _excerpts(i.get("locations", ()))})
        for i in data["items"]
    )
    answers = tuple(WrittenAnswer(**a) for a in data.get("answers", ()))
    fields = {k: v for k, v in data.items() if k not in ("items", "answers")}
    for name in ("files", "notes", "flags"):
        if name in fields:
            if not isinstance(fields[name], (list, tuple)) or not all(isinstance(x, str) for x in fields[name]):
                raise TypeError(f"{name} must be a list of strings")
            fields[name] = tuple(fields[name])
    for item in items:
        if not isinstance(item.score, (int, float)) or not isinstance(item.max_score, (int, float)):
            raise TypeError(f"item {item.id}: score must be a number")
    return ProblemResult(items=items, answers=answers, **fields)


def _excerpts(raw) -> tuple[SourceExcerpt, ...]:
    """``ItemScore.locations`` back from JSON (tuples became lists)."""
    return tuple(
        SourceExcerpt(file=str(e["file"]), line=int(e["line"]), lines=tuple((int(n), str(s)) for n, s in e["lines"]))
        for e in raw
    )
