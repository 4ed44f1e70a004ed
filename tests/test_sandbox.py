"""The child process: student code runs there, under limits, and fails in reportable ways."""

import time

import numpy as np
import pytest
from proc_scan import live_processes

from grader.sandbox.outside.remote import wrap
from grader.sandbox.outside.session import ChildSession, Limits, StudentError, StudentTimeout


def session(tmp_path, source, wall=10.0, memory=2 << 30, name="mod.py"):
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    (work / name).write_text(source)
    return ChildSession(work, Limits(wall_seconds=wall, memory_bytes=memory), tmp_path / "scratch")


def test_only_definitions_run_when_they_suffice(tmp_path, capfd):
    src = "import numpy as np\nK = 3\ndef f(x):\n    return x * K\nprint('script ran')\nwhile True:\n    pass\n"
    with session(tmp_path, src) as s:
        info = s.load("mod.py", ["f"])
        assert info["mode"] == "definitions"
        assert wrap(s, info["module"]).f(np.arange(3)).tolist() == [0, 3, 6]
        assert "script ran" not in s.captured_output()
    assert "script ran" not in capfd.readouterr().out


def test_whole_file_runs_when_a_needed_name_is_not_a_definition(tmp_path):
    src = "for _ in range(1):\n    def f():\n        return 42\nprint('top level')\nif __name__ == '__main__':\n    print('main block')\n"
    with session(tmp_path, src) as s:
        info = s.load("mod.py", ["f"])
        assert info["mode"] == "full" and any("whole file" in n for n in info["notes"])
        assert wrap(s, info["module"]).f() == 42
        out = s.captured_output()
    assert "top level" in out and "main block" not in out


def test_syntax_error_names_file_and_line(tmp_path):
    with session(tmp_path, "x = 1\ndef f(:\n    pass\n") as s:
        with pytest.raises(StudentError) as info:
            s.load("mod.py", ["f"])
    assert info.value.kind == "syntax" and "mod.py:2" in str(info.value)


def test_colab_magics_are_skipped(tmp_path):
    src = "!pip install numpy\n%matplotlib inline\nfrom google.colab import drive\ndef f():\n    return 1\n"
    with session(tmp_path, src) as s:
        info = s.load("mod.py", ["f"])
        assert wrap(s, info["module"]).f() == 1
        assert any("magic" in n for n in info["notes"])


def test_magics_exported_by_nbconvert_are_skipped_when_the_whole_file_runs(tmp_path):
    # `jupyter nbconvert --to script` and Colab's "Download .py" turn !pip and %matplotlib into
    # get_ipython() calls: outside IPython the file stopped at the first, NameError (P4: 0 / 15).
    src = ("get_ipython().system('pip install numpy')\nget_ipython().run_line_magic('matplotlib', 'inline')\n"
           "VALUE = 41\nVALUE += 1\ndef f():\n    return VALUE\n")
    with session(tmp_path, src) as s:
        info = s.load("mod.py", ["f"], mode="full")
        assert wrap(s, info["module"]).f() == 42
        assert any("exported as get_ipython() calls" in n for n in info["notes"]), info["notes"]
    # Any other use of get_ipython is the student's code, as under python.
    (tmp_path / "other").mkdir()
    with session(tmp_path / "other", "ip = get_ipython()\ndef f():\n    return 1\n") as s:
        with pytest.raises(StudentError, match="get_ipython"):
            s.load("mod.py", ["f"], mode="full")


def test_exception_in_student_code_reports_file_line_and_code(tmp_path):
    src = "def f(v):\n    return v.size + undefined_name\n"
    with session(tmp_path, src) as s:
        mod = wrap(s, s.load("mod.py", ["f"])["module"])
        with pytest.raises(StudentError) as info:
            mod.f(np.zeros(2))
    text = str(info.value)
    assert "NameError" in text and "mod.py:2" in text and "undefined_name" in text


def test_sys_exit_in_a_method_is_an_error_not_a_dead_grader(tmp_path):
    with session(tmp_path, "import sys\ndef f():\n    sys.exit(3)\ndef g():\n    return 5\n") as s:
        mod = wrap(s, s.load("mod.py", ["f"])["module"])
        with pytest.raises(StudentError) as info:
            mod.f()
        assert info.value.kind == "exit" and "mod.py:3" in str(info.value)
        assert mod.g() == 5  # same child, still serving


def test_crash_is_described_and_the_next_request_gets_a_fresh_child(tmp_path):
    src = "import os, signal\ndef crash():\n    os.kill(os.getpid(), signal.SIGSEGV)\ndef ok():\n    return 1\n"
    with session(tmp_path, src) as s:
        mod = wrap(s, s.load("mod.py", ["crash"])["module"])
        with pytest.raises(StudentError, match="SIGSEGV") as info:
            mod.crash()
        assert info.value.kind == "crash"
        first = s.generation
        mod2 = wrap(s, s.load("mod.py", ["crash"])["module"])
        assert mod2.ok() == 1 and s.generation == first + 1


#: Student code that writes a well-framed junk message on every descriptor it may hold: one of
#: them is the response pipe, so the grader's channel is corrupted on purpose.
SCRIBBLE = ("    for fd in range(3, 64):\n        try:\n"
            "            os.write(fd, b'\\x00\\x00\\x00\\x04junk')\n        except OSError:\n"
            "            pass\n")


def test_a_child_that_writes_into_the_grader_channel_is_not_restarted(tmp_path):
    src = "import os\ndef scribble():\n" + SCRIBBLE + "    return 1\ndef ok():\n    return 1\n"
    with session(tmp_path, src) as s:
        mod = wrap(s, s.load("mod.py", ["scribble"])["module"])
        with pytest.raises(StudentError, match="corrupted the grader's private channel"):
            mod.scribble()
        first = s.generation
        # Every later request fails at once, without a new child: restarting a hostile process per
        # check would only let it spend the time limit, and the verdict would depend on the machine.
        for _ in range(3):
            with pytest.raises(StudentError, match="Not run: .*corrupted the grader's private channel") as info:
                s.load("mod.py", ["ok"])
            assert info.value.kind == "crash"
        assert s.generation == first


def test_memory_limit_gives_a_memory_error(tmp_path):
    src = "import numpy as np\ndef big():\n    return np.ones(2**30).sum()\n"
    with session(tmp_path, src, memory=1 << 30) as s:
        mod = wrap(s, s.load("mod.py", ["big"])["module"])
        with pytest.raises(StudentError) as info:
            mod.big()
    assert info.value.kind in ("memory", "exception", "crash")
    assert "Memory" in str(info.value) or "memory" in str(info.value)


def test_timeout_kills_the_child_and_everything_it_started(tmp_path):
    src = (
        "import subprocess, time\n"
        "def hang():\n"
        "    p = subprocess.Popen(['sleep', '300.4242'])\n"
        "    while True:\n"
        "        time.sleep(0.01)\n"
    )
    # The budget covers loading the module (a fork of the zygote) and is then waited out: 2 s.
    s = session(tmp_path, src, wall=2.0)
    with s:
        mod = wrap(s, s.load("mod.py", ["hang"])["module"])
        start = time.monotonic()
        with pytest.raises(StudentTimeout):
            mod.hang()
        assert time.monotonic() - start < 5
        with pytest.raises(StudentTimeout):  # the budget is spent: no new child
            s.load("mod.py", ["hang"])
    # Found by its command line: inside a PID namespace the pid it saw means nothing here.
    assert not live_processes("300.4242")



def test_input_and_show_do_not_block_and_prints_are_captured(tmp_path, capfd):
    src = (
        "import matplotlib.pyplot as plt\n"
        "def run():\n"
        "    answer = input('continue? ')\n"
        "    plt.plot([1, 2]); plt.show()\n"
        "    print('student says hi')\n"
        "    return answer\n"
    )
    with session(tmp_path, src, wall=20) as s:
        mod = wrap(s, s.load("mod.py", ["run"])["module"])
        assert mod.run() == ""
        assert "student says hi" in s.captured_output()
    assert "student says hi" not in capfd.readouterr().out


def test_student_environment_is_scrubbed(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_SECRET_TOKEN", "s3cret")
    with session(tmp_path, "import os\ndef env():\n    return dict(os.environ)\n") as s:
        env = wrap(s, s.load("mod.py", ["env"])["module"]).env()
    assert "GRADER_SECRET_TOKEN" not in env and env["MPLBACKEND"] == "Agg"


def test_student_code_cannot_reach_the_judges_objects(tmp_path):
    # The suite's numpy lives in another process: patching numpy in the child changes nothing here.
    src = "import numpy as np\ndef patch():\n    np.allclose = lambda *a, **k: True\n    return 0\n"
    with session(tmp_path, src) as s:
        wrap(s, s.load("mod.py", ["patch"])["module"]).patch()
    assert not np.allclose(np.zeros(2), np.ones(2))


def test_what_a_student_printed_before_corrupting_the_channel_is_always_kept(tmp_path):
    # The judge stops a child at once when its channel is corrupted. What the student printed
    # before must be in the feedback every time, not only when the child's buffer happened to be
    # flushed before the stop: here the child never gets to flush it (it sleeps after scribbling).
    src = ("import os, sys, time\ndef forge():\n    print('a fake score: 100')\n"
           "    sys.stderr.write('and a warning\\n')\n" + SCRIBBLE + "    time.sleep(30)\n")
    with session(tmp_path, src) as s:
        mod = wrap(s, s.load("mod.py", ["forge"])["module"])
        with pytest.raises(StudentError, match="corrupted the grader's private channel"):
            mod.forge()
        out = s.captured_output()
    assert "a fake score: 100" in out and "and a warning" in out


def test_the_outbox_never_brings_a_name_the_judge_reserved(tmp_path):
    # P4's suite writes runs.json only when it observed runs; a script that wrote its own into the
    # folder its figures go to must not have it shown as the grader's table of runs.
    artifacts = tmp_path / "artifacts"
    src = ("from pathlib import Path\ndef plant(folder):\n"
           "    for name in ('runs.json', 'runs.md', 'figure_1.png'):\n"
           "        (Path(folder) / name).write_text('planted')\n    return 1\n")
    work = tmp_path / "work"
    work.mkdir()
    (work / "mod.py").write_text(src)
    s = ChildSession(work, Limits(wall_seconds=10.0, memory_bytes=2 << 30), tmp_path / "scratch",
                     artifacts=artifacts, reserved={"runs.json", "runs.md"})
    with s:
        assert wrap(s, s.load("mod.py", ["plant"])["module"]).plant(str(artifacts.resolve())) == 1
    assert sorted(p.name for p in artifacts.iterdir()) == ["figure_1.png"]


def test_a_method_used_as_an_operator_is_named_with_what_to_do(tmp_path):
    src = "class Conv:\n    def T(self):\n        return self\n    def __matmul__(self, x):\n        return x\n"
    with session(tmp_path, src) as s:
        A = wrap(s, s.load("mod.py", ["Conv"])["module"]).Conv()
        with pytest.raises(StudentError) as info:
            A.T @ np.zeros(3)
    assert "the method Conv.T" in str(info.value) and "make T an attribute" in str(info.value), str(info.value)
