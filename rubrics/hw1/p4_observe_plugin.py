"""Child plugin for Problem 4: runs the student's wide-minima experiment and records it.

Loaded in the child (trusted) through the rubric's ``plugins``. It adds the op
``p4_observe``::

    {"op": "p4_observe", "script": "wideMinima.py", "seconds": 100,
     "artifacts": "/abs/folder", "probe": [x, ...]}

which runs ``script`` as ``__main__``, then every other ``.py`` file of the
student's folder that imports it (``from wideMinima import f, fprime``), all
within ``seconds``, watching ``f`` and ``fprime``; then evaluates the student's
own ``f`` and ``fprime`` at the ``probe`` points. The answer holds the GD runs
rebuilt online from the calls of ``fprime`` (and from loop updates, for an
inlined derivative) as flat arrays, see
:meth:`grader.sandbox.inside.observe.Recorder.snapshot`; ``max_runs`` (default
100 000) bounds the runs followed per stream.
"""

import math
import re
import time
import types
from pathlib import Path

import numpy as np

from grader.sandbox.inside import headless, observe

WATCHED = ("f", "fprime")
GRADIENTS = ("fprime",)


def assignment_fprime(x):
    """The assignment's f′ (floats through ``math``, fast; arrays through numpy), inf/nan instead of errors."""
    if isinstance(x, float):
        z = -3.0 * (x - 3.0)
        s = 0.0 if z > 700.0 else 1.0 / (1.0 + math.exp(z))
        return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) * (x - 10) / 2 + 50) - 10 * x * x)
    with np.errstate(all="ignore"):
        s = 1 / (1 + np.exp(-3 * (x - 3)))
        return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


def assignment_f(x: float) -> float:
    """The assignment's f at one float, in its stable form (no overflow)."""
    z = 3.0 * (x - 3.0)
    s = 1.0 if z > 700.0 else 0.0 if z < -700.0 else 1.0 / (1.0 + math.exp(-z))
    return (1 - s) * 10 * x * x + s * ((x - 10) * (x - 10) / 2 + 50)


#: Where a function of the student's is first tried as a renamed f or f′: one point in each
#: basin and one between them. All three must agree with the assignment's to 1e-7.
SCREEN_POINTS = (0.5, 4.0, 12.0)
#: The most functions tried, and the seconds all the tries may take together.
MAX_CANDIDATES = 20
SCREEN_SECONDS = 2.0


def _student_functions(namespaces: list[dict], root: Path) -> list[tuple[str, object]]:
    """Top-level functions the student's scripts defined that take one argument (any other has a default)."""
    found: dict[str, object] = {}
    for namespace in namespaces:
        for name, value in list(namespace.items()):
            if name in WATCHED or name.startswith("__") or type(value) is not types.FunctionType:
                continue
            code = value.__code__
            if not str(code.co_filename).startswith(str(root).rstrip("/") + "/"):
                continue  # the grader's wrappers, library functions bound to a name
            required = code.co_argcount - len(value.__defaults__ or ())
            if required != 1 or code.co_kwonlyargcount > len(value.__kwdefaults__ or {}):
                continue
            found.setdefault(name, value)
    return list(found.items())[:MAX_CANDIDATES]


def _close(value, want: float) -> bool:
    return isinstance(value, float) and abs(value - want) <= 1e-7 * max(1.0, abs(want))


def renamed(namespaces: list[dict], root: Path, missing: list[str]) -> dict[str, tuple[str, object]]:
    """For each of ``missing`` (``f``, ``fprime``), the student's function under another name that computes it.

    Behaviour, not names: a script that calls its f ``loss`` and its f′ ``grad`` kept the
    assignment's functions. Each candidate is called at :data:`SCREEN_POINTS` only.
    """
    wanted = {"f": assignment_f, "fprime": assignment_fprime}
    found: dict[str, tuple[str, object]] = {}
    deadline = time.monotonic() + SCREEN_SECONDS
    for name, func in _student_functions(namespaces, root):
        left = deadline - time.monotonic()
        if left <= 0 or len(found) == len(missing):
            break
        values = observe.probe(func, list(SCREEN_POINTS), seconds=left, root=root)
        for target in missing:
            if target not in found and all(_close(v, wanted[target](x)) for v, x in zip(values, SCREEN_POINTS)):
                found[target] = (name, func)
                break
    return found


def _where(func, root: Path) -> str:
    """``wideMinima.py:12``: where a student's function is defined, or "" if not in their folder."""
    code = getattr(func, "__code__", None)
    try:
        return f"{Path(code.co_filename).relative_to(root).as_posix()}:{code.co_firstlineno}"
    except (AttributeError, TypeError, ValueError):
        return ""


def _importers(root: Path, module: str) -> list[str]:
    """Other top-level files of the folder that import ``module``."""
    pattern = re.compile(rf"^\s*(from\s+{re.escape(module)}\s+import|import\s+{re.escape(module)}\b)", re.M)
    found = []
    for path in sorted(root.glob("*.py")):
        if path.stem == module:
            continue
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if pattern.search(text):
            found.append(path.name)
    return found


def _observe(child, request):
    root = child.student_root
    script = request["script"]
    scripts = [script] + _importers(root, Path(script).stem)
    observation, recorder, saver = observe.observe(
        root,
        scripts,
        list(WATCHED),
        float(request["seconds"]),
        Path(request["artifacts"]),
        max_runs=int(request.get("max_runs", 100_000)),
        gradients=GRADIENTS,
        gradient=assignment_fprime,
    )
    # Before any probe: a function of the student's that is tried below may call fprime.
    snapshot = recorder.snapshot()
    points = [float(x) for x in request.get("probe", [])]
    functions = {name: recorder.original(name) for name in WATCHED if recorder.original(name) is not None}
    others = renamed(observation.namespaces, root, [name for name in WATCHED if name not in functions])
    functions.update({target: func for target, (_, func) in others.items()})
    probes = {name: observe.probe(functions[name], points, root=root) if name in functions else None for name in WATCHED}
    return {
        **snapshot,
        "renamed": {target: name for target, (name, _) in others.items()},
        "defined": {name: _where(func, root) for name, func in functions.items()},
        "scripts": [vars(run) for run in observation.scripts],
        "stdout": observation.stdout[:4000],
        "replaced": list(observation.replaced),
        "forks": int(observation.forks),
        "figures": list(saver.saved),
        "inputs": list(headless.INPUT_PROMPTS),
        "probes": probes,
    }


def register(registry, **options):
    registry.add_op("p4_observe", _observe)
