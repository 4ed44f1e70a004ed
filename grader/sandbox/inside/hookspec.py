"""The child plugin contract: what a rubric's ``register(registry)`` may do.

A rubric names child plugins (``plugins = [...]`` in its TOML). They are
*trusted* course code that runs inside the student's child, beside student
code, so they can observe it from the inside (AST transformers, call
recorders). The child loads each one before any student file, on the judge's
``{"op": "plugin", "path": ..., "options": ...}`` request, by executing the
file and calling::

    def register(registry: Registry, **options) -> None: ...

``options`` are the plugin's table from the rubric (plain TOML data).

What ``register`` may do, and nothing else is supported:

* :meth:`Registry.add_op` — answer a new request ``op``. The handler gets the
  :class:`~grader.sandbox.inside.child.Child` and the decoded request dict and
  returns plain data (see :mod:`grader.sandbox.protocol`) or an object, which
  the child keeps and answers with a handle. A later plugin may replace an
  op of an earlier one; built-in ops should not be replaced.
* :meth:`Registry.add_transformer` — add an AST transformer
  ``(tree, filename) -> tree`` applied, in registration order, to every
  student file loaded after it.
* read :attr:`Registry.child`: ``student_root`` (the working copy, also the
  cwd), ``modules`` (loaded student modules by name) and ``objects`` (the
  handle table). Treat them as read-only.

What a plugin must know about where it runs:

* Everything a handler returns is untrusted by the judge: student code ran in
  the same process and may have patched anything, so a plugin reports
  observations, never verdicts. The judge decides.
* The child is already inside the OS sandbox when plugins load (see
  :mod:`grader.sandbox.outside`): the plugin file itself is readable (the judge
  binds exactly the plugin files into the child's view), but the rest of
  ``rubrics/``, ``reference/`` and the grader's checkout are not. A plugin
  must not read other course files at run time; pass what it needs through
  ``options``.
* Only the working copy (and ``/tmp``) is writable; there is no network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from grader.sandbox.inside import loader

if TYPE_CHECKING:
    from grader.sandbox.inside.child import Child

#: A request handler a plugin registers: ``(child, request) -> value``.
OpHandler = Callable[["Child", dict], Any]


class Registry:
    """What a child plugin may extend: ops and AST transformers."""

    def __init__(self, child: "Child") -> None:
        self._child = child

    @property
    def child(self) -> "Child":
        """The running child (its modules, object table and student folder)."""
        return self._child

    def add_op(self, name: str, handler: OpHandler) -> None:
        """Registers ``handler(child, request) -> result`` for requests with ``op == name``."""
        self._child.ops[name] = handler

    def add_transformer(self, transformer: loader.Transformer) -> None:
        """Registers an AST transformer applied to every student file loaded later."""
        self._child.transformers.append(transformer)
