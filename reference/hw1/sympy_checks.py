"""Machine checks of the identities behind the HW1 proofs (Problems 1-3).

The written proofs live next to this module (``p1.md``, ``p2.md``, ``p3.md``).
Each check here re-derives one step of those proofs independently, mostly
with SymPy and, for Problem 3, also numerically with NumPy.

Every helper takes the *claimed* formula as an argument and returns a
``(passed, detail)`` pair, so the tests can hand it a deliberately wrong claim
and see it rejected. The zero-argument functions listed in :data:`CHECKS` bind
the correct claims from the homework and wrap the verdict in a
:class:`CheckResult`; :func:`run_all` runs them all.

Importing the module has no side effects; nothing is computed until a check is
called.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp

Verdict = tuple[bool, str]
"""What every helper returns: whether the claim held, and a one-line reason."""

#: (N, p) sizes on which the Problem 1 gradients are checked entry by entry.
P1_SHAPES: tuple[tuple[int, int], ...] = ((1, 1), (2, 3), (3, 2), (4, 4))

#: (N, p) sizes on which the Problem 3 error recursion is checked symbolically.
P3_SYMBOLIC_SHAPES: tuple[tuple[int, int], ...] = ((3, 2), (4, 3))

#: (N, p) sizes of the random least-squares problems run numerically in Problem 3.
P3_NUMERIC_SHAPES: tuple[tuple[int, int], ...] = ((6, 2), (10, 3), (25, 5))


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check.

    Attributes:
        problem: Which homework problem the check belongs to.
        name: Identifier of the check.
        passed: Whether the checked claim held.
        detail: Human-readable explanation of what was checked or what failed.
    """

    problem: str
    """Homework problem the check belongs to: ``"p1"``, ``"p2"`` or ``"p3"``."""

    name: str
    """Stable identifier of the check (the name of the check function)."""

    passed: bool
    """True when the checked identity or inequality was confirmed."""

    detail: str
    """One line saying what was verified, or the first discrepancy found."""


# --------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------


def _is_zero(expr: sp.Expr) -> bool:
    """Tells whether a rational expression is identically zero.

    ``cancel`` puts a rational function in canonical p/q form, so a zero
    result is a proof of the identity, not a numerical coincidence.
    """
    return sp.cancel(sp.together(sp.expand(expr))) == 0


def _first_nonzero(entries: Sequence[sp.Expr]) -> int | None:
    """Returns the index of the first entry that is not identically zero."""
    for index, entry in enumerate(entries):
        if not _is_zero(entry):
            return index
    return None


def _as_column(values: sp.MatrixBase | Sequence[sp.Expr]) -> sp.Matrix:
    """Turns a sequence of expressions (or a matrix) into a SymPy matrix."""
    if isinstance(values, sp.MatrixBase):
        return sp.Matrix(values)
    return sp.Matrix(list(values))


def _symbol_matrix(prefix: str, rows: int, cols: int) -> sp.Matrix:
    """Builds a ``rows x cols`` matrix of distinct real symbols ``prefix_i_j``."""
    return sp.Matrix(
        rows, cols, lambda i, j: sp.Symbol(f"{prefix}_{i + 1}_{j + 1}", real=True)
    )


def _symbol_vector(prefix: str, size: int) -> sp.Matrix:
    """Builds a column vector of distinct real symbols ``prefix_i``."""
    return sp.Matrix(size, 1, lambda i, _: sp.Symbol(f"{prefix}_{i + 1}", real=True))


# --------------------------------------------------------------------------
# Problem 1: least-squares gradients
# --------------------------------------------------------------------------

SampleGradient = Callable[[sp.Matrix, sp.Expr, sp.Matrix], sp.Matrix]
"""Claimed gradient of l_i, as a function of (X_i as a column, Y_i, theta)."""

TotalGradient = Callable[..., sp.MatrixBase | sp.MatrixExpr]
"""Claimed gradient of L, as a function of (X, Y, theta) (explicit or symbolic)."""


def claimed_sample_gradient(x_i: sp.Matrix, y_i: sp.Expr, theta: sp.Matrix) -> sp.Matrix:
    """The homework's formula for the gradient of l_i: (X_i^T theta - Y_i) X_i."""
    return (x_i.T * theta)[0, 0] * x_i - y_i * x_i


def claimed_total_gradient(x, y, theta):
    """The homework's formula for the gradient of L: X^T (X theta - Y).

    Works both for explicit ``sympy.Matrix`` arguments and for
    ``sympy.MatrixSymbol`` arguments.
    """
    return x.T * (x * theta - y)


def check_gradient(
    f: sp.Expr, claimed: sp.MatrixBase | Sequence[sp.Expr], variables: Sequence[sp.Symbol]
) -> Verdict:
    """Checks that ``claimed`` is the gradient of ``f`` with respect to ``variables``.

    Args:
        f: Scalar expression to differentiate.
        claimed: Claimed gradient, a column with one entry per variable.
        variables: Variables, in the order of the gradient's entries.

    Returns:
        ``(passed, detail)``; fails on a shape mismatch or on the first entry
        where ``diff(f, v_j)`` and the claim differ as rational functions.
    """
    claim = _as_column(claimed)
    if claim.shape != (len(variables), 1):
        return False, f"claimed gradient has shape {claim.shape}, expected ({len(variables)}, 1)"
    differences = [sp.diff(f, var) - claim[j, 0] for j, var in enumerate(variables)]
    bad = _first_nonzero(differences)
    if bad is not None:
        return False, (
            f"d/d{variables[bad]}: sympy gives {sp.expand(sp.diff(f, variables[bad]))}, "
            f"claim gives {sp.expand(claim[bad, 0])}"
        )
    return True, f"all {len(variables)} partial derivatives match"


def check_least_squares_gradients(
    shapes: Sequence[tuple[int, int]],
    sample_gradient: SampleGradient,
    total_gradient: TotalGradient,
) -> Verdict:
    """Checks both Problem 1 gradient formulas entry by entry on explicit sizes.

    For each ``(N, p)`` the data X (N x p), Y (N) and theta (p) are fully
    symbolic. ``L`` is written as an explicit sum of squares of the entries of
    ``X theta - Y``, *not* as the sum of the ``l_i``, so part (b) is checked
    independently of part (a).

    Args:
        shapes: ``(N, p)`` pairs to check.
        sample_gradient: Claimed gradient of ``l_i``.
        total_gradient: Claimed gradient of ``L``.

    Returns:
        ``(passed, detail)``; the detail names the first failing size and part.
    """
    checked = []
    for n_samples, n_features in shapes:
        x = _symbol_matrix("x", n_samples, n_features)
        y = _symbol_vector("y", n_samples)
        theta = _symbol_vector("theta", n_features)
        variables = list(theta)
        for i in range(n_samples):
            x_i = x[i, :].T
            loss_i = sp.Rational(1, 2) * ((x_i.T * theta)[0, 0] - y[i, 0]) ** 2
            try:
                claim = sample_gradient(x_i, y[i, 0], theta)
            except (sp.ShapeError, TypeError, ValueError) as exc:
                return False, (
                    f"N={n_samples}, p={n_features}, l_{i + 1}: claim not evaluable ({exc})"
                )
            ok, why = check_gradient(loss_i, claim, variables)
            if not ok:
                return False, f"N={n_samples}, p={n_features}, grad l_{i + 1}: {why}"
        residual = x * theta - y
        total_loss = sp.Rational(1, 2) * sum(residual[i, 0] ** 2 for i in range(n_samples))
        try:
            claim = total_gradient(x, y, theta)
        except (sp.ShapeError, TypeError, ValueError) as exc:
            return False, f"N={n_samples}, p={n_features}, L: claim not evaluable ({exc})"
        ok, why = check_gradient(total_loss, claim, variables)
        if not ok:
            return False, f"N={n_samples}, p={n_features}, grad L: {why}"
        checked.append(f"({n_samples},{n_features})")
    return True, "grad l_i and grad L match sympy.diff entrywise for (N,p) in " + ", ".join(checked)


def check_matrix_calculus_gradient(
    total_gradient: TotalGradient, explicit_shapes: Sequence[tuple[int, int]]
) -> Verdict:
    """Checks the gradient of L with SymPy's matrix calculus on ``MatrixSymbol``s.

    SymPy differentiates ``1/2 (X theta - Y)^T (X theta - Y)`` with respect to
    the ``MatrixSymbol`` theta for symbolic sizes ``N x p``. The result is
    compared with the claim twice: symbolically (the difference must simplify
    to zero), and after substituting explicit matrices of fully symbolic
    entries for the given sizes (entrywise rational-function comparison).

    Args:
        total_gradient: Claimed gradient of ``L``, a function of ``(X, Y, theta)``.
        explicit_shapes: ``(N, p)`` pairs used for the substitution step.

    Returns:
        ``(passed, detail)``.
    """
    n_sym, p_sym = sp.symbols("N p", integer=True, positive=True)
    x = sp.MatrixSymbol("X", n_sym, p_sym)
    y = sp.MatrixSymbol("Y", n_sym, 1)
    theta = sp.MatrixSymbol("theta", p_sym, 1)
    residual = x * theta - y
    loss = sp.Rational(1, 2) * (residual.T * residual)
    derived = loss.diff(theta)
    try:
        claim = total_gradient(x, y, theta)
        symbolic_difference = sp.simplify((derived - claim).doit())
    except (sp.ShapeError, TypeError, ValueError) as exc:
        return False, f"claim {total_gradient} is not a p x 1 matrix expression ({exc})"
    # A symbolic zero is convincing, but a nonzero leftover can also be an
    # unsimplified zero; the explicit substitution below is the decisive test.
    symbolic_zero = symbolic_difference == 0 or isinstance(symbolic_difference, sp.ZeroMatrix)
    for n_samples, n_features in explicit_shapes:
        x_e = _symbol_matrix("x", n_samples, n_features)
        y_e = _symbol_vector("y", n_samples)
        theta_e = _symbol_vector("theta", n_features)
        sizes = {n_sym: n_samples, p_sym: n_features}
        values = {
            x.subs(sizes): x_e,
            y.subs(sizes): y_e,
            theta.subs(sizes): theta_e,
        }
        try:
            difference = sp.Matrix((derived - claim).subs(sizes).subs(values).doit())
        except (sp.ShapeError, TypeError, ValueError) as exc:
            return False, f"N={n_samples}, p={n_features}: claim not evaluable ({exc})"
        if difference.shape != (n_features, 1):
            return False, f"N={n_samples}, p={n_features}: shape {difference.shape}"
        bad = _first_nonzero(list(difference))
        if bad is not None:
            return False, (
                f"N={n_samples}, p={n_features}: entry {bad + 1} of derivative minus claim "
                f"is {sp.expand(difference[bad, 0])}"
            )
    return True, (
        f"sympy matrix derivative {derived} equals the claim "
        f"(symbolic difference {'simplifies to 0' if symbolic_zero else 'not simplified'}; "
        f"explicit sizes {list(explicit_shapes)} agree entrywise)"
    )


# --------------------------------------------------------------------------
# Problem 2: univariate GD on theta^2 / 2
# --------------------------------------------------------------------------

Iterate = Callable[[sp.Expr, sp.Expr, sp.Expr], sp.Expr]
"""Claimed closed form of the k-th GD iterate, as a function of (k, alpha, theta0)."""


def claimed_univariate_iterate(k: sp.Expr, alpha: sp.Expr, theta0: sp.Expr) -> sp.Expr:
    """The homework's closed form theta_k = (1 - alpha)^k theta_0."""
    return (1 - alpha) ** k * theta0


def check_gd_closed_form(iterate: Iterate) -> Verdict:
    """Checks by induction that ``iterate`` solves GD on f(theta) = theta^2 / 2.

    The derivative ``f'`` is computed by SymPy, not typed in. The base case
    is ``iterate(0) == theta0`` and the induction step is
    ``iterate(k + 1) == iterate(k) - alpha f'(iterate(k))`` for a symbolic
    nonnegative integer ``k`` and symbolic ``alpha``, ``theta0``.

    Args:
        iterate: Claimed closed form.

    Returns:
        ``(passed, detail)``.
    """
    alpha, theta0, theta = sp.symbols("alpha theta0 theta", real=True)
    k = sp.Symbol("k", integer=True, nonnegative=True)
    f = theta**2 / 2
    f_prime = sp.diff(f, theta)
    base = iterate(sp.Integer(0), alpha, theta0) - theta0
    if not _is_zero(base):
        return False, f"base case fails: theta_0 - claim(0) = {sp.simplify(-base)}"
    current = iterate(k, alpha, theta0)
    gd_step = current - alpha * f_prime.subs(theta, current)
    # power_exp splits (1 - alpha)**(k + 1) into (1 - alpha)**k * (1 - alpha),
    # which is what lets the step cancel for symbolic k.
    step = sp.expand(iterate(k + 1, alpha, theta0) - gd_step, power_exp=True)
    if not _is_zero(step):
        return False, f"induction step fails: claim(k+1) - GD(claim(k)) = {sp.simplify(step)}"
    return True, f"f' = {f_prime}; claim(0) = theta0 and claim(k+1) = claim(k) - alpha f'(claim(k))"


def check_unstable_step_sizes(
    multiplier: Callable[[sp.Symbol], sp.Expr], claimed_region: sp.Set
) -> Verdict:
    """Checks that ``|multiplier(alpha)| > 1`` for every alpha in ``claimed_region``.

    SymPy solves the inequality over the reals and the claimed region must be
    a subset of the solution set (a ``None`` answer from ``is_subset`` counts
    as failure).

    Args:
        multiplier: The per-step factor, e.g. ``lambda a: 1 - a``.
        claimed_region: Step sizes claimed to make the factor exceed 1 in size.

    Returns:
        ``(passed, detail)``.
    """
    alpha = sp.Symbol("alpha", real=True)
    solution = sp.solve_univariate_inequality(
        sp.Abs(multiplier(alpha)) > 1, alpha, relational=False
    )
    if claimed_region.is_subset(solution) is not True:
        return False, (
            f"|{multiplier(alpha)}| > 1 holds on {solution}, not on all of {claimed_region}"
        )
    return True, f"|{multiplier(alpha)}| > 1 exactly on {solution}, which contains {claimed_region}"


def check_iterates_diverge(
    iterate: Iterate, alpha_of: Callable[[sp.Symbol], sp.Expr]
) -> Verdict:
    """Checks that ``|iterate(k)| -> oo`` for every nonzero start and given step sizes.

    The step-size region is parametrized by a positive symbol ``s``: for the
    homework, ``alpha = 2 + s`` covers exactly ``alpha > 2``. ``theta0`` is a
    real nonzero symbol, so the limit must hold for every nonzero start.

    Args:
        iterate: Closed form of the k-th iterate.
        alpha_of: Step size as a function of the positive parameter ``s``.

    Returns:
        ``(passed, detail)``.
    """
    s = sp.Symbol("s", positive=True)
    theta0 = sp.Symbol("theta0", real=True, nonzero=True)
    k = sp.Symbol("k", integer=True, nonnegative=True)
    magnitude = sp.simplify(sp.Abs(iterate(k, alpha_of(s), theta0)))
    limit = sp.limit(magnitude, k, sp.oo)
    if limit != sp.oo:
        return False, f"|theta_k| = {magnitude} tends to {limit}, not oo"
    return True, f"alpha = {alpha_of(s)} (s > 0): |theta_k| = {magnitude} -> oo"


def check_power_growth() -> Verdict:
    """Checks the basic limit used in Problem 2: q^k -> oo for every q > 1.

    ``q > 1`` is encoded as ``q = 1 + s`` with a positive symbol ``s``,
    because SymPy's assumptions cannot state ``q > 1`` directly; the
    contrasting case ``q = 1 / (1 + s) < 1`` must tend to 0.
    """
    s = sp.Symbol("s", positive=True)
    k = sp.Symbol("k", integer=True, nonnegative=True)
    growing = sp.limit((1 + s) ** k, k, sp.oo)
    shrinking = sp.limit((1 / (1 + s)) ** k, k, sp.oo)
    if growing != sp.oo or shrinking != 0:
        return False, f"limits were {growing} (q>1) and {shrinking} (q<1)"
    return True, "limit (1+s)^k = oo and limit (1+s)^(-k) = 0 for s > 0"


# --------------------------------------------------------------------------
# Problem 3: multivariate GD on least squares
# --------------------------------------------------------------------------

ErrorMap = Callable[[sp.Matrix, sp.Expr], sp.Matrix]
"""Claimed matrix M(X, alpha) with theta_{k+1} - theta* = M (theta_k - theta*)."""


def claimed_error_map(x: sp.Matrix, alpha: sp.Expr) -> sp.Matrix:
    """The homework's error map I - alpha X^T X."""
    return sp.eye(x.shape[1]) - alpha * x.T * x


def check_error_recursion(shapes: Sequence[tuple[int, int]], error_map: ErrorMap) -> Verdict:
    """Checks theta_{k+1} - theta* = M (theta_k - theta*) using only the normal equations.

    X, Y, theta_k, theta* and alpha are symbolic. The GD step uses the
    gradient X^T (X theta - Y) from Problem 1. The only assumption on theta*
    is X^T X theta* = X^T Y: these p linear equations are solved for the
    first p entries of Y (possible for generic X, since the leading p x p
    block of X^T is then invertible) and substituted in. The identity is a
    polynomial one, so holding for generic X means holding for all X.

    Args:
        shapes: ``(N, p)`` pairs with ``N >= p``.
        error_map: Claimed map M as a function of ``(X, alpha)``.

    Returns:
        ``(passed, detail)``.
    """
    alpha = sp.Symbol("alpha", positive=True)
    for n_samples, n_features in shapes:
        x = _symbol_matrix("x", n_samples, n_features)
        y = _symbol_vector("y", n_samples)
        theta_k = _symbol_vector("theta", n_features)
        theta_star = _symbol_vector("thetastar", n_features)
        theta_next = theta_k - alpha * x.T * (x * theta_k - y)
        normal_equations = list(x.T * x * theta_star - x.T * y)
        solutions = sp.solve(normal_equations, list(y[:n_features]), dict=True)
        if len(solutions) != 1:
            return False, (
                f"N={n_samples}, p={n_features}: normal equations not uniquely solvable for Y"
            )
        try:
            claim = error_map(x, alpha) * (theta_k - theta_star)
        except (sp.ShapeError, TypeError, ValueError) as exc:
            return False, f"N={n_samples}, p={n_features}: claim not evaluable ({exc})"
        if claim.shape != (n_features, 1):
            return False, (
                f"N={n_samples}, p={n_features}: M (theta_k - theta*) has shape {claim.shape}"
            )
        difference = ((theta_next - theta_star) - claim).subs(solutions[0])
        bad = _first_nonzero(list(difference))
        if bad is not None:
            return False, (
                f"N={n_samples}, p={n_features}: entry {bad + 1} differs by "
                f"{sp.factor(difference[bad, 0])}"
            )
    return True, f"error recursion holds given X^T X theta* = X^T Y for (N,p) in {list(shapes)}"


def check_top_mode_amplified(alpha_of: Callable[[sp.Symbol, sp.Symbol], sp.Expr]) -> Verdict:
    """Checks |1 - alpha rho| > 1 for a positive eigenvalue rho and the given step sizes.

    The claimed step-size region is parametrized by positive symbols ``rho``
    and ``s``: for the homework, ``alpha = (2 + s) / rho`` covers exactly
    ``alpha > 2 / rho``. SymPy must decide the inequality to ``True`` from the
    positivity assumptions alone.

    Args:
        alpha_of: Step size as a function of ``(rho, s)``.

    Returns:
        ``(passed, detail)``.
    """
    rho = sp.Symbol("rho", positive=True)
    s = sp.Symbol("s", positive=True)
    alpha = alpha_of(rho, s)
    factor = sp.simplify(sp.Abs(1 - alpha * rho))
    decided = sp.simplify(factor > 1)
    if decided is not sp.true:
        return False, (
            f"for alpha = {alpha}, |1 - alpha rho| = {factor} > 1 reduces to {decided}, not True"
        )
    return True, f"alpha = {alpha} with rho, s > 0 gives |1 - alpha rho| = {factor} > 1"


def _rational_rotation(t: sp.Symbol) -> sp.Matrix:
    """A 2 x 2 rotation with rational entries in ``t`` (Weierstrass substitution).

    Rational entries keep every later comparison exact and fast; trigonometric
    entries would need ``trigsimp``.
    """
    cos = (1 - t**2) / (1 + t**2)
    sin = 2 * t / (1 + t**2)
    return sp.Matrix([[cos, -sin], [sin, cos]])


def _cayley_rotation(a: sp.Symbol, b: sp.Symbol, c: sp.Symbol) -> sp.Matrix:
    """A 3 x 3 orthogonal matrix (I - S)(I + S)^{-1} from a skew-symmetric S."""
    skew = sp.Matrix([[0, -a, -b], [a, 0, -c], [b, c, 0]])
    identity = sp.eye(3)
    return ((identity - skew) * (identity + skew).inv()).applyfunc(sp.cancel)


def check_spectral_powers(max_power: int = 4) -> Verdict:
    """Checks the spectral step (I - alpha A)^k = Q (I - alpha Lambda)^k Q^T.

    ``A = Q Lambda Q^T`` is a symbolic symmetric matrix with symbolic
    eigenvalues and a symbolic orthogonal ``Q``. For 2 x 2 the power identity
    is checked for k = 1..max_power together with ``A q_1 = rho q_1`` and
    ``q_1^T (I - alpha A)^k = (1 - alpha rho)^k q_1^T`` (the top coordinate of
    the error evolves by itself). For 3 x 3 the k = 1 factorization and the
    orthogonality ``Q^T Q = I`` are checked, from which all powers follow
    because the inner ``Q^T Q`` factors cancel.

    Args:
        max_power: Largest power checked in the 2 x 2 case.

    Returns:
        ``(passed, detail)``.
    """
    alpha = sp.Symbol("alpha", positive=True)
    rho, mu = sp.symbols("rho mu", positive=True)
    q2 = _rational_rotation(sp.Symbol("t", real=True))
    identity2 = sp.eye(2)
    eigenvalues2 = sp.diag(rho, mu)
    a2 = (q2 * eigenvalues2 * q2.T).applyfunc(sp.cancel)
    top = q2[:, 0]
    if _first_nonzero(list(a2 - a2.T)) is not None:
        return False, "2x2: A is not symmetric"
    if _first_nonzero(list(a2 * top - rho * top)) is not None:
        return False, "2x2: first column of Q is not an eigenvector for rho"
    step = identity2 - alpha * a2
    power = identity2
    for k in range(1, max_power + 1):
        power = (power * step).applyfunc(sp.cancel)
        expected = q2 * (identity2 - alpha * eigenvalues2) ** k * q2.T
        if _first_nonzero(list(power - expected)) is not None:
            return False, f"2x2: (I - alpha A)^{k} != Q (I - alpha Lambda)^{k} Q^T"
        if _first_nonzero(list(top.T * power - (1 - alpha * rho) ** k * top.T)) is not None:
            return False, f"2x2: q1^T (I - alpha A)^{k} != (1 - alpha rho)^{k} q1^T"

    q3 = _cayley_rotation(*sp.symbols("a b c", real=True))
    identity3 = sp.eye(3)
    eigenvalues3 = sp.diag(*sp.symbols("lambda1:4", positive=True))
    if _first_nonzero(list(q3.T * q3 - identity3)) is not None:
        return False, "3x3: Cayley transform is not orthogonal"
    a3 = q3 * eigenvalues3 * q3.T
    factorized = q3 * (identity3 - alpha * eigenvalues3) * q3.T
    if _first_nonzero(list(identity3 - alpha * a3 - factorized)) is not None:
        return False, "3x3: I - alpha A != Q (I - alpha Lambda) Q^T"
    return True, (
        f"2x2: powers 1..{max_power} diagonalize and the top coordinate scales by "
        "(1 - alpha rho)^k; "
        "3x3: Q^T Q = I and I - alpha A = Q (I - alpha Lambda) Q^T"
    )


def check_exceptional_hyperplane_exact(steps: int = 100) -> Verdict:
    """Runs GD exactly (rational arithmetic) on a small problem to show both regimes.

    With X = [[1, 1], [1, 0], [0, 1]], X^T X = [[2, 1], [1, 2]] has
    eigenvalues rho = 3 (eigenvector (1, 1)) and 1 (eigenvector (1, -1)).
    For alpha = 1.01 * 2 / rho the checks are, at every step k:

    * the error equals (I - alpha X^T X)^k (theta_0 - theta*);
    * off the hyperplane {(1, 1) . (theta_0 - theta*) = 0} the top coordinate
      is exactly (1 - alpha rho)^k times its start, so |error| -> oo;
    * on the hyperplane the error is exactly (1 - alpha)^k times its start,
      with |1 - alpha| < 1, so the iterates converge: the exceptional set is
      really exceptional, and "most starting points" cannot become "all".

    Args:
        steps: Number of exact GD steps.

    Returns:
        ``(passed, detail)``.
    """
    x = sp.Matrix([[1, 1], [1, 0], [0, 1]])
    y = sp.Matrix([1, 2, 3])
    gram = x.T * x
    theta_star = gram.LUsolve(x.T * y)
    rho = sp.Integer(3)
    top = sp.Matrix([1, 1])
    if gram * top != rho * top or max(gram.eigenvals()) != rho:
        return False, "test matrix does not have the expected top eigenpair"
    alpha = sp.Rational(101, 100) * 2 / rho
    error_map = sp.eye(2) - alpha * gram
    starts = {
        "off-hyperplane": theta_star + sp.Matrix([1, 0]),
        "on-hyperplane": theta_star + sp.Matrix([1, -1]),
    }
    final_norms = {}
    for label, theta in starts.items():
        error0 = theta - theta_star
        power = sp.eye(2)
        for k in range(1, steps + 1):
            theta = theta - alpha * x.T * (x * theta - y)
            power = power * error_map
            error = theta - theta_star
            if error != power * error0:
                return False, f"{label}, k={k}: error != M^k (theta_0 - theta*)"
            if (top.T * error)[0, 0] != (1 - alpha * rho) ** k * (top.T * error0)[0, 0]:
                return False, (
                    f"{label}, k={k}: top coordinate is not (1 - alpha rho)^k times its start"
                )
        final_norms[label] = float(error.norm())
    if not abs(1 - alpha) < 1 < abs(1 - alpha * rho):
        return False, "step size does not separate the two modes"
    if not (final_norms["off-hyperplane"] > 5 and final_norms["on-hyperplane"] < 1e-6):
        return False, f"final error norms {final_norms} do not show divergence vs. convergence"
    return True, (
        f"alpha = {alpha}, 1 - alpha rho = {1 - alpha * rho}: after {steps} exact steps "
        f"|error| = {final_norms['off-hyperplane']:.3g} off the hyperplane and "
        f"{final_norms['on-hyperplane']:.3g} on it"
    )


def gd_error_norms(
    x: np.ndarray, y: np.ndarray, alpha: float, theta0: np.ndarray, steps: int
) -> np.ndarray:
    """Runs GD on 1/2 ||X theta - Y||^2 and returns ||theta_k - theta*|| for k = 0..steps.

    ``theta*`` is the solution of the normal equations (X needs full column rank).
    """
    gram = x.T @ x
    theta_star = np.linalg.solve(gram, x.T @ y)
    theta = theta0.astype(float)
    norms = np.empty(steps + 1)
    norms[0] = np.linalg.norm(theta - theta_star)
    for k in range(1, steps + 1):
        theta = theta - alpha * (x.T @ (x @ theta - y))
        norms[k] = np.linalg.norm(theta - theta_star)
    return norms


def check_numeric_gd(
    shapes: Sequence[tuple[int, int]],
    step_factor: float,
    expect_divergence: bool,
    seed: int = 20240311,
    steps: int = 1500,
) -> Verdict:
    """Runs GD with alpha = step_factor * 2 / rho(X^T X) on seeded random problems.

    For each shape a Gaussian X (full column rank is asserted), Y and
    theta_0 are drawn, and with eigenpairs (lambda_i, u_i) of X^T X:

    * divergence expected: ``||e_K|| / (|1 - alpha rho|^K |u_1 . e_0|)`` must be
      1 to within 1e-6, i.e. the error grows exactly like the top mode (the
      other modes have smaller factors and die out relative to it), and
      ``||e_K|| > 1e3 ||e_0||``;
    * convergence expected: with q = max_i |1 - alpha lambda_i| < 1,
      ``||e_{k+1}|| <= q ||e_k||`` at every step (up to round-off) and
      ``||e_K|| <= q^K ||e_0||``.

    Args:
        shapes: ``(N, p)`` pairs with ``N >= p``.
        step_factor: Multiple of ``2 / rho`` used as the step size.
        expect_divergence: Which of the two behaviours to verify.
        seed: Seed of the NumPy generator (one generator for all shapes).
        steps: Number of GD steps K.

    Returns:
        ``(passed, detail)``.
    """
    rng = np.random.default_rng(seed)
    summaries = []
    for n_samples, n_features in shapes:
        x = rng.standard_normal((n_samples, n_features))
        y = rng.standard_normal(n_samples)
        theta0 = rng.standard_normal(n_features)
        if np.linalg.matrix_rank(x) != n_features:
            return False, f"N={n_samples}, p={n_features}: random X lost column rank"
        eigenvalues, eigenvectors = np.linalg.eigh(x.T @ x)
        rho = eigenvalues[-1]
        alpha = step_factor * 2.0 / rho
        norms = gd_error_norms(x, y, alpha, theta0, steps)
        theta_star = np.linalg.solve(x.T @ x, x.T @ y)
        top_factor = abs(1.0 - alpha * rho)
        label = f"N={n_samples}, p={n_features}"
        if expect_divergence:
            top_coordinate = abs(eigenvectors[:, -1] @ (theta0 - theta_star))
            # Compare logarithms: the predicted size is far beyond what the
            # ratio test needs, but still well inside float range.
            predicted = steps * np.log(top_factor) + np.log(top_coordinate)
            log_ratio = np.log(norms[-1]) - predicted
            if not (top_factor > 1 and abs(log_ratio) < 1e-6 and norms[-1] > 1e3 * norms[0]):
                return False, (
                    f"{label}: |1 - alpha rho| = {top_factor:.4f}, ||e_K||/||e_0|| = "
                    f"{norms[-1] / norms[0]:.3g}, log(observed/predicted) = {log_ratio:.2e}"
                )
            summaries.append(f"{label}: ||e_K||/||e_0|| = {norms[-1] / norms[0]:.3g}")
        else:
            contraction = float(np.max(np.abs(1.0 - alpha * eigenvalues)))
            # Round-off floor: theta* itself is only known to ~1e-15 relative.
            floor = 1e-12 * (1.0 + np.linalg.norm(theta_star))
            stepwise = norms[1:] <= contraction * norms[:-1] * (1 + 1e-9) + floor
            overall = norms[-1] <= contraction**steps * norms[0] * (1 + 1e-9) + floor
            if not (contraction < 1 and stepwise.all() and overall):
                return False, (
                    f"{label}: q = {contraction:.4f}, "
                    f"||e_K||/||e_0|| = {norms[-1] / norms[0]:.3g}, "
                    f"stepwise contraction held at {int(stepwise.sum())}/{steps} steps"
                )
            summaries.append(f"{label}: q = {contraction:.4f}, ||e_K|| = {norms[-1]:.2e}")
    regime = "diverges like |1 - alpha rho|^k" if expect_divergence else "contracts"
    return True, f"alpha = {step_factor} * 2/rho, K = {steps}: GD {regime}; " + "; ".join(summaries)


# --------------------------------------------------------------------------
# The checks with the homework's claims bound in
# --------------------------------------------------------------------------


def _check(problem: str) -> Callable[[Callable[[], Verdict]], Callable[[], CheckResult]]:
    """Turns a verdict-returning function into a named check for ``problem``.

    An exception inside the check becomes a failed result rather than
    aborting :func:`run_all`, so one broken check cannot hide the others.
    """

    def decorate(func: Callable[[], Verdict]) -> Callable[[], CheckResult]:
        @functools.wraps(func)
        def wrapper() -> CheckResult:
            try:
                passed, detail = func()
            except Exception as exc:  # noqa: BLE001 - reported, not swallowed
                passed, detail = False, f"raised {type(exc).__name__}: {exc}"
            return CheckResult(problem=problem, name=func.__name__, passed=passed, detail=detail)

        return wrapper

    return decorate


@_check("p1")
def p1_gradients_componentwise() -> Verdict:
    """grad l_i = (X_i^T theta - Y_i) X_i and grad L = X^T (X theta - Y), entry by entry."""
    return check_least_squares_gradients(P1_SHAPES, claimed_sample_gradient, claimed_total_gradient)


@_check("p1")
def p1_gradient_matrix_calculus() -> Verdict:
    """grad L = X^T (X theta - Y) via SymPy's MatrixSymbol derivative."""
    return check_matrix_calculus_gradient(claimed_total_gradient, ((2, 3), (3, 2)))


@_check("p2")
def p2_closed_form_by_induction() -> Verdict:
    """theta_k = (1 - alpha)^k theta_0 solves the GD recursion for f = theta^2 / 2."""
    return check_gd_closed_form(claimed_univariate_iterate)


@_check("p2")
def p2_step_factor_exceeds_one() -> Verdict:
    """|1 - alpha| > 1 whenever alpha > 2."""
    return check_unstable_step_sizes(lambda a: 1 - a, sp.Interval.open(2, sp.oo))


@_check("p2")
def p2_power_growth() -> Verdict:
    """q^k -> oo for q > 1 (and -> 0 for q < 1)."""
    return check_power_growth()


@_check("p2")
def p2_iterates_diverge() -> Verdict:
    """|theta_k| -> oo for alpha > 2 and every theta_0 != 0."""
    return check_iterates_diverge(claimed_univariate_iterate, lambda s: 2 + s)


@_check("p3")
def p3_error_recursion() -> Verdict:
    """theta_{k+1} - theta* = (I - alpha X^T X)(theta_k - theta*) given the normal equations."""
    return check_error_recursion(P3_SYMBOLIC_SHAPES, claimed_error_map)


@_check("p3")
def p3_top_mode_amplified() -> Verdict:
    """|1 - alpha rho| > 1 whenever rho > 0 and alpha > 2 / rho."""
    return check_top_mode_amplified(lambda rho, s: (2 + s) / rho)


@_check("p3")
def p3_spectral_powers() -> Verdict:
    """(I - alpha A)^k = Q (I - alpha Lambda)^k Q^T for symmetric A = Q Lambda Q^T."""
    return check_spectral_powers()


@_check("p3")
def p3_exceptional_hyperplane_exact() -> Verdict:
    """Exact GD: divergence off the hyperplane, convergence on it."""
    return check_exceptional_hyperplane_exact()


@_check("p3")
def p3_numeric_divergence() -> Verdict:
    """alpha = 1.01 * 2 / rho: the error grows like |1 - alpha rho|^k on random problems."""
    return check_numeric_gd(P3_NUMERIC_SHAPES, 1.01, expect_divergence=True)


@_check("p3")
def p3_numeric_convergence() -> Verdict:
    """alpha = 0.99 * 2 / rho: the error contracts on random full-column-rank problems."""
    return check_numeric_gd(P3_NUMERIC_SHAPES, 0.99, expect_divergence=False, steps=400)


#: Every check, in problem order. A tuple, so the registry cannot be mutated.
CHECKS: tuple[Callable[[], CheckResult], ...] = (
    p1_gradients_componentwise,
    p1_gradient_matrix_calculus,
    p2_closed_form_by_induction,
    p2_step_factor_exceeds_one,
    p2_power_growth,
    p2_iterates_diverge,
    p3_error_recursion,
    p3_top_mode_amplified,
    p3_spectral_powers,
    p3_exceptional_hyperplane_exact,
    p3_numeric_divergence,
    p3_numeric_convergence,
)


def run_all() -> list[CheckResult]:
    """Runs every check in :data:`CHECKS` and returns their results in order."""
    return [check() for check in CHECKS]
