"""A new assignment needs only a rubric and a suite: nothing in grader/ changes.

Also checks that a broken check is flagged for the TA instead of silently
costing students points.
"""

import json
from pathlib import Path

from grader import grade
from grader.context import Context
from grader.rubric import load_rubric

SUITE = '''
import numpy as np
import pytest


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_softmax_sums_to_one(student, n):
    mod = student.module(required=["softmax"])
    got = mod.softmax(np.arange(float(n)))
    assert abs(got.sum() - 1) < 1e-9, f"softmax of {n} values sums to {got.sum():.6g}, not 1"


def test_softmax_is_stable(student, note):
    mod = student.module(required=["softmax"])
    got = mod.softmax(np.array([1000.0, 1000.0]))
    note("checked with inputs of size 1000")
    assert np.allclose(got, [0.5, 0.5]), f"softmax([1000, 1000]) = {got}: subtract the max before exp"


def test_broken_check(student):
    return {}["the suite author made a mistake"]
'''

RUBRIC = '''
[assignment]
id = "hw2"

[[problems]]
id = "q1"
files = ["softmax.py"]
suite = "hw2/test_q1.py"
timeout = "20s"

  [[problems.items]]
  id = "q1-sum"
  test = "test_softmax_sums_to_one"
  points = 2

  [[problems.items]]
  id = "q1-stable"
  test = "test_softmax_is_stable"
  points = 1

  [[problems.items]]
  id = "q1-broken"
  test = "test_broken_check"
  points = 1
'''

NAIVE = "import numpy as np\ndef softmax(z):\n    e = np.exp(z)\n    return e / e.sum()\n"
STABLE = "import numpy as np\ndef softmax(z):\n    e = np.exp(z - z.max())\n    return e / e.sum()\n"


def test_a_second_assignment_grades_with_only_content_files(tmp_path):
    (tmp_path / "rubrics" / "hw2").mkdir(parents=True)
    (tmp_path / "rubrics" / "hw2" / "test_q1.py").write_text(SUITE)
    (tmp_path / "rubrics" / "hw2.toml").write_text(RUBRIC)
    for student, code in (("naive", NAIVE), ("stable", STABLE)):
        (tmp_path / "class" / student).mkdir(parents=True)
        (tmp_path / "class" / student / "softmax.py").write_text(code)
    rubric = load_rubric(tmp_path / "rubrics" / "hw2.toml")
    out = tmp_path / "reports"
    reports = grade.main(path=tmp_path / "class", rubric=rubric, out=out, jobs=1, ctx=Context())
    by_student = {r.student: r for r in reports}

    stable = {i.id: i for i in by_student["stable"].problems[0].items}
    naive = {i.id: i for i in by_student["naive"].problems[0].items}
    assert (stable["q1-sum"].score, stable["q1-stable"].score) == (2.0, 1.0)
    assert naive["q1-sum"].score == 2.0 and naive["q1-stable"].score == 0.0
    assert "subtract the max before exp" in naive["q1-stable"].feedback
    assert "checked with inputs of size 1000" in stable["q1-stable"].feedback

    # A bug in the suite is an error that the TA sees, never a silent zero.
    for report in reports:
        broken = {i.id: i for i in report.problems[0].items}["q1-broken"]
        assert broken.status.value == "error" and "KeyError" in broken.feedback
        assert any("test_broken_check failed unexpectedly" in f for f in report.flags)
    gradebook = (out / "gradebook.csv").read_text()
    assert "test_broken_check failed unexpectedly" in gradebook
    assert json.loads((out / "naive" / "report.json").read_text())["assignment"] == "hw2"
