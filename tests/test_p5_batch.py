"""Problem 5's one request per case gives exactly the verdicts of one request per product.

``p5_products_plugin.py`` answers each correctness case (and the handout's GD
loop) in one request, replaying the calls the suite's proxies made. Without
the plugin every case runs through the proxies (the op is unknown), which is
how the suite graded before: so each odd student here is graded both ways
and every outcome (status, credit, message) must be the same.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import pytest

from grader.judge import Job, job_to_json
from grader.judge_pool import JudgePool
from grader.rubric import load_rubric

ROOT = Path(__file__).resolve().parents[1]
CORRECTNESS = ["test_forward_matches_dense", "test_transpose_matches_dense", "test_output_shapes",
               "test_adjoint_identity", "test_handout_gd_objective"]

# A right A.T, for the students below whose oddity is elsewhere.
TRANSPOSED = '''

class Transposed:
    def __init__(self, k):
        self.k = k

    def __matmul__(self, y):
        return np.convolve(np.asarray(y, dtype=float), self.k, "full")
'''

# One student, a different oddity per size: None, an exception, a list, a reused buffer, an object
# that is no array, an argument changed in place, a float32 product, a constructor that needs n or
# refuses r = 2, and A.T as plain data (the suite multiplies it itself).
GALLERY = '''
import numpy as np


class Opaque:
    pass


class Convolution1d:
    BUFFER = np.zeros(64)  # shared by every product (a class attribute: definitions-only loading keeps it)

    def __init__(self, k, n=None):
        if len(k) == 7 and n is None:
            raise TypeError("__init__() missing 1 required positional argument: 'n'")
        if len(k) == 2:
            raise ValueError("filters of length 2 are not supported")
        self.k = np.asarray(k, dtype=float)
        self.T = np.zeros((9, 2)) if len(k) == 8 else Transposed(self.k)

    def __matmul__(self, x):
        n = len(x)
        out = np.correlate(np.asarray(x, dtype=float), self.k, "valid")
        if n == 10:
            return None
        if n == 5:
            raise RuntimeError("boom at n=5")
        if n == 6:
            return [float(v) for v in out]
        if n == 50:
            Convolution1d.BUFFER[: len(out)] = out
            return Convolution1d.BUFFER[: len(out)]
        if n == 13:
            return Opaque()
        if n == 31:
            x *= 0
        return out


class Transposed:
    def __init__(self, k):
        self.k = k

    def __matmul__(self, y):
        out = np.convolve(np.asarray(y, dtype=float), self.k, "full")
        if len(out) == 50:
            Convolution1d.BUFFER[: len(out)] = out
            return Convolution1d.BUFFER[: len(out)]
        if len(out) == 15:
            return out.astype(np.float32)
        return out
'''

# Right, but its first product patches np.abs in the child (which the loop's huber_grad calls there):
# the child's run of the GD loop no longer matches the judge's replay, so it runs through the proxies.
PATCHES_NUMPY = '''
import numpy as np


class Convolution1d:
    def __init__(self, k):
        self.k = np.asarray(k, dtype=float)
        self.T = Transposed(self.k)

    def __matmul__(self, x):
        if not hasattr(np, "_real_abs"):
            np._real_abs = np.abs
            np.abs = lambda a, *args, **kw: np._real_abs(a, *args, **kw) * 0.5
        return np.correlate(np.asarray(x, dtype=float), self.k, "valid")

''' + TRANSPOSED

# The process ends in the forward product at one size, once per working copy (as the red-team
# attacks do): that case alone is a crash, the next ones run in a restarted process.
EXITS = '''
import os
import numpy as np


class Convolution1d:
    def __init__(self, k):
        self.k = np.asarray(k, dtype=float)
        self.T = Transposed(self.k)

    def __matmul__(self, x):
        if len(x) == 12 and not os.path.exists("crashed"):
            open("crashed", "w").close()
            os._exit(3)
        return np.correlate(np.asarray(x, dtype=float), self.k, "valid")

''' + TRANSPOSED

# Convolution1d is a function returning the dense matrix: the suite multiplies plain data itself.
RETURNS_THE_MATRIX = '''
import numpy as np


def Convolution1d(k, n=None):
    if n is None:
        raise TypeError("Convolution1d() missing 1 required positional argument: 'n'")
    r = len(k)
    A = np.zeros((n - r + 1, n))
    for i in range(n - r + 1):
        A[i, i:i + r] = k
    return A
'''

# A @ x is None and A.T @ y ends the process at n = 20, r = 3: the adjoint test fails on A @ x
# and never asks for A.T @ y, so the crash must not be its verdict.
NONE_THEN_CRASH = '''
import os
import numpy as np


class Convolution1d:
    def __init__(self, k):
        self.k = np.asarray(k, dtype=float)
        self.T = Transposed(self.k)

    def __matmul__(self, x):
        return None


class Transposed:
    def __init__(self, k):
        self.k = k

    def __matmul__(self, y):
        if len(y) == 18:
            os._exit(3)
        return np.convolve(np.asarray(y, dtype=float), self.k, "full")
'''

# Loops forever at r = n (the fifth forward case): the cases before it keep their verdicts.
HANGS_AT_R_EQUALS_N = '''
import numpy as np


class Convolution1d:
    def __init__(self, k):
        self.k = np.asarray(k, dtype=float)
        self.T = Transposed(self.k)

    def __matmul__(self, x):
        while len(x) == len(self.k):
            pass
        return np.correlate(np.asarray(x, dtype=float), self.k, "valid")

''' + TRANSPOSED


# A correct answer with a 64 MiB workspace per operator (np.zeros: address space, no pages yet).
# One operator is what a real run has; the ~40 cases' operators kept alive to the end were
# 2.5 GiB under the problem's 2 GiB limit, and the last cases failed with a MemoryError.
WORKSPACE_PER_OPERATOR = '''
import numpy as np


class Convolution1d:
    def __init__(self, k):
        self.k = np.asarray(k, dtype=float)
        self.work = np.zeros(1 << 23)
        self.T = Transposed(self)

    def __matmul__(self, x):
        x = np.asarray(x, dtype=float)
        m = len(x) - len(self.k) + 1
        out = self.work[:m]
        out[:] = 0.0
        for j, kj in enumerate(self.k):
            out += kj * x[j:j + m]
        return out.copy()


class Transposed:
    def __init__(self, A):
        self.A = A  # a reference cycle: A.T.A is A

    def __matmul__(self, y):
        return np.convolve(np.asarray(y, dtype=float), self.A.k, "full")
'''


# Right values, but A @ x reverses the caller's x in place: the handout's loop then goes on with the
# reversed x. A.T @ y scribbles on its argument too, a temporary the loop never reads again.
MUTATES_ITS_ARGUMENT = '''
import numpy as np


class Convolution1d:
    def __init__(self, k):
        self.k = np.asarray(k, dtype=float)
        self.T = Transposed(self.k)

    def __matmul__(self, x):
        x[:] = x[::-1]
        return np.convolve(x, self.k, "valid")[::-1]


class Transposed:
    def __init__(self, k):
        self.k = k

    def __matmul__(self, y):
        out = np.convolve(y, self.k, "full")
        y[:] = 0.0
        return out
'''

SCRIBBLES_ON_THE_TEMPORARY = MUTATES_ITS_ARGUMENT.replace("        x[:] = x[::-1]\n        return np.convolve(x, self.k, \"valid\")[::-1]",
                                                         "        return np.correlate(x, self.k, \"valid\")")


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    with JudgePool(1, sys.executable, tmp_path_factory.mktemp("workers")) as judges:
        yield judges


def _grade(pool, tmp_path: Path, source: str, batched: bool, wall_seconds: float) -> list[tuple]:
    rubric = load_rubric(ROOT / "rubrics" / "hw1.toml")
    problem = next(p for p in rubric.problems if p.id == "p5")
    plugins = [[str(p), dict(o)] for p, o in zip(problem.plugins, problem.plugin_options)]
    if not batched:
        plugins = [p for p in plugins if not p[0].endswith("p5_products_plugin.py")]
        assert len(plugins) == len(problem.plugins) - 1
    scratch = tmp_path / ("batched" if batched else "proxies")
    work = scratch / "work"
    work.mkdir(parents=True)
    (scratch / "judge").mkdir()
    (work / "conv1D.py").write_text(source)
    job = Job(student_id="s", problem_id="p5", suite=str(problem.suite), tests=CORRECTNESS, workdir=str(work),
              scratch=str(scratch / "judge"), files=["conv1D.py"], wall_seconds=wall_seconds,
              memory_bytes=problem.memory, plugins=plugins)
    run = pool.run(job_to_json(job), scratch / "judge.log", time.monotonic() + wall_seconds + 60)
    assert run.finished and run.returncode == 0, (scratch / "judge.log").read_text()
    outcomes = json.loads(run.raw)["outcomes"]
    return [(o["test"], o["case"], o["status"], o["credit"], o["message"]) for o in outcomes]


#: What only the batched path adds to a message: where the student's __matmul__ is (the child knows it).
_WHERE = re.compile(r" \((?:from|computed by) [^()]*\)")


def _same_both_ways(pool, tmp_path, source, wall_seconds=20.0) -> list[tuple]:
    batched = _grade(pool, tmp_path, source, True, wall_seconds)
    proxies = _grade(pool, tmp_path, source, False, wall_seconds)
    assert [(*o[:4], _WHERE.sub("", o[4])) for o in batched] == proxies
    return batched


def test_odd_products_get_the_verdicts_of_single_requests(pool, tmp_path):
    outcomes = _same_both_ways(pool, tmp_path, GALLERY)
    by_case = {(t, c): (s, m) for t, c, s, _, m in outcomes}
    # The gallery does reach every path (so the comparison above is not vacuous).
    assert by_case[("test_forward_matches_dense", "n=20,r=3-float")][0] == "passed"
    assert "returned None" in by_case[("test_forward_matches_dense", "n=10,r=1-int")][1]
    assert "boom at n=5" in by_case[("test_forward_matches_dense", "n=5,r=5-float")][1]
    assert "conv1D.py:" in by_case[("test_forward_matches_dense", "n=5,r=5-float")][1]
    assert by_case[("test_forward_matches_dense", "n=6,r=5-float")][0] == "passed"  # a list of numbers
    assert "filters of length 2" in by_case[("test_forward_matches_dense", "n=12,r=2-float")][1]
    assert by_case[("test_forward_matches_dense", "n=31,r=7-float")][0] == "passed"  # built with (k, n)
    assert by_case[("test_forward_matches_dense", "n=50,r=4-float")][0] == "passed"  # the buffer, as it was then
    assert by_case[("test_transpose_matches_dense", "n=9,r=8-float")][0] != "passed"  # A.T was a matrix
    assert by_case[("test_adjoint_identity", "")][0] == "failed"  # Opaque at n=13
    # A wrong product names the student's method that returned it.
    assert re.search(r"returned None \(from conv1D\.py:\d+ in Convolution1d\.__matmul__\)",
                     by_case[("test_forward_matches_dense", "n=10,r=1-int")][1])


def test_a_patched_numpy_in_the_child_cannot_change_the_gd_verdict(pool, tmp_path):
    outcomes = _same_both_ways(pool, tmp_path, PATCHES_NUMPY)
    assert [s for t, _, s, _, _ in outcomes if t == "test_handout_gd_objective"] == ["passed"]


def test_a_crash_in_one_case_is_that_case_alone(pool, tmp_path):
    outcomes = _same_both_ways(pool, tmp_path, EXITS)
    statuses = {(t, c): s for t, c, s, _, _ in outcomes}
    assert statuses[("test_forward_matches_dense", "n=12,r=2-float")] == "error"
    assert statuses[("test_forward_matches_dense", "n=12,r=2-int")] == "passed"
    assert statuses[("test_forward_matches_dense", "n=31,r=7-float")] == "passed"


def test_an_operator_that_is_plain_data_is_used_by_the_suite_itself(pool, tmp_path):
    outcomes = _same_both_ways(pool, tmp_path, RETURNS_THE_MATRIX)
    assert {s for t, _, s, _, _ in outcomes} == {"passed"}


def test_a_product_the_test_never_asks_for_is_never_computed(pool, tmp_path):
    outcomes = _same_both_ways(pool, tmp_path, NONE_THEN_CRASH)
    statuses = {(t, c): s for t, c, s, _, _ in outcomes}
    assert statuses[("test_adjoint_identity", "")] == "failed"
    assert statuses[("test_transpose_matches_dense", "n=20,r=3-float")] == "error"


def test_a_product_that_changes_its_argument_x_fails_the_handout_loop(pool, tmp_path):
    # Before: p5-gd 2 / 2 (each product got a copy of x), though the handout's loop, run as written
    # with this A, ends at objective 16.1 where the reference ends at 0.459.
    outcomes = {t: (st, m) for t, _, st, _, m in _grade(pool, tmp_path / "x", MUTATES_ITS_ARGUMENT, True, 30.0)}
    status, message = outcomes["test_handout_gd_objective"]
    assert status == "failed" and "A @ x changes its argument x in place (conv1D.py:10 in Convolution1d.__matmul__)" in message
    assert outcomes["test_forward_matches_dense"][0] == "passed"  # its values are right
    assert SCRIBBLES_ON_THE_TEMPORARY != MUTATES_ITS_ARGUMENT
    outcomes = {t: st for t, _, st, _, _ in _grade(pool, tmp_path / "y", SCRIBBLES_ON_THE_TEMPORARY, True, 30.0)}
    assert outcomes["test_handout_gd_objective"] == "passed"


def test_a_missing_self_T_names_the_constructor(pool, tmp_path):
    # `T = Transposed(...)` without `self.`: the AttributeError comes from no line of the student's.
    source = MUTATES_ITS_ARGUMENT.replace("        self.T = Transposed(self.k)\n", "        T = Transposed(self.k)\n")
    outcomes = {(t, c): m for t, c, _, _, m in _grade(pool, tmp_path, source, True, 30.0)}
    message = outcomes[("test_transpose_matches_dense", "n=20,r=3-float")]
    assert "Your constructor (conv1D.py:6 in Convolution1d.__init__) sets no self.T" in message, message


def test_each_case_lets_go_of_its_operator_once_its_products_answered(pool, tmp_path):
    outcomes = _grade(pool, tmp_path, WORKSPACE_PER_OPERATOR, True, 30.0)
    assert {s for _, _, s, _, _ in outcomes} == {"passed"}, [o for o in outcomes if o[2] != "passed"]


@pytest.mark.slow
def test_a_case_that_hangs_times_out_alone_and_the_cases_before_it_count(pool, tmp_path):
    # The budget only has to outlast the four cases before the hang (loading the module and four
    # small products: well under a second on a loaded machine; it starts with the first child,
    # not with the judge or its zygote); all of it is then spent spinning, twice: 3 s, not more.
    outcomes = _same_both_ways(pool, tmp_path, HANGS_AT_R_EQUALS_N, wall_seconds=3.0)
    forward = [s for t, _, s, _, _ in outcomes if t == "test_forward_matches_dense"]
    assert forward[:4] == ["passed"] * 4 and set(forward[4:]) == {"timeout"}
