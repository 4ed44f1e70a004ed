"""Turns observed outcomes into points: pure functions, no I/O."""

from __future__ import annotations

import dataclasses
from typing import Iterable, Sequence

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


def score_unavailable_items(items: Sequence[Item], status: Status, reason: str) -> dict[str, ItemScore]:
    """Scores the test items of a problem that could not run, saying ``reason`` once.

    The first public item carries the reason; the others point to it, so a
    report does not repeat one paragraph under every item.
    """
    tests = [i for i in items if i.kind == "test"]
    if not tests:
        return {}
    first = next((i for i in tests if i.visibility == "public"), tests[0])
    return {
        i.id: _item(i, 0.0, status, reason if i is first else f"Not run: see {first.id}.")
        for i in tests
    }


def apply_requires(items: Sequence[Item], scores: Sequence[ItemScore]) -> tuple[ItemScore, ...]:
    """Applies each item's ``requires``: no points for building on work that does not do its job.

    With ``requires_policy = "pass"`` an item earns nothing unless every item
    it requires passed; with ``"scale"`` its score is multiplied by the
    smallest fraction a required item earned. An item that loses points this
    way says which required item fell short; when it earns nothing and had
    itself passed, its status becomes ``skipped``. Required items are settled
    first (the rubric loader rejects cycles), so requirements chain.
    """
    by_id = {s.id: s for s in scores}
    rules = {i.id: i for i in items}
    settled: dict[str, ItemScore] = {}

    def settle(iid: str) -> ItemScore:
        if iid in settled:
            return settled[iid]
        score = by_id[iid]
        item = rules.get(iid)
        if item is not None and item.requires:
            needed = [settle(r) for r in item.requires if r in by_id]
            score = _required(item, score, needed)
        settled[iid] = score
        return score

    return tuple(settle(s.id) for s in scores)


def _fraction(score: ItemScore) -> float:
    if score.max_score > 0:
        return max(0.0, min(1.0, score.score / score.max_score))
    return 1.0 if score.status is Status.PASSED else 0.0


def _required(item: Item, score: ItemScore, needed: list[ItemScore]) -> ItemScore:
    short = [n for n in needed if n.status is not Status.PASSED or _fraction(n) < 1.0]
    if not short:
        return score
    names = " and ".join(n.id for n in short)
    states = ", ".join(f"{n.id}: {n.status.value}, {n.score:.4g} / {n.max_score:g}" for n in short)
    if item.requires_policy == "scale":
        factor = min(_fraction(n) for n in needed)
        new = round(score.score * factor, 6)
        # "failed" beside a clean ban read as "you built the matrix": say the check itself passed.
        lead = ("Your code passed this item's own check; its points" if score.status is Status.PASSED
                else "This item's points")
        rule = (f"{lead} are scaled by the credit of {names} ({states}): "
                f"×{factor:.3g}, {new:g} of the {score.score:g} it earned.")
    else:
        new = 0.0
        rule = f"Not earned: this item counts only when {names} pass{'es' if len(short) == 1 else ''} ({states})."
    if new >= score.score:
        return score
    status = score.status
    if new == 0 and status is Status.PASSED:
        status = Status.SKIPPED
    elif status is Status.PASSED:
        status = Status.FAILED
    feedback = rule + ("\n" + score.feedback if score.feedback else "")
    return dataclasses.replace(score, score=new, status=status, feedback=feedback)


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
        # The item's advice is about its rule; a check stopped at its time limit says why already
        # (and a dense-matrix rule under "the guards could not run in time" reads like a verdict).
        if item.feedback and status is not Status.PASSED and any(c.status is not Status.TIMEOUT for c in failing):
            lines.append(item.feedback)
    for case in cases:
        for note in case.notes:
            if note not in lines:
                lines.append(note)
    return "\n".join(lines)
