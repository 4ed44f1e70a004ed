"""The result cache: reused only when nothing that decides a result changed; corrupt entries are never trusted."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from grader import grade
from grader.cache import ResultCache
from grader.context import Context
from grader.models import ManualScore
from grader.rubric import load_rubric

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "rubrics" / "hw1" / "test_p5.py"


def _rubric(folder: Path, forward_points: int = 4, reference: Path | None = None) -> Path:
    """Two autograded problems on the same suite, and a manual one."""
    ref = f'reference = "{reference}"\n' if reference else ""
    text = f"""
[assignment]
id = "cachetest"
{ref}
[[problems]]
id = "pa"
files = ["conv1D.py"]
suite = "{SUITE}"
timeout = "60s"
  [[problems.items]]
  id = "pa-forward"
  test = "test_forward_matches_dense"
  points = {forward_points}

[[problems]]
id = "pb"
files = ["conv1D.py"]
suite = "{SUITE}"
timeout = "60s"
  [[problems.items]]
  id = "pb-shapes"
  test = "test_output_shapes"
  points = 1

[[problems]]
id = "pm"
  [[problems.items]]
  id = "pm-proof"
  kind = "manual"
  points = 5
"""
    path = folder / "cache.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _class(tmp_path: Path) -> Path:
    students = tmp_path / "class"
    for name in ("full_marks", "conv_offbyone"):
        shutil.copytree(ROOT / "submissions" / name, students / name)
    return students


def _counting(monkeypatch, calls: list[tuple[str, str]]) -> None:
    real = grade.grade_problem

    def counting(submission, problem, *args, **kwargs):
        calls.append((submission.student, problem.id))
        return real(submission, problem, *args, **kwargs)

    monkeypatch.setattr(grade, "grade_problem", counting)


@pytest.fixture
def counted(monkeypatch):
    """Counts the (student, problem) pairs that were really graded."""
    calls: list[tuple[str, str]] = []
    _counting(monkeypatch, calls)
    return calls


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """The class graded once with a fresh cache: (folder of class/, cache.toml and reports/, what was graded, reports).

    Each test works on its own copy of the folder (:func:`graded_copy`), so the first run's
    grading is shared rather than repeated; keys hold no absolute student path, so a copy hits.
    """
    base = tmp_path_factory.mktemp("cache-first-run")
    calls: list[tuple[str, str]] = []
    with pytest.MonkeyPatch.context() as mp:
        _counting(mp, calls)
        reports, _ = _run(_class(base), _rubric(base), base / "reports")
    return base, calls, reports


@pytest.fixture
def graded_copy(first_run, tmp_path):
    """A copy of the first run's folder: (class, rubric, reports)."""
    base = first_run[0]
    shutil.copytree(base, tmp_path, dirs_exist_ok=True)
    return tmp_path / "class", tmp_path / "cache.toml", tmp_path / "reports"


def _run(students, rubric_path, out, cache=True):
    err = io.StringIO()
    ctx = Context(stdout=io.StringIO(), stderr=err)
    # One job: these tests are about what is reused, and each run that grades starts its own
    # judge workers (each with its zygote): a second one costs more than the jobs it would run.
    # Results written by parallel jobs are reused in tests/test_browser.py (the class run's cache).
    reports = grade.main(path=students, rubric=load_rubric(rubric_path), out=out, jobs=1, ctx=ctx, cache=cache)
    return reports, err.getvalue()


def _report(out: Path, student: str) -> dict:
    return json.loads((out / student / "report.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_regrade_reuses_results_and_a_changed_item_regrades_only_its_problem(first_run, graded_copy, tmp_path, counted):
    assert sorted(first_run[1]) == sorted((s, p) for s in ("conv_offbyone", "full_marks") for p in ("pa", "pb", "pm"))
    students, rubric, out = graded_copy
    before = {s: _report(out, s) for s in ("full_marks", "conv_offbyone")}

    again, err = _run(students, rubric, out)
    assert counted == [] and err == ""
    assert again == first_run[2] and {s: _report(out, s) for s in before} == before

    _rubric(tmp_path, forward_points=5)  # one item of problem pa changes
    counted.clear()
    changed, _ = _run(students, rubric, out)
    assert sorted(counted) == [("conv_offbyone", "pa"), ("full_marks", "pa")]
    assert {p.id: p.max_score for p in changed[1].problems}["pa"] == 5

    (students / "full_marks" / "conv1D.py").write_text(
        (students / "full_marks" / "conv1D.py").read_text() + "\n# edited\n"
    )
    counted.clear()
    _run(students, rubric, out)
    assert sorted(counted) == [("full_marks", "pa"), ("full_marks", "pb"), ("full_marks", "pm")]

    counted.clear()
    _run(students, rubric, out, cache=False)
    assert len(counted) == 6


@pytest.mark.slow
def test_a_corrupt_entry_is_ignored_with_a_warning(graded_copy, counted):
    import hashlib

    from grader.cache import _canonical

    students, rubric, out = graded_copy
    honest = {s: _report(out, s) for s in ("conv_offbyone", "full_marks")}
    entries = {
        "garbage": out / ".cache" / "conv_offbyone" / "pa.json",
        "forged_score": out / ".cache" / "conv_offbyone" / "pb.json",
        "malformed_result": out / ".cache" / "full_marks" / "pa.json",
    }
    data = json.loads(entries["forged_score"].read_text())
    data["result"]["items"][0]["score"] += 1  # a better score written in, digest left as it was
    entries["forged_score"].write_text(json.dumps(data))
    entries["garbage"].write_bytes(b"\x00{not json")
    data = json.loads(entries["malformed_result"].read_text())
    data["result"]["items"][0]["status"] = "splendid"
    # Even with a digest that matches, a result that does not decode is not used.
    data["digest"] = hashlib.sha256(_canonical(data["result"]).encode()).hexdigest()
    entries["malformed_result"].write_text(json.dumps(data))

    counted.clear()
    _, err = _run(students, rubric, out)
    assert sorted(counted) == [("conv_offbyone", "pa"), ("conv_offbyone", "pb"), ("full_marks", "pa")]
    for entry in entries.values():
        assert f"ignoring corrupt cache entry {entry}" in err
    assert {s: _report(out, s) for s in honest} == honest
    # The regrade replaced the entries: the next run trusts them again, silently.
    counted.clear()
    _, err = _run(students, rubric, out)
    assert counted == [] and err == ""


def test_key_covers_student_files_problem_part_suites_reference_and_manual_scores(tmp_path):
    ref = tmp_path / "ref"
    ref.mkdir()
    (ref / "conv1D.py").write_text("# reference\n")
    suites = tmp_path / "suites"
    shutil.copytree(SUITE.parent, suites)
    student = tmp_path / "alice"
    student.mkdir()
    (student / "conv1D.py").write_text("x = 1\n")

    def keys(points=4):
        path = _rubric(tmp_path, forward_points=points, reference=ref)
        text = path.read_text().replace(str(SUITE), str(suites / "test_p5.py"))
        path.write_text(text)
        rubric = load_rubric(path)
        cache = ResultCache(tmp_path / "c", rubric, lambda text: None)
        return {p.id: cache.key(student, p, None) for p in rubric.problems}, cache, rubric

    base, cache, rubric = keys()
    assert len(set(base.values())) == 3  # every problem has its own key

    changed, _, _ = keys(points=3)
    assert changed["pa"] != base["pa"] and changed["pb"] == base["pb"] and changed["pm"] == base["pm"]

    (student / "notes.md").write_text("my answer\n")
    edited, _, _ = keys()
    assert all(edited[p] != base[p] for p in base)
    (student / "notes.md").unlink()
    assert keys()[0] == base

    (suites / "dense_ban.py").write_text((suites / "dense_ban.py").read_text() + "\n# changed helper\n")
    helper, _, _ = keys()
    assert helper["pa"] != base["pa"] and helper["pb"] != base["pb"] and helper["pm"] == base["pm"]

    (ref / "conv1D.py").write_text("# reference, fixed\n")
    after_ref, cache, rubric = keys()
    assert all(after_ref[p] != helper[p] for p in base)

    pm = rubric.problems[2]
    graded = cache.key(student, pm, {"pm-proof": ManualScore(points=4.0)})
    assert graded != after_ref["pm"]
    assert cache.key(student, pm, {"pm-proof": ManualScore(points=5.0)}) != graded
    # --prefer can change which file is graded, so it is part of the key too.
    assert cache.key(student, pm, None, "largest") != cache.key(student, pm, None) == cache.key(student, pm, None, None)
