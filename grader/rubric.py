"""Loads and validates a rubric TOML file into typed objects, once.

Every error names the file, the problem or item, and the reason, e.g.
``rubrics/hw1.toml: problem p5, item p5-forward: points must be a number >= 0, got -1``.
See ``docs/rubric.md`` for the format.
"""

from __future__ import annotations

import ast
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.intake.late import LatePolicy, parse_policy

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h)?\s*$", re.IGNORECASE)
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib|k|m|g)?\s*$", re.IGNORECASE)
_DURATION_UNITS = {None: 1.0, "ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_SIZE_UNITS = {
    None: 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9,
    "k": 2**10, "kib": 2**10, "m": 2**20, "mib": 2**20, "g": 2**30, "gib": 2**30,
}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

_ASSIGNMENT_KEYS = {"id", "title", "reference", "starter", "checks", "boilerplate"}
_DEFAULT_KEYS = {"timeout", "memory"}
_PROBLEM_KEYS = {"id", "title", "files", "defines", "suite", "timeout", "memory", "plugins", "answers", "items"}
_ITEM_KEYS = {
    "id", "description", "test", "kind", "points", "visibility", "feedback", "deductions", "requires", "requires_policy",
}
#: How an item's score depends on the items it ``requires`` (see ``docs/rubric.md``).
REQUIRES_POLICIES = ("pass", "scale")
_DEDUCTION_KEYS = {"code", "points", "comment"}


class RubricError(Exception):
    """The rubric is invalid; the message names file, place and reason."""


@dataclass(frozen=True)
class Deduction:
    """A preset deduction a TA can apply to a manual item."""

    code: str
    """Short code the TA writes in the manual-scores CSV."""

    points: float
    """Points taken off (a positive number)."""

    comment: str
    """What the student reads."""


@dataclass(frozen=True)
class Item:
    """One scored item of a problem."""

    id: str
    """Unique id across the rubric (a gradebook and manual-CSV column)."""

    description: str
    """What the item checks, for reports."""

    points: float
    """Points available."""

    kind: str
    """``test`` (scored by a suite test) or ``manual`` (scored by a TA)."""

    test: str | None
    """The suite's test function name, for ``test`` items."""

    visibility: str
    """``public`` (shown to students) or ``hidden`` (score only until release)."""

    feedback: str
    """Shown when the item is not fully earned: the rule and how to fix it."""

    deductions: tuple[Deduction, ...] = ()
    """Preset deductions, for manual items."""

    requires: tuple[str, ...] = ()
    """Items of the same problem this one builds on (e.g. the ban on dense
    matrices constrains a working operator): validated at load to exist and
    form no cycle."""

    requires_policy: str = "pass"
    """``pass``: the item earns nothing (status ``skipped``) unless every
    required item passed; ``scale``: its score is multiplied by the smallest
    fraction of credit a required item earned."""


@dataclass(frozen=True)
class Problem:
    """One problem of the assignment."""

    id: str
    """The problem id (a gradebook column)."""

    title: str
    """The problem's title."""

    files: tuple[str, ...]
    """Files the problem needs, by their handout names."""

    defines: tuple[str, ...]
    """Names the needed file defines, used to find it when its name differs."""

    suite: Path | None
    """The pytest suite, if any item is a test."""

    timeout: float
    """Wall-clock seconds for the student's code on this problem."""

    memory: int
    """Address-space cap in bytes for the student's process."""

    plugins: tuple[Path, ...]
    """Trusted child plugins (guards, observers) loaded before student code."""

    answers: tuple[str, ...]
    """Glob patterns of written answers shown to the TA (manual problems)."""

    items: tuple[Item, ...]
    """The problem's items, in order."""

    plugin_options: tuple[dict, ...] = field(default=(), hash=False, compare=False)
    """The options table of each plugin, in the order of :attr:`plugins`
    (passed to its ``register(registry, **options)``)."""

    @property
    def autograded(self) -> bool:
        """Whether any item is scored by a test."""
        return any(i.kind == "test" for i in self.items)


@dataclass(frozen=True)
class Rubric:
    """A validated rubric."""

    path: Path
    """The TOML file it came from."""

    id: str
    """The assignment id."""

    title: str
    """The assignment title."""

    reference: Path | None
    """The reference-solution folder."""

    starter: Path | None
    """The starter-code folder."""

    problems: tuple[Problem, ...]
    """The problems, in order."""

    checks: tuple[Path, ...] = ()
    """Reference check modules (each defines ``run_all()``), run by ``grade verify``."""

    late: LatePolicy | None = None
    """The late policy (``[late]``), if the rubric has one."""

    boilerplate: tuple[Path, ...] = ()
    """Code files or folders, besides :attr:`starter`, that ``grade similarity`` ignores."""

    def item(self, item_id: str) -> Item:
        """Looks up an item by id (KeyError if unknown)."""
        for problem in self.problems:
            for item in problem.items:
                if item.id == item_id:
                    return item
        raise KeyError(item_id)

    @property
    def manual_items(self) -> tuple[Item, ...]:
        """All manual items, in order."""
        return tuple(i for p in self.problems for i in p.items if i.kind == "manual")


def parse_duration(text: Any) -> float:
    """Parses ``"30s"``, ``"2m"``, ``"500ms"`` or a bare number of seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool) and text > 0:
        return float(text)
    match = _DURATION.match(str(text)) if isinstance(text, str) else None
    if match and float(match.group(1)) <= 0 or isinstance(text, (int, float)) and not isinstance(text, bool):
        raise ValueError(f"a time limit must be more than zero, got {text!r}")
    if not match:
        raise ValueError(f"not a duration like '30s' or '2m': {text!r}")
    return float(match.group(1)) * _DURATION_UNITS[(match.group(2) or "").lower() or None]


def parse_size(text: Any) -> int:
    """Parses ``"2GiB"``, ``"512MB"``, ``"1g"`` or a bare number of bytes."""
    if isinstance(text, int) and not isinstance(text, bool) and text > 0:
        return text
    match = _SIZE.match(str(text)) if isinstance(text, str) else None
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"not a size like '2GiB' or '512MB': {text!r}")
    return int(float(match.group(1)) * _SIZE_UNITS[(match.group(2) or "").lower() or None])


def load_rubric(path: Path | str) -> Rubric:
    """Reads and validates a rubric file.

    Raises:
        RubricError: naming the file, the problem or item, and the reason.
    """
    path = Path(path)
    where = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RubricError(f"{where}: rubric file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RubricError(f"{where}: not valid TOML: {exc}") from None
    return _Builder(path).build(data)


class _Builder:
    def __init__(self, path: Path):
        self.path = path
        self.base = path.parent
        # Problem ids and item ids are separate namespaces (gradebook vs manual-CSV columns).
        self.seen: dict[str, set[str]] = {"assignment": set(), "problem": set(), "item": set()}

    def fail(self, place: str, reason: str) -> RubricError:
        return RubricError(f"{self.path}: {place}: {reason}" if place else f"{self.path}: {reason}")

    def build(self, data: dict) -> Rubric:
        self._keys(data, {"assignment", "defaults", "problems", "late"}, "top level")
        assignment = data.get("assignment")
        if not isinstance(assignment, dict):
            raise self.fail("", "missing [assignment] table")
        self._keys(assignment, _ASSIGNMENT_KEYS, "[assignment]")
        aid = self._id(assignment.get("id"), "[assignment]", "assignment")
        defaults = data.get("defaults", {})
        self._keys(defaults, _DEFAULT_KEYS, "[defaults]")
        problems_data = data.get("problems")
        if not isinstance(problems_data, list) or not problems_data:
            raise self.fail("", "no [[problems]] defined")
        problems = tuple(self._problem(p, i, defaults) for i, p in enumerate(problems_data))
        return Rubric(
            path=self.path,
            id=aid,
            title=str(assignment.get("title", aid)),
            reference=self._folder(assignment.get("reference"), "[assignment] reference"),
            starter=self._folder(assignment.get("starter"), "[assignment] starter"),
            problems=problems,
            checks=self._checks(assignment.get("checks", [])),
            late=None if "late" not in data else parse_policy(
                data["late"], lambda reason: self.fail("[late]", reason), parse_duration
            ),
            boilerplate=self._boilerplate(assignment.get("boilerplate", [])),
        )

    def _boilerplate(self, value: Any) -> tuple[Path, ...]:
        place = "[assignment] boilerplate"
        paths = []
        for text in self._strings(value, "[assignment]", "boilerplate"):
            path = (self.base / text).resolve()
            if path.is_file() and path.suffix.lower() not in (".py", ".ipynb"):
                raise self.fail(place, f"not a .py or .ipynb file: {text} (resolved to {path})")
            if not path.exists():
                raise self.fail(place, f"no such file or folder: {text} (resolved to {path})")
            for notebook in [path] if path.is_file() else sorted(path.rglob("*.ipynb")):
                if notebook.suffix.lower() == ".ipynb":
                    import nbformat  # only for a notebook boilerplate (a ~0.1 s import)

                    try:
                        nbformat.reads(notebook.read_text(encoding="utf-8"), as_version=4)
                    except Exception as exc:  # nbformat raises several unrelated types
                        raise self.fail(place, f"{notebook} is not a readable notebook ({type(exc).__name__})") from None
            paths.append(path)
        return tuple(paths)

    def _checks(self, value: Any) -> tuple[Path, ...]:
        paths = tuple((self.base / p).resolve() for p in self._strings(value, "[assignment]", "checks"))
        for path in paths:
            if not path.is_file() or path.suffix != ".py":
                raise self.fail("[assignment] checks", f"not a Python file: {path}")
        return paths

    def _problem(self, data: Any, index: int, defaults: dict) -> Problem:
        place = f"problem #{index + 1}"
        if not isinstance(data, dict):
            raise self.fail(place, "must be a table")
        pid = self._id(data.get("id"), place, "problem")
        place = f"problem {pid}"
        self._keys(data, _PROBLEM_KEYS, place)
        items_data = data.get("items")
        if not isinstance(items_data, list) or not items_data:
            raise self.fail(place, "has no [[problems.items]]")
        suite = None
        suite_tests: set[str] = set()
        if data.get("suite") is not None:
            suite = (self.base / str(data["suite"])).resolve()
            if not suite.is_file():
                raise self.fail(place, f"suite file not found: {data['suite']} (looked in {suite.parent})")
            suite_tests = _test_names(suite, lambda reason: self.fail(place, reason))
        try:
            timeout = parse_duration(data.get("timeout", defaults.get("timeout", "60s")))
            memory = parse_size(data.get("memory", defaults.get("memory", "2GiB")))
        except ValueError as exc:
            raise self.fail(place, f"limit does not parse: {exc}") from None
        items = tuple(self._item(d, place, suite, suite_tests) for d in items_data)
        self._check_requires(items, place)
        plugins, plugin_options = self._plugins(data.get("plugins", []), place)
        files = self._strings(data.get("files", []), place, "files")
        if any(i.kind == "test" for i in items) and not files:
            raise self.fail(place, "autograded problems must list the student files they need in 'files'")
        return Problem(
            id=pid,
            title=str(data.get("title", pid)),
            files=files,
            defines=self._strings(data.get("defines", []), place, "defines"),
            suite=suite,
            timeout=timeout,
            memory=memory,
            plugins=plugins,
            plugin_options=plugin_options,
            answers=self._strings(data.get("answers", []), place, "answers"),
            items=items,
        )

    def _plugins(self, value: Any, place: str) -> tuple[tuple[Path, ...], tuple[dict, ...]]:
        """``plugins``: a list of paths, or of tables ``{ path = "...", options = { ... } }``."""
        if not isinstance(value, list):
            raise self.fail(place, f"plugins must be a list, got {value!r}")
        paths, options = [], []
        for entry in value:
            if isinstance(entry, dict):
                self._keys(entry, {"path", "options"}, f"{place}, plugin")
                path, opts = entry.get("path"), entry.get("options", {})
                if not isinstance(opts, dict):
                    raise self.fail(place, f"plugin options must be a table, got {opts!r}")
            else:
                path, opts = entry, {}
            if not isinstance(path, str) or not path:
                raise self.fail(place, f"each plugin must be a path or a table with 'path', got {entry!r}")
            resolved = (self.base / path).resolve()
            if not resolved.is_file():
                raise self.fail(place, f"plugin file not found: {resolved}")
            paths.append(resolved)
            options.append(dict(opts))
        return tuple(paths), tuple(options)

    def _item(self, data: Any, place: str, suite: Path | None, suite_tests: set[str]) -> Item:
        if not isinstance(data, dict):
            raise self.fail(place, "each item must be a table")
        iid = self._id(data.get("id"), f"{place}, an item", "item")
        place = f"{place}, item {iid}"
        self._keys(data, _ITEM_KEYS, place)
        kind = data.get("kind", "test")
        if kind not in ("test", "manual"):
            raise self.fail(place, f"kind must be 'test' or 'manual', got {kind!r}")
        points = self._points(data.get("points"), place, "points")
        visibility = data.get("visibility", "public")
        if visibility not in ("public", "hidden"):
            raise self.fail(place, f"visibility must be 'public' or 'hidden', got {visibility!r}")
        test = data.get("test")
        if kind == "test":
            if not isinstance(test, str) or not test:
                raise self.fail(place, "a test item needs 'test', the name of a test function in the suite")
            if suite is None:
                raise self.fail(place, f"names test {test!r} but the problem has no 'suite'")
            if test not in suite_tests:
                known = ", ".join(sorted(suite_tests)) or "none"
                raise self.fail(place, f"unknown test {test!r}: {suite.name} defines {known}")
        elif test is not None:
            raise self.fail(place, "a manual item cannot name a test")
        deductions = tuple(self._deduction(d, place, points) for d in data.get("deductions", []))
        if len({d.code for d in deductions}) != len(deductions):
            raise self.fail(place, "duplicate deduction code")
        requires = self._strings(data.get("requires", []), place, "requires")
        if len(set(requires)) != len(requires):
            raise self.fail(place, f"requires lists an item twice: {list(requires)}")
        policy = data.get("requires_policy", "pass")
        if policy not in REQUIRES_POLICIES:
            raise self.fail(place, f"requires_policy must be 'pass' or 'scale', got {policy!r}")
        if "requires_policy" in data and not requires:
            raise self.fail(place, "requires_policy is set but requires is empty")
        return Item(
            id=iid,
            description=str(data.get("description", iid)),
            points=points,
            kind=kind,
            test=test if kind == "test" else None,
            visibility=visibility,
            feedback=str(data.get("feedback", "")),
            deductions=deductions,
            requires=requires,
            requires_policy=policy,
        )

    def _check_requires(self, items: tuple[Item, ...], place: str) -> None:
        """Every ``requires`` names a test item of this problem, and no item depends on itself."""
        by_id = {i.id: i for i in items}
        for item in items:
            for needed in item.requires:
                if needed not in by_id:
                    known = ", ".join(by_id)
                    raise self.fail(f"{place}, item {item.id}",
                                    f"requires unknown item {needed!r} (items of this problem: {known})")
                if by_id[needed].kind != "test":
                    raise self.fail(f"{place}, item {item.id}",
                                    f"requires {needed!r}, a manual item (only autograded items can be required)")
        state: dict[str, int] = {}  # 1 = on the current path, 2 = done

        def visit(iid: str, path: list[str]) -> None:
            if state.get(iid) == 2:
                return
            if state.get(iid) == 1:
                cycle = " → ".join(path[path.index(iid):] + [iid])
                raise self.fail(f"{place}, item {path[-1]}", f"requires forms a cycle: {cycle}")
            state[iid] = 1
            for needed in by_id[iid].requires:
                visit(needed, path + [iid])
            state[iid] = 2

        for item in items:
            visit(item.id, [])

    def _deduction(self, data: Any, place: str, item_points: float) -> Deduction:
        if not isinstance(data, dict):
            raise self.fail(place, "each deduction must be a table {code, points, comment}")
        self._keys(data, _DEDUCTION_KEYS, f"{place}, deduction")
        code = data.get("code")
        if not isinstance(code, str) or not _ID.match(code):
            raise self.fail(place, f"deduction code must be a short identifier, got {code!r}")
        points = abs(self._points(data.get("points"), f"{place}, deduction {code}", "points", allow_negative=True))
        if points > item_points:
            raise self.fail(place, f"deduction {code} takes {points:g} points but the item is worth {item_points:g}")
        return Deduction(code=code, points=points, comment=str(data.get("comment", "")))

    # -- small validators ------------------------------------------------
    def _id(self, value: Any, place: str, namespace: str) -> str:
        if not isinstance(value, str) or not _ID.match(value):
            raise self.fail(place, f"id must be a non-empty identifier (letters, digits, . _ -), got {value!r}")
        if value in self.seen[namespace]:
            raise self.fail(place, f"duplicate {namespace} id {value!r}")
        self.seen[namespace].add(value)
        return value

    def _points(self, value: Any, place: str, key: str, allow_negative: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(place, f"{key} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise self.fail(place, f"{key} must be a finite number, got {value!r}")
        if value < 0 and not allow_negative:
            raise self.fail(place, f"{key} must be a number >= 0, got {value!r}")
        return float(value)

    def _keys(self, data: Any, allowed: set[str], place: str) -> None:
        if not isinstance(data, dict):
            raise self.fail(place, "must be a table")
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise self.fail(place, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")

    def _strings(self, value: Any, place: str, key: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(place, f"{key} must be a list of strings, got {value!r}")
        return tuple(value)

    def _folder(self, value: Any, place: str) -> Path | None:
        if value is None:
            return None
        folder = (self.base / str(value)).resolve()
        if not folder.is_dir():
            raise self.fail(place, f"folder not found: {value} (resolved to {folder})")
        return folder


def _test_names(suite: Path, fail) -> set[str]:
    """Test functions a suite defines at top level or in Test* classes."""
    try:
        tree = ast.parse(suite.read_text(encoding="utf-8"), str(suite))
    except SyntaxError as exc:
        raise fail(f"suite {suite.name} does not parse: line {exc.lineno}: {exc.msg}") from None
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            names.update(
                n.name for n in node.body
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name.startswith("test")
            )
    return names


def find_default_rubric(cwd: Path) -> Path:
    """The rubric to use when none is given: the only ``rubrics/*.toml`` near ``cwd``.

    Looks in ``cwd/rubrics`` and then in the ``rubrics`` folder beside the
    grader's own checkout.

    Raises:
        RubricError: none found, or several (the message lists them).
    """
    for folder in (cwd / "rubrics", Path(__file__).resolve().parents[1] / "rubrics"):
        found = sorted(folder.glob("*.toml"))
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = ", ".join(str(p) for p in found)
            raise RubricError(f"several rubrics found ({names}); choose one with --rubric")
    raise RubricError("no rubric found: pass --rubric rubrics/<assignment>.toml")
