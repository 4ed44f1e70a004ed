"""The public part of a rubric: what a student may see and run before grades are released.

``grade check``, ``grade ci`` and the student kit grade with
:func:`public_rubric`, so hidden items are never run, and their names,
descriptions and feedback cannot reach anything those commands print or write.
"""

from __future__ import annotations

import dataclasses

from grader.rubric import Rubric


def public_rubric(rubric: Rubric) -> Rubric:
    """``rubric`` without its hidden items (a problem left with no item is dropped).

    A public item that ``requires`` a hidden one keeps its other requirements
    only: the self-check cannot say whether the hidden one passed.
    """
    hidden = {i.id for p in rubric.problems for i in p.items if i.visibility == "hidden"}
    problems = []
    for problem in rubric.problems:
        items = tuple(_without_requires(i, hidden) for i in problem.items if i.id not in hidden)
        if items:
            problems.append(dataclasses.replace(problem, items=items))
    return dataclasses.replace(rubric, problems=tuple(problems))


def _without_requires(item, hidden: set[str]):
    requires = getattr(item, "requires", ())  # items may require others (rubric ``requires``)
    if not set(requires) & hidden:
        return item
    return dataclasses.replace(item, requires=tuple(r for r in requires if r not in hidden))


def hidden_points(rubric: Rubric) -> float:
    """Points of the hidden items (not counted by a self-check)."""
    return round(sum(i.points for p in rubric.problems for i in p.items if i.visibility == "hidden"), 6)


def hidden_count(rubric: Rubric) -> int:
    """How many hidden items the rubric has."""
    return sum(i.visibility == "hidden" for p in rubric.problems for i in p.items)


def manual_points(rubric: Rubric) -> float:
    """Points graded by a TA (manual items)."""
    return round(sum(i.points for i in rubric.manual_items), 6)


def hidden_test_names(rubric: Rubric) -> set[str]:
    """Suite test functions only hidden items use (a test a public item also names is public)."""
    hidden = {i.test for p in rubric.problems for i in p.items if i.test and i.visibility == "hidden"}
    public = {i.test for p in rubric.problems for i in p.items if i.test and i.visibility != "hidden"}
    return hidden - public


def not_counted_sentence(rubric: Rubric) -> str:
    """Says plainly what a public score leaves out, e.g. for the end of ``grade check``."""
    parts = []
    points, count = hidden_points(rubric), hidden_count(rubric)
    if count:
        parts.append(
            f"Hidden checks ({count}, worth {points:g} point{'s' if points != 1 else ''}) are not run here "
            "and not counted: your final grade can be lower (or higher) than this score."
        )
    manual = manual_points(rubric)
    if manual:
        parts.append(f"{manual:g} points (written answers) are graded by a TA and not counted here.")
    return " ".join(parts)
