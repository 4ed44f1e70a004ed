"""Problem 4 logic: the assignment's f, and GD runs rebuilt from observed evaluations.

Runs in the judge on plain numbers the child sent. A run is a chain
x₀, x₁, … with x_{k+1} = x_k − α·g(x_k) for a constant α, where g(x_k) is what
the student's ``fprime`` returned (or, for an inlined derivative, the
assignment's f′). The child rebuilds the chains online
(``grader/sandbox/inside/chains.py``): extra calls interleaved with a chain
(printing fprime(x), plotting) are skipped; array arguments give one run per
element.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass

import numpy as np

from grader import runs_view


#: The three learning rates of the assignment.
TARGET_ALPHAS = (0.01, 0.3, 4.0)

#: Starts must lie in this interval.
START_RANGE = (-5.0, 20.0)
#: Starts an α needs for full credit: one or two hand-picked starts show nothing about
#: "random starting points" or "most starting points"; fewer earn that share of the item.
MIN_STARTS = 3


def f_starter(x):
    """f exactly as the starter code computes it (overflows to nan for large x)."""
    with np.errstate(all="ignore"):
        return (10 * x**2 + np.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (x - 3)))


def fprime_starter(x):
    """f′ exactly as the starter code computes it."""
    with np.errstate(all="ignore"):
        s = 1 / (1 + np.exp(-3 * (x - 3)))
        return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


def expit(z):
    """σ(z) = 1 / (1 + e^−z) element by element, as ``scipy.special.expit`` computes it, bit for bit.

    scipy's is ``1 / (1 + exp(−z))`` with the C library's ``exp``, which
    ``math.exp`` calls too (``np.exp`` has its own, which differs in the last
    bit for about 2% of inputs). Not importing scipy keeps a fifth of the
    judge worker's memory out of every judge it forks. For the probe points:
    a Python loop.
    """
    z = np.asarray(z, dtype=float)
    out = np.empty(z.shape)
    flat = out.reshape(-1)
    for i, v in enumerate(z.reshape(-1).tolist()):
        try:
            e = math.exp(-v)
        except OverflowError:  # the C exp gives inf there
            e = math.inf
        flat[i] = 1.0 / (1.0 + e)
    return out[()]


def f_stable(x):
    """f without overflow: (1 − s)·10x² + s·((x − 10)²/2 + 50), s = σ(3(x − 3))."""
    s = expit(3 * (np.asarray(x, dtype=float) - 3))
    return (1 - s) * 10 * x**2 + s * ((x - 10) ** 2 / 2 + 50)


def fprime_stable(x):
    """f′ without overflow."""
    x = np.asarray(x, dtype=float)
    s = expit(3 * (x - 3))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


#: A run shorter than this counts only if it diverged: three points fit one α by chance
#: in the calls of an update that is not GD (momentum, a decaying α, x − α·f(x), clipping).
MIN_RUN_STEPS = 10
#: Beyond this, x₀ is no start a script draws: it is a point deep in a diverging run.
MAX_START = 1e4
#: |α| outside this range is no GD experiment on this f (the assignment's are 0.01 to 4): a
#: chain that alternates between two points (x ± α of a normalized step) is seen as two
#: chains that barely move, with |α| of 1e-8 to 1e-5.
ALPHA_RANGE = (1e-4, 1e3)
#: A scalar run that moves less than this in all its steps sits at a stationary point, where
#: steps of a few ulps fit any α (the tail of momentum or of a decaying α, seen as its own
#: run). An element of a vectorized run has its α from the whole array, and is kept.
MIN_TRAVEL = 1e-4


#: The reasons of :func:`fragment_reason` that other runs of the same α excuse (see split_fragments).
_SHORT = f"fewer than {MIN_RUN_STEPS} steps"
_STILL = f"a travel under {MIN_TRAVEL:g} in all its steps"


def fragment_reason(run: "Run") -> str:
    """Why a run the observer followed is only a fragment of some other iteration, or "" if it is a run."""
    if abs(run.start) > MAX_START or not math.isfinite(run.start):
        return f"|x₀| above {MAX_START:g}"
    if not ALPHA_RANGE[0] <= abs(run.alpha) <= ALPHA_RANGE[1]:
        return f"|α| outside [{ALPHA_RANGE[0]:g}, {ALPHA_RANGE[1]:g}]"
    diverged = classify(run.final) == "diverged"
    if run.steps < MIN_RUN_STEPS and not diverged:
        return _SHORT
    if not run.vectorized and not diverged and abs(run.final - run.start) < MIN_TRAVEL:
        return _STILL
    return ""


def split_fragments(runs: list["Run"]) -> tuple[list["Run"], dict[str, int]]:
    """The runs that are GD runs, and how many fragments were set aside, by reason.

    A short run, or one that barely moves, is kept when other runs show its α: a grid of
    starts that holds x₀ = 10 has a run at the wide minimum, with the α of its neighbours.
    What an update that is not GD leaves has an α of its own each time.
    """
    reasons = [fragment_reason(run) for run in runs]
    shown = {_alpha_key(run.alpha) for run, why in zip(runs, reasons) if not why}
    kept, fragments = [], {}
    for run, why in zip(runs, reasons):
        if why and not (why in (_SHORT, _STILL) and _alpha_key(run.alpha) in shown):
            fragments[why] = fragments.get(why, 0) + 1
        else:
            kept.append(run)
    return kept, fragments


#: Why short runs that diverged are set aside when most calls fit no GD run (see set_aside_unconfirmed).
_UNCONFIRMED = f"fewer than {MIN_RUN_STEPS} steps amid calls that fit no GD run"


def set_aside_unconfirmed(runs: list["Run"], fragments: dict[str, int], outside: int, calls: int
                          ) -> tuple[list["Run"], dict[str, int]]:
    """The runs without an α's short "diverged" pieces, when many gradient calls fit no GD run.

    A short run counts as diverged by the step its last call predicts (a script that stops at
    |x| > 10³ never evaluates it). Where a fifth of the calls, and at least 100, fit no run, an
    α whose every run is that short is the start of another iteration (a clipped step: the
    predicted jump never happened), as the vectorized form of the same script shows. A fifth, not
    a tenth: a script that also plots fprime point by point on a grid keeps its early-stopped α = 4.
    """
    if outside <= max(100, calls / 5):
        return runs, fragments
    longest: dict[float, int] = {}
    for run in runs:
        key = _alpha_key(run.alpha)
        longest[key] = max(longest.get(key, 0), run.steps)
    short = {key for key, steps in longest.items() if steps < MIN_RUN_STEPS}
    if not short:
        return runs, fragments
    kept = [run for run in runs if _alpha_key(run.alpha) not in short]
    fragments = dict(fragments)
    fragments[_UNCONFIRMED] = fragments.get(_UNCONFIRMED, 0) + len(runs) - len(kept)
    return kept, fragments


def _alpha_key(alpha: float) -> float:
    """α to 6 significant digits, as :func:`group_by_alpha` groups runs."""
    return float(f"{alpha:.6g}")


def fragments_text(fragments: dict[str, int]) -> str:
    """E.g. "12 with fewer than 10 steps, 3 with |x₀| above 10000"."""
    return ", ".join(f"{count} with {why}" for why, count in sorted(fragments.items(), key=lambda kv: -kv[1]))


def classify(x: float) -> str:
    """``sharp`` (|x| < 0.5), ``wide`` (|x − 10| < 0.5), ``diverged`` (non-finite or |x| > 10³) or ``not converged``."""
    if not math.isfinite(x) or abs(x) > 1e3:
        return "diverged"
    if abs(x) < 0.5:
        return "sharp"
    if abs(x - 10) < 0.5:
        return "wide"
    return "not converged"


def reference_finals(starts: np.ndarray, alpha, steps: int, cap: int = 100_000) -> np.ndarray:
    """Where the reference GD (starter f′) ends from each start after ``steps`` steps (``alpha``: one, or one per start)."""
    x = np.array(starts, dtype=float).ravel()
    a = np.broadcast_to(np.asarray(alpha, dtype=float), x.shape)
    # fprime_starter's operations in its order, into buffers allocated once: the same
    # floats at a fraction of the cost (a GD step is ~20 ufunc calls on a small array).
    # The constants are float64 scalars made once (the same values the Python ints
    # convert to on every call), the output buffer goes by position, and x − 10, used
    # twice, is computed once: each element still gets the same IEEE operations in the
    # same order, so the same bits.
    s, t, u, v, w = (np.empty_like(x) for _ in range(5))
    sub, mul, add, div, exp, square = np.subtract, np.multiply, np.add, np.divide, np.exp, np.square
    three, minus_three, one, twenty, ten, two, fifty = (np.float64(c) for c in (3, -3, 1, 20, 10, 2, 50))
    with np.errstate(all="ignore"):
        for _ in range(min(steps, cap)):
            sub(x, three, s)
            mul(minus_three, s, s)
            exp(s, s)
            add(one, s, s)
            div(one, s, s)  # s = 1 / (1 + exp(-3 (x - 3)))
            sub(one, s, t)  # 1 - s
            mul(t, twenty, u)
            mul(u, x, u)  # (1 - s)·20·x
            sub(x, ten, v)  # x − 10
            mul(s, v, w)
            add(u, w, u)  # … + s·(x − 10)
            mul(three, s, s)
            mul(s, t, s)  # 3·s·(1 − s)
            square(v, w)
            div(w, two, w)
            add(w, fifty, w)  # (x − 10)²/2 + 50
            square(x, t)
            mul(ten, t, t)
            sub(w, t, w)
            mul(s, w, w)
            add(u, w, u)  # f′(x)
            mul(a, u, u)
            sub(x, u, x)
    return x


@dataclass(frozen=True)
class Run:
    """One observed GD run."""

    alpha: float
    """The inferred step size (negative for x + α·f′)."""

    start: float
    """x₀."""

    steps: int
    """Observed iterations."""

    final: float
    """The iterate after the last observed step."""

    source: str
    """``fprime`` or the update line, e.g. ``wideMinima.py:12:x``."""

    chain: int = 0
    """Which observed chain it belongs to: the elements of one vectorized call share a chain."""

    vectorized: bool = False
    """Whether its chain ran several starts as one array."""

    index: int = 0
    """Its position in the stream's arrays (for the trajectory sample)."""

    @functools.cached_property
    def outcome(self) -> str:
        """Class of the final iterate (asked for thousands of times per student: computed once)."""
        return classify(self.final)

    @property
    def group(self) -> str:
        """The coherent group it belongs to: its vectorized call, or its α and length."""
        if self.vectorized:
            return f"call {self.chain + 1} (α = {self.alpha:g}, {self.steps} steps)"
        return f"α = {self.alpha:g}, {self.steps} steps"


def runs_from_stream(data: dict, source: str) -> list[Run]:
    """The runs of one stream of the observer's answer (``Recorder.snapshot()["streams"][name]``)."""
    chains = np.asarray(data["chain"], dtype=np.int64)
    sizes = np.bincount(chains) if chains.size else np.empty(0, dtype=np.int64)
    alpha, start, last, steps = (np.asarray(data[k]) for k in ("alpha", "start", "last", "steps"))
    return [
        Run(float(alpha[i]), float(start[i]), int(steps[i]), float(last[i]), source, int(chains[i]),
            bool(sizes[chains[i]] > 1), i)
        for i in range(chains.size)
    ]


def runs_from_record(record: dict) -> tuple[list[Run], str, dict | None]:
    """All runs in a ``p4_observe`` answer, how they were observed, and that stream's data.

    Uses the calls of ``fprime``; when they form no chain (derivative inlined),
    uses the loop updates ``x = x − …`` followed with the assignment's f′.
    """
    streams = record.get("streams", {})
    if "fprime" in streams:
        runs = runs_from_stream(streams["fprime"], "fprime")
        if runs:
            return runs, "fprime", streams["fprime"]
    for name, data in streams.items():
        if not name.startswith("="):
            continue
        runs = runs_from_stream(data, name[1:])
        if runs:
            where = name[1:].rsplit(":", 1)
            return runs, f"the update of {where[1]} at {where[0]}", data
    return [], "", None


def incoherence(runs: list[Run]) -> str:
    """Signs that the runs were stitched from unrelated calls, or "" (a script that advances more than
    a dozen scalar starts in lock-step splits and mixes its chains; docs/p4.md, Limits).

    A wrong sign makes every run step uphill; some runs uphill among many downhill ones are
    the observer's, not the student's. (Starts far outside anything a script draws are set
    aside before, by :func:`split_fragments`.)
    """
    uphill = [r for r in runs if r.alpha <= 0]
    # One α written with the wrong sign (`x + 4*fprime(x)` in the α = 4 run only) steps all of
    # its runs uphill by the same α: the student's bug, which p4-update already reports.
    one_alpha = len({_alpha_key(r.alpha) for r in uphill}) == 1 and len({r.start for r in uphill}) >= MIN_STARTS
    if 0 < len(uphill) < len(runs) / 2 and not one_alpha:
        return f"{len(uphill)} of {len(runs)} runs step uphill"
    return ""


def grid_step(starts) -> float | None:
    """The step of the evenly spaced grid that holds all but one or two of these distinct starts, or None.

    Not all of them: two grid points one GD step apart (x = -2.5 and -2 with α = 0.01, since
    f'(-2.5) = -50) share a trajectory, and the observer may start one of the two runs a step
    late, at a point off the grid. MIN_STARTS or more starts off the grid are random starts
    beside it (a basin plot on a fine grid, then the random experiment): not a grid.
    """
    distinct = np.unique(np.asarray(starts, dtype=float))
    if distinct.size <= 2:
        return None
    step = float(np.median(np.diff(distinct)))
    if not step > 0:
        return None
    phase = (distinct - distinct[0]) / step
    phase = np.round((phase - np.floor(phase)) * 1e6) % 1e6  # position within a grid cell, to 1e-6
    values, counts = np.unique(phase, return_counts=True)
    # The cell position most starts share (neighbours too: 999999 and 0 are the same place).
    best = values[np.argmax(counts)]
    near = np.minimum(np.abs(phase - best), 1e6 - np.abs(phase - best)) <= 1
    # A grid fills its cells from end to end (linspace, arange); a dozen integers drawn at
    # random from [-5, 20] sit on the integer lattice too, with half its points missing.
    on_grid = distinct[near]
    cells = int(round((on_grid[-1] - on_grid[0]) / step)) + 1 if on_grid.size else 0
    filled = on_grid.size >= 0.7 * cells
    return step if near.mean() >= 0.9 and int((~near).sum()) < MIN_STARTS and filled else None


def calls_in_runs(runs: list[Run]) -> int:
    """The gradient calls these runs account for: each chain's longest run (a vectorized call steps all its elements)."""
    longest: dict[int, int] = {}
    for run in runs:
        longest[run.chain] = max(longest.get(run.chain, 0), run.steps)
    return sum(longest.values())


def inconsistency(data: dict | None) -> str:
    """Why a stream's runs cannot have come from its calls, or "" when they can.

    Each observed call extends a chain by one step (a vectorized call extends
    one array chain, all its elements at once), so no run is longer than the
    calls, and the steps of the distinct chains add up to about the calls.
    Runs the observer never fed, written into its memory by the script
    itself, break that.
    """
    if not data:
        return ""
    steps = np.asarray(data.get("steps", []), dtype=np.int64)
    chains = np.asarray(data.get("chain", []), dtype=np.int64)
    if steps.size == 0:
        return ""
    if chains.size != steps.size:
        return "the observed runs are malformed"
    order = np.argsort(chains, kind="stable")
    first = np.unique(chains[order], return_index=True)[1]
    per_chain = np.maximum.reduceat(steps[order], first) if first.size else steps[:0]
    total, longest, calls = int(per_chain.sum()), int(per_chain.max()), int(data.get("calls", 0))
    # One run longer than all the calls cannot be: each of its steps is a call. The sum is
    # checked with room to spare: where runs meet (two starts on the same iterate, a converged
    # tail) the observer may credit a call to more than one, by a handful of steps in 10⁵.
    if longest > calls:
        return f"a run of {longest} steps, but only {calls} evaluations were observed"
    if total > 2 * calls + 1000:
        return f"the observed runs have {total} steps in all, but only {calls} evaluations were observed"
    return ""


def candidate_groups(runs: list[Run], min_size: int = 3) -> list[tuple[str, list[Run]]]:
    """The coherent groups a verdict may be based on, the whole set first.

    A group is the runs of one vectorized call, or the runs of one α and one
    length. Groups smaller than ``min_size`` (a single hand-picked start) are
    reported but never judged on their own.
    """
    found: dict[str, list[Run]] = {}
    for run in runs:
        found.setdefault(run.group, []).append(run)
    groups = [(f"all {len(runs)} runs", runs)]
    if len(found) > 1:
        groups += [(f"the {len(g)} runs of {label}", g) for label, g in found.items() if len(g) >= min_size]
    return groups


def runs_json(runs: list[Run], data: dict | None, judged: dict[int, set[int]] | None = None) -> dict:
    """The ``runs.json`` artifact (schema 1, see docs/p4.md) for the report."""
    judged = judged or {}
    chosen = set().union(*judged.values()) if judged else set()
    if data is not None:
        # Python numbers once for the whole stream: converting numpy scalars one by one
        # was most of the cost of writing a vectorized script's runs.json.
        offsets = np.asarray(data["trajectory_offsets"]).tolist()
        values = np.asarray(data["trajectory_values"], dtype=float)
        all_values = values.tolist()
        for i in np.flatnonzero(~np.isfinite(values)).tolist():
            all_values[i] = None
        points = list(map(list, zip(np.asarray(data["trajectory_steps"], dtype=np.int64).tolist(), all_values)))
    out = []
    for run in runs:
        trajectory: list = []
        if data is not None:
            trajectory = points[offsets[run.index]:offsets[run.index + 1]]
        out.append({
            "alpha": _json_float(run.alpha),
            "start": _json_float(run.start),
            "last": _json_float(run.final),
            "steps": run.steps,
            "outcome": {"not converged": "other"}.get(run.outcome, run.outcome),
            "group": run.group,
            "judged": run.index in chosen,
            "trajectory": trajectory,
        })
    return {"schema": 1, "runs": out}


class RunsFile:
    """The text of ``runs.json``, encoded once: a verdict only changes which runs are ``judged``.

    Also the bytes of its array companion (:mod:`grader.runs_view`), the same runs as
    plain arrays that the report reads instead of parsing the JSON (docs/p4.md).

    Args:
        doc: what :func:`runs_json` returned.
    """

    #: Stands for each run's ``judged`` value while the document is encoded: a string no
    #: entry can hold (the others are numbers, outcome names and group labels of ours), so
    #: its JSON form cuts the text exactly where the marks go.
    _MARK = "\x00judged"

    def __init__(self, doc: dict) -> None:
        self.schema = doc["schema"]
        # One pass of the C encoder over the whole document; encoding each run's head and
        # tail on their own took a third longer (~240 calls per vectorized script).
        marked = {"schema": self.schema, "runs": [{**entry, "judged": self._MARK} for entry in doc["runs"]]}
        text = json.dumps(marked, allow_nan=False, separators=(",", ":"))
        self._pieces = text.split(json.dumps(self._MARK))
        if len(self._pieces) != len(doc["runs"]) + 1:  # cannot happen (see _MARK); never write a wrong file
            raise ValueError("a runs.json entry holds the placeholder of the judged marks")
        self._view = runs_view.parts(doc)

    def text(self, judged: list[bool]) -> str:
        """The whole file, compact, with ``judged`` set per run (in the document's order)."""
        if len(judged) != len(self._pieces) - 1:
            raise ValueError(f"{len(judged)} marks for {len(self._pieces) - 1} runs")
        out = [self._pieces[0]]
        for mark, piece in zip(judged, self._pieces[1:]):
            out.append("true" if mark else "false")
            out.append(piece)
        return "".join(out)

    def view(self, text: bytes, judged: list[bool]) -> bytes:
        """The array companion of the runs.json whose bytes are ``text`` (written with these marks)."""
        return runs_view.companion(self._view, text, judged)


def _json_float(value) -> float | None:
    """A float JSON can hold (inf and nan become None)."""
    value = float(value)
    return value if math.isfinite(value) else None


def group_by_alpha(runs: list[Run]) -> dict[float, list[Run]]:
    """Runs grouped by step size (α equal to 6 significant digits)."""
    groups: dict[float, list[Run]] = {}
    for run in runs:
        groups.setdefault(_alpha_key(run.alpha), []).append(run)
    return dict(sorted(groups.items()))


def runs_for(runs: list[Run], target: float) -> list[Run]:
    """Runs whose α is the assignment's ``target``."""
    return [r for r in runs if abs(r.alpha - target) <= 1e-6 * target]


def describe(alpha: float, runs: list[Run]) -> str:
    """One feedback line, e.g. "α = 0.01: 20 runs of 1000 steps, 7 → sharp, 13 → wide"."""
    steps = sorted({r.steps for r in runs})
    span = f"{steps[0]}" if len(steps) == 1 else f"{steps[0]}–{steps[-1]}"
    counts: dict[str, int] = {}
    for r in runs:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    parts = ", ".join(f"{n} → {k}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    plural = "run" if len(runs) == 1 else "runs"
    return f"α = {alpha:g}: {len(runs)} {plural} of {span} steps, {parts}"


def agreement(runs: list[Run], finals: dict | None = None) -> list[bool]:
    """For each run: does its outcome match the reference GD from the same start, α and step count?

    Args:
        finals: the caller's reference finals already computed, by (start, α, steps), filled in
            here. A verdict tries several groups of the same runs (see candidate_groups), and
            each element's arithmetic is the same in any batch, so with one dict for a
            student's runs each run's reference is computed once.
    """
    finals = {} if finals is None else finals
    verdicts = [False] * len(runs)
    # One vectorized reference run per step count, each element with its own α (inferred
    # α differ in their last bits run to run; element-wise, the arithmetic is the same).
    by_steps: dict[int, list[int]] = {}
    for i, r in enumerate(runs):
        by_steps.setdefault(r.steps, []).append(i)
    for steps, idx in by_steps.items():
        todo = list(dict.fromkeys((runs[i].start, runs[i].alpha) for i in idx if (runs[i].start, runs[i].alpha, steps) not in finals))
        if todo:
            ends = reference_finals(np.array([x for x, _ in todo]), np.array([a for _, a in todo]), steps)
            finals.update(((x, a, steps), end) for (x, a), end in zip(todo, ends.tolist()))
        for i in idx:
            verdicts[i] = classify(finals[runs[i].start, runs[i].alpha, steps]) == runs[i].outcome
    return verdicts


def table(runs: list[Run], how: str) -> str:
    """A Markdown table of the observed runs per α, for the report."""
    lines = [f"Observed through {how}.", "", "| α | runs | steps | sharp | wide | diverged | not converged | starts |", "|---|---|---|---|---|---|---|---|"]
    for alpha, group in group_by_alpha(runs).items():
        steps = sorted({r.steps for r in group})
        count = {k: sum(r.outcome == k for r in group) for k in ("sharp", "wide", "diverged", "not converged")}
        starts = [r.start for r in group]
        lines.append(
            f"| {alpha:g} | {len(group)} | {steps[0]}{'–' + str(steps[-1]) if len(steps) > 1 else ''} | "
            f"{count['sharp']} | {count['wide']} | {count['diverged']} | {count['not converged']} | "
            f"{min(starts):.3g} … {max(starts):.3g} |"
        )
    return "\n".join(lines)
