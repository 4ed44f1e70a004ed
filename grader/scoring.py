"""Turns observed outcomes into points: pure functions, no I/O."""

from __future__ import annotations

from typing import Iterable

from grader.models import ItemScore, ManualScore, Outcome, Status
from grader.rubric import Item

# When the cases behind an item disagree, the item shows the most telling one.
_PRECEDENCE = (Status.TIMEOUT, Status.ERROR, Status.FAILED, Status.SKIPPED, Status.PASSED)


def score_test_item(item: Item, outcomes: Iterable[Outcome]) -> ItemScore:
    """Scores a test item from the outcomes of its test's cases.

    The item earns ``points × mean(case credit)``: a parametrized test gives
    partial credit per case, and a test may set its own fraction. The status is
    ``passed`` only when every case earned full credit.
    """
    cases = [o for o in outcomes if o.test == item.test]
    if not cases:
        return _item(item, 0.0, Status.ERROR, "The grader did not run this check (see the problem notes).")
    credit = sum(c.credit for c in cases) / len(cases)
    score = round(item.points * credit, 6)
    # A case that passed with partial credit counts as failed.
    seen = {Status.FAILED if c.status is Status.PASSED and c.credit < 1.0 else c.status for c in cases}
    status = next(s for s in _PRECEDENCE if s in seen)
    return _item(item, score, status, _feedback(item, cases, status))


def score_manual_item(item: Item, manual: ManualScore | None) -> ItemScore:
    """Scores a manual item: ``pending`` until a TA scored it."""
    if manual is None:
        return _item(item, 0.0, Status.PENDING, "Not graded yet: a TA grades this by hand.")
    lines = [f"-{d.points:g}: {d.comment}" for d in item.deductions if d.code in manual.deductions]
    if manual.comment:
        lines.append(manual.comment)
    status = Status.PASSED if manual.points >= item.points else Status.FAILED
    return _item(item, round(manual.points, 6), status, "\n".join(lines))


def score_unavailable(item: Item, status: Status, reason: str) -> ItemScore:
    """Scores a test item whose checks could not run at all (missing file, crash of the judge)."""
    return _item(item, 0.0, status, reason)


def _item(item: Item, score: float, status: Status, feedback: str) -> ItemScore:
    return ItemScore(
        id=item.id,
        description=item.description,
        score=score,
        max_score=item.points,
        status=status,
        feedback=feedback,
        visibility=item.visibility,
    )


def _feedback(item: Item, cases: list[Outcome], status: Status) -> str:
    lines: list[str] = []
    failing = [c for c in cases if c.status is not Status.PASSED or c.credit < 1.0]
    if failing:
        passed = len(cases) - len(failing)
        if len(cases) > 1:
            lines.append(f"{passed} of {len(cases)} cases passed.")
        seen: set[str] = set()
        for case in failing:
            text = case.message or case.status.value
            if text in seen:
                continue  # the same failure for several sizes is said once
            seen.add(text)
            label = f"[{case.case}] " if case.case else ""
            lines.append(f"{label}{text}")
            if len(seen) >= 3:
                remaining = len({c.message for c in failing}) - len(seen)
                if remaining > 0:
                    lines.append(f"(and {remaining} more different failure(s))")
                break
        if item.feedback and status is not Status.PASSED:
            lines.append(item.feedback)
    for case in cases:
        for note in case.notes:
            if note not in lines:
                lines.append(note)
    return "\n".join(lines)
