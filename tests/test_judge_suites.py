"""Suites collected once per judge worker: same results as ``pytest.main``, nothing shared between jobs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from grader.judge import Job, job_to_json
from grader.judge_pool import JudgePool, worker_environment

ROOT = Path(__file__).resolve().parents[1]

# Module state a job could leave behind in the worker, if the worker's collected
# suite were not copied afresh into every job's fork; and every kind of outcome.
_SUITE = '''
import json, os, sys
from pathlib import Path
import pytest

COLLECTED_IN = os.getpid()
RUNS = []

@pytest.fixture(scope="module")
def expensive():
    RUNS.append("fixture")
    return len(RUNS)

def test_state(expensive, note):
    seen = {"runs": list(RUNS), "planted": "planted_by_a_job" in sys.modules,
            "collected_here": COLLECTED_IN == os.getpid()}
    Path("seen.json").write_text(json.dumps(seen))
    RUNS.append("test")
    sys.modules["planted_by_a_job"] = object()
    note("noted")

@pytest.mark.parametrize("n", [1, 2, 3])
def test_cases(n, credit):
    if n == 2:
        credit(0.5)
        assert False, "two is wrong"
    assert n != 3 or False, "three is wrong too"

def test_crashes():
    raise KeyError("boom")

def test_skips():
    pytest.skip("not today")

def test_not_asked():
    raise AssertionError("never selected")
'''

_BROKEN = '''
import definitely_not_a_module_anywhere

def test_x():
    pass
'''

_HANGS_AT_IMPORT = '''
import time
time.sleep(300)

def test_x():
    pass
'''


def _job(tmp_path, suite: Path, tests: list[str], name: str, wall: float = 20) -> tuple[Job, Path]:
    scratch = tmp_path / name
    work = scratch / "work"
    work.mkdir(parents=True)
    job = Job(student_id=name, problem_id="p", suite=str(suite), tests=tests, workdir=str(work),
              scratch=str(scratch), files=[], wall_seconds=wall, memory_bytes=1 << 30)
    return job, scratch


def _suite(tmp_path, text: str, name: str = "test_suite.py") -> Path:
    folder = tmp_path / "suite"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


def _fresh(job: Job) -> dict:
    """The job run by ``python -m grader.judge`` in a fresh interpreter: pytest.main, nothing prepared."""
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen([sys.executable, "-m", "grader.judge", str(write_fd)], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(write_fd,),
                            cwd=job.scratch, env=worker_environment())
    os.close(write_fd)
    proc.communicate(job_to_json(job).encode(), timeout=120)
    with os.fdopen(read_fd) as channel:
        return json.loads(channel.read())


def _comparable(result: dict) -> tuple:
    outcomes = [{k: v for k, v in o.items() if k != "duration"} for o in result["outcomes"]]
    return result["pytest_exit"], outcomes


ASKED = ["test_state", "test_cases", "test_crashes", "test_skips"]


def test_a_prepared_suite_gives_what_pytest_main_gives_and_each_job_starts_fresh(tmp_path):
    suite = _suite(tmp_path, _SUITE)
    results = []
    with JudgePool(1, sys.executable, tmp_path / "w") as pool:
        for name in ("first", "second", "third"):
            job, scratch = _job(tmp_path, suite, ASKED, name)
            run = pool.run(job_to_json(job), scratch / "judge.log", time.monotonic() + 120)
            log = (scratch / "judge.log").read_text()
            assert run.finished and run.returncode == 0, log
            results.append(json.loads(run.raw))
            seen = json.loads((scratch / "seen.json").read_text())
            # Collected once, in the worker; the fixture and test ran only in this job's fork.
            assert seen == {"runs": ["fixture"], "planted": False, "collected_here": False}, name
            # The terminal reporter's summary still reaches the job's own log.
            assert "two is wrong" in log and "KeyError" in log and "deselected" in log, log
        assert len(pool._all) == 1
    job, _ = _job(tmp_path, suite, ASKED, "fresh")
    expected = _comparable(_fresh(job))
    assert expected[0] == 1 and len(expected[1]) == 6  # failures; test_not_asked deselected
    for result in results:
        assert _comparable(result) == expected


def test_no_selected_test_exits_as_pytest_main_does(tmp_path):
    suite = _suite(tmp_path, _SUITE)
    with JudgePool(1, sys.executable, tmp_path / "w") as pool:
        job, scratch = _job(tmp_path, suite, ["test_missing"], "none")
        run = pool.run(job_to_json(job), scratch / "judge.log", time.monotonic() + 120)
    job, _ = _job(tmp_path, suite, ["test_missing"], "fresh")
    assert _comparable(json.loads(run.raw)) == _comparable(_fresh(job)) == (5, [])


def test_a_suite_that_fails_to_import_reports_its_error_as_before(tmp_path):
    suite = _suite(tmp_path, _BROKEN)
    with JudgePool(1, sys.executable, tmp_path / "w") as pool:
        for name in ("one", "two"):
            job, scratch = _job(tmp_path, suite, ["test_x"], name)
            run = pool.run(job_to_json(job), scratch / "judge.log", time.monotonic() + 120)
            assert run.finished and run.returncode == 0
            result = json.loads(run.raw)
            assert (result["pytest_exit"], result["outcomes"]) == (2, [])
            assert "definitely_not_a_module_anywhere" in (scratch / "judge.log").read_text()


def test_a_suite_that_hangs_at_import_is_killed_at_the_deadline_and_the_worker_serves_on(tmp_path):
    hangs = _suite(tmp_path, _HANGS_AT_IMPORT, "test_hangs.py")
    fine = _suite(tmp_path, _SUITE)
    with JudgePool(1, sys.executable, tmp_path / "w") as pool:
        # The worker is started first: its own start-up is not the job's budget here.
        job, scratch = _job(tmp_path, fine, ["test_state"], "before")
        assert pool.run(job_to_json(job), scratch / "judge.log", time.monotonic() + 120).returncode == 0
        # The worker gives up preparing the hanging suite after half the budget (1 s, by the clock),
        # then forks the judge (which hangs the same way): the deadline only has to outlast that
        # (a fork: 2 s to spare), and all of it is waited out.
        job, scratch = _job(tmp_path, hangs, ["test_x"], "hang", wall=2)
        run = pool.run(job_to_json(job), scratch / "judge.log", time.monotonic() + 3)
        assert not run.finished and run.returncode == -9
        job, scratch = _job(tmp_path, fine, ["test_state"], "after")
        run = pool.run(job_to_json(job), scratch / "judge.log", time.monotonic() + 120)
        assert run.finished and run.returncode == 0
        assert [o["status"] for o in json.loads(run.raw)["outcomes"]] == ["passed"]


def test_a_suite_edited_after_collection_runs_as_edited(tmp_path):
    suite = _suite(tmp_path, "def test_x():\n    assert False, 'old'\n")
    with JudgePool(1, sys.executable, tmp_path / "w") as pool:
        job, scratch = _job(tmp_path, suite, ["test_x"], "old")
        run = pool.run(job_to_json(job), scratch / "judge.log", time.monotonic() + 120)
        assert json.loads(run.raw)["outcomes"][0]["message"] == "old"
        suite.write_text("def test_x():\n    assert False, 'edited now'\n")
        os.utime(suite, ns=(time.time_ns(), time.time_ns() + 10**9))
        job, scratch = _job(tmp_path, suite, ["test_x"], "new")
        run = pool.run(job_to_json(job), scratch / "judge.log", time.monotonic() + 120)
        assert json.loads(run.raw)["outcomes"][0]["message"] == "edited now"


# What a suite can observe of the plugins a prepared suite trims (judge_suites._trim) and of
# the judge running without global capture: caplog, capsys and credit/note per parametrized case.
_OBSERVES = '''
import logging
import pytest

def test_logs(caplog, note):
    logging.getLogger("suite").warning("seen by caplog")
    assert [r.getMessage() for r in caplog.records] == ["seen by caplog"]
    note("logged")

def test_prints(capsys):
    print("captured for the test")
    assert capsys.readouterr().out == "captured for the test\\n"

@pytest.mark.parametrize("n", [1, 2])
def test_noted(n, credit, note):
    note(f"case {n}")
    credit(0.25 * n)
    assert n == 1, f"case {n} fails"
'''


def test_what_a_suite_observes_is_the_same_prepared_as_with_pytest_main(tmp_path):
    suite = _suite(tmp_path, _OBSERVES)
    tests = ["test_logs", "test_prints", "test_noted"]
    with JudgePool(1, sys.executable, tmp_path / "w") as pool:
        job, scratch = _job(tmp_path, suite, tests, "prepared")
        run = pool.run(job_to_json(job), scratch / "judge.log", time.monotonic() + 120)
        assert run.finished and run.returncode == 0, (scratch / "judge.log").read_text()
    job, _ = _job(tmp_path, suite, tests, "fresh")
    prepared, fresh = _comparable(json.loads(run.raw)), _comparable(_fresh(job))
    assert prepared == fresh
    by_case = {(o["test"], o["case"]): (o["status"], o["credit"], o["notes"]) for o in prepared[1]}
    assert by_case == {
        ("test_logs", ""): ("passed", 1.0, ["logged"]),
        ("test_prints", ""): ("passed", 1.0, []),
        ("test_noted", "1"): ("passed", 0.25, ["case 1"]),
        ("test_noted", "2"): ("failed", 0.5, ["case 2"]),
    }


def test_a_suite_that_never_names_caplog_runs_without_the_per_test_log_capture(tmp_path):
    suite = _suite(tmp_path, "def test_x():\n    pass\n")
    code = ("import sys; from grader import judge_suites as j; p = j.prepare(sys.argv[1]); "
            "print(sorted(p.trimmed)); print(all('location' in vars(i) for i in p.items))")
    out = subprocess.run([sys.executable, "-c", code, str(suite)], capture_output=True, text=True,
                         env=worker_environment(), timeout=120).stdout.split("\n")
    assert out[:2] == ["['capturemanager', 'logging-plugin', 'setuponly', 'setupplan']", "True"]
    (suite.parent / "test_other.py").write_text("def test_y(caplog):\n    pass\n")
    other = suite.parent / "test_other.py"
    out = subprocess.run([sys.executable, "-c", code, str(other)], capture_output=True, text=True,
                         env=worker_environment(), timeout=120).stdout.split("\n")
    assert out[0] == "['setuponly', 'setupplan']"
    # A capture fixture, even one only named in the text (getfixturevalue), keeps the capture manager.
    (suite.parent / "test_third.py").write_text(
        "def test_z(request):\n    assert request.getfixturevalue('capsys') is not None\n")
    third = suite.parent / "test_third.py"
    out = subprocess.run([sys.executable, "-c", code, str(third)], capture_output=True, text=True,
                         env=worker_environment(), timeout=120).stdout.split("\n")
    assert out[0] == "['logging-plugin', 'setuponly', 'setupplan']"
