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

from grader.sandbox.inside.definitions import LAZY_IMPORT, definitions_only, script_binding

#: An AST transformer a child plugin registers: ``(tree, filename) -> tree``.
Transformer = Callable[[ast.Module, str], ast.Module]

_MAGIC_LINE = re.compile(r"^(\s*)([!%].*)$")
#: IPython's help syntax, ``np.convolve?`` or ``??np.convolve``: shows a docstring, runs nothing.
_HELP_LINE = re.compile(r"^(\s*)(\?{0,2}[A-Za-z_][\w.]*\?{1,2}|\?{1,2}[A-Za-z_][\w.]*)\s*$")
#: ``%time stmt`` and ``%timeit [-n N -r R …] stmt`` line magics: IPython runs the statement.
_TIMED_LINE = re.compile(r"^(\s*)%time(?:it)?(?:\s+-\w+\s*\d*)*\s+(\S.*?)\s*$")


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
        match = _MAGIC_LINE.match(line) or _HELP_LINE.match(line)
        timed = _TIMED_LINE.match(line)
        if timed:
            # `%time x = gd(...)` runs the statement (and times it): the statement stays.
            out.append(f"{timed.group(1)}{timed.group(2)}\n")
            changed += 1
        elif match:
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
        tree = ast.parse(source, filename)
    except SyntaxError as first:
        stripped, changed = strip_magics(source)
        if changed:
            try:
                tree = ast.parse(stripped, filename)
            except SyntaxError:
                pass
            else:
                notes.append(f"{changed} notebook magic line(s) such as '!pip install' were skipped")
                return _without_exported_magics(tree, notes, source), notes
        where = f"{Path(filename).name}:{first.lineno}"
        text = (first.text or "").strip()
        detail = f": `{text}`" if text else ""
        raise StudentCodeError(
            f"SyntaxError at {where}: {first.msg}{detail}", kind="syntax", where=where
        ) from None
    return _without_exported_magics(tree, notes, source), notes


#: What ``jupyter nbconvert --to script`` (and Colab's "Download .py") writes for a magic line:
#: ``get_ipython().system('pip install …')``, ``get_ipython().run_line_magic('matplotlib', 'inline')``.
_EXPORTED_MAGICS = frozenset({"system", "run_line_magic", "run_cell_magic", "magic", "getoutput"})


class _ExportedMagics(ast.NodeTransformer):
    """Replaces each statement that is only an exported magic call by ``pass`` (its lines stay)."""

    def __init__(self) -> None:
        self.count = 0

    def visit_Expr(self, node: ast.Expr):
        call = node.value
        if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr in _EXPORTED_MAGICS
                and isinstance(call.func.value, ast.Call) and isinstance(call.func.value.func, ast.Name)
                and call.func.value.func.id == "get_ipython" and not call.func.value.args):
            self.count += 1
            return ast.copy_location(ast.Pass(), node)
        return node


def _without_exported_magics(tree: ast.Module, notes: list[str], source: str) -> ast.Module:
    """The tree with its exported magics skipped, as the magic lines themselves are (outside IPython
    ``get_ipython`` does not exist: the script would stop at the first one)."""
    if "get_ipython" not in source:
        return tree
    visitor = _ExportedMagics()
    tree = visitor.visit(tree)
    if visitor.count:
        notes.append(f"{visitor.count} notebook magic(s) exported as get_ipython() calls "
                     "(such as get_ipython().system('pip install …')) were skipped")
    return tree


class MissingModule:
    """An inert stand-in bound where a student's top-level import fails (module not installed).

    Colab leftovers (``from colab_pdf import colab_pdf`` after ``!wget``,
    ``from google.colab import drive``, ``IPython.display`` helpers) must not
    sink a file whose graded code never uses them. Attributes give further
    stand-ins, and a call made by top-level script code (``drive.mount(...)``,
    ``colab_pdf("hw1.ipynb")`` at the end of a notebook) does nothing; so does
    any call into an output-only helper (:data:`_DISPLAY_MODULES`), and a
    missing ``tqdm``/``trange`` gives back what it wraps. Any other call from
    inside a function or method (the graded code), or any use as a value
    (arithmetic, arrays, truth, iteration, indexing), raises the import's
    error, as the import itself would have.
    """

    def __init__(self, module: str, name: str, reason: str = "") -> None:
        object.__setattr__(self, "_standin", (module, name, reason))

    def _fail(self, *args, **kwargs):
        module, name, reason = object.__getattribute__(self, "_standin")
        raise ModuleNotFoundError(
            f"{name} is not available ({reason}); the grader bound an inert stand-in to it at import, "
            "and your code used it",
            name=module,
        )

    def __getattr__(self, attr: str):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)  # numpy and copy probe dunders: no fake protocol support
        module, name, reason = object.__getattribute__(self, "_standin")
        return MissingModule(module, f"{name}.{attr}", reason)

    def __setattr__(self, attr: str, value) -> None:
        pass

    def __call__(self, *args, **kwargs):
        module, name, reason = object.__getattribute__(self, "_standin")
        root = module.split(".")[0]
        if root in _PROGRESS_MODULES:
            # tqdm(iterable) is the iterable and trange(n) is range(n): the loop runs as without the bar.
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "trange":
                return range(*args)
            if leaf == "tqdm" and args:
                return args[0]
        elif root not in _DISPLAY_MODULES and sys._getframe(1).f_code.co_name != "<module>":
            self._fail()
        return MissingModule(module, f"{name}(...)", reason)

    def __repr__(self) -> str:
        _, name, reason = object.__getattribute__(self, "_standin")
        return f"<stand-in for {name}: {reason}>"

    __array__ = __bool__ = __iter__ = __len__ = __getitem__ = __setitem__ = __contains__ = _fail
    __float__ = __int__ = __index__ = __complex__ = _fail
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _fail
    __matmul__ = __rmatmul__ = __pow__ = __rpow__ = __neg__ = __abs__ = __lt__ = __le__ = __gt__ = __ge__ = _fail
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = _fail


#: Output-only notebook helpers: calls to their stand-ins do nothing wherever they are made
#: (``display(fig)`` inside the experiment's function), so grading does not depend on whether
#: the grader's machine happens to have them installed.
_DISPLAY_MODULES = frozenset({"IPython", "google", "colab_pdf", "ipywidgets"})

#: Progress bars: a call gives back what it wraps.
_PROGRESS_MODULES = frozenset({"tqdm"})

#: Notebook widget versions of console tools, imported as the console ones (see _GuardedImports).
_NOTEBOOK_WIDGETS = {"tqdm.notebook": "tqdm", "tqdm.autonotebook": "tqdm"}


def stand_in(error: ImportError, names: list[tuple[str, str]]) -> dict[str, MissingModule]:
    """The stand-ins a failed import binds: ``{bound name: MissingModule}``."""
    module = getattr(error, "name", None) or names[0][1].split(".")[0]
    # Drop the installed package's path ("from 'scipy.linalg' (/usr/lib/…)"): noise to a student.
    reason = f"{type(error).__name__}: {re.sub(r' [(]/[^)]*[)]', '', str(error))}"
    return {bound: MissingModule(module, shown, reason) for bound, shown in names}


def missing_modules(namespace: dict) -> list[str]:
    """Notes naming the stand-ins a loaded module holds at top level."""
    found: dict[str, list[str]] = {}
    for bound, value in namespace.items():
        if type(value) is MissingModule:
            _, _, reason = object.__getattribute__(value, "_standin")
            found.setdefault(reason, []).append(bound)
    return [
        f"import failed ({reason}): {', '.join(sorted(bound))} "
        f"{'is an inert stand-in' if len(bound) == 1 else 'are inert stand-ins'} "
        "(harmless unless the graded code uses it)"
        for reason, bound in sorted(found.items())
    ]


class _GuardedImports(ast.NodeTransformer):
    """Makes every top-level import bind inert stand-ins when the module is not installed."""

    def __init__(self) -> None:
        self.wrapped = 0

    def visit_Module(self, node: ast.Module) -> ast.Module:
        body: list[ast.stmt] = []
        for stmt in node.body:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                # One statement per name, so `import torch, numpy as np` still binds the real numpy.
                body += [self._guard(ast.copy_location(_with_names(stmt, [alias]), stmt)) for alias in stmt.names]
            else:
                body.append(stmt)
        node.body = body
        return node

    def _guard(self, stmt: ast.Import | ast.ImportFrom) -> ast.stmt:
        if isinstance(stmt, ast.ImportFrom) and (stmt.module == "__future__" or stmt.level):
            return stmt  # __future__ must stay first; relative imports are the student's own files
        if isinstance(stmt, ast.ImportFrom) and stmt.module in _NOTEBOOK_WIDGETS:
            # tqdm.notebook draws with ipywidgets: without them (no notebook here) its bar raises
            # "IProgress not found" at the first loop. The console bar, same names, same loop.
            stmt.module = _NOTEBOOK_WIDGETS[stmt.module]
        if any(a.name == "*" for a in stmt.names):
            return stmt
        if isinstance(stmt, ast.Import):
            # `import a.b` binds `a`; `import a.b as c` binds `c`.
            names = [(a.asname or a.name.split(".")[0], a.name if a.asname else a.name.split(".")[0])
                     for a in stmt.names]
        else:
            names = [(a.asname or a.name, f"{stmt.module}.{a.name}") for a in stmt.names]
        self.wrapped += 1
        # except ImportError as e: globals().update(<loader>.stand_in(e, names))
        # The loader is imported by its own module name, so the code works in any namespace.
        loader_module = ast.Call(
            ast.Name("__import__", ast.Load()),
            [ast.Constant(__name__)],
            [ast.keyword("fromlist", ast.List([ast.Constant("stand_in")], ast.Load()))],
        )
        pairs = ast.List(
            [ast.Tuple([ast.Constant(b), ast.Constant(s)], ast.Load()) for b, s in names], ast.Load()
        )
        bind = ast.Expr(ast.Call(
            ast.Attribute(ast.Call(ast.Name("globals", ast.Load()), [], []), "update", ast.Load()),
            [ast.Call(ast.Attribute(loader_module, "stand_in", ast.Load()),
                      [ast.Name("__grader_import_error__", ast.Load()), pairs], [])],
            [],
        ))
        handler = ast.ExceptHandler(
            type=ast.Name("ImportError", ast.Load()), name="__grader_import_error__", body=[bind]
        )
        guarded = ast.Try(body=[stmt], handlers=[handler], orelse=[], finalbody=[])
        return ast.fix_missing_locations(ast.copy_location(guarded, stmt))


def _with_names(stmt: ast.Import | ast.ImportFrom, names: list[ast.alias]) -> ast.Import | ast.ImportFrom:
    if isinstance(stmt, ast.Import):
        return ast.Import(names=names)
    return ast.ImportFrom(module=stmt.module, names=names, level=stmt.level)


def guard_optional_imports(tree: ast.Module) -> ast.Module:
    """Top-level imports of modules that are not installed bind inert stand-ins (:class:`MissingModule`)."""
    return _GuardedImports().visit(tree)


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
            call = ast.Call(ast.Name(LAZY_IMPORT, ast.Load()), [ast.Constant(module)], [])
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
    transformers = list(transformers)
    required = list(required)

    unused = [tree]

    def prepared() -> ast.Module:
        """The module's tree, ready for the transformers; parsed again after the first use,
        because transformers rewrite nodes in place and a fallback must not see them twice."""
        raw = unused.pop() if unused else parse_student(source, filename)[0]
        # Locations first, so plugin transformers see line numbers on every node.
        # Lazy bindings first: a guarded import is no longer a bare import statement.
        return ast.fix_missing_locations(_GuardedImports().visit(_LazyImports().visit(raw)))

    modes = ["definitions", "full"] if mode == "auto" else [mode]
    for current in modes:
        if current == "definitions":
            module = _definitions(prepared, required, filename, module_name, student_root, transformers)
        else:
            module = _execute(prepared(), filename, module_name, student_root, transformers)
        missing = [name for name in required if name not in module.__dict__]
        if not missing or current == modes[-1]:
            notes += missing_modules(module.__dict__)
            if current == "full" and mode == "auto":
                notes.append(
                    "the whole file was run as a module because "
                    f"{', '.join(required)} is not defined by top-level definitions alone"
                )
            return LoadedModule(module, current, notes)
    raise AssertionError("unreachable")  # pragma: no cover


def _definitions(prepared, required, filename, module_name, student_root, transformers) -> types.ModuleType:
    """Runs the definitions with the top-level values they (or the suite) read; if those fail, the definitions alone.

    ``prepared()`` gives a fresh tree each call (see :func:`load`).
    """
    tree = prepared()
    body = definitions_only(tree, required)
    extra = len(body.body) - len(definitions_only(tree, with_globals=False).body)
    try:
        return _execute(body, filename, module_name, student_root, transformers)
    except StudentCodeError:
        if not extra:
            raise
    # A value they read failed to compute (it needs script code, a file, input): as before,
    # the definitions alone, and a call that reads it says what is missing.
    return _execute(definitions_only(prepared(), with_globals=False), filename, module_name, student_root, transformers)


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
    module.__dict__[LAZY_IMPORT] = _lazy_module
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


def operand_name(value) -> str:
    """How an operand reads in "computing … @ …": its type, and for a method what to do about it.

    ``A.T @ y`` with ``def T(self)`` (a method, not an attribute) fails inside
    numpy with a message about dimensions that names neither; this says it.
    """
    if isinstance(value, types.MethodType):
        name = getattr(value, "__qualname__", getattr(value, "__name__", "?"))
        attr = name.rsplit(".", 1)[-1]
        return (f"the method {name} (a method, not an operator: make {attr} an attribute, "
                f"self.{attr} = …, or a @property, so that .{attr} @ … works as the handout writes it)")
    return type(value).__name__


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


def _unrun_binding(exc: BaseException, trace: list[dict], student_root: Path) -> str:
    """For a NameError whose name the file binds in top-level script code: where, and why it did not run."""
    name = getattr(exc, "name", None)
    if not isinstance(exc, NameError) or not name or not trace:
        return ""
    rel = trace[-1]["where"].rsplit(":", 1)[0]
    try:
        source, _ = strip_magics((student_root / rel).read_text(encoding="utf-8"))
        line = script_binding(ast.parse(source), name)
    except (OSError, ValueError, SyntaxError, RecursionError):
        return ""
    if line is None:
        return ""
    return (f". `{name}` is set at {rel}:{line} by top-level script code, which the grader does not run when it "
            "imports your file (it runs imports, def and class statements, and the top-level values they read "
            "that call none of your functions nor input(), open() or print()): set it inside the function or "
            "class that uses it, or compute it from constants and library calls only")


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
        f"{message} (raised while {while_doing}{location}){_unrun_binding(exc, trace, student_root)}",
        kind=kind,
        where=trace[-1]["where"] if trace else None,
        trace=trace,
    )
