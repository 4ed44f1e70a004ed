"""Finding students and their files, whatever the names, encodings and formats."""

from pathlib import Path

import nbformat
import pytest

from grader.rubric import load_rubric
from grader.submission import FileProblem, SubmissionError, discover, locate, prepare, read_source

ROOT = Path(__file__).resolve().parents[1]
RUBRIC = load_rubric(ROOT / "rubrics" / "hw1.toml")
P5 = next(p for p in RUBRIC.problems if p.id == "p5")
CODE = "class Convolution1d:\n    pass\n"


def test_class_folder_lists_student_folders_and_skips_hidden(tmp_path):
    for name in ("bob", "alice", ".git", "__pycache__"):
        (tmp_path / name).mkdir()
    assert [s.student for s in discover(tmp_path, RUBRIC)] == ["alice", "bob"]


def test_a_single_student_folder_is_one_submission(tmp_path):
    student = tmp_path / "carol"
    student.mkdir()
    (student / "conv1D.py").write_text(CODE)
    (student / "data").mkdir()
    assert [(s.student, s.folder) for s in discover(student, RUBRIC)] == [("carol", student)]


@pytest.mark.parametrize("make,error", [
    (lambda p: p / "missing", "no such folder"),
    (lambda p: (p / "f.txt").write_text("x") and p / "f.txt", "not a folder"),
    (lambda p: p, "no student folders found"),
])
def test_bad_paths_have_clear_messages(tmp_path, make, error):
    with pytest.raises(SubmissionError, match=error):
        discover(make(tmp_path), RUBRIC)


@pytest.mark.parametrize("name,how", [
    ("conv1D.py", "exact"), ("CONV1D.PY", "case"), ("conv1D.ipynb", "notebook"),
    ("conv1D (1).py", "similar name"), ("conv1d_final.ipynb", "similar name"), ("my_hw.py", "defines"),
])
def test_locate_by_name_then_by_content(tmp_path, name, how):
    path = tmp_path / name
    if name.endswith(".ipynb"):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(CODE)]
        nbformat.write(nb, path)
    else:
        path.write_text(CODE)
    match = locate(tmp_path, "conv1D.py", ("Convolution1d",))
    assert match is not None and match.found == path and match.how.startswith(how)


def test_exact_name_wins_over_others(tmp_path):
    (tmp_path / "conv1D (1).py").write_text(CODE)
    (tmp_path / "conv1D.py").write_text(CODE)
    assert locate(tmp_path, "conv1D.py").how == "exact"


@pytest.mark.parametrize("data", [
    "é = 1\n".encode("utf-8"), "é = 1\n".encode("utf-8-sig"), "é = 1\n".encode("cp1252"), "é = 1\n".encode("utf-16"),
])
def test_read_source_handles_common_encodings(tmp_path, data):
    path = tmp_path / "f.py"
    path.write_bytes(data)
    assert read_source(path) == "é = 1\n"


def test_prepare_writes_the_found_file_under_the_handout_name_and_never_touches_the_original(tmp_path):
    student = tmp_path / "dave"
    student.mkdir()
    original = "# résumé\n" + CODE
    (student / "Conv1D (2).py").write_bytes(original.encode("cp1252"))
    (student / "helper.py").write_bytes("# é\n".encode("cp1252"))
    before = sorted(p.name for p in student.iterdir())
    prepared = prepare(discover(student, RUBRIC)[0], P5, tmp_path / "work")
    assert (tmp_path / "work" / "conv1D.py").read_text(encoding="utf-8") == original
    assert (tmp_path / "work" / "helper.py").read_text(encoding="utf-8") == "# é\n"
    assert prepared.missing == () and prepared.matches[0].how == "similar name"
    assert sorted(p.name for p in student.iterdir()) == before


def test_a_broken_notebook_raises_a_readable_error(tmp_path):
    student = tmp_path / "erin"
    student.mkdir()
    (student / "conv1D.ipynb").write_text("{not json")
    with pytest.raises(FileProblem, match=r"Your notebook conv1D.ipynb could not be read: not a readable notebook: not valid JSON \(line 1"):
        prepare(discover(student, RUBRIC)[0], P5, tmp_path / "work")
