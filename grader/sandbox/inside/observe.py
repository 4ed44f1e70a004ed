"""Runs a student script as ``__main__`` inside the child and records what it does.

Used by child plugins (see ``rubrics/hw1/p4_observe_plugin.py``) for problems
that are graded by watching the student's own experiment rather than by
calling a required function:

* every call of the watched gradient (e.g. ``fprime``) is followed as it
  happens: the GD chains are rebuilt online (``grader/sandbox/inside/chains.py``),
  keeping per chain its start, last iterate, step, step count and a bounded
  trajectory sample, so memory is O(chains), not O(calls); calls of the
  other watched functions (``f``) are counted;
* assignments of the form ``x = x - <expr>`` / ``x -= <expr>`` inside loops are
  followed the same way with the assignment's derivative, so an update is
  observable even when the student inlined it;
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
import copy
import functools
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader.sandbox.inside import headless
from grader.sandbox.inside.chains import _NOTHING, ChainBuilder
from grader.sandbox.inside.imports import StudentImports
from grader.sandbox.inside.restore import ModuleSnapshot
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


#: Loop updates stop being followed once the watched functions were called this often
#: (they are only a fallback for an inlined derivative; this keeps observation cheap).
_UPDATES_NEEDED_BELOW = 2000


def _pass_through(key, old, new):
    """``Recorder.assign`` once loop updates are no longer followed: the update itself, nothing recorded."""
    return new


class Recorder:
    """Follows the GD chains in the calls of the watched gradient and in loop updates, as they happen.

    Each stream (the calls of a watched function named in ``gradients``, or
    the updates ``x = x - …`` of one loop line) feeds a
    :class:`~grader.sandbox.inside.chains.ChainBuilder`, so memory grows with the
    number of chains, never with the number of calls. Calls of other watched
    functions are only counted.

    Args:
        gradients: watched names whose calls are gradient evaluations (e.g. ``fprime``).
        gradient: the assignment's gradient, used to follow loop updates of an inlined derivative.
        max_runs: runs followed at most per stream (see ``ChainBuilder``).
    """

    def __init__(self, gradients=("fprime",), gradient=None, max_runs: int = 100_000) -> None:
        self.gradients = set(gradients)
        self.gradient = gradient
        self.max_runs = max_runs
        self.builders: dict[str, ChainBuilder] = {}
        self.counts: dict[str, list[int]] = {}
        # name -> each definition the scripts bound to it, with the name's call count at that moment
        self.definitions: dict[str, list[tuple[object, int]]] = {}
        self._gradient_builders: list[ChainBuilder] = []
        self.following = True  # whether loop updates are still followed (read by the instrumented loops)

    def _builder(self, name: str) -> ChainBuilder:
        builder = self.builders.get(name)
        if builder is None:
            builder = self.builders[name] = ChainBuilder(self.max_runs)
        return builder

    def _calls(self, name: str) -> int:
        """Calls of the watched ``name`` so far (all its definitions)."""
        if name in self.gradients:
            builder = self.builders.get(name)
            return builder.calls if builder is not None else 0
        return self.counts.get(name, [0])[0]

    def original(self, name: str):
        """The definition of ``name`` the scripts called most, unwrapped (the last on a tie); None if never defined.

        A definition's calls are those made while it was the latest one bound: a script that
        defines a wrong ``fprime``, then the right one its experiment uses, is judged on the second.
        """
        definitions = self.definitions.get(name)
        if not definitions:
            return None
        ends = [at for _, at in definitions[1:]] + [self._calls(name)]
        best, most = None, -1
        for (func, at), end in zip(definitions, ends):
            if end - at >= most:
                best, most = func, end - at
        return best

    def wrap(self, name: str, func):
        """Returns ``func`` wrapped so each call is observed under ``name``."""
        if not callable(func) or getattr(func, "__grader_observed__", False):
            return func
        self.definitions.setdefault(name, []).append((func, self._calls(name)))
        if name not in self.gradients:
            count = self.counts.setdefault(name, [0])

            @functools.wraps(func)
            def counted(*args, **kwargs):
                count[0] += 1
                return func(*args, **kwargs)

            counted.__grader_observed__ = True
            return counted
        builder = self._builder(name)
        feed = builder.feed
        self._gradient_builders.append(builder)

        def other(x, rest, kwargs):
            """Any call but fprime(one float) or fprime(a flat float64 array): lists, several arguments…"""
            args = (() if x is _NOTHING else (x,)) + rest
            arg = _copy_numeric(args[0]) if len(args) == 1 and not kwargs else None
            if arg is not None:
                builder.note_precision(args[0])
            result = func(*args, **kwargs)
            if arg is not None:
                _feed_general(feed, arg, result)
            return result

        def general(arg, result):
            """A flat float64 argument whose result is not a float64 array of its size."""
            _feed_general(feed, arg, result)

        observed = functools.wraps(func)(builder.calls_of(func, other, general))
        observed.__grader_observed__ = True
        return observed

    def assign(self, key: str, old, new):
        """Follows one ``old -> new`` loop update of a float (or float array) and returns ``new``."""
        if self.gradient is None or any(b.chains or b.calls > _UPDATES_NEEDED_BELOW for b in self._gradient_builders):
            # The watched gradient is called in a loop: the updates are redundant. Once it
            # formed a chain, the judge grades that stream and never the updates' (see
            # gd_runs.runs_from_record), and a builder never drops a chain, so from now on
            # every update only passes through: an instance attribute shadows this method.
            self.following = False
            self.assign = _pass_through
            return new
        kind = type(new)
        if (kind is float or kind is np.float64) and (type(old) is float or type(old) is np.float64):
            x = float(old)
            self._builder("=" + key).feed_scalar(x, _as_float(self.gradient(x)))
        elif isinstance(new, (np.floating, np.ndarray)):
            arg = _copy_numeric(old)
            if arg is not None:
                builder = self._builder("=" + key)
                builder.note_precision(old)
                with np.errstate(all="ignore"):
                    grad = self.gradient(arg)
                _feed_general(builder.feed, arg, grad)
        return new

    def snapshot(self) -> dict:
        """What was observed, as plain data: the runs of each stream and the call counts."""
        calls = {name: count[0] for name, count in self.counts.items()}
        for name, builder in self.builders.items():
            if not name.startswith("="):
                calls[name] = builder.calls
        return {
            "streams": {name: builder.runs_data() for name, builder in self.builders.items()},
            "calls": calls,
        }


def _as_float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _feed_general(feed, arg, result) -> None:
    """Feeds a non-fast-path evaluation: a float, or a flat array with a result of the same size."""
    if isinstance(arg, float):
        feed(arg, _as_float(result))
        return
    if arg.size == 0:
        return  # fprime of an empty array (every element of a shrinking one dropped): no point, no call
    try:
        res = np.asarray(result, dtype=float).ravel()
    except (TypeError, ValueError):
        res = np.full(arg.size, np.nan)
    if res.size != arg.size:
        res = np.full(arg.size, np.nan)
    if arg.size == 1:
        feed(float(arg[0]), float(res[0]))
    else:
        feed(arg, res.copy())


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

    def _record_call(self, target: str, lineno: int, new: ast.expr) -> ast.expr:
        """``HOOK.assign(key, target, new) if HOOK.following else new``: once updates are no
        longer followed, the loop runs the update as written, without a call per iteration."""
        call = ast.Call(
            ast.Attribute(ast.Name(HOOK, ast.Load()), "assign", ast.Load()),
            [ast.Constant(f"{self.stem}.py:{lineno}:{target}"), ast.Name(target, ast.Load()), new],
            [],
        )
        return ast.IfExp(ast.Attribute(ast.Name(HOOK, ast.Load()), "following", ast.Load()), call, copy.deepcopy(new))


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

    replaced: list[str] = field(default_factory=list)
    """Library attributes the scripts replaced (``numpy.asarray``), put back once they ended."""

    forks: int = 0
    """Processes the scripts forked (a ``multiprocessing`` pool): calls made there are not observed."""

    namespaces: list[dict] = field(default_factory=list)
    """Each script's globals once it ended, in the order run (student objects: never sent as they are)."""


def observe(
    student_root: Path,
    scripts: list[str],
    names: list[str],
    seconds: float,
    artifacts: Path,
    max_runs: int = 100_000,
    max_output: int = 20_000,
    gradients=("fprime",),
    gradient=None,
) -> tuple[Observation, Recorder, FigureSaver]:
    """Runs ``scripts`` in order as ``__main__`` within one time budget, watching ``names``.

    Calls of the names in ``gradients`` are followed as GD chains; loop
    updates are followed with ``gradient`` (the assignment's derivative) when given.
    """
    artifacts.mkdir(parents=True, exist_ok=True)
    recorder = Recorder(gradients, gradient, max_runs)
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
    libraries = ModuleSnapshot()
    # Counted, not prevented: a pool's workers run fprime where this recorder cannot see it,
    # and the feedback should say so rather than "fprime was never called". (This child
    # serves one student's one problem, so the hook never outlives what it counts for.)
    forked = [0]
    os.register_at_fork(before=lambda: forked.__setitem__(0, forked[0] + 1))
    try:
        for script in scripts:
            left = deadline - time.monotonic()
            if left <= 0:
                observation.scripts.append(ScriptRun(script, "stopped", "not started: no time left"))
                continue
            with time_limit(left, clock, student_root):
                observation.scripts.append(run_main(student_root / script, student_root, transformers, {HOOK: recorder},
                                                    clock, observation.namespaces))
            saver.on_show()  # figures drawn but never shown
    finally:
        sys.stdout, sys.stderr = saved_streams
        headless.SHOW_HOOKS.remove(saver.on_show)
        sys.meta_path.remove(hook)
        # Before anything of the grader's runs again here (figures, probes of f and fprime, the answer).
        observation.replaced = libraries.restore()
        observation.forks = forked[0]
    saver.collect_files()
    text = out.getvalue()
    if out.dropped:
        text += f"\n… ({out.dropped} more characters not kept)"
    observation.stdout = text
    (artifacts / "stdout.txt").write_text(text, encoding="utf-8")
    return observation, recorder, saver


def probe(func, points: list[float], seconds: float = 5.0, root: Path | None = None) -> list:
    """Calls ``func`` at each point (scalars); each result is a float, or the name of the exception it raised.

    ``root``: the student's folder, so that a function that swallows the stop is still stopped (see time_limit).
    """
    values: list = []
    clock = Clock(in_student=True)
    with np.errstate(all="ignore"), time_limit(seconds, clock, root):
        try:
            for x in points:
                try:
                    values.append(float(func(x)))
                except Exception as exc:  # noqa: BLE001 - a failing point is an answer
                    values.append(type(exc).__name__)
        except ScriptStopped:
            pass
    clock.in_student = False
    return values + [None] * (len(points) - len(values))
