"""Outcomes → points: a pure function, tested without any process."""

import pytest

from grader.models import ManualScore, Outcome, Status
from grader.rubric import Deduction, Item
from grader.scoring import score_manual_item, score_test_item


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
