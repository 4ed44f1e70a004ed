"""Notebooks serving several problems, Colab leftovers, and bad files: each gets a clear message."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import numpy as np
import pytest

from grader import submission as submission_module
from grader.notebooks import NotebookError, notebook_for_problem, notebook_to_script
from grader.rubric import load_rubric
from grader.sandbox.inside import loader
from grader.submission import FileProblem, Submission, choose, decode_source, prepare

ROOT = Path(__file__).resolve().parents[1]
RUBRIC = load_rubric(ROOT / "rubrics" / "hw1.toml")
P4 = next(p for p in RUBRIC.problems if p.id == "p4")
P5 = next(p for p in RUBRIC.problems if p.id == "p5")
CODE = "class Convolution1d:\n    pass\n\n\nclass TransposedConvolution1d:\n    pass\n"


def _notebook(*cells: tuple[str, str]) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) if kind == "code" else nbformat.v4.new_markdown_cell(src)
                for kind, src in cells]
    return nbformat.writes(nb)


BOTH = _notebook(
    ("code", "import numpy as np"),
    ("code", "def f(x):\n    return x**2\n\ndef fprime(x):\n    return 2*x"),
    ("code", "x = 3.0\nfor _ in range(1000):\n    x = x - 0.1 * fprime(x)"),
    ("code", CODE),
    ("code", "A = Convolution1d()\ny = A @ np.ones(5)"),
    ("code", "print(y, x)"),
    ("code", "def helper(x):\n    return x + 1"),
    ("code", "this is not python"),
)


def test_a_script_problem_takes_every_cell_but_the_other_problems():
    script, said = notebook_for_problem(BOTH, P4.defines, {"p5": P5.defines})
    assert "# In[4]: skipped" in script and "# In[5]: skipped" in script
    assert "x = x - 0.1 * fprime(x)" in script and "def helper(x)" in script
    assert "print(y, x)" in script  # shared by both problems: kept
    assert "this is not python" in script  # unparsable: kept for the loader to report
    assert said == "these were skipped: cells 4, 5 (belonging to p5)."


def test_a_definitions_problem_leaves_out_the_other_experiment():
    script, said = notebook_for_problem(BOTH, P5.defines, {"p4": P4.defines})
    assert "class Convolution1d" in script and "A = Convolution1d()" in script
    assert "def fprime" not in script and "fprime(x)" not in script
    assert said == "these were skipped: cells 2, 3 (belonging to p4)."


def test_a_function_parameter_named_like_a_global_does_not_tie_cells_together():
    nb = _notebook(("code", "def fprime(x):\n    return 2*x"), ("code", "x = 1.0\nx = x - fprime(x)"),
                   ("code", "class Convolution1d:\n    def __matmul__(self, x):\n        return x[0]"))
    script, _ = notebook_for_problem(nb, P4.defines, {"p5": P5.defines})
    assert "# In[3]: skipped" in script


def test_a_notebook_for_one_problem_skips_nothing():
    nb = _notebook(("code", CODE), ("code", "A = Convolution1d()"))
    assert notebook_for_problem(nb, P5.defines, {"p4": P4.defines})[1] == ""
    assert notebook_to_script(nb).count("# In[") == 2


def test_one_notebook_serves_both_problems_in_prepare(tmp_path):
    student = tmp_path / "s"
    student.mkdir()
    (student / "HW1.ipynb").write_text(BOTH)
    sub = Submission("s", student)
    for problem, absent in ((P4, "class Convolution1d"), (P5, "def fprime")):
        prepared = prepare(sub, problem, tmp_path / problem.id, RUBRIC)
        assert prepared.missing == () and prepared.matches[0].found.name == "HW1.ipynb"
        text = (tmp_path / problem.id / problem.files[0]).read_text()
        assert absent not in text
        assert any("serves several problems" in n for n in prepared.notes)


def test_a_skipped_cell_keeps_its_imports_for_the_other_problem():
    # `import numpy as np` in P4's f/fprime cell, the P5 class later without an import of its own:
    # all of P5 failed with NameError: name 'np' is not defined (and the mirror case for P4).
    nb = _notebook(("code", "import numpy as np\nfrom math import exp\ndef f(x):\n    return x**2\n\ndef fprime(x):\n    return 2*x"),
                   ("code", "class Convolution1d:\n    def __matmul__(self, x):\n        return np.asarray(x)"))
    script, said = notebook_for_problem(nb, P5.defines, {"p4": P4.defines})
    assert "# In[1]: skipped by the grader (this cell belongs to p4) (its imports kept)\nimport numpy as np\nfrom math import exp\n" in script
    assert "def fprime" not in script and said == "these were skipped: cell 1 (belonging to p4)."
    compile(script, "conv1D.py", "exec")


def test_notebook_only_syntax_is_skipped_and_timed_statements_run():
    source = ("%time finals = [1, 2]\n    %timeit -n 3 -r 2 total = sum(finals)\nnp.convolve?\n??np.dot\n"
              "y = 3 if finals else 4\n%%time\n")
    stripped, changed = loader.strip_magics(source)
    assert stripped.splitlines()[:5] == ["finals = [1, 2]", "    total = sum(finals)",
                                         "pass  # grader: skipped notebook magic 'np.convolve?'",
                                         "pass  # grader: skipped notebook magic '??np.dot'", "y = 3 if finals else 4"]
    assert changed == 5


def test_notebook_widgets_and_display_work_without_a_notebook(tmp_path):
    # from tqdm.notebook import tqdm raised "IProgress not found" without ipywidgets (0 / 15), and a
    # bare display(fig), which Jupyter provides, raised NameError (9 / 15).
    from grader.sandbox.outside.remote import wrap
    from grader.sandbox.outside.session import ChildSession, Limits

    work = tmp_path / "work"
    work.mkdir()
    (work / "wideMinima.py").write_text("from tqdm.notebook import tqdm, trange\ndef run():\n    display('table')\n"
                                        "    return sum(tqdm([1, 2, 3])) + len(list(trange(2)))\n")
    with ChildSession(work, Limits(wall_seconds=20, memory_bytes=2 << 30), tmp_path / "scratch") as s:
        assert wrap(s, s.load("wideMinima.py", ["run"])["module"]).run() == 8


@pytest.mark.parametrize("text,error", [
    ("{not json", r"Your notebook conv1D.ipynb could not be read: not a readable notebook: not valid JSON \(line 1, column 2"),
    (json.dumps({"nbformat": 3, "nbformat_minor": 0, "worksheets": [], "metadata": {}}), "nbformat 3, but the grader reads nbformat 4"),
    (json.dumps([1, 2]), "JSON but not a notebook"),
])
def test_unreadable_notebooks_name_the_file(tmp_path, text, error):
    student = tmp_path / "s"
    student.mkdir()
    (student / "conv1D.ipynb").write_text(text)
    with pytest.raises(FileProblem, match=error):
        prepare(Submission("s", student), P5, tmp_path / "work")
    with pytest.raises(NotebookError):
        notebook_to_script(text)


def test_an_empty_notebook_file_is_named_as_empty(tmp_path):
    (tmp_path / "conv1D.ipynb").write_text("")
    with pytest.raises(FileProblem, match="conv1D.ipynb is empty"):
        prepare(Submission("s", tmp_path), P5, tmp_path / "work")


# -- Colab leftovers: imports of modules that are not installed ----------------

COLAB = '''\
pass  # !wget -q https://example.org/colab_pdf.py
from colab_pdf import colab_pdf
from google.colab import drive, files
import torch, numpy as np
from IPython.display import display
drive.mount("/content/drive")

class Convolution1d:
    def __init__(self, k):
        self.k = np.asarray(k)

    def __matmul__(self, x):
        return np.convolve(x, self.k[::-1], "valid")

    def uses_torch(self, x):
        return torch.tensor(x)

colab_pdf("HW1.ipynb")
'''


def test_missing_modules_bind_inert_stand_ins_with_a_note(tmp_path):
    path = tmp_path / "conv1D.py"
    path.write_text(COLAB)
    for mode in ("definitions", "full"):
        loaded = loader.load(path, "conv1D", ["Convolution1d"], tmp_path, mode=mode)
        A = loaded.module.Convolution1d([1.0, 2.0])
        assert list(A @ np.ones(4)) == [3.0, 3.0, 3.0]
        assert loaded.module.np is np  # a failed `import torch` in the same statement leaves numpy real
        notes = " ".join(loaded.notes)
        assert "No module named 'colab_pdf'" in notes and "colab_pdf is an inert stand-in" in notes
        assert "No module named 'torch'" in notes and "drive, files are inert stand-ins" in notes


def test_graded_code_that_uses_a_missing_module_fails_as_before(tmp_path):
    path = tmp_path / "conv1D.py"
    path.write_text(COLAB)
    loaded = loader.load(path, "conv1D", ["Convolution1d"], tmp_path)
    A = loaded.module.Convolution1d([1.0])
    with pytest.raises(ModuleNotFoundError, match=r"torch.tensor is not available \(ModuleNotFoundError: No module named 'torch'\)"):
        A.uses_torch([1.0])
    with pytest.raises(ModuleNotFoundError):
        np.asarray(loaded.module.torch) + 1
    with pytest.raises(ModuleNotFoundError):
        bool(loaded.module.torch)


def test_installed_imports_are_untouched_and_a_missing_name_is_a_stand_in(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("from __future__ import annotations\nfrom math import sqrt, no_such_name\n")
    loaded = loader.load(path, "m", [], tmp_path)
    assert loaded.module.sqrt(4) == 2
    assert isinstance(loaded.module.no_such_name, loader.MissingModule)
    assert "cannot import name 'no_such_name' from 'math'" in loaded.notes[0]


# -- bad files -----------------------------------------------------------------

def _student(tmp_path, files: dict[str, bytes]) -> Path:
    folder = tmp_path / "s"
    folder.mkdir(exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


@pytest.mark.parametrize("data,reason", [
    (b"", "conv1D.py is empty"),
    (b"\n\n   \n", "conv1D.py holds only blank lines"),
    (b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n", "conv1D.py is a PDF, not Python source"),
    (b"PK\x03\x04\x14\x00", "conv1D.py is a zip archive"),
    (b"\x7fELF\x02\x01\x01" + b"\0" * 50, "conv1D.py is a compiled program"),
    (b"abc\x00\x01\x02\xff\xfe\x00\x00binary", "conv1D.py is a binary file"),
])
def test_an_unusable_file_gets_a_clear_message(tmp_path, data, reason):
    folder = _student(tmp_path, {"conv1D.py": data})
    with pytest.raises(FileProblem, match=f"Your file for conv1D.py cannot be graded: {reason}"):
        choose(folder, "conv1D.py", P5.defines, None)


def test_a_file_over_the_size_cap_gets_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setattr(submission_module, "MAX_SOURCE_BYTES", 1024)
    folder = _student(tmp_path, {"conv1D.py": CODE.encode() + b"#" * 2000})
    with pytest.raises(FileProblem, match=r"conv1D.py is \d+ bytes, over the 1024 bytes limit for a source file"):
        choose(folder, "conv1D.py", P5.defines, None)


def test_an_unusable_candidate_is_passed_over_for_a_usable_one(tmp_path):
    folder = _student(tmp_path, {"conv1D.py": b"", "conv1D (1).py": CODE.encode()})
    match, notes = choose(folder, "conv1D.py", P5.defines, None)
    assert match.found.name == "conv1D (1).py" and "Passed over for conv1D.py: conv1D.py is empty." in notes


@pytest.mark.parametrize("text,encoding,name", [
    ("# 합성곱 연산자\nx = '한글'\n", "cp949", "cp949 (Korean)"),
    ("# résumé, naïve café\n", "latin-1", "Latin-1 (cp1252)"),
    ("# ünïcode\n", "utf-16", "UTF-16"),
    ("# ünïcode\n", "utf-16-le", "UTF-16 without a byte-order mark"),
    ("# ünïcode\n", "utf-8-sig", "utf-8"),
])
def test_non_utf8_sources_are_decoded_with_a_note(tmp_path, text, encoding, name):
    assert decode_source(text.encode(encoding)) == (text, name)
    folder = _student(tmp_path, {"conv1D.py": (text + CODE).encode(encoding)})
    prepared = prepare(Submission("s", folder), P5, tmp_path / "work")
    assert (tmp_path / "work" / "conv1D.py").read_text(encoding="utf-8") == text + CODE
    assert any(f"read as {name}" in n for n in prepared.notes) == (name != "utf-8")


def test_two_candidates_say_which_was_used_and_prefer_chooses(tmp_path):
    folder = _student(tmp_path, {"conv1D.py": CODE.encode(), "conv1D_v2.py": (CODE + "# more\n" * 5).encode()})
    os.utime(folder / "conv1D.py", (2_000_000_000, 2_000_000_000))
    os.utime(folder / "conv1D_v2.py", (1_000_000_000, 1_000_000_000))
    match, notes = choose(folder, "conv1D.py", P5.defines, None)
    assert match.found.name == "conv1D.py"
    assert "used conv1D.py (best name match: exact); not used: conv1D_v2.py" in notes[0] and "--prefer" in notes[0]
    assert choose(folder, "conv1D.py", P5.defines, "largest")[0].found.name == "conv1D_v2.py"
    assert choose(folder, "conv1D.py", P5.defines, "newest")[0].found.name == "conv1D.py"
    assert choose(folder, "conv1D.py", P5.defines, "conv1D_v2.py")[0].found.name == "conv1D_v2.py"
    assert "named 'conv1D_v2.py'" in choose(folder, "conv1D.py", P5.defines, "conv1D_v2.py")[1][0]


def test_prefer_reaches_prepare_through_the_submission(tmp_path):
    folder = _student(tmp_path, {"conv1D.py": CODE.encode(), "conv1D_v2.py": (CODE + "# v2\n").encode()})
    prepared = prepare(Submission("s", folder, prefer="conv1D_v2.py"), P5, tmp_path / "work")
    assert prepared.matches[0].found.name == "conv1D_v2.py"
    assert (tmp_path / "work" / "conv1D.py").read_text().endswith("# v2\n")



def test_display_helpers_and_progress_bars_work_the_same_whether_installed_or_not(tmp_path):
    # Module names that are certainly absent stand for IPython/tqdm on a machine without them.
    path = tmp_path / "wideMinima.py"
    path.write_text(
        "from IPython_absent_probe import x\n"  # not a display module: a call in a function raises
        "def run(n):\n"
        "    total = 0\n"
        "    for k in tqdm(range(n)):\n"
        "        total += k\n"
        "    for k in trange(2):\n"
        "        total += 100\n"
        "    display(total)\n"
        "    return total\n"
    )
    loaded = loader.load(path, "wideMinima", ["run"], tmp_path)
    ns = loaded.module.__dict__
    ns["tqdm"] = loader.MissingModule("tqdm", "tqdm.tqdm")
    ns["trange"] = loader.MissingModule("tqdm", "tqdm.trange")
    ns["display"] = loader.MissingModule("IPython", "IPython.display.display")
    assert loaded.module.run(5) == 10 + 200
    ns["display"] = loaded.module.x
    with pytest.raises(ModuleNotFoundError, match="IPython_absent_probe"):
        loaded.module.run(1)


def test_a_notebook_saved_with_a_py_name_is_read_as_a_notebook(tmp_path):
    student = tmp_path / "s"
    student.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# P5"), nbformat.v4.new_code_cell("import numpy as np\nclass Convolution1d:\n    pass\n")]
    (student / "conv1D.py").write_text(nbformat.writes(nb), encoding="utf-8")
    prepared = prepare(Submission("s", student), P5, tmp_path / "work", RUBRIC)
    code = (prepared.workdir / "conv1D.py").read_text(encoding="utf-8")
    assert "class Convolution1d" in code and '"cells"' not in code
    assert any("a Jupyter notebook saved with a .py name" in n for n in prepared.notes), prepared.notes


def test_a_problem_file_that_is_a_symbolic_link_is_missing_with_a_reason(tmp_path):
    student = tmp_path / "s"
    student.mkdir()
    (tmp_path / "elsewhere.py").write_text("x = 1\n", encoding="utf-8")
    (student / "conv1D.py").symlink_to(tmp_path / "elsewhere.py")
    prepared = prepare(Submission("s", student), P5, tmp_path / "work", RUBRIC)
    assert prepared.missing == ("conv1D.py",)
    assert any("conv1D.py is a symbolic link, which the grader does not follow" in n for n in prepared.notes)


def test_the_unchanged_starter_is_passed_over_for_another_candidate(tmp_path):
    student = tmp_path / "s"
    student.mkdir()
    starter = ROOT / "reference" / "hw1" / "starter" / "conv1D.py"
    (student / "conv1D.py").write_text(starter.read_text(encoding="utf-8").replace("\n", "\r\n"), encoding="utf-8")
    (student / "conv1D_final.py").write_text("import numpy as np\nclass Convolution1d:\n    pass\n", encoding="utf-8")
    prepared = prepare(Submission("s", student), P5, tmp_path / "work", RUBRIC)
    assert [m.found.name for m in prepared.matches] == ["conv1D_final.py"]
    assert any("conv1D.py (the unchanged starter file)" in n for n in prepared.notes), prepared.notes


def test_the_unchanged_starter_is_passed_over_for_a_file_that_defines_the_classes(tmp_path):
    # conv1D.py left as handed out, the answer in HW1_P5.py: no other name matches, and before
    # the starter's stubs were graded (0 / 20) with no word about HW1_P5.py.
    student = tmp_path / "s"
    student.mkdir()
    starter = ROOT / "reference" / "hw1" / "starter" / "conv1D.py"
    (student / "conv1D.py").write_text(starter.read_text(encoding="utf-8"), encoding="utf-8")
    (student / "HW1_P5.py").write_text("import numpy as np\nclass Convolution1d:\n    pass\n", encoding="utf-8")
    prepared = prepare(Submission("s", student), P5, tmp_path / "work", RUBRIC)
    assert [m.found.name for m in prepared.matches] == ["HW1_P5.py"]
    assert any("conv1D.py (the unchanged starter file); HW1_P5.py defines Convolution1d" in n for n in prepared.notes), prepared.notes
    # The starter alone is still what is graded (its stubs fail with their own feedback).
    (student / "HW1_P5.py").unlink()
    alone = prepare(Submission("s", student), P5, tmp_path / "work2", RUBRIC)
    assert [m.found.name for m in alone.matches] == ["conv1D.py"]


def test_a_file_that_imports_the_names_from_the_starter_does_not_replace_it(tmp_path):
    # wideMinima.py left as handed out, the experiment in experiment.py doing
    # `from wideMinima import f, fprime`: graded as wideMinima.py it imported itself (0 / 15).
    student = tmp_path / "s"
    student.mkdir()
    starter = ROOT / "reference" / "hw1" / "starter" / "wideMinima.py"
    (student / "wideMinima.py").write_text(starter.read_text(encoding="utf-8"), encoding="utf-8")
    (student / "experiment.py").write_text("from wide_minima import f\nfrom wideMinima import fprime\n"
                                           "print(fprime(1.0))\n", encoding="utf-8")
    prepared = prepare(Submission("s", student), P4, tmp_path / "work", RUBRIC)
    assert [m.found.name for m in prepared.matches] == ["wideMinima.py"]
    # Defining one name beside the import still builds on the starter (it would import itself).
    (student / "experiment.py").write_text("from wideMinima import f\ndef fprime(x):\n    return x\n",
                                           encoding="utf-8")
    builds = prepare(Submission("s", student), P4, tmp_path / "work2", RUBRIC)
    assert [m.found.name for m in builds.matches] == ["wideMinima.py"]
    # A file that defines the names without the starter replaces it.
    (student / "experiment.py").write_text("import numpy as np\ndef fprime(x):\n    return x\n", encoding="utf-8")
    defines = prepare(Submission("s", student), P4, tmp_path / "work3", RUBRIC)
    assert [m.found.name for m in defines.matches] == ["experiment.py"]


def test_a_file_in_a_subfolder_is_named_by_its_path_in_the_report(tmp_path):
    student = tmp_path / "s"
    (student / "hw1" / "code").mkdir(parents=True)
    (student / "hw1" / "code" / "conv1D.py").write_text("class Convolution1d:\n    pass\n", encoding="utf-8")
    (student / "wide_minima (1).py").write_text("def f(x):\n    return x\n", encoding="utf-8")
    p5 = prepare(Submission("s", student), P5, tmp_path / "w5", RUBRIC)
    assert [m.describe(student) for m in p5.matches] == ["hw1/code/conv1D.py (used as conv1D.py)"]
    p4 = prepare(Submission("s", student), P4, tmp_path / "w4", RUBRIC)
    assert [m.describe(student) for m in p4.matches] == ["wide_minima (1).py (used as wideMinima.py: similar name)"]
