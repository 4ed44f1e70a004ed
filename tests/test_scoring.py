"""Outcomes → points: a pure function, tested without any process."""

import pytest

from grader.models import ManualScore, Outcome, Status
from grader.rubric import Deduction, Item
from grader.scoring import apply_requires, score_manual_item, score_test_item, score_unavailable_items


def item(points=4.0, feedback="the rule"):
    return Item("it", "desc", points, "test", "test_x", "public", feedback)


def case(status, credit=None, case="", message="", test="test_x", notes=()):
    if credit is None:
        credit = 1.0 if status is Status.PASSED else 0.0
    return Outcome(test, case, status, credit, message, tuple(notes))


def test_all_cases_passed_earns_full_points():
    score = score_test_item(item(), [case(Status.PASSED, case="a"), case(Status.PASSED, case="b")])
    assert (score.score, score.status, score.feedback) == (4.0, Status.PASSED, "")


def test_parametrized_cases_give_partial_credit_and_say_which_failed():
    outcomes = [case(Status.PASSED, case="n=1"), case(Status.FAILED, case="n=2", message="wrong at index 3"),
                case(Status.PASSED, case="n=3"), case(Status.PASSED, case="n=4")]
    score = score_test_item(item(), outcomes)
    assert score.score == 3.0 and score.status is Status.FAILED
    assert "3 of 4 cases passed." in score.feedback
    assert "[n=2] wrong at index 3" in score.feedback and "the rule" in score.feedback


def test_a_test_can_set_its_own_fraction():
    score = score_test_item(item(), [case(Status.PASSED, credit=0.25)])
    assert score.score == 1.0 and score.status is Status.FAILED


def test_status_precedence_timeout_over_error_over_failed():
    outcomes = [case(Status.FAILED, case="a"), case(Status.ERROR, case="b"), case(Status.TIMEOUT, case="c")]
    assert score_test_item(item(), outcomes).status is Status.TIMEOUT
    assert score_test_item(item(), outcomes[:2]).status is Status.ERROR


def test_same_failure_is_reported_once():
    outcomes = [case(Status.ERROR, case=str(i), message="SyntaxError at a.py:3") for i in range(5)]
    assert score_test_item(item(), outcomes).feedback.count("SyntaxError") == 1


def test_other_tests_outcomes_do_not_count_and_missing_test_is_an_error():
    assert score_test_item(item(), [case(Status.PASSED, test="test_y")]).status is Status.ERROR


def test_notes_are_shown_even_when_passed():
    score = score_test_item(item(), [case(Status.PASSED, notes=["peak 12 KB"])])
    assert score.feedback == "peak 12 KB"


def test_manual_item_pending_until_scored_then_lists_deductions():
    manual = Item("m", "proof", 5.0, "manual", None, "public", "", (Deduction("chain", 3.0, "missing chain rule"),))
    pending = score_manual_item(manual, None)
    assert pending.status is Status.PENDING and pending.score == 0
    scored = score_manual_item(manual, ManualScore(2.0, "see margin", ("chain",)))
    assert scored.score == 2.0 and scored.status is Status.FAILED
    assert "-3: missing chain rule" in scored.feedback and "see margin" in scored.feedback
    assert score_manual_item(manual, ManualScore(5.0)).status is Status.PASSED


@pytest.mark.parametrize("credits,expected", [([1, 0, 0, 0], 1.0), ([0.5, 0.5], 2.0), ([0], 0.0)])
def test_points_are_mean_credit_times_points(credits, expected):
    outcomes = [case(Status.PASSED if c == 1 else Status.FAILED, credit=c, case=str(i)) for i, c in enumerate(credits)]
    assert score_test_item(item(), outcomes).score == expected


# -- requires and problem-wide reasons ---------------------------------------------------
def _req_items(policy="pass"):
    forward = Item("fwd", "A @ x", 4.0, "test", "test_f", "public", "")
    back = Item("back", "A.T @ y", 4.0, "test", "test_b", "public", "")
    ban = Item("ban", "no dense", 8.0, "test", "test_ban", "public", "", requires=("fwd", "back"), requires_policy=policy)
    shapes = Item("shape", "shapes", 1.0, "test", "test_s", "public", "", requires=("ban",))
    return [forward, back, ban, shapes]


def _scores(items, credits):
    out = []
    for it in items:
        c = credits[it.id]
        out.append(score_test_item(it, [case(Status.PASSED, credit=c, test=it.test)]))
    return out


def test_requires_pass_gives_nothing_and_skips_with_what_is_missing():
    items = _req_items("pass")
    scores = apply_requires(items, _scores(items, {"fwd": 0.0, "back": 1.0, "ban": 1.0, "shape": 1.0}))
    by = {s.id: s for s in scores}
    assert (by["ban"].score, by["ban"].status) == (0.0, Status.SKIPPED)
    assert "counts only when fwd passes (fwd: failed, 0 / 4)" in by["ban"].feedback
    # Requirements chain: shapes needs the ban, which is now skipped.
    assert (by["shape"].score, by["shape"].status) == (0.0, Status.SKIPPED) and "ban: skipped" in by["shape"].feedback
    assert (by["fwd"].score, by["back"].score) == (0.0, 4.0)


def test_requires_scale_multiplies_by_the_weakest_required_credit():
    items = _req_items("scale")
    scores = apply_requires(items, _scores(items, {"fwd": 0.75, "back": 1.0, "ban": 1.0, "shape": 1.0}))
    ban = {s.id: s for s in scores}["ban"]
    assert ban.score == 6.0 and ban.status is Status.FAILED
    assert "scaled by the credit of fwd" in ban.feedback and "×0.75" in ban.feedback
    # The item's own check passed: the feedback says so, so "failed" is not read as its verdict.
    assert ban.feedback.startswith("Your code passed this item's own check; its points are scaled"), ban.feedback


def test_requires_met_changes_nothing():
    items = _req_items("pass")
    before = _scores(items, {"fwd": 1.0, "back": 1.0, "ban": 1.0, "shape": 1.0})
    assert apply_requires(items, before) == tuple(before)


def test_an_item_that_earned_nothing_keeps_its_own_status():
    items = _req_items("pass")
    scores = _scores(items, {"fwd": 0.0, "back": 1.0, "ban": 0.0, "shape": 1.0})
    ban = {s.id: s for s in apply_requires(items, scores)}["ban"]
    assert ban.status is Status.FAILED  # e.g. the dense matrix was found: that verdict stays the telling one


def test_a_reason_for_a_whole_problem_is_said_once():
    items = [Item(f"i{k}", "d", 1.0, "test", f"test_{k}", "hidden" if k == 0 else "public", "") for k in range(4)]
    scored = score_unavailable_items(items, Status.ERROR, "Missing file: conv1D.py.")
    assert [s.feedback for s in scored.values()] == [
        "Not run: see i1.", "Missing file: conv1D.py.", "Not run: see i1.", "Not run: see i1.",
    ]
    assert {s.status for s in scored.values()} == {Status.ERROR}


def test_the_item_s_rule_is_not_given_as_the_reason_for_a_time_limit():
    # "The handout forbids a (n-r+1)×n array" under "the guards could not run in time" read like a verdict.
    timed_out = score_test_item(item(), [case(Status.TIMEOUT, message="stopped after the time limit of 20 s")])
    assert timed_out.status is Status.TIMEOUT and "the rule" not in timed_out.feedback
    assert "time limit of 20 s" in timed_out.feedback
    mixed = score_test_item(item(), [case(Status.TIMEOUT, case="a", message="stopped"),
                                     case(Status.FAILED, case="b", message="wrong at index 0")])
    assert "the rule" in mixed.feedback  # a real failure among them: the rule helps with that one
