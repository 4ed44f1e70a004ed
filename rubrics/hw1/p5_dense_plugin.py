"""Child plugin for Problem 5: the measurements behind the ban on dense matrices.

Loaded (trusted) in every Problem 5 child through the rubric's ``plugins``;
its options come from the rubric (defaults in :data:`DEFAULTS`). The judge's
side, which decides and words the verdicts, is ``dense_ban.py``. Ops:

* ``p5_dense_config`` → the options in force;
* ``p5_dense_time`` {module, sizes, r, seed, max_seconds, previous} → seconds
  of one construction plus one ``A @ x`` and one ``A.T @ y`` at each size,
  stopping before a size predicted to take longer than ``max_seconds``;
* ``p5_dense_memory`` {module, n, r, seed, bound} → tracemalloc peak of the
  same, and the student line that allocated most of it when over ``bound``;
* ``p5_dense_run`` {module, n, r, seed} → the same products, plainly (the
  judge watches the process from outside meanwhile);
* ``p5_dense_trim`` → returns freed heap memory to the kernel;
* ``p5_dense_shape`` {path, required, n, r, seed} → loads the file again with
  every expression watched and reports each array of a banned shape or size.

Only what the classes do when these ops call them is measured: loading runs
definitions (or the whole file without ``__main__``) before anything is armed.
"""

from __future__ import annotations

import time

import numpy as np

from grader.guards import memory, process
from grader.guards.shapes import ExpressionWatch
from grader.sandbox.inside import loader

#: Options a rubric may set (``plugins = [{ path = ..., options = { ... } }]``).
DEFAULTS = {
    # Size of the memory and process guards; slow code falls back towards n_min.
    "n": 4000,
    "n_min": 1000,
    "r": 5,
    # Size of the shape guard (its check does not depend on n; watched code is slower).
    "shape_n": 1000,
    # Target seconds for one construction + A @ x + A.T @ y at a guard's size
    # (plain for the process guard, under tracemalloc for the memory guard).
    "pair_seconds": 1.0,
    # Memory bound: memory_per_n * n + memory_slack bytes (64 float64 per entry of x).
    "memory_per_n": 512,
    "memory_slack": 1 << 20,
    # Resident-memory bound of the process guard: memory_per_n * n + rss_slack.
    "rss_slack": 8 << 20,
    # Address space the process guard allows above what the child maps before the products.
    "cap_headroom": 96 << 20,
    # Sizes timed for the growth report; a size predicted to take longer than
    # growth_max_seconds (for one round) is skipped, with all larger ones.
    "growth_sizes": [500, 1000, 2000, 4000, 8000, 16000],
    "growth_max_seconds": 1.0,
    # Exponents of time ~ n^e above this are reported as n² work.
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
    registry.add_op("p5_dense_time", _op_time)
    registry.add_op("p5_dense_memory", _op_memory)
    registry.add_op("p5_dense_run", _op_run)
    registry.add_op("p5_dense_trim", lambda child, request: process.release_free_memory())
    registry.add_op("p5_dense_shape", lambda child, request: _op_shape(child, request, config))


# -- running the student's operator ------------------------------------------
class _Products:
    """One construction of A and one A @ x and one A.T @ y, remembering the step."""

    def __init__(self, module, n: int, r: int, seed: int, integer: bool = False) -> None:
        rng = np.random.default_rng(seed)
        self.module = module
        self.n, self.r = n, r
        self.k = rng.standard_normal(r)
        m = n - r + 1
        if integer:
            self.x, self.y = rng.integers(-9, 10, size=n), rng.integers(-9, 10, size=m)
        else:
            self.x, self.y = rng.standard_normal(n), rng.standard_normal(m)
        self.step = _STEPS[0]

    def __call__(self):
        self.step = _STEPS[0]
        cls = self.module.Convolution1d
        try:
            A = cls(self.k)
        except TypeError as exc:
            # Some students also pass n; the handout's constructor takes only k.
            if "argument" not in str(exc):
                raise
            A = cls(self.k, self.n)
        self.step = _STEPS[1]
        forward = A @ self.x
        self.step = _STEPS[2]
        transposed = A.T @ self.y
        return forward, transposed


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
def _op_time(child, request):
    """Times the products at growing sizes, skipping sizes predicted to take over ``max_seconds``."""
    module = _module(child, request)
    r, seed, limit = int(request["r"]), int(request.get("seed", 0)), float(request["max_seconds"])
    points: list[dict] = list(request.get("previous", []))
    if not points and request["sizes"]:
        # One untimed round first: imports inside methods, caches and first-call costs.
        warm = _Products(module, int(request["sizes"][0]), r, seed, integer=bool(request.get("integer", False)))
        try:
            warm()
        except Exception as exc:  # noqa: BLE001 - student code: reported
            return {"points": [], "error": {**_error(exc, child, warm), "n": warm.n}}
    for n in request["sizes"]:
        n = int(n)
        if points and _predicted(points, n) > limit:
            break
        products = _Products(module, n, r, seed + n, integer=bool(request.get("integer", False)))
        times: list[float] = []
        try:
            # The best of a few runs: two unless they are slow, more while they are quick.
            while not times or (len(times) < 2 and sum(times) < 0.25) or (len(times) < 5 and sum(times) < 0.05):
                start = time.perf_counter()
                products()
                times.append(time.perf_counter() - start)
        except Exception as exc:  # noqa: BLE001 - student code: reported
            return {"points": points, "error": {**_error(exc, child, products), "n": n}}
        points.append({"n": n, "seconds": min(times)})
        if min(times) > limit:
            break
    return {"points": points, "error": None}


def _predicted(points: list[dict], n: int) -> float:
    """Time at ``n`` extrapolated from the last two points (at least linear; quadratic from one point)."""
    last = points[-1]
    slope = 2.0
    if len(points) >= 2:
        before = points[-2]
        if before["seconds"] > 0 and last["n"] > before["n"]:
            slope = max(1.0, np.log(last["seconds"] / before["seconds"]) / np.log(last["n"] / before["n"]))
    return last["seconds"] * (n / last["n"]) ** slope


def _op_memory(child, request):
    module = _module(child, request)
    n, r, seed = int(request["n"]), int(request["r"]), int(request.get("seed", 0))
    bound = int(request["bound"])
    products = _Products(module, n, r, seed, integer=bool(request.get("integer", False)))
    start = time.perf_counter()
    result = memory.measure_peak(products, child.student_root)
    answer = {
        "peak": result.peak_bytes,
        "stopped": result.stopped,
        "site": None,
        "site_bytes": 0,
        "seconds": time.perf_counter() - start,
    }
    if not result.stopped and (result.peak_bytes > bound or result.error is not None):
        # Over the bound (or failed, perhaps at the memory cap): run again to find the line.
        again = _Products(module, n, r, seed, integer=bool(request.get("integer", False)))
        located = memory.measure_peak(again, child.student_root, locate=True)
        if located.site is not None:
            answer["site"] = located.site.describe()
            answer["site_bytes"] = located.site_bytes
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


def _op_shape(child, request, config):
    root = child.student_root
    n, r, seed = int(request["n"]), int(request["r"]), int(request.get("seed", 0))
    m = n - r + 1
    watch = ExpressionWatch(root)
    watch.install()
    imports = watch.import_hook()
    path = (root / request["path"]).resolve()
    violations: list[dict] = []
    seen: set[tuple] = set()
    products: _Products | None = None
    banned = {(m, n), (n, m)}
    big = m * n / 2
    forbid_sparse = bool(config["forbid_sparse"])
    issparse = None
    if forbid_sparse:
        from scipy.sparse import issparse

    def record(value, site: int, kind: str, nbytes: int) -> None:
        shape = tuple(int(s) for s in value.shape)
        key = (site, shape, kind)
        if key in seen or len(violations) >= 10:
            return
        seen.add(key)
        place = watch.sites[site]
        violations.append(
            {
                "kind": kind,
                "shape": list(shape),
                "dtype": str(value.dtype),
                "bytes": int(nbytes),
                "view": bool(kind == "array" and not value.flags.owndata),
                "banned_shape": shape in banned,
                "where": place.where,
                "function": place.function,
                "site": place.describe(),
                "step": products.step if products is not None else "loading",
            }
        )

    def inspect(value, site):
        if isinstance(value, np.ndarray):
            if value.ndim >= 2 and value.size >= big:
                record(value, site, "array", value.nbytes)
        elif issparse is not None and issparse(value):
            shape = value.shape
            if len(shape) >= 2 and (tuple(shape) in banned or np.prod(shape) >= big):
                record(value, site, "sparse", _sparse_bytes(value))

    with imports.installed():
        try:
            loaded = loader.load(path, path.stem, request.get("required", []), root, [watch.transform], "auto")
        except loader.StudentCodeError as exc:
            return {"error": {"message": str(exc), "where": exc.where, "step": "loading", "memory_error": False}}
        products = _Products(loaded.module, n, r, seed, integer=bool(request.get("integer", False)))
        try:
            with watch.armed(inspect):
                value = products()
        except Exception as exc:  # noqa: BLE001 - student code: reported
            return {"error": _error(exc, child, products), "violations": violations, "sites": len(watch.sites)}
    return {"error": None, "violations": violations, "sites": len(watch.sites), **_outputs(value)}


def _sparse_bytes(value) -> int:
    total = 0
    for name in ("data", "indices", "indptr", "offsets", "row", "col"):
        part = getattr(value, name, None)
        if isinstance(part, np.ndarray):
            total += part.nbytes
    return total
