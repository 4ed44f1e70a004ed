"""Problem 4 suite: the wide-minima experiment, graded by watching the student's GD run.

The student's ``wideMinima.py`` runs once, as ``python wideMinima.py`` would,
in the child (``p4_observe`` op of ``p4_observe_plugin.py``); every call of
``f``/``fprime`` is recorded. The runs are rebuilt here (``gd_runs.py``) and
compared with the reference GD from the same starts, α and step counts.
"""

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from grader import runs_view
from grader.content import load_content_module
from grader.sandbox.outside.session import StudentError

gd = load_content_module(Path(__file__).with_name("gd_runs.py"))

#: Where f and fprime are compared with the assignment's (incl. where exp overflows).
PROBE_POINTS = [float(x) for x in np.linspace(-10, 25, 71)] + [-1000.0, -300.0, -50.0, 50.0, 100.0, 236.0, 240.0, 300.0, 1000.0]

#: Seconds kept back from the problem's budget for start-up, probes and the answer.
MARGIN_SECONDS = 4.0


class Observed:
    """The observation of one student, shared by all tests."""

    def __init__(self, record: dict, artifacts: Path):
        self.record = record
        self.artifacts = artifacts
        followed, self.how, self.stream = gd.runs_from_record(record)
        # Only GD runs are judged; pieces of another iteration that fit one α by chance are counted.
        self.runs, self.fragments = gd.split_fragments(followed)
        self.stopped = any(s["status"] == "stopped" for s in record["scripts"])
        self.errors = [s["message"] for s in record["scripts"] if s["status"] in ("error", "exit")]
        self.replaced = [str(name) for name in record.get("replaced", [])]
        self.fprime_calls = int(record.get("calls", {}).get("fprime", 0))
        if self.how == "fprime":
            outside = self.fprime_calls - gd.calls_in_runs(self.runs)
            self.runs, self.fragments = gd.set_aside_unconfirmed(self.runs, self.fragments, outside, self.fprime_calls)
        self.any_calls = sum(int(v) for v in record.get("calls", {}).values()) + sum(
            int(d.get("calls", 0)) for name, d in record.get("streams", {}).items() if name.startswith("=")
        )
        self.context_given = False
        self.finals: dict = {}  # the reference GD's finals, by (start, α, steps): see gd.agreement
        self.judged: dict[float, set[int]] = {}  # per target α, the runs (indices) its verdict used
        self._written: tuple[Path, object] | None = None  # (folder, gd.RunsFile) of the first write
        self._table: str | None = None

    @property
    def table(self) -> str:
        """The Markdown table of the runs (runs.md and the update item's feedback), built once."""
        if self._table is None:
            self._table = gd.table(self.runs, self.how)
        return self._table

    @property
    def bounded(self) -> bool:
        """Whether the observer reached its bound on runs followed (later runs were not followed)."""
        return bool(self.stream and self.stream.get("full"))

    def context(self) -> list[str]:
        """Lines about the whole observation (time limit, failures, bounds), given to the first test that asks.

        They concern the problem, not one item, so a report says them once.
        """
        if self.context_given:
            return []
        self.context_given = True
        lines = []
        if self.stopped:
            seconds = sum(s["seconds"] for s in self.record["scripts"])
            lines.append(f"Your script was stopped at the time limit (after {seconds:.0f} s); the runs observed until then were graded.")
        lines += [f"Your script failed: {m}" for m in self.errors]
        if self.replaced:
            lines.append(f"Your script replaced library functions ({_listed(self.replaced)}); they were put back "
                         "when it ended, so the grader's checks of f, fprime and your runs use the real ones.")
        if self.bounded:
            lines.append(
                f"Your script ran more than {self.stream['max_runs']} GD runs: the first {self.stream['max_runs']} were "
                "followed, each from its start to its last step, and then the first elements of each later array "
                "call (up to 1000 each); runs that started later were not followed."
            )
        return lines

    def write_artifacts(self, artifacts: Path | None = None) -> None:
        """``runs.md`` (a table for the TA) and ``runs.json`` (schema in docs/p4.md) beside the figures."""
        artifacts = artifacts or self.artifacts
        if not self.runs:
            return
        artifacts.mkdir(parents=True, exist_ok=True)
        if self._written is None or self._written[0] != artifacts:
            # The table and the trajectories never change after the observation: encode them once.
            (artifacts / "runs.md").write_text(self.table + "\n", encoding="utf-8")
            self._written = (artifacts, gd.RunsFile(gd.runs_json(self.runs, self.stream)))
        # Each verdict rewrites runs.json only to mark the runs it used (and its array companion, for the report).
        chosen = set().union(*self.judged.values()) if self.judged else set()
        marks = [run.index in chosen for run in self.runs]
        text = self._written[1].text(marks).encode("utf-8")
        (artifacts / "runs.json").write_bytes(text)
        (artifacts / runs_view.NAME).write_bytes(self._written[1].view(text, marks))


def observed(student) -> Observed:
    if "p4" not in student.cache:
        artifacts = student.artifacts_dir or Path.cwd() / "artifacts"
        # The table and the runs are the judge's: a script that writes files of those names
        # (into the outbox its figures go to) must not have them shown as the grader's.
        student.session.reserved.update({"runs.md", "runs.json"})
        seconds = max(1.0, student.session.remaining() - MARGIN_SECONDS)
        record = student.request(
            {"op": "p4_observe", "script": student.files[0], "seconds": seconds, "artifacts": str(artifacts), "probe": PROBE_POINTS}
        )
        obs = Observed(record, artifacts)
        obs.write_artifacts(artifacts)
        student.cache["p4"] = obs
    return student.cache["p4"]


@pytest.fixture(scope="session", autouse=True)
def _runs_marked(student):
    """Once every verdict is in, ``runs.json`` marks the runs each one used: rewritten once, not per verdict."""
    yield
    obs = student.cache.get("p4")
    if obs is not None and obs.judged:
        obs.write_artifacts()


def _listed(names: list[str], limit: int = 6) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def require_runs(obs: Observed, note, flag) -> None:
    for line in obs.context():
        note(line)
    if obs.replaced:
        flag(f"the script replaced library functions the grader relies on: {_listed(obs.replaced)}")
    broken = gd.inconsistency(obs.stream)
    if broken:
        # Runs the observer never fed: the script wrote them into the grader's recorder.
        flag(f"the GD observation was tampered with: {broken}")
        raise AssertionError(
            f"Your runs could not have come from your script's own GD steps ({broken}); "
            "the observation was altered from inside the script. A TA will look at your code."
        )
    if obs.runs:
        odd = gd.incoherence(obs.runs)
        if odd:
            flag(f"the observed GD runs look mis-assembled ({odd}); a TA should check the P4 verdicts")
        return
    if obs.errors and not obs.any_calls:
        raise StudentError(obs.errors[0])
    if obs.fragments:
        seen = (f"fprime was called {obs.fprime_calls} times, but its calls fit" if obs.how == "fprime" else
                f"fprime was not called in the GD loop, and {obs.how} fits")
        raise AssertionError(
            f"{seen} x_(k+1) = x_k − α·f′(x_k) with one constant α only in fragments "
            f"({gd.fragments_text(obs.fragments)}), none of them a GD run. A GD run keeps α fixed for all its "
            "iterations and steps by exactly α·fprime(x): momentum, an α that changes, a normalized or clipped "
            "step, or x - alpha * f(x) (f instead of fprime) are not that update."
        )
    if obs.fprime_calls:
        raise AssertionError(
            f"fprime was called {obs.fprime_calls} times, but no sequence x_(k+1) = x_k − α·fprime(x_k) "
            "with a constant α was found among the calls"
        )
    forks = int(obs.record.get("forks", 0))
    if forks:
        flag(f"the script forked {forks} process(es): GD in worker processes cannot be observed")
        raise AssertionError(
            f"No gradient-descent run could be observed in your script's own process, and it started {forks} "
            "other process(es) (a multiprocessing pool?): calls of fprime made there cannot be watched. Run "
            "the experiment in the script itself (a plain loop, or one array of starts). A TA will look at your code."
        )
    flag("the GD update could not be observed (fprime never called, no `x = x - …` update in a loop)")
    raise AssertionError(
        "No gradient-descent run could be observed: fprime was never called and no loop update "
        "`x = x - alpha * ...` was found. A TA will look at your code."
    )


#: Above this x, exp(3(x − 3))² overflows: the same f or f′ written another way (a SymPy
#: lambdify of f's derivative, the quotient rule by hand) returns nan or inf there.
_SQUARED_EXP_OVERFLOWS = 3 + math.log(math.sqrt(sys.float_info.max)) / 3


#: Beyond this distance from 3, some exp(±c·(x − 3)) with c ≤ 6 overflows (the starter's c = 3,
#: a squared form's 6): where the value is computed with ``math.exp`` (or under
#: ``np.seterr(all="raise")``) the same function raises there instead of returning inf or nan.
_SOME_EXP_OVERFLOWS = math.log(sys.float_info.max) / 6

#: What raising means where an exp overflows: a float result out of range.
_OVERFLOW_ERRORS = frozenset({"OverflowError", "FloatingPointError", "ArithmeticError"})


def _raised(value) -> bool:
    """Whether a probe value is the name of the exception the student's function raised there."""
    return isinstance(value, str)


def _agrees(student_value, starter, stable, x: float = 0.0) -> bool:
    if _raised(student_value):
        return student_value in _OVERFLOW_ERRORS and abs(x - 3) > _SOME_EXP_OVERFLOWS
    if not isinstance(student_value, (int, float)) or isinstance(student_value, bool):
        return False
    if x > _SQUARED_EXP_OVERFLOWS and not math.isfinite(student_value):
        return True
    if np.isfinite(starter) and abs(student_value - starter) <= 1e-7 * max(1.0, abs(starter)):
        return True
    if abs(student_value - stable) <= 1e-7 * max(1.0, abs(stable)):
        return True
    # Where the starter's exp overflows, any non-finite value is the starter's behaviour.
    return not np.isfinite(starter) and not np.isfinite(student_value)


def _difference(point) -> float:
    """How far a student's value is from the assignment's, relatively: a missing or non-finite one
    where the assignment's is finite first, points where the assignment's overflows last."""
    _, value, starter, _ = point
    if not math.isfinite(starter):
        return -1.0
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return math.inf
    return abs(value - starter) / max(1.0, abs(starter))


def test_functions_intact(student, credit, note):
    obs = observed(student)
    points = np.array(PROBE_POINTS)
    problems, earned = [], 0.0
    renamed = obs.record.get("renamed")
    renamed = {k: v for k, v in renamed.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(renamed, dict) else {}
    defined = obs.record.get("defined")
    defined = {k: v for k, v in defined.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(defined, dict) else {}
    for name, starter, stable in (("f", gd.f_starter, gd.f_stable), ("fprime", gd.fprime_starter, gd.fprime_stable)):
        values = obs.record["probes"].get(name)
        if values is None and obs.errors:
            raise StudentError(obs.errors[0])
        if values is None:
            problems.append(f"{name} is not defined in {student.files[0]}, and none of its one-argument functions computes it")
            continue
        if name in renamed:
            note(f"Your {name} is `{renamed[name][:60]}` (no function is named {name}): it was compared with the assignment's {name}.")
        # Element-wise the same floats as point by point, in two numpy calls.
        refs, stables = np.asarray(starter(points), dtype=float).tolist(), np.asarray(stable(points), dtype=float).tolist()
        bad = [(x, v, ref, st) for x, v, ref, st in zip(points, values, refs, stables) if not _agrees(v, ref, st, x)]
        if not bad:
            earned += 0.5
            continue
        x, v, ref, _ = max(bad, key=_difference)  # the clearest point, not the first (2e-7 off at x = -10)
        got = f"{name}({x:g}) raised {v}" if _raised(v) else f"{name}({x:g}) = {v!r}"
        where = defined.get(name, "")
        at = f" (defined at {where[:120]})" if where else ""
        problems.append(f"{got}, but the assignment's {name}({x:g}) = {ref:.10g} ({len(bad)} of {len(points)} points differ); "
                        f"you changed {name}{at}")
    if not obs.runs:
        # The starter already has f and fprime: they earn points only as part of an experiment.
        credit(0.0)
        problems.append(
            "no gradient-descent run was observed, so keeping f and fprime earns nothing yet "
            "(this item credits an experiment that uses the assignment's f and fprime)"
        )
    else:
        credit(earned)
    assert not problems, "; ".join(problems)


def test_update_is_gd(student, credit, note, flag):
    obs = observed(student)
    require_runs(obs, note, flag)
    note(obs.table)
    if obs.how != "fprime":
        note(f"fprime was never called in the GD loop; the update was observed through {obs.how}.")
    if sum(obs.fragments.values()) >= len(obs.runs):
        note(f"Besides these runs, the calls fit one α only in fragments ({gd.fragments_text(obs.fragments)}), "
             "not counted as runs: where your update is not x - alpha * fprime(x) with a fixed alpha "
             "(momentum, a changing α, clipping), only the runs above were graded.")
    good = [r for r in obs.runs if r.alpha > 0]
    credit(len(good) / len(obs.runs))
    wrong = [r for r in obs.runs if r.alpha <= 0]
    assert not wrong, (
        f"{len(wrong)} of {len(obs.runs)} runs step uphill: x_(k+1) = x_k + {abs(wrong[0].alpha):g}·f′(x_k). "
        "Gradient descent subtracts the gradient: x = x - alpha * fprime(x)."
    )


def test_random_starts(student, credit, note, flag):
    obs = observed(student)
    require_runs(obs, note, flag)
    starts = np.array([r.start for r in obs.runs if r.alpha > 0] or [r.start for r in obs.runs])
    lo, hi = gd.START_RANGE
    inside = float(np.mean((starts >= lo - 1e-9) & (starts <= hi + 1e-9)))
    distinct = np.unique(starts)
    by_alpha = gd.group_by_alpha([r for r in obs.runs if r.alpha > 0])
    # A grid lists each point once per α; starts drawn at random with replacement (randint)
    # repeat within an α, and with enough draws their values fill a grid of integers.
    repeats = any(len(runs) > len({r.start for r in runs}) for runs in by_alpha.values())
    step = None if repeats else gd.grid_step(distinct)
    if distinct.size == 1:
        spread, why = 0.0, f"every run starts at x₀ = {distinct[0]:g}; use random starts, e.g. np.random.uniform(-5, 20)"
    elif distinct.size < gd.MIN_STARTS:
        spread, why = 0.0, (f"only {distinct.size} different starts in all the runs; draw many random starts, "
                            "e.g. np.random.uniform(-5, 20)")
    elif step is not None:
        spread, why = 0.5, f"the starts are an evenly spaced grid ({distinct.size} points, step {step:.3g}), not random"
    else:
        spread, why = 1.0, ""
    # Each assignment α needs starts of its own: random starts for one α and one
    # hand-picked start for the others demonstrate nothing for those.
    targets = {a: [r for r in gd.runs_for(obs.runs, a)] for a in gd.TARGET_ALPHAS}
    targets = {a: runs for a, runs in targets.items() if runs}
    if obs.stopped and obs.runs:
        # The time limit cut the script short: the α it was running when stopped had no
        # chance to show its other starts (the stop is reported with the runs).
        last = max(obs.runs, key=lambda r: r.index)
        targets = {a: runs for a, runs in targets.items() if last not in runs}
    few = {a: len({r.start for r in runs}) for a, runs in targets.items() if len({r.start for r in runs}) < gd.MIN_STARTS}
    enough = 1 - len(few) / len(targets) if targets else 1.0
    credit(inside * spread * enough)
    note(f"{distinct.size} different starts in [{starts.min():.3g}, {starts.max():.3g}]")
    problems = [why] if why else []
    if few and distinct.size > 1:
        listed = ", ".join(f"α = {a:g} from {k} start{'s' if k > 1 else ''}" for a, k in few.items())
        problems.append(f"runs with {listed} only: each α needs at least {gd.MIN_STARTS} random starts "
                        "to show what GD does from random starting points")
    if inside < 1:
        problems.append(f"{int(round((1 - inside) * starts.size))} of {starts.size} starts are outside [-5, 20]")
    assert not problems, "; ".join(problems)


def _alpha_runs(obs, target, note, flag):
    require_runs(obs, note, flag)
    groups = gd.group_by_alpha(obs.runs)
    positive = [a for a in groups if a > 0]
    if len(positive) == 1 and not obs.bounded:  # bounded: later α were not followed, not absent
        flag(f"only α = {positive[0]:g} was observed (α may have been edited by hand between runs)")
        note(f"Only one learning rate (α = {positive[0]:g}) was observed in your script's run.")
    runs = gd.runs_for(obs.runs, target)
    if not runs:
        seen = _listed([f"{a:g}" for a in groups], limit=8) or "none"
        why = " Your script was stopped at the time limit before it got there." if obs.stopped else ""
        if obs.errors:
            why += f" Your script failed ({obs.errors[0].splitlines()[0]}), which may be why."
        outside = obs.fprime_calls - gd.calls_in_runs(obs.runs)
        if obs.bounded:
            why += (f" The grader follows at most {obs.stream['max_runs']} runs (and then the first elements of "
                    "each new array call); your script ran more, so these runs may have come after that bound: "
                    "fewer starts show the same.")
        elif obs.how == "fprime" and outside > obs.fprime_calls / 10:
            pieces = f"; {gd.fragments_text(obs.fragments)} fitted one α for a while only" if obs.fragments else ""
            why += (f" {outside} of fprime's {obs.fprime_calls} calls are in no GD run{pieces}: plotting, or steps "
                    "that move x other than by α·fprime(x) (clipping, momentum, a changing α).")
        raise AssertionError(f"No run with α = {target:g} was observed (observed α: {seen}).{why}")
    note(gd.describe(target, runs) + " (each followed from its start to its last step)")
    return runs


def _judge_best(obs, target, runs, judge, note, credit):
    """Judges every coherent group of the α's runs and keeps the best: exploration is reported, not penalized.

    ``judge(group)`` returns (credit fraction, problems). The whole set is
    tried first, so splitting never lowers a verdict; a smaller group is
    judged only when it does better. The feedback names the group used.
    """
    groups = gd.candidate_groups(runs)
    verdicts = [(judge(group), label, group) for label, group in groups]
    (best, problems), label, group = max(verdicts, key=lambda v: v[0][0])  # first (largest) on ties
    obs.judged[target] = {r.index for r in group}  # marked in runs.json when the job ends (_runs_marked)
    if len(groups) > 1 or len({r.group for r in runs}) > 1:
        others = sorted({r.group for r in runs if r.index not in obs.judged[target]})
        whole = f" with α = {target:g}" if group is runs else ""
        note(f"Judged on {label}{whole}"
             + (f"; also observed (reported, not graded): {'; '.join(others)}." if others else "."))
    credit(best)
    assert not problems, "; ".join(problems)


def test_alpha_small(student, credit, note, flag):
    obs = observed(student)
    runs = _alpha_runs(obs, 0.01, note, flag)

    def judge(group):
        agree = gd.agreement(group, obs.finals)
        converged = [r for r, ok in zip(group, agree) if ok and r.outcome in ("sharp", "wide")]
        reached = {r.outcome for r in converged}
        long_enough = len(converged) / len(group)
        problems = []
        if long_enough < 1:
            few = min(r.steps for r in group)
            problems.append(
                f"{len(group) - len(converged)} of {len(group)} runs did not converge (as few as {few} steps); "
                "with α = 0.01 the wide minimum needs several hundred iterations"
            )
        if reached != {"sharp", "wide"}:
            missing = " and ".join(sorted({"sharp", "wide"} - reached))
            problems.append(f"no run reached the {missing} minimum; with random starts α = 0.01 reaches both")
        return 0.5 * long_enough + 0.5 * (reached == {"sharp", "wide"}), problems

    _judge_best(obs, 0.01, runs, judge, note, credit)


def test_alpha_mid(student, credit, note, flag):
    obs = observed(student)
    runs = _alpha_runs(obs, 0.3, note, flag)

    def judge(group):
        wide = sum(r.outcome == "wide" for r in group)
        problems = [] if wide == len(group) else [
            f"{len(group) - wide} of {len(group)} runs with α = 0.3 did not end at the wide minimum (≈ 10)"
        ]
        return wide / len(group), problems

    _judge_best(obs, 0.3, runs, judge, note, credit)


def test_alpha_large(student, credit, note, flag):
    obs = observed(student)
    runs = _alpha_runs(obs, 4.0, note, flag)

    def judge(group):
        stuck = sum(r.outcome in ("diverged", "not converged") for r in group)
        problems = [] if stuck * 2 >= len(group) else [
            f"{len(group) - stuck} of {len(group)} runs with α = 4 converged; α = 4 must fail to converge for most starts"
        ]
        return min(1.0, stuck / len(group) / 0.5), problems

    _judge_best(obs, 4.0, runs, judge, note, credit)
