"""What the dense-matrix guards of Problem 5 add per submission, on the reference solution.

Baseline: ``grade <reference>`` with a rubric of Problem 5's correctness items
only. Measured: the same with the ban's items too (``p5-no-dense``, the three
guard items and ``p5-growth``), i.e. the rubric's Problem 5 as shipped. Both
are the real ``grade`` command end to end (judge, children, reports), so the
difference is the guards' cost: a second child, the timing probe, the
memory, shape and process guards and the growth timings. Also prints the
guards' own wall time as seen by one ``run_guards`` call.

A measurement, not a test: it never fails on timing (machines vary). The
issue's target is under about 2 s per submission.

Usage: ``python benchmarks/guards_overhead.py [--repeat 5] [--student reference/hw1]``
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "rubrics" / "hw1" / "test_p5.py"
PLUGIN = ROOT / "rubrics" / "hw1" / "p5_dense_plugin.py"

_CORRECTNESS = {
    "forward": "test_forward_matches_dense",
    "transpose": "test_transpose_matches_dense",
    "shapes": "test_output_shapes",
    "adjoint": "test_adjoint_identity",
    "gd": "test_handout_gd_objective",
}
_BAN = {
    "no-dense": "test_no_dense_matrix",
    "guard-shape": "test_shape_guard",
    "guard-memory": "test_memory_guard",
    "guard-process": "test_process_guard",
    "growth": "test_work_growth",
}


def _rubric(folder: Path, name: str, items: dict[str, str]) -> Path:
    body = "".join(f'\n[[problems.items]]\nid = "{key}"\ntest = "{test}"\npoints = 1\n' for key, test in items.items())
    text = (
        '[assignment]\nid = "bench"\n\n[[problems]]\nid = "p5"\nfiles = ["conv1D.py"]\n'
        f'suite = "{SUITE}"\ntimeout = "60s"\nplugins = ["{PLUGIN}"]\n{body}'
    )
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - start


def _guards_alone(student: Path, tmp: Path) -> float:
    """Wall time of one ``run_guards`` on a fresh child (what the guard items wait for)."""
    from grader.content import load_content_module
    from grader.sandbox.outside.session import ChildSession, Limits

    dense_ban = load_content_module(ROOT / "rubrics" / "hw1" / "dense_ban.py")
    work = tmp / "alone"
    shutil.copytree(student, work)
    session = ChildSession(work, Limits(wall_seconds=60, memory_bytes=2 << 30), tmp / "alone-child",
                           plugins=[(str(PLUGIN), {})])
    start = time.perf_counter()
    try:
        report = dense_ban.run_guards(session, "conv1D.py")
    finally:
        session.close()
    elapsed = time.perf_counter() - start
    assert not report.dense, report.ban_feedback()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--student", type=Path, default=ROOT / "reference" / "hw1",
                        help="a folder holding conv1D.py (default: the reference solution)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        student = tmp / "reference"
        student.mkdir()
        shutil.copyfile(args.student / "conv1D.py", student / "conv1D.py")
        plain = _rubric(tmp, "correctness", _CORRECTNESS)
        guarded = _rubric(tmp, "guarded", {**_CORRECTNESS, **_BAN})

        def grade(rubric: Path) -> float:
            return _timed([sys.executable, "-m", "grader.cli", str(student), "--rubric", str(rubric),
                           "--out", str(tmp / "out"), "--jobs", "1"])

        base = [grade(plain) for _ in range(args.repeat)]
        full = [grade(guarded) for _ in range(args.repeat)]
        alone = [_guards_alone(student, tmp / f"run{i}") for i in range(args.repeat)]
    b, g, a = statistics.median(base), statistics.median(full), statistics.median(alone)
    print(f"student: {args.student}, repeats: {args.repeat}")
    print(f"grade, P5 correctness items only:  {b:.3f} s")
    print(f"grade, P5 with the ban's items:    {g:.3f} s")
    print(f"guards' cost per submission:       {g - b:.3f} s  (ratio {g / b:.2f}x)")
    print(f"run_guards alone (fresh child):    {a:.3f} s")


if __name__ == "__main__":
    main()
