"""Throughput of grading a whole class, against a fresh ``pytest`` per student.

Generates a synthetic class (:mod:`synthetic_class`), grades it with the
real HW1 rubric exactly as ``grade CLASS --no-cache --jobs N`` does (in this
process, so per-job timings can be collected), and reports:

* students per second, and the batch's wall time, and how close the wall time comes to
  the sum of per-job times divided by the jobs (how well both cores are kept busy);
* the grader's overhead per student-problem: the batch's wall time × N jobs
  / student-problems, minus the mean time the student's child spent
  answering (student code, with the in-child guards and observer); and the
  same per job (judge wall time minus child time);
* CPU seconds of the whole process tree (grader, workers, zygotes, judges,
  children), per student and per student-problem, for the grader and the
  baseline alike, from a cgroup (:mod:`cpu_meter`): unlike wall time, it
  hardly moves with the machine's load, so the CPU ratio checks the wall ratio;
  and the CPU of the grader's own process (``getrusage``; this process grades in-process);
* peak memory: the grader's own process, and its whole process tree
  (judge workers, zygotes, judges, children), sampled from ``/proc``;
* the baseline: one fresh ``python -m pytest`` per student (N at a time)
  running the same P5 correctness checks with the student's file imported
  in-process, and P4's script run in-process with its f/fprime checked, i.e.
  what a hand-rolled course grader does, with no isolation; and the ratio.

A measurement, never a test: it does not fail on timing.

Usage: ``python benchmarks/class_throughput.py --students 300 [--mix correct|mixed] [--jobs N]
[--baseline-students K]``
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import synthetic_class  # noqa: E402
from cpu_meter import TreeCpu  # noqa: E402

SUITE = ROOT / "rubrics" / "hw1" / "test_p5.py"
P5_CORRECTNESS = ["test_forward_matches_dense", "test_transpose_matches_dense", "test_output_shapes",
                  "test_adjoint_identity", "test_handout_gd_objective"]

# The baseline's P4 check: run the student's script in-process (plt.show and input
# patched), then compare its f and fprime with the handout's at a few points.
_BASELINE_P4 = '''
import runpy, contextlib, io
from pathlib import Path
import numpy as np
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt



def _f(x):
    return (10 * x**2 + np.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (x - 3)))


def test_p4_script_runs_and_functions_match(student_dir):
    plt.show = lambda *a, **k: None
    with contextlib.redirect_stdout(io.StringIO()):
        ns = runpy.run_path(str(student_dir / "wideMinima.py"), run_name="__main__")
    xs = np.linspace(-5, 20, 11)
    with np.errstate(all="ignore"):
        assert np.allclose(ns["f"](xs), _f(xs), equal_nan=True)
'''

_BASELINE_CONFTEST = '''
import os, sys
from pathlib import Path
import pytest

STUDENT = Path(os.environ["BENCH_STUDENT"])
sys.path.insert(0, str(STUDENT))


@pytest.fixture
def student_dir():
    return STUDENT


class _InProcess:
    loaded = None

    def module(self, path=None, required=(), mode="auto"):
        if _InProcess.loaded is None:
            import importlib
            _InProcess.loaded = importlib.import_module("conv1D")
        return _InProcess.loaded


@pytest.fixture
def student():
    return _InProcess()


@pytest.fixture
def credit():
    return lambda fraction: None


@pytest.fixture
def note():
    return lambda text: None


@pytest.fixture
def flag():
    return lambda reason: None
'''


class TreeMemory:
    """Samples the resident memory of this process and all its descendants.

    Each sample lists ``/proc`` and reads only the ``stat`` of the tree's processes;
    another process's parent is read once, when its pid first appears: the machine may run
    hundreds of other processes, and reading every one's ``stat`` five times a second
    cost the grader's process (whose CPU the benchmark reports) several ms per
    student-problem. A pid that is gone is forgotten, so a reused pid is read anew.
    """

    def __init__(self, period: float = 0.2) -> None:
        self.period = period
        self.peak_tree = 0
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._parents: dict[int, int] = {}  # pid -> parent pid, for every pid seen alive
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree_rss(self) -> int:
        alive = {int(name) for name in os.listdir("/proc") if name.isdigit()}
        parents = self._parents
        for pid in list(parents):
            if pid not in alive:
                del parents[pid]
        for pid in alive - parents.keys():
            stat = _read(f"/proc/{pid}/stat")
            if stat:
                parents[pid] = int(stat.rsplit(b")", 1)[1].split()[1])
        children: dict[int, list[int]] = {}
        for pid, parent in parents.items():
            children.setdefault(parent, []).append(pid)
        total, frontier = 0, [os.getpid()]
        while frontier:
            pid = frontier.pop()
            frontier += children.get(pid, ())
            stat = _read(f"/proc/{pid}/stat")
            if stat:
                fields = stat.rsplit(b")", 1)[1].split()
                parents[pid] = int(fields[1])  # re-read: an orphan adopted outside leaves the tree next time
                total += int(fields[21]) * self._page
        return total

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.peak_tree = max(self.peak_tree, self._tree_rss())

    def __enter__(self) -> "TreeMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _read(path: str) -> bytes:
    """A small /proc file's bytes, or b"" if the process is gone."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return b""
    try:
        return os.read(fd, 4096)
    except OSError:
        return b""
    finally:
        os.close(fd)


def _own_cpu() -> float:
    """CPU seconds (user + system) of this process alone: the grader's own share of the tree."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def grade_class(folder: Path, out: Path, jobs: int, cpu: TreeCpu) -> dict:
    from grader import grade
    from grader.context import Context
    from grader.rubric import load_rubric

    rubric = load_rubric(ROOT / "rubrics" / "hw1.toml")
    timings: list[dict] = []
    ctx = Context(stdout=io.StringIO(), stderr=io.StringIO(), timings=timings)
    with TreeMemory() as memory:
        start, used, own = time.perf_counter(), cpu.seconds(), _own_cpu()
        reports = grade.main(path=folder, rubric=rubric, out=out, jobs=jobs, ctx=ctx, cache=False)
        wall, used, own = time.perf_counter() - start, cpu.seconds() - used, _own_cpu() - own
    return {
        "wall": wall,
        "cpu": used,
        "cpu_self": own,
        "reports": reports,
        "timings": timings,
        "peak_tree": memory.peak_tree,
        "peak_self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "autograded": [p.id for p in rubric.problems if p.autograded],
    }


def baseline(folder: Path, students: list[str], jobs: int, cpu: TreeCpu) -> tuple[float, float]:
    """Wall time and tree CPU seconds of one fresh pytest per student, ``jobs`` at a time."""
    with tempfile.TemporaryDirectory() as tmp:
        suite_dir = Path(tmp)
        (suite_dir / "conftest.py").write_text(_BASELINE_CONFTEST)
        (suite_dir / "test_p4_baseline.py").write_text(_BASELINE_P4)
        # The P5 suite's own correctness checks, against the student's module imported in-process.
        (suite_dir / "test_p5.py").write_text(SUITE.read_text())
        for helper in ("dense_ban.py", "p5_requests.py"):
            (suite_dir / helper).write_text((SUITE.parent / helper).read_text())
        names = " or ".join(P5_CORRECTNESS + ["test_p4_script_runs_and_functions_match"])
        env_base = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "MPLBACKEND": "Agg",
                    "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}

        def one(student: str) -> int:
            env = {**env_base, "BENCH_STUDENT": str(folder / student)}
            return subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", names, str(suite_dir)],
                cwd=suite_dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ).returncode

        start, used = time.perf_counter(), cpu.seconds()
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            codes = list(pool.map(one, students))
        wall, used = time.perf_counter() - start, cpu.seconds() - used
    if any(code not in (0, 1) for code in codes):
        print(f"warning: baseline pytest exit codes {sorted(set(codes))}", file=sys.stderr)
    return wall, used


def main() -> None:
    from grader.context import default_jobs

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--mix", choices=sorted(synthetic_class.MIXES), default="correct")
    parser.add_argument("--jobs", type=int, default=default_jobs())
    parser.add_argument("--baseline-students", type=int, default=None,
                        help="run the baseline on the first K students only (its per-student rate is extrapolated)")
    args = parser.parse_args()

    cpu = TreeCpu().start()
    with tempfile.TemporaryDirectory(prefix="grader-bench-") as tmp:
        folder, out = Path(tmp) / "class", Path(tmp) / "reports"
        made = synthetic_class.generate(folder, args.students, args.mix)
        graded = grade_class(folder, out, args.jobs, cpu)
        k = min(args.baseline_students or len(made), len(made))
        base_wall, base_cpu = baseline(folder, [m[0] for m in made[:k]], args.jobs, cpu)
    cpu.stop()

    n = len(made)
    pairs = [t for t in graded["timings"] if t["student_seconds"] is not None]
    student_mean = statistics.fmean(t["student_seconds"] for t in pairs) if pairs else 0.0
    jobs_count = len(graded["timings"])
    capacity = graded["wall"] * args.jobs / max(1, jobs_count)
    per_job = statistics.fmean(t["judge_seconds"] - t["student_seconds"] for t in pairs) if pairs else 0.0
    base_per_student = base_wall / k
    ours_per_student = graded["wall"] / n
    load = os.getloadavg()
    scores = statistics.fmean(r.score for r in graded["reports"])

    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, python {platform.python_version()}, "
          f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
    print(f"class: {n} synthetic students ({args.mix}), {jobs_count} graded student-problems "
          f"({', '.join(graded['autograded'])}), --jobs {args.jobs}, mean score {scores:.2f}")
    print(f"grader: {graded['wall']:.1f} s wall, {n / graded['wall']:.2f} students/s")
    print(f"student code (time the child spent answering): {student_mean * 1000:.0f} ms per student-problem")
    print(f"overhead per student-problem: {(capacity - student_mean) * 1000:.0f} ms "
          f"(wall × jobs / student-problems = {capacity * 1000:.0f} ms, minus student code); "
          f"per job, judge wall minus child time: {per_job * 1000:.0f} ms")
    busy = sum(t["judge_seconds"] for t in graded["timings"]) / args.jobs
    print(f"scheduling: wall / (sum of per-job times / jobs) = {graded['wall'] / busy:.2f} (issue's bound: 1.2)")
    print(f"CPU, whole process tree ({cpu.source}): grader {graded['cpu']:.1f} s, "
          f"{graded['cpu'] / n:.3f} s per student, {graded['cpu'] / max(1, jobs_count) * 1000:.0f} ms per "
          f"student-problem (the grader's own process: {graded['cpu_self'] / max(1, jobs_count) * 1000:.1f} ms); "
          f"baseline {base_cpu / k:.3f} s per student; "
          f"CPU ratio baseline / grader = {base_cpu / k / (graded['cpu'] / n):.2f}x")
    print(f"peak memory: grader process {graded['peak_self'] / 2**20:.0f} MiB, "
          f"whole process tree {graded['peak_tree'] / 2**20:.0f} MiB")
    print(f"baseline (fresh pytest per student, {k} students, {args.jobs} at a time): {base_wall:.1f} s, "
          f"{base_per_student:.3f} s per student")
    print(f"ratio: baseline / grader per student = {base_per_student / ours_per_student:.2f}x")


if __name__ == "__main__":
    main()
