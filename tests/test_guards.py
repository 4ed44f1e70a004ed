"""The generic guard machinery: expression watch, tracemalloc peaks, the process seen from outside."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

from grader.guards import memory, process
from grader.guards.shapes import ExpressionWatch
from grader.rubric import RubricError, load_rubric


# -- expression watch ------------------------------------------------------------
def watched_module(tmp_path: Path, source: str, name: str = "student"):
    """Compiles ``source`` as a student file through the watch; returns (module, watch)."""
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    watch = ExpressionWatch(tmp_path)
    watch.install()
    tree = watch.transform(ast.parse(path.read_text(encoding="utf-8"), str(path)), str(path))
    ast.fix_missing_locations(tree)
    module = types.ModuleType(name)
    module.__file__ = str(path)
    exec(compile(tree, str(path), "exec"), module.__dict__)
    return module, watch


def collect(watch: ExpressionWatch, run):
    seen = []

    def inspect(value, site):
        if isinstance(value, np.ndarray) and value.ndim >= 2:
            seen.append((watch.sites[site], value.shape))

    with watch.armed(inspect):
        result = run()
    return result, seen


def test_watch_sees_arrays_views_and_operator_results_with_their_lines(tmp_path):
    module, watch = watched_module(tmp_path, """
        import numpy as np
        from numpy.lib.stride_tricks import as_strided

        class Op:
            def __matmul__(self, x):
                n = x.size
                view = as_strided(x, shape=(n, n), strides=(0, x.strides[0]))
                mask = np.arange(n)[:, None] < np.arange(n)[None, :]
                return (view * mask).sum(axis=1)
    """)
    result, seen = collect(watch, lambda: module.Op() @ np.arange(4.0))
    assert result.tolist() == [6.0, 5.0, 3.0, 0.0]
    lines = {(s.line, s.function) for s, _ in seen}
    assert (8, "Op.__matmul__") in lines  # the as_strided view
    assert (9, "Op.__matmul__") in lines  # the broadcast comparison
    assert (10, "Op.__matmul__") in lines  # the product
    site = next(s for s, _ in seen if s.line == 8)
    assert site.where == "student.py:8" and site.code.startswith("view = as_strided(")


def test_watch_is_silent_when_disarmed(tmp_path):
    module, watch = watched_module(tmp_path, """
        import numpy as np
        def big():
            return np.zeros((50, 50))
    """)
    seen = []
    module.big()  # disarmed: nothing inspected
    with watch.armed(lambda value, site: seen.append(site)):
        pass
    assert seen == []


def test_watched_code_keeps_python_semantics(tmp_path):
    module, watch = watched_module(tmp_path, """
        import functools

        class Base:
            def __init__(self, k):
                self.k = k

        class Child(Base):
            def __init__(self, k):
                super().__init__(k * 2)          # zero-argument super()

            @property
            def doubled(self):
                return self.k

            @functools.lru_cache(maxsize=None)
            def cached(self, n: int = 3) -> int:
                return n + 1

        def matcher(value):
            match value:
                case {"kind": "pair", "items": [a, b]}:
                    return a + b
                case Base(k=k) if k > 1:
                    return k
                case _:
                    return None

        def many(xs):
            total = sum(x * x for x in xs if x % 2)
            squares = {x: x**2 for x in xs}
            label = f"{len(xs)} items, last {xs[-1]!r}"
            head, *tail = xs
            return total, squares[xs[-1]], label, (lambda y=tail: len(y))(), (n := len(xs))
    """)
    assert module.Child(3).doubled == 6
    assert module.Child(1).cached() == 4
    assert module.matcher({"kind": "pair", "items": [1, 2]}) == 3
    assert module.matcher(module.Child(2)) == 4
    assert module.matcher(7) is None
    assert module.many([1, 2, 3]) == (10, 9, "3 items, last 3", 2, 3)
    assert len(watch.sites) > 10


def test_student_imports_are_watched_too(tmp_path):
    (tmp_path / "helper.py").write_text("import numpy as np\ndef square(n):\n    return np.ones((n, n))\n")
    module, watch = watched_module(tmp_path, """
        def run():
            import helper
            return helper.square(3).sum()
    """, name="main_file")
    hook = watch.import_hook()
    sys.modules.pop("helper", None)
    with hook.installed():
        result, seen = collect(watch, module.run)
    sys.modules.pop("helper", None)
    assert result == 9.0
    assert any(s.file == "helper.py" and s.line == 3 and s.function == "square" for s, _ in seen)


# -- tracemalloc peak --------------------------------------------------------------
def test_peak_counts_numpy_buffers_and_not_views(tmp_path):
    x = np.zeros(1000)

    def dense():
        return np.ones((500, 1000)).sum()

    def view():
        return as_strided(x, shape=(500, 1000), strides=(0, 8)).shape

    assert memory.measure_peak(dense, tmp_path).peak_bytes >= 500 * 1000 * 8
    assert memory.measure_peak(view, tmp_path).peak_bytes < 50_000


def test_peak_locates_the_student_line(tmp_path):
    path = tmp_path / "student.py"
    path.write_text("import numpy as np\ndef f(n):\n    small = np.ones(n)\n    big = np.ones((n, n))\n    return big.sum() + small.sum()\n")
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    result = memory.measure_peak(lambda: namespace["f"](400), tmp_path, locate=True)
    assert result.value == 400 * 400 + 400
    assert result.site is not None and (result.site.file, result.site.line) == ("student.py", 4)
    assert result.site_bytes >= 0.9 * 400 * 400 * 8
    assert "student.py:4 in f: `big = np.ones((n, n))`" == result.site.describe()


def test_peak_reports_errors_and_a_stopped_tracemalloc(tmp_path):
    import tracemalloc

    failed = memory.measure_peak(lambda: 1 / 0, tmp_path)
    assert isinstance(failed.error, ZeroDivisionError)
    stopped = memory.measure_peak(tracemalloc.stop, tmp_path)
    assert stopped.stopped and stopped.peak_bytes == 0


# -- the process from outside --------------------------------------------------------
def test_process_peak_reset_and_cap():
    code = (
        "import sys, numpy as np\n"
        "for line in sys.stdin:\n"
        "    try:\n"
        "        a = np.ones(int(line)); a = None; print('ok', flush=True)\n"
        "    except MemoryError:\n"
        "        print('memory', flush=True)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        child.stdin.write("10\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "ok"
        before = process.read(child.pid)
        assert before.rss > 0 and before.peak_rss >= before.rss and before.address_space > before.rss
        assert process.reset_peak(child.pid)
        child.stdin.write(f"{8_000_000}\n")  # 64 MB, touched
        child.stdin.flush()
        assert child.stdout.readline().strip() == "ok"
        after = process.read(child.pid)
        assert after.peak_rss - before.rss >= 50 << 20  # the 64 MB came and went: the peak kept it
        limit = process.cap_address_space(child.pid, after.address_space + (16 << 20))
        assert limit == after.address_space + (16 << 20)
        child.stdin.write(f"{8_000_000}\n")  # 64 MB no longer fits under the cap
        child.stdin.flush()
        assert child.stdout.readline().strip() == "memory"
    finally:
        child.kill()
        child.wait()
    with pytest.raises(ProcessLookupError):
        process.read(child.pid)


# -- rubric: plugin tables with options -------------------------------------------------
def _rubric(tmp_path: Path, plugins: str) -> Path:
    (tmp_path / "suite.py").write_text("def test_a(student):\n    pass\n")
    (tmp_path / "plugin.py").write_text("def register(registry, **options):\n    pass\n")
    path = tmp_path / "r.toml"
    path.write_text(
        '[assignment]\nid = "a"\n\n[[problems]]\nid = "p"\nfiles = ["f.py"]\nsuite = "suite.py"\n'
        f"plugins = {plugins}\n\n  [[problems.items]]\n  id = \"i\"\n  test = \"test_a\"\n  points = 1\n"
    )
    return path


def test_rubric_plugins_take_paths_or_tables_with_options(tmp_path):
    problem = load_rubric(_rubric(tmp_path, '["plugin.py", { path = "plugin.py", options = { n = 2000 } }]')).problems[0]
    assert problem.plugins == (tmp_path / "plugin.py", tmp_path / "plugin.py")
    assert problem.plugin_options == ({}, {"n": 2000})


@pytest.mark.parametrize(
    "plugins, reason",
    [
        ('[{ options = { n = 1 } }]', "each plugin must be a path or a table with 'path'"),
        ('[{ path = "plugin.py", options = 3 }]', "plugin options must be a table"),
        ('[{ path = "plugin.py", extra = 1 }]', "unknown key(s) extra"),
        ('["missing.py"]', "plugin file not found"),
        ('"plugin.py"', "plugins must be a list"),
    ],
)
def test_rubric_plugin_errors_name_the_problem(tmp_path, plugins, reason):
    with pytest.raises(RubricError, match="problem p") as error:
        load_rubric(_rubric(tmp_path, plugins))
    assert reason in str(error.value)


def test_sibling_session_shares_the_budget_and_closes_with_its_parent(tmp_path):
    from grader.sandbox.outside.session import ChildSession, Limits

    (tmp_path / "work").mkdir()
    parent = ChildSession(tmp_path / "work", Limits(wall_seconds=30, memory_bytes=2 << 30), tmp_path / "child")
    assert parent.request({"op": "ping"}) == "pong"
    time.sleep(0.2)
    sibling = parent.sibling("guard", memory_bytes=1 << 30)
    assert sibling.request({"op": "ping"}) == "pong"
    assert abs(sibling.remaining() - parent.remaining()) < 0.05 and parent.remaining() < 29.9
    assert sibling.pid is not None and sibling.pid != parent.pid
    assert sibling.limits.memory_bytes == 1 << 30 and (tmp_path / "guard").is_dir()
    pid = sibling.pid
    parent.close()
    assert sibling.pid is None
    with pytest.raises(ProcessLookupError):
        process.read(pid)
