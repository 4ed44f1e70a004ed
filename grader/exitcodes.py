"""Exit statuses of the ``grade`` command (documented in the README)."""

from enum import IntEnum


class ExitCode(IntEnum):
    """What ``grade`` returns to the shell or CI."""

    OK = 0
    """The batch completed (whatever the students scored), or the check passed."""

    INTERNAL = 1
    """The grader itself failed (a bug): the message says where its log is."""

    USAGE = 2
    """Bad command line, rubric, manual-scores file or submissions path; one-line reason."""

    CHECK_FAILED = 3
    """``grade verify``: a reference check failed or a reference did not get full marks."""

    BELOW_MIN_SCORE = 4
    """``grade ci --min-score``: grading completed but the score is below the threshold."""
