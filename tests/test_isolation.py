"""The isolation API on its own: :func:`confine.confine` in a process forked from a live interpreter.

This is how a pre-imported zygote uses it (fork, confine, run student code
without exec), so these tests never exec: they fork this pytest process,
confine the child, and have it report what it can see and do through a pipe.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path

import pytest
from proc_scan import live_processes

from grader.sandbox.outside import confine, users
from grader.sandbox.outside.limits import Rlimits

ROOT = Path(__file__).resolve().parents[1]
FULL = all(layer in confine.probe("auto").active for layer in confine.LAYERS)
needs_full = pytest.mark.skipif(not FULL, reason="needs every layer (Linux as root)")


def _run_confined(tmp_path: Path, body) -> tuple[int, dict]:
    """Forks, confines, runs ``body()`` (which returns a dict), and returns (wait status, the dict)."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    (work / "mine.txt").write_text("mine")
    plan = confine.plan_for(
        workdir=work,
        rlimits=Rlimits(memory_bytes=2 << 30, cpu_seconds=30),
        scratch=tmp_path / "scratch",
        readable=(ROOT / "rubrics" / "hw1" / "p4_observe_plugin.py",),
    )
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(read_fd)
            confine.confine(plan)
            os.write(write_fd, json.dumps(body()).encode())
        except BaseException as exc:  # noqa: BLE001 - reported through the pipe
            os.write(write_fd, json.dumps({"error": repr(exc)}).encode())
            code = 3
        os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as fh:
        data = fh.read()
    _, status = os.waitpid(pid, 0)
    return status, json.loads(data or b"{}")


def _look_around() -> dict:
    seen = {"uid": os.getuid(), "pid": os.getpid(), "cwd": os.getcwd(), "root": sorted(os.listdir("/"))}
    seen["procs"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    seen["checkout"] = sorted(os.listdir(str(ROOT))) if os.path.isdir(ROOT) else None
    seen["plugin"] = os.path.isfile(ROOT / "rubrics" / "hw1" / "p4_observe_plugin.py")
    seen["test_p5"] = os.path.exists(ROOT / "rubrics" / "hw1" / "test_p5.py")
    seen["home"] = os.path.exists(os.path.expanduser("~") + "/.bashrc")
    for name, path in (("work", "new.txt"), ("tmp", "/tmp/x"), ("usr", "/usr/x"), ("grader", str(ROOT / "grader" / "x"))):
        try:
            Path(path).write_text("x")
            seen["write_" + name] = True
        except OSError:
            seen["write_" + name] = False
    try:
        socket.create_connection(("127.0.0.1", 9), timeout=1)
        seen["net"] = "connected"
    except OSError as exc:
        seen["net"] = exc.errno
    import numpy  # the Python installation is there, read-only

    seen["numpy"] = numpy.__version__
    return seen


@needs_full
def test_a_forked_process_is_confined_by_every_layer(tmp_path):
    status, seen = _run_confined(tmp_path, _look_around)
    assert os.waitstatus_to_exitcode(status) == 0, seen
    assert seen["uid"] >= users.BASE_ID
    assert seen["pid"] == 2 and seen["procs"] == [1, 2]
    assert seen["cwd"] == str((tmp_path / "work").resolve())
    assert seen["checkout"] == ["grader", "rubrics"], "only the grader package and the plugin file"
    assert seen["plugin"] and not seen["test_p5"] and not seen["home"]
    assert seen["write_work"] and seen["write_tmp"]
    assert not seen["write_usr"] and not seen["write_grader"]
    assert seen["net"] == 101  # ENETUNREACH: no interface is up
    assert (tmp_path / "work" / "new.txt").read_text() == "x"


@needs_full
def test_the_original_pid_exits_as_the_confined_process_did(tmp_path):
    def segfault():
        import faulthandler

        faulthandler.disable()  # pytest's handler would print a traceback for this on purpose crash
        os.kill(os.getpid(), signal.SIGSEGV)

    status, _ = _run_confined(tmp_path, segfault)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSEGV

    def exit_7():
        os._exit(7)

    status, _ = _run_confined(tmp_path, exit_7)
    assert os.waitstatus_to_exitcode(status) == 7


@needs_full
def test_sigterm_to_the_original_pid_empties_the_namespace(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    plan = confine.plan_for(workdir=work, rlimits=Rlimits(2 << 30, 30), scratch=tmp_path / "s")
    pid = os.fork()
    if pid == 0:
        try:
            confine.confine(plan)
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    os.execv("/bin/sleep", ["sleep", "997.31337"])
                os._exit(0)
            Path("ready").write_text("1")
            while True:
                time.sleep(1)
        finally:
            os._exit(1)
    deadline = time.monotonic() + 60
    while not ((work / "ready").exists() and live_processes("997.31337")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live_processes("997.31337"), "the daemon should be running"
    os.kill(pid, signal.SIGTERM)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert live_processes("997.31337") == []



def test_forced_rlimits_mode_reports_every_layer_missing(monkeypatch):
    monkeypatch.setenv(confine.MODE_VARIABLE, "rlimits")
    info = confine.probe()
    assert info.active == () and info.forced
    warning = info.warning()
    assert warning is not None and all(layer in warning for layer in confine.LAYERS)
    assert "[OFF] network" in info.describe()


def test_an_unknown_mode_is_refused(monkeypatch):
    monkeypatch.setenv(confine.MODE_VARIABLE, "none")
    with pytest.raises(ValueError, match="GRADER_SANDBOX"):
        confine.probe()


def test_rlimits_only_still_limits_a_forked_process(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    info = confine.probe("rlimits")
    plan = confine.plan_for(workdir=work, rlimits=Rlimits(1 << 30, 30, max_open_files=64),
                            scratch=tmp_path / "s", info=info)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        import resource

        confine.confine(plan)
        os.write(write_fd, json.dumps([resource.getrlimit(resource.RLIMIT_AS)[0],
                                       resource.getrlimit(resource.RLIMIT_NOFILE)[0], os.getcwd()]).encode())
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as fh:
        got = json.loads(fh.read())
    os.waitpid(pid, 0)
    assert got == [1 << 30, 64, str(work.resolve())]


def test_grade_sandbox_info_prints_the_layers():
    from click.testing import CliRunner

    from grader.cli import main

    result = CliRunner().invoke(main, ["--sandbox-info"])
    assert result.exit_code == 0, result.output
    for layer in (*confine.LAYERS, "rlimits"):
        assert f"] {layer}:" in result.output


def test_a_judge_killed_by_a_signal_is_the_students_doing():
    from grader.sandbox.outside import judge_death

    killed = judge_death.classify(-9, stopped_by_runner=False, log="x.log")
    assert killed.student_caused and killed.flags == (judge_death.FLAG,) and "SIGKILL" in killed.message
    assert "not your code's fault" not in killed.message
    crashed = judge_death.classify(1, stopped_by_runner=False, log="x.log")
    assert not crashed.student_caused and "not your code's fault" in crashed.message and not crashed.flags
    overdue = judge_death.classify(-9, stopped_by_runner=True, log="x.log")
    assert not overdue.student_caused
