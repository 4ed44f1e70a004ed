"""Loading course-content helper modules (a suite's sibling files) by path.

Suites in ``rubrics/<hw>/`` keep shared logic in plain modules beside them
(``dense_ban.py``, ``gd_runs.py``). They are not a package, so they are loaded
by path; each is loaded once per process and registered in ``sys.modules``
(dataclasses look their module up there while the module runs).
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path


def load_content_module(path: Path | str) -> types.ModuleType:
    """Imports the Python file at ``path`` once per process and returns the module."""
    path = Path(path).resolve()
    name = f"grader_content_{path.parent.name}_{path.stem}_{abs(hash(str(path))):x}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
