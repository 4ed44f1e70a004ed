"""Makes student scripts run unattended inside the child.

* matplotlib draws with the non-interactive Agg backend;
* ``plt.show()`` returns at once (after calling the registered show hooks,
  which a plugin uses to save each shown figure);
* ``input()`` returns ``""`` at once and the prompt is recorded;
* ``display(...)``, which Jupyter gives every notebook without an import, exists
  (a figure passed to it counts as shown).

pyplot is patched when the student first imports it, so a student who never
plots pays nothing for matplotlib.
"""

from __future__ import annotations

import builtins
import importlib.abc
import os
import sys
from typing import Callable

#: Called with no arguments each time student code calls ``plt.show()``.
SHOW_HOOKS: list[Callable[[], None]] = []

#: Prompts passed to ``input()``, in order.
INPUT_PROMPTS: list[str] = []


def _fake_input(prompt: object = "") -> str:
    INPUT_PROMPTS.append(str(prompt))
    return ""


def _fake_show(*args, **kwargs) -> None:
    for hook in SHOW_HOOKS:
        hook()


class _PyplotPatcher(importlib.abc.MetaPathFinder):
    """Patches ``matplotlib.pyplot.show`` right after pyplot is imported."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "matplotlib.pyplot":
            return None
        sys.meta_path.remove(self)
        try:
            import importlib.util

            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return None
        original_exec = spec.loader.exec_module

        def exec_module(module):
            original_exec(module)
            module.show = _fake_show

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _display(*objects, **kwargs) -> None:
    """Jupyter's built-in ``display``: a figure counts as shown (the show hooks save it); the rest is output only."""
    if any(hasattr(obj, "savefig") for obj in objects):
        _fake_show()


def install() -> None:
    """Installs the headless patches in this process (the child only)."""
    os.environ["MPLBACKEND"] = "Agg"
    builtins.input = _fake_input
    # Jupyter and Colab give every notebook a display() without an import; a notebook's cells
    # that call it stopped with a NameError here.
    if not hasattr(builtins, "display"):
        builtins.display = _display
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].show = _fake_show
    else:
        sys.meta_path.insert(0, _PyplotPatcher())
