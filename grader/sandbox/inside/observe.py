"""Runs a student script as ``__main__`` inside the child and records what it does.

Used by child plugins (see ``rubrics/hw1/p4_observe_plugin.py``) for problems
that are graded by watching the student's own experiment rather than by
calling a required function:

* every call of the watched functions (e.g. ``f`` and ``fprime``) is recorded
  with its argument copied at call time and its result;
* assignments of the form ``x = x - <expr>`` / ``x -= <expr>`` inside loops are
  recorded as ``(old, new)`` pairs, so an update is observable even when the
  student inlined the derivative;
* figures passed to ``plt.show()`` and image files the script writes (any
  name) are saved to an artifacts folder the judge chose;
* stdout/stderr are captured up to a bound;
* at the time limit the script is stopped and what was recorded so far is
  returned.

Other files of the student's folder that the script imports are loaded with
the same instrumentation (an import hook), so ``from wideMinima import fprime``
gives the watched ``fprime``.
"""

from __future__ import annotations

import ast
import functools
import sys
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader.sandbox.inside import headless
from grader.sandbox.inside.imports import StudentImports
from grader.sandbox.inside.scripts import (
    BoundedWriter,
    Clock,
    FigureSaver,
    ScriptRun,
    ScriptStopped,
    run_main,
    time_limit,
)

#: Name of the recorder inside instrumented student namespaces.
HOOK = "__grader_observe__"


#: Loop updates stop being recorded once the watched functions were called this often
#: (they are only a fallback for an inlined derivative; this keeps observation cheap).
_UPDATES_NEEDED_BELOW = 2000


class Recorder:
    """Records calls of watched functions and loop updates into flat arrays.

    Args:
        max_values: how many floats (arguments plus results) to keep; later
            calls still run but are not recorded (``truncated`` is set).
    """

    def __init__(self, max_values: int = 1_000_000) -> None:
        self.max_values = max_values
        self.names: list[str] = []
        self._codes_by_name: dict[str, int] = {}
        self.codes = array("i")
        self.sizes = array("i")
        self.args = array("d")
        self.results = array("d")
        self.truncated = False
        self._used = [0, 0]  # arguments recorded: [watched calls, loop updates]
        self._fast_updates: dict[str, object] = {}
        self.originals: dict[str, object] = {}

    def _code(self, name: str) -> int:
        code = self._codes_by_name.get(name)
        if code is None:
            code = self._codes_by_name[name] = len(self.names)
            self.names.append(name)
        return code

    def wrap(self, name: str, func):
        """Returns ``func`` wrapped so each call is recorded under ``name``."""
        if not callable(func) or getattr(func, "__grader_observed__", False):
            return func
        self.originals.setdefault(name, func)
        code = self._code(name)
        record = self._record
        fast = self._fast_scalar(code, self.max_values // 3, 0)

        @functools.wraps(func)
        def observed(*args, **kwargs):
            if len(args) == 1 and not kwargs:
                arg = args[0]
                if type(arg) is float or type(arg) is np.float64:
                    result = func(arg)
                    fast(arg, result)
                    return result
                arg = _copy_numeric(arg)
            else:
                arg = None
            result = func(*args, **kwargs)
            if arg is not None:
                record(code, arg, result)
            return result

        observed.__grader_observed__ = True
        return observed

    def _fast_scalar(self, code: int, limit: int, budget: int):
        """A recorder for the common case (a Python or numpy float), with bound methods kept in locals."""
        args_append, results_append = self.args.append, self.results.append
        sizes_append, codes_append = self.sizes.append, self.codes.append
        used = self._used

        def fast(arg, result) -> None:
            if used[budget] >= limit:
                if not budget:
                    self.truncated = True
                return
            used[budget] += 1
            try:
                res = float(result)
            except (TypeError, ValueError):
                res = float("nan")
            args_append(arg)
            results_append(res)
            sizes_append(1)
            codes_append(code)

        return fast

    def assign(self, key: str, old, new):
        """Records one ``old -> new`` loop update of a float (or float array) and returns ``new``."""
        if self._used[0] > _UPDATES_NEEDED_BELOW:
            return new  # the watched function is called in a loop: updates are redundant
        kind = type(new)
        if (kind is float or kind is np.float64) and (type(old) is float or type(old) is np.float64):
            fast = self._fast_updates.get(key)
            if fast is None:
                fast = self._fast_updates[key] = self._fast_scalar(self._code("=" + key), self.max_values // 6, 1)
            fast(old, new)
        elif isinstance(new, (np.floating, np.ndarray)):
            arg = _copy_numeric(old)
            if arg is not None:
                self._record(self._code("=" + key), arg, new, update=True)
        return new

    def _record(self, code: int, arg, result, update: bool = False) -> None:
        # Loop updates are only a fallback; their own smaller budget keeps them
        # from crowding out the watched calls.
        size = 1 if isinstance(arg, float) else arg.size
        limit = self.max_values // 6 if update else self.max_values // 3
        if self._used[update] + size > limit:
            self.truncated = self.truncated or not update
            return
        self._used[update] += size
        if isinstance(arg, float):
            try:
                res = float(result)
            except (TypeError, ValueError):
                res = float("nan")
            self.args.append(arg)
            self.results.append(res)
        else:
            try:
                res_arr = np.asarray(result, dtype=float).ravel()
            except (TypeError, ValueError):
                res_arr = np.full(size, np.nan)
            if res_arr.size != size:
                res_arr = np.full(size, np.nan)
            self.args.frombytes(arg.tobytes())
            self.results.frombytes(np.ascontiguousarray(res_arr).tobytes())
        # Codes last: an interrupted record is then dropped by ``snapshot``.
        self.sizes.append(size)
        self.codes.append(code)

    def snapshot(self) -> dict:
        """The records as plain data (numpy arrays), consistent even after an interrupt."""
        n = len(self.codes)
        sizes = np.frombuffer(self.sizes, dtype=np.int32)[:n].copy()
        total = int(sizes.sum())
        while total > min(len(self.args), len(self.results)) and n:
            n -= 1
            total -= int(sizes[n])
        return {
            "names": list(self.names),
            "codes": np.frombuffer(self.codes, dtype=np.int32)[:n].copy(),
            "sizes": sizes[:n],
            "args": np.frombuffer(self.args, dtype=np.float64)[:total].copy(),
            "results": np.frombuffer(self.results, dtype=np.float64)[:total].copy(),
            "truncated": self.truncated,
        }


def _copy_numeric(value):
    """A float, a flat float64 copy of a numeric array, or None for anything else."""
    kind = type(value)
    if kind is float or kind is int or kind is np.float64 or isinstance(value, (np.floating, np.integer)):
        return float(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf":
            return value.astype(np.float64).ravel()
        return None
    if isinstance(value, (list, tuple)):
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            return None
        return arr.ravel()
    return None


class ObserveTransformer:
    """AST transformer: wraps watched functions where they are defined and records loop updates.

    Args:
        names: function names to wrap (after ``def name`` or ``name = ...``).
        updates: also record ``x = x ± e`` / ``x ±= e`` inside loops.
    """

    def __init__(self, names, updates: bool = True) -> None:
        self.names = set(names)
        self.updates = updates

    def __call__(self, tree: ast.Module, filename: str) -> ast.Module:
        _Instrument(self.names, self.updates, Path(filename).stem).visit(tree)
        return tree


class _Instrument(ast.NodeTransformer):
    def __init__(self, names: set[str], updates: bool, stem: str) -> None:
        self.names = names
        self.updates = updates
        self.stem = stem
        self.loop_depth = 0

    def generic_visit(self, node):
        super().generic_visit(node)
        for fieldname in ("body", "orelse", "finalbody"):
            body = getattr(node, fieldname, None)
            if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
                setattr(node, fieldname, self._wrap_definitions(body))
        return node

    def _wrap_definitions(self, body: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in body:
            out.append(stmt)
            name = _bound_name(stmt)
            if name in self.names:
                call = ast.Call(
                    ast.Attribute(ast.Name(HOOK, ast.Load()), "wrap", ast.Load()),
                    [ast.Constant(name), ast.Name(name, ast.Load())],
                    [],
                )
                out.append(ast.copy_location(ast.Assign([ast.Name(name, ast.Store())], call), stmt))
        return out

    def _loop(self, node):
        self.loop_depth += 1
        try:
            return self.generic_visit(node)
        finally:
            self.loop_depth -= 1

    visit_For = visit_While = visit_AsyncFor = _loop

    def visit_FunctionDef(self, node):
        # A function defined inside a loop is not itself the loop body.
        depth, self.loop_depth = self.loop_depth, 0
        try:
            return self.generic_visit(node)
        finally:
            self.loop_depth = depth

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Assign(self, node: ast.Assign):
        if not (self.updates and self.loop_depth and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            return node
        target = node.targets[0].id
        value = node.value
        if isinstance(value, ast.BinOp) and isinstance(value.op, (ast.Sub, ast.Add)) and _is_name(value.left, target):
            node.value = self._record_call(target, node.lineno, value)
        return node

    def visit_AugAssign(self, node: ast.AugAssign):
        if not (self.updates and self.loop_depth and isinstance(node.target, ast.Name) and isinstance(node.op, (ast.Sub, ast.Add))):
            return node
        target = node.target.id
        new = ast.BinOp(ast.Name(target, ast.Load()), node.op, node.value)
        assign = ast.Assign([ast.Name(target, ast.Store())], self._record_call(target, node.lineno, new))
        return ast.copy_location(assign, node)

    def _record_call(self, target: str, lineno: int, new: ast.expr) -> ast.Call:
        return ast.Call(
            ast.Attribute(ast.Name(HOOK, ast.Load()), "assign", ast.Load()),
            [ast.Constant(f"{self.stem}.py:{lineno}:{target}"), ast.Name(target, ast.Load()), new],
            [],
        )


def _is_name(node: ast.expr, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _bound_name(stmt: ast.stmt) -> str | None:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return stmt.name
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        return stmt.targets[0].id
    return None


@dataclass
class Observation:
    """Everything observed while running a student's scripts."""

    scripts: list[ScriptRun] = field(default_factory=list)
    """How each script ended."""

    stdout: str = ""
    """What the scripts printed (bounded)."""


def observe(
    student_root: Path,
    scripts: list[str],
    names: list[str],
    seconds: float,
    artifacts: Path,
    max_values: int = 1_000_000,
    max_output: int = 20_000,
) -> tuple[Observation, Recorder, FigureSaver]:
    """Runs ``scripts`` in order as ``__main__`` within one time budget, watching ``names``."""
    artifacts.mkdir(parents=True, exist_ok=True)
    recorder = Recorder(max_values)
    transformers = [ObserveTransformer(names)]
    hook = StudentImports(student_root, transformers, namespace={HOOK: recorder})
    saver = FigureSaver(artifacts, student_root)
    out = BoundedWriter(max_output)
    clock = Clock()
    observation = Observation()
    deadline = time.monotonic() + seconds
    sys.meta_path.insert(0, hook)
    headless.SHOW_HOOKS.append(saver.on_show)
    saved_streams = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = out
    try:
        for script in scripts:
            left = deadline - time.monotonic()
            if left <= 0:
                observation.scripts.append(ScriptRun(script, "stopped", "not started: no time left"))
                continue
            with time_limit(left, clock):
                observation.scripts.append(run_main(student_root / script, student_root, transformers, {HOOK: recorder}, clock))
            saver.on_show()  # figures drawn but never shown
    finally:
        sys.stdout, sys.stderr = saved_streams
        headless.SHOW_HOOKS.remove(saver.on_show)
        sys.meta_path.remove(hook)
    saver.collect_files()
    text = out.getvalue()
    if out.dropped:
        text += f"\n… ({out.dropped} more characters not kept)"
    observation.stdout = text
    (artifacts / "stdout.txt").write_text(text, encoding="utf-8")
    return observation, recorder, saver


def probe(func, points: list[float], seconds: float = 5.0) -> list:
    """Calls ``func`` at each point (scalars); each result is a float, or None if it raised."""
    values: list = []
    clock = Clock(in_student=True)
    with np.errstate(all="ignore"), time_limit(seconds, clock):
        try:
            for x in points:
                try:
                    values.append(float(func(x)))
                except Exception:  # noqa: BLE001 - a failing point is an answer
                    values.append(None)
        except ScriptStopped:
            pass
    clock.in_student = False
    return values + [None] * (len(points) - len(values))
