"""Per-submission overhead of sandboxed grading, as a ratio against a baseline.

Baseline: the same Problem 5 suite run by pytest in one process that imports
the student's file directly (no judge, no child, no proxy) — what grading
would cost with no isolation at all. Measured: ``grade <student>`` end to end
(judge process, child process, proxy round trips, reports; the student's other
problems add their own cost, e.g. a missing file is reported at once). Both include
their interpreter start-up. Prints medians and the ratio; it is a
measurement, not a test, and never fails on timing.

Usage: ``python benchmarks/overhead.py [--repeat 5] [--student submissions/full_marks]``
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "rubrics" / "hw1" / "test_p5.py"
RUBRIC = ROOT / "rubrics" / "hw1.toml"


def _timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - start


def baseline_main(student: Path) -> int:
    """Runs the P5 suite in this process against a direct import of the student's file."""
    import pytest

    spec = importlib.util.spec_from_file_location("conv1D", student / "conv1D.py")

    class InProcess:
        loaded = None

        def module(self, path=None, required=(), mode="auto"):
            if InProcess.loaded is None:
                InProcess.loaded = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(InProcess.loaded)
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

    names = " or ".join(["forward", "transpose", "shapes", "adjoint", "handout"])
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
        base = [_timed([sys.executable, __file__, "--baseline", "--student", str(args.student)])
                for _ in range(args.repeat)]
        graded = [_timed([sys.executable, "-m", "grader.cli", str(args.student), "--rubric", str(RUBRIC),
                          "--out", str(Path(tmp) / "out"), "--jobs", "1"]) for _ in range(args.repeat)]
    b, g = statistics.median(base), statistics.median(graded)
    print(f"student: {args.student.name}, repeats: {args.repeat}")
    print(f"baseline (suite in one process, no isolation): {b:.3f} s")
    print(f"grade (judge + sandboxed child + reports):     {g:.3f} s")
    print(f"ratio: {g / b:.2f}x  (overhead {g - b:.3f} s per submission)")


if __name__ == "__main__":
    main()
