"""Child plugin for Problem 5: the measurements behind the ban on dense matrices.

Loaded (trusted) in every Problem 5 child through the rubric's ``plugins``;
its options come from the rubric (defaults in :data:`DEFAULTS`). The judge's
side, which decides and words the verdicts, is ``dense_ban.py``. Ops:

* ``p5_dense_config`` → the options in force;
* ``p5_dense_memory`` {module, n, r, seed, bound, path, required, locate_n} →
  tracemalloc peak of the same, and the student line that allocated most of
  it when over ``bound`` (found on a fresh load of ``path``);
* ``p5_dense_run`` {module, n, r, seed} → the same products, plainly (the
  judge watches the process from outside meanwhile);
* ``p5_dense_fresh`` {path, required} → loads the file again, with the
  student modules it imports, so no cache of an earlier guard is reused;
* ``p5_dense_trim`` → returns freed heap memory to the kernel;
* ``p5_dense_watch`` {path, required, n, r, seed, sizes, shape_sizes,
  shape_cases, max_calls, max_elements} → loads the file again with every
  expression watched; runs the products at each of ``sizes`` counting the
  work (watched values and the elements they hold, see :class:`WorkCount`),
  and reports each array of a banned shape or size at every size it runs:
  those, ``shape_sizes`` (n at the same r) and ``shape_cases`` ([n, r]
  pairs), the last two checked only. Counting is exact, so the judge's
  decisions on it are the same on every machine and under any load.

Only what the classes do when these ops call them is measured: loading runs
definitions (or the whole file without ``__main__``) before anything is armed.
"""

from __future__ import annotations

import math
import os
import sys

import numpy as np

from grader.guards import memory, process
from grader.guards.shapes import ExpressionWatch
from grader.sandbox.inside import loader

#: Options a rubric may set (``plugins = [{ path = ..., options = { ... } }]``).
DEFAULTS = {
    # Size of the memory and process guards; costly code falls back towards n_min.
    "n": 4000,
    "n_min": 1000,
    "r": 5,
    # Size of the shape guard (its check does not depend on n; watched code is slower).
    "shape_n": 1000,
    # Work budgets, in watched values per construction + A @ x + A.T @ y (each
    # value one expression of the student's code evaluated; see WorkCount):
    # the process guard's size is the largest one predicted to stay under
    # guard_max_calls; the memory guard's under memory_max_calls (tracemalloc
    # slows code that makes a Python object per step up to 30×).
    "guard_max_calls": 1_500_000,
    "memory_max_calls": 200_000,
    # ... and no size predicted to make the student's numpy code produce more elements than this.
    "guard_max_elements": 200_000_000,
    # Memory bound: memory_per_n * n + memory_slack bytes (64 float64 per entry of x).
    "memory_per_n": 512,
    "memory_slack": 1 << 20,
    # Over that bound, the peak is measured again at n/2: below this ratio it grew linearly
    # (O(n·r) Python storage of the nonzeros: ×2), not like the dense matrix (×4).
    "memory_growth_limit": 3.0,
    # The memory guard's line-locating pass (a line tracer) runs at the largest counted size
    # under this many watched values (the line that allocates most does not depend on n).
    "locate_max_calls": 100_000,
    # Resident-memory bound of the process guard: memory_per_n * n + rss_slack.
    "rss_slack": 8 << 20,
    # Address space the process guard allows above what the child maps before the products.
    "cap_headroom": 96 << 20,
    # Sizes at which the work is counted for the growth report (shape_n among them
    # or not, it is always run); a size predicted to exceed watch_max_calls values
    # or watch_max_elements elements is skipped, with all larger ones.
    "growth_sizes": [125, 250, 500, 1000, 2000, 4000],
    # The ban holds at every n, so the shape check also runs at every growth size and at
    # these small sizes (checked, not counted): code that builds the matrix only below
    # some n (`if n <= 64: A = np.zeros((m, n))`) is seen there too.
    "shape_sizes": [12, 24, 60],
    "watch_max_calls": 2_500_000,
    "watch_max_elements": 100_000_000,
    # Exponents of work ~ n^e above this are reported as n² work.
    "growth_threshold": 1.5,
    # A scipy.sparse matrix of the banned shape is allowed unless this is true.
    "forbid_sparse": False,
}

_STEPS = ("Convolution1d(k)", "A @ x", "A.T @ y")


def register(registry, **options):
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"p5_dense_plugin: unknown option(s) {', '.join(unknown)}")
    config = {**DEFAULTS, **options}
    registry.add_op("p5_dense_config", lambda child, request: dict(config))
    registry.add_op("p5_dense_memory", _quiet(_op_memory))
    registry.add_op("p5_dense_run", _quiet(_op_run))
    registry.add_op("p5_dense_fresh", _quiet(_op_fresh))
    registry.add_op("p5_dense_trim", lambda child, request: process.release_free_memory())
    registry.add_op("p5_dense_watch", _quiet(lambda child, request: _op_watch(child, request, config)))


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass


def _quiet(handler):
    """The op with the student's prints sent nowhere: the guards' runs are the grader's measurements.

    The report shows what the student's code printed for the correctness
    checks; thousands of lines from the guards' large products would bury it
    (they never reached it while the guards had a child of their own).
    """

    def run(child, request):
        _flush()
        try:
            null = os.open(os.devnull, os.O_WRONLY)
        except OSError:
            return handler(child, request)
        saved = [os.dup(1), os.dup(2)]
        try:
            os.dup2(null, 1)
            os.dup2(null, 2)
            return handler(child, request)
        finally:
            _flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in (null, *saved):
                os.close(fd)

    return run


# -- running the student's operator ------------------------------------------
class _Products:
    """One construction of A, then ``rounds`` times one A @ x and one A.T @ y, remembering the step.

    ``rounds`` > 1 for the shape check alone: an operator that builds the matrix only from its
    third product on (a cache filled lazily, as the handout's GD loop would) is seen doing it.
    """

    def __init__(self, module, n: int, r: int, seed: int, integer: bool = False, rounds: int = 1) -> None:
        self.rounds = rounds
        rng = np.random.default_rng(seed)
        self.module = module
        self.n, self.r = n, r
        self.k = rng.standard_normal(r)
        self.integer = integer
        self.knows_n = True  # until the construction shows otherwise
        m = n - r + 1
        if integer:
            self.x, self.y = rng.integers(-9, 10, size=n), rng.integers(-9, 10, size=m)
        else:
            self.x, self.y = rng.standard_normal(n), rng.standard_normal(m)
        self.step = _STEPS[0]
        #: Called once A exists, before A @ x (the fixed-block test spoils arrays there).
        self.after_construction = None

    def __call__(self):
        self.step = _STEPS[0]
        cls = self.module.Convolution1d
        self.knows_n = False
        try:
            A = cls(self.k)
        except TypeError as exc:
            # Some students also pass n; the handout's constructor takes only k.
            if "argument" not in str(exc):
                raise
            self.knows_n = True
            self.step = "Convolution1d(k, n)"  # what the feedback says the grader was computing
            A = cls(self.k, self.n)
        self.knows_n = True  # the products see x: from here on everything is judged at this n
        if self.after_construction is not None:
            self.after_construction()
        for _ in range(self.rounds):
            self.step = _STEPS[1]
            forward = A @ self.x
            self.step = _STEPS[2]
            transposed = A.T @ self.y
        return forward, transposed


#: Rounds of products per operator in the shape check's runs at the checked-only sizes (small n,
#: where the matrix is cheap to build): 6 products on one object, as a GD loop's first steps.
CHECK_ROUNDS = 3


def _module(child, request):
    return child.modules[request["module"]].module


def _error(exc: BaseException, child, products: _Products) -> dict:
    described = loader.describe_exception(exc, child.student_root, f"computing {products.step}")
    return {
        "message": str(described),
        "where": described.where,
        "step": products.step,
        "memory_error": isinstance(exc, MemoryError),
    }


def _output(value) -> dict:
    """A product's result as the judge can check it."""
    if value is None:
        return {"kind": "None"}
    try:
        array = np.asarray(value)
    except Exception:  # noqa: BLE001 - whatever it is, it is not an array of numbers
        return {"kind": type(value).__name__}
    if array.dtype.kind not in "biuf":
        return {"kind": f"{type(value).__name__} of dtype {array.dtype}"}
    return {"kind": "array", "shape": list(array.shape), "array": array.astype(float).ravel()}


def _outputs(value) -> dict:
    forward, transposed = value
    return {"forward": _output(forward), "transposed": _output(transposed)}


# -- ops ----------------------------------------------------------------------
def _fresh(child, request):
    """Loads the student's file afresh, with every student module it imports, and returns it.

    A guard must not see what an earlier measurement left in the student's
    modules: a dense matrix cached in a module-level dict by n would make the
    next measurement at that n allocate nothing.
    """
    root = child.student_root.resolve()
    for name, mod in list(sys.modules.items()):
        file = getattr(mod, "__file__", None)
        if isinstance(file, str) and os.path.abspath(file).startswith(str(root) + os.sep):
            del sys.modules[name]
    path = request["path"]
    child.op_load({"path": path, "required": request.get("required", []), "mode": "auto"})
    return child.modules[os.path.splitext(os.path.basename(path))[0]].module


def _op_fresh(child, request):
    _fresh(child, request)
    return {}


def _op_memory(child, request):
    module = _module(child, request)
    n, r, seed = int(request["n"]), int(request["r"]), int(request.get("seed", 0))
    bound = int(request["bound"])
    products = _Products(module, n, r, seed, integer=bool(request.get("integer", False)))
    result = memory.measure_peak(products, child.student_root)
    answer = {
        "peak": result.peak_bytes,
        "stopped": result.stopped,
        "site": None,
        "site_bytes": 0,
    }
    if not result.stopped and (result.peak_bytes > bound or result.error is not None):
        # Over the bound (or failed, perhaps at the memory cap): run again to find the line.
        # On a fresh load: what the first pass cached must be allocated again, where it is. At
        # locate_n, which the judge picks from the work counts: line tracing slows Python-heavy
        # code by far more than tracemalloc, and the line that allocates most is the same.
        fresh = _fresh(child, request) if "path" in request else module
        again = _Products(fresh, int(request.get("locate_n", n)), r, seed, integer=bool(request.get("integer", False)))
        located = memory.measure_peak(again, child.student_root, locate=True)
        if located.site is not None:
            answer["site"] = located.site.describe()
            answer["site_bytes"] = located.site_bytes
            answer["locate_n"] = again.n
        if result.error is None and n >= 4:
            # And at half the size, on a fresh load: the dense matrix's peak grows ×4 from there,
            # an O(n·r) structure's (a Python dict of the nonzeros) ×2.
            half = _Products(_fresh(child, request) if "path" in request else module, n // 2, r, seed,
                             integer=bool(request.get("integer", False)))
            smaller = memory.measure_peak(half, child.student_root)
            if not smaller.stopped and smaller.error is None:
                answer["half"] = {"n": n // 2, "peak": smaller.peak_bytes}
    if result.error is not None:
        answer["error"] = _error(result.error, child, products)
        return answer
    answer["error"] = None
    answer.update(_outputs(result.value))
    return answer


def _op_run(child, request):
    module = _module(child, request)
    products = _Products(
        module, int(request["n"]), int(request["r"]), int(request.get("seed", 0)), integer=bool(request.get("integer", False))
    )
    try:
        value = products()
    except Exception as exc:  # noqa: BLE001 - student code: reported (MemoryError at the cap included)
        return {"error": _error(exc, child, products)}
    outputs = _outputs(value)
    for output in outputs.values():
        output.pop("array", None)  # the judge checked the values already
    return {"error": None, **outputs}


class WorkCount:
    """Counts the work the student's watched expressions do: a deterministic measure.

    ``calls`` is the number of values the watched expressions produced (one
    per operator, call, comparison, subscript or attribute read evaluated:
    what a Python loop costs). ``elements`` adds the size of each value an
    expression *computed*: for a call, an operator or a comparison, an array
    that owns its data counts its entries (numpy had to produce them), a 2-D
    or larger view counts its entries too (whatever consumes it reads them:
    ``as_strided(...) @ x``), a 1-D view counts 1 (``x[i:i+r]`` costs nothing
    to make), a list or tuple its length, anything else 1. A read of what
    exists already counts 1, however large: an attribute (``self.A``) or a
    subscript that shares memory (a slice); a subscript that copies (fancy
    indexing) counts its entries. Neither count depends on the machine's
    speed or load.

    Args:
        sites: the watch's site table (a site's node kind decides what counts).
    """

    __slots__ = ("calls", "elements", "_kinds")

    def __init__(self, sites=()) -> None:
        self.calls = 0
        self.elements = 0
        # Sites registered later (a file imported during the products) count as computations.
        self._kinds = [s.kind for s in sites]

    def __call__(self, value, site) -> None:
        self.calls += 1
        kind = self._kinds[site] if site < len(self._kinds) else ""
        if kind == "Attribute":
            self.elements += 1
            return
        vtype = type(value)
        # Subclasses too: sparse.diags(...).todense() is an np.matrix, and counted as one element
        # its n² work read as "grows like n·r".
        if vtype is np.ndarray or isinstance(value, np.ndarray):
            if value.flags.owndata or (value.ndim >= 2 and kind != "Subscript"):
                self.elements += max(1, value.size)
            else:
                self.elements += 1
        elif vtype is list or vtype is tuple:
            self.elements += max(1, len(value))
        else:
            self.elements += 1


def _predicted(points: list[dict], n: int, key: str) -> float:
    """``key`` at ``n`` extrapolated from the last two points (at least linear; quadratic from one point)."""
    last = points[-1]
    slope = 2.0
    if len(points) >= 2:
        before = points[-2]
        if before[key] > 0 and last[key] > 0 and last["n"] > before["n"]:
            slope = max(1.0, float(np.log(last[key] / before[key]) / np.log(last["n"] / before["n"])))
    return last[key] * (n / last["n"]) ** slope


def _owner(value: np.ndarray) -> np.ndarray:
    """The array that owns a view's memory (``T`` for ``T.T``), or the array itself."""
    while isinstance(value.base, np.ndarray):
        value = value.base
    return value


def _shape(value: np.ndarray) -> tuple:
    """The shape, without the length-1 axes of a 3-D or larger array: (1, m, n) is the matrix too."""
    if value.ndim <= 2:
        return value.shape
    return tuple(s for s in value.shape if s != 1)


def _rows_of_matrix(value, rows_at: tuple[int, int]) -> bool:
    """Whether a list holds the matrix as 1-D arrays: m rows of length n, or n columns of length m."""
    rows, at = rows_at
    inner = at if len(value) == rows else rows
    return all(type(v) is np.ndarray and v.ndim == 1 and v.size == inner for v in value)


class _Built:
    """The arrays one ``Convolution1d(k)`` made before any x existed, each with where it was first seen."""

    def __init__(self) -> None:
        self.arrays: dict[int, tuple[np.ndarray, int]] = {}  # id -> (array, site); holding it keeps the id

    def add(self, value: np.ndarray, site: int) -> None:
        self.arrays.setdefault(id(value), (value, site))

    def origin(self, value) -> tuple[np.ndarray, int] | None:
        """The constructor's array ``value`` is (or is a view of), with its first site; None if not one."""
        while isinstance(value, np.ndarray):
            found = self.arrays.get(id(value))
            if found is not None and found[0] is value:
                return found
            value = value.base
        return None

    def shaped(self, shape: tuple) -> list[np.ndarray]:
        """The arrays of this shape (views included)."""
        return [a for a, _ in self.arrays.values() if a.shape == shape]


def _spoil(array: np.ndarray) -> bool:
    """Sets an array's zero entries (all of them if none is zero) to nan, 1 or True, by its dtype.

    A block used as a matrix multiplies its zeros with x too, so any product that
    uses it changes; reading only its nonzero entries (the filter kept as a view of
    the matrix's first row) does not.
    """
    if not array.flags.writeable:
        try:
            array.flags.writeable = True
        except ValueError:
            return False
    kind = array.dtype.kind
    if kind not in "fciub":
        return False
    where = array == 0
    if not where.any():
        where = np.ones(array.shape, dtype=bool)
    if kind in "fc":
        array[where] = np.nan
    elif kind in "iu":
        array[where] = 1
    else:
        array[where] = True
    return True


def _same(first, second) -> bool:
    """Whether two products' results are identical (nan where the other has nan)."""
    try:
        a, b = np.asarray(first), np.asarray(second)
        return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    except Exception:  # noqa: BLE001 - not arrays of numbers: compare what they print as
        return repr(first) == repr(second)


def _fixed_block_test(watch, module, r: int, shape: tuple, seed: int, large: int) -> dict:
    """Whether the products use arrays of ``shape`` at sizes where the matrix cannot fit in one.

    A fixed block (overlap-save, a (B, B+r−1) Toeplitz block, built in the
    constructor or in each product) has the banned shape at one small n, and
    the products use it at every n. The matrix built for a size read elsewhere
    (a global ``n``, a default argument, a template sliced to n) is used only
    where it fits. The products run twice at the smallest n whose matrix has
    more than twice the array's entries, and at ``large`` (the shape guard's
    n: blocking may start at some size): once as they are, once with the zero
    entries of every array of ``shape`` spoiled (see :func:`_spoil`), after
    the construction for what it made and as soon as the products make one.
    Spoiled entries are restored afterwards (a module-level cache keeps
    none). Different results mean the products use it as a matrix there.
    Arrays are matched by shape, not by where they were first seen: a block
    cached at module level is first seen where the cache returns it.

    Returns:
        ``{"n": …, "sizes": [...], "used": True | False | None, "error": message or None}``:
        ``n`` the size that showed the use (else the first tried), ``sizes`` those
        tried; ``used`` None when the plain products failed where they were tried.
    """
    size = math.prod(shape)
    small = max(2 * r, max(shape) + 1)
    while (small - r + 1) * small <= 2 * size:
        small += 1

    def run(n: int, spoil: bool):
        products = _Products(module, n, r, seed + 7919)
        built = _Built()
        saved: list[tuple[np.ndarray, np.ndarray, bool]] = []
        spoiled: set[int] = set()

        def ruin(array: np.ndarray) -> None:
            if id(array) not in spoiled:
                spoiled.add(id(array))
                saved.append((array, array.copy(), array.flags.writeable))
                _spoil(array)

        def look(value, at):
            if isinstance(value, np.ndarray):
                if not products.knows_n:
                    built.add(value, at)
                elif spoil and value.shape == shape and value.flags.owndata:
                    ruin(value)  # made by the products: spoiled as it is made

        def after():
            if spoil:
                for array in built.shaped(shape):
                    ruin(array)

        products.after_construction = after
        try:
            with watch.armed(look):
                return products(), None
        except Exception as exc:  # noqa: BLE001 - student code
            return None, exc
        finally:
            # Backwards: a view spoiled before its base is restored after it.
            for array, copy, writeable in reversed(saved):
                if array.flags.writeable:
                    array[...] = copy
                    array.flags.writeable = writeable

    error = None
    sizes = list(dict.fromkeys((small, max(small, large))))
    for n in sizes:
        plain, error = run(n, False)
        if error is not None:
            continue
        spoiled, spoiled_error = run(n, True)
        if spoiled_error is not None or not all(_same(a, b) for a, b in zip(plain, spoiled)):
            return {"n": n, "sizes": sizes, "used": True, "error": None}
        error = None
    if error is not None:
        return {"n": small, "sizes": sizes, "used": None, "error": f"{type(error).__name__}: {error}"[:300]}
    return {"n": small, "sizes": sizes, "used": False, "error": None}


def _op_watch(child, request, config):
    """Loads the file with every expression watched; counts the work at each size, checks shapes at every size."""
    root = child.student_root
    n, r, seed = int(request["n"]), int(request["r"]), int(request.get("seed", 0))
    integer = bool(request.get("integer", False))
    counted = {int(s) for s in request.get("sizes", [])} | {n}
    # (n, r) pairs checked only: the small sizes at r, and the pairs the judge names (the
    # sizes its correctness checks call the classes at), but none a counted size already runs.
    shape_only = {(int(s), r) for s in request.get("shape_sizes", [])}
    shape_only |= {(int(a), int(b)) for a, b in request.get("shape_cases", [])}
    shape_only -= {(at, r) for at in counted}
    # Smallest n first; at each n the checked-only pairs, then the counted size.
    runs = sorted([(at, r_, False) for at, r_ in shape_only] + [(at, r, True) for at in counted])
    max_calls = int(request.get("max_calls", config["watch_max_calls"]))
    max_elements = int(request.get("max_elements", config["watch_max_elements"]))
    m = n - r + 1
    watch = ExpressionWatch(root)
    watch.install()
    imports = watch.import_hook()
    path = (root / request["path"]).resolve()
    violations: list[dict] = []
    seen: set[tuple] = set()
    products: _Products | None = None
    banned: set[tuple] = set()
    flat: set[int] = set()
    rows_at = (0, 0)
    big = 0.0
    size, size_r = n, r

    def ban(at: int, at_r: int) -> None:
        """The banned shapes at n = ``at``, r = ``at_r``, and the entries from which any array is one."""
        nonlocal banned, flat, rows_at, big, size, size_r
        rows = at - at_r + 1
        size, size_r = at, at_r
        # The matrix and its transpose, and the dense matrices students slice it from: the
        # (n, n) circulant and the "full" (n+r−1, n) convolution matrix. No O(n·r) layout has
        # these shapes once n ≥ 2r (a window of x has r columns, and r < n−r+1).
        banned = {(rows, at), (at, rows), (at, at), (at + at_r - 1, at), (at, at + at_r - 1)}
        # The matrix stored flat (row-major in one 1-D array), and kept as a list of its rows.
        flat, rows_at = {rows * at, at * at}, (rows, at)
        # At least half the matrix's entries, in any shape, from the shape guard's n up: far
        # above anything O(n·r) code holds (a window of r columns is under a hundredth of it).
        # Below that only the exact shapes count: a fixed-size block or FFT workspace made in
        # the constructor can hold half as many entries as a small matrix.
        big = rows * at / 2 if at >= n else math.inf

    forbid_sparse = bool(config["forbid_sparse"])
    issparse = None
    if forbid_sparse:
        from scipy.sparse import issparse

    def record(value, site: int, kind: str, nbytes: int, shape=None, dtype=None, origin=None, early=True) -> None:
        shape = tuple(int(s) for s in (value.shape if shape is None else shape))
        if origin is not None:
            # Made by the constructor, of a banned shape here: the matrix, or a fixed block that
            # is this shape at this one size. Decided after the runs (_fixed_block_test).
            key = (origin[1], origin[0].shape, size, size_r, site)
            if key not in seen and len(candidates) < 20:
                seen.add(key)
                made = {"origin_where": watch.sites[origin[1]].where, "origin_shape": list(origin[0].shape),
                        "early": early}
                candidates.append((origin, {**_violation(value, site, kind, nbytes, shape, dtype), **made}))
            return
        # At n: each shape each place makes (ten at most). At the other sizes: only the first
        # array of each place (five at most), so they never crowd out what n shows.
        at_n = (size, size_r) == (n, r)
        # Elsewhere by line, not by expression: `M += np.eye(...) * k[j]` is three of them.
        key = (site, shape, kind) if at_n else (watch.sites[site].where, kind, "elsewhere")
        if key in seen or sum(((v["n"], v["r"]) == (n, r)) == at_n for v in violations) >= (10 if at_n else 5):
            return
        seen.add(key)
        violations.append(_violation(value, site, kind, nbytes, shape, dtype))

    def _violation(value, site: int, kind: str, nbytes: int, shape: tuple, dtype) -> dict:
        place = watch.sites[site]
        return (
            {
                "kind": kind,
                "shape": list(shape),
                "dtype": str(value.dtype if dtype is None else dtype),
                "bytes": int(nbytes),
                "view": bool(kind in ("array", "flat") and not value.flags.owndata),
                "base_bytes": _base_bytes(value) if kind in ("array", "flat") else 0,
                "banned_shape": shape in banned,
                "n": size,
                "r": size_r,
                "where": place.where,
                "function": place.function,
                "site": place.describe(),
                "step": products.step if products is not None else "loading",
                "integer": bool(products is not None and products.integer),
                # What holds the rows, for kind "rows": a list, tuple, dict or (object) ndarray.
                "container": type(value).__name__,
            }
        )

    built = _Built()
    candidates: list[tuple[tuple[np.ndarray, int], dict]] = []

    def inspect(value, site):
        kind = type(value)
        if products is not None and not products.knows_n:
            # Convolution1d(k) runs before any x exists: what it builds has a size fixed before
            # n is known (a fixed block, an FFT workspace, or a matrix for a size the code reads
            # elsewhere). Above the large-size rule, a banned shape is a candidate.
            if kind is np.ndarray or isinstance(value, np.ndarray):
                built.add(value, site)
                if value.ndim >= 2:
                    if value.size >= big:
                        record(value, site, "array", value.nbytes)
                    elif value.shape in banned:
                        record(value, site, "array", value.nbytes, origin=built.origin(value))
            return
        if kind is np.ndarray or isinstance(value, np.ndarray):
            origin = built.origin(value) if built.arrays else None
            if origin is not None:
                if value.ndim >= 2:
                    if value.size >= big:
                        record(value, site, "array", value.nbytes)
                    elif _shape(value) in banned:
                        record(value, site, "array", value.nbytes, origin=origin)
                return
            if value.ndim >= 2:
                if value.size >= big:
                    record(value, site, "array", value.nbytes)
                elif _shape(value) in banned:
                    # Below the shape guard's n, a block the products make at a fixed size (B, B+r−1)
                    # is this shape at one n: judged like the constructor's, by its use (by shape).
                    record(value, site, "array", value.nbytes, origin=(_owner(value), site) if size < n else None,
                           early=False)
            elif value.size in flat and value.ndim == 1:
                record(value, site, "flat", value.nbytes)
            elif value.dtype == object and value.ndim == 1 and len(value) in rows_at and value.size:
                rows = list(value)  # an object array of the rows: a list by another name
                if _rows_of_matrix(rows, rows_at):
                    record(value, site, "rows", sum(v.nbytes for v in rows), (len(rows), rows[0].size), rows[0].dtype)
        elif kind is list or kind is tuple or kind is dict:
            rows = list(value.values()) if kind is dict else value  # {i: row i}: the rows by index
            if len(rows) in rows_at and rows and _rows_of_matrix(rows, rows_at):
                first = rows[0]
                record(value, site, "rows", sum(v.nbytes for v in rows), (len(rows), first.size), first.dtype)
        elif issparse is not None and issparse(value):
            shape = value.shape
            if len(shape) >= 2 and (tuple(shape) in banned or math.prod(shape) >= big):
                record(value, site, "sparse", _sparse_bytes(value))

    work: list[dict] = []
    checked: list[list[int]] = []  # the [n, r] whose products ran to the end under the shape check
    answer: dict = {"error": None, "violations": violations, "work": work, "work_error": None, "tampered": ""}
    with imports.installed():
        try:
            loaded = loader.load(path, path.stem, request.get("required", []), root, [watch.transform], "auto")
        except loader.StudentCodeError as exc:
            answer["error"] = {"message": str(exc), "where": exc.where, "step": "loading", "memory_error": False}
            return answer
        for at, at_r, counts in runs:
            if at < 2 * at_r:
                continue  # A would have fewer rows than k has entries: no matrix worth the name
            if not counts:
                # Checked only: not a growth point, and an error here is no verdict (the
                # correctness items run these sizes plainly and score what they return).
                # Float and integer vectors, as the correctness checks call the classes with
                # both: code may pick its method by dtype.
                ban(at, at_r)
                finished = True
                for kind in dict.fromkeys((integer, not integer)):
                    products = _Products(loaded.module, at, at_r, seed + 1000 * at_r + at, integer=kind,
                                         rounds=CHECK_ROUNDS)
                    built.arrays.clear()
                    try:
                        with watch.armed(inspect):
                            products()
                    except Exception:  # noqa: BLE001 - student code: the arrays seen before it still count
                        finished = False
                    answer["tampered"] = answer["tampered"] or watch.tampered()
                if finished:
                    checked.append([at, at_r])
                continue
            if at != n and work and (
                _predicted(work, at, "calls") > max_calls or _predicted(work, at, "elements") > max_elements
            ):
                if at > n:
                    break
                continue  # a smaller size too costly to count: only the shape check at n still runs
            ban(at, r)
            products = _Products(loaded.module, at, r, seed + at if at != n else seed, integer=integer)
            built.arrays.clear()
            count = WorkCount(watch.sites)

            def both(value, site, count=count):
                count(value, site)
                inspect(value, site)

            try:
                with watch.armed(both):
                    value = products()
            except Exception as exc:  # noqa: BLE001 - student code: reported
                error = {**_error(exc, child, products), "n": at}
                answer["work_error"] = error
                if at <= n:  # the shape check at n did not run (or did not finish)
                    answer["error"] = error
                answer["tampered"] = answer["tampered"] or watch.tampered()
                break
            # Checked after every run: code that disarms the hook for the small sizes only
            # (where it builds the matrix) and puts it back would otherwise pass unseen.
            answer["tampered"] = answer["tampered"] or watch.tampered()
            work.append({"n": at, "calls": count.calls, "elements": count.elements})
            checked.append([at, r])
            if at == n:
                answer.update(_outputs(value))
        # The constructor's arrays of a banned shape: a fixed block the products use at a size
        # it cannot hold the matrix of is allowed (and named in the clean text); the rest are
        # the matrix, built for the sizes where it fits.
        tests: dict[tuple, dict] = {}
        answer["fixed_blocks"] = []
        for (array, _site), violation in candidates:
            group = (violation["r"], array.shape)
            if group not in tests:
                tests[group] = _fixed_block_test(watch, loaded.module, violation["r"], array.shape, seed, n)
            test = tests[group]
            if test["used"]:
                if len(answer["fixed_blocks"]) < 5:
                    answer["fixed_blocks"].append({**violation, "used_at": test["n"]})
            else:
                violations.append({**violation, "unused_at": test["n"], "unused_sizes": test["sizes"],
                                   "unused_error": test["error"]})
    answer["sites"] = len(watch.sites)
    answer["checked_sizes"] = [pair for pair in checked if pair != [n, r]]
    return answer


def _base_bytes(value) -> int:
    """The bytes of the array that owns a view's memory (0 when it owns its own, or the owner is no array)."""
    if value.flags.owndata:
        return 0
    base = value
    while isinstance(base.base, np.ndarray):
        base = base.base
    return int(base.nbytes) if base is not value and base.flags.owndata else 0


def _sparse_bytes(value) -> int:
    total = 0
    for name in ("data", "indices", "indptr", "offsets", "row", "col"):
        part = getattr(value, name, None)
        if isinstance(part, np.ndarray):
            total += part.nbytes
    return total
