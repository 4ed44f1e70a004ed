"""The child zygote: one fresh, confined child per student; nothing one student does reaches the next."""

from __future__ import annotations

import io
import json
import os
import time
import shutil
from pathlib import Path

import pytest
from proc_scan import alive

from grader import grade
from grader.context import Context
from grader.rubric import load_rubric
from grader.sandbox.outside import processes
from grader.sandbox.outside.remote import wrap
from grader.sandbox.outside.session import ChildSession, Limits, StudentError

ROOT = Path(__file__).resolve().parents[1]

HOSTILE = '''
import sys, types, json
import numpy as np
import numpy.linalg
np.allclose = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
np.correlate = lambda *a, **k: np.zeros(3)
np.pi = 3.0
json.dumps = lambda *a, **k: '{"score": 100}'
fake = types.ModuleType("conv1D")
fake.Convolution1d = lambda k: "forged"
sys.modules["conv1D"] = fake
sys.modules["planted_by_hostile"] = fake
for i in range(10000):
    sys.modules[f"filler_{i}"] = fake
import grader.sandbox.protocol as protocol
protocol.planted = True
SECRET = "hostile"
def f():
    return "patched"
'''

PROBE = '''
import sys, json
import numpy as np
import grader.sandbox.protocol as protocol
def probe():
    return {
        "allclose": bool(np.allclose([1.0], [2.0])),
        "correlate": np.correlate([1.0, 2.0, 3.0], [1.0], "valid").tolist(),
        "pi": float(np.pi),
        "json": json.dumps([1]),
        "planted": sorted(k for k in sys.modules if k.startswith(("planted", "filler_")))[:3],
        "conv1D_module": "conv1D" in sys.modules,
        "protocol_planted": hasattr(protocol, "planted"),
        "pid": __import__("os").getpid(),
        "sid_is_own": __import__("os").getsid(0) == __import__("os").getpid(),
        "env": sorted(__import__("os").environ),
        # The zygote leaves these to the child to import (see zygote._COMPAT_SKIPS).
        "numpy_names": [n in np.__all__ and n in dir(np) for n in ("testing", "f2py")],
        "np_testing": np.testing.assert_allclose.__name__,
    }
'''


@pytest.fixture
def zygote(zygote_launcher):
    return zygote_launcher


def _session(tmp_path, name, source, launcher, wall=20.0):
    work = tmp_path / name
    work.mkdir()
    (work / "mod.py").write_text(source)
    return ChildSession(work, Limits(wall_seconds=wall, memory_bytes=2 << 30), tmp_path / f"{name}-scratch",
                        launcher=launcher)


def test_a_patching_student_is_followed_by_a_pristine_child(tmp_path, zygote):
    with _session(tmp_path, "hostile", HOSTILE, zygote) as s:
        # Its patched json.dumps even garbles its own answers: that child is its own problem.
        with pytest.raises(StudentError):
            wrap(s, s.load("mod.py", ["f"], mode="full")["module"]).f()
        hostile_pid = s.pid
    with _session(tmp_path, "honest", PROBE, zygote) as s:
        seen = wrap(s, s.load("mod.py", ["probe"])["module"]).probe()
    assert seen["allclose"] is False and seen["correlate"] == [1.0, 2.0, 3.0] and seen["pi"] == pytest.approx(3.14159, 1e-5)
    assert seen["json"] == "[1]" and seen["planted"] == [] and not seen["conv1D_module"]
    assert not seen["protocol_planted"]
    assert seen["numpy_names"] == [True, True] and seen["np_testing"] == "assert_allclose"
    assert seen["pid"] != hostile_pid and seen["sid_is_own"]
    # The child environment only, never the grader's.
    assert "PYTEST_CURRENT_TEST" not in seen["env"] and "OPENBLAS_NUM_THREADS" in seen["env"]


def test_forked_children_draw_fresh_random_numbers(tmp_path, zygote):
    """Each child reseeds numpy's and random's global generators, as a fresh interpreter would."""
    src = ("import random\nimport numpy as np\n"
           "def draw():\n    return [np.random.random(4).tolist(), np.random.randint(0, 2**31, 4).tolist(),\n"
           "            np.random.standard_normal(2).tolist(), random.random()]\n")
    draws = []
    for name in ("first", "second"):
        with _session(tmp_path, name, src, zygote) as s:
            draws.append(wrap(s, s.load("mod.py", ["draw"])["module"]).draw())
    for left, right in zip(*draws):
        assert left != right, draws  # the same generator state in both children would draw the same


def test_limits_apply_to_forked_children(tmp_path, zygote):
    src = "def grab():\n    return len(bytearray(3 << 30))\ndef spin():\n    while True:\n        pass\n"
    with _session(tmp_path, "mem", src, zygote) as s:
        mod = wrap(s, s.load("mod.py", ["grab"])["module"])
        with pytest.raises(StudentError) as info:
            mod.grab()
        assert "MemoryError" in str(info.value)


def _running_with(marker: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
                state = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if marker.encode() in cmdline and state not in ("Z", "X"):
                found.append(int(name))
    return found


def test_a_killed_session_kills_the_forked_child_and_its_group(tmp_path, zygote):
    marker = f"zygote-grandchild-{os.getpid()}-{tmp_path.name}"
    src = ("import subprocess, sys\n"
           "def spawn():\n"
           f"    return subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', '{marker}']).pid\n")
    s = _session(tmp_path, "group", src, zygote)
    wrap(s, s.load("mod.py", ["spawn"])["module"]).spawn()
    # Popen returns once the exec has passed its point of no return, but the kernel fills in the
    # new command line (what _running_with reads) a little later: under load the first look could
    # see an empty one. Wait for it, up to a bound.
    for _ in range(100):
        if _running_with(marker):
            break
        time.sleep(0.05)
    assert _running_with(marker), "the grandchild did not start"
    s.close()
    for _ in range(100):
        if not _running_with(marker):
            break
        time.sleep(0.05)
    assert not _running_with(marker), "a process the student started survived its session"


def _rubric(tmp_path) -> Path:
    suite = ROOT / "rubrics" / "hw1" / "test_p5.py"
    items = "".join(f'\n  [[problems.items]]\n  id = "{t}"\n  test = "{t}"\n  points = 1\n' for t in (
        "test_forward_matches_dense", "test_transpose_matches_dense", "test_output_shapes", "test_adjoint_identity"))
    path = tmp_path / "z.toml"
    path.write_text(f'[assignment]\nid = "z"\n\n[[problems]]\nid = "p5"\nfiles = ["conv1D.py"]\n'
                    f'suite = "{suite}"\ntimeout = "60s"\n{items}')
    return path


@pytest.mark.slow
def test_through_the_grader_an_honest_student_after_a_patching_one_is_graded_correctly(tmp_path):
    students = tmp_path / "class"
    (students / "a_patches_everything").mkdir(parents=True)
    (students / "a_patches_everything" / "conv1D.py").write_text(
        HOSTILE + "\nclass Convolution1d:\n    def __init__(self, k):\n        self.k = k\n"
        "    def __matmul__(self, x):\n        return np.zeros(3)\n"
    )
    shutil.copytree(ROOT / "submissions" / "full_marks", students / "b_honest")
    out = tmp_path / "out"
    # One job: both students go through the same judge worker and the same zygote, hostile first.
    reports = grade.main(path=students, rubric=load_rubric(_rubric(tmp_path)), out=out, jobs=1,
                         ctx=Context(stdout=io.StringIO(), stderr=io.StringIO()), cache=False)
    scores = {r.student: r.score for r in reports}
    assert scores == {"a_patches_everything": 0, "b_honest": 4}


def test_the_sandbox_tests_children_come_from_the_zygote(tmp_path, zygote_launcher):
    """tests/conftest.py gives every ChildSession a test builds (test_sandbox, test_isolation, test_guards…) the zygote."""
    work = tmp_path / "w"
    work.mkdir()
    (work / "mod.py").write_text("import os\ndef parent():\n    return os.getppid()\n")
    with ChildSession(work, Limits(wall_seconds=20, memory_bytes=2 << 30), tmp_path / "s") as s:
        wrap(s, s.load("mod.py", ["parent"])["module"]).parent()
        forked = s._running.proc.pid  # the child the zygote forked (with the processes layer: its supervisor)
        ppid = int(Path(f"/proc/{forked}/stat").read_text().rsplit(")", 1)[1].split()[1])
        assert ppid == zygote_launcher.zygote_pid


def test_the_exec_launcher_still_starts_a_fresh_interpreter(tmp_path):
    from grader.sandbox.outside.launcher import ExecLauncher

    work = tmp_path / "w"
    work.mkdir()
    (work / "mod.py").write_text("def answer():\n    return 42\n")
    with ChildSession(work, Limits(wall_seconds=20, memory_bytes=2 << 30), tmp_path / "s",
                      launcher=ExecLauncher()) as s:
        assert wrap(s, s.load("mod.py", ["answer"])["module"]).answer() == 42
        forked = s._running.proc.pid
        assert int(Path(f"/proc/{forked}/stat").read_text().rsplit(")", 1)[1].split()[1]) == os.getpid()


NAMESPACE_PROBE = '''
import os, signal, subprocess, sys
def inside():
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a stop must not wait for a student who ignores it
    init = open("/proc/1/cmdline", "rb").read().split(b"\\0")[0].decode()
    pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    return {"pid": os.getpid(), "ppid": os.getppid(), "init": init, "pids": pids,
            "ns": os.readlink("/proc/self/ns/pid")}
def daemon(marker):
    # Double fork + setsid: orphaned to the namespace's init, outside the student's group.
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(300)", marker])
        os._exit(0)
    os.wait()
'''


def _pid_namespaces(pid: int) -> tuple[str, str]:
    return os.readlink(f"/proc/{pid}/ns/pid"), os.readlink(f"/proc/{pid}/ns/pid_for_children")


@pytest.mark.skipif(not processes.Namespaces().available,
                    reason="the zygote makes PID namespaces itself only as root with cat")
def test_a_zygote_child_gets_a_fresh_namespace_with_a_minimal_init_and_nothing_of_it_survives(tmp_path, zygote):
    """Root: two forks per child, the first straight into a fresh namespace whose init the zygote started."""
    marker = f"zygote-daemon-{os.getpid()}-{tmp_path.name}"
    sessions = [_session(tmp_path, name, NAMESPACE_PROBE, zygote) for name in ("first", "second")]
    seen = []
    for s in sessions:  # both alive at once: a namespace's id is reused once it is gone
        mod = wrap(s, s.load("mod.py", ["inside", "daemon"])["module"])
        info = mod.inside()
        mod.daemon(marker)
        # PID 1 is the minimal init, not a copy of the zygote; PID 2 its root-owned supervisor.
        assert info["pid"] == 3 and info["ppid"] == 2, info
        assert info["init"].endswith("cat"), info
        assert info["pids"] == [1, 2, 3], info  # nothing else: only its namespace
        assert processes.student_pid(s._running.proc.pid) is not None
        # The zygote forks into its own namespace again once the child exists.
        own, for_children = _pid_namespaces(zygote.zygote_pid)
        assert own == for_children
        seen.append(info["ns"])
    assert seen[0] != seen[1], "two children shared a PID namespace"
    # daemon() returns once the middle process exits; the grandchild may not have exec'd yet.
    for _ in range(200):
        if len(_running_with(marker)) == 2:
            break
        time.sleep(0.05)
    assert len(_running_with(marker)) == 2, "the daemons did not start"
    for left, s in reversed(list(enumerate(sessions))):
        host_pid = s._running.proc.pid
        started = time.monotonic()
        s.close()
        # Generous for a loaded machine, and far below the 10 s grace a stop gives a supervisor.
        assert time.monotonic() - started < 8.0, "the stop waited for a child that ignores SIGTERM"
        assert not Path(f"/proc/{host_pid}").exists(), "the child was not reaped"
        # Stopping is synchronous: when close() returns, the namespace is empty.
        assert len(_running_with(marker)) == left, "a process the student orphaned survived its session"


@pytest.mark.skipif(not processes.Namespaces().available,
                    reason="the zygote makes PID namespaces itself only as root with cat")
def test_a_killed_zygote_takes_its_childrens_inits_and_namespaces_with_it(tmp_path):
    """The init reads a pipe only the zygote writes to: when the zygote dies, the init ends, and with it the namespace."""
    import signal

    from grader.sandbox.outside.launcher import ZygoteLauncher

    proc, sock = ZygoteLauncher.spawn_zygote()
    try:
        s = _session(tmp_path, "orphaned", NAMESPACE_PROBE, ZygoteLauncher(sock))
        mod = wrap(s, s.load("mod.py", ["inside"])["module"])
        assert mod.inside()["init"].endswith("cat")
        children = processes._children(proc.pid)
        inits = [pid for pid in children if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].endswith(b"cat")]
        assert len(inits) == 1, children
        student = processes.student_pid(s._running.proc.pid)
        assert student is not None
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        for _ in range(200):
            if not any(alive(pid) for pid in (*children, student)):
                break
            time.sleep(0.05)
        assert not any(alive(pid) for pid in (*children, student)), "the init or the child outlived the zygote"
    finally:
        sock.close()


def test_an_exit_line_read_with_the_pid_line_is_not_lost():
    """The judge reads the zygote's reply in chunks: what came after the pid line belongs to the child's end."""
    from grader.sandbox.outside.launcher import ZygoteChild

    # Half the exit line came with the pid line; the rest is still in the pipe.
    reply_r, reply_w = os.pipe()
    os.write(reply_w, b'3}\n')
    os.close(reply_w)  # the zygote closes its end after the exit line
    lifeline_r, lifeline_w = os.pipe()
    child = ZygoteChild(1234, reply_r, lifeline_w, b'{"exit": ')
    assert child.wait() == 3
    # The whole exit line came with it: the child is known to have ended without another read.
    reply_r, reply_w = os.pipe()
    done = ZygoteChild(1235, reply_r, lifeline_w, b'{"exit": -9}\n')
    assert done.returncode == -9 and done.poll() == -9 and done.wait() == -9
    for fd in (reply_w, lifeline_r, lifeline_w):
        os.close(fd)
