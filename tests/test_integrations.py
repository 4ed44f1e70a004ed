"""grade check, grade ci, grade export gradescope / student-kit.

Most tests use a tiny assignment (one softmax problem with a hidden check) so
they take seconds; the hidden-leak test of ``grade check`` grades one real HW1
student once (module-scoped).
"""

import io
import json
import os
import stat
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from grader import check, ci, export, public
from grader.context import Context
from grader.exitcodes import ExitCode
from grader.rubric import RubricError, load_rubric
from grader.toml_out import dumps

ROOT = Path(__file__).resolve().parents[1]
HW1 = ROOT / "rubrics" / "hw1.toml"

SUITE = '''
import numpy as np


def helper(z):
    return np.asarray(z, dtype=float)


def test_sums_to_one(student):
    mod = student.module(required=["softmax"])
    got = mod.softmax(helper([1.0, 2.0, 3.0]))
    assert abs(got.sum() - 1) < 1e-9, f"softmax sums to {got.sum():.6g}, not 1"


@np.errstate(all="ignore")
def test_secret_overflow_probe(student):
    mod = student.module(required=["softmax"])
    got = mod.softmax(helper([1000.0, 1000.0]))
    assert np.allclose(got, [0.5, 0.5]), "SECRET-FEEDBACK-overflow at 1000"


def test_is_positive(student):
    mod = student.module(required=["softmax"])
    assert (mod.softmax(helper([0.0, -50.0])) > 0).all(), "softmax must be positive"
'''

RUBRIC = '''
[assignment]
id = "mini"
title = "Mini assignment"

[[problems]]
id = "q1"
title = "Softmax"
files = ["softmax.py"]
suite = "mini/test_q1.py"
timeout = "20s"

  [[problems.items]]
  id = "q1-sum"
  description = "sums to one"
  test = "test_sums_to_one"
  points = 2

  [[problems.items]]
  id = "q1-secret-stability"
  description = "SECRET-DESCRIPTION stable for large inputs"
  test = "test_secret_overflow_probe"
  points = 3
  visibility = "hidden"
  feedback = "SECRET-RUBRIC-FEEDBACK"

  [[problems.items]]
  id = "q1-positive"
  description = "all outputs positive"
  test = "test_is_positive"
  points = 1

[[problems]]
id = "q2"
title = "Proof"

  [[problems.items]]
  id = "q2-proof"
  kind = "manual"
  description = "a proof"
  points = 4
'''

NAIVE = "import numpy as np\ndef softmax(z):\n    e = np.exp(z)\n    return e / e.sum()\n"

#: Strings only the hidden item and its test contain.
SECRETS = ("q1-secret-stability", "test_secret_overflow_probe", "SECRET-", "1000.0, 1000.0")


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    root = tmp_path_factory.mktemp("mini")
    (root / "rubrics" / "mini").mkdir(parents=True)
    (root / "rubrics" / "mini" / "test_q1.py").write_text(SUITE)
    (root / "rubrics" / "mini.toml").write_text(RUBRIC)
    (root / "naive").mkdir()
    (root / "naive" / "softmax.py").write_text(NAIVE)
    return root


def all_text(folder: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in sorted(folder.rglob("*")) if p.is_file())


# -- public rubric -------------------------------------------------------------

def test_public_rubric_drops_hidden_items_and_counts_them(mini):
    rubric = load_rubric(mini / "rubrics" / "mini.toml")
    shown = public.public_rubric(rubric)
    assert [i.id for p in shown.problems for i in p.items] == ["q1-sum", "q1-positive", "q2-proof"]
    assert public.hidden_points(rubric) == 3 and public.hidden_count(rubric) == 1
    assert public.hidden_test_names(rubric) == {"test_secret_overflow_probe"}
    assert public.not_counted_sentence(rubric).startswith("Hidden checks (1, worth 3 points) are not run here")


def test_toml_writer_round_trips_the_real_rubric():
    data = tomllib.loads(HW1.read_text(encoding="utf-8"))
    assert tomllib.loads(dumps(data)) == data
    odd = {"a": {"k y": ["x\"\n\x7f", 1.5, True, {"i": 1}], "t": [{"u": 1}, {"u": 2}]}, "z": float("inf")}
    assert tomllib.loads(dumps(odd)) == odd


# -- grade check -----------------------------------------------------------------

@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """One real HW1 student self-checked (its P5 has a hidden item)."""
    out = tmp_path_factory.mktemp("check")
    stdout = io.StringIO()
    code = check.main(rubric=load_rubric(HW1), path=ROOT / "submissions" / "dense_circulant", out=out / "reports",
                      jobs=1, ctx=Context(stdout=stdout, stderr=stdout))
    return code, stdout.getvalue(), out / "reports"


def test_check_leaks_no_hidden_item_in_output_or_files(checked):
    code, text, out = checked
    rubric = load_rubric(HW1)
    hidden = [i for p in rubric.problems for i in p.items if i.visibility == "hidden"]
    assert hidden, "hw1 has a hidden item: this test needs one"
    written = all_text(out)
    assert json.loads((out / "dense_circulant" / "report.json").read_text())["student"] == "dense_circulant"
    for item in hidden:
        for secret in (item.id, item.test, item.description):
            assert secret not in text and secret not in written, secret
    assert code is ExitCode.OK


def test_check_says_what_is_hidden_and_shows_feedback(checked):
    _, text, out = checked
    assert "Hidden checks (1, worth 1 point) are not run here and not counted" in text
    assert "Public score: 11 / 34" in text
    assert "[not yet] p5-no-dense" in text and "conv1D.py:23" in text
    assert "\x1b[" not in text  # no colour when not on a terminal
    assert str(out / "dense_circulant" / "report.html") in text


# -- grade ci ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def ci_run(mini, tmp_path_factory):
    out = tmp_path_factory.mktemp("ci")
    summary = out / "step-summary.md"
    summary.write_text("earlier step\n")
    stdout = io.StringIO()
    code = ci.main(rubric=load_rubric(mini / "rubrics" / "mini.toml"), path=mini / "naive", out=out / "r", jobs=2,
                   ctx=Context(stdout=stdout, stderr=stdout), min_score="50%",
                   env={"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(out / "gh-out")})
    return code, stdout.getvalue(), out


def test_ci_prints_and_appends_the_markdown_summary(ci_run):
    code, text, out = ci_run
    assert "## mini: 3 / 3 points (autograded)" in text
    assert "| q1 | q1-sum: sums to one | 2 / 2 | ✅ passed |" in text
    assert "✅ at or above the required 1.5 points." in text
    step = (out / "step-summary.md").read_text()
    assert step.startswith("earlier step\n## mini: 3 / 3")
    assert (out / "gh-out").read_text() == "score=3\nmax_score=3\n"
    assert code is ExitCode.OK


def test_ci_writes_junit_and_json_without_hidden_items(ci_run):
    _, text, out = ci_run
    root = ET.parse(out / "r" / "junit.xml").getroot()
    assert root.tag == "testsuites" and root.get("tests") == "2" and root.get("failures") == "0"
    assert [c.get("name") for c in root.iter("testcase")] == ["q1-sum", "q1-positive"]
    data = json.loads((out / "r" / "ci.json").read_text())
    assert (data["score"], data["max_score"], data["min_score"], data["passed"]) == (3.0, 3.0, 1.5, True)
    assert data["hidden_points_not_counted"] == 3.0
    for secret in SECRETS:
        assert secret not in text and secret not in all_text(out)


def test_ci_exits_4_below_min_score_and_reports_failures_in_junit(mini, tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "softmax.py").write_text("def softmax(z):\n    return z\n")
    stdout = io.StringIO()
    code = ci.main(rubric=load_rubric(mini / "rubrics" / "mini.toml"), path=tmp_path / "broken", out=tmp_path / "r",
                   jobs=1, ctx=Context(stdout=stdout, stderr=stdout), min_score="2", env={})
    assert code is ExitCode.BELOW_MIN_SCORE == 4
    assert "❌ below the required 2 points." in stdout.getvalue()
    failures = list(ET.parse(tmp_path / "r" / "junit.xml").getroot().iter("failure"))
    assert failures and "sums to" in failures[0].get("message")


def test_min_score_parsing():
    assert ci.parse_min_score("40") == (40.0, False) and ci.parse_min_score(" 62.5% ") == (62.5, True)
    assert ci.parse_min_score(None) is None
    with pytest.raises(Exception, match="--min-score"):
        ci.parse_min_score("lots")
    with pytest.raises(Exception, match="above 100% can never be reached"):
        ci.parse_min_score("101%")


def test_junit_replaces_characters_xml_cannot_carry():
    from grader.models import ItemScore, ProblemResult, Status, StudentReport

    item = ItemScore("a", "d", 0, 1, Status.FAILED, "bad \x00 byte \x1b[31m", "public")
    xml = ci.junit_xml(StudentReport("s", "hw", (ProblemResult("p", "t", (item,)),)))
    assert ET.fromstring(xml).find(".//failure").text == "bad \ufffd byte \ufffd[31m"


# -- grade export -------------------------------------------------------------------

def test_gradescope_autograder_runs_against_a_fake_autograder_tree(mini, tmp_path):
    zip_path = tmp_path / "autograder.zip"
    export.main(rubric=load_rubric(mini / "rubrics" / "mini.toml"), kind="gradescope", out=zip_path,
                ctx=Context(stdout=io.StringIO()))
    root = tmp_path / "autograder"
    with zipfile.ZipFile(zip_path) as archive:
        names = set(archive.namelist())
        archive.extractall(root / "source")
    assert {"setup.sh", "run_autograder", "requirements.txt", "rubrics/mini.toml", "rubrics/mini/test_q1.py",
            "grader/cli.py", "grader/reports/templates/student.html.j2"} <= names
    runner = root / "source" / "run_autograder"
    # ZipFile.extractall drops permissions; the zip itself must carry the executable bit.
    with zipfile.ZipFile(zip_path) as archive:
        assert archive.getinfo("run_autograder").external_attr >> 16 & stat.S_IXUSR
    (root / "submission").mkdir()
    (root / "submission" / "softmax.py").write_text(NAIVE)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}
    done = subprocess.run(["bash", str(runner)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    tests = {t["name"].split(":")[0]: t for t in results["tests"]}
    assert set(tests) == {"q1 q1-sum", "q1 q1-secret-stability", "q1 q1-positive"}
    assert tests["q1 q1-secret-stability"]["visibility"] in ("after_published", "hidden")
    assert tests["q1 q1-secret-stability"]["score"] == 0 and tests["q1 q1-sum"]["score"] == 2
    assert results["score"] == 3


def test_gradescope_zip_of_hw1_loads_on_its_own(tmp_path):
    zip_path = tmp_path / "hw1.zip"
    export.main(rubric=load_rubric(HW1), kind="gradescope", out=zip_path, ctx=Context(stdout=io.StringIO()))
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(tmp_path / "src")
        names = archive.namelist()
    assert not any(n.startswith("reference/") for n in names)
    rubric = load_rubric(tmp_path / "src" / "rubrics" / "hw1.toml")
    assert rubric.reference is None and [p.id for p in rubric.problems] == ["p1", "p2", "p3", "p4", "p5"]
    assert "visibility = \"hidden\"" in (tmp_path / "src" / "rubrics" / "hw1.toml").read_text()


def test_student_kit_of_hw1_has_no_hidden_test_name_or_code_and_no_reference(tmp_path):
    rubric = load_rubric(HW1)
    kit = tmp_path / "kit"
    export.main(rubric=rubric, kind="student-kit", out=kit, ctx=Context(stdout=io.StringIO()))
    text = all_text(kit)
    hidden = [i for p in rubric.problems for i in p.items if i.visibility == "hidden"]
    assert hidden
    for item in hidden:
        suite = item_suite(rubric, item)
        source = suite.read_text(encoding="utf-8")
        code = function_source(source, item.test)
        # Lines found only in the hidden test (not elsewhere in its suite or the suite's helper modules).
        elsewhere = source.replace(code, "") + all_text(suite.parent).replace(code, "")
        own = [line.strip() for line in code.splitlines()[1:] if line.strip() and line.strip() not in elsewhere]
        assert len(own) >= 3, "the hidden test has code of its own to look for"
        assert code not in text
        assert item.test not in text and item.id not in text and item.description not in text
        for line in own:
            assert line not in text, line
    assert not (kit / "reference").exists() and "reference" not in tomllib.loads((kit / "rubrics" / "hw1.toml").read_text())["assignment"]
    kit_rubric = load_rubric(kit / "rubrics" / "hw1.toml")
    assert all(i.visibility == "public" for p in kit_rubric.problems for i in p.items)
    assert {"test_forward_matches_dense", "test_no_dense_matrix"} <= {i.test for p in kit_rubric.problems for i in p.items}


def test_student_kit_runs_the_self_check(mini, tmp_path):
    kit = tmp_path / "kit"
    export.main(rubric=load_rubric(mini / "rubrics" / "mini.toml"), kind="student-kit", out=kit,
                ctx=Context(stdout=io.StringIO()))
    for secret in SECRETS:
        assert secret not in all_text(kit), secret
    done = subprocess.run([sys.executable, "-m", "grader.cli", "check", str(mini / "naive"), "--out", str(tmp_path / "r")],
                          cwd=kit, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(kit)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Public score: 3 / 3" in done.stdout and "Hidden checks" not in done.stdout  # the kit has none left
    for secret in SECRETS:
        assert secret not in done.stdout


def test_kit_refuses_to_leak_and_strip_tests_cuts_decorators():
    source = "import x\n\n@x.mark\n@x.other(1)\ndef test_hidden():\n    secret()\n\n\ndef test_ok():\n    pass\n"
    assert export.strip_tests(source, {"test_hidden"}) == "import x\n\n\n\ndef test_ok():\n    pass\n"
    with pytest.raises(RubricError, match="invalid Python"):
        export.strip_tests("class TestA:\n    def test_hidden(self):\n        pass\n", {"test_hidden"})


def test_find_leaks_names_the_file(mini, tmp_path):
    (tmp_path / "notes.txt").write_text("see test_secret_overflow_probe")
    leaks = export.find_leaks(load_rubric(mini / "rubrics" / "mini.toml"), tmp_path)
    assert leaks == ["notes.txt: test_secret_overflow_probe"]


def item_suite(rubric, item):
    return next(p.suite for p in rubric.problems if item in p.items)


def function_source(source: str, name: str) -> str:
    import ast

    tree = ast.parse(source)
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name)
    return "\n".join(source.splitlines()[node.lineno - 1:node.end_lineno])


def test_public_rubric_drops_requirements_on_hidden_items(mini):
    import dataclasses

    rubric = load_rubric(mini / "rubrics" / "mini.toml")
    if "requires" not in {f.name for f in dataclasses.fields(rubric.problems[0].items[0])}:
        pytest.skip("this rubric format has no 'requires' yet")
    items = list(rubric.problems[0].items)
    items[2] = dataclasses.replace(items[2], requires=("q1-sum", "q1-secret-stability"))
    rubric = dataclasses.replace(rubric, problems=(dataclasses.replace(rubric.problems[0], items=tuple(items)),
                                                   *rubric.problems[1:]))
    shown = public.public_rubric(rubric)
    assert shown.problems[0].items[1].requires == ("q1-sum",)


def test_check_output_is_coloured_on_a_terminal_and_quiet_keeps_the_score(mini):
    from grader.models import ItemScore, ProblemResult, Status, StudentReport

    class Tty(io.StringIO):
        def isatty(self):
            return True

    rubric = load_rubric(mini / "rubrics" / "mini.toml")
    report = StudentReport("naive", "mini", (ProblemResult("q1", "Softmax", (
        ItemScore("q1-sum", "sums to one", 0.0, 2.0, Status.FAILED, "softmax sums to 2, not 1", "public"),
        ItemScore("q1-positive", "all outputs positive", 1.0, 1.0, Status.PASSED, "", "public"),
    )),))
    tty = Tty()
    check.render(report, rubric, Context(stdout=tty))
    assert "\x1b[31m" in tty.getvalue() and "\x1b[32m" in tty.getvalue()  # red "not yet", green "passed"
    assert "softmax sums to 2, not 1" in tty.getvalue()
    quiet = io.StringIO()
    check.render(report, rubric, Context(stdout=quiet, verbosity=0))
    assert quiet.getvalue().splitlines() == [
        "Public score: 1 / 3 (public autograded checks only)",
        public.not_counted_sentence(rubric),
    ]
