"""Problem 4 logic: the assignment's f, and GD runs rebuilt from observed evaluations.

Runs in the judge on plain numbers the child recorded. A run is a chain
x₀, x₁, … with x_{k+1} = x_k − α·g(x_k) for a constant α, where g(x_k) is what
the student's ``fprime`` returned (or, for an inlined derivative, the
assignment's f′). Extra calls interleaved with the chain (printing fprime(x),
plotting) are skipped; array arguments give one run per element.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit

#: The three learning rates of the assignment.
TARGET_ALPHAS = (0.01, 0.3, 4.0)

#: Starts must lie in this interval.
START_RANGE = (-5.0, 20.0)


def f_starter(x):
    """f exactly as the starter code computes it (overflows to nan for large x)."""
    with np.errstate(all="ignore"):
        return (10 * x**2 + np.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (x - 3)))


def fprime_starter(x):
    """f′ exactly as the starter code computes it."""
    with np.errstate(all="ignore"):
        s = 1 / (1 + np.exp(-3 * (x - 3)))
        return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


def f_stable(x):
    """f without overflow: (1 − s)·10x² + s·((x − 10)²/2 + 50), s = σ(3(x − 3))."""
    s = expit(3 * (np.asarray(x, dtype=float) - 3))
    return (1 - s) * 10 * x**2 + s * ((x - 10) ** 2 / 2 + 50)


def fprime_stable(x):
    """f′ without overflow."""
    x = np.asarray(x, dtype=float)
    s = expit(3 * (x - 3))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


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
    x = np.array(starts, dtype=float)
    with np.errstate(all="ignore"):
        for _ in range(min(steps, cap)):
            x = x - alpha * fprime_starter(x)
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

    @property
    def outcome(self) -> str:
        """Class of the final iterate."""
        return classify(self.final)


@dataclass(eq=False)  # identity: chains hold arrays
class _Chain:
    xs: list = field(default_factory=list)
    gs: list = field(default_factory=list)
    alpha: object = None


def _same(a, b) -> bool:
    if isinstance(a, float):
        return isinstance(b, float) and (a == b or (math.isnan(a) and math.isnan(b)))
    return not isinstance(b, float) and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def _matches(chain: _Chain, x) -> bool:
    p, g, a = chain.xs[-1], chain.gs[-1], chain.alpha
    if isinstance(p, float):
        if not isinstance(x, float):
            return False
        pred = p - a * g
        if not (math.isfinite(pred) and math.isfinite(x)):
            return not math.isfinite(x) and not (math.isfinite(p) and math.isfinite(g))
        return abs(x - pred) <= 1e-9 * max(1.0, abs(p)) + 1e-6 * abs(a * g)
    if isinstance(x, float) or x.shape != p.shape:
        return False
    with np.errstate(all="ignore"):
        pred = p - a * g
        ok = np.abs(x - pred) <= 1e-9 * np.maximum(1.0, np.abs(p)) + 1e-6 * np.abs(a * g)
        bad = ~np.isfinite(pred)
    return bool(np.all(ok | (bad & ~np.isfinite(x))))


def _pair_alpha(p, g, x):
    """α with x = p − α·g, or None if no plausible constant step links them."""
    with np.errstate(all="ignore"):
        if isinstance(p, float):
            if not isinstance(x, float) or g == 0 or not math.isfinite(g):
                return None
            a = (p - x) / g
            return a if math.isfinite(a) and 1e-8 <= abs(a) <= 1e4 else None
        if isinstance(x, float) or x.shape != p.shape:
            return None
        a = (p - x) / g
        good = np.isfinite(a) & (np.abs(a) >= 1e-8) & (np.abs(a) <= 1e4)
        if not good.any():
            return None
        if not good.all():
            a = np.where(good, a, np.median(a[good]))
        return a


def build_runs(args, results, sizes, source: str, window: int = 12) -> list[Run]:
    """Rebuilds GD chains from a stream of evaluations ``g = fprime(x)`` in call order.

    Args:
        args, results: flat arrays of the arguments and results.
        sizes: elements per call (1 for a scalar call).
        source: label stored in each run.
    """
    confirmed: list[_Chain] = []  # most recently extended first
    tentative: list[_Chain] = []  # chains of 1 or 2 points, oldest first
    offset = 0
    previous = None  # the argument of the previous call
    for size in sizes:
        size = int(size)
        if size == 1:
            x, g = float(args[offset]), float(results[offset])
        else:
            x, g = args[offset : offset + size], results[offset : offset + size]
        offset += size
        # A converged chain's step can repeat x exactly, so the chain is tried
        # before an exact repeat counts as an extra call (a repeat in the
        # converged tail may thus count as a step; it changes no outcome).
        hit = next((c for c in confirmed[:window] if _matches(c, x)), None)
        if hit is not None:
            hit.xs.append(x)
            hit.gs.append(g)
            previous = x
            if confirmed[0] is not hit:
                confirmed.remove(hit)
                confirmed.insert(0, hit)
            continue
        if (previous is not None and _same(previous, x)) or any(_same(c.xs[-1], x) for c in confirmed[:window]):
            previous = x
            continue  # the same point evaluated again (printing, a tolerance test)
        previous = x
        hit = next((c for c in reversed(tentative) if len(c.xs) == 2 and _matches(c, x)), None)
        if hit is not None:
            tentative.remove(hit)
            hit.xs.append(x)
            hit.gs.append(g)
            confirmed.insert(0, hit)
            continue
        pairs = []
        for c in tentative[-window:]:
            if len(c.xs) == 1:
                a = _pair_alpha(c.xs[0], c.gs[0], x)
                if a is not None:
                    pairs.append(_Chain([c.xs[0], x], [c.gs[0], g], a))
        tentative.extend(pairs)
        tentative.append(_Chain([x], [g]))
        del tentative[: max(0, len(tentative) - 4 * window)]
    return [run for chain in confirmed for run in _split(chain, source)]


def _split(chain: _Chain, source: str) -> list[Run]:
    steps = len(chain.xs)
    with np.errstate(all="ignore"):
        final = chain.xs[-1] - chain.alpha * chain.gs[-1]
    if isinstance(chain.xs[0], float):
        return [Run(float(chain.alpha), chain.xs[0], steps, float(final), source)]
    alphas = np.broadcast_to(chain.alpha, chain.xs[0].shape)
    return [
        Run(float(alphas[i]), float(chain.xs[0][i]), steps, float(final[i]), source)
        for i in range(chain.xs[0].size)
    ]


def runs_from_record(record: dict) -> tuple[list[Run], str]:
    """All runs in a ``p4_observe`` answer, and how they were observed.

    Uses the calls of ``fprime``; when they form no chain (derivative inlined),
    uses the recorded loop updates ``x = x − …`` with the assignment's f′.
    """
    names = record["names"]
    codes = np.asarray(record["codes"])
    sizes = np.asarray(record["sizes"])
    args = np.asarray(record["args"])
    results = np.asarray(record["results"])
    starts = np.concatenate([[0], np.cumsum(sizes)])
    streams: dict[str, list[int]] = {}
    for i, code in enumerate(codes):
        streams.setdefault(names[int(code)], []).append(i)

    def stream(name):
        idx = streams.get(name, [])
        if not idx:
            return np.empty(0), np.empty(0), np.empty(0, dtype=int)
        a = np.concatenate([args[starts[i] : starts[i + 1]] for i in idx])
        r = np.concatenate([results[starts[i] : starts[i + 1]] for i in idx])
        return a, r, sizes[idx]

    runs = build_runs(*stream("fprime"), "fprime")
    if runs:
        return runs, "fprime"
    for name in names:
        if not name.startswith("="):
            continue
        old, _new, sz = stream(name)
        grads = fprime_starter(old)
        runs = build_runs(old, grads, sz, name[1:])
        if runs:
            where = name[1:].rsplit(":", 1)
            return runs, f"the update of {where[1]} at {where[0]}"
    return [], ""


def group_by_alpha(runs: list[Run]) -> dict[float, list[Run]]:
    """Runs grouped by step size (α equal to 6 significant digits)."""
    groups: dict[float, list[Run]] = {}
    for run in runs:
        groups.setdefault(float(f"{run.alpha:.6g}"), []).append(run)
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


def agreement(runs: list[Run]) -> list[bool]:
    """For each run: does its outcome match the reference GD from the same start, α and step count?"""
    verdicts = [False] * len(runs)
    # One vectorized reference run per step count, each element with its own α (inferred
    # α differ in their last bits run to run; element-wise, the arithmetic is the same).
    by_steps: dict[int, list[int]] = {}
    for i, r in enumerate(runs):
        by_steps.setdefault(r.steps, []).append(i)
    for steps, idx in by_steps.items():
        alphas = np.array([runs[i].alpha for i in idx], dtype=float)
        finals = reference_finals(np.array([runs[i].start for i in idx]), alphas, steps)
        for i, final in zip(idx, finals):
            verdicts[i] = classify(float(final)) == runs[i].outcome
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
