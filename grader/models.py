"""Typed results: what a check observed, what an item scored, what a student got."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

#: Version of report.json; bump on any incompatible change (docs/report-schema.md).
SCHEMA_VERSION = 1


class Status(str, Enum):
    """The status of an item (and of each test case behind it)."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    TIMEOUT = "timeout"
    SKIPPED = "skipped"
    PENDING = "pending"


@dataclass(frozen=True)
class Outcome:
    """One test case's result, as the judge reported it."""

    test: str
    """The test function's name (what a rubric item names)."""

    case: str
    """The parametrization id, or "" for an unparametrized test."""

    status: Status
    """passed, failed, error, timeout or skipped."""

    credit: float
    """Fraction of the case earned, in [0, 1]."""

    message: str = ""
    """Why it did not pass (assertion message or the student's error)."""

    notes: tuple[str, ...] = ()
    """Feedback the test added whatever its outcome."""

    flags: tuple[str, ...] = ()
    """Reasons the test asked for a TA's review."""


@dataclass(frozen=True)
class ManualScore:
    """A TA's score for one manual item of one student."""

    points: float
    """Points awarded."""

    comment: str = ""
    """The TA's comment."""

    deductions: tuple[str, ...] = ()
    """Codes of the rubric's preset deductions applied."""


@dataclass(frozen=True)
class WrittenAnswer:
    """A written answer found in a submission, shown to the TA who grades it by hand."""

    file: str
    """The file's path inside the student's folder."""

    kind: str
    """``pdf``, ``notebook``, ``markdown``, ``latex`` or ``text``."""

    pages: int | None = None
    """Page count, for a PDF (None when it cannot be counted)."""

    text: str = ""
    """The answer's text (markdown cells, .md/.tex source), cut at a bound."""

    truncated: bool = False
    """Whether ``text`` was cut."""

    note: str = ""
    """What went wrong reading it, if anything (unreadable notebook, damaged PDF)."""


@dataclass(frozen=True)
class ItemScore:
    """One rubric item's result for one student."""

    id: str
    """The item's id."""

    description: str
    """What the item checks."""

    score: float
    """Points earned."""

    max_score: float
    """Points available."""

    status: Status
    """The item's overall status."""

    feedback: str
    """What the student reads: what was observed, where, and the rule."""

    visibility: str
    """public or hidden."""


@dataclass(frozen=True)
class ProblemResult:
    """One problem's items for one student."""

    id: str
    """The problem id (p1 … p5)."""

    title: str
    """The problem's title."""

    items: tuple[ItemScore, ...]
    """The item scores, in rubric order."""

    files: tuple[str, ...] = ()
    """Which of the student's files were graded, e.g. 'conv1D (1).ipynb → conv1D.py'."""

    notes: tuple[str, ...] = ()
    """Problem-level notes: load mode, captured output, time used."""

    flags: tuple[str, ...] = ()
    """Reasons a TA should review this problem by hand."""

    answers: tuple[WrittenAnswer, ...] = ()
    """The student's written answers for a manually graded problem (rubric ``answers``)."""

    @property
    def score(self) -> float:
        """Points earned on the problem."""
        return round(sum(i.score for i in self.items), 6)

    @property
    def max_score(self) -> float:
        """Points available on the problem."""
        return round(sum(i.max_score for i in self.items), 6)


@dataclass(frozen=True)
class StudentReport:
    """Everything one student gets back."""

    student: str
    """The student's id (folder name)."""

    assignment: str
    """The rubric's assignment id."""

    problems: tuple[ProblemResult, ...]
    """Per-problem results, in rubric order."""

    warnings: tuple[str, ...] = field(default=())
    """Submission-level notes (unexpected files, encodings fixed)."""

    sandbox: tuple[str, ...] = field(default=())
    """Isolation layers that confined this student's code (``rlimits`` always; see ``grade --sandbox-info``)."""

    @property
    def score(self) -> float:
        """Total points earned."""
        return round(sum(p.score for p in self.problems), 6)

    @property
    def max_score(self) -> float:
        """Total points available."""
        return round(sum(p.max_score for p in self.problems), 6)

    @property
    def flags(self) -> tuple[str, ...]:
        """All review flags, prefixed with their problem id."""
        return tuple(f"{p.id}: {f}" for p in self.problems for f in p.flags)

    @property
    def pending_points(self) -> float:
        """Points of items not yet scored (manual items awaiting a TA)."""
        return round(
            sum(i.max_score for p in self.problems for i in p.items if i.status is Status.PENDING), 6
        )
