"""Observation overhead of Problem 4: a student script observed vs run bare.

Usage: ``python benchmarks/p4_observe_overhead.py [student_folder ...]``.
Prints, for each folder, the script's own run time, the time under
observation (:func:`grader.sandbox.inside.observe.observe`, watching f and fprime and
loop updates) and their ratio; the issue asks for a ratio below 2. Both are
measured in a fresh interpreter with numpy and matplotlib already imported, so
start-up is not counted.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ["reference/hw1", "submissions/p4_function_style", "submissions/p4_vectorized", "submissions/p4_until_tolerance"]

_MEASURE = r"""
import builtins, contextlib, io, json, runpy, sys, time
from pathlib import Path
import numpy as np, matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
sys.path.insert(0, sys.argv[1])
from grader.sandbox.inside import headless, observe
headless.install()
plt.show = headless._fake_show
folder, mode, script = Path(sys.argv[2]), sys.argv[3], sys.argv[4]
sys.path.insert(0, str(folder))
start = time.perf_counter()
if mode == "bare":
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        runpy.run_path(str(folder / script), run_name="__main__")
else:
    observe.observe(folder, [script], ["f", "fprime"], 600, folder / "_artifacts")
print(json.dumps(time.perf_counter() - start))
"""


def measure(folder: Path, mode: str, repeats: int = 3) -> float:
    """Best of ``repeats`` runs, each on a fresh copy of the folder."""
    best = float("inf")
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp) / "work"
            shutil.copytree(folder, work)
            out = subprocess.run(
                [sys.executable, "-c", _MEASURE, str(ROOT), str(work), mode, "wideMinima.py"],
                cwd=work, capture_output=True, text=True, check=True,
            )
            best = min(best, json.loads(out.stdout.strip().splitlines()[-1]))
    return best


def main(argv: list[str]) -> int:
    folders = argv[1:] or DEFAULT
    worst = 0.0
    print(f"{'folder':40} {'bare s':>8} {'observed s':>11} {'ratio':>6}")
    for name in folders:
        folder = (ROOT / name).resolve()
        bare, observed = measure(folder, "bare"), measure(folder, "observed")
        ratio = observed / bare
        worst = max(worst, ratio)
        print(f"{name:40} {bare:8.3f} {observed:11.3f} {ratio:6.2f}")
    print(f"worst ratio {worst:.2f} (target < 2)")
    return 0 if worst < 2 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
