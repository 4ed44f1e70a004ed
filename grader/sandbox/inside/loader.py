"""Loads a student's file inside the child without running its experiments.

Student files are scripts: class and function definitions followed by a seed,
a GD loop, prints and plots. The loader first runs only the definitions (and
imports and literal constants); when a name the suite needs is not defined that
way, it runs the whole file as an imported module, so ``__main__`` blocks
still stay out.
"""

from __future__ import annotations

import ast
import re
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

#: An AST transformer a child plugin registers: ``(tree, filename) -> tree``.
Transformer = Callable[[ast.Module, str], ast.Module]

_MAGIC_LINE = re.compile(r"^(\s*)([!%].*)$")


class StudentCodeError(Exception):
    """Student code raised, or could not be compiled.

    Attributes:
        kind: ``syntax``, ``exception`` or ``exit``.
        where: ``file:line`` of the innermost student frame, if any.
    """

    def __init__(self, message: str, kind: str, where: str | None = None, trace: list | None = None):
        super().__init__(message)
        self.kind = kind
        self.where = where
        self.trace = trace or []


@dataclass
class LoadedModule:
    """A student module the child has loaded."""

    module: types.ModuleType
    """The live module object."""

    mode: str
    """``definitions`` when only definitions ran, ``full`` when the whole file ran."""

    notes: list[str] = field(default_factory=list)
    """Things the student should know about how the file was loaded."""


def strip_magics(source: str) -> tuple[str, int]:
    """Comments out IPython magics and shell escapes (Colab leftovers).

    Line numbers are kept so feedback still points at the student's lines.

    Returns:
        The new source and how many lines were changed.
    """
    out, changed = [], 0
    for line in source.splitlines(keepends=True):
        match = _MAGIC_LINE.match(line)
        if match:
            out.append(f"{match.group(1)}pass  # grader: skipped notebook magic {match.group(2)!r}\n")
            changed += 1
        else:
            out.append(line)
    return "".join(out), changed


def parse_student(source: str, filename: str) -> tuple[ast.Module, list[str]]:
    """Parses student source, tolerating notebook magics.

    Raises:
        StudentCodeError: for a syntax error, naming the file and line.
    """
    notes: list[str] = []
    try:
        return ast.parse(source, filename), notes
    except SyntaxError as first:
        stripped, changed = strip_magics(source)
        if changed:
            try:
                tree = ast.parse(stripped, filename)
            except SyntaxError:
                pass
            else:
                notes.append(f"{changed} notebook magic line(s) such as '!pip install' were skipped")
                return tree, notes
        where = f"{Path(filename).name}:{first.lineno}"
        text = (first.text or "").strip()
        detail = f": `{text}`" if text else ""
        raise StudentCodeError(
            f"SyntaxError at {where}: {first.msg}{detail}", kind="syntax", where=where
        ) from None


def definitions_only(tree: ast.Module) -> ast.Module:
    """Keeps imports, defs, classes and literal constants; drops script code."""
    kept = [node for node in tree.body if _is_definition(node)]
    return ast.Module(body=kept, type_ignores=[])


def defined_names(tree: ast.Module) -> set[str]:
    """Names a module binds at top level (best effort, for messages and fallback)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def _is_definition(node: ast.stmt) -> bool:
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
        return _is_literal(node.value) or _is_lazy_import(node.value)
    if isinstance(node, ast.Try):
        # `try: import x except ImportError: ...` guards are definitions too.
        return all(isinstance(n, (ast.Import, ast.ImportFrom, ast.Pass)) for n in node.body)
    return False


def _is_lazy_import(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "__grader_lazy_module__"
    )


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


class _GuardedImports(ast.NodeTransformer):
    """Wraps top-level imports so a Colab-only module does not sink the load."""

    def __init__(self) -> None:
        self.wrapped = 0

    def visit_Module(self, node: ast.Module) -> ast.Module:
        body = []
        for stmt in node.body:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)) and _is_optional_import(stmt):
                handler = ast.ExceptHandler(type=ast.Name("ImportError", ast.Load()), name=None, body=[ast.Pass()])
                body.append(ast.copy_location(ast.Try(body=[stmt], handlers=[handler], orelse=[], finalbody=[]), stmt))
                self.wrapped += 1
            else:
                body.append(stmt)
        node.body = body
        return node


def guard_optional_imports(tree: ast.Module) -> ast.Module:
    """Wraps top-level imports of Colab/IPython-only modules in ``try/except ImportError``."""
    return _GuardedImports().visit(tree)


_OPTIONAL_MODULES = ("google.colab", "google", "IPython", "ipywidgets", "tqdm")

#: Modules bound lazily when a student file imports them under a name
#: (``import matplotlib.pyplot as plt``): most graded calls never plot, and
#: pyplot costs a third of a second at every child start.
_LAZY_MODULES = frozenset({"matplotlib.pyplot"})


class LazyModule:
    """Stands for a module until its first attribute is read, then imports it."""

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_lazy_name", name)

    def _load(self):
        import importlib

        return importlib.import_module(object.__getattribute__(self, "_lazy_name"))

    def __getattr__(self, attr: str):
        return getattr(self._load(), attr)

    def __setattr__(self, attr: str, value) -> None:
        setattr(self._load(), attr, value)

    def __repr__(self) -> str:
        return f"<lazy module {object.__getattribute__(self, '_lazy_name')}>"


class _LazyImports(ast.NodeTransformer):
    """Rewrites top-level ``import matplotlib.pyplot as plt`` into a lazy binding."""

    def visit_Module(self, node: ast.Module) -> ast.Module:
        body = []
        for stmt in node.body:
            lazy = _lazy_target(stmt)
            if lazy is None:
                body.append(stmt)
                continue
            module, alias = lazy
            call = ast.Call(ast.Name("__grader_lazy_module__", ast.Load()), [ast.Constant(module)], [])
            body.append(ast.copy_location(ast.Assign([ast.Name(alias, ast.Store())], call), stmt))
        node.body = body
        return node


def _lazy_target(stmt: ast.stmt) -> tuple[str, str] | None:
    if isinstance(stmt, ast.Import) and len(stmt.names) == 1:
        alias = stmt.names[0]
        if alias.name in _LAZY_MODULES and alias.asname:
            return alias.name, alias.asname
    if isinstance(stmt, ast.ImportFrom) and stmt.level == 0 and len(stmt.names) == 1:
        alias = stmt.names[0]
        full = f"{stmt.module}.{alias.name}"
        if full in _LAZY_MODULES:
            return full, alias.asname or alias.name
    return None


def _is_optional_import(stmt: ast.Import | ast.ImportFrom) -> bool:
    names = [a.name for a in stmt.names] if isinstance(stmt, ast.Import) else [stmt.module or ""]
    return all(n.split(".")[0] in {m.split(".")[0] for m in _OPTIONAL_MODULES} for n in names)


def load(
    path: Path,
    module_name: str,
    required: Iterable[str],
    student_root: Path,
    transformers: Iterable[Transformer] = (),
    mode: str = "auto",
) -> LoadedModule:
    """Loads one student file as module ``module_name``.

    Args:
        path: the file, inside the student's working copy.
        module_name: the name it gets in ``sys.modules`` (its stem), so other
            student files can import it.
        required: names the suite needs; if any is missing after running the
            definitions only, the whole file runs.
        student_root: the student's working copy, for trimming tracebacks.
        transformers: AST transformers registered by child plugins.
        mode: ``auto``, ``definitions`` or ``full``.

    Raises:
        StudentCodeError: on a syntax error or an exception while loading.
    """
    source = path.read_text(encoding="utf-8", errors="replace")
    filename = str(path)
    tree, notes = parse_student(source, filename)
    # Locations first, so plugin transformers see line numbers on every node.
    tree = ast.fix_missing_locations(_LazyImports().visit(_GuardedImports().visit(tree)))
    transformers = list(transformers)
    required = list(required)

    modes = ["definitions", "full"] if mode == "auto" else [mode]
    for current in modes:
        body = definitions_only(tree) if current == "definitions" else tree
        module = _execute(body, filename, module_name, student_root, transformers)
        missing = [name for name in required if name not in module.__dict__]
        if not missing or current == modes[-1]:
            if current == "full" and mode == "auto":
                notes.append(
                    "the whole file was run as a module because "
                    f"{', '.join(required)} is not defined by top-level definitions alone"
                )
            return LoadedModule(module, current, notes)
    raise AssertionError("unreachable")  # pragma: no cover


def _execute(
    body: ast.Module,
    filename: str,
    module_name: str,
    student_root: Path,
    transformers: list[Transformer],
) -> types.ModuleType:
    for transform in transformers:
        body = transform(body, filename)
    ast.fix_missing_locations(body)
    code = compile(body, filename, "exec")
    module = types.ModuleType(module_name)
    module.__file__ = filename
    module.__dict__["__grader_lazy_module__"] = _lazy_module
    sys.modules[module_name] = module
    try:
        exec(code, module.__dict__)
    except SystemExit as exc:
        trace = student_frames(exc.__traceback__, student_root)
        where = trace[-1]["where"] if trace else Path(filename).name
        raise StudentCodeError(
            f"the file called exit()/sys.exit({exc.code!r}) while loading, at {where}",
            kind="exit",
            where=where,
            trace=trace,
        ) from None
    except BaseException as exc:  # noqa: BLE001 - any student failure is reported
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise describe_exception(exc, student_root, while_doing="loading the file") from None
    return module


def _lazy_module(name: str):
    # Already imported (by an earlier file or the student): bind the real module.
    return sys.modules.get(name) or LazyModule(name)


def student_frames(tb, student_root: Path) -> list[dict]:
    """The frames of a traceback that belong to the student's files."""
    import traceback

    root = str(student_root)
    frames = []
    for frame in traceback.extract_tb(tb):
        if frame.filename.startswith(root):
            rel = Path(frame.filename).relative_to(student_root).as_posix()
            frames.append(
                {
                    "where": f"{rel}:{frame.lineno}",
                    "function": frame.name,
                    "code": (frame.line or "").strip(),
                }
            )
    return frames


def describe_exception(exc: BaseException, student_root: Path, while_doing: str) -> StudentCodeError:
    """Turns an exception raised by student code into a report-ready error."""
    trace = student_frames(exc.__traceback__, student_root)
    message = f"{type(exc).__name__}: {exc}".rstrip(": ")
    if trace:
        last = trace[-1]
        code = f" `{last['code']}`" if last["code"] else ""
        location = f" at {last['where']} in {last['function']}{code}"
    else:
        location = ""
    kind = "exit" if isinstance(exc, SystemExit) else "exception"
    return StudentCodeError(
        f"{message} (raised while {while_doing}{location})",
        kind=kind,
        where=trace[-1]["where"] if trace else None,
        trace=trace,
    )
