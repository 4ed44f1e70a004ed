"""Which top-level statements run when only a file's definitions are loaded (grader/sandbox/inside/definitions.py)."""

import ast

import numpy as np

from grader.sandbox.inside.definitions import definitions_only
from grader.sandbox.outside.remote import wrap
from grader.sandbox.outside.session import ChildSession, Limits


def kept(source: str, *wanted: str, **kw) -> str:
    return ast.unparse(definitions_only(ast.parse(source), wanted, **kw))


STUDENT = '''
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view as windows_of
FLOAT = np.float64
EPS = np.finfo(float).eps
window = windows_of
UNUSED = np.ones(3)

def gd(x0, alpha):
    return x0 - alpha * x0

class Conv1d:
    def __init__(self, k):
        self.k = np.asarray(k, dtype=FLOAT)
    def __matmul__(self, x):
        return window(x, self.k.size) @ self.k + 0 * EPS

Convolution1d = Conv1d
step = gd
history = gd(3.0, 0.1)
later = step(3.0, 0.1)
A = Convolution1d([1.0, 2.0])
x = np.random.randn(4000)
name = input("your name? ")
print(A @ np.ones(4))
'''


def test_values_the_definitions_read_are_kept_and_experiments_are_not():
    out = kept(STUDENT)
    for line in ("FLOAT = np.float64", "EPS = np.finfo(float).eps", "window = windows_of"):
        assert line in out, out
    # Read by no definition, or computed by calling the student's code: script code, left out.
    for line in ("UNUSED", "Convolution1d = Conv1d", "step =", "history =", "later =", "A = ", "x = np.random",
                 "input(", "print("):
        assert line not in out, out


def test_a_name_the_suite_wants_is_kept_with_what_it_reads():
    out = kept(STUDENT, "Convolution1d")
    assert "Convolution1d = Conv1d" in out and "A = " not in out, out


def test_without_globals_only_literals_stay():
    out = kept(STUDENT, "Convolution1d", with_globals=False)
    assert "FLOAT = " not in out and "Convolution1d = Conv1d" not in out and "class Conv1d" in out


def test_a_functions_own_locals_do_not_pull_in_globals_of_the_same_name():
    source = "import numpy as np\nx = np.random.randn(9)\nk = np.ones(2)\ndef f(x):\n    y = x * 2\n    return [x for x in y] + k\n"
    out = kept(source)
    assert "k = np.ones(2)" in out and "x = np.random" not in out, out


def test_aliases_of_student_functions_count_as_student_code():
    source = "def gd(x):\n    return x\nstep = gd\nlr = lambda a: a\nX0 = step(1.0)\nA0 = lr(0.1)\ndef run():\n    return X0 + A0\n"
    out = kept(source)
    assert "X0 =" not in out and "A0 =" not in out and "lr = lambda" not in out, out


def test_methods_a_notebook_assigns_to_the_class_later_are_part_of_it():
    # Starter stubs first, the answer in a later cell. Before: the stubs were graded, 0 / 20.
    source = ("import numpy as np\nclass Convolution1d:\n    def __matmul__(self, x):\n        return None\n"
              "def _matmul(self, x):\n    return np.correlate(x, self.k, 'valid')\n"
              "Convolution1d.__matmul__ = _matmul\nConvolution1d.T = property(lambda self: Transposed(self.k))\n"
              "def build_cache():\n    return {}\nA = Convolution1d()\nA.k = np.ones(3)\nConvolution1d.cache = build_cache()\n")
    out = kept(source, "Convolution1d")
    assert "Convolution1d.__matmul__ = _matmul" in out and "Convolution1d.T = property" in out, out
    # An instance's attribute is an experiment; a value that calls the student's code is not kept this way.
    assert "A.k = " not in out and "A = Convolution1d" not in out and "Convolution1d.cache" not in out, out


def test_a_value_the_wanted_class_reads_is_computed_even_through_the_students_code():
    source = ("import numpy as np\ndef _pick():\n    return np.correlate\ncorrelate = _pick()\n"
              "def gd(A, x):\n    return x\nclass Convolution1d:\n    def __init__(self, k):\n        self.k = k\n"
              "    def __matmul__(self, x):\n        return correlate(x, self.k, 'valid')\n"
              "def report():\n    return history\nA = Convolution1d(np.ones(3))\nhistory = gd(A, np.zeros(5))\n")
    out = kept(source, "Convolution1d")
    assert "correlate = _pick()" in out, out
    # history is read by report(), which the wanted class never reaches: an experiment still.
    assert "history =" not in out and "A = " not in out, out
    # With no wanted names (a script's own definitions), nothing that calls student code is kept.
    assert "correlate = _pick()" not in kept(source), kept(source)


def test_the_child_loads_module_level_aliases_and_falls_back_when_they_fail(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "conv.py").write_text(STUDENT.replace('name = input("your name? ")\n', ""))
    # A value a method reads that needs a missing file: the definitions alone load, as before.
    (work / "broken.py").write_text("import numpy as np\nDATA = np.loadtxt('absent.csv')\ndef f(x):\n    return x\n"
                                    "def g():\n    return DATA\nprint('script')\n")
    with ChildSession(work, Limits(wall_seconds=20, memory_bytes=2 << 30), tmp_path / "scratch") as s:
        info = s.load("conv.py", ["Convolution1d"])
        assert info["mode"] == "definitions", info
        A = wrap(s, info["module"]).Convolution1d([1.0, 2.0])
        assert (A @ np.arange(4.0)).tolist() == [2.0, 5.0, 8.0]
        assert "A = " not in s.captured_output()
        broken = s.load("broken.py", ["f"])
        assert broken["mode"] == "definitions" and wrap(s, broken["module"]).f(3) == 3
        assert "script" not in s.captured_output()


def test_a_fallback_load_never_sees_nodes_a_transformer_already_rewrote(tmp_path):
    import ast as _ast

    from grader.sandbox.inside import loader

    def once(tree, filename):
        for node in _ast.walk(tree):
            if not isinstance(node, (_ast.stmt, _ast.expr)):
                continue  # contexts and operators (Load, Mult) are singletons shared by every node
            assert not getattr(node, "_seen", False), "a node was transformed twice"
            node._seen = True
        return tree

    # SCALE reads `base`, which only script code binds: the definitions run again without it,
    # then the whole file runs because `g` is only defined by script code: three passes.
    path = tmp_path / "m.py"
    path.write_text("for _ in range(1):\n    base = 2\nSCALE = base * 3\ndef f():\n    return SCALE\n"
                    "for _ in range(1):\n    def g():\n        return 1\n", encoding="utf-8")
    loaded = loader.load(path, "m_fallback", ["g"], tmp_path, [once])
    assert loaded.mode == "full" and loaded.module.g() == 1 and loaded.module.f() == 6


def test_try_and_if_blocks_that_only_define_are_definitions():
    # Found by a blind probe: a correct FFT answer whose import guard also set a flag lost the whole
    # block (NameError 'HAVE_SCIPY', 0 / 20); a backend chosen in an `if` lost `_corr` (4 / 20).
    source = (
        "import numpy as np\ntry:\n    import scipy.fft as fftlib\n    HAVE_SCIPY = True\n"
        "except ImportError:\n    import numpy.fft as fftlib\n    HAVE_SCIPY = False\n"
        "USE_SCIPY = True\nif USE_SCIPY:\n    from scipy.signal import correlate as _corr\nelse:\n    _corr = np.correlate\n"
        "if True:\n    SIZE = np.int64(3)\n"
        "Transposed = type('Transposed', (), {'__matmul__': lambda self, y: y})\n"
        "class Convolution1d:\n    def __matmul__(self, x):\n        return _corr(x, fftlib.fft(x)) if HAVE_SCIPY else SIZE\n"
        "    @property\n    def T(self):\n        return Transposed()\n"
        "if __name__ == '__main__':\n    import sys\n    LIMIT = 3\n"
        "if input('go? '):\n    FLAG = 1\n"
        "try:\n    A = Convolution1d()\nexcept Exception:\n    pass\n"
    )
    out = kept(source, "Convolution1d")
    for line in ("HAVE_SCIPY = False", "from scipy.signal import correlate as _corr", "_corr = np.correlate",
                 "SIZE = np.int64(3)", "Transposed = type("):
        assert line in out, out
    # The main guard, a condition with effects and a block that runs the student's code stay out.
    for line in ("LIMIT", "FLAG", "A = Convolution1d"):
        assert line not in out, out


def test_a_name_only_script_code_binds_is_explained_where_it_is_read(tmp_path):
    from grader.sandbox.outside.session import StudentError

    work = tmp_path / "work"
    work.mkdir()
    (work / "conv.py").write_text("import numpy as np\nSCALE = float(input('scale? ') or 1)\n"
                                  "def f(x):\n    return SCALE * x\n")
    with ChildSession(work, Limits(wall_seconds=20, memory_bytes=2 << 30), tmp_path / "scratch") as s:
        info = s.load("conv.py", ["f"])
        try:
            wrap(s, info["module"]).f(3)
        except StudentError as exc:
            message = str(exc)
        else:
            raise AssertionError("SCALE was computed although it reads input()")
    assert "NameError: name 'SCALE' is not defined" in message, message
    assert "`SCALE` is set at conv.py:2 by top-level script code" in message, message
