"""Problem 5 suite: the matrix-free convolution operator and its transpose.

Runs in the judge. ``student`` reaches the student's ``conv1D.py`` in its own
process; every reference here is built locally from k, so nothing the
student's code does can change what it is compared with.

The correctness checks run at small n. Each case is one request to the child
(``p5_products_plugin.py`` makes there the calls the proxies would have made,
in the same order, and answers what each of their requests would have), and
every answer is judged here as if each product had been its own request; the
handout's GD loop runs in the child in one request and is replayed here. The
proxies remain for what the plugin cannot answer that way. The ban on dense
matrices is then checked by three guards in the same child (``dense_ban.py``
here, ``p5_dense_plugin.py`` in the child): the shape guard at every n it runs,
the memory and process guards at large n.
"""

import math
from pathlib import Path

import numpy as np
import pytest

from grader.content import load_content_module
from grader.sandbox.outside.session import (
    GraderError,
    StudentError,
    StudentFailure,
    StudentTimeout,
)

dense_ban = load_content_module(Path(__file__).with_name("dense_ban.py"))
p5 = load_content_module(Path(__file__).with_name("p5_requests.py"))
Case = p5.Case

# (n, r): the handout size, edge cases r = 1, r = n, n = r + 1, and sizes that
# catch a transpose with r = 3 hard-coded.
SIZES = [(20, 3), (10, 1), (5, 5), (6, 5), (12, 2), (31, 7), (50, 4), (9, 8)]
INPUTS = ["float", "int"]


def dense(k, n):
    """The (n-r+1)×n matrix of the handout, built from k (the judge may build it)."""
    r = len(k)
    A = np.zeros((n - r + 1, n))
    for i in range(n - r + 1):
        A[i, i : i + r] = k
    return A


def vector(kind, size, rng):
    if kind == "int":
        return rng.integers(-9, 10, size=size)
    return rng.standard_normal(size)


def as_vector(value, what, length, where=""):
    """Checks a product's type and length, with a message the student can act on."""
    by = f" (from {where})" if where else ""
    assert value is not None, (
        f"{what} returned None{by}: __matmul__ must return the product "
        "(the starter's `return None` is still there?)"
    )
    array = np.asarray(value)
    assert array.dtype.kind in "biuf", f"{what} returned {type(value).__name__} of dtype {array.dtype}, not numbers{by}"
    assert array.size == length, f"{what} has {array.size} entries; expected {length}{by}"
    return array.reshape(-1)


def compare(got, expected, what, rule, where=""):
    error = np.abs(got - expected)
    scale = max(1.0, float(np.max(np.abs(expected))))
    if np.all(error <= 1e-8 * scale):
        return
    i = int(np.argmax(error))
    computed = f" (computed by {where})" if where else ""
    raise AssertionError(
        f"{what} is wrong at index {i}: got {got[i]:.6g}, expected {expected[i]:.6g} "
        f"({int(np.sum(error > 1e-8 * scale))} of {len(expected)} entries differ){computed}. {rule}"
    )


def forward_spec(n, r, kind):
    rng = np.random.default_rng(1000 * n + r)
    k = rng.standard_normal(r)
    return {"k": k, "n": n, "steps": [["forward", vector(kind, n, rng)]]}


def transpose_spec(n, r, kind):
    rng = np.random.default_rng(2000 * n + r)
    k = rng.standard_normal(r)
    return {"k": k, "n": n, "steps": [["transposed", vector(kind, n - r + 1, rng)]]}


# In pytest's order of the parametrized cases, so the calls come in the order they always did.
CASES = [(n, r, kind) for n, r in SIZES for kind in INPUTS]
FORWARD = [forward_spec(*case) for case in CASES]
TRANSPOSE = [transpose_spec(*case) for case in CASES]


@pytest.mark.parametrize("kind", INPUTS)
@pytest.mark.parametrize("n,r", SIZES, ids=[f"n={n},r={r}" for n, r in SIZES])
def test_forward_matches_dense(student, n, r, kind):
    index = CASES.index((n, r, kind))
    spec = FORWARD[index]
    k, x = spec["k"], spec["steps"][0][1]
    A = Case(student, spec)
    got = as_vector(A.forward(x), f"A @ x (n={n}, r={r}, {kind} x)", n - r + 1, A.where.get("forward", ""))
    compare(got, dense(k, n) @ x, f"A @ x for n={n}, r={r}, {kind} x",
            "Rule: (Ax)_i = k_1 x_i + … + k_r x_{i+r-1} for i = 1 … n-r+1.", A.where.get("forward", ""))


@pytest.mark.parametrize("kind", INPUTS)
@pytest.mark.parametrize("n,r", SIZES, ids=[f"n={n},r={r}" for n, r in SIZES])
def test_transpose_matches_dense(student, n, r, kind):
    index = CASES.index((n, r, kind))
    spec = TRANSPOSE[index]
    k, y = spec["k"], spec["steps"][0][1]
    A = Case(student, spec)
    got = as_vector(A.transposed(y), f"A.T @ y (n={n}, r={r}, {kind} y)", n, A.where.get("transposed", ""))
    compare(got, dense(k, n).T @ y, f"A.T @ y for n={n}, r={r}, {kind} y",
            "Rule: (Aᵀy)_j = Σ_i k_{j-i+1} y_i over the i with 1 ≤ j-i+1 ≤ r; r must come from k, not be fixed.",
            A.where.get("transposed", ""))


SHAPE_SIZES = [(20, 3), (7, 7), (15, 1)]


def _shape_spec(n, r):
    rng = np.random.default_rng(7)
    k = rng.standard_normal(r)
    x = rng.standard_normal(n)
    return {"k": k, "n": n, "steps": [["forward", x], ["transposed", rng.standard_normal(n - r + 1)]]}


SHAPES = [_shape_spec(n, r) for n, r in SHAPE_SIZES]


@pytest.mark.parametrize("n,r", SHAPE_SIZES, ids=["n=20,r=3", "n=7,r=7", "n=15,r=1"])
def test_output_shapes(student, n, r):
    index = SHAPE_SIZES.index((n, r))
    (_, x), (_, y) = SHAPES[index]["steps"]
    A = Case(student, SHAPES[index])
    forward = A.forward(x)
    backward = A.transposed(y)
    for value, what, length, kind in ((forward, "A @ x", n - r + 1, "forward"), (backward, "A.T @ y", n, "transposed")):
        by = f" (from {A.where[kind]})" if kind in A.where else ""
        assert isinstance(value, np.ndarray), (
            f"{what} returned a {type(value).__name__}{by}; return a numpy array (e.g. np.asarray([...]))"
        )
        assert value.shape == (length,), (
            f"{what} has shape {value.shape} for n={n}, r={r}{by}; expected a 1-D array of shape ({length},)"
        )


ADJOINT_SIZES = [(20, 3), (13, 4), (8, 8)]


def _adjoint_specs():
    rng = np.random.default_rng(11)
    specs = []
    for n, r in ADJOINT_SIZES:
        k = rng.standard_normal(r)
        x, y = rng.standard_normal(n), rng.standard_normal(n - r + 1)
        # Only A @ x is planned: A.T @ y is asked for once A @ x checked out, as the test always did.
        specs.append({"k": k, "n": n, "steps": [["forward", x]], "y": y})
    return specs


ADJOINT = _adjoint_specs()


def test_adjoint_identity(student):
    checked = 0
    for spec in ADJOINT:
        n, k = spec["n"], spec["k"]
        r = len(k)
        ((_, x),), y = spec["steps"], spec["y"]
        A = Case(student, {key: spec[key] for key in ("k", "n", "steps")}, more=True)
        Ax = as_vector(A.forward(x), "A @ x", n - r + 1)
        ATy = as_vector(A.transposed(y), "A.T @ y", n)
        lhs, rhs = float(Ax @ y), float(x @ ATy)
        assert abs(lhs - rhs) <= 1e-9 * max(1.0, abs(lhs)), (
            f"⟨Ax, y⟩ = {lhs:.10g} but ⟨x, Aᵀy⟩ = {rhs:.10g} for n={n}, r={r}: "
            "A.T must be the transpose (adjoint) of A."
        )
        checked += 1
    assert checked == 3


# -- the ban on dense matrices ----------------------------------------------
#: Every (n, r) the checks above call the classes at: the shape guard checks there too, so
#: code that builds the matrix only at the sizes it is tested on is seen where it does.
CHECKED_SIZES = sorted(set(SIZES) | set(SHAPE_SIZES) | set(ADJOINT_SIZES))


def dense_report(student):
    """The guards' report for this student, measured once and shared by the tests below.

    The guards run in the child the correctness tests used, after them: what
    they measure does not depend on what ran before. The shape guard loads the
    file again, watched, with the student's other modules imported afresh;
    the memory guard counts only what tracemalloc traces from its start; the
    process guard returns freed memory to the kernel and resets the resident
    peak first, and it caps the address space, so it runs last of all. The
    correctness checks ran at n ≤ 50 and other seeds, so nothing a student
    caches there (on self, on the class, by n or by k) is reused at the
    guards' sizes, where every operator is a fresh construction.
    """
    key = "p5-dense-ban"
    if key not in student.cache:
        try:
            student.cache[key] = dense_ban.run_guards(student.session, student.files[0], ["Convolution1d"],
                                                      shape_cases=CHECKED_SIZES)
        except (StudentFailure, GraderError) as exc:  # the file does not load, the time ran out, a grader fault
            student.cache[key] = exc
    cached = student.cache[key]
    if isinstance(cached, (StudentFailure, GraderError)):
        raise type(cached)(str(cached))  # a fresh exception: see ChildSession.load
    return cached


def _raise_unmeasured(status: str, message: str) -> None:
    if status == "timeout":
        raise StudentTimeout(message)
    if status == "error":
        raise StudentError(message)


def test_no_dense_matrix(student, note, flag):
    report = dense_report(student)
    for reason in report.flags:
        flag(reason)
    assert not report.dense, report.ban_feedback()
    if report.products_status == "tampered":
        _raise_unmeasured("error", report.products)
    if report.products_status == "error":
        # Not a dense-matrix verdict: say so, or the rule printed after it reads like one.
        _raise_unmeasured("error", f"{report.products} No dense matrix was seen; but the ban's points go to an "
                                   f"operator whose products run at the guards' sizes (up to n = {report.n}), "
                                   "as matrix-free code does.")
    _raise_unmeasured(report.products_status, report.products)
    assert report.products_status == "ok", (
        f"Not earned: the ban's points go to an operator whose products run and return arrays; {report.products}."
    )
    for verdict in report.verdicts.values():
        if verdict.status == "timeout":
            raise StudentTimeout(f"the dense-matrix guards did not finish: {verdict.message}")
    note(report.ban_feedback())


def _guard(student, note, name: str) -> None:
    report = dense_report(student)
    verdict = report.verdicts[name]
    _raise_unmeasured(verdict.status, verdict.message)
    if verdict.status == "clean" and report.products_status != "ok":
        pytest.skip(f"nothing to guard: {report.products}")
    assert verdict.status == "clean", f"{verdict.message}\n{dense_ban.RULE}"
    note(verdict.message)


def test_shape_guard(student, note):
    _guard(student, note, "shape")


def test_memory_guard(student, note):
    _guard(student, note, "memory")


def test_process_guard(student, note):
    _guard(student, note, "process")


def test_work_growth(student, note):
    report = dense_report(student)
    growth = report.growth
    if report.products_status != "ok":
        pytest.skip(f"not measured: {report.products}")
    if growth.status == "unknown":
        pytest.skip(growth.message())
    assert growth.status == "linear", growth.message()
    note(growth.message())


# -- the handout's GD loop, last ----------------------------------------------
# After the guards: an operator that hangs on the loop's x = 0 (a "skip zero windows" loop that
# never advances) then costs this item alone, not the guards' measurements of the same budget.
def test_handout_gd_objective(student):
    r, n, lam, alpha = 3, 20, 0.1, 0.01
    np.random.seed(0)
    k = np.random.randn(r)
    b = np.random.randn(n - r + 1)

    expected, expected_x = p5.gd_loop(dense(k, n), b, n, lam, alpha)
    got = p5.gd_in_child(student, k, b, n, lam, alpha)
    if got is None:
        A = p5.operator(student, k, n)
        try:
            got = p5.gd_loop(A, b, n, lam, alpha)
        except (TypeError, ValueError) as exc:
            raise AssertionError(f"the handout's GD loop does not run with your operator: {exc}") from None
    got, got_x = float(got[0]), np.asarray(got[1], dtype=float)
    assert abs(got - expected) <= 1e-8 * abs(expected), (
        f"after the handout's 100 GD steps (r, n, lam = 3, 20, 0.1, seed 0, α = 0.01) the objective is "
        f"{got:.12g}; expected {expected:.12g}."
    )
    # The objective alone cannot tell A from its mirror image: a reversed filter (a true
    # convolution) reaches the same objective at the mirrored iterate.
    gap = float(np.max(np.abs(got_x - expected_x))) if got_x.shape == expected_x.shape else math.inf
    assert gap <= 1e-8 * max(1.0, float(np.max(np.abs(expected_x)))), (
        f"after the handout's 100 GD steps the objective is right ({got:.12g}) but the iterate x is not the "
        f"reference's (largest difference {gap:.3g}): your A is not the handout's operator (a reversed filter, "
        "i.e. a true convolution instead of Σ_j k_j x_(i+j), gives the same objective at the mirrored x)."
    )
