"""Compiling student files through AST transformers, also when they import each other.

Guards and observers instrument the student's code by rewriting its AST. A
student file that imports another one (``from wideMinima import fprime``, a
``utils.py`` helper) must be instrumented too, so this module provides one
meta-path hook that loads the student's own top-level ``.py`` files through
the same transformers.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.abc
import importlib.util
import sys
import types
from pathlib import Path
from typing import Iterator, Sequence

from grader.sandbox.inside import loader

#: ``sys.modules`` as the zygote left it, before any child existed (see :func:`record_preimported`);
#: written once, read only by the children forked afterwards.
_PREIMPORTED: dict[str, types.ModuleType] = {}


def record_preimported() -> None:
    """Remembers every module imported so far as the zygote's own (call once, before the first fork).

    A child's :meth:`StudentImports.forget_student_modules` then skips these
    modules while they are still the same objects: none of them was loaded from
    a student's folder, and reading ``__file__`` from each of ~800 modules in a
    forked child copied ~700 pages of the zygote's memory (about 4 ms per scan).
    """
    _PREIMPORTED.clear()
    _PREIMPORTED.update(sys.modules)


def compile_student(path: Path, transformers: Sequence[loader.Transformer]) -> types.CodeType:
    """Parses a student file (tolerating notebook magics), applies ``transformers`` and compiles it."""
    filename = str(path)
    tree, _ = loader.parse_student(path.read_text(encoding="utf-8", errors="replace"), filename)
    tree = ast.fix_missing_locations(loader.guard_optional_imports(tree))
    for transform in transformers:
        tree = transform(tree, filename)
    ast.fix_missing_locations(tree)
    return compile(tree, filename, "exec")


class StudentImports(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports the student's own top-level ``.py`` files through the transformers.

    Args:
        student_root: the student's working copy.
        transformers: applied to every student file imported while installed.
        namespace: names put into each such module before it runs (e.g. a recorder).
    """

    def __init__(
        self,
        student_root: Path,
        transformers: Sequence[loader.Transformer],
        namespace: dict | None = None,
    ) -> None:
        self.root = Path(student_root)
        self.transformers = transformers
        self.namespace = dict(namespace or {})

    def find_spec(self, fullname, path, target=None):
        if path is not None or "." in fullname:
            return None
        candidate = self.root / f"{fullname}.py"
        if not candidate.is_file():
            return None
        return importlib.util.spec_from_file_location(fullname, candidate, loader=self)

    def create_module(self, spec):
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        module.__dict__.update(self.namespace)
        exec(compile_student(Path(str(module.__file__)), self.transformers), module.__dict__)

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Puts the hook first on ``sys.meta_path`` for the body, after forgetting the
        student's modules imported so far (so they are imported again, instrumented)."""
        self.forget_student_modules()
        sys.meta_path.insert(0, self)
        try:
            yield
        finally:
            if self in sys.meta_path:
                sys.meta_path.remove(self)

    def forget_student_modules(self) -> list[str]:
        """Drops modules loaded from the student's folder from ``sys.modules``.

        A module the zygote had imported (:func:`record_preimported`) is kept
        while ``sys.modules`` still holds that same object: any module the
        student's code added or put in its place is checked by its ``__file__``.
        """
        root = str(self.root.resolve())
        preimported = _PREIMPORTED.get
        dropped = []
        for name, module in list(sys.modules.items()):
            if preimported(name) is module:
                continue
            file = getattr(module, "__file__", None)
            if isinstance(file, str) and file.startswith(root):
                del sys.modules[name]
                dropped.append(name)
        return dropped
