"""``grade verify``: reference checks pass, the reference earns full marks, the starter earns 0."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import verify
from grader.cli import main as cli
from grader.context import Context
from grader.exitcodes import ExitCode
from grader.rubric import RubricError, load_rubric

ROOT = Path(__file__).resolve().parents[1]
RUBRIC = ROOT / "rubrics" / "hw1.toml"
SUITE = ROOT / "rubrics" / "hw1" / "test_p5.py"


@pytest.mark.slow
def test_verify_passes_on_the_hw1_rubric():
    rubric = load_rubric(RUBRIC)
    out = io.StringIO()
    # One job: verify's rows are tested, not its parallelism, and a second judge worker (with its
    # zygote) costs more CPU than the two jobs it would take over.
    code = verify.main(rubric=rubric, ctx=Context(stdout=out, stderr=out), jobs=1)
    text = out.getvalue()
    assert code == ExitCode.OK, text
    assert "verify passed" in text and "FAIL" not in text
    # Every kind of row is there: each SymPy check, every autograded item twice, each written answer.
    from reference.hw1.sympy_checks import CHECKS

    for check in CHECKS:
        assert f"check      {check.__name__[:2]}" in text and check.__name__ in text
    for problem in rubric.problems:
        for item in problem.items:
            if item.kind == "test":
                assert f"reference  {problem.id:<7}  {item.id}" in text
                assert f"starter    {problem.id:<7}  {item.id}" in text
        if problem.answers:
            assert f"reference  {problem.id:<7}  written-answer" in text


def broken_rubric(tmp_path: Path, checks: str) -> Path:
    """A rubric whose reference is the starter and whose starter is the reference, with a failing check."""
    reference, starter = tmp_path / "ref", tmp_path / "start"
    reference.mkdir()
    starter.mkdir()
    shutil.copyfile(ROOT / "reference" / "hw1" / "starter" / "conv1D.py", reference / "conv1D.py")
    shutil.copyfile(ROOT / "reference" / "hw1" / "conv1D.py", starter / "conv1D.py")
    (tmp_path / "checks.py").write_text(checks, encoding="utf-8")
    (tmp_path / "raises.py").write_text("def run_all():\n    return 1 / 0\n", encoding="utf-8")
    path = tmp_path / "hw.toml"
    path.write_text(
        f"""
[assignment]
id = "hwx"
reference = "ref"
starter = "start"
checks = ["checks.py", "raises.py"]

[[problems]]
id = "w1"
answers = ["*.md"]
  [[problems.items]]
  id = "w1"
  kind = "manual"
  points = 5

[[problems]]
id = "c1"
files = ["conv1D.py"]
suite = "{SUITE.as_posix()}"
timeout = "20s"
  [[problems.items]]
  id = "c1-forward"
  test = "test_forward_matches_dense"
  points = 4
""",
        encoding="utf-8",
    )
    return path


CHECKS_MODULE = '''
from dataclasses import dataclass

@dataclass(frozen=True)
class Result:
    problem: str
    name: str
    passed: bool
    detail: str

def run_all():
    return [Result("w1", "identity_holds", True, "1 = 1"), Result("w1", "claim_is_wrong", False, "2 != 3")]
'''


@pytest.mark.slow
def test_verify_fails_on_every_kind_of_broken_reference(tmp_path):
    rubric = load_rubric(broken_rubric(tmp_path, CHECKS_MODULE))
    out = io.StringIO()
    code = verify.main(rubric=rubric, ctx=Context(stdout=out, stderr=out), jobs=1)  # as above
    text = out.getvalue()
    assert code == ExitCode.CHECK_FAILED, text
    lines = {" ".join(line.split()[:4]) for line in text.splitlines()}
    assert "check w1 identity_holds ok" in lines
    assert "check w1 claim_is_wrong FAIL" in lines
    assert "check - raises.py FAIL" in lines and "ZeroDivisionError" in text and "raises.py:2" in text
    assert "reference c1 c1-forward FAIL" in lines  # the starter's conv1D is not a reference
    assert "reference w1 written-answer FAIL" in lines  # no *.md in the reference folder
    assert "starter c1 c1-forward FAIL" in lines  # a working starter would give points for nothing
    assert "verify FAILED: 5 of 6 row(s) failed." in text


def test_cli_verify_exit_code_when_a_check_fails(tmp_path):
    # Only the checks fail here: the rubric has no autograded problems, so this is fast.
    (tmp_path / "ref").mkdir()
    (tmp_path / "ref" / "w1.md").write_text("proof", encoding="utf-8")
    (tmp_path / "checks.py").write_text(CHECKS_MODULE, encoding="utf-8")
    path = tmp_path / "hw.toml"
    path.write_text(
        '[assignment]\nid = "hwx"\nreference = "ref"\nchecks = ["checks.py"]\n'
        '[[problems]]\nid = "w1"\nanswers = ["*.md"]\n'
        '  [[problems.items]]\n  id = "w1"\n  kind = "manual"\n  points = 5\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["verify", "--rubric", str(path)])
    assert result.exit_code == ExitCode.CHECK_FAILED, result.output
    assert "claim_is_wrong" in result.output and "reference  w1       written-answer  ok" in result.output

    (tmp_path / "checks.py").write_text(CHECKS_MODULE.replace('False, "2 != 3"', 'True, "3 = 3"'), encoding="utf-8")
    result = CliRunner().invoke(cli, ["verify", "--rubric", str(path)])
    assert result.exit_code == ExitCode.OK, result.output


def test_check_module_without_run_all_fails(tmp_path):
    (tmp_path / "ref").mkdir()
    (tmp_path / "checks.py").write_text("X = 1\n", encoding="utf-8")
    path = tmp_path / "hw.toml"
    path.write_text(
        '[assignment]\nid = "hwx"\nreference = "ref"\nchecks = ["checks.py"]\n'
        '[[problems]]\nid = "w1"\n  [[problems.items]]\n  id = "w1"\n  kind = "manual"\n  points = 5\n',
        encoding="utf-8",
    )
    [row] = verify.run_checks(load_rubric(path))
    assert not row.ok and "defines no run_all()" in row.detail


def test_rubric_rejects_a_missing_check_module(tmp_path):
    path = tmp_path / "hw.toml"
    path.write_text(
        '[assignment]\nid = "hwx"\nchecks = ["nope.py"]\n'
        '[[problems]]\nid = "w1"\n  [[problems.items]]\n  id = "w1"\n  kind = "manual"\n  points = 5\n',
        encoding="utf-8",
    )
    with pytest.raises(RubricError, match=r"\[assignment\] checks: not a Python file: .*nope.py"):
        load_rubric(path)
