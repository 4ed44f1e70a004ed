"""Tests for the machine checks of the HW1 reference proofs (Problems 1-3).

Besides running every registered check, each problem gets negative tests: the
helpers are handed a deliberately wrong claim and must reject it, which shows
the checks are not vacuous.
"""

from __future__ import annotations

import dataclasses
import time

import pytest
import sympy as sp

from reference.hw1 import sympy_checks as sc


@pytest.fixture(scope="module")
def run_all():
    """``sc.run_all()`` run once for the module: (its results, the seconds it took).

    run_all() calls every check of CHECKS in order, so each check's own test reads its result
    here instead of computing it a second time (the checks take a few seconds of SymPy).
    """
    start = time.perf_counter()
    results = sc.run_all()
    return results, time.perf_counter() - start


@pytest.mark.parametrize("check", sc.CHECKS, ids=lambda check: check.__name__)
def test_check_passes(check, run_all):
    result = run_all[0][sc.CHECKS.index(check)]
    assert isinstance(result, sc.CheckResult)
    assert result.problem in {"p1", "p2", "p3"}
    assert result.name == check.__name__
    assert result.passed, result.detail


def test_run_all_covers_every_problem_quickly(run_all):
    results, elapsed = run_all
    assert [r.name for r in results] == [c.__name__ for c in sc.CHECKS]
    assert {r.problem for r in results} == {"p1", "p2", "p3"}
    assert all(r.passed for r in results), [r for r in results if not r.passed]
    # The brief's budget is ~10 s; the generous bound only guards against a
    # check that has become pathologically slow.
    assert elapsed < 30, f"run_all took {elapsed:.1f} s"


def test_check_names_are_unique():
    names = [check.__name__ for check in sc.CHECKS]
    assert len(names) == len(set(names))


def test_check_result_is_frozen():
    result = sc.CheckResult(problem="p1", name="x", passed=True, detail="")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.passed = False  # type: ignore[misc]


def test_exception_in_check_becomes_failure():
    @sc._check("p1")
    def broken() -> sc.Verdict:
        raise RuntimeError("boom")

    result = broken()
    assert not result.passed
    assert result.name == "broken"
    assert "boom" in result.detail


# --------------------------------------------------------------------------
# Problem 1 negatives
# --------------------------------------------------------------------------


def test_check_gradient_rejects_wrong_derivative():
    x, y = sp.symbols("x y", real=True)
    assert sc.check_gradient(x**2 * y, [2 * x * y, x**2], [x, y])[0]
    assert not sc.check_gradient(x**2 * y, [x * y, x**2], [x, y])[0]
    # A row where a column is required is a shape error, not a pass.
    assert not sc.check_gradient(x**2 * y, sp.Matrix([[2 * x * y, x**2]]), [x, y])[0]


@pytest.mark.parametrize(
    "wrong_sample",
    [
        # Missing the residual factor.
        lambda x_i, y_i, theta: x_i,
        # Sign error in the residual.
        lambda x_i, y_i, theta: ((x_i.T * theta)[0, 0] + y_i) * x_i,
        # Gradient pointing along theta instead of X_i.
        lambda x_i, y_i, theta: ((x_i.T * theta)[0, 0] - y_i) * theta,
    ],
)
def test_p1_rejects_wrong_sample_gradient(wrong_sample):
    passed, detail = sc.check_least_squares_gradients(
        sc.P1_SHAPES, wrong_sample, sc.claimed_total_gradient
    )
    assert not passed
    assert "grad l_" in detail


@pytest.mark.parametrize(
    "wrong_total",
    [
        # Sign error.
        lambda x, y, theta: x.T * (x * theta + y),
        # Transposed the wrong way: a 1 x p row instead of a p x 1 column.
        lambda x, y, theta: (x * theta - y).T * x,
        # Dropped the Y term.
        lambda x, y, theta: x.T * x * theta,
        # Factor 2 from forgetting the 1/2.
        lambda x, y, theta: 2 * x.T * (x * theta - y),
    ],
)
def test_p1_rejects_wrong_total_gradient(wrong_total):
    passed, _ = sc.check_least_squares_gradients(
        sc.P1_SHAPES, sc.claimed_sample_gradient, wrong_total
    )
    assert not passed


@pytest.mark.parametrize(
    "wrong_total",
    [
        lambda x, y, theta: x.T * (x * theta + y),
        lambda x, y, theta: (x * theta - y).T * x,
        lambda x, y, theta: 2 * x.T * (x * theta - y),
        lambda x, y, theta: x.T * x * theta,
    ],
)
def test_p1_matrix_calculus_rejects_wrong_gradient(wrong_total):
    passed, _ = sc.check_matrix_calculus_gradient(wrong_total, ((2, 3), (3, 2)))
    assert not passed


# --------------------------------------------------------------------------
# Problem 2 negatives
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wrong_iterate",
    [
        lambda k, alpha, theta0: (1 + alpha) ** k * theta0,
        lambda k, alpha, theta0: (1 - alpha) ** (k + 1) * theta0,
        lambda k, alpha, theta0: (1 - alpha * k) * theta0,
    ],
)
def test_p2_rejects_wrong_closed_form(wrong_iterate):
    passed, _ = sc.check_gd_closed_form(wrong_iterate)
    assert not passed


def test_p2_rejects_too_large_step_region():
    # For 1 < alpha <= 2 the factor |1 - alpha| is at most 1.
    passed, _ = sc.check_unstable_step_sizes(lambda a: 1 - a, sp.Interval.open(1, sp.oo))
    assert not passed


def test_p2_rejects_divergence_for_small_steps():
    # alpha = 1 / (1 + s) lies in (0, 1), where GD converges to 0.
    passed, detail = sc.check_iterates_diverge(sc.claimed_univariate_iterate, lambda s: 1 / (1 + s))
    assert not passed
    assert "not oo" in detail


# --------------------------------------------------------------------------
# Problem 3 negatives
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wrong_map",
    [
        lambda x, alpha: sp.eye(x.shape[1]) + alpha * x.T * x,
        lambda x, alpha: sp.eye(x.shape[1]) - 2 * alpha * x.T * x,
        # X X^T is N x N, not p x p.
        lambda x, alpha: sp.eye(x.shape[0]) - alpha * x * x.T,
    ],
)
def test_p3_rejects_wrong_error_map(wrong_map):
    passed, _ = sc.check_error_recursion(sc.P3_SYMBOLIC_SHAPES[:1], wrong_map)
    assert not passed


def test_p3_rejects_too_small_step_threshold():
    # alpha > 1 / rho is not enough: |1 - alpha rho| > 1 needs alpha rho > 2.
    passed, _ = sc.check_top_mode_amplified(lambda rho, s: (1 + s) / rho)
    assert not passed


def test_p3_numeric_check_distinguishes_regimes():
    shapes = sc.P3_NUMERIC_SHAPES[:1]
    assert not sc.check_numeric_gd(shapes, 0.99, expect_divergence=True)[0]
    assert not sc.check_numeric_gd(shapes, 1.01, expect_divergence=False, steps=400)[0]
