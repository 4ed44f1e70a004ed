"""Rebuilds gradient-descent chains online, as a student's script calls ``fprime``.

Runs in the child, fed one evaluation ``g = fprime(x)`` at a time (a float,
or a flat float64 array: one run per element). A chain is x₀, x₁, … with
x_{k+1} = x_k − α·g(x_k) for a constant α (one α per element for arrays).
Only a summary is kept per chain (start, last iterate and gradient, α, step
count and a bounded trajectory sample), so memory grows with the number of
chains, not of calls: a scalar loop of 10⁷ calls costs a few hundred bytes.

Calls that do not extend a chain (printing ``fprime(x)``, a plot over a
``linspace``, a tolerance test at the same x) are skipped. A new chain needs
three points: two evaluations give a candidate α, the third confirms it. The
number of runs followed is bounded (``max_runs`` elements); chains that start
after that are not followed (the answer says so), so every run reported was
seen in full.
"""

from __future__ import annotations

import math

import numpy as np

#: Marks "no argument given" in a wrapper (None could be a student's argument).
_NOTHING = object()

#: How many recently extended chains a call is compared with when no exact prediction matches.
WINDOW = 12

#: Scalar evaluations that extended no chain, kept to pair with later ones: a script that steps
#: many scalar runs in lock-step (``for k …: for i …: xs[i] -= α·fprime(xs[i])``) evaluates a
#: run's next point only after every other run's, beyond WINDOW.
WIDE = 1024
#: Unconfirmed pairs and first points kept at most: a dozen runs in lock-step, each new point
#: paired with the WINDOW before it, waiting a round for its third point.
TENTATIVE_MAX = 16 * WINDOW

#: Predicted third points of such wide pairs kept at most (all dropped when full).
PENDING_MAX = 1 << 17

#: Trajectory sample per chain: the first DENSE steps, then at most SPREAD more, evenly spaced.
DENSE = 32
SPREAD = 31  # with the last iterate: at most 64 points

try:  # numpy >= 2: np.errstate sets this context variable; setting it directly costs a tenth as much
    from numpy._core._ufunc_config import _extobj_contextvar, _make_extobj

    _IGNORE_ALL = _make_extobj(all="ignore")
except ImportError:  # pragma: no cover - numpy 1.x
    _extobj_contextvar = None


def _step(p, a, g):
    """``p − a·g`` (arrays) with numpy's floating-point warnings off, as under ``np.errstate(all="ignore")``.

    Computed once per GD step of an array chain, so the cheaper way of
    switching the warnings off matters; the values are the same either way.
    """
    if _extobj_contextvar is None:
        with np.errstate(all="ignore"):
            return p - a * g
    token = _extobj_contextvar.set(_IGNORE_ALL)
    try:
        return p - a * g
    finally:
        _extobj_contextvar.reset(token)


class Chain:
    """One chain's summary (a float chain, or an array chain with one run per element)."""

    __slots__ = ("start", "x", "g", "alpha", "steps", "index", "dense", "spread", "stride", "sampled", "scalar", "_ahead",
                 "successor", "at", "gap", "reported")

    def __init__(self, x, g, sampled: bool) -> None:
        self.start = x
        self.x = x
        self.g = g
        self.alpha = None
        self.steps = 1  # evaluations in the chain; the run's last iterate is x − α·g
        self.index = -1  # order among confirmed chains (the "call" of a vectorized run)
        self.sampled = sampled
        self.dense: list = [(0, x)] if sampled else []
        self.spread: list = []
        self.stride = 1
        self.scalar = isinstance(x, float)
        self._ahead = None
        # The chain extended right after this one last time (itself, or None, for a run stepped on
        # its own; the next run for runs stepped in lock-step): tried first for the next call, so
        # runs that met at one point (converged to the same minimum) keep taking turns.
        self.successor = None
        # Tentative chains only: the call index of the last point, and the calls between a pair's
        # two points (a third point must follow its second about as far: see _in_step).
        self.at = 0
        self.gap = 0
        # Array chains only: how many of its elements are reported (the first ones), when the
        # bound on runs falls inside one call's array; None for all.
        self.reported = None

    def extend(self, x, g) -> None:
        """Appends the evaluation at the next iterate."""
        step = self.steps
        if self.sampled and (step < DENSE or step % self.stride == 0):
            self.sample(step, x)
        self._ahead = None
        self.x = x
        self.g = g
        self.steps = step + 1  # last: an interrupt in between leaves a consistent chain

    def ahead(self) -> tuple[bytes, np.ndarray]:
        """An array chain's predicted next iterate, as its bytes and as an array (computed once per step).

        An argument with exactly these bytes :meth:`matches` (equal floats, and
        nan where the prediction is nan), so the observer's fast path compares
        bytes instead of arrays.
        """
        ahead = self._ahead
        if ahead is None:
            pred = _step(self.x, self.alpha, self.g)
            ahead = self._ahead = (pred.tobytes(), pred)
        return ahead

    def sample(self, step: int, x) -> None:
        """Keeps (step, x) in the trajectory sample: dense first, then thinned to stay bounded."""
        if step < DENSE:
            self.dense.append((step, x))
            return
        self.spread.append((step, x))
        if len(self.spread) > SPREAD:
            self.spread = self.spread[::2]
            self.stride *= 2

    @property
    def size(self) -> int:
        """Runs in this chain (array elements)."""
        return 1 if isinstance(self.x, float) else int(self.x.size)

    def predicted(self):
        """The next iterate the chain expects."""
        if self.scalar:
            return self.x - self.alpha * self.g  # Python floats: inf or nan, never a warning
        with np.errstate(all="ignore"):
            return self.x - self.alpha * self.g

    def matches(self, x, rounding: float = 0.0) -> bool:
        """Whether ``x`` is this chain's next iterate (within rounding of how the student wrote the update).

        ``rounding``: the machine epsilon of the arithmetic the student's update ran in when
        coarser than float64 (a float32 array: ~1.2e-7), 0 otherwise; see :func:`_tolerance`.
        """
        p, g, a = self.x, self.g, self.alpha
        if isinstance(p, float):
            if not isinstance(x, float):
                return False
            pred = p - a * g
            if not (math.isfinite(pred) and math.isfinite(x)):
                return not math.isfinite(x) and not (math.isfinite(p) and math.isfinite(g))
            return abs(x - pred) <= _tolerance(p, a * g, rounding)
        if isinstance(x, float) or x.shape != p.shape:
            return False
        with np.errstate(all="ignore"):
            pred = p - a * g
            same = x == pred
            if same.all():
                return True  # the common case once α is snapped (see _snap): one comparison
            same |= (x != x) & (pred != pred)
            if same.all():
                return True  # and once elements diverged: nan where both are nan (accepted below too)
            ok = np.abs(x - pred) <= _tolerance(p, a * g, rounding)
            bad = ~np.isfinite(pred)
        return bool(np.all(ok | (bad & ~np.isfinite(x))))

    def trajectory(self) -> list:
        """The sampled (step, iterate) points, the last iterate included."""
        points = list(self.dense) + list(self.spread)
        if not self.sampled:
            points = [(0, self.start)]
        last = self.predicted()
        if not points or points[-1][0] != self.steps:
            points.append((self.steps, last))
        return points


#: Elements of an array chain matched one by one at most, when some of its values repeat.
_SUBSET_LOOP_MAX = 5000


def _subset_step(chain: Chain, x: np.ndarray, g: np.ndarray):
    """(x, g) over the whole array chain when ``x`` is its next iterate with elements left out, else None.

    Vectorized GD that stops its converged or diverged elements (``x[active] -= α·f′(x[active])``,
    ``x = x[np.abs(x) < 1e6]``) evaluates an ordered subset of the predicted iterate. The elements
    left out keep their value from then on (a zero step), so each is still one run from its start;
    before, each shrink started new runs in mid-trajectory.
    """
    with np.errstate(all="ignore"):
        pred = chain.x - chain.alpha * chain.g
    keep = np.isin(pred, x)
    if int(keep.sum()) != x.size or not np.array_equal(pred[keep], x):
        if pred.size > _SUBSET_LOOP_MAX:
            return None
        # Values that repeat (elements converged to the same float): match in order, one by one.
        keep = np.zeros(pred.size, dtype=bool)
        i = 0
        values = x.tolist()
        for j, value in enumerate(pred.tolist()):
            if i < len(values) and value == values[i]:
                keep[j] = True
                i += 1
        if i != len(values):
            return None
    whole_g = np.zeros_like(pred)
    whole_g[keep] = g
    return pred, whole_g


def _tolerance(p, step, rounding: float = 0.0):
    """How far a student's iterate may be from ``p − step`` (floats or arrays) and still be that GD step.

    The first two terms allow for how the update was written (``x - a*g``,
    ``x - g*a``, ``x + (-a)*g``…) in float64. A student computing in a
    coarser type (float32 arrays or scalars) rounds ``a·g`` and the
    subtraction at that type's precision: each of the two roundings moves the
    result by at most ``rounding``/2 of the magnitudes involved, which the
    last term allows for twice over. ``rounding`` is 0 for float64 streams,
    so their tolerance is exactly what it always was.
    """
    if isinstance(p, float):
        tol = 1e-9 * max(1.0, abs(p)) + 1e-6 * abs(step)
        return tol + 2 * rounding * (abs(p) + abs(step)) if rounding else tol
    tol = 1e-9 * np.maximum(1.0, np.abs(p)) + 1e-6 * np.abs(step)
    return tol + 2 * rounding * (np.abs(p) + np.abs(step)) if rounding else tol


def _in_step(gap: int, next_gap: int) -> bool:
    """Whether a third point ``next_gap`` calls after a pair's second keeps the pair's pace (``gap`` calls apart).

    A run's points come at a steady pace: one call apart when a run is stepped on its
    own (two or three with a print or tolerance test of fprime(x) in between), N apart
    when N runs are stepped in lock-step. Starts of runs stepped one after another are
    a whole run apart, and one of them can happen to lie one α-step from the previous
    start (a grid of starts -5, -4 with f'(-5) = -100 and α = 0.01), whose next point
    then comes one call later: that pace changes, so those starts never make a run.
    """
    return abs(next_gap - gap) <= 3 + gap // 8


def _as_float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _same(a, b) -> bool:
    if isinstance(a, float):
        return isinstance(b, float) and (a == b or (math.isnan(a) and math.isnan(b)))
    return not isinstance(b, float) and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def _snap(a, p, g, x, rounding: float = 0.0):
    """α as the student most likely wrote it: (p − x)/g rounded to 12 significant digits, if that reproduces x.

    Recovering the literal (0.01, not 0.010000000000000002, one α for a whole
    array rather than one per element) lets the next prediction p − α·g
    equal the student's iterate exactly, which is the observer's fast path.

    With ``rounding`` (a stream computed in float32, see :meth:`ChainBuilder.note_precision`)
    (p − x)/g is only good to about ``rounding``·|p|/|α·g|, so 12 digits recover
    nothing: the shortest literal (1 to 7 significant digits) whose step
    reproduces x within that stream's tolerance is taken instead.
    """
    if rounding:
        centre = a if isinstance(a, float) else float(np.median(a))
        for digits in range(1, 8):
            r = float(f"{centre:.{digits}g}")
            if r and _reproduces(r, p, g, x, rounding):
                return r
    if isinstance(a, float):
        r = float(f"{a:.12g}")
        return r if p - r * g == x else a
    r = float(f"{float(np.median(a)):.12g}")
    return r if _reproduces(r, p, g, x) else a


def _reproduces(r: float, p, g, x, rounding: float = 0.0) -> bool:
    """Whether the step α = ``r`` from ``p`` with gradient ``g`` gives ``x`` within the tolerance."""
    with np.errstate(all="ignore"):
        step = r * g
        return bool(np.all(np.abs(x - (p - step)) <= _tolerance(p, step, rounding)))


def _pair_alpha(p, g, x, rounding: float = 0.0):
    """α with x = p − α·g, or None if no plausible constant step links them."""
    if isinstance(p, float):
        if not isinstance(x, float) or g == 0 or not math.isfinite(g):
            return None
        a = (p - x) / g
        return _snap(a, p, g, x, rounding) if math.isfinite(a) and 1e-8 <= abs(a) <= 1e4 else None
    with np.errstate(all="ignore"):
        if isinstance(x, float) or x.shape != p.shape:
            return None
        a = (p - x) / g
        good = np.isfinite(a) & (np.abs(a) >= 1e-8) & (np.abs(a) <= 1e4)
        if not good.any():
            return None
        if not good.all():
            a = np.where(good, a, np.median(a[good]))
        return _snap(a, p, g, x, rounding)


class ChainBuilder:
    """Follows the chains of one stream of evaluations.

    Args:
        max_runs: runs (array elements) followed at most; then :attr:`full` is set and later chains are not
            followed, but for the first elements of new array chains (``array_quota`` each, ``extra_runs``
            in all; by default a hundredth and a tenth of ``max_runs``).
        max_samples: floats kept in trajectory samples at most; later chains keep only start and end.
    """

    def __init__(self, max_runs: int = 100_000, max_samples: int = 500_000,
                 array_quota: int | None = None, extra_runs: int | None = None) -> None:
        self.max_runs = max_runs
        # Once max_runs are followed, a new array chain is still followed (its elements step
        # together, at no cost per element) with up to array_quota of its elements reported,
        # extra_runs more in all: a script that steps 100 000 starts as one array per α has
        # each α seen, not only the first (1000 each, 10 000 in all, for the default bound).
        self.array_quota = max_runs // 100 if array_quota is None else array_quota
        self.extra_runs = max_runs // 10 if extra_runs is None else extra_runs
        self.samples_left = max_samples
        self.chains: list[Chain] = []  # confirmed, in order of confirmation
        self.runs = 0
        self.full = False  # the bound was reached: later chains were not followed
        self.unfollowed = 0  # evaluations after that which extended no followed chain
        self.calls = 0
        self._recent: list[Chain] = []  # most recently extended first, at most WINDOW
        # Scalar chains by their exact next iterate; several when runs stepped in lock-step
        # have met (all converged to one minimum), so each keeps getting its own steps.
        self._by_pred: dict[float, list[Chain]] = {}
        self._tentative: list[Chain] = []  # chains of 1 or 2 points, oldest first
        self._previous = None
        self._last: Chain | None = None  # the chain extended by the previous call
        # Machine epsilon of the student's arithmetic when coarser than float64 (see
        # note_precision); 0 keeps float64 streams to their exact matching.
        self.rounding = 0.0
        # Wide pairing (lock-step scalar runs): a ring of unmatched scalar evaluations, and the
        # exact next point each plausible pair of them predicts -> (x0, g0, x1, g1, α, the call
        # indices of x0 and x1).
        self._ring_x = np.empty(WIDE)
        self._ring_g = np.empty(WIDE)
        self._ring_at = np.zeros(WIDE, dtype=np.int64)  # call index of each kept evaluation
        self._ring_size = 0
        self._pending: dict[float, tuple] = {}
        self._burst = 0  # unmatched scalar evaluations in a row (a few repeats in between allowed)
        self._unmatched_at = -10

    def note_precision(self, value) -> None:
        """Notes that the stream's arguments come as ``value`` does: a float32 (or float16) array or scalar.

        The builder works on float64 copies, but a student who iterates in float32
        rounds every update at float32's precision, so their chains match only within
        that precision (:func:`_tolerance`); a float64 argument changes nothing.
        """
        dtype = getattr(value, "dtype", None)
        if isinstance(dtype, np.dtype) and dtype.kind == "f" and dtype.itemsize < 8:
            self.rounding = max(self.rounding, float(np.finfo(dtype).eps))

    # -- the hot path ---------------------------------------------------------------
    def feed_scalar(self, x: float, g: float) -> None:
        """One scalar evaluation (both plain floats). The common case, a loop extending one chain, is kept short."""
        self.calls += 1
        c = self._last
        if c is not None and c.scalar and (c.successor is None or c.successor is c):
            p = c.x
            a = c.alpha
            pred = p - a * c.g
            if x == pred or (
                (x - x == 0 and pred - pred == 0 and abs(x - pred) <= 1e-9 * max(1.0, abs(p)) + 1e-6 * abs(a * c.g))
                # a diverged chain goes on through inf and nan (as Chain.matches decides)
                or (x - x != 0 and not (p - p == 0 and c.g - c.g == 0))
            ):
                step = c.steps
                if c.sampled and (step < DENSE or step % c.stride == 0):
                    c.sample(step, x)
                c.x = x
                c.g = g
                c.steps = step + 1
                self._previous = x
                return
            if x == self._previous:
                return  # the same point evaluated again (a tolerance test before the update)
        self._feed(x, g)

    def calls_of(self, func, other, general):
        """A wrapper of the gradient ``func`` that feeds each call with one float or one flat float64 array to this builder.

        The step that extends the chain of the previous call (the common case
        once α is snapped) is inlined here, one frame less per GD step; every
        other float call goes through :meth:`feed_scalar`, every other array
        call through :meth:`feed`; ``general(arg, result)`` feeds an array
        call whose result is not a float64 array of the argument's size, and
        ``other(x, rest, kwargs)`` handles every other call (lists, integers,
        several arguments).
        """
        feed_scalar = self.feed_scalar
        feed = self.feed
        f64 = np.float64
        ndarray, f8 = np.ndarray, np.dtype(np.float64)
        frombuffer = np.frombuffer
        builder = self

        def observed(x=_NOTHING, *rest, **kwargs):
            if rest or kwargs or x is _NOTHING:
                return other(x, rest, kwargs)
            kind = type(x)
            if kind is ndarray:
                if x.dtype != f8 or x.ndim != 1 or x.size < 2:
                    return other(x, rest, kwargs)
                # A vectorized GD step. The argument is kept as its bytes: in the common
                # case they are those of the chain's predicted next iterate, which then
                # stands for the argument (what feed() does when the last chain matches).
                before = x.tobytes()
                try:
                    result = func(x)
                except ArithmeticError:
                    # f′ overflowed here (np.seterr(all="raise"), math.exp): the run reached this
                    # point and cannot go on, so it ends diverged, not at the point before.
                    feed(frombuffer(before, dtype=f8).copy(), np.full(len(before) >> 3, np.nan))
                    raise
                if type(result) is not ndarray or result.dtype != f8 or result.shape != (len(before) >> 3,):
                    general(frombuffer(before, dtype=f8).copy(), result)
                    return result
                grad = result.copy()
                c = builder._last  # read after the call: student code may have called fprime itself
                if c is not None and not c.scalar:
                    ahead = c._ahead or c.ahead()
                    if before == ahead[0]:
                        pred = ahead[1]
                        step = c.steps
                        if c.sampled and (step < DENSE or step % c.stride == 0):
                            c.sample(step, pred)
                        c._ahead = None
                        c.x = pred
                        c.g = grad
                        c.steps = step + 1
                        builder._previous = pred
                        builder.calls += 1
                        return result
                feed(frombuffer(before, dtype=f8).copy(), grad)
                return result
            if kind is not float and kind is not f64:
                return other(x, rest, kwargs)
            try:
                result = func(x)
            except ArithmeticError:
                feed_scalar(float(x), math.nan)  # as above: the run ends here, diverged
                raise
            rkind = type(result)
            g = result if rkind is float else float(result) if rkind is f64 else _as_float(result)
            if kind is not float:
                x = float(x)
            c = builder._last
            if c is not None and c.scalar and (c.successor is None or c.successor is c) and (
                x == (p := c.x) - c.alpha * (cg := c.g)
                # a diverged chain going on through inf and nan, as in feed_scalar
                or (x - x != 0 and not (p - p == 0 and cg - cg == 0))
            ):
                step = c.steps
                if c.sampled and (step < DENSE or step % c.stride == 0):
                    c.sample(step, x)
                c.x = x
                c.g = g
                c.steps = step + 1
                builder._previous = x
                builder.calls += 1
                return result
            feed_scalar(x, g)
            return result

        return observed

    def feed(self, x, g) -> None:
        """One evaluation: floats, or flat float64 arrays of equal size (copies the caller will not change)."""
        self.calls += 1
        c = self._last
        if c is not None and not c.scalar and not isinstance(x, float) and c.matches(x, self.rounding):
            c.extend(x, g)
            self._previous = x
            return
        self._feed(x, g)

    # -- the general case (a port of matching by prediction, repeats and pairing) ----
    def _feed(self, x, g) -> None:
        scalar = isinstance(x, float)
        hit = None
        if scalar:
            last = self._last
            turn = last.successor if last is not None else None
            if turn is not None and turn is not last and turn.scalar and turn.matches(x, self.rounding):
                hit = turn  # lock-step runs: the next one's turn, even where the last one also matches
            else:
                indexed = self._by_pred.get(x)
                if indexed:
                    hit = next((c for c in indexed if c.matches(x, self.rounding)), None)
        if hit is None:
            hit = next((c for c in self._recent if c.matches(x, self.rounding)), None)
        if hit is not None:
            self._extend(hit, x, g)
            return
        if not scalar:
            for c in self._recent:
                if not c.scalar and c.x.ndim == 1 and 1 < x.size < c.x.size:
                    whole = _subset_step(c, x, g)
                    if whole is not None:
                        self._extend(c, *whole)
                        return
        # A converged chain's step can repeat x exactly, so the chains are tried
        # before an exact repeat counts as an extra call.
        if (self._previous is not None and _same(self._previous, x)) or any(_same(c.x, x) for c in self._recent):
            self._previous = x
            return  # the same point evaluated again (printing, a tolerance test)
        self._previous = x
        self._follow(None)
        if self.full:
            self.unfollowed += 1
        tentative = self._tentative
        if scalar and self._pending:
            wide = self._pending.pop(x, None)
            if wide is not None:
                x0, g0, x1, g1, a, at0, at1 = wide
                if _in_step(at1 - at0, self.calls - at1):
                    pair = Chain(x0, g0, sampled=False)
                    pair.alpha = a
                    pair.extend(x1, g1)
                    self._burst = 0
                    self._confirm(pair, x, g)
                    return
        hit = next((c for c in reversed(tentative)
                    if c.steps == 2 and _in_step(c.gap, self.calls - c.at) and c.matches(x, self.rounding)), None)
        if hit is not None:
            tentative.remove(hit)
            self._confirm(hit, x, g)
            return
        pairs = []
        # The WINDOW most recent unmatched points, not the WINDOW most recent entries: the pairs
        # of a few runs started in lock-step crowd their own first points out of the window,
        # and each run but the first would start a step late, at x₁.
        singles = 0
        for c in reversed(tentative):
            if c.steps != 1:
                continue
            singles += 1
            if singles > WINDOW:
                break
            a = _pair_alpha(c.x, c.g, x, self.rounding)
            if a is not None:
                pair = Chain(c.x, c.g, sampled=False)
                pair.alpha = a
                pair.extend(x, g)
                pair.gap, pair.at = self.calls - c.at, self.calls
                pairs.append(pair)
        tentative.extend(reversed(pairs))  # in the order of the points they pair, oldest first
        single = Chain(x, g, sampled=False)
        single.at = self.calls
        tentative.append(single)
        # A pair past its pace can no longer be confirmed (see _in_step), and a first point
        # older than a few rounds of a dozen runs will not be paired: both go. Before, the
        # oldest entries went at a fixed count, and in a burst of new pairs that was the pair
        # a run started in lock-step with a few others needed: it started a step late.
        now = self.calls
        tentative[:] = [c for c in tentative
                        if (now - c.at <= 4 * WINDOW if c.steps == 1 else _in_step(c.gap, now - c.at) or now - c.at < c.gap)]
        if len(tentative) > TENTATIVE_MAX:
            singles_kept = [c for c in tentative if c.steps == 1][-WINDOW:]
            pairs_kept = [c for c in tentative if c.steps != 1][len(singles_kept) - TENTATIVE_MAX:]
            keep = {id(c) for c in pairs_kept} | {id(c) for c in singles_kept}
            tentative[:] = [c for c in tentative if id(c) in keep]
        if scalar:
            self._pair_wide(x, g)

    def _pair_wide(self, x: float, g: float) -> None:
        """Pairs an unmatched scalar evaluation with every kept one, then keeps it (lock-step runs).

        Only within a burst of more than WINDOW unmatched evaluations: a lone new run
        (its first two points) pairs within the window above, and a burst is what many
        runs stepped in lock-step look like until their chains are confirmed. A pair is
        kept by the exact next point it predicts, with α snapped as :func:`_snap` does, so
        its third point confirms it by one lookup; a pair whose α does not reproduce its
        second point exactly is not kept (the window above still tries it with tolerance).
        """
        self._burst = self._burst + 1 if self.calls - self._unmatched_at <= 3 else 1
        self._unmatched_at = self.calls
        n = min(self._ring_size, WIDE)
        if self._burst > WINDOW and n and math.isfinite(x) and math.isfinite(g) and not self.rounding:
            px, pg = self._ring_x[:n], self._ring_g[:n]
            with np.errstate(all="ignore"):
                a = (px - x) / pg
                # A first step of a run is a real move: points a few ulps apart (runs that have
                # all converged to one minimum) would pair with any α and confirm by accident.
                keep = (np.isfinite(a) & (np.abs(a) >= 1e-8) & (np.abs(a) <= 1e4)
                        & (np.abs(px - x) > 1e-12 * max(1.0, abs(x))))
                # α as the shortest of 3, 6 or 12 significant digits that gives x exactly (a literal
                # such as 0.01 first): from a point near a minimum f′ is small, (p − x)/g misses the
                # script's α in the 12th digit, and that α predicts the next point an ulp off.
                magnitude = np.floor(np.log10(np.abs(np.where(keep, a, 1.0))))
                r = a
                found = np.zeros_like(keep)
                for digits in (2, 5, 11):
                    scale = 10.0 ** (digits - magnitude)
                    snapped = np.round(a * scale) / scale
                    exact = keep & ~found & (px - snapped * pg == x)
                    r = np.where(exact, snapped, r)
                    found |= exact
                keep = found
                idx = np.flatnonzero(keep)
                if idx.size:
                    pending = self._pending
                    if len(pending) + idx.size > PENDING_MAX:
                        pending.clear()
                    r = r[idx]
                    at = self._ring_at[:n][idx].tolist()
                    pending.update(zip((x - r * g).tolist(), zip(px[idx].tolist(), pg[idx].tolist(), [x] * idx.size,
                                                                 [g] * idx.size, r.tolist(), at, [self.calls] * idx.size)))
        slot = self._ring_size % WIDE
        self._ring_x[slot] = x
        self._ring_g[slot] = g
        self._ring_at[slot] = self.calls
        self._ring_size += 1

    def _extend(self, chain: Chain, x, g) -> None:
        if self._last is not None:
            self._last.successor = chain
        if chain.scalar:
            key = chain.predicted()
            indexed = self._by_pred.get(key)
            if indexed is not None:
                if chain in indexed:
                    indexed.remove(chain)
                if not indexed:
                    del self._by_pred[key]
        chain.extend(x, g)
        self._follow(chain)
        self._previous = x
        recent = self._recent
        if not recent or recent[0] is not chain:
            if chain in recent:
                recent.remove(chain)
            recent.insert(0, chain)
            del recent[WINDOW:]

    def _follow(self, chain: Chain | None) -> None:
        """Makes ``chain`` the one the fast path tries first; the previous one is indexed by its prediction."""
        last = self._last
        if last is not None and last is not chain and last.scalar:
            nxt = last.predicted()
            if nxt - nxt == 0:  # finite: a nan key could never be found (nor removed) again
                self._by_pred.setdefault(nxt, []).append(last)
        self._last = chain

    def _confirm(self, pair: Chain, x, g) -> None:
        """A pair (x₀, x₁ with α) whose prediction ``x`` just came true becomes a followed chain."""
        size = 1 if isinstance(x, float) else int(x.size)
        reported = None
        if self.runs + size > self.max_runs:
            self.full = True
            if size == 1:
                return
            # One call's array crosses the bound: it is followed (its elements step together, at
            # no cost per element) and its first elements up to the bound are reported (at least
            # array_quota, within extra_runs past the bound). Dropping it lost every run of a
            # script that steps 3 × 34 000 starts as one array.
            room = self.max_runs - self.runs
            reported = min(size, max(room, min(self.array_quota, self.max_runs + self.extra_runs - self.runs)))
            if reported <= 0:
                return
            size = reported
        self.runs += size
        floats = size * (DENSE + SPREAD + 2)
        sampled = floats <= self.samples_left
        if sampled:
            self.samples_left -= floats
        chain = Chain(pair.start, pair.g, sampled)
        chain.reported = reported
        chain.alpha = pair.alpha
        chain.extend(pair.x, pair.g)
        chain.index = len(self.chains)
        self.chains.append(chain)
        self._extend(chain, x, g)

    # -- the answer ----------------------------------------------------------------
    def runs_data(self) -> dict:
        """Every followed run as plain data: flat arrays, one entry per run (array elements split)."""
        # Fields per run, as a list of parts in chain order: a stretch of scalar chains is
        # one part of Python numbers (no numpy call per chain: a script of many scalar runs
        # has thousands), an array chain is a part of numpy arrays.
        names = ("alpha", "start", "last", "steps", "chain", "points", "trajectory_steps", "trajectory_values")
        parts: list[dict] = []
        scalars: dict | None = None
        for chain in self.chains:
            points = chain.trajectory()
            if chain.scalar:
                if scalars is None:
                    scalars = {name: [] for name in names}
                    parts.append(scalars)
                scalars["alpha"].append(chain.alpha)
                scalars["start"].append(chain.start)
                scalars["last"].append(chain.predicted())
                scalars["steps"].append(chain.steps)
                scalars["chain"].append(chain.index)
                scalars["points"].append(len(points))
                scalars["trajectory_steps"].extend(k for k, _ in points)
                scalars["trajectory_values"].extend(v for _, v in points)
                continue
            scalars = None
            n = chain.size if chain.reported is None else chain.reported
            with np.errstate(all="ignore"):
                values = np.array([np.atleast_1d(np.asarray(v, dtype=float)).ravel()[:n] for _, v in points])
                alpha = np.asarray(chain.alpha, dtype=float)
                parts.append({
                    "alpha": (np.broadcast_to(alpha, (chain.size,)) if alpha.ndim == 0 else alpha.ravel())[:n],
                    "start": np.atleast_1d(np.asarray(chain.start, dtype=float)).ravel()[:n],
                    "last": np.atleast_1d(np.asarray(chain.predicted(), dtype=float)).ravel()[:n],
                    "steps": np.full(n, chain.steps, dtype=np.int64),
                    "chain": np.full(n, chain.index, dtype=np.int64),
                    "points": np.full(n, len(points), dtype=np.int64),
                    # run i's trajectory is column i of values, at the same steps
                    "trajectory_steps": np.tile(np.array([k for k, _ in points], dtype=np.int64), n),
                    "trajectory_values": values.T.ravel(),
                })

        def cat(name, dtype):
            arrays = [np.asarray(part[name], dtype=dtype).ravel() for part in parts]
            return np.concatenate(arrays) if arrays else np.empty(0, dtype=dtype)

        counts = cat("points", np.int64)
        offsets = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(counts, dtype=np.int64)])
        return {
            "alpha": cat("alpha", float),
            "start": cat("start", float),
            "last": cat("last", float),
            "steps": cat("steps", np.int64),
            "chain": cat("chain", np.int64),
            "trajectory_offsets": offsets,
            "trajectory_steps": cat("trajectory_steps", np.int64),
            "trajectory_values": cat("trajectory_values", float),
            "calls": self.calls,
            "full": self.full,
            "unfollowed": self.unfollowed,
            "max_runs": self.max_runs,
        }
