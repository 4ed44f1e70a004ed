"""Judge side of Problem 5's ban on dense matrices: runs the three guards and words the verdicts.

The handout's rule: "You may not create a (n−r+1)×n numpy array (nor a
n×(n−r+1) numpy array)". :func:`run_guards` measures the student's operator
in a fresh child (``p5_dense_plugin.py`` holds the child's side) in phases:

1. **timing probe** at growing n up to the guard size (also the warm-up); very
   slow code gets a smaller guard size, never below ``n_min``;
2. **memory guard**: tracemalloc peak of one construction, one ``A @ x`` and
   one ``A.T @ y`` must stay below ``memory_per_n·n + memory_slack`` bytes;
3. **shape guard**: the file is loaded again with every expression watched;
   any ndarray with 2 or more dimensions and at least (n−r+1)·n/2 entries
   (so the banned (n−r+1, n) and (n, n−r+1) shapes, views included) is a
   violation, as is a scipy.sparse matrix of that shape if the rubric sets
   ``forbid_sparse``;
4. **process guard**: the judge resets the child's resident peak, caps its
   address space at what it maps now plus ``cap_headroom``, runs the same
   products, and reads the resident peak from ``/proc``: growth above
   ``memory_per_n·n + rss_slack``, a MemoryError at the cap or the process
   dying there is a violation;
5. **growth**: more timings at larger n, and the slope of log(time) against
   log(n) says whether the work grows like n·r or like n².

Each guard's verdict is ``clean``, ``dense``, ``error`` (the guard could not
measure) or ``timeout``. The ban is broken when any guard says ``dense``.
"""

from __future__ import annotations

import math
import statistics
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

#: Timings shorter than this are too noisy to fit a growth exponent to.
RELIABLE_SECONDS = 1e-3


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
    """How the time of one construction + A @ x + A.T @ y grows with n."""

    points: list[tuple[int, float]]
    """(n, seconds) measured."""

    slope: float | None
    """Fitted exponent of time ~ n^slope over the largest sizes, if measurable."""

    threshold: float
    """Slopes above this count as n²."""

    note: str = ""
    """Why the measurement stopped early, if it did."""

    @property
    def status(self) -> str:
        """``linear`` (like n·r), ``quadratic`` (like n²) or ``unknown``."""
        if self.slope is None:
            # Too fast to time reliably even at a large n: n² work is not that fast.
            return "linear" if self.points and max(n for n, _ in self.points) >= 4000 else "unknown"
        return "linear" if self.slope <= self.threshold else "quadratic"

    def message(self) -> str:
        timings = ", ".join(f"n={n}: {s * 1000:.3g} ms" for n, s in self.points)
        if self.status == "unknown":
            text = "The growth of the work could not be measured"
        elif self.slope is None:
            text = "The work grows like n·r: too fast to time even at the largest n"
        elif self.status == "linear":
            text = f"The work grows like n·r: time ∝ n^{self.slope:.2f}"
        else:
            text = (
                f"The work grows like n²: time ∝ n^{self.slope:.2f} (above n^{self.threshold:g}); "
                "each output should cost O(r), not O(n)"
            )
        detail = f" ({timings})" if timings else ""
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
    """``ok``, ``failed`` (None or not numbers) or ``error`` (raised)."""

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
) -> DenseReport:
    """Runs every guard in ``session`` (a fresh child of the student's) and returns the verdicts.

    ``integer`` makes x and y integer vectors (k stays float), as a student's
    own test might.

    Raises:
        StudentError: the file does not load (the suite reports it like any load failure).
    """
    required = list(required)
    config = session.request({"op": "p5_dense_config"})
    stem = Path(path).stem
    r = int(config["r"])
    target = int(config["n"])
    growth_max = float(config["growth_max_seconds"])

    def load() -> None:
        session.load(path, required)

    if integer:
        session = _WithIntegers(session)

    load()
    verdicts: dict[str, Verdict] = {}
    notes: list[str] = []
    growth_note = ""

    # 1. timing probe (and warm-up) up to the guard size
    sizes = sorted({s for s in config["growth_sizes"] if s < target} | {target})
    try:
        probe = _call(session, {"op": "p5_dense_time", "module": stem, "sizes": sizes, "r": r, "seed": 1,
                                "max_seconds": max(growth_max, float(config["pair_seconds"]))})
    except _Failed as failed:
        return _all_failed(config, _status(failed), str(failed))
    points = [(p["n"], p["seconds"]) for p in probe["points"]]
    if probe["error"] is not None and not points:
        return _all_failed(config, "error", f"Your operator raised an error: {probe['error']['message']}")
    if probe["error"] is not None:
        growth_note = f"Stopped at n={probe['error']['n']}: {probe['error']['message']}"
    n = choose_size(points, config)
    shape_n = min(int(config["shape_n"]), n)
    products, products_status = "ok", "ok"

    # 2. memory guard, at a size where tracemalloc's overhead on this code fits the budget
    try:
        load()
        n_memory = _memory_size(session, stem, r, points, n, config)
        bound = int(config["memory_per_n"]) * n_memory + int(config["memory_slack"])
        measured = _call(session, {"op": "p5_dense_memory", "module": stem, "n": n_memory, "r": r, "seed": 2,
                                   "bound": bound})
        verdicts["memory"] = memory_verdict(measured, n_memory, r, bound, config)
        if measured.get("error") is None:
            products, products_status, more = check_outputs(measured, n_memory, r, seed=2, integer=integer)
            notes += more
        elif not measured["error"]["memory_error"]:
            products = f"Your operator raised an error at n={n_memory}: {measured['error']['message']}"
            products_status = "error"
    except _Failed as failed:
        verdicts["memory"] = _failed("memory", failed)

    # 3. shape guard (before the cap: loading runs the file again, script code and all if needed)
    try:
        watched = _call(session, {"op": "p5_dense_shape", "path": path, "required": required,
                                  "n": shape_n, "r": r, "seed": 3})
        verdicts["shape"] = shape_verdict(watched, shape_n, r, config)
    except _Failed as failed:
        verdicts["shape"] = _failed("shape", failed)

    # 4. process guard (last of the guards: it caps the address space for good)
    try:
        load()
        verdicts["process"] = process_guard(session, stem, n, r, config)
    except _Failed as failed:
        verdicts["process"] = _failed("process", failed)

    # 5. growth: larger sizes while one round is predicted to stay within growth_max_seconds
    larger = [s for s in config["growth_sizes"] if s > max(p[0] for p in points)]
    if larger and probe["error"] is None and points[-1][1] <= growth_max:
        try:
            load()
            previous = [{"n": a, "seconds": b} for a, b in points]
            more = _call(session, {"op": "p5_dense_time", "module": stem, "sizes": larger, "r": r, "seed": 4,
                                   "max_seconds": growth_max, "previous": previous})
            points = [(p["n"], p["seconds"]) for p in more["points"]]
            if more["error"] is not None:
                growth_note = f"Stopped at n={more['error']['n']}: {more['error']['message']}"
        except _Failed as failed:
            growth_note = f"Stopped: {failed}"
    growth = Growth(points, fit_slope(points), float(config["growth_threshold"]), growth_note)
    return DenseReport(n, r, shape_n, verdicts, growth, products, products_status, notes)


def _memory_size(session: ChildSession, stem: str, r: int, points: list[tuple[int, float]], n: int, config: dict) -> int:
    """The memory guard's size: ``n``, or smaller where tracemalloc slows this code too much.

    tracemalloc costs little for numpy-heavy code and up to 30× for code that
    makes a Python object per arithmetic step, so the slowdown is measured at
    the smallest probed size and the plain timings are scaled by it.
    """
    n_min, budget = int(config["n_min"]), float(config["pair_seconds"])
    if not points:
        return n
    small, plain = points[0]
    trial = _call(session, {"op": "p5_dense_memory", "module": stem, "n": small, "r": r, "seed": 5,
                            "bound": 1 << 62})
    factor = max(1.0, trial.get("seconds", 0.0) / plain) if plain > 0 else 1.0
    fitting = [size for size, seconds in points if n_min <= size <= n and seconds * factor <= budget]
    return max(fitting) if fitting else min(n, n_min)


def _status(failed: _Failed) -> str:
    return "timeout" if failed.status == "timeout" else "error"


def _failed(guard: str, failed: _Failed) -> Verdict:
    flags = [f"p5: the {guard} guard failed inside the grader: {failed}"] if failed.status == "grader" else []
    return Verdict(guard, _status(failed), f"{guard.capitalize()} guard: {failed}", flags)


def _all_failed(config: dict, status: str, message: str, products: str = "error") -> DenseReport:
    verdicts = {g: Verdict(g, status, f"{g.capitalize()} guard: could not run. {message}") for g in GUARDS}
    growth = Growth([], None, float(config["growth_threshold"]), "")
    return DenseReport(int(config["n"]), int(config["r"]), int(config["shape_n"]), verdicts, growth, message,
                       products if status != "timeout" else "timeout")


# -- decisions (pure functions of what the child measured) --------------------
def choose_size(points: list[tuple[int, float]], config: dict) -> int:
    """The guard size: the configured n, or a smaller one where one round would take too long."""
    target, n_min, budget = int(config["n"]), int(config["n_min"]), float(config["pair_seconds"])
    measured = dict(points)
    if target in measured and measured[target] <= budget:
        return target
    if not points:
        return n_min
    slope = 2.0
    if len(points) >= 2 and points[-2][1] > 0 and points[-1][0] > points[-2][0]:
        (n1, t1), (n2, t2) = points[-2:]
        slope = max(1.0, math.log(t2 / t1) / math.log(n2 / n1))
    n_last, t_last = points[-1]
    candidate = target
    while candidate > n_min:
        predicted = measured.get(candidate, t_last * (candidate / n_last) ** slope)
        if predicted <= budget:
            return candidate
        candidate //= 2
    return n_min


def fit_slope(points: list[tuple[int, float]]) -> float | None:
    """Exponent of time ~ n^slope: the median slope of the last three doublings.

    Only timings of at least :data:`RELIABLE_SECONDS` count (shorter ones are
    mostly interpreter overhead and timer noise); the median keeps one noisy
    size from deciding. None when fewer than two timings count.
    """
    usable = [(n, t) for n, t in points if t >= RELIABLE_SECONDS]
    slopes = [
        math.log(t2 / t1) / math.log(n2 / n1)
        for (n1, t1), (n2, t2) in zip(usable, usable[1:])
        if n2 > n1
    ][-3:]
    if not slopes:
        return None
    return statistics.median(slopes)


def memory_verdict(measured: dict, n: int, r: int, bound: int, config: dict) -> Verdict:
    """Judges the tracemalloc peak of one construction, A @ x and A.T @ y."""
    what = f"one A @ x and one A.T @ y at n={n}, r={r}"
    limit = f"{mib(bound)} = {config['memory_per_n']}·n + {mib(config['memory_slack'])}"
    if measured.get("stopped"):
        return Verdict(
            "memory", "error",
            "Memory guard: your code stopped tracemalloc, so this guard could not measure "
            "(the process guard measured from outside).",
            ["p5: the student's code stops tracemalloc (the memory guard could not measure)"],
        )
    error = measured.get("error")
    site = measured.get("site")
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
    if peak > bound:
        return Verdict(
            "memory", "dense",
            f"Memory guard: {what} allocated {mib(peak)} at peak; the bound is {limit}.{at}",
        )
    return Verdict("memory", "clean", f"Memory guard: peak {mib(peak)} for {what} (bound {limit}).")


def process_guard(session: ChildSession, stem: str, n: int, r: int, config: dict) -> Verdict:
    """Watches the child from outside while it runs the products once, capped."""
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
        return Verdict(
            "process", "dense",
            f"Process guard: {what} hit the address-space cap ({cap_text}): {error['message']}",
        )
    if error is not None:
        return Verdict("process", "error", f"Process guard: could not measure: {error['message']}")
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


def shape_verdict(watched: dict, n: int, r: int, config: dict) -> Verdict:
    """Judges the arrays the watched code produced."""
    m = n - r + 1
    violations = [v for v in watched.get("violations", []) if v["kind"] == "array" or config["forbid_sparse"]]
    # The banned shapes first, then other large arrays, each in the order they appeared.
    violations.sort(key=lambda v: not v["banned_shape"])
    if violations:
        lines = [f"Shape guard (n={n}, r={r}, so the banned shapes are ({m}, {n}) and ({n}, {m})):"]
        for v in violations[:3]:
            shape = "×".join(str(s) for s in v["shape"])
            what = "scipy.sparse matrix" if v["kind"] == "sparse" else f"{v['dtype']} array"
            size = f"{mib(v['bytes'])}" + (", a view: no memory of its own, still the banned matrix" if v["view"] else "")
            why = "" if v["banned_shape"] else f", at least half as many entries as the {m}×{n} matrix"
            lines.append(
                f"- {v['function']} produced a {shape} {what} ({size}{why}) at {v['site']}, "
                f"while the grader computed {v['step']}."
            )
        if len(violations) > 3:
            lines.append(f"- and {len(violations) - 3} more place(s).")
        if any(v["kind"] == "sparse" for v in violations):
            lines.append("This course's rubric also forbids a scipy.sparse matrix of these shapes.")
        return Verdict("shape", "dense", "\n".join(lines))
    error = watched.get("error")
    if error is not None:
        return Verdict("shape", "error", f"Shape guard: could not watch your code: {error['message']}")
    return Verdict(
        "shape", "clean",
        f"Shape guard: no array of {m}×{n} or {n}×{m} (or with ≥ half as many entries) appeared in your code "
        f"at n={n}, r={r} ({watched.get('sites', 0)} expressions watched).",
    )


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
