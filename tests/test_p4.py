"""Problem 4: GD runs rebuilt from observed fprime calls, and grading of the P4 sample students."""

from __future__ import annotations

import io
import math
import json
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest

from grader.content import load_content_module
from grader.context import Context
from grader.rubric import load_rubric
from grader.runner import grade_problem
from grader.sandbox.inside.chains import ChainBuilder
from grader.submission import Submission

ROOT = Path(__file__).resolve().parents[1]
gd = load_content_module(ROOT / "rubrics" / "hw1" / "gd_runs.py")


def build_runs(args, results, sizes, source):
    """Feeds a stream of evaluations to the observer's online chain builder, as the child does, and returns the runs."""
    builder = ChainBuilder()
    offset = 0
    for size in sizes:
        size = int(size)
        if size == 1:
            builder.feed_scalar(float(args[offset]), float(results[offset]))
        else:
            builder.feed(np.array(args[offset : offset + size], dtype=float), np.array(results[offset : offset + size]))
        offset += size
    return gd.runs_from_stream(builder.runs_data(), source)


def _stream(calls):
    args = np.concatenate([np.atleast_1d(np.asarray(x, float)) for x in calls])
    sizes = np.array([np.size(x) for x in calls])
    return args, gd.fprime_starter(args), sizes


def _gd_calls(x, alpha, steps, extra_every=0):
    calls = []
    for k in range(steps):
        if extra_every and k % extra_every == 0:
            calls.append(x)  # e.g. print(fprime(x))
        calls.append(x)
        x = x - alpha * gd.fprime_starter(x)
    return calls


def test_scalar_runs_with_interleaved_prints_are_rebuilt():
    calls = _gd_calls(3.0, 0.01, 200, extra_every=50) + _gd_calls(12.0, 0.3, 100) + _gd_calls(-4.0, 4.0, 50)
    runs = build_runs(*_stream(calls), "fprime")
    assert [(round(r.alpha, 9), r.start) for r in runs] == [(0.01, 3.0), (0.3, 12.0), (4.0, -4.0)]
    # The 4 extra calls are skipped, except where x no longer moves (converged tail).
    assert [r.steps for r in runs][1:] == [100, 50] and 200 <= runs[0].steps <= 204
    assert runs[2].outcome == "diverged" and runs[1].outcome == "wide"


def test_vectorized_calls_give_one_run_per_element():
    starts = np.array([-4.0, 1.0, 8.0, 19.0])
    runs = build_runs(*_stream(_gd_calls(starts, 0.01, 1000)), "fprime")
    assert sorted(r.start for r in runs) == sorted(starts)
    assert {r.steps for r in runs} == {1000}
    assert [r.outcome for r in sorted(runs, key=lambda r: r.start)] == ["sharp", "sharp", "wide", "wide"]


def test_wrong_sign_gives_negative_alpha_and_plot_calls_are_ignored():
    calls = [np.linspace(-5, 20, 500)]
    x = 2.0
    for _ in range(20):
        calls.append(x)
        x = x + 0.01 * gd.fprime_starter(x)
    runs = build_runs(*_stream(calls), "fprime")
    assert len(runs) == 1 and runs[0].alpha == pytest.approx(-0.01) and runs[0].steps == 20


def test_classify_and_reference_agreement():
    assert [gd.classify(v) for v in (0.1, 9.8, float("nan"), 2e3, 5.0)] == ["sharp", "wide", "diverged", "diverged", "not converged"]
    run = gd.Run(0.01, 15.0, 30, float(gd.reference_finals(np.array([15.0]), 0.01, 30)[0]), "fprime")
    assert gd.agreement([run]) == [True] and run.outcome == "not converged"
    assert gd.describe(0.01, [run]) == "α = 0.01: 1 run of 30 steps, 1 → not converged"


def test_reference_finals_are_the_starter_gd_float_for_float():
    starts = np.concatenate([np.linspace(-5, 20, 37), [2.9, 3.0, 50.0, -300.0]])
    for alpha in (0.01, 0.3, 4.0, np.where(starts > 3, 0.01, 4.0)):
        for steps in (0, 1, 57):
            x = starts.copy()
            for _ in range(steps):
                x = x - alpha * gd.fprime_starter(x)
            assert np.array_equal(gd.reference_finals(starts, alpha, steps), x, equal_nan=True)
    # A run's reference is the same whether it was computed alone or in a batch (agreement caches it).
    runs = [gd.Run(0.01, float(s), 300, 0.0, "fprime", index=i) for i, s in enumerate(starts)]
    assert gd.agreement(runs[5:9]) == gd.agreement(runs)[5:9]


P4_STUDENTS = sorted(p.name for p in (ROOT / "submissions").iterdir() if p.name.startswith("p4_"))


@pytest.mark.slow
@pytest.mark.parametrize("student", P4_STUDENTS)
def test_p4_sample_student_items(student, sample_class_graded):
    # Read from the session's class run (tests/conftest.py) rather than grading P4 again here:
    # the same grading, the same report folder a TA gets, checked item by item.
    out, _ = sample_class_graded
    report = json.loads((out / student / "report.json").read_text(encoding="utf-8"))
    result = next(p for p in report["problems"] if p["id"] == "p4")
    want = tomllib.loads((ROOT / f"tests/expected/{student}.toml").read_text(encoding="utf-8"))["problems"]["p4"]
    assert {i["id"]: i["status"] for i in result["items"]} == want["items"]
    assert result["score"] == pytest.approx(want["score"])
    feedback = {i["id"]: i["feedback"] for i in result["items"]}
    for item, needles in want.get("feedback", {}).items():
        for needle in needles:
            assert needle in feedback[item], (item, needle, feedback[item])
    saved = sorted(p.name for p in (out / student / "p4").iterdir())
    assert "stdout.txt" in saved and "runs.md" in saved and "runs.json" in saved
    doc = json.loads((out / student / "p4" / "runs.json").read_text(encoding="utf-8"))
    assert doc["schema"] == 1 and doc["runs"] and all(len(r["trajectory"]) <= 64 for r in doc["runs"])
    if student == "p4_colab_exploration":
        judged = {(r["alpha"], r["steps"]) for r in doc["runs"] if r["judged"] and r["alpha"] == pytest.approx(0.01)}
        assert {steps for _, steps in judged} == {1000}  # the 100-step contrast runs were not the ones judged
    if student == "p4_only_small_alpha":
        assert any("only α = 0.01" in f for f in result["flags"])
    if student == "p4_plot_only_random":
        assert [n for n in saved if n.startswith("figure-")] == ["figure-01.png", "figure-02.png", "figure-03.png"]
    if student == "p4_linspace_savefig":
        assert len([n for n in saved if n.startswith("saved-final points")]) == 3


def _grade_p4_in_8_seconds(tmp_path, sample):
    """Problem 4's result for ``tests/p4_samples/<sample>`` with the HW1 rubric, its time limit cut to 8 s."""
    text = (ROOT / "rubrics/hw1.toml").read_text(encoding="utf-8")
    text = text.replace('"hw1/', f'"{ROOT}/rubrics/hw1/').replace('"../reference', f'"{ROOT}/reference')
    text = re.sub(r'(id = "p4"[\s\S]*?)timeout = "2m"', r'\1timeout = "8s"', text, count=1)
    rubric_path = tmp_path / "short.toml"
    rubric_path.write_text(text, encoding="utf-8")
    rubric = load_rubric(rubric_path)
    problem = next(p for p in rubric.problems if p.id == "p4")
    assert problem.timeout == 8
    ctx = Context(stdout=io.StringIO(), stderr=io.StringIO())
    folder = ROOT / "tests/p4_samples" / sample
    return grade_problem(Submission(sample, folder), problem, rubric, tmp_path / "w", tmp_path / "r", ctx)


@pytest.mark.slow
def test_a_script_that_swallows_the_stop_is_still_stopped_and_graded(tmp_path):
    # A correct experiment, then `while True: try: plt.pause(0.5) except: pass` to keep the
    # window open: the bare except caught every stop, and all 15 points went to the time limit.
    result = _grade_p4_in_8_seconds(tmp_path, "bare_except_pause")
    assert result.score == pytest.approx(15), [(i.id, i.feedback) for i in result.items]
    assert "stopped at the time limit" in next(i.feedback for i in result.items if i.id == "p4-update")


@pytest.mark.slow
def test_script_past_the_time_limit_is_graded_on_what_it_showed(tmp_path):
    result = _grade_p4_in_8_seconds(tmp_path, "slow_script")
    statuses = {i.id: i.status.value for i in result.items}
    assert statuses == {
        "p4-functions": "passed", "p4-update": "passed", "p4-starts": "passed",
        "p4-alpha-small": "passed", "p4-alpha-mid": "passed", "p4-alpha-large": "failed",
    }
    feedback = {i.id: i.feedback for i in result.items}
    # The stop concerns the whole problem: said once, in the first item that reports the runs.
    assert [i for i, text in feedback.items() if "was stopped at the time limit (after" in text] == ["p4-update"]
    assert "No run with α = 4 was observed" in feedback["p4-alpha-large"]
    assert "stopped at the time limit before" in feedback["p4-alpha-large"]


def _grade_p4_result(tmp_path, sample):
    """Problem 4's result for ``tests/p4_samples/<sample>``, graded with the HW1 rubric."""
    rubric = load_rubric(ROOT / "rubrics" / "hw1.toml")
    problem = next(p for p in rubric.problems if p.id == "p4")
    ctx = Context(stdout=io.StringIO(), stderr=io.StringIO())
    folder = ROOT / "tests/p4_samples" / sample
    return grade_problem(Submission(sample, folder), problem, rubric, tmp_path / "w", tmp_path / "r", ctx)


def _grade_p4(tmp_path, sample):
    return {i.id: i for i in _grade_p4_result(tmp_path, sample).items}


@pytest.mark.parametrize("sample, starts_points, needle", [
    # Random starts for α = 0.01, one hand-picked x₀ = 1 for α = 0.3 and α = 4: a third of the item.
    ("one_start_for_two_alphas", 2 / 3, "α = 0.3 from 1 start, α = 4 from 1 start only"),
    # np.random.randint starts repeat and fill every integer of [-5, 20]: random, not a grid.
    ("randint_starts", 2.0, "26 different starts"),
    # fprime = sp.lambdify(t, sp.diff(f, t)): the same function, nan where exp(3(x − 3))² overflows.
    ("sympy_fprime", 2.0, "different starts"),
    # random.randint scalar starts (they repeat): runs meet, and must not read as forged runs.
    ("random_randint_scalar", 2.0, "different starts"),
])
def test_unusual_scripts_get_the_starts_and_functions_verdicts_they_earn(tmp_path, sample, starts_points, needle):
    items = _grade_p4(tmp_path, sample)
    starts = items["p4-starts"]
    assert starts.score == pytest.approx(starts_points), starts.feedback
    assert needle in starts.feedback, starts.feedback
    # The α items judge what the runs did; the starts are the starts item's business.
    assert all(items[i].status.value == "passed" for i in ("p4-functions", "p4-alpha-small", "p4-alpha-mid", "p4-alpha-large"))


@pytest.mark.parametrize("sample", ["float32_vectorized", "float32_scalar"])
def test_gd_in_float32_is_followed_at_float32_precision(tmp_path, sample):
    # Each float32 update rounds at ~1e-7 of x: matched at float64's precision the chains broke
    # apart and only α = 4 (diverging through inf and nan) was seen, a false "one α" flag.
    result = _grade_p4_result(tmp_path, sample)
    assert {i.id: i.status.value for i in result.items} == dict.fromkeys(
        ("p4-functions", "p4-update", "p4-starts", "p4-alpha-small", "p4-alpha-mid", "p4-alpha-large"), "passed"
    ), [(i.id, i.feedback) for i in result.items]
    update = next(i for i in result.items if i.id == "p4-update").feedback
    assert re.findall(r"^\| (0\.01|0\.3|4) \| (?:20|40) \| 1000 \|", update, re.M) == ["0.01", "0.3", "4"], update
    assert not result.flags, result.flags


def test_scalar_runs_stepped_in_lock_step_are_each_followed_to_their_last_step():
    # 40 starts, one step of each in turn: a run's next point comes 39 calls later (beyond the
    # pairing window), and once the runs meet at a minimum their calls are indistinguishable.
    starts = np.linspace(-4.5, 19.5, 40)
    calls = []
    for alpha in (0.01, 0.3):
        xs = starts.copy()
        for _ in range(400):
            for i in range(len(xs)):
                calls.append(float(xs[i]))
                xs[i] = xs[i] - alpha * float(gd.fprime_starter(xs[i]))
    runs = build_runs(*_stream(calls), "fprime")
    assert [(r.alpha, r.start, r.steps) for r in runs] == [(a, s, 400) for a in (0.01, 0.3) for s in starts.tolist()]


def test_lock_step_script_gets_full_marks(tmp_path):
    # Before: 9.66 / 15 and a TA flag ("20 of 118 runs step uphill"), from runs paired across starts.
    result = _grade_p4_result(tmp_path, "lockstep_scalar_starts")
    assert result.score == 15 and not result.flags, [(i.id, i.feedback) for i in result.items]
    update = next(i for i in result.items if i.id == "p4-update").feedback
    assert re.findall(r"^\| (0\.01|0\.3|4) \| 30 \| 1000 \|", update, re.M) == ["0.01", "0.3", "4"], update


def test_scalar_runs_from_a_grid_are_not_joined_across_their_starts(tmp_path):
    # linspace(-5, 20, 26): -4 is exactly one α = 0.01 step from -5 (f'(-5) = -100) and 11, 12, 14
    # are "steps" of α = -1. Paired across runs, these made fake uphill runs: 14.8 / 15 and wrong
    # starts ("1 of 81 starts are outside [-5, 20]"), instead of the grid rule's 14.
    items = _grade_p4(tmp_path, "scalar_grid_starts")
    assert {i: items[i].status.value for i in items} == {
        "p4-functions": "passed", "p4-update": "passed", "p4-starts": "failed",
        "p4-alpha-small": "passed", "p4-alpha-mid": "passed", "p4-alpha-large": "passed"}
    assert "evenly spaced grid" in items["p4-starts"].feedback and items["p4-starts"].score == 1
    assert re.findall(r"^\| ([-0-9.e]+) \| (\d+) \| 1000 \|", items["p4-update"].feedback, re.M) == [
        ("0.01", "26"), ("0.3", "26"), ("4", "26")], items["p4-update"].feedback


def test_float32_precision_widens_matching_only_for_float32_streams():
    def feed(builder, dtype, alpha):
        x = np.linspace(-4, 19, 8).astype(dtype)
        for _ in range(300):
            g = gd.fprime_starter(x).astype(dtype)
            builder.note_precision(x)
            builder.feed(x.astype(float), g.astype(float))
            x = x - dtype(alpha) * g
        return gd.runs_from_stream(builder.runs_data(), "fprime")

    runs = feed(ChainBuilder(), np.float32, 0.01)
    assert len(runs) == 8 and {r.steps for r in runs} == {300} and {r.alpha for r in runs} == {0.01}
    # The same float32 stream, taken for float64 (no precision noted), does not form one chain per run.
    builder = ChainBuilder()
    builder.note_precision = lambda value: None
    assert [r.steps for r in feed(builder, np.float32, 0.01)] != [300] * 8
    # A float64 stream notes nothing: its matching stays exact to float64's rounding.
    builder = ChainBuilder()
    feed(builder, np.float64, 0.01)
    assert builder.rounding == 0.0


def test_runs_written_into_the_recorder_by_the_script_earn_nothing_and_are_flagged(tmp_path):
    # No GD at all: the script appends 60 finished chains to the grader's recorder itself.
    items = _grade_p4(tmp_path, "forged_runs")
    for item in ("p4-update", "p4-starts", "p4-alpha-small", "p4-alpha-mid", "p4-alpha-large"):
        assert items[item].score == 0, (item, items[item].feedback)
    assert "could not have come from your script's own GD steps" in items["p4-update"].feedback
    assert "a run of 1000 steps, but only 0 evaluations" in items["p4-update"].feedback


def test_inconsistency_counts_each_chain_once():
    # An array chain's elements share its steps (one call each step); scalar chains add up.
    assert gd.inconsistency({"steps": [10, 10, 10, 5], "chain": [0, 0, 0, 1], "calls": 15}) == ""
    # A few steps credited twice where runs meet (seen: 300016 steps for 300000 calls) are not forgery.
    assert gd.inconsistency({"steps": [1000] * 301, "chain": list(range(301)), "calls": 300_000}) == ""
    assert "a run of 1000 steps, but only 999" in gd.inconsistency({"steps": [1000], "chain": [0], "calls": 999})
    assert "60000 steps in all, but only 20000" in gd.inconsistency(
        {"steps": [1000] * 60, "chain": list(range(60)), "calls": 20_000})
    assert gd.inconsistency(None) == "" and gd.inconsistency({"steps": [], "chain": [], "calls": 0}) == ""


# -- online observation: complete, O(chains) memory (issue 9) -------------------------
def _recorder():
    from grader.sandbox.inside.observe import Recorder

    return Recorder(gradients=("fprime",))


def test_a_long_scalar_loop_is_observed_completely_in_constant_memory():
    import tracemalloc

    recorder = _recorder()
    fprime = recorder.wrap("fprime", lambda x: 20.0 * x if x < 3 else x - 10.0)
    steps = 100_000
    tracemalloc.start()
    x = 2.5
    for _ in range(steps):
        x = x - 1e-5 * fprime(x)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    data = recorder.snapshot()["streams"]["fprime"]
    assert list(data["steps"]) == [steps] and not data["full"]
    assert data["start"][0] == 2.5 and data["last"][0] == pytest.approx(x, rel=1e-12)  # the iterate after the last step
    assert peak < 256 * 1024, peak  # a summary per chain, not a record per call
    points = np.diff(data["trajectory_offsets"])
    assert len(points) == 1 and 48 <= points[0] <= 64  # 32 dense, then 16 to 31 spread, then the last
    where = list(data["trajectory_steps"])
    assert where[:32] == list(range(32)) and where[-1] == steps and where == sorted(where)


def test_many_array_calls_are_observed_completely():
    recorder = _recorder()
    fprime = recorder.wrap("fprime", gd.fprime_starter)
    starts = np.random.default_rng(5).uniform(-5, 20, size=1000)
    x = starts.copy()
    with np.errstate(all="ignore"):
        for _ in range(3000):
            x = x - 0.01 * fprime(x)
    runs, how, data = gd.runs_from_record(recorder.snapshot())
    assert how == "fprime" and len(runs) == 1000 and {r.steps for r in runs} == {3000}
    assert np.array_equal([r.start for r in runs], starts)
    assert all(r.vectorized and r.group == "call 1 (α = 0.01, 3000 steps)" for r in runs)
    assert np.allclose([r.final for r in runs], x - 0.01 * gd.fprime_starter(x), equal_nan=True)


def test_the_number_of_runs_followed_is_bounded_and_says_so():
    builder = ChainBuilder(max_runs=50)
    for start in np.linspace(-4, 19, 80):
        x = float(start)
        for _ in range(20):
            g = float(gd.fprime_starter(x))
            builder.feed_scalar(x, g)
            x = x - 0.01 * g
    data = builder.runs_data()
    assert len(data["steps"]) == 50 and set(data["steps"].tolist()) == {20} and data["full"]
    assert data["unfollowed"] > 0


def test_runs_json_follows_schema_1():
    calls = _gd_calls(np.array([-4.0, 1.0, 8.0, 19.0]), 0.01, 500) + _gd_calls(3.0, 0.3, 100) + _gd_calls(-2.0, 4.0, 40)
    builder = ChainBuilder()
    for c in calls:
        if np.ndim(c):
            builder.feed(np.array(c, dtype=float), np.asarray(gd.fprime_starter(c), dtype=float))
        else:
            builder.feed_scalar(float(c), float(gd.fprime_starter(c)))
    data = builder.runs_data()
    runs = gd.runs_from_stream(data, "fprime")
    doc = gd.runs_json(runs, data, {0.3: {runs[4].index}})
    assert doc["schema"] == 1 and len(doc["runs"]) == 6
    import json

    json.dumps(doc, allow_nan=False)  # plain JSON: inf and nan of diverged runs become null
    for run in doc["runs"]:
        assert set(run) == {"alpha", "start", "last", "steps", "outcome", "group", "judged", "trajectory"}
        assert run["outcome"] in ("sharp", "wide", "diverged", "other")
        assert 2 <= len(run["trajectory"]) <= 64 and run["trajectory"][0] == [0, run["start"]]
        assert run["trajectory"][-1][0] == run["steps"]
    assert [r["judged"] for r in doc["runs"]] == [False, False, False, False, True, False]
    # The file's text, encoded once, says the same with any marks.
    marks = [True, False, True, False, False, True]
    text = gd.RunsFile(doc).text(marks)
    assert json.loads(text) == {"schema": 1, "runs": [{**r, "judged": m} for r, m in zip(doc["runs"], marks)]}
    assert doc["runs"][5]["outcome"] == "diverged" and doc["runs"][4]["group"] == "α = 0.3, 100 steps"


def test_each_alpha_is_judged_on_its_best_coherent_group():
    def run(steps, start, i, final):
        return gd.Run(0.01, start, steps, final, "fprime", chain=i, index=i)

    short = [run(100, s, i, 5.0) for i, s in enumerate(np.linspace(-4, 19, 20))]
    long = [run(1000, s, 20 + i, 0.0 if s < 3 else 10.0) for i, s in enumerate(np.linspace(-4, 19, 30))]
    single = [run(37, 2.0, 99, 0.0)]
    groups = gd.candidate_groups(short + long + single)
    labels = [label for label, _ in groups]
    # The whole set first; a single hand-picked start is never judged on its own.
    assert labels == ["all 51 runs", "the 20 runs of α = 0.01, 100 steps", "the 30 runs of α = 0.01, 1000 steps"]
    assert gd.candidate_groups(long) == [("all 30 runs", long)]


def test_loop_updates_are_followed_only_until_fprime_forms_a_chain(tmp_path):
    from grader.sandbox.inside import observe

    header = "import numpy as np\ndef fprime(x):\n    return 20.0 * x if x < 3 else x - 10.0\n"
    scripts = {
        # fprime in the loop: its stream is graded, the updates stop being recorded at once
        "called": "x = 2.5\nfor _ in range(3000):\n    x = x - 0.01 * fprime(x)\n",
        # fprime only printed, the derivative inlined: the updates are the only record of the run
        "inlined": "print(fprime(2.0))\nx = 2.5\nfor _ in range(3000):\n    x -= 0.01 * (20.0 * x if x < 3 else x - 10.0)\n",
    }
    for name, body in scripts.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / "wideMinima.py").write_text(header + body, encoding="utf-8")
        _, recorder, _ = observe.observe(folder, ["wideMinima.py"], ["f", "fprime"], 30, tmp_path / f"{name}-art",
                                         gradient=lambda x: 20.0 * x if x < 3 else x - 10.0)
        record = recorder.snapshot()
        runs, how, _ = gd.runs_from_record(record)
        updates = next(d for key, d in record["streams"].items() if key.startswith("="))
        assert len(runs) == 1 and runs[0].start == 2.5 and runs[0].steps == 3000
        if name == "called":
            assert how == "fprime" and not recorder.following and updates["calls"] <= 3
        else:
            assert how.startswith("the update of x at wideMinima.py:") and recorder.following and updates["calls"] == 3000


def test_a_script_that_names_the_grader_s_internals_is_flagged(tmp_path):
    from grader.integrity import internals_referenced, student_sources

    (tmp_path / "wideMinima.py").write_text("import numpy as np\nrec = globals().get('__grader_observe__')\n"
                                            "from grader.sandbox.inside.chains import Chain\n")
    (tmp_path / "helper.py").write_text("def grader(x):\n    return x  # a function named grader is fine\n")
    flags = internals_referenced(student_sources(tmp_path))
    assert len(flags) == 1 and "wideMinima.py:2 (`__grader_observe__`)" in flags[0], flags
    assert "wideMinima.py:3" in flags[0] and "a TA should check" in flags[0]
    # Another problem's file is scanned with that problem, not again with this one.
    assert internals_referenced(student_sources(tmp_path, {"wideminima.py"})) == []


def test_library_functions_a_script_replaces_are_put_back_and_flagged(tmp_path):
    # An honest experiment, then np.asarray, np.concatenate, np.exp, math.isfinite and json.dumps replaced.
    result = _grade_p4_result(tmp_path, "patches_libraries")
    assert result.score == pytest.approx(15), [(i.id, i.feedback) for i in result.items]
    assert any("replaced library functions" in f and "json.dumps" in f for f in result.flags), result.flags
    assert "they were put back" in " ".join(i.feedback for i in result.items)


@pytest.mark.parametrize("sample, scores", [
    # x = x - lr * f(x): three points fit one α now and then. Before: 3 / 15, half the update item.
    ("steps_by_f", {"p4-update": 0, "p4-starts": 0, "p4-alpha-small": 0, "p4-alpha-mid": 0, "p4-alpha-large": 0}),
    # Heavy-ball momentum: its converged and diverging tails look like GD with an α of their own.
    # Before: 5.4 / 15 (update 1.4, starts 2) and a "mis-assembled" TA flag.
    ("momentum_update", {"p4-update": 0, "p4-starts": 0, "p4-alpha-small": 0, "p4-alpha-mid": 0, "p4-alpha-large": 0}),
    # Clipped to [-5, 20]: α = 0.01 and 0.3 never reach the ends and are GD; α = 4 is not. Before,
    # α = 4 was judged on one 3-step piece (3 / 3) and the starts item lost a third for it.
    ("clipped_step", {"p4-update": 2, "p4-starts": 2, "p4-alpha-small": 3, "p4-alpha-mid": 3, "p4-alpha-large": 0}),
    # The same clipping (of fprime's value) in a scalar loop: α = 4's pieces of 3 to 6 steps read as
    # diverged by the unclipped step their last call predicts, never taken. Before: 3 / 3.
    ("clipped_step_scalar", {"p4-update": 2, "p4-starts": 2, "p4-alpha-small": 3, "p4-alpha-mid": 3, "p4-alpha-large": 0}),
])
def test_updates_that_are_not_gd_earn_nothing_from_the_pieces_that_fit_one_alpha(tmp_path, sample, scores):
    result = _grade_p4_result(tmp_path, sample)
    items = {i.id: i for i in result.items}
    assert {i: items[i].score for i in scores} == pytest.approx(scores), [(i.id, i.feedback) for i in result.items]
    assert not result.flags, result.flags
    if scores["p4-update"] == 0:
        assert re.search(r"fits? x_\(k\+1\) = x_k − α·f′\(x_k\) with one constant α only in fragments "
                         r"\(\d+ with fewer than 10 steps", items["p4-update"].feedback), items["p4-update"].feedback
    else:
        large = items["p4-alpha-large"].feedback
        assert "No run with α = 4 was observed (observed α: 0.01, 0.3)" in large, large
        assert re.search(r"\b(19|20)\d{3} of fprime's 60000 calls are in no GD run.*clipping", large), large


def test_short_diverged_pieces_are_set_aside_only_amid_many_calls_in_no_run():
    runs = [gd.Run(a, float(s), 1000, 10.0, "fprime", chain=i) for i, (a, s) in enumerate((a, s) for a in (0.01, 0.3) for s in range(15))]
    runs += [gd.Run(4.0, float(s), 4, 1e4, "fprime", chain=30 + s) for s in range(15)]  # stopped at |x| > 10³
    in_runs = gd.calls_in_runs(runs)
    # A script that also evaluates fprime point by point on a plotting grid: its α = 4 stays.
    kept, fragments = gd.set_aside_unconfirmed(runs, {}, 3000, in_runs + 3000)
    assert kept == runs and fragments == {}
    # A clipped update: a third of the calls fit no run, and α = 4 exists only in short pieces.
    kept, fragments = gd.set_aside_unconfirmed(runs, {}, 20000, in_runs + 20000)
    assert {r.alpha for r in kept} == {0.01, 0.3} and fragments == {"fewer than 10 steps amid calls that fit no GD run": 15}


def test_fragments_are_set_aside_unless_other_runs_show_their_alpha():
    def run(alpha, start, steps, final, vectorized=False):
        return gd.Run(alpha, start, steps, final, "fprime", vectorized=vectorized)

    runs = [
        run(0.01, 3.0, 1000, 9.99), run(0.01, 10.0, 1000, 10.0000001),  # x₀ = 10 of a grid: kept
        run(0.3, 2.0, 4, 9.2),  # short, but another run shows α = 0.3... none does: set aside
        run(4.0, 3.0, 6, 1e200),  # short, diverged: a run
        run(0.2158, 10.00001, 900, 10.000002),  # a tail that does not move, α of its own
        run(-8.06, -5e5, 900, float("nan")),  # deep in a diverging iteration
        run(3e-5, 9.9, 500, 9.95),  # a 2-cycle seen as two slow chains
        run(0.05, 10.0, 1000, 10.0, vectorized=True),  # an element of a vectorized run: its α is the array's
    ]
    kept, fragments = gd.split_fragments(runs)
    assert [(r.alpha, r.start) for r in kept] == [(0.01, 3.0), (0.01, 10.0), (4.0, 3.0), (0.05, 10.0)]
    assert fragments == {"fewer than 10 steps": 1, "a travel under 0.0001 in all its steps": 1,
                         "|x₀| above 10000": 1, "|α| outside [0.0001, 1000]": 1}


def test_a_grid_of_starts_is_a_grid_even_with_one_start_off_it():
    grid = np.arange(-5, 20.5, 0.5)
    assert gd.grid_step(grid) == 0.5
    # x = -2.5 is one α = 0.01 step from -2 (f'(-2.5) = -50): the two runs share a trajectory,
    # and the observer may see one of them start a step late, at -1.6. Before: "random", 2 / 2.
    assert gd.grid_step(np.append(grid, -1.6)) == 0.5
    assert gd.grid_step(np.linspace(-4.5, 19.5, 40) + 1e-3) == pytest.approx(24 / 39)
    rng = np.random.default_rng(0)
    assert all(gd.grid_step(rng.uniform(-5, 20, size)) is None for size in (3, 4, 20, 60, 500))
    assert gd.grid_step([1.0, 1.0, 2.0]) is None  # two distinct starts are no grid
    # A basin plot on a fine grid, then random starts: random starts are there.
    assert gd.grid_step(np.concatenate([np.linspace(-5, 20, 40001), rng.uniform(-5, 20, 20)])) is None
    # random.randint(-5, 20), five per α and no repeat within one: 12 of the 26 integers, with
    # gaps. Before: "an evenly spaced grid (12 points, step 1)", half the starts item.
    assert gd.grid_step([-5, -4, -1, 0, 1, 2, 6, 11, 16, 17, 18, 20]) is None
    assert gd.grid_step(np.arange(-5, 21)) == 1.0 and gd.grid_step(np.delete(np.arange(-5, 21), [3, 9, 17])) == 1.0


def test_a_changed_function_is_shown_where_it_differs_most():
    suite = load_content_module(ROOT / "rubrics" / "hw1" / "test_p4.py")
    # (x, student's value, starter's, stable form's): 2e-7 off at -10 is not what to show.
    points = [(-10.0, -200.00004, -200.0, -200.0), (5.0, 1.0, 3.0, 3.0), (300.0, 1.0, math.nan, math.nan)]
    assert max(points, key=suite._difference)[0] == 5.0
    assert max(points + [(7.0, None, 2.0, 2.0)], key=suite._difference)[0] == 7.0


def test_a_function_that_raises_where_exp_overflows_is_the_same_function():
    suite = load_content_module(ROOT / "rubrics" / "hw1" / "test_p4.py")
    # math.exp raises OverflowError (np.seterr(all="raise"): FloatingPointError) where np.exp gives inf.
    for x in (-1000.0, -300.0, 240.0, 1000.0):
        assert suite._agrees("OverflowError", gd.fprime_starter(x), gd.fprime_stable(x), x)
        assert suite._agrees("FloatingPointError", gd.f_starter(x), gd.f_stable(x), x)
    # Where every form is finite, raising is a changed function, and so is any other exception.
    for x in (5.0, 50.0, 100.0):
        assert not suite._agrees("OverflowError", gd.fprime_starter(x), gd.fprime_stable(x), x)
    assert not suite._agrees("ZeroDivisionError", gd.f_starter(1000.0), gd.f_stable(1000.0), 1000.0)
    assert not suite._agrees(None, 1.0, 1.0, 1.0) and not suite._agrees(True, 1.0, 1.0, 1.0)


@pytest.mark.parametrize("sample, count, steps", [
    # math.exp in f and fprime; an OverflowError ends each α = 4 run, which the script catches.
    ("math_overflow", 15, "3–7"),
    # np.seterr(all="raise"): α = 4 runs end in FloatingPointError (overflow or underflow), some
    # after one step. Before, the call that raised was not seen: 9 of the 20 runs were lost and one
    # read "not converged", as it ended at the point before.
    ("seterr_raise", 20, "3–6"),
])
def test_gd_whose_gradient_raises_when_it_blows_up_is_followed_to_the_point_that_raised(tmp_path, sample, count, steps):
    result = _grade_p4_result(tmp_path, sample)
    items = {i.id: i for i in result.items}
    assert result.score == pytest.approx(15), [(i.id, i.feedback) for i in result.items]
    assert f"| 4 | {count} | {steps} | 0 | 0 | {count} | 0 |" in items["p4-update"].feedback, items["p4-update"].feedback
    assert not result.flags, result.flags


def test_f_and_fprime_under_other_names_are_found_by_what_they_compute(tmp_path):
    # def loss(theta), def grad(theta): the starter's functions renamed. Before: "f is not
    # defined; fprime is not defined", 0 / 2.
    items = _grade_p4(tmp_path / "same", "renamed_functions")
    functions = items["p4-functions"]
    assert functions.score == pytest.approx(2), functions.feedback
    assert "Your f is `loss`" in functions.feedback and "Your fprime is `grad`" in functions.feedback
    assert sum(i.score for i in items.values()) == pytest.approx(15)
    # A renamed f′ that was changed computes no assignment function: half the item, and the
    # runs (observed through the loop's update with the assignment's f′) no longer fit GD.
    changed = tmp_path / "changed"
    changed.mkdir()
    text = (ROOT / "tests/p4_samples/renamed_functions/wideMinima.py").read_text()
    (changed / "wideMinima.py").write_text(text.replace("(1 - s) * 20 * theta", "(1 - s) * 21 * theta"))
    rubric = load_rubric(ROOT / "rubrics" / "hw1.toml")
    problem = next(p for p in rubric.problems if p.id == "p4")
    ctx = Context(stdout=io.StringIO(), stderr=io.StringIO())
    result = grade_problem(Submission("changed", changed), problem, rubric, tmp_path / "w", tmp_path / "r", ctx)
    functions = next(i for i in result.items if i.id == "p4-functions")
    assert functions.score == pytest.approx(1), functions.feedback
    assert "fprime is not defined in wideMinima.py, and none of its one-argument functions computes it" in functions.feedback


def test_the_fprime_checked_is_the_definition_the_experiment_called(tmp_path):
    # The starter's fprime, then the student's own (2·s(1 − s) for 3·s(1 − s)), which the runs use.
    # Before: the first definition was probed, 2 / 2.
    functions = _grade_p4(tmp_path / "a", "fprime_redefined")["p4-functions"]
    assert functions.score == pytest.approx(1), functions.feedback
    assert "you changed fprime (defined at wideMinima.py:15)" in functions.feedback, functions.feedback
    # The other order (a wrong draft, then the starter's, which the runs use): nothing changed.
    text = (ROOT / "tests/p4_samples/fprime_redefined/wideMinima.py").read_text()
    first, second = text.index("def fprime"), text.index("# --- my own")
    draft, rest = text[first:second], text[second:]
    swapped = text[:first] + rest[:rest.index("np.seterr")].replace("# --- my own derivative (simplified), used below ---\n", "") + draft + rest[rest.index("np.seterr"):]
    folder = tmp_path / "swapped"
    folder.mkdir()
    (folder / "wideMinima.py").write_text(swapped)
    assert swapped.count("def fprime") == 2 and swapped.index("2 * s") < swapped.index("3 * s * (1 - s)")
    rubric = load_rubric(ROOT / "rubrics" / "hw1.toml")
    problem = next(p for p in rubric.problems if p.id == "p4")
    ctx = Context(stdout=io.StringIO(), stderr=io.StringIO())
    result = grade_problem(Submission("swapped", folder), problem, rubric, tmp_path / "w", tmp_path / "r", ctx)
    assert result.score == pytest.approx(15), [(i.id, i.feedback) for i in result.items]


def test_one_alpha_written_uphill_is_the_students_bug_not_a_mis_assembly():
    def run(alpha, start):
        return gd.Run(alpha, start, 1000, 10.0, "fprime")

    good = [run(a, s) for a in (0.01, 0.3) for s in np.linspace(-4, 19, 15)]
    # x + 4*fprime(x) in the α = 4 function only: every α = 4 run steps uphill, by the same α.
    assert gd.incoherence(good + [run(-4.0, s) for s in np.linspace(-4, 19, 15)]) == ""
    # Uphill pieces with α of their own among downhill runs: the observer's, flagged for a TA.
    assert gd.incoherence(good + [run(-a, 3.0 + a) for a in (0.013, 0.2, 0.71)]) == "3 of 33 runs step uphill"
    assert gd.incoherence(good + [run(-4.0, 3.0), run(-4.0, 5.0)]) == "2 of 32 runs step uphill"


@pytest.mark.parametrize("sample, starts, rows", [
    # x[active] = x[active] - alpha * fprime(x[active]), active dropping converged elements: each
    # shrink started new runs mid-trajectory ("409 different starts", "70 of 406 runs did not converge").
    ("masked_vectorized", 40, ["| 0.01 | 40 | 1595 | 14 | 26 | 0 | 0 |", "| 0.3 | 40 |", "| 4 | 40 |"]),
    # x = x[np.abs(x) < 1e6] after each step: the α = 4 runs dropped were "not converged".
    ("shrinking_array", 150, ["| 0.01 | 50 | 1000 |", "| 0.3 | 50 | 1000 |", "| 4 | 50 | 8 | 0 | 0 | 50 | 0 |"]),
])
def test_vectorized_runs_that_stop_some_elements_stay_one_run_per_start(tmp_path, sample, starts, rows):
    result = _grade_p4_result(tmp_path, sample)
    items = {i.id: i for i in result.items}
    assert result.score == pytest.approx(15), [(i.id, i.feedback) for i in result.items]
    for row in rows:
        assert row in items["p4-update"].feedback, items["p4-update"].feedback
    assert items["p4-starts"].feedback.startswith(f"{starts} different starts"), items["p4-starts"].feedback


def _lock_step(rng, count: int, rounds: int):
    """The calls of ``for α: xs = uniform(-5, 20, count); for k: for i: xs[i] -= α·f′(xs[i])``, and the (α, x₀) of its runs."""
    calls, want = [], []
    with np.errstate(all="ignore"):
        for alpha in (0.01, 0.3, 4.0):
            xs = [float(v) for v in rng.uniform(-5, 20, count)]
            want += [(alpha, x) for x in xs]
            for _ in range(rounds):
                for i in range(count):
                    calls.append(xs[i])
                    xs[i] = float(xs[i] - alpha * gd.fprime_starter(np.float64(xs[i])))
        return build_runs(*_stream(calls), "fprime"), want


@pytest.mark.parametrize("count", [2, 4, 8, 11, 13])
def test_a_few_scalar_runs_in_lock_step_each_start_at_their_own_x0(count):
    # With 2 to 11 runs, the pairs of each round crowded the first points out of the pairing
    # window, and all runs but the first started a step late, at x₁ (outside [-5, 20] with α = 4).
    runs, want = _lock_step(np.random.default_rng(count), count, 200)
    assert sorted((r.alpha, r.start) for r in runs) == sorted(want)
    assert {r.steps for r in runs if r.alpha < 4} == {200}


def test_an_array_call_that_crosses_the_bound_on_runs_reports_its_first_elements():
    # X = uniform(-5, 20, (3, 34000)); X = X - alphas[:, None] * fprime(X): one call of 102 000
    # elements crossed max_runs, and the whole array (every run of the script) was dropped: 0 / 15.
    alphas = np.array([0.01, 0.3, 4.0])[:, None]
    X = np.random.default_rng(5).uniform(-5, 20, (3, 40))
    builder = ChainBuilder(max_runs=100)
    starts = X.copy()
    with np.errstate(all="ignore"):
        for _ in range(6):
            g = gd.fprime_starter(X)
            builder.feed(X.copy(), np.asarray(g))
            X = X - alphas * g
    data = builder.runs_data()
    assert data["full"] and len(data["start"]) == 100
    assert np.array_equal(data["start"], starts.ravel()[:100])
    assert np.allclose(data["alpha"], np.repeat([0.01, 0.3, 4.0], 40)[:100])
    # Each run's trajectory is its own element's, in the same order as its start.
    offsets = data["trajectory_offsets"]
    firsts = [data["trajectory_values"][offsets[i]] for i in range(100)]
    assert np.array_equal(firsts, starts.ravel()[:100])


def test_past_the_bound_each_new_array_call_still_reports_its_first_elements():
    # rng.uniform(-5, 20, 100_000) stepped as one array per α: the first α took every run the
    # bound allows, and α = 0.3 and 4 were "not observed" (9 / 15, and a "one α only" TA flag).
    builder = ChainBuilder(max_runs=100, array_quota=20, extra_runs=50)
    starts = np.random.default_rng(8).uniform(-5, 20, 150)
    with np.errstate(all="ignore"):
        for alpha in (0.01, 0.3, 4.0):
            x = starts.copy()
            for _ in range(12):
                g = gd.fprime_starter(x)
                builder.feed(x.copy(), np.asarray(g))
                x = x - alpha * g
    data = builder.runs_data()
    assert data["full"]
    alphas, counts = np.unique(np.round(data["alpha"], 6), return_counts=True)
    assert alphas.tolist() == [0.01, 0.3, 4.0] and counts.tolist() == [100, 20, 20]
    assert np.array_equal(data["start"][100:120], starts[:20]) and set(data["steps"].tolist()) == {12}


def test_gd_in_worker_processes_is_said_and_flagged(tmp_path):
    # A multiprocessing pool runs fprime where the observer cannot see it: before, the feedback
    # said "fprime was never called", which the student knows to be false.
    result = _grade_p4_result(tmp_path, "multiprocessing_pool")
    update = next(i for i in result.items if i.id == "p4-update")
    assert update.score == 0 and "it started 2 other process(es) (a multiprocessing pool?)" in update.feedback
    assert any("forked 2 process(es)" in flag for flag in result.flags), result.flags


@pytest.mark.parametrize("seed", range(12))
def test_thirty_scalar_runs_in_lock_step_are_followed_for_any_starts(seed):
    # A run starting near a minimum has a small f′, and (x₀ − x₁)/f′ misses α = 0.01 in its 12th
    # digit: that α predicted x₂ an ulp off, and the run started a step late (seeds 9 and 10 here).
    runs, want = _lock_step(np.random.default_rng(seed), 30, 120)
    assert sorted((r.alpha, r.start) for r in runs) == sorted(want)
    assert {r.steps for r in runs if r.alpha < 4} == {120}