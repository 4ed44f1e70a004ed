"""Problem 5's ban on dense matrices: every case of the issue, with its asserted verdict.

Each case is a complete ``conv1D.py`` in ``tests/dense_cases/`` or, when it is
also a sample student, in ``submissions/<case>/`` (``NOT_DENSE`` must never be
flagged, ``DENSE`` must be). The guards run as the suite runs them
(``rubrics/hw1/dense_ban.py`` in this process, the plugin in a child), without
the judge around them, so each guard's own verdict can be asserted.
"""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path

import numpy as np

import pytest

from grader.content import load_content_module
from grader.sandbox.outside.session import ChildSession, Limits

ROOT = Path(__file__).resolve().parents[1]
CASES = Path(__file__).with_name("dense_cases")
#: Cases that are also sample students are read from there, not copied.
SUBMISSIONS = ROOT / "submissions"
PLUGIN = str(ROOT / "rubrics" / "hw1" / "p5_dense_plugin.py")

dense_ban = load_content_module(ROOT / "rubrics" / "hw1" / "dense_ban.py")
#: The sizes the suite's correctness checks use, where its shape guard also looks.
CHECKED_SIZES = load_content_module(ROOT / "rubrics" / "hw1" / "test_p5.py").CHECKED_SIZES

#: Must be judged NOT dense (the issue's list), with what each one is.
NOT_DENSE = {
    "ok_listcomp": "a list comprehension (the handout's hint), with the starter's top-level circulant check kept",
    "ok_np_correlate": "np.correlate / np.convolve",
    "ok_scipy_signal": "scipy.signal.correlate / convolve",
    "ok_sliding_window": "sliding_window_view(x, r) @ k: shape (n-r+1, r) is fine",
    "ok_python_loops": "explicit Python loops into a 1-D output",
    "ok_fft": "FFT-based",
    "ok_vectorize": "np.vectorize over output indices with O(n) zero padding",
    "ok_sparse": "a scipy.sparse banded matrix, never densified (allowed by default)",
    "ok_main_circulant": "a __main__ block that builds scipy.linalg.circulant at n=4000 to compare",
    "ok_dense_row": "one zero-padded dense row rebuilt per output: O(n²) time, O(n) memory",
    "whole_row_walk_n2": "a Python double loop over the whole row per output: O(n²) time, O(1) extra memory",
    "ok_toplevel_alias": "top-level script code builds the dense matrix at n=4000; the alias at the end is kept with the definitions",
    "ok_shift_add": "a sum of r shifted slices k_j·x[j:j+m]: 2-D temporaries never appear",
    "ok_fixed_blocks": "overlap-save with a fixed 8×(8+r−1) block built in the constructor: as large as a small matrix",
    "ok_fixed_blocks_sliced": "a fixed 16×(16+r−1) block from the constructor, its last use sliced to the outputs left",
    "ok_blocks_on_the_fly": "overlap-save with a fixed 8×(8+r−1) block built in each product",
    "ok_blocks_from_64_outputs": "a fixed block from the constructor, used from 64 outputs on (a loop below)",
    "ok_big_fixed_workspace": "a 16 MiB zero-padded workspace from the constructor, the same at every n",
    "ok_fft_workspace": "a preallocated (2, 4096) FFT workspace: more entries than the matrix at small n",
    "ok_python_dict_of_nonzeros": "a dict {(i, i+j): k_j} of the nonzeros: over 512 B per entry of x, but linear",
    "ok_big_lazy_class_workspace": "a 128 MiB buffer on the class, made on first use: beyond the process guard's cap at every n",
}

#: Not dense, with a workspace larger than the process guard's cap, the same at every n.
BEYOND_THE_CAP = {"ok_big_lazy_class_workspace"}

#: Must be judged dense: the guards that must say so, and a marker on the line that builds it.
DENSE = {
    "dense_circulant": ({"shape", "memory", "process"}, "circulant(np.concatenate"),
    "dense_toeplitz": ({"shape", "memory", "process"}, "toeplitz(first_col"),
    "dense_zeros_rows": ({"shape", "memory", "process"}, "A = np.zeros((m, n))"),
    "dense_list_rows": ({"shape", "memory", "process"}, "np.array(rows)"),
    "dense_cached_on_self": ({"shape", "memory", "process"}, "self.__dense = np.zeros"),
    "dense_eye_sum": ({"shape", "memory", "process"}, "np.eye(m, n, j)"),
    "dense_where_index": ({"shape", "memory", "process"}, "offset = j - i"),
    "dense_sparse_toarray": ({"shape", "memory", "process"}, ".toarray()"),
    # A zero-copy view uses no memory: only the shape guard can see it.
    "dense_strided_view": ({"shape"}, "as_strided(line"),
    "dense_transpose_only": ({"shape", "memory", "process"}, "AT = np.zeros((n, m))"),
    "dense_float32": ({"shape", "memory", "process"}, "dtype=np.float32"),
    "dense_bool_mask": ({"shape", "memory", "process"}, "band = (cols >= rows)"),
    # Stops tracemalloc: the memory guard cannot measure; the process guard still sees it.
    "dense_hides_tracemalloc": ({"shape", "process"}, "A = np.zeros((n - r + 1, n))"),
    # Dense only at the sizes a correctness test uses (n <= 64, or n < 1000): the memory and
    # process guards run at large n and see nothing; the shape guard checks every size.
    "dense_small_n_only": ({"shape"}, "A = np.zeros((n - r + 1, n))"),
    "dense_below_1000": ({"shape"}, "AT = np.zeros((n, y.size))"),
    # Dense only for r <= 4: the guards' r is 5, but the correctness checks' sizes have r = 1 to 4.
    "dense_small_filters": ({"shape"}, "M = np.zeros((n - r + 1, n))"),
    # Cached in a module-level dict by n: each guard loads the modules afresh, so each sees it built.
    "dense_module_cache": ({"shape", "memory", "process"}, "_CACHE[key] = np.vstack(rows)"),
    # Only for short signals (n < 8r): the (n, n) circulant before slicing, found by its exact shape.
    "dense_fullcirc_when_short": ({"shape"}, "C = circulant(np.concatenate((np.flip(k), np.zeros(n - r))))   # (n, n)"),
    # Only for n <= 64, the matrix kept row-major in a 1-D array, or as a list of 1-D rows.
    "dense_flat1d_small": ({"shape"}, "flat = np.zeros(m * n)                    # the matrix, row-major, 1-D"),
    "dense_rows_list_small": ({"shape"}, "rows = [np.concatenate((np.zeros(i), k, np.zeros(n - r - i))) for i in range(m)]"),
    # Dense only for integer vectors, which the correctness checks use and the guards' large n does not.
    "dense_integer_inputs_only": ({"shape"}, "A = np.zeros((m, n))"),
    # Built in the constructor, which has no x, for a size the code reads elsewhere; used only where
    # it fits. A fixed block of the same shape at one n (ok_fixed_blocks) is used at every n.
    "dense_init_global_n": ({"shape"}, "self.A = np.zeros((n - r + 1, n))"),
    "dense_init_default_n": ({"shape"}, "self.mat = np.array(["),
    "dense_init_template_slice": ({"shape"}, "return self.M[:n - r + 1, :n] @ x"),
    # The filter kept as a view of the matrix's first row: the spoiled zeros show the matrix unused.
    "dense_init_filter_is_a_row_view": ({"shape"}, "self.A = np.zeros((m, N))"),
    # A (1, m, n) array, only for n <= 40: the matrix with a length-1 axis in front.
    "dense_3d_small": ({"shape"}, "A3 = np.zeros((1, m, n))"),
    # Matrix-free for an operator's first two products, then the matrix, cached (as for a GD loop).
    # The guards at large n make one product per operator; the shape check at small n makes six.
    "dense_from_the_third_product": ({"shape"}, "self.M = np.zeros((n - r + 1, n))"),
    # The matrix's rows in a dict by index (n <= 500), or in a 1-D object array, as a list would be.
    "dense_dict_rows_small": ({"shape"}, "R = self.rows(n)"),
    "dense_object_array_rows": ({"shape", "memory", "process"}, "return np.array([row @ x for row in self.rows(x.size)])"),
}

#: Switch off the shape guard's hook (and build the matrix below n = 1000, where only it looks):
#: no guard may call them clean.
TAMPERED = {
    "tamper_disarms_the_watch": "builtins.__grader_expr_watch__ was replaced",
    "tamper_shadows_the_watch": "defines its own __grader_expr_watch__",
}

#: Dense where it runs, and raising at every size the work is counted at: the matrix seen at the
#: checked sizes is the verdict, with the line that builds it.
DENSE_THEN_RAISES = {
    "dense_only_n20_raises_elsewhere": "[self.__r - 1:, :]",
}

#: Built by Convolution1d(k) before any x: the verdict says why it is not a fixed block.
BUILT_EARLY = {"dense_init_global_n", "dense_init_default_n", "dense_init_template_slice",
               "dense_init_filter_is_a_row_view"}

#: Dense only below the guards' large n: the shape guard must find it at a small one.
SIZE_GATED = {"dense_small_n_only", "dense_below_1000", "dense_small_filters", "dense_integer_inputs_only",
              "dense_fullcirc_when_short", "dense_flat1d_small", "dense_rows_list_small", "dense_3d_small",
              "dense_from_the_third_product", "dense_dict_rows_small", *BUILT_EARLY}


def case_source(case: str) -> Path:
    """A case's file: ``tests/dense_cases/<case>.py``, or a sample student's ``conv1D.py``."""
    path = CASES / f"{case}.py"
    return path if path.exists() else SUBMISSIONS / case / "conv1D.py"


def guards(case: str, tmp_path: Path, options: dict | None = None, integer: bool = False, source: str | None = None):
    """Runs every guard on ``tests/dense_cases/<case>.py`` (or ``source``) as a student's conv1D.py."""
    work = tmp_path / "work"
    work.mkdir(parents=True)
    text = source if source is not None else case_source(case).read_text(encoding="utf-8")
    (work / "conv1D.py").write_text(text, encoding="utf-8")
    session = ChildSession(
        workdir=work,
        limits=Limits(wall_seconds=120, memory_bytes=2 << 30),
        scratch=tmp_path / "child",
        plugins=[(PLUGIN, options or {})],
    )
    try:
        return dense_ban.run_guards(session, "conv1D.py", integer=integer, shape_cases=CHECKED_SIZES)
    finally:
        session.close()


@pytest.fixture(scope="module")
def guards_once(tmp_path_factory):
    """``guards_once(case)``: the guards' report on a case with the default options, run once per module.

    The guards are deterministic (no decision reads the clock, which
    ``test_verdicts_and_sizes_are_the_same_on_every_run`` checks with a second, fresh run), so
    tests that only read a default report share one run per case. Being module-scoped, this
    fixture also keeps the module's tests on one xdist worker (tests/conftest.py), so no case
    runs once per worker.
    """
    reports = {}

    def report(case: str):
        if case not in reports:
            reports[case] = guards(case, tmp_path_factory.mktemp(case))
        return reports[case]

    return report


def line_of(case: str, marker: str) -> int:
    lines = case_source(case).read_text(encoding="utf-8").splitlines()
    return next(i for i, text in enumerate(lines, start=1) if marker in text)


def test_every_case_file_is_judged():
    cases = {p.stem for p in CASES.glob("*.py")} | {
        p.name for p in SUBMISSIONS.iterdir() if p.name.startswith("dense_") or p.name == "whole_row_walk_n2"
    }
    assert sorted(cases) == sorted([*NOT_DENSE, *DENSE, *TAMPERED, *DENSE_THEN_RAISES])
    assert all(case_source(case).exists() for case in [*NOT_DENSE, *DENSE, *TAMPERED, *DENSE_THEN_RAISES])


@pytest.mark.parametrize("case", sorted(DENSE_THEN_RAISES))
def test_a_matrix_seen_before_the_operator_raised_is_the_verdict(case, guards_once):
    # The handout's circulant(...)[r-1:, :] for n = 20, in the constructor; every other n raises.
    # Before: "No dense matrix was seen", and the shape check's finding at (20, 3) was dropped.
    report = guards_once(case)
    assert report.dense and report.verdicts["shape"].status == "dense", report.ban_feedback()
    assert f"conv1D.py:{line_of(case, DENSE_THEN_RAISES[case])}" in report.verdicts["shape"].message
    assert report.products_status == "error", report.products


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_code_that_switches_off_the_watch_gets_an_error_and_a_flag_never_clean(case, guards_once):
    # Before: all three guards clean, and "no array of 996×1000 … appeared (69 expressions watched)".
    report = guards_once(case)
    assert {v.status for v in report.verdicts.values()} == {"error"}, report.verdicts
    assert report.products_status == "tampered" and TAMPERED[case] in report.products, report.products
    assert any("disarmed the shape guard" in f for f in report.flags), report.flags


@pytest.mark.parametrize("case", sorted(NOT_DENSE))
def test_not_dense(case, guards_once):
    report = guards_once(case)
    statuses = {name: v.status for name, v in report.verdicts.items()}
    # A fixed workspace beyond the process guard's cap cannot be measured under it: an error for
    # that guard (no points hang on it), never "dense". Before: "Dense matrix found", 0 / 8.
    process = "error" if case in BEYOND_THE_CAP else "clean"
    assert statuses == {"shape": "clean", "memory": "clean", "process": process}, report.ban_feedback()
    assert not report.dense
    assert report.products_status == "ok", report.products
    assert report.notes == [], report.notes  # and the products are right at the guard sizes
    # A pass states what was measured.
    feedback = report.ban_feedback()
    assert re.search(r"Memory guard: peak \d+ KiB|Memory guard: .* grows ×[12]\.\d+ when n doubles", feedback), feedback
    if case in BEYOND_THE_CAP:
        assert "on the same allocation, an array of shape (16777216,): its size does not depend on n" in feedback
    else:
        assert "Process guard: resident memory grew by" in feedback


@pytest.mark.parametrize("case", sorted(DENSE))
def test_dense(case, guards_once):
    must, marker = DENSE[case]
    report = guards_once(case)
    statuses = {name: v.status for name, v in report.verdicts.items()}
    assert report.dense, report.ban_feedback()
    assert {name for name, status in statuses.items() if status == "dense"} >= must, statuses
    if case == "dense_strided_view":
        assert statuses["memory"] == statuses["process"] == "clean", report.ban_feedback()
    assert report.products_status == "ok", report.products

    # The shape guard names the function, file:line, shape, and the step the grader was running.
    shape = report.verdicts["shape"].message
    first = shape.splitlines()[1]
    assert f"conv1D.py:{line_of(case, marker)}" in first, shape
    if case in BUILT_EARLY:
        first, early = first.split(" Convolution1d(k) made ")
        assert re.search(r"before any x existed, and at n=\d+ and n=1000, where no matrix fits in one, your products "
                         r"do not use it as a matrix", early), early
    elif case in SIZE_GATED and " At n=" in first:
        # Made at this size only: the check that tells a fixed-size block from the matrix says so.
        first, block = first.split(" At n=", 1)
        assert re.search(r"where no matrix fits in an array of this shape, your products use none as a matrix", block), block
    if DENSE[case][1].startswith(("flat = ", "rows = ")):
        assert "at least half as many entries" not in first, first  # named by what it is, not its size
    if case in SIZE_GATED:
        # Found at a smaller n, which the line names (with r when it is not 5), in that size's banned shape.
        found = re.search(r" at n=(\d+)(?:, r=(\d+))?(?: with integer vectors)?\.$", first)
        at, r = int(found.group(1)), int(found.group(2) or 5)
        shapes = {f"{at - r + 1}×{at} ", f"{at}×{at - r + 1} ", f"{at}×{at} ", f"{at + r - 1}×{at} ", f"{at}×{at + r - 1} ",
                  f"{(at - r + 1) * at}-entry ", f"{at * at}-entry "}
        assert at < 1000 and any(shape in first for shape in shapes), first
        assert "At n=1000 your code builds no such array" in shape, shape
        assert {name for name, status in statuses.items() if status == "dense"} == {"shape"}, statuses
    else:
        assert re.search(r"(996×1000|1000×996|1000×1000) (float64|float32|bool|int64|object) array", first), first
    computed = "while the grader computed " + ("" if case in BUILT_EARLY else "A")
    assert re.search(r" in \w+(\.\w+)*: `", first) and computed in first, first
    # The item's feedback ends with the rule.
    assert report.ban_feedback().rstrip().endswith(dense_ban.RULE)


@pytest.mark.parametrize("case", ["ok_fixed_blocks", "ok_fixed_blocks_sliced", "ok_blocks_on_the_fly",
                                  "ok_blocks_from_64_outputs"])
def test_a_fixed_block_of_a_banned_shape_is_named_as_allowed(case, guards_once):
    # Its shape is banned at one small n; the clean text must not hide that, and says why it passes.
    shape = guards_once(case).verdicts["shape"].message
    assert re.search(r"Also, the \d+×\d+ array (Convolution1d\(k\) makes|your products make) at conv1D\.py:\d+ .* banned shape at "
                     r"n=\d+, r=\d+, and is allowed as a fixed block: your products use it at n=\d+ too", shape), shape


_CACHED_BLOCKS = """

_blocks = {}
_plain_block = block_toeplitz


def block_toeplitz(k, B):
    key = (tuple(k), B)
    if key not in _blocks:
        _blocks[key] = _plain_block(k, B)
    return _blocks[key]
"""


@pytest.mark.parametrize("case, used", [("ok_fixed_blocks", True), ("dense_init_global_n", False)])
def test_the_fixed_block_test_sees_use_and_restores_what_it_spoils(case, used, tmp_path):
    # In this process, on the plugin's own pieces: the block is cached at module level, so a
    # spoiled entry left behind would change every later product.
    plugin = load_content_module(Path(PLUGIN))
    source = case_source(case).read_text(encoding="utf-8") + (_CACHED_BLOCKS if used else "")
    (tmp_path / "conv1D.py").write_text(source, encoding="utf-8")
    watch = plugin.ExpressionWatch(tmp_path)
    watch.install()
    module = plugin.loader.load(tmp_path / "conv1D.py", "conv1D", [], tmp_path, [watch.transform], "auto").module
    r = 5 if used else 3
    products = plugin._Products(module, 12 if used else 20, r, 0)
    built = plugin._Built()
    with watch.armed(lambda value, site: None if products.knows_n or not isinstance(value, np.ndarray)
                     else built.add(value, site)):
        before = products()
    array, = {id(a): a for a in built.shaped((products.n - r + 1, products.n))}.values()
    kept = array.copy()
    test = plugin._fixed_block_test(watch, module, r, array.shape, 0, 1000)
    # The smallest n whose matrix has more than twice the array's entries: 13·17 > 2·8·12, 26·28 > 2·18·20.
    small = 17 if used else 28
    assert test == {"n": small, "sizes": [small, 1000], "used": used, "error": None}
    assert np.array_equal(array, kept)
    assert all(np.array_equal(a, b) for a, b in zip(products(), before))


@pytest.mark.parametrize("case", ["dense_zeros_rows", "dense_cached_on_self", "dense_transpose_only", "dense_module_cache"])
def test_memory_guard_names_the_peak_and_the_line(case, guards_once):
    report = guards_once(case)
    memory = report.verdicts["memory"].message
    n = int(re.search(r"at n=(\d+), r=5", memory).group(1))
    peak = float(re.search(r"allocated ([\d.]+) MiB at peak", memory).group(1))
    dense_mib = (n - 4) * n * 8 / (1 << 20)
    assert peak >= 0.99 * dense_mib, memory
    assert f"conv1D.py:{line_of(case, DENSE[case][1])}" in memory, memory
    assert "the bound is" in memory


def test_process_guard_reports_the_cap_as_a_violation(guards_once):
    # float64 at n=4000 is 122 MiB, above the 96 MiB headroom: a MemoryError at the cap, reported as the ban.
    report = guards_once("dense_zeros_rows")
    process = report.verdicts["process"]
    assert process.status == "dense"
    assert "hit the address-space cap" in process.message and "(3996, 4000)" in process.message, process.message


def test_process_guard_sees_resident_growth_below_the_cap(guards_once):
    # The bool mask (16 MiB and its temporaries) fits under the cap: the resident peak shows it.
    report = guards_once("dense_bool_mask")
    assert re.search(r"resident memory grew by [\d.]+ MiB", report.verdicts["process"].message)


def test_stopping_tracemalloc_is_flagged_and_caught_by_the_process_guard(guards_once):
    report = guards_once("dense_hides_tracemalloc")
    assert report.verdicts["memory"].status == "error"
    assert "stopped tracemalloc" in report.verdicts["memory"].message
    assert any("tracemalloc" in flag for flag in report.flags)
    assert report.verdicts["process"].status == "dense"


@pytest.mark.parametrize("case", ["ok_listcomp", "ok_python_loops"])
def test_integer_input_vectors_are_not_dense(case, tmp_path):
    report = guards(case, tmp_path, integer=True)
    assert {v.status for v in report.verdicts.values()} == {"clean"}, report.ban_feedback()
    assert report.products_status == "ok" and report.notes == []


def test_integer_input_vectors_still_catch_a_dense_matrix(tmp_path):
    assert guards("dense_zeros_rows", tmp_path, integer=True).dense


def test_a_constructor_that_needs_n_is_named_as_what_the_grader_computed(tmp_path):
    # Convolution1d(k, n) raising: the feedback said "computing Convolution1d(k)", a call
    # the student's code never saw, since Convolution1d(k) alone had failed for want of n.
    source = (
        "import numpy as np\n\n\nclass Convolution1d:\n    def __init__(self, filt, n):\n"
        "        if n > 100:\n            raise ValueError('n too large')\n        self.filt, self.n = filt, n\n\n"
        "    def __matmul__(self, x):\n        return np.correlate(x, self.filt, mode='valid')\n"
    )
    report = guards("", tmp_path, source=source)
    messages = " ".join(v.message for v in report.verdicts.values())
    assert "computing Convolution1d(k, n)" in messages, messages
    assert "conv1D.py:7" in messages, messages


def test_sparse_is_allowed_by_default_and_forbidden_by_the_rubric_switch(tmp_path, guards_once):
    allowed = guards_once("ok_sparse")
    assert not allowed.dense
    forbidden = guards("ok_sparse", tmp_path / "b", options={"forbid_sparse": True})
    assert forbidden.verdicts["shape"].status == "dense"
    assert "scipy.sparse matrix" in forbidden.verdicts["shape"].message
    assert "also forbids a scipy.sparse matrix" in forbidden.verdicts["shape"].message


def test_growth_tells_n_r_from_n_squared(guards_once):
    linear = guards_once("ok_listcomp").growth
    assert linear.status == "linear", linear.message()
    quadratic = guards_once("whole_row_walk_n2")
    assert quadratic.growth.status == "quadratic", quadratic.growth.message()
    assert "grows like n²" in quadratic.growth.message()


def test_slow_code_gets_smaller_guard_sizes_and_does_not_time_out(guards_once):
    # O(n²) Python: 16M inner iterations per product at n=4000, and ~30× slower under tracemalloc.
    report = guards_once("whole_row_walk_n2")
    assert not report.dense and report.products_status == "ok"
    memory = report.verdicts["memory"].message
    assert int(re.search(r"at n=(\d+)", memory).group(1)) < report.n or report.n < 4000, memory


def test_unknown_plugin_option_is_refused(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "conv1D.py").write_text("x = 1\n", encoding="utf-8")
    session = ChildSession(work, Limits(wall_seconds=30, memory_bytes=2 << 30), tmp_path / "child",
                           plugins=[(PLUGIN, {"forbid_sparce": True})])
    try:
        with pytest.raises(Exception, match="unknown option"):
            session.request({"op": "ping"})
    finally:
        session.close()


# -- pure decisions ----------------------------------------------------------------
def test_a_peak_over_the_bound_that_doubles_with_n_is_linear_and_one_that_quadruples_is_not():
    assert dense_ban.grows_linearly(4_600_000, 2_300_000, 3.0)
    assert not dense_ban.grows_linearly(128_000_000, 32_500_000, 3.0)
    assert not dense_ban.grows_linearly(1_000_000, 0, 3.0)  # nothing at n/2: no evidence of growth


def test_fit_slope_uses_the_median_of_the_last_doublings():
    # Counted work: a start-up cost flattens the smallest sizes; the median of the last three doublings decides.
    linear = [(125, 50_000), (250, 52_000), (500, 56_000), (1000, 64_000), (2000, 80_000), (4000, 100_000)]
    assert dense_ban.fit_slope(linear) == pytest.approx(math.log2(80 / 64))
    # ... unless the last doubling, between the largest sizes, is steeper: code that turns
    # quadratic only at n = 4000 (found by a blind probe: 'grows like n·r' with a 1300× jump).
    switches = [(500, 5000), (1000, 10_000), (2000, 20_000), (4000, 16_000_000)]
    assert dense_ban.fit_slope(switches) == pytest.approx(math.log2(800))
    # One odd, cheaper last size does not decide.
    assert dense_ban.fit_slope([(500, 5000), (1000, 10_000), (2000, 20_000), (4000, 20_000)]) == pytest.approx(1.0)
    exact = [(125, 1250), (250, 2500), (500, 5000), (1000, 10_000)]
    assert dense_ban.fit_slope(exact) == pytest.approx(1.0)
    quadratic = [(500, 250_000), (1000, 1_000_000), (2000, 4_000_000), (4000, 16_000_000)]
    assert dense_ban.fit_slope(quadratic) == pytest.approx(2.0)
    assert dense_ban.fit_slope([(500, 1000)]) is None  # one size: no slope


def test_choose_size_falls_back_for_costly_code():
    config = {"n": 4000, "n_min": 1000, "guard_max_calls": 1_000_000}
    cheap = [(1000, 20_000, 25_000), (2000, 40_000, 50_000), (4000, 80_000, 100_000)]
    assert dense_ban.choose_size(cheap, config) == 4000
    # Counted up to 1000 only: 2000 is predicted at 4× (quadratic), 4000 at 16×.
    quadratic = [(250, 15_625, 15_625), (500, 62_500, 62_500), (1000, 250_000, 250_000)]
    assert dense_ban.choose_size(quadratic, config) == 2000
    assert dense_ban.choose_size([(500, 600_000, 600_000)], config) == 1000  # never below n_min
    assert dense_ban.choose_size([], config) == 1000


def test_work_count_counts_what_expressions_compute_not_what_they_read():
    from types import SimpleNamespace

    plugin = load_content_module(ROOT / "rubrics" / "hw1" / "p5_dense_plugin.py")
    kinds = ["BinOp", "Subscript", "Call", "BinOp", "BinOp", "Attribute", "Subscript", "Subscript"]
    count = plugin.WorkCount([SimpleNamespace(kind=k) for k in kinds])
    x = np.arange(100.0)
    big = np.zeros((50, 50))
    values = [
        x * 2,  # computed: 100
        x[3:90],  # a 1-D slice: 1
        np.lib.stride_tricks.as_strided(x, (10, 10), (8, 8)),  # a 2-D view a call made: 100
        [0.0] * 7,  # a list: 7
        1.5,  # a scalar: 1
        big,  # `self.A`, an attribute read of an existing matrix: 1
        big[1:, :],  # a 2-D slice of it: 1
        x[[1, 2, 3]],  # fancy indexing copies: 3
    ]
    for site, value in enumerate(values):
        count(value, site)
    count(x + 1, 99)  # a site registered after the count started counts as a computation: 100
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # np.matrix's own
        matrix = np.asmatrix(np.ones((6, 5))) * 2
    count(matrix, 98)  # an ndarray subclass (np.matrix, from .todense()): 30
    assert (count.calls, count.elements) == (10, 100 + 1 + 100 + 7 + 1 + 1 + 1 + 3 + 100 + 30)


@pytest.mark.parametrize("case", ["ok_listcomp", "whole_row_walk_n2", "dense_transpose_only"])
def test_verdicts_and_sizes_are_the_same_on_every_run(case, tmp_path, guards_once):
    """No decision reads the clock: two runs give the same sizes, counts and verdicts."""
    # The first may be another test's run of the case; the second is always a fresh one.
    first, second = guards_once(case), guards(case, tmp_path / "b")
    for report in (first, second):
        assert report.growth.points and report.growth.slope is not None
    assert first.growth.points == second.growth.points
    assert (first.n, first.growth.status) == (second.n, second.growth.status)
    assert {k: v.status for k, v in first.verdicts.items()} == {k: v.status for k, v in second.verdicts.items()}


def test_choose_size_also_bounds_the_numpy_work():
    config = {"n": 4000, "n_min": 1000, "guard_max_calls": 1_000_000, "guard_max_elements": 100_000_000}
    # Few Python steps but n³ elements (an n×n temporary per output): 4000 would be 6.4·10¹⁰.
    cubic = [(250, 1_000, 15_625_000), (500, 2_000, 125_000_000)]
    assert dense_ban.choose_size(cubic, config) == 1000


def test_article_before_a_number_follows_how_it_is_read():
    assert [dense_ban._article(s) for s in ["8", "12", "11", "18", "80", "996", "1100", "11000", "18000", "1000"]] == [
        "an", "a", "an", "an", "an", "a", "a", "an", "an", "a"]


def test_locate_size_keeps_the_line_tracer_to_affordable_work():
    work = [(125, 5_000, 1), (250, 20_000, 1), (500, 80_000, 1), (1000, 320_000, 1)]
    assert dense_ban.locate_size(work, 1000, 100_000) == 500
    assert dense_ban.locate_size(work, 4000, 10_000_000) == 1000
    assert dense_ban.locate_size([(125, 500_000, 1)], 1000, 100_000) == 125
    assert dense_ban.locate_size([], 1000, 100_000) == 1000
