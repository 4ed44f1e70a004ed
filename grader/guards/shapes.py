"""Child side: every value an expression in the student's code produces passes a check.

:class:`ExpressionWatch` gives an AST transformer for the loader (and an import
hook for the student's other files). The transformer rewrites each call,
operator, comparison, subscript, attribute read and list display in load context::

    A = np.zeros((m, n))      →   A = __grader_expr_watch__(np.zeros((m, n)), 17)

where 17 indexes a :class:`Site` (file, line, function, source line). The
hook returns the value unchanged; while the watch is armed it first hands the
value to an ``inspect(value, site)`` callable. Disarmed, it costs one extra
Python call per expression, so code loaded this way should run at the sizes
a guard needs, not in the correctness checks.

What passes through is what the student's code *holds*: arrays returned by
numpy or scipy, views made by slicing, ``as_strided`` or broadcasting, and
results of operators. Values that exist only inside a library call and never
reach the student's code are not seen (the memory guard covers those).
"""

from __future__ import annotations

import ast
import builtins
import sys
import contextlib
import linecache
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from grader.sandbox.inside.imports import StudentImports

#: Name of the hook in the student's namespace (reached through builtins).
HOOK = "__grader_expr_watch__"

#: ``inspect(value, site_index)``: called for every watched value while armed.
Inspector = Callable[[object, int], None]


@dataclass(frozen=True)
class Site:
    """Where an expression is in the student's code."""

    file: str
    """The file, relative to the student's folder."""

    line: int
    """The line the expression starts on."""

    function: str
    """The enclosing function's qualified name, e.g. ``Convolution1d.__matmul__``."""

    code: str
    """The source line, stripped (shortened if long)."""

    kind: str = ""
    """The expression's node type: ``Call``, ``BinOp``, ``UnaryOp``, ``Compare``, ``Subscript`` or ``Attribute``."""

    @property
    def where(self) -> str:
        """``file:line``."""
        return f"{self.file}:{self.line}"

    def describe(self) -> str:
        """``conv1D.py:23 in Convolution1d.__matmul__: `A = np.zeros((m, n))```."""
        code = f": `{self.code}`" if self.code else ""
        return f"{self.where} in {self.function}{code}"


class ExpressionWatch:
    """The hook, its site table and the transformer that calls it.

    Args:
        student_root: the student's folder (sites are named relative to it).
    """

    def __init__(self, student_root: Path) -> None:
        self.root = Path(student_root)
        self.sites: list[Site] = []
        self._names: dict[str, str] = {}  # file name -> its name relative to the folder
        self._inspect: Inspector | None = None
        watch = self

        def hook(value, site):
            inspect = watch._inspect
            if inspect is not None:
                inspect(value, site)
            return value

        self._hook = hook

    # -- arming -----------------------------------------------------------
    def install(self) -> None:
        """Makes the hook reachable from every module (it lives in builtins)."""
        builtins.__dict__[HOOK] = self._hook

    def tampered(self) -> str:
        """How the student's code got around the hook (replaced it in builtins, or shadowed it in
        one of its modules' globals), or "" if it is intact. Puts the hook back in builtins."""
        found = builtins.__dict__.get(HOOK)
        if found is not self._hook:
            builtins.__dict__[HOOK] = self._hook
            return f"builtins.{HOOK} was {'removed' if found is None else 'replaced'}"
        root = str(self.root.resolve()).rstrip("/") + "/"
        for name, module in list(sys.modules.items()):
            if str(getattr(module, "__file__", "") or "").startswith(root) and HOOK in getattr(module, "__dict__", {}):
                return f"the module {name} defines its own {HOOK}"
        return ""

    @contextlib.contextmanager
    def armed(self, inspect: Inspector) -> Iterator[None]:
        """Runs the body with ``inspect`` called on every watched value."""
        previous, self._inspect = self._inspect, inspect
        try:
            yield
        finally:
            self._inspect = previous

    # -- instrumentation ----------------------------------------------------
    def transform(self, tree: ast.Module, filename: str) -> ast.Module:
        """The loader transformer: wraps watched expressions of ``tree``."""
        # Nodes other transformers made may lack positions; give them their parent's.
        return _Wrap(self, filename).visit(ast.fix_missing_locations(tree))

    def add_site(self, filename: str, line: int, function: str, kind: str = "") -> int:
        """Registers a site and returns its index."""
        rel = self._names.get(filename)
        if rel is None:
            # Once per file, not per site: two realpath walks per site took ~10 ms for a 120-site file.
            try:
                rel = Path(filename).resolve().relative_to(self.root.resolve()).as_posix()
            except ValueError:
                rel = Path(filename).name
            self._names[filename] = rel
        code = linecache.getline(filename, line).strip()
        if len(code) > 100:
            code = code[:97] + "..."
        self.sites.append(Site(rel, line, function, code, kind))
        return len(self.sites) - 1

    def import_hook(self) -> "StudentImports":
        """A meta-path finder that loads the student's other files instrumented."""
        return StudentImports(self.root, [self.transform])


class _Wrap(ast.NodeTransformer):
    """Wraps calls, operators, comparisons, subscripts and attribute reads."""

    def __init__(self, watch: ExpressionWatch, filename: str) -> None:
        self.watch = watch
        self.filename = filename
        self.scope: list[str] = []

    # -- scopes (for the function name in a site) -------------------------
    def visit_FunctionDef(self, node):
        node.decorator_list = [self.visit(d) for d in node.decorator_list]
        node.args = self._visit_arguments(node.args)
        self.scope.append(node.name)
        try:
            node.body = [self.visit(s) for s in node.body]
        finally:
            self.scope.pop()
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        node.decorator_list = [self.visit(d) for d in node.decorator_list]
        node.bases = [self.visit(b) for b in node.bases]
        node.keywords = [self.visit(k) for k in node.keywords]
        self.scope.append(node.name)
        try:
            node.body = [self.visit(s) for s in node.body]
        finally:
            self.scope.pop()
        return node

    def visit_Lambda(self, node):
        node.args = self._visit_arguments(node.args)
        self.scope.append("<lambda>")
        try:
            node.body = self.visit(node.body)
        finally:
            self.scope.pop()
        return node

    def _visit_arguments(self, args: ast.arguments) -> ast.arguments:
        # Defaults are evaluated; annotations are left alone.
        args.defaults = [self.visit(d) for d in args.defaults]
        args.kw_defaults = [self.visit(d) if d is not None else None for d in args.kw_defaults]
        return args

    def visit_AnnAssign(self, node):
        if node.value is not None:
            node.value = self.visit(node.value)
        node.target = self.visit(node.target)
        return node

    def visit_match_case(self, node):
        # Patterns are not expressions: only the guard and the body are.
        if node.guard is not None:
            node.guard = self.visit(node.guard)
        node.body = [self.visit(s) for s in node.body]
        return node

    # -- wrapped expressions ------------------------------------------------
    def _wrap(self, node: ast.expr) -> ast.expr:
        function = ".".join(self.scope) or "<module>"
        site = self.watch.add_site(self.filename, node.lineno, function, type(node).__name__)
        call = ast.Call(
            func=ast.Name(HOOK, ast.Load()),
            args=[node, ast.Constant(site)],
            keywords=[],
        )
        return ast.copy_location(call, node)

    def visit_Call(self, node):
        func = node.func
        if isinstance(func, ast.Attribute):
            # `np.zeros(...)`: watch what `np` evaluates to, not the bound method.
            func.value = self.visit(func.value)
        else:
            node.func = self.visit(func)
        node.args = [self.visit(a) for a in node.args]
        node.keywords = [self.visit(k) for k in node.keywords]
        return self._wrap(node)

    def _load_only(self, node):
        self.generic_visit(node)
        return self._wrap(node) if isinstance(getattr(node, "ctx", ast.Load()), ast.Load) else node

    visit_Subscript = _load_only
    visit_Attribute = _load_only

    def _always(self, node):
        self.generic_visit(node)
        return self._wrap(node)

    visit_BinOp = _always
    visit_UnaryOp = _always
    visit_Compare = _always
    # Lists the code builds (`rows = [np.concatenate(...) for i in range(m)]`): a list of the
    # matrix's rows holds it as surely as a 2-D array. Not a target like `[a, b] = …`.
    visit_ListComp = _always
    visit_List = _load_only
