"""Pre-imported judge workers: a fresh judge per job, results on the grader's pipe, deadlines kill."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

import pytest
from proc_scan import alive

from grader import judge_pool
from grader.judge import Job, job_to_json
from grader.judge_pool import JudgePool, spread_cpus, suite_helpers
from grader.rubric import load_rubric

ROOT = Path(__file__).resolve().parents[1]

# A suite that leaves state behind in everything a judge shares with its worker:
# a preloaded helper's globals, sys.modules, and a module it imported.
_SUITE = '''
import os, sys, time, subprocess, json
from pathlib import Path
from grader.content import load_content_module

helper = load_content_module(Path(__file__).with_name("helper.py"))

def test_fresh_state():
    seen = {"helper_runs": len(helper.RUNS), "planted": "planted_by_a_judge" in sys.modules,
            "json_patched": getattr(json, "patched", False)}
    Path(os.environ.get("SEEN", "seen.json")).write_text(json.dumps(seen))
    helper.RUNS.append(1)
    sys.modules["planted_by_a_judge"] = object()
    json.patched = True

def test_hang():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    Path("descendant.pid").write_text(str(proc.pid))
    time.sleep(300)

def test_wait_for_flag():
    flag = Path("flag")
    while not flag.exists():
        time.sleep(0.05)

def test_cpus_then_wait():
    Path("cpus.json").write_text(json.dumps(sorted(os.sched_getaffinity(0))))
    Path("env.json").write_text(json.dumps(sorted(os.environ)))
    go = Path("..") / "go"  # beside every job's scratch folder: set once all jobs started
    for _ in range(1200):
        if go.exists():
            break
        time.sleep(0.05)
'''


def _content(tmp_path) -> Path:
    suite_dir = tmp_path / "suite"
    suite_dir.mkdir()
    (suite_dir / "helper.py").write_text("RUNS = []\n")
    (suite_dir / "test_state.py").write_text(_SUITE)
    return suite_dir / "test_state.py"


def _job(tmp_path, suite: Path, test: str, name: str) -> tuple[str, Path]:
    scratch = tmp_path / name
    work = scratch / "work"
    work.mkdir(parents=True)
    job = Job(student_id=name, problem_id="p", suite=str(suite), tests=[test], workdir=str(work),
              scratch=str(scratch), files=[], wall_seconds=5, memory_bytes=1 << 30)
    return job_to_json(job), scratch


def test_each_job_gets_a_fresh_judge_in_the_same_worker(tmp_path):
    suite = _content(tmp_path)
    with JudgePool(1, sys.executable, tmp_path / "w", preload=[str(suite.with_name("helper.py"))]) as pool:
        for name in ("first", "second"):
            job, scratch = _job(tmp_path, suite, "test_fresh_state", name)
            run = pool.run(job, scratch / "judge.log", time.monotonic() + 120)
            assert run.finished and run.returncode == 0, (scratch / "judge.log").read_text()
            result = json.loads(run.raw)
            assert [o["status"] for o in result["outcomes"]] == ["passed"]
            seen = json.loads((scratch / "seen.json").read_text())
            assert seen == {"helper_runs": 0, "planted": False, "json_patched": False}, name
        assert len(pool._all) == 1  # both jobs went through one pre-imported worker


def test_deadline_kills_the_judge_and_what_it_started_and_the_worker_serves_on(tmp_path):
    suite = _content(tmp_path)
    with JudgePool(1, sys.executable, tmp_path / "w") as pool:
        # The worker is started first (with its zygote and prepared suite): its start-up is not
        # the hanging job's budget, which then only has to outlast the judge's fork and the start
        # of its descendant, however loaded the machine (tens of milliseconds: 3 s is ample, and
        # all of it is waited out).
        job, scratch = _job(tmp_path, suite, "test_fresh_state", "before")
        assert pool.run(job, scratch / "judge.log", time.monotonic() + 120).returncode == 0
        job, scratch = _job(tmp_path, suite, "test_hang", "hang")
        deadline = time.monotonic() + 3
        pidfile = scratch / "descendant.pid"
        run = pool.run(job, scratch / "judge.log", deadline)
        assert not run.finished and run.returncode == -9
        pid = int(pidfile.read_text())
        for _ in range(100):
            if not alive(pid):
                break
            time.sleep(0.05)
        assert not alive(pid), "the judge's descendant outlived its time limit"
        job, scratch = _job(tmp_path, suite, "test_fresh_state", "after")
        run = pool.run(job, scratch / "judge.log", time.monotonic() + 120)
        assert run.finished and run.returncode == 0


def test_a_waiting_judge_does_not_hold_back_the_other_worker(tmp_path):
    suite = _content(tmp_path)
    slow_job, slow_scratch = _job(tmp_path, suite, "test_wait_for_flag", "slow")
    fast_job, fast_scratch = _job(tmp_path, suite, "test_fresh_state", "fast")
    with JudgePool(2, sys.executable, tmp_path / "w") as pool:
        slow = {}
        thread = threading.Thread(
            target=lambda: slow.update(run=pool.run(slow_job, slow_scratch / "judge.log", time.monotonic() + 120))
        )
        thread.start()
        # The slow judge waits until the fast one is done: a pool that ran them one
        # after the other would let the slow one hit its deadline instead.
        fast = pool.run(fast_job, fast_scratch / "judge.log", time.monotonic() + 120)
        (slow_scratch / "flag").write_text("go")
        thread.join()
    assert fast.finished and fast.returncode == 0
    assert slow["run"].finished and slow["run"].returncode == 0
    assert [o["status"] for o in json.loads(slow["run"].raw)["outcomes"]] == ["passed"]


def test_a_dead_worker_is_replaced(tmp_path):
    suite = _content(tmp_path)
    with JudgePool(1, sys.executable, tmp_path / "w") as pool:
        job, scratch = _job(tmp_path, suite, "test_fresh_state", "one")
        assert pool.run(job, scratch / "judge.log", time.monotonic() + 120).returncode == 0
        (worker,) = pool._all
        worker.proc.kill()
        worker.proc.wait()
        job, scratch = _job(tmp_path, suite, "test_fresh_state", "two")
        run = pool.run(job, scratch / "judge.log", time.monotonic() + 120)
        assert run.returncode is None and not run.finished  # reported as failed, never as a result
        job, scratch = _job(tmp_path, suite, "test_fresh_state", "three")
        run = pool.run(job, scratch / "judge.log", time.monotonic() + 120)
        assert run.finished and run.returncode == 0 and pool._all[0] is not worker


def test_helpers_preloaded_are_the_suites_siblings_not_suites_or_child_plugins():
    rubric = load_rubric(ROOT / "rubrics" / "hw1.toml")
    names = [Path(p).name for p in suite_helpers(rubric.problems)]
    # p5_products_plugin.py (a child plugin) is not among them; p5_requests.py (judge side) is.
    assert names == ["dense_ban.py", "gd_runs.py", "p5_requests.py"]


def test_a_log_kept_in_memory_holds_what_the_judge_wrote(tmp_path):
    suite_dir = tmp_path / "suite"
    suite_dir.mkdir()
    (suite_dir / "test_noisy.py").write_text(
        "import sys\nprint('judge says hello')\nprint('and on stderr', file=sys.stderr)\n"
        "import definitely_not_a_module_for_the_log\n\ndef test_x():\n    pass\n"
    )
    with JudgePool(1, sys.executable, tmp_path / "w") as pool:
        job, scratch = _job(tmp_path, suite_dir / "test_noisy.py", "test_x", "noisy")
        on_disk = pool.run(job, scratch / "judge.log", time.monotonic() + 120)
        job, scratch2 = _job(tmp_path, suite_dir / "test_noisy.py", "test_x", "noisy2")
        in_memory = pool.run(job, None, time.monotonic() + 120)
    assert on_disk.log == b"" and not (scratch2 / "judge.log").exists()
    logged = (scratch / "judge.log").read_bytes()
    assert b"definitely_not_a_module_for_the_log" in logged
    assert b"definitely_not_a_module_for_the_log" in in_memory.log
    assert in_memory.returncode == on_disk.returncode


def test_workers_are_pinned_only_where_the_pool_has_one_per_cpu(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 2, 5})
    assert spread_cpus(3) == [0, 2, 5]
    assert spread_cpus(4) == [0, 2, 5]  # more jobs than CPUs: shared, evenly
    assert spread_cpus(2) is None  # a smaller pool leaves placement to the OS (see spread_cpus)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3})
    assert spread_cpus(4) is None


def _run_together(pool, tmp_path, suite, names):
    """Runs one held job per name at once (so each holds its own worker); returns each job's scratch."""
    runs, scratches = {}, {}
    threads = []
    for name in names:
        job, scratch = _job(tmp_path, suite, "test_cpus_then_wait", name)
        scratches[name] = scratch
        thread = threading.Thread(target=lambda j=job, s=scratch, n=name: runs.update(
            {n: pool.run(j, s / "judge.log", time.monotonic() + 120)}))
        thread.start()
        threads.append(thread)
    deadline = time.monotonic() + 120
    while not all((s / "cpus.json").exists() for s in scratches.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    (tmp_path / "go").write_text("go")
    for thread in threads:
        thread.join()
    (tmp_path / "go").unlink()
    assert all(run.finished and run.returncode == 0 for run in runs.values())
    return scratches


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one CPU: there is nothing to spread the workers over")
def test_a_pool_with_a_worker_per_cpu_runs_each_workers_judges_on_its_own_cpu(tmp_path):
    suite = _content(tmp_path)
    cpus = sorted(os.sched_getaffinity(0))
    with JudgePool(len(cpus), sys.executable, tmp_path / "w") as pool:
        scratches = _run_together(pool, tmp_path, suite, [f"a{i}" for i in range(len(cpus))])
        seen = sorted(json.loads((s / "cpus.json").read_text()) for s in scratches.values())
        assert seen == [[cpu] for cpu in cpus]
        # The pinning is the worker's own: it is not handed on in the judges' environment.
        assert all(judge_pool.CPU_VARIABLE not in json.loads((s / "env.json").read_text()) for s in scratches.values())
        # A replaced worker takes the CPU its predecessor left.
        lost = pool._all[0]
        lost.proc.kill()
        lost.proc.wait()
        for i in range(len(cpus)):  # the job that meets the dead worker fails (see test_a_dead_worker_is_replaced)
            job, scratch = _job(tmp_path, suite, "test_fresh_state", f"probe{i}")
            pool.run(job, scratch / "judge.log", time.monotonic() + 120)
        assert lost not in pool._all
        scratches = _run_together(pool, tmp_path, suite, [f"b{i}" for i in range(len(cpus))])
        seen = sorted(json.loads((s / "cpus.json").read_text()) for s in scratches.values())
        assert seen == [[cpu] for cpu in cpus]


def test_a_pool_smaller_than_the_machine_leaves_its_worker_unpinned(tmp_path):
    suite = _content(tmp_path)
    allowed = sorted(os.sched_getaffinity(0))
    with JudgePool(1, sys.executable, tmp_path / "w") as pool:
        (scratch,) = _run_together(pool, tmp_path, suite, ["solo"]).values()
    assert json.loads((scratch / "cpus.json").read_text()) == allowed
