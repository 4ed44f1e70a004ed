"""The rubric's late policy, and the penalty it gives one submission.

``[late]`` in the rubric (validated when the rubric loads; ``docs/rubric.md``):

- ``deadline``: a TOML date-time with an offset (``2026-03-20T23:59:00+09:00``);
- ``grace``: a duration after the deadline that still counts as on time (``"15m"``);
- ``per_day``: percent of the points earned taken off per day late, each
  started day counting as a whole one (``10`` → 1 h late loses 10%, 25 h late 20%);
- ``cap``: late work scores at most this percent of the maximum (``50``);
- ``max_days``: work more than this many days late scores 0.

At least one of ``per_day``, ``cap`` or ``max_days`` is required. The penalty is
applied only where the submission time is known (Gradescope's export); a
Canvas ``LATE`` marker without a time is reported, not penalised.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

from grader.models import Adjustment, StudentReport

if TYPE_CHECKING:  # submission imports the rubric, which imports this module
    from grader.submission import Submission

_KEYS = {"deadline", "grace", "per_day", "cap", "max_days"}


@dataclass(frozen=True)
class LatePolicy:
    """A validated late policy."""

    deadline: datetime
    """The deadline (timezone-aware)."""

    grace_seconds: float = 0.0
    """Seconds after the deadline that still count as on time."""

    per_day: float | None = None
    """Percent of the earned points taken off per started day late."""

    cap: float | None = None
    """Late work scores at most this percent of the maximum."""

    max_days: int | None = None
    """Past this many days late, the score is 0."""


def parse_policy(data: Any, fail: Callable[[str], Exception], parse_duration: Callable[[Any], float]) -> LatePolicy:
    """Validates the rubric's ``[late]`` table; ``fail(reason)`` builds the rubric error to raise."""
    if not isinstance(data, dict):
        raise fail("must be a table")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise fail(f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_KEYS))}")
    deadline = data.get("deadline")
    if isinstance(deadline, str):
        try:
            deadline = datetime.fromisoformat(deadline)
        except ValueError:
            raise fail(f"deadline is not a date-time like 2026-03-20T23:59:00+09:00: {deadline!r}") from None
    if not isinstance(deadline, datetime):
        raise fail(f"deadline must be a date-time with an offset, like 2026-03-20T23:59:00+09:00, got {deadline!r}")
    if deadline.tzinfo is None:
        raise fail(f"deadline {deadline.isoformat()} has no timezone offset (write e.g. +09:00 or Z)")
    grace = 0.0
    if "grace" in data:
        try:
            grace = parse_duration(data["grace"])
        except ValueError as exc:
            raise fail(f"grace: {exc}") from None
    per_day = _percent(data.get("per_day"), "per_day", fail)
    cap = _percent(data.get("cap"), "cap", fail)
    max_days = data.get("max_days")
    if max_days is not None and (isinstance(max_days, bool) or not isinstance(max_days, int) or max_days < 0):
        raise fail(f"max_days must be a whole number >= 0, got {max_days!r}")
    if per_day is None and cap is None and max_days is None:
        raise fail("give per_day (percent per day late), cap (percent of the maximum) or max_days")
    return LatePolicy(deadline, grace, per_day, cap, max_days)


def _percent(value: Any, key: str, fail) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        raise fail(f"{key} must be a percentage between 0 and 100, got {value!r}")
    return float(value)


def days_late(policy: LatePolicy, submitted: datetime) -> int:
    """Started days past the deadline plus grace (0 when on time)."""
    seconds = (submitted - policy.deadline).total_seconds() - policy.grace_seconds
    return 0 if seconds <= 0 else math.ceil(seconds / 86400)


def penalty(policy: LatePolicy, submitted: datetime, earned: float, maximum: float) -> Adjustment | None:
    """The late penalty for ``earned`` of ``maximum`` points handed in at ``submitted`` (None when on time)."""
    days = days_late(policy, submitted)
    if days == 0:
        return None
    late_by = submitted - policy.deadline
    hours = late_by.total_seconds() / 3600
    head = f"Late penalty: submitted {hours:.1f} h after the deadline ({days} day{'s' if days > 1 else ''} late)"
    if policy.max_days is not None and days > policy.max_days:
        return Adjustment(f"{head}: more than {policy.max_days} day(s) late scores 0", -round(earned, 6))
    kept, rules = earned, []
    if policy.per_day is not None:
        kept = earned * max(0.0, 1 - policy.per_day * days / 100)
        rules.append(f"{policy.per_day:g}% of the points earned per day")
    if policy.cap is not None:
        ceiling = maximum * policy.cap / 100
        if kept > ceiling:
            kept = ceiling
        rules.append(f"late work scores at most {policy.cap:g}% of {maximum:g}")
    points = round(kept - earned, 6)
    return Adjustment(f"{head}: {'; '.join(rules)}", points)


def apply(report: StudentReport, submission: Submission, policy: LatePolicy | None) -> StudentReport:
    """The report with its late penalty as an adjustment line, where the submission time is known."""
    if policy is None:
        return report
    if submission.submitted_at is None:
        if not submission.late:
            return report
        note = "The export gives no submission time, so the late policy was not applied; the TA decides."
        return dataclasses.replace(report, warnings=report.warnings + (note,))
    adjustment = penalty(policy, submission.submitted_at, report.score, report.max_score)
    if adjustment is None:
        return report
    return dataclasses.replace(report, adjustments=report.adjustments + (adjustment,))
