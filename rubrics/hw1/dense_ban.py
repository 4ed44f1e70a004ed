"""Judge side of Problem 5's ban on dense matrices: runs the three guards and words the verdicts.

The handout's rule: "You may not create a (n−r+1)×n numpy array (nor a
n×(n−r+1) numpy array)". :func:`run_guards` measures the student's operator
in the student's child (``p5_dense_plugin.py`` holds the child's side), after
the correctness checks, in phases:

1. **watched run**: the file is loaded again with every expression watched
   and the products run at growing n, counting the work exactly (values the
   student's expressions produce and the elements they hold: the plugin's
   ``WorkCount``). At ``shape_n`` this is also the **shape guard**: any
   ndarray with 2 or more dimensions and at least (n−r+1)·n/2 entries (so the
   banned (n−r+1, n) and (n, n−r+1) shapes, views included) is a violation,
   as is a scipy.sparse matrix of that shape if the rubric sets
   ``forbid_sparse``. The counts pick the other guards' sizes (costly code
   gets a smaller n, never below ``n_min``) and give the **growth** verdict:
   the slope of log(work) against log(n) says whether the work grows like
   n·r or like n². No decision uses the clock, so the verdicts are the same
   on every run, on any machine, under any load;
2. **memory guard** (after one plain warm-up round): tracemalloc peak of one
   construction, one ``A @ x`` and one ``A.T @ y`` must stay below
   ``memory_per_n·n + memory_slack`` bytes;
3. **process guard**: the judge resets the child's resident peak, caps its
   address space at what it maps now plus ``cap_headroom``, runs the same
   products, and reads the resident peak from ``/proc``: growth above
   ``memory_per_n·n + rss_slack``, a MemoryError at the cap or the process
   dying there is a violation.

Each guard's verdict is ``clean``, ``dense``, ``error`` (the guard could not
measure) or ``timeout``. The ban is broken when any guard says ``dense``.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader.guards import process
from grader.sandbox.outside.session import ChildSession, GraderError, StudentError, StudentTimeout

RULE = (
    "Rule: you may not create a (n−r+1)×n numpy array (nor a n×(n−r+1) one): "
    "A must stay matrix-free, e.g. Σ_j k_j x_(i+j) computed per output."
)

GUARDS = ("shape", "memory", "process")


@dataclass
class Verdict:
    """One guard's judgement."""

    guard: str
    """``shape``, ``memory`` or ``process``."""

    status: str
    """``clean``, ``dense``, ``error`` or ``timeout``."""

    message: str
    """What the guard measured, for the student."""

    flags: list[str] = field(default_factory=list)
    """Reasons for a TA to look (e.g. the code stopped tracemalloc)."""


@dataclass
class Growth:
    """How the work of one construction + A @ x + A.T @ y grows with n (counted, not timed)."""

    points: list[tuple[int, int]]
    """(n, work) counted: elements of the values the student's expressions produced."""

    slope: float | None
    """Fitted exponent of work ~ n^slope over the largest sizes, if measurable."""

    threshold: float
    """Slopes above this count as n²."""

    note: str = ""
    """Why the measurement stopped early, if it did."""

    @property
    def status(self) -> str:
        """``linear`` (like n·r), ``quadratic`` (like n²) or ``unknown``."""
        if self.slope is None:
            return "unknown"
        return "linear" if self.slope <= self.threshold else "quadratic"

    def message(self) -> str:
        counted = ", ".join(f"n={n}: {_count(w)}" for n, w in self.points)
        if self.status == "unknown":
            text = "The growth of the work could not be measured (fewer than two sizes ran)"
        elif self.status == "linear":
            text = f"The work grows like n·r: work ∝ n^{self.slope:.2f}"
        else:
            text = (
                f"The work grows like n²: work ∝ n^{self.slope:.2f} (above n^{self.threshold:g}); "
                "each output should cost O(r), not O(n)"
            )
        detail = f" (elements your expressions produced for Convolution1d(k), A @ x and A.T @ y: {counted})" if counted else ""
        note = f" {self.note}" if self.note else ""
        return f"{text}{detail}.{note}"


@dataclass
class DenseReport:
    """Everything the guards found for one student."""

    n: int
    """Guard size of the process guard (the memory guard's may be smaller for slow code)."""

    r: int
    """Filter length used."""

    shape_n: int
    """Size of the shape guard."""

    verdicts: dict[str, Verdict]
    """By guard name."""

    growth: Growth
    """The growth measurement."""

    products: str
    """``ok`` when both products ran and returned numeric arrays; else why not."""

    products_status: str = "ok"
    """``ok``, ``failed`` (None or not numbers), ``error`` (raised) or ``tampered`` (the watch was switched off)."""

    notes: list[str] = field(default_factory=list)
    """Extra lines (e.g. the products differ from the dense ones at the guard size)."""

    @property
    def dense(self) -> bool:
        """Whether any guard found the dense matrix."""
        return any(v.status == "dense" for v in self.verdicts.values())

    @property
    def flags(self) -> list[str]:
        return [f for v in self.verdicts.values() for f in v.flags]

    def ban_feedback(self) -> str:
        """The feedback of the ban item: every guard's line, then the rule."""
        found = [g for g in GUARDS if self.verdicts[g].status == "dense"]
        lines = []
        if found:
            lines.append(f"Dense matrix found by the {', '.join(found)} guard{'s' if len(found) > 1 else ''}.")
        lines += [self.verdicts[g].message for g in GUARDS] + self.notes
        if found:
            lines.append(RULE)
        return "\n".join(lines)


class _WithIntegers:
    """A session whose guard requests ask for integer x and y."""

    def __init__(self, session: ChildSession) -> None:
        self._session = session

    def request(self, message: dict):
        return self._session.request({**message, "integer": True})

    def __getattr__(self, name):
        return getattr(self._session, name)


class _Failed(Exception):
    """A phase could not run: the child crashed, or the budget ran out."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


def _call(session: ChildSession, message: dict) -> dict:
    try:
        return session.request(message)
    except StudentTimeout as exc:
        raise _Failed("timeout", f"stopped: the problem's time limit ran out ({exc})") from None
    except StudentError as exc:
        raise _Failed("memory" if exc.kind == "memory" else "crash", str(exc)) from None
    except GraderError as exc:
        raise _Failed("grader", f"the grader could not run this guard ({exc}); a TA will look at it") from None


def inputs(n: int, r: int, seed: int, integer: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """k, x, y exactly as the plugin draws them for (n, r, seed)."""
    rng = np.random.default_rng(seed)
    k = rng.standard_normal(r)
    if integer:
        return k, rng.integers(-9, 10, size=n), rng.integers(-9, 10, size=n - r + 1)
    return k, rng.standard_normal(n), rng.standard_normal(n - r + 1)


def _count(value: float) -> str:
    """A count as a short string: 950, 12.3k, 4.1M."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:g}"


def mib(nbytes: float) -> str:
    """Bytes as a short human string (KiB below 1 MiB)."""
    if abs(nbytes) < 1 << 20:
        return f"{nbytes / 1024:.0f} KiB"
    return f"{nbytes / (1 << 20):.1f} MiB"


def run_guards(
    session: ChildSession,
    path: str,
    required: list[str] | tuple[str, ...] = ("Convolution1d",),
    integer: bool = False,
    shape_cases: Iterable[tuple[int, int]] = (),
) -> DenseReport:
    """Runs every guard in ``session`` (the student's child) and returns the verdicts.

    ``integer`` makes x and y integer vectors (k stays float), as a student's
    own test might. ``shape_cases``: more (n, r) at which the shape guard
    checks, typically the sizes the correctness checks call the classes at
    (those with n < 2r are skipped: the matrix then has fewer rows than k has
    entries, and an honest window of x can have its shape).

    Raises:
        StudentError: the file does not load (the suite reports it like any load failure).
    """
    required = list(required)
    config = session.request({"op": "p5_dense_config"})
    stem = Path(path).stem
    r = int(config["r"])
    shape_n = int(config["shape_n"])

    def load() -> None:
        session.load(path, required)

    def fresh() -> None:
        # Each guard on a fresh load of the student's modules: a module-level cache filled by
        # the previous guard (a dense matrix kept by n) must be built again where it is seen.
        _call(session, {"op": "p5_dense_fresh", "path": path, "required": required})

    if integer:
        session = _WithIntegers(session)

    load()
    verdicts: dict[str, Verdict] = {}
    notes: list[str] = []
    growth_note = ""

    # 1. watched run: exact work counts at growing n, and the shape guard at shape_n
    try:
        watched = _call(session, {"op": "p5_dense_watch", "path": path, "required": required, "n": shape_n,
                                  "r": r, "seed": 3, "sizes": list(config["growth_sizes"]),
                                  "shape_sizes": list(config.get("shape_sizes", [])),
                                  "shape_cases": [[int(a), int(b)] for a, b in shape_cases]})
    except _Failed as failed:
        return _all_failed(config, _status(failed), str(failed))
    tampered = watched.get("tampered")
    if tampered:
        # What the shape guard and the work count saw is what the student let them see.
        report = _all_failed(config, "error", f"Your code switched off the grader's watch of its expressions "
                             f"({str(tampered)[:200]}), so whether it builds the matrix could not be checked; "
                             "the ban's points go to code that lets it watch. A TA will look at your code.",
                             products="tampered")
        report.verdicts["shape"].flags.append(f"the student's code disarmed the shape guard: {str(tampered)[:200]}")
        return report
    work = [(int(p["n"]), int(p["calls"]), int(p["elements"])) for p in watched["work"]]
    error = watched.get("work_error")
    if error is not None and not work:
        report = _all_failed(config, "error", f"Your operator raised an error: {error['message']}")
        # The sizes checked before the error still count: a matrix built at n = 20 that then
        # raises at n = 125 was seen built, and "no dense matrix was seen" would be false.
        shape = shape_verdict(watched, shape_n, r, config)
        if shape.status == "dense":
            report.verdicts["shape"] = shape
        return report
    if error is not None:
        growth_note = f"Stopped at n={error['n']}: {error['message']}"
    verdicts["shape"] = shape_verdict(watched, shape_n, r, config)
    n = choose_size(work, config, "guard_max_calls")
    n_memory = min(n, choose_size(work, config, "memory_max_calls"))
    products, products_status = "ok", "ok"

    # 2. memory guard, at a size where tracemalloc's overhead on this much work stays small
    linear = None
    try:
        load()
        fresh()
        # One plain round first: imports inside methods, caches and first-call costs are not the product's.
        _call(session, {"op": "p5_dense_run", "module": stem, "n": min(config["growth_sizes"] or [n]), "r": r, "seed": 1})
        bound = int(config["memory_per_n"]) * n_memory + int(config["memory_slack"])
        measured = _call(session, {"op": "p5_dense_memory", "module": stem, "n": n_memory, "r": r, "seed": 2,
                                   "bound": bound, "path": path, "required": required,
                                   "locate_n": locate_size(work, n_memory, int(config["locate_max_calls"]))})
        verdicts["memory"] = memory_verdict(measured, n_memory, r, bound, config)
        half = measured.get("half")
        if (verdicts["memory"].status == "clean" and half and int(measured["peak"]) > bound
                and measured.get("error") is None):
            linear = (n_memory, int(measured["peak"]), int(measured["peak"]) / max(1, int(half["peak"])))
        if measured.get("error") is None:
            products, products_status, more = check_outputs(measured, n_memory, r, seed=2, integer=integer)
            notes += more
        elif not measured["error"]["memory_error"]:
            products = f"Your operator raised an error at n={n_memory}: {measured['error']['message']}"
            products_status = "error"
    except _Failed as failed:
        verdicts["memory"] = _failed("memory", failed)

    # 3. process guard (last: it caps the address space for good)
    try:
        load()
        fresh()
        verdicts["process"] = process_guard(session, stem, n, r, config, linear)
    except _Failed as failed:
        verdicts["process"] = _failed("process", failed)

    points = [(size, elements) for size, _, elements in work]
    growth = Growth(points, fit_slope(points), float(config["growth_threshold"]), growth_note)
    return DenseReport(n, r, shape_n, verdicts, growth, products, products_status, notes)


def _status(failed: _Failed) -> str:
    return "timeout" if failed.status == "timeout" else "error"


def _failed(guard: str, failed: _Failed) -> Verdict:
    flags = [f"the {guard} guard failed inside the grader: {failed}"] if failed.status == "grader" else []
    return Verdict(guard, _status(failed), f"{guard.capitalize()} guard: {failed}", flags)


def _all_failed(config: dict, status: str, message: str, products: str = "error") -> DenseReport:
    verdicts = {g: Verdict(g, status, f"{g.capitalize()} guard: could not run. {message}") for g in GUARDS}
    growth = Growth([], None, float(config["growth_threshold"]), "")
    return DenseReport(int(config["n"]), int(config["r"]), int(config["shape_n"]), verdicts, growth, message,
                       products if status != "timeout" else "timeout")


# -- decisions (pure functions of what the child measured) --------------------
def choose_size(work: list[tuple[int, int, int]], config: dict, budget_key: str = "guard_max_calls") -> int:
    """A guard size: the configured n, or half of it and so on while the counted work is over budget.

    ``work`` holds (n, calls, elements) counted by the watched run; a size
    not counted is extrapolated from the last two counts (at least linearly).
    Both budgets must hold: ``config[budget_key]`` watched values (Python-level
    steps) and ``guard_max_elements`` elements (numpy work). Never below
    ``n_min``. Counts, not timings: the same code gets the same size on every
    machine.
    """
    target, n_min = int(config["n"]), int(config["n_min"])
    budgets = ((1, float(config[budget_key])), (2, float(config.get("guard_max_elements", float("inf")))))
    if not work:
        return n_min
    candidate = target
    while candidate > n_min:
        if all(_extrapolate(work, candidate, column) <= budget for column, budget in budgets):
            return candidate
        candidate //= 2
    return n_min


def locate_size(work: list[tuple[int, int, int]], n: int, budget: int) -> int:
    """Where the memory guard looks for the allocating line: the largest counted size up to ``n``
    whose counted work is within ``budget`` watched values, else the smallest counted one (or ``n``)."""
    counted = sorted((size, calls) for size, calls, _ in work if size <= n)
    within = [size for size, calls in counted if calls <= budget]
    if within:
        return within[-1]
    return counted[0][0] if counted else n


def _extrapolate(work: list[tuple[int, int, int]], n: int, column: int) -> float:
    """Column ``column`` of ``work`` at size ``n``: counted, or extrapolated from the last two sizes."""
    for row in work:
        if row[0] == n:
            return row[column]
    slope = 2.0
    if len(work) >= 2:
        before, last = work[-2], work[-1]
        if before[column] > 0 and last[column] > 0 and last[0] > before[0]:
            slope = max(1.0, math.log(last[column] / before[column]) / math.log(last[0] / before[0]))
    return work[-1][column] * (n / work[-1][0]) ** slope


def fit_slope(points: list[tuple[int, int]]) -> float | None:
    """Exponent of work ~ n^slope: the median slope of the last three doublings, or the last if steeper.

    The counts are exact, so no size is noisy; the median keeps a constant
    start-up cost (which flattens the smallest sizes) or one odd small size
    from deciding. The last doubling, between the largest sizes, is the
    closest to how the work grows; when it is the steeper (code that switches
    to a whole-row method at large n), it decides. None when fewer than two
    sizes were counted.
    """
    usable = [(n, w) for n, w in points if w > 0]
    slopes = [
        math.log(w2 / w1) / math.log(n2 / n1)
        for (n1, w1), (n2, w2) in zip(usable, usable[1:])
        if n2 > n1
    ][-3:]
    if not slopes:
        return None
    return max(statistics.median(slopes), slopes[-1])


def memory_verdict(measured: dict, n: int, r: int, bound: int, config: dict) -> Verdict:
    """Judges the tracemalloc peak of one construction, A @ x and A.T @ y."""
    what = f"one A @ x and one A.T @ y at n={n}, r={r}"
    limit = f"{mib(bound)} = {config['memory_per_n']}·n + {mib(config['memory_slack'])}"
    if measured.get("stopped"):
        return Verdict(
            "memory", "error",
            "Memory guard: your code stopped tracemalloc, so this guard could not measure "
            "(the process guard measured from outside).",
            ["the student's code stops tracemalloc (the memory guard could not measure)"],
        )
    error = measured.get("error")
    site = measured.get("site")
    located_at = int(measured.get("locate_n", n))
    if site and located_at != n:
        at = f" Most of it is allocated at {site} (found at n={located_at}: {mib(measured['site_bytes'])} there)."
    else:
        at = f" Most of it ({mib(measured['site_bytes'])}) was allocated at {site}." if site else ""
    if error is not None and error["memory_error"]:
        return Verdict(
            "memory", "dense",
            f"Memory guard: {what} ran out of memory while computing {error['step']} "
            f"(bound {limit}): {error['message']}.{at}",
        )
    if error is not None:
        return Verdict("memory", "error", f"Memory guard: could not measure: {error['message']}")
    peak = int(measured["peak"])
    half = measured.get("half")
    if peak > bound and half and grows_linearly(peak, int(half["peak"]), float(config["memory_growth_limit"])):
        return Verdict(
            "memory", "clean",
            f"Memory guard: {what} allocated {mib(peak)} at peak, above the bound of {limit}, but "
            f"{mib(int(half['peak']))} at n={half['n']}: it grows ×{peak / max(1, int(half['peak'])):.2f} when n "
            "doubles, as O(n·r) storage does (a Python structure of the nonzeros costs more per entry than "
            "numpy's); the dense matrix grows ×4.",
        )
    if peak > bound:
        return Verdict(
            "memory", "dense",
            f"Memory guard: {what} allocated {mib(peak)} at peak; the bound is {limit}.{at}",
        )
    return Verdict("memory", "clean", f"Memory guard: peak {mib(peak)} for {what} (bound {limit}).")


def grows_linearly(peak: int, half_peak: int, limit: float) -> bool:
    """Whether a peak at n is below ``limit`` times the peak at n/2 (the dense matrix: ×4; O(n·r): ×2)."""
    return half_peak > 0 and peak < limit * half_peak


def process_guard(session: ChildSession, stem: str, n: int, r: int, config: dict, linear: tuple | None = None) -> Verdict:
    """Watches the child from outside while it runs the products once, capped.

    ``linear``: (n, peak bytes, growth when n doubles) when the memory guard found the traced
    peak above its bound but growing linearly (O(n·r) storage, or a fixed workspace): resident
    growth up to that peak (scaled to this n) plus ``rss_slack`` is then that storage, not a matrix.
    """
    what = f"one A @ x and one A.T @ y at n={n}, r={r}"
    bound = int(config["memory_per_n"]) * n + int(config["rss_slack"])
    _call(session, {"op": "p5_dense_trim"})
    pid = session.pid
    if pid is None:
        return Verdict("process", "error", "Process guard: the student's process is not running.")
    before = process.read(pid)
    reset = process.reset_peak(pid)
    if reset:
        before = process.read(pid)
    cap = process.cap_address_space(pid, before.address_space + int(config["cap_headroom"]))
    cap_text = f"{mib(cap - before.address_space)} above the {mib(before.address_space)} mapped before"
    try:
        ran = _call(session, {"op": "p5_dense_run", "module": stem, "n": n, "r": r, "seed": 2})
    except _Failed as failed:
        if failed.status == "timeout":
            raise
        if failed.status == "memory":
            fixed = _fixed_allocation(session, stem, n, r, str(failed), what, cap_text)
            if fixed is not None:
                return fixed
            return Verdict(
                "process", "dense",
                f"Process guard: {what} hit the address-space cap ({cap_text}): {failed}",
            )
        return Verdict(
            "process", "dense",
            f"Process guard: the process died during {what} under an address-space cap of "
            f"{cap_text} (it ran the same products uncapped just before): {failed}",
        )
    try:
        after = process.read(pid)
    except ProcessLookupError:
        return Verdict("process", "error", "Process guard: the student's process vanished.")
    grew = after.peak_rss - (before.rss if reset else before.peak_rss)
    error = ran.get("error")
    if error is not None and error["memory_error"]:
        fixed = _fixed_allocation(session, stem, n, r, str(error["message"]), what, cap_text)
        if fixed is not None:
            return fixed
        return Verdict(
            "process", "dense",
            f"Process guard: {what} hit the address-space cap ({cap_text}): {error['message']}",
        )
    if error is not None:
        return Verdict("process", "error", f"Process guard: could not measure: {error['message']}")
    traced = None
    if linear is not None:
        at, peak, factor = linear
        traced = peak * max(1.0, n / at) + int(config["rss_slack"])
    if grew > bound and traced is not None and grew <= traced:
        return Verdict(
            "process", "clean",
            f"Process guard: resident memory grew by {mib(grew)} during {what}, above the bound of {mib(bound)}, "
            f"but no more than what tracemalloc traced for the same products ({mib(linear[1])} at n={linear[0]}), "
            f"which grows ×{linear[2]:.2f} when n doubles; the dense matrix grows ×4.",
        )
    if grew > bound:
        return Verdict(
            "process", "dense",
            f"Process guard: resident memory grew by {mib(grew)} during {what}; "
            f"the bound is {mib(bound)} ({config['memory_per_n']}·n + {mib(config['rss_slack'])}).",
        )
    return Verdict(
        "process", "clean",
        f"Process guard: resident memory grew by {mib(max(grew, 0))} during {what} (bound {mib(bound)}; "
        f"address space capped at {cap_text}).",
    )


def _container(violation: dict) -> str:
    """``list``, ``tuple``, ``dict`` or ``object array``: what holds a matrix kept as its rows."""
    kind = str(violation.get("container", "list"))
    return {"ndarray": "object array", "dict": "dict"}.get(kind, kind if kind in ("list", "tuple") else "list")


#: numpy's MemoryError names the array it could not make: "Unable to allocate 128. MiB for an array
#: with shape (16777216,) and data type float64".
_ALLOCATION = re.compile(r"Unable to allocate \S+ \S+ for an array with shape (\([0-9, ]*\))")


def _fixed_allocation(session: ChildSession, stem: str, n: int, r: int, message: str, what: str,
                      cap_text: str) -> Verdict | None:
    """After a MemoryError under the cap at ``n``: an ``error`` verdict if the products at n/2 fail on
    the very same allocation (a workspace whose size does not depend on n), else None (the matrix).

    The (n−r+1)×n matrix at n/2 needs a quarter of the memory; a fixed 128 MiB scratch buffer,
    allocated on first use, needs the same at every n, and is no matrix.
    """
    first = _ALLOCATION.search(message)
    if first is None:
        return None
    half = max(2 * r, n // 2)
    try:
        again = _call(session, {"op": "p5_dense_run", "module": stem, "n": half, "r": r, "seed": 2})
        text = str((again.get("error") or {}).get("message", "")) if (again.get("error") or {}).get("memory_error") else ""
    except _Failed as failed:
        if failed.status == "timeout":
            raise
        text = str(failed) if failed.status == "memory" else ""
    second = _ALLOCATION.search(text)
    if second is None or second.group(1) != first.group(1):
        return None
    return Verdict(
        "process", "error",
        f"Process guard: could not measure: {what}, and again at n={half}, ran out of the address-space cap "
        f"({cap_text}) on the same allocation, an array of shape {first.group(1)}: its size does not depend on n, "
        f"so it is not the (n−r+1)×n matrix (that needs a quarter as much at n={half}); the shape and memory guards "
        f"judge this code. {message}",
    )


def shape_verdict(watched: dict, n: int, r: int, config: dict) -> Verdict:
    """Judges the arrays the watched code produced."""
    m = n - r + 1
    violations = [v for v in watched.get("violations", []) if v["kind"] != "sparse" or config["forbid_sparse"]]
    # Those at n first (the sizes the header names), the banned shapes before other large
    # arrays, each in the order they appeared; then those seen only at other sizes.
    def where(v: dict) -> tuple[int, int]:
        return int(v.get("n", n)), int(v.get("r", r))

    violations.sort(key=lambda v: (where(v) != (n, r), not v["banned_shape"]))
    # One line per place, shape and size: `M += np.eye(m, n, j) * k[j]` is three expressions of one line.
    unique: dict[tuple, dict] = {}
    for v in violations:
        unique.setdefault((v["site"], tuple(v["shape"]), where(v), bool(v.get("integer"))), v)
    violations = list(unique.values())
    if violations:
        lines = [f"Shape guard (n={n}, r={r}, so the banned shapes are ({m}, {n}) and ({n}, {m}); "
                 "at every other n and r the grader checks, (n−r+1, n) and (n, n−r+1) likewise, and the "
                 "(n, n) and (n+r−1, n) matrices they are sliced from, or the entries kept flat or as a list of rows):"]
        for v in violations[:3]:
            at, at_r = where(v)
            rows = at - at_r + 1
            shape = "×".join(str(s) for s in v["shape"]) + ("-entry" if v["kind"] == "flat" else "")
            what = {"sparse": "scipy.sparse matrix", "flat": f"{v['dtype']} array (the matrix's entries, flat)",
                    "rows": f"{_container(v)} of {v['dtype']} arrays (the matrix's rows or columns)"}.get(v["kind"], f"{v['dtype']} array")
            size = f"{mib(v['bytes'])}" + _view_text(v)
            # A flat copy or a list of rows is named by `what`; only other arrays are caught by their size.
            size_rule = v["kind"] in ("array", "sparse") and not v["banned_shape"]
            why = f", at least half as many entries as the {rows}×{at} matrix" if size_rule else ""
            when = "" if (at, at_r) == (n, r) else f" at n={at}" + (f", r={at_r}" if at_r != r else "")
            when += " with integer vectors" if v.get("integer") else ""
            article = _article(str(v["shape"][0]) if v["shape"] else "")
            lines.append(
                f"- {v['function']} produced {article} {shape} {what} ({size}{why}) at {v['site']}, "
                f"while the grader computed {v['step']}{when}.{_built_early(v)}"
            )
        if len(violations) > 3:
            lines.append(f"- and {len(violations) - 3} more place(s).")
        if not any(where(v) == (n, r) for v in violations):
            lines.append(f"At n={n} your code builds no such array: the matrix is banned at every n, small ones too.")
        if any(v["kind"] == "sparse" for v in violations):
            lines.append("This course's rubric also forbids a scipy.sparse matrix of these shapes.")
        return Verdict("shape", "dense", "\n".join(lines))
    error = watched.get("error")
    if error is not None:
        return Verdict("shape", "error", f"Shape guard: could not watch your code: {error['message']}")
    return Verdict(
        "shape", "clean",
        f"Shape guard: no array of {m}×{n} or {n}×{m} (or with ≥ half as many entries) appeared in your code "
        f"at n={n}, r={r} ({watched.get('sites', 0)} expressions watched), nor an (n−r+1)×n or n×(n−r+1) "
        f"one{_sizes_text(watched, r)}.{_fixed_blocks_text(watched)}",
    )


def _view_text(v: dict) -> str:
    """What a view's memory is: its base's (a reshape of a fresh buffer), or none (strides, broadcasting)."""
    if not v["view"]:
        return ""
    if v.get("base_bytes", 0) >= v["bytes"]:
        return f", a view of a {mib(v['base_bytes'])} array, which holds its entries"
    return ", a view: no memory of its own, still the banned matrix"


def _built_early(v: dict) -> str:
    """Why an array of a banned shape made at a fixed size (by the constructor, or the same in every
    product) is the matrix and not a fixed block."""
    if "unused_at" not in v:
        return ""
    sizes = " and ".join(f"n={size}" for size in v.get("unused_sizes", [v["unused_at"]]))
    if not v.get("early", True):
        if v.get("unused_error"):
            return (f" At {sizes}, where no matrix fits in an array of this shape, your products failed "
                    f"({v['unused_error']}), so it could not be seen working as a fixed-size block.")
        return (f" At {sizes}, where no matrix fits in an array of this shape, your products use none as a "
                "matrix (a fixed-size block would be): it is the matrix, built for the sizes where it fits.")
    text = f" Convolution1d(k) made {_made(v)} before any x existed"
    if v.get("unused_error"):
        return (f"{text}; at {sizes}, where no matrix fits in one, your products failed "
                f"({v['unused_error']}), so it could not be seen working as a fixed block.")
    return (f"{text}, and at {sizes}, where no matrix fits in one, your products do not use it as a matrix: "
            "it is the matrix, built for the sizes where it fits. A fixed block would be used at every n.")


def _made(v: dict) -> str:
    """"it" or "the 60×64 array it is a view of (at conv1D.py:20)"."""
    shape, where = v.get("origin_shape", v["shape"]), v.get("origin_where", v["where"])
    if list(shape) == list(v["shape"]) and where == v["where"]:
        return "it"
    return f"the {'×'.join(map(str, shape))} array it {'is' if list(shape) == list(v['shape']) else 'is a view of'} (at {where})"


def _fixed_blocks_text(watched: dict) -> str:
    """The constructor's fixed blocks that have a banned shape at one size, and why they are allowed."""
    blocks = {}
    for v in watched.get("fixed_blocks", []):
        blocks.setdefault((tuple(v.get("origin_shape", v["shape"])), v.get("origin_where", v["where"])), v)
    parts = [f"the {'×'.join(map(str, shape))} array {'Convolution1d(k)' if v.get('early', True) else 'your products'} "
             f"make{'s' if v.get('early', True) else ''} at {where} is (or has a view of) a "
             f"banned shape at n={v['n']}, r={v['r']}, and is allowed as a fixed block: your products use it "
             f"at n={v['used_at']} too, where no matrix fits in it" for (shape, where), v in blocks.items()]
    return f" Also, {'; '.join(parts[:2])}." if parts else ""


def _article(number: str) -> str:
    """"an" before a number read with a vowel sound (8, 11, 18, 80, 11000, 18000), else "a"."""
    spoken_eleven_or_eighteen = len(number) % 3 == 2 and number[:2] in ("11", "18")
    return "an" if number.startswith("8") or spoken_eleven_or_eighteen else "a"


def _sizes_text(watched: dict, r: int) -> str:
    """The other sizes checked, as " at n = 12, 24, …, and at (n, r) = (20, 3), …", or ""."""
    pairs = [(int(a), int(b)) for a, b in watched.get("checked_sizes", [])]
    same = [str(a) for a, b in pairs if b == r]
    other = [f"({a}, {b})" for a, b in pairs if b != r]
    parts = ([f" at n = {', '.join(same)}"] if same else []) + ([f" at (n, r) = {', '.join(other)}"] if other else [])
    return ", and".join(parts)


def check_outputs(measured: dict, n: int, r: int, seed: int, integer: bool = False) -> tuple[str, str, list[str]]:
    """Whether both products returned numeric arrays, and whether they are right at this size."""
    forward, transposed = measured.get("forward", {}), measured.get("transposed", {})
    for name, out in (("A @ x", forward), ("A.T @ y", transposed)):
        if out.get("kind") != "array":
            return f"{name} returned {out.get('kind', 'nothing')} at n={n}, not an array of numbers", "failed", []
    k, x, y = inputs(n, r, seed, integer)
    expected = (np.correlate(x, k, "valid"), np.convolve(y, k, "full"))
    notes = []
    for name, out, want in (("A @ x", forward, expected[0]), ("A.T @ y", transposed, expected[1])):
        got = np.asarray(out["array"], dtype=float)
        if got.shape != want.shape or not np.allclose(got, want, rtol=1e-8, atol=1e-8 * max(1.0, float(np.max(np.abs(want))))):
            notes.append(f"(At the guard size n={n}, r={r} your {name} differs from the dense product; "
                         "the correctness items score that.)")
    return "ok", "ok", notes
