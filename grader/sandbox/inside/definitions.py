"""Which top-level statements of a student file are definitions, not script code.

The loader first runs a file's definitions only (see :mod:`loader`): imports,
``def`` and ``class`` statements, literal constants, and ``try`` or ``if``
blocks made of nothing else (``try: import scipy.fft as fft; HAVE_SCIPY =
True except ImportError: …``; never ``if __name__ == "__main__":``). Students also bind, at top level, values their functions and
classes read as globals: aliases (``windows = sliding_window_view``,
``FLOAT = np.float64``, ``Convolution1d = Conv1d``), constants computed by a
library (``EPS = np.finfo(float).eps``), lambdas and vectorized functions.
Dropping those would make correct code fail with a ``NameError`` when it is
called, so an assignment is kept too when a kept statement reads one of its
names (transitively) and its right-hand side calls nothing the student wrote
(likewise a ``try``/``if`` block of such assignments and definitions, as
``if USE_SCIPY: corr = scipy.signal.correlate else: corr = np.correlate``):
``history = gd(x0, 0.01)`` or ``A = Convolution1d(k)`` is an experiment, and
stays out with the rest of the script.
"""

from __future__ import annotations

import ast
import builtins
from typing import Iterable

#: Builtins a kept right-hand side may call: they compute a value and touch nothing else.
_PURE_BUILTINS = frozenset(
    "abs all any bool callable classmethod complex dict divmod enumerate filter float frozenset getattr hasattr "
    "int isinstance issubclass len list map max min pow property range repr reversed round set slice sorted "
    "staticmethod str sum tuple type zip".split()
)

#: The name the loader binds lazy imports with (``plt = __grader_lazy_module__("matplotlib.pyplot")``).
LAZY_IMPORT = "__grader_lazy_module__"


def definitions_only(tree: ast.Module, wanted: Iterable[str] = (), *, with_globals: bool = True) -> ast.Module:
    """Keeps imports, defs, classes, literal constants and (``with_globals``) the values they read.

    Args:
        tree: the student's module.
        wanted: names the caller will read, as if a definition read them
            (``Convolution1d = Conv1d`` at the end of a script is then kept).
        with_globals: also keep the assignments kept statements read (see the
            module docstring); ``False`` keeps literal constants only.
    """
    body = tree.body
    kept = [_is_definition(node) for node in body]
    if with_globals:
        _keep_read_globals(body, kept, set(wanted))
    return ast.Module(body=[node for node, keep in zip(body, kept) if keep], type_ignores=[])


def script_binding(tree: ast.Module, name: str) -> int | None:
    """The line of the first top-level statement that binds ``name`` and is not a ``def``/``class``, or None."""
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and name in _bound_here(node):
            return node.lineno
    return None


def _is_definition(node: ast.stmt) -> bool:
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Pass)):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
        return _is_literal(node.value) or _is_lazy_import(node.value)
    if _is_block(node):
        # `try: import x except ImportError: x = None` guards, `if sys.version_info >= …:` choices.
        return _tests_compute_only(node, set()) and all(_is_definition(n) for n in _statements(node))
    return False


def _is_block(node: ast.stmt) -> bool:
    """A top-level ``try`` or ``if`` that may hold definitions (an ``if __name__ == "__main__":`` never does)."""
    if isinstance(node, ast.Try):
        return True
    return isinstance(node, ast.If) and "__name__" not in _names_read(node.test)


def _statements(node: ast.stmt) -> list[ast.stmt]:
    """The statements directly inside a ``try`` or ``if`` block that decide whether it defines only.

    A ``try``'s ``except`` bodies are not among them: they run only when the
    body failed (``print("no scipy")``, the loader's own stand-in for a missing
    module), and were always kept with the guard.
    """
    if isinstance(node, ast.If):
        return [*node.body, *node.orelse]
    return [*node.body, *node.orelse, *node.finalbody]


def _tests_compute_only(node: ast.stmt, student: set[str]) -> bool:
    """Whether the block's conditions and exception types (at every level) compute only."""
    if isinstance(node, ast.If):
        tests = [node.test]
    elif isinstance(node, ast.Try):
        tests = [h.type for h in node.handlers if h.type is not None]
    else:
        return True
    return all(_computes_only(t, student) for t in tests) and all(
        _tests_compute_only(n, student) for n in _statements(node) if _is_block(n)
    )


def _value_computes_only(node: ast.stmt, student: set[str]) -> bool:
    """Whether running the candidate ``node`` (an assignment, or a block of them) computes only."""
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        return node.value is not None and _computes_only(node.value, student)
    if not _tests_compute_only(node, student):
        return False
    for sub in _statements(node):
        if _is_block(sub):
            if not _value_computes_only(sub, student):
                return False
        elif not (_is_definition(sub) or (isinstance(sub, (ast.Assign, ast.AnnAssign)) and _target_names(sub)
                                          and _value_computes_only(sub, student))):
            return False
    return True


def _is_lazy_import(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == LAZY_IMPORT


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _keep_read_globals(body: list[ast.stmt], kept: list[bool], wanted: set[str]) -> None:
    """Marks in ``kept`` each assignment a kept statement reads, until nothing more is read."""
    student = {node.name for node in body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    candidates = {}
    for i, node in enumerate(body):
        if not kept[i] and isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = _target_names(node)
            if targets:
                candidates[i] = targets
        elif not kept[i] and _is_block(node) and _value_computes_only(node, set()):
            candidates[i] = _stored([node])  # the names its branches bind
    # Names bound to a lambda, or to another name for the student's code (`step = gd_step`), are theirs too.
    grew = True
    while grew:
        grew = False
        for i, targets in candidates.items():
            value = getattr(body[i], "value", None)
            if not targets <= student and (
                isinstance(value, ast.Lambda) or (isinstance(value, ast.Name) and value.id in student)
            ):
                student |= targets
                grew = True
    classes = {node.name for node in body if isinstance(node, ast.ClassDef)}
    read = wanted.union(*(_names_read(node) for node, keep in zip(body, kept) if keep))
    changed = True
    while changed:
        changed = False
        for i, node in enumerate(body):
            # `Convolution1d.__matmul__ = matmul` (a notebook that fills the starter's class in a
            # later cell): part of the class, however the rest of the file is script.
            if not kept[i] and _class_attribute(node) in classes and _computes_only(node.value, student):
                kept[i] = True
                read |= _names_read(node)
                changed = True
        for i, targets in list(candidates.items()):
            if targets & read and _value_computes_only(body[i], student):
                kept[i] = True
                read |= _names_read(body[i])
                del candidates[i]
                changed = True
        if not changed and wanted:
            # A value the wanted names themselves need (`correlate = _pick_backend()`, read by
            # Convolution1d.__matmul__) is computed even though it calls the student's code; an
            # experiment (`A = Convolution1d(k)`, `history = gd(…)`) is read by nothing they reach.
            needed = _reached(body, kept, wanted)
            for i, targets in list(candidates.items()):
                # Still no builtin with effects (input(), open(), exec()).
                if targets & needed and _value_computes_only(body[i], set()):
                    kept[i] = True
                    read |= _names_read(body[i])
                    del candidates[i]
                    changed = True


def _class_attribute(node: ast.stmt) -> str | None:
    """``C`` for a top-level ``C.name = value`` (one target), else None."""
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
            return target.value.id
    return None


def _reached(body: list[ast.stmt], kept: list[bool], wanted: set[str]) -> set[str]:
    """The names the wanted ones read, through the kept statements that bind them, transitively."""
    reached = set(wanted)
    done: set[int] = set()
    grew = True
    while grew:
        grew = False
        for i, node in enumerate(body):
            if i in done or not kept[i] or not (_bound_here(node) & reached or _class_attribute(node) in reached):
                continue
            done.add(i)
            reached |= _names_read(node)
            grew = True
    return reached


def _bound_here(node: ast.stmt) -> set[str]:
    """The names a top-level statement binds."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    return _stored([node])


def _target_names(node: ast.Assign | ast.AnnAssign) -> set[str]:
    """The names an assignment binds, or an empty set if it also stores elsewhere (``a[0] = …``, ``o.x = …``)."""
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    names: set[str] = set()
    for target in targets:
        for sub in ast.walk(target):
            if isinstance(sub, (ast.Subscript, ast.Attribute, ast.Starred)):
                return set()
            if isinstance(sub, ast.Name):
                names.add(sub.id)
    return names


def _names_read(node: ast.AST) -> set[str]:
    """The global names a top-level statement reads: its loads, less each function's own locals."""
    reads: set[str] = set()
    _visit(node, frozenset(), reads)
    return reads


_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _visit(node: ast.AST, bound: frozenset, reads: set[str]) -> None:
    """Adds to ``reads`` each name ``node`` loads that no enclosing function (``bound``) binds."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        # Decorators, defaults and annotations run in the enclosing scope; the body in its own.
        outer = [*getattr(node, "decorator_list", []), *node.args.defaults, *filter(None, node.args.kw_defaults)]
        for sub in outer:
            _visit(sub, bound, reads)
        inner = bound | _locals(node)
        for sub in node.body if isinstance(node.body, list) else [node.body]:
            _visit(sub, inner, reads)
        return
    if isinstance(node, ast.ClassDef):
        for sub in [*node.decorator_list, *node.bases, *node.keywords]:
            _visit(sub, bound, reads)
        # The class body's own names are visible in the class body, not in its methods.
        own = bound | _stored(node.body)
        for sub in node.body:
            _visit(sub, bound if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)) else own, reads)
        return
    if isinstance(node, _COMPREHENSIONS):
        targets = {n.id for gen in node.generators for n in ast.walk(gen.target) if isinstance(n, ast.Name)}
        for sub in ast.iter_child_nodes(node):
            _visit(sub, bound | targets, reads)
        return
    if isinstance(node, ast.Name):
        if isinstance(node.ctx, ast.Load) and node.id not in bound:
            reads.add(node.id)
        return
    for sub in ast.iter_child_nodes(node):
        _visit(sub, bound, reads)


def _locals(func: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> frozenset:
    """The names a function binds itself: its parameters and what its body stores, less ``global`` ones."""
    args = func.args
    params = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg] if a}
    body = func.body if isinstance(func.body, list) else [func.body]
    declared = {name for stmt in body for sub in _same_scope(stmt) if isinstance(sub, ast.Global) for name in sub.names}
    return frozenset((params | _stored(body)) - declared)


def _stored(body: list[ast.stmt]) -> set[str]:
    """Names the statements bind in their own scope (assignments, loops, imports, nested defs)."""
    names: set[str] = set()
    for stmt in body:
        for sub in _same_scope(stmt):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
                names.add(sub.id)
            elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(sub.name)
            elif isinstance(sub, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in sub.names)
            elif isinstance(sub, ast.ExceptHandler) and sub.name:
                names.add(sub.name)
            elif isinstance(sub, ast.Nonlocal):
                names.update(sub.names)
    return names


def _same_scope(node: ast.AST):
    """``node`` and what it contains, without entering nested functions, lambdas, classes or comprehensions."""
    pending = [node]
    while pending:
        current = pending.pop()
        yield current
        if current is not node and isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for sub in ast.iter_child_nodes(current):
            if not isinstance(sub, (ast.Lambda, *_COMPREHENSIONS)):
                pending.append(sub)


def _computes_only(value: ast.expr, student: set[str]) -> bool:
    """Whether evaluating ``value`` calls nothing the student wrote, nor a builtin with effects.

    Calls inside a lambda do not run when it is defined; calls through an
    attribute (``np.float64(…)``, ``rng.normal(…)``) are library calls.
    """
    pending = [value]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Lambda):
            pending.extend(node.args.defaults + [d for d in node.args.kw_defaults if d is not None])
            continue
        if isinstance(node, (ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr)):
            return False
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and (
                func.id in student or (hasattr(builtins, func.id) and func.id not in _PURE_BUILTINS)
            ):
                return False
        pending.extend(ast.iter_child_nodes(node))
    return True
