"""Puts back the library functions a student's script replaced in its own process.

Observers and plugins run beside the student's code and use numpy, math and
json themselves. A script that assigns ``np.asarray = …`` or ``json.dumps =
…`` (sabotage, or a "fix" copied from somewhere) would otherwise make the
grader's own work fail after it, with an error that blames nobody, or judge
``f`` and ``fprime`` with a patched ``np.exp``. A :class:`ModuleSnapshot`
taken before the student's code runs restores every replaced or deleted
attribute afterwards and says which ones they were, so the report can name
them and a TA can look.
"""

from __future__ import annotations

import sys

#: Modules whose attributes the grader's side relies on after student code ran.
WATCHED_MODULES = ("numpy", "numpy.linalg", "numpy.random", "numpy.lib.stride_tricks", "math", "json", "functools",
                   "operator", "itertools")


class ModuleSnapshot:
    """The attributes of :data:`WATCHED_MODULES` (those imported) at one moment."""

    def __init__(self, modules: tuple[str, ...] = WATCHED_MODULES) -> None:
        self._saved = {}
        for name in modules:
            module = sys.modules.get(name)
            if module is not None:
                self._saved[name] = (module, dict(vars(module)))

    def restore(self) -> list[str]:
        """Puts back every attribute replaced or deleted since the snapshot; returns them as ``module.name``."""
        changed = []
        for name, (module, saved) in self._saved.items():
            current = vars(module)
            for key, value in saved.items():
                if current.get(key, _MISSING) is not value:
                    changed.append(f"{name}.{key}")
                    try:
                        setattr(module, key, value)
                    except (AttributeError, TypeError):
                        pass
            if sys.modules.get(name) is not module:
                changed.append(name)
                sys.modules[name] = module
        return changed


_MISSING = object()
