"""Child plugin for Problem 5's correctness checks: one request per case instead of one per product.

Loaded (trusted) in every Problem 5 child through the rubric's ``plugins``.
Without it, each ``Convolution1d(k)``, ``A @ x``, ``A.T`` and ``A.T @ y`` of
the suite is one request to the child (about 450 per student, 200 of them the
handout's GD loop). These ops make exactly the calls those requests made, in
the same order and through the same :meth:`Child.student_call` (so an error
reads the same, with the student's file:line), and answer with what each
request would have answered: the value as the judge would have decoded it, a
handle for anything else, or the student's error. A crash or a hang ends the
case's one request as it ended the product's, so it is that case's verdict
alone. The judge (``test_p5.py``) still compares every value with its own
reference; nothing here decides anything.

Ops:

* ``p5_case`` {module, k, n, steps, keep} → one case: ``Convolution1d(k)`` (or
  ``(k, n)``, as the suite retries), then each step of ``steps``, a list of
  ``["forward", x]`` (``A @ x``) and ``["transposed", y]`` (``A.T @ y``).
  The answer is ``{"error": e}`` (the construction failed), ``{"operator":
  A}`` (``A`` is plain data: the suite computes with it itself), or
  ``{"steps": [...]}`` with one ``{"value": v}`` or ``{"error": e}`` per step,
  none after an error, or a last ``{"T": T}`` when ``A.T`` is plain data (the
  suite multiplies it itself), and ``"A"``: the operator's handle, for
  products beyond the planned ones, or None (the child let go of it) when
  every step answered and ``keep`` is false.
* ``p5_gd`` {module, k, n, b, lam, alpha, steps} → the handout's GD loop on
  the student's operator, with the inputs and outputs of every product
  (``xs``, ``forward``, ``grads``, ``transposed``, ``final``), so the judge
  can replay the loop with its own arithmetic and check each step;
  ``{"error": e}`` where the student's code raised (the loop stops there, as
  it did); or ``{"fallback": why}`` when a product is not a plain 1-D float
  array, which the loop would have treated on the judge's side: the judge
  then runs the loop itself.
"""

from __future__ import annotations

import gc
import operator
from pathlib import Path

import numpy as np

from grader.sandbox import protocol
from grader.sandbox.inside import loader


def register(registry, **options):
    if options:
        raise ValueError(f"p5_products_plugin: unknown option(s) {', '.join(sorted(options))}")
    registry.add_op("p5_case", _op_case)
    registry.add_op("p5_gd", _op_gd)


class _Plain(Exception):
    """The request's answer would have been plain data, and the suite would have gone on with it itself."""

    def __init__(self, value) -> None:
        super().__init__(f"plain data ({type(value).__name__})")
        self.value = value


class _Fallback(Exception):
    """The suite would have gone on locally in a way this op does not replay: the judge runs it the slow way."""


def _student_error(exc: loader.StudentCodeError) -> dict:
    """The error as the child would have answered the single request."""
    return {"message": str(exc), "kind": exc.kind, "where": exc.where}


class _Requests:
    """The requests the suite's proxies made, made here in the same order."""

    def __init__(self, child, module) -> None:
        self.child = child
        self.module = module

    def _object(self, wrapped):
        """The object behind a handle; plain data is what the suite would have received and used itself."""
        if not isinstance(wrapped, protocol.RemoteRef):
            raise _Plain(wrapped)
        return self.child.objects[wrapped.id]

    def construct(self, k: np.ndarray, n: int):
        """``Convolution1d(k)``, then ``Convolution1d(k, n)`` if the error is about arguments (as the suite does)."""
        child = self.child
        cls = child.student_call(getattr, self.module, "Convolution1d", doing="reading attribute .Convolution1d")
        cls = self._object(cls)
        name = getattr(cls, "__name__", type(cls).__name__)
        try:
            made = child.student_call(cls, k, doing=f"calling {name}")
        except loader.StudentCodeError as exc:
            if "argument" not in str(exc):
                raise
            # A fresh copy, as a second request would have decoded one.
            made = child.student_call(cls, np.array(k), n, doing=f"calling {name}")
        return made, self._object(made)

    def matmul(self, left, right):
        """``left @ right`` as the ``binop`` request computes it; returns what its answer would have carried."""
        doing = f"computing {loader.operand_name(left)} @ {type(right).__name__}"
        wrapped = self.child.student_call(operator.matmul, left, right, doing=doing)
        if isinstance(wrapped, protocol.RemoteRef):
            return wrapped
        # A snapshot, as the answer was: a student may hand back a buffer it reuses in the next call.
        return protocol.snapshot(wrapped)

    def transposed(self, A):
        """``A.T`` as the ``getattr`` request reads it (the object behind the handle)."""
        try:
            return self._object(self.child.student_call(getattr, A, "T", doing="reading attribute .T"))
        except loader.StudentCodeError as exc:
            init = _method_where(self.child, type(A), "__init__")
            if "has no attribute 'T'" not in str(exc) or not init:
                raise
            # No student frame raised it, so the error names no line: name the constructor that
            # should have set it (`T = Transposed…(k)` without `self.` is the usual slip).
            raise loader.StudentCodeError(
                f"{exc} Your constructor ({init}) sets no self.T: the handout's loop reads A.T, "
                "so set self.T = TransposedConvolution1d(...) there (or define T as a property).",
                kind=exc.kind, where=init.split(" in ")[0],
            ) from None


def _op_case(child, request):
    run = _Requests(child, child.unwrap(request["module"]))
    before = set(child.objects)
    try:
        handle, A = run.construct(request["k"], int(request["n"]))
    except loader.StudentCodeError as exc:
        return {"error": _student_error(exc)}
    except _Plain as plain:
        return {"operator": plain.value}
    steps: list[dict] = []
    for kind, vector in request["steps"]:
        try:
            left = A if kind == "forward" else run.transposed(A)
            steps.append({"value": run.matmul(left, vector), "where": _defined(child, left)})
        except loader.StudentCodeError as exc:
            steps.append({"error": _student_error(exc)})
            break
        except _Plain as plain:
            steps.append({"T": plain.value})
            break
    if not request.get("keep") and len(steps) == len(request["steps"]) and all("value" in step for step in steps):
        # Every planned product answered: nothing asks for this operator again, so the child lets
        # go of it (and of its A.T). Kept, each case's operator stayed alive to the end, and a
        # correct answer with a 32 MiB workspace per operator ran out of memory by the 40th case,
        # where a real run, with one operator, never does. A product's own handle stays.
        answered = {step["value"].id for step in steps if isinstance(step["value"], protocol.RemoteRef)}
        for key in set(child.objects) - before - answered:
            del child.objects[key]
        A = left = None
        gc.collect(1)  # an operator in a reference cycle (A.T.T is A) is freed now, not at a full collection
        return {"A": None, "steps": steps}
    # The operator's handle too: the suite may go on with products it did not plan (through its proxies).
    return {"A": handle, "steps": steps}


def _defined(child, operand) -> str:
    """Where the student's ``__matmul__`` of ``operand`` is defined (``conv1D.py:23 in Convolution1d.__matmul__``), or ""."""
    return _method_where(child, type(operand), "__matmul__")


def _method_where(child, cls, name: str) -> str:
    """Where the student's method ``name`` of ``cls`` is defined (``conv1D.py:23 in Convolution1d.__matmul__``), or ""."""
    method = getattr(cls, name, None)
    code = getattr(method, "__code__", None)
    if code is None:
        return ""
    try:
        rel = Path(code.co_filename).resolve().relative_to(Path(child.student_root).resolve())
    except (ValueError, OSError):
        return ""  # not the student's (inherited from a library class)
    return f"{rel.as_posix()}:{code.co_firstlineno} in {getattr(method, '__qualname__', '__matmul__')}"


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
    run = _Requests(child, module)
    _, A = run.construct(request["k"], n)
    xs, forward, grads, transposed = [], [], [], []
    x = np.zeros(n)
    # The handout's loop, x = x - alpha * (A.T @ (huber_grad(A @ x - b)) + lam * x), one step at a time in
    # the order Python evaluates it: A.T is read before A @ x.
    for _ in range(steps):
        T = run.transposed(A)
        xs.append(x)
        # Copies, as each request decoded its own: the student's code may change its argument in place.
        # Then the handout's loop, which goes on with the same x (`lam * x`, `x - …`), would read the
        # changed one: said, as the loop's answer cannot be the reference's.
        arg = x.copy()
        ax = _as_received(run.matmul(A, arg), m)
        if not np.array_equal(arg, x, equal_nan=True):
            return {"mutated": {"product": "A @ x", "where": _defined(child, A)}}
        g = huber_grad(ax - b)
        # A.T's argument is a temporary the loop never reads again: changing it changes nothing.
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
    try:
        return _gd(child, child.unwrap(request["module"]), request)
    except loader.StudentCodeError as exc:
        return {"error": _student_error(exc)}
    except (_Plain, _Fallback) as why:
        return {"fallback": str(why)}
