"""Telling a judge that student code killed apart from a judge that failed on its own.

The judge runs the suite beside the student's child. Inside the full
sandbox the child cannot reach it (other PID namespace, other uid); where a
layer is missing, student code can find and signal it (``os.kill(os.getppid(),
SIGKILL)``, ``os.killpg`` of its parent's group). A judge that the runner did
not stop, and that died by a signal, was killed from outside; the only
process with a reason to is the submission. That is reported as the
student's doing, with a flag for the TA, never as "not your code's fault".
A judge that exited with a status (a Python traceback) is the grader's bug.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

#: The review flag the TA sees on the problem.
FLAG = "judge-killed: the grading process was killed by a signal while this submission ran (check for os.kill/killpg)"


@dataclass(frozen=True)
class JudgeDeath:
    """How a judge that returned no result ended."""

    student_caused: bool
    """True when the judge was killed by a signal the runner did not send."""

    message: str
    """Feedback for every autograded item of the problem."""

    flags: tuple[str, ...] = ()
    """Review flags for the TA."""


def classify(returncode: int | None, stopped_by_runner: bool, log: str) -> JudgeDeath:
    """Describes a judge failure.

    Args:
        returncode: the judge's ``Popen.returncode`` (negative: killed by that signal).
        stopped_by_runner: the runner killed it (deadline passed).
        log: where the judge's log was kept, for the TA.
    """
    if returncode is not None and returncode < 0 and not stopped_by_runner:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return JudgeDeath(
            True,
            f"Your code stopped the grading of this problem: the grader's process was killed by {name} "
            "while your code ran (a submission must not signal or kill other processes). "
            f"No points for this problem; flagged for the TA. (log {log})",
            (FLAG,),
        )
    return JudgeDeath(
        False,
        "Internal grader error: this problem could not be checked (not your code's fault); "
        f"the TA will look at it. (judge exit {returncode}, log {log})",
    )
