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
    points = [float(x) for x in request.get("probe", [])]
    probes = {
        name: observe.probe(recorder.originals[name], points) if name in recorder.originals else None
        for name in WATCHED
    }
    return {
        **recorder.snapshot(),
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
