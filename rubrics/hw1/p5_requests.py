"""Judge side of Problem 5's correctness checks: the student's operator, one request per case.

Loaded by ``test_p5.py`` (course content beside it, pre-imported by the judge
workers). :class:`Case` builds the student's ``A`` and runs a case's products
in the child in one request (``p5_products_plugin.py`` there makes the calls
the suite's proxies made, in the same order) and replays the answers where
the suite asks for ``A @ x`` and ``A.T @ y``, raising the student's error
where that product's own request would have. A crash or the time running out
ends the case's request, and so the test, as it ended the product's.
:func:`gd_in_child` runs the handout's GD loop there and replays it here with
the judge's own arithmetic. Where the child cannot answer that way (no
plugin, a grader fault, values the suite would have handled itself) the
proxies of :mod:`grader.sandbox.outside.remote` do it, as they once did for
every case. Nothing the child answers is trusted beyond being the student's
product: every value is compared with the reference in the suite.
"""

import numpy as np

from grader.sandbox.outside.remote import Remote
from grader.sandbox.outside.session import GraderError, StudentError


def huber_loss(x):
    return np.sum(0.5 * x**2 * (np.abs(x) <= 1) + (np.abs(x) - 0.5) * (np.abs(x) > 1))


def huber_grad(x):
    return x * (np.abs(x) <= 1) + np.sign(x) * (np.abs(x) > 1)


def operator(student, k, n):
    """Builds the student's A for filter k, however their constructor is spelled."""
    conv = student.module(required=["Convolution1d"])
    try:
        return conv.Convolution1d(k)
    except StudentError as exc:
        if "argument" not in str(exc):
            raise
        # Some students also pass n; the handout's constructor takes only k.
        return conv.Convolution1d(k, n)


# -- one request per case ------------------------------------------------------
def _error(data) -> Exception:
    """A recorded failure as the single request would have raised it (see ChildSession._roundtrip)."""
    data = data if isinstance(data, dict) else {}
    message, kind = str(data.get("message", "unknown error")), str(data.get("kind", "exception"))
    if kind in ("protocol", "grader"):
        return GraderError(message)
    where = data.get("where")
    return StudentError(message, kind=kind, where=where if isinstance(where, str) else None)


def _request(student, message: dict):
    """The plugin's answer, or None where the proxies must do the work (no such op, a grader fault).

    A handle that sends no requests at all (the in-process baseline of
    ``benchmarks/class_throughput.py``, whose ``module()`` is the student's
    module itself) also gets None, and its objects are used directly.
    """
    request = getattr(student, "request", None)
    if request is None:
        return None
    try:
        return request(message)
    except GraderError:
        return None


def _valid(answer, planned: int) -> bool:
    """Whether an answer has the shape the plugin gives one case (anything else: ask through the proxies)."""
    if not isinstance(answer, dict):
        return False
    if "error" in answer:
        return isinstance(answer["error"], dict)
    if "operator" in answer:
        return True
    steps = answer.get("steps")
    if not isinstance(steps, list) or len(steps) > planned:
        return False
    if answer.get("A") is None:
        # The child let go of an operator whose planned products all answered.
        if len(steps) != planned or not all(isinstance(s, dict) and "value" in s for s in steps):
            return False
    elif not isinstance(answer.get("A"), Remote):
        return False
    if not all(isinstance(s, dict) and _one_step(s) for s in steps):
        return False
    # Steps stop at the first error or plain A.T, and only there.
    return all("value" in s for s in steps[:-1]) and (len(steps) == planned or bool(steps) and "value" not in steps[-1])


def _one_step(step: dict) -> bool:
    """One product's answer: a value (with where the student's __matmul__ is, if known), an error, or a plain A.T."""
    where = step.get("where", "")
    kinds = [key for key in step if key != "where"]
    return isinstance(where, str) and len(kinds) == 1 and kinds[0] in ("value", "error", "T")


class Case:
    """One case's operator: built and used in the child in one request, its answers replayed in order.

    Construct it where the suite built ``A``; :meth:`forward` and
    :meth:`transposed` stand for ``A @ x`` and ``A.T @ y`` and raise the
    student's error where that product's own request would have. A crash or
    the time running out ends the case's request, and so the test, as it
    ended the product's. Where the child cannot answer that way (no plugin,
    a grader fault) the case runs through the proxies, as every case once did.
    """

    def __init__(self, student, spec: dict, more: bool = False) -> None:
        """``more``: the suite may ask for products beyond ``spec``'s steps (the child keeps the operator)."""
        self._kinds = [kind for kind, _ in spec["steps"]]
        self._steps: list = []
        #: Where the student's ``__matmul__`` of each product is defined, by kind (when the child said).
        self.where: dict[str, str] = {}
        self._A = None
        module = student.module(required=["Convolution1d"])
        answer = _request(student, {"op": "p5_case", "module": module, **spec, "keep": more})
        if not _valid(answer, len(self._kinds)):
            self._A = operator(student, spec["k"], spec["n"])
        elif "error" in answer:
            raise _error(answer["error"])
        elif "operator" in answer:
            self._A = answer["operator"]  # plain data: the suite computes with it here, as it always did
        else:
            self._A = answer["A"]  # the proxy, for products beyond the planned ones
            self._steps = list(answer["steps"])

    def _recorded(self, kind: str, vector):
        if self._kinds.pop(0) != kind:
            raise RuntimeError("the suite asked for products out of the planned order")
        step = self._steps.pop(0)
        if step.get("where"):
            self.where[kind] = step["where"]
        if "error" in step:
            raise _error(step["error"])
        if "T" in step:
            return step["T"] @ vector  # A.T came back as plain data: multiplied here, as it always was
        return step["value"]

    def _operator(self):
        if self._A is None:
            raise RuntimeError("the suite asked for a product beyond the planned ones of a released operator")
        return self._A

    def forward(self, x):
        """``A @ x``."""
        return self._recorded("forward", x) if self._steps else self._operator() @ x

    def transposed(self, y):
        """``A.T @ y``."""
        return self._recorded("transposed", y) if self._steps else self._operator().T @ y


def gd_loop(A, b, n, lam, alpha, steps=100):
    """The handout's GD loop, unmodified; returns the objective at the end and the last iterate."""
    x = np.zeros(n)
    for _ in range(steps):
        x = x - alpha * (A.T @ (huber_grad(A @ x - b)) + lam * x)
    return huber_loss(A @ x - b) + lam / 2 * np.linalg.norm(x) ** 2, x


def replay_gd(answer, b, n, lam, alpha, steps=100):
    """The objective and last iterate from the child's run of the loop, recomputed here step by step; None if it does not check out.

    Each of the student's products is taken from the child, every other
    operation is done again here, and each product's input must be exactly
    the one this side computed: the result is then the one the loop gives
    when every product is its own request (a patched numpy in the child, or a
    forged answer, gives None and the loop runs here).
    """
    if not isinstance(answer, dict) or "fallback" in answer:
        return None
    m = len(b)
    expected = {"xs": (steps + 1, n), "forward": (steps, m), "grads": (steps, m), "transposed": (steps, n), "final": (m,)}
    got = {}
    for name, shape in expected.items():
        value = answer.get(name)
        if not isinstance(value, np.ndarray) or value.dtype != np.float64 or value.shape != shape:
            return None
        got[name] = value
    x = np.zeros(n)
    for t in range(steps):
        if not np.array_equal(got["xs"][t], x, equal_nan=True):
            return None
        g = huber_grad(got["forward"][t] - b)
        if not np.array_equal(got["grads"][t], g, equal_nan=True):
            return None
        x = x - alpha * (got["transposed"][t] + lam * x)
    if not np.array_equal(got["xs"][steps], x, equal_nan=True):
        return None
    return huber_loss(got["final"] - b) + lam / 2 * np.linalg.norm(x) ** 2, x


def gd_in_child(student, k, b, n, lam, alpha):
    """The loop run in the child in one request and replayed here; None where it must run through the proxies.

    Raises:
        StudentFailure: the student's code raised (its error, as the product's request raised it), crashed
            or ran out of time: the loop ends there, as it did.
    """
    module = student.module(required=["Convolution1d"])
    answer = _request(student, {"op": "p5_gd", "module": module, "k": k, "n": n, "b": b, "lam": lam,
                                "alpha": alpha, "steps": 100})
    if answer is None:
        return None
    if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        raise _error(answer["error"])
    if isinstance(answer, dict) and isinstance(answer.get("mutated"), dict):
        where = str(answer["mutated"].get("where", ""))[:200]
        raise AssertionError(
            f"A @ x changes its argument x in place{f' ({where})' if where else ''}: the handout's loop "
            "`x = x - alpha*(A.T@(huber_grad(A@x-b))+lam*x)` then goes on with the changed x, so it cannot "
            "reach the reference. Compute into a new array and leave the argument as it was."
        )
    return replay_gd(answer, b, n, lam, alpha)
