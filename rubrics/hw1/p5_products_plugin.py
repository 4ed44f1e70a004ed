"""Child plugin for Problem 5's correctness checks: many products in one request.

Loaded (trusted) in every Problem 5 child through the rubric's ``plugins``.
Without it, each ``Convolution1d(k)``, ``A @ x``, ``A.T`` and ``A.T @ y`` of
the suite is one request to the child (about 450 per student, 200 of them the
handout's GD loop). These ops make exactly the calls those requests made, in
the same order and through the same :meth:`Child.student_call` (so an error
reads the same, with the student's file:line), and answer with what each
request would have answered: the product's value as the judge would have
decoded it, a handle for anything else, or the student's error. The judge
(``test_p5.py``) still compares every value with its own reference; nothing
here decides anything.

Ops:

* ``p5_products`` {module, cases, budget} → one entry per case run, in order:
  each case is ``{k, n, steps}`` with ``steps`` a list of ``["forward", x]``
  (``A @ x``) and ``["transposed", y]`` (``A.T @ y``). An entry is
  ``{"error": e}`` (the construction failed), ``{"steps": [...]}`` with one
  ``{"value": v}`` or ``{"error": e}`` per step (none after an error), or
  ``{"fallback": why}`` when the suite would have done something locally
  (``A`` or ``A.T`` came back as plain data): the judge then runs that case
  through its proxies. Cases left when ``budget`` seconds ran out are not
  answered (the list is shorter), so a case that hangs costs the judge only
  that case: it runs it through its proxies and meets the time limit there.
* ``p5_gd`` {module, k, n, b, lam, alpha, steps, budget} → the handout's GD
  loop on the student's operator, with the inputs and outputs of every
  product (``xs``, ``forward``, ``grads``, ``transposed``, ``final``), so the
  judge can replay the loop with its own arithmetic and check each step; or
  ``{"fallback": why}`` when anything is not a plain 1-D float array (an
  error, another type, time up): the judge then runs the loop itself.
"""

from __future__ import annotations

import operator
import signal
import time

import numpy as np

from grader.sandbox import protocol
from grader.sandbox.inside import loader


def register(registry, **options):
    if options:
        raise ValueError(f"p5_products_plugin: unknown option(s) {', '.join(sorted(options))}")
    registry.add_op("p5_products", _op_products)
    registry.add_op("p5_gd", _op_gd)


class _OutOfTime(BaseException):
    """Raised into the running case when the batch's budget is spent (not an Exception: student code's
    ``except Exception`` must not swallow it)."""


class _Fallback(Exception):
    """The suite would not have sent the next request to the child: the judge must run this the slow way."""


class _Budget:
    """A soft time limit for one batch: stops the running case once ``seconds`` have passed.

    The problem's time limit (the judge's) stays the real one; this only
    leaves the judge enough of it to run an unfinished case through its
    proxies, so a case that hangs ends as a timeout of that case alone, as it
    did when every case was its own request. Armed only where the student's
    code has not claimed SIGALRM or the interval timer; a student who catches
    it anyway just runs into the judge's limit.
    """

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + max(float(seconds), 0.0)
        self.fired = False
        self.armed = False
        self._timer = False

    def __enter__(self) -> "_Budget":
        if signal.getsignal(signal.SIGALRM) is signal.SIG_DFL and signal.getitimer(signal.ITIMER_REAL)[0] == 0:
            signal.signal(signal.SIGALRM, self._on_alarm)
            signal.setitimer(signal.ITIMER_REAL, max(self.deadline - time.monotonic(), 0.001))
            self._timer = True
        return self

    def _on_alarm(self, signum, frame) -> None:
        self.fired = True
        if self.armed:
            self.armed = False
            raise _OutOfTime()

    @property
    def spent(self) -> bool:
        return self.fired or time.monotonic() >= self.deadline

    def __exit__(self, *exc) -> None:
        self.armed = False
        if self._timer:
            signal.setitimer(signal.ITIMER_REAL, 0)
            if signal.getsignal(signal.SIGALRM) == self._on_alarm:
                signal.signal(signal.SIGALRM, signal.SIG_DFL)


def _student_error(exc: loader.StudentCodeError) -> dict:
    """The error as the child would have answered the single request."""
    return {"message": str(exc), "kind": exc.kind, "where": exc.where}


class _Case:
    """The requests the suite's proxies made for one case, made here in the same order."""

    def __init__(self, child, module) -> None:
        self.child = child
        self.module = module

    def _handle(self, value, what: str):
        """The object behind a wrapped value; plain data means the suite would have gone on locally."""
        if not isinstance(value, protocol.RemoteRef):
            raise _Fallback(f"{what} is plain data ({type(value).__name__})")
        return self.child.objects[value.id]

    def construct(self, k: np.ndarray, n: int):
        """``Convolution1d(k)``, then ``Convolution1d(k, n)`` if the error is about arguments (as the suite does)."""
        child = self.child
        cls = self._handle(
            child.student_call(getattr, self.module, "Convolution1d", doing="reading attribute .Convolution1d"),
            "Convolution1d",
        )
        name = getattr(cls, "__name__", type(cls).__name__)
        try:
            made = child.student_call(cls, k, doing=f"calling {name}")
        except loader.StudentCodeError as exc:
            if "argument" not in str(exc):
                raise
            # A fresh copy, as a second request would have decoded one.
            made = child.student_call(cls, np.array(k), n, doing=f"calling {name}")
        return self._handle(made, "Convolution1d(k)")

    def matmul(self, left, right):
        """``left @ right`` as the ``binop`` request computes it; returns what its answer would have carried."""
        doing = f"computing {type(left).__name__} @ {type(right).__name__}"
        wrapped = self.child.student_call(operator.matmul, left, right, doing=doing)
        if isinstance(wrapped, protocol.RemoteRef):
            return wrapped
        # A snapshot, as the answer was: a student may hand back a buffer it reuses in the next call.
        return protocol.decode(protocol.encode(wrapped))

    def transposed(self, A):
        """``A.T`` as the ``getattr`` request reads it (the object behind the handle)."""
        return self._handle(self.child.student_call(getattr, A, "T", doing="reading attribute .T"), "A.T")


def _run_case(child, module, case: dict) -> dict:
    run = _Case(child, module)
    try:
        A = run.construct(case["k"], int(case["n"]))
    except loader.StudentCodeError as exc:
        return {"error": _student_error(exc)}
    steps = []
    for kind, vector in case["steps"]:
        try:
            left = A if kind == "forward" else run.transposed(A)
            steps.append({"value": run.matmul(left, vector)})
        except loader.StudentCodeError as exc:
            steps.append({"error": _student_error(exc)})
            break
    return {"steps": steps}


def _op_products(child, request):
    module = child.unwrap(request["module"])
    answers: list[dict] = []
    with _Budget(request["budget"]) as budget:
        try:
            for case in request["cases"]:
                if budget.spent:
                    break
                try:
                    budget.armed = True
                    entry = _run_case(child, module, case)
                except _Fallback as why:
                    entry = {"fallback": str(why)}
                finally:
                    budget.armed = False
                if budget.fired:
                    break  # the case was interrupted (and perhaps answered anyway): the judge reruns it
                answers.append(entry)
        except _OutOfTime:
            pass
    return answers


# -- the handout's GD loop -----------------------------------------------------
def huber_grad(x):
    return x * (np.abs(x) <= 1) + np.sign(x) * (np.abs(x) > 1)


def _as_received(value, length: int) -> np.ndarray:
    """A product (as its answer carried it) that the fast loop can go on with: a 1-D float array of the right length."""
    if not isinstance(value, np.ndarray):
        raise _Fallback(f"a product is a {type(value).__name__}")
    if value.dtype != np.float64 or value.shape != (length,):
        raise _Fallback(f"a product has dtype {value.dtype} and shape {value.shape}")
    return value


def _gd(child, module, request) -> dict:
    n, steps = int(request["n"]), int(request["steps"])
    lam, alpha = float(request["lam"]), float(request["alpha"])
    b = request["b"]
    m = len(b)
    run = _Case(child, module)
    A = run.construct(request["k"], n)
    xs, forward, grads, transposed = [], [], [], []
    x = np.zeros(n)
    # The handout's loop, x = x - alpha * (A.T @ (huber_grad(A @ x - b)) + lam * x), one step at a time in
    # the order Python evaluates it: A.T is read before A @ x.
    for _ in range(steps):
        T = run.transposed(A)
        xs.append(x)
        # Copies, as each request decoded its own: the student's code may change its argument in place.
        ax = _as_received(run.matmul(A, x.copy()), m)
        g = huber_grad(ax - b)
        aty = _as_received(run.matmul(T, g.copy()), n)
        forward.append(ax)
        grads.append(g)
        transposed.append(aty)
        x = x - alpha * (aty + lam * x)
    xs.append(x)
    final = _as_received(run.matmul(A, x.copy()), m)
    return {"xs": np.array(xs), "forward": np.array(forward), "grads": np.array(grads),
            "transposed": np.array(transposed), "final": final}


def _op_gd(child, request):
    module = child.unwrap(request["module"])
    with _Budget(request["budget"]) as budget:
        try:
            try:
                budget.armed = True
                answer = _gd(child, module, request)
            finally:
                budget.armed = False
        except _OutOfTime:
            return {"fallback": "the time ran out"}
        except (_Fallback, loader.StudentCodeError) as why:
            return {"fallback": str(why)}
        if budget.fired:
            return {"fallback": "the time ran out"}
    return answer
