"""Per-submission overhead of sandboxed grading, as a ratio against a baseline.

Baseline: the same Problem 5 checks run by pytest in one process that loads
the student's file with the grader's loader (no judge, no child, no proxy) —
what grading would cost with no isolation at all. Measured: ``grade <student>`` end to end with
a rubric of the same checks (judge process, child process, proxy round trips,
reports). Both include
their interpreter start-up. Prints medians and the ratio; it is a
measurement, not a test, and never fails on timing.

Usage: ``python benchmarks/overhead.py [--repeat 5] [--student submissions/full_marks]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "rubrics" / "hw1" / "test_p5.py"


#: The P5 correctness items: the same checks the baseline runs.
_ITEMS = {
    "forward": "test_forward_matches_dense",
    "transpose": "test_transpose_matches_dense",
    "shapes": "test_output_shapes",
    "adjoint": "test_adjoint_identity",
    "gd": "test_handout_gd_objective",
}


def _correctness_rubric(folder: Path) -> Path:
    """A rubric with only P5's correctness items, so both sides run the same checks."""
    items = "".join(
        f'\n[[problems.items]]\nid = "{key}"\ntest = "{test}"\npoints = 1\n' for key, test in _ITEMS.items()
    )
    text = (
        '[assignment]\nid = "bench"\n\n[[problems]]\nid = "p5"\nfiles = ["conv1D.py"]\n'
        f'suite = "{SUITE}"\ntimeout = "60s"\n{items}'
    )
    path = folder / "bench.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _timed(cmd: list[str]) -> float:
    # The judge runs pytest without third-party plugins; so does the baseline.
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "MPLBACKEND": "Agg"}
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=env)
    return time.perf_counter() - start


def baseline_main(student: Path) -> int:
    """Runs the P5 suite in this process against a direct import of the student's file."""
    import pytest

    from grader.sandbox.inside import headless, loader

    headless.install()

    class InProcess:
        loaded = None

        def module(self, path=None, required=(), mode="auto"):
            # The grader's own loader, in this process: only the isolation differs.
            if InProcess.loaded is None:
                InProcess.loaded = loader.load(student / "conv1D.py", "conv1D", required, student).module
            return InProcess.loaded

    class Plugin:
        @pytest.fixture
        def student(self):
            return InProcess()

        @pytest.fixture
        def credit(self):
            return lambda fraction: None

        @pytest.fixture
        def note(self):
            return lambda text: None

        @pytest.fixture
        def flag(self):
            return lambda reason: None

    names = " or ".join(_ITEMS.values())
    return pytest.main([str(SUITE), "-q", "-p", "no:cacheprovider", "-k", names], plugins=[Plugin()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--student", type=Path, default=ROOT / "submissions" / "full_marks")
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline:
        sys.exit(baseline_main(args.student))
    with tempfile.TemporaryDirectory() as tmp:
        rubric = _correctness_rubric(Path(tmp))
        base = [_timed([sys.executable, __file__, "--baseline", "--student", str(args.student)])
                for _ in range(args.repeat)]
        graded = [_timed([sys.executable, "-m", "grader.cli", str(args.student), "--rubric", str(rubric),
                          "--out", str(Path(tmp) / "out"), "--jobs", "1"]) for _ in range(args.repeat)]
    b, g = statistics.median(base), statistics.median(graded)
    print(f"student: {args.student.name}, repeats: {args.repeat}")
    print(f"baseline (suite in one process, no isolation): {b:.3f} s")
    print(f"grade (judge + sandboxed child + reports):     {g:.3f} s")
    print(f"ratio: {g / b:.2f}x  (overhead {g - b:.3f} s per submission)")


if __name__ == "__main__":
    main()
