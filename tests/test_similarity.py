"""The similarity report: copies are found through renames, the starter is not a match."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import cli, grade
from grader.context import Context
from grader.intake.layouts import read_class
from grader.rubric import RubricError, load_rubric
from grader.similarity import command, report
from grader.similarity.detect import compare_class
from grader.similarity.sources import boilerplate_files, read_files

ROOT = Path(__file__).resolve().parents[1]
RUBRIC = load_rubric(ROOT / "rubrics" / "hw1.toml")
STARTER = (ROOT / "reference" / "hw1" / "starter" / "conv1D.py").read_text()
STARTER_P4 = (ROOT / "reference" / "hw1" / "starter" / "wideMinima.py").read_text()


def with_bodies(forward: str, transpose: str, extra: str = "") -> str:
    """The starter's conv1D.py with the two ``return None`` replaced by a student's bodies."""
    first, second, rest = STARTER.split("        return None\n")
    return first + forward + second + transpose + rest + extra


# Alice: explicit loops.
ALICE = with_bodies(
    """        out = np.zeros(n - r + 1)
        for i in range(n - r + 1):
            acc = 0.0
            for j in range(r):
                acc += self.__filt[j] * vector[i + j]
            out[i] = acc
        return out
""",
    """        result = np.zeros(n)
        for i in range(vector.size):
            for j in range(r):
                result[i + j] += self.__filt[j] * vector[i]
        return result
""",
    "\nprint('alice checked A.T against As.T:', np.allclose(A.T @ b, As.T @ b))\n",
)

# Carol: Alice's code with every local renamed, the layout changed and comments added.
CAROL = with_bodies(
    """        # output has n-r+1 entries
        res = np.zeros( n-r+1 )
        for row in range( n-r+1 ):   # each output
            total = 0.0
            for col in range( r ):
                total += self.__filt[col] * vector[
                    row + col]   # window of x
            res[ row ] = total
        return res
""",
    """        # scatter every y_i over r outputs
        ans = np.zeros( n )
        for idx in range( vector.size ):
            for t in range( r ):
                ans[idx + t] += self.__filt[t]*vector[idx]
        return ans
""",
    '\nprint("my check of the transpose:",np.allclose( A.T@b, As.T@b ))  # should be True\n',
)

# Dave and Erin: correct, written independently (np.convolve; windows and padding).
DAVE = with_bodies(
    """        return np.convolve(vector, self.__filt[::-1], mode="valid")
""",
    """        return np.convolve(vector, self.__filt, mode="full")
""",
)
ERIN = with_bodies(
    """        windows = np.lib.stride_tricks.sliding_window_view(vector, r)
        return windows.dot(self.__filt)
""",
    """        padded = np.pad(vector, (r - 1, r - 1))
        flipped = self.__filt[::-1]
        return np.array([np.dot(flipped, padded[j:j + r]) for j in range(n)])
""",
    "\nassert np.allclose(A @ x, As @ x)\n",
)

# Sam and Tom: the starter unchanged, and the starter reformatted with comments.
SAM = STARTER
TOM = "# HW1 problem 5\n" + STARTER.replace("    def ", "    # TODO\n    def ").replace(" = ", "=")


def make_class(root: Path, students: dict[str, dict[str, str]]) -> Path:
    for student, files in students.items():
        folder = root / student
        folder.mkdir(parents=True)
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
    return root


def notebook(*cells: tuple[str, str]) -> str:
    return json.dumps({
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [
            {"cell_type": kind, "metadata": {}, "source": source, "id": f"c{i}",
             **({"outputs": [], "execution_count": None} if kind == "code" else {})}
            for i, (kind, source) in enumerate(cells)
        ],
    })


def compare(path: Path, rubric=RUBRIC, **kw):
    with read_class(path, rubric) as intake:
        return compare_class(read_files(intake.submissions, rubric), boilerplate_files(rubric), **kw)


def pair(similarity, a: str, b: str, file: str = "conv1D.py"):
    a, b = sorted((a, b))
    found = [m for m in similarity.matches if (m.student_a, m.student_b, m.file) == (a, b, file)]
    return found[0] if found else None


def rank_of(similarity, a: str, b: str) -> int:
    return similarity.matches.index(pair(similarity, a, b)) + 1


@pytest.fixture(scope="module")
def usual_class(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    return compare(make_class(root, {
        name: {"conv1D.py": text} for name, text in
        {"alice": ALICE, "carol": CAROL, "dave": DAVE, "erin": ERIN, "sam": SAM, "tom": TOM}.items()
    }))


def test_a_copy_with_renames_reformatting_and_comments_ranks_first(usual_class):
    top = usual_class.matches[0]
    assert (top.student_a, top.student_b, top.file) == ("alice", "carol", "conv1D.py")
    assert top.flagged
    assert min(top.similarity_a, top.similarity_b) >= 0.9, top


def test_independent_correct_solutions_rank_low_and_are_not_flagged(usual_class):
    flagged = [(m.student_a, m.student_b) for m in usual_class.matches if m.flagged]
    assert flagged == [("alice", "carol")]
    independent = pair(usual_class, "dave", "erin")
    if independent is not None:  # they may share a boundary k-gram, never much
        assert independent.similarity < 0.3 and rank_of(usual_class, "dave", "erin") > 1
    for other in ("dave", "erin"):
        for author in ("alice", "carol"):
            m = pair(usual_class, author, other)
            assert m is None or (not m.flagged and m.similarity < 0.3), m


def test_starter_only_submissions_share_nothing(usual_class):
    # The starter itself and a reformatted, commented starter: all of it is boilerplate.
    assert pair(usual_class, "sam", "tom") is None
    for m in usual_class.matches:
        if {"sam", "tom"} & {m.student_a, m.student_b}:
            assert not m.flagged, m


def test_a_notebook_is_compared_with_a_py_file(tmp_path):
    head, tail = ALICE.split("class TransposedConvolution1d:")
    cells = [("markdown", "# HW1 problem 5\nMy convolution."), ("code", "%matplotlib inline\n" + head),
             ("markdown", "And its transpose:"), ("code", "class TransposedConvolution1d:" + tail)]
    sim = compare(make_class(tmp_path, {
        "alice": {"conv1D.py": CAROL}, "nina": {"conv1D.ipynb": notebook(*cells)}, "dave": {"conv1D.py": DAVE},
    }))
    top = sim.matches[0]
    assert (top.student_a, top.student_b, top.source_b) == ("alice", "nina", "conv1D.ipynb")
    assert top.flagged and min(top.similarity_a, top.similarity_b) >= 0.9


def test_each_handout_file_is_compared_separately(tmp_path):
    p4 = STARTER_P4.replace("plt.show()\n", "") + (
        "\nfor alpha in (0.01, 0.3, 4):\n    for trial in range(20):\n        theta = np.random.uniform(-5, 20)\n"
        "        for _ in range(1000):\n            theta = theta - alpha * fprime(theta)\n"
        "        print(alpha, trial, theta, f(theta))\n")
    renamed = p4.replace("theta", "xk").replace("trial", "run_id")
    sim = compare(make_class(tmp_path, {
        "ann": {"conv1D.py": DAVE, "wideMinima.py": p4}, "ben": {"conv1D.py": ERIN, "wideMinima.py": renamed},
    }))
    assert pair(sim, "ann", "ben", "wideMinima.py").flagged
    conv = pair(sim, "ann", "ben", "conv1D.py")
    assert conv is None or not conv.flagged


def test_rubric_boilerplate_is_ignored_too(tmp_path):
    # Code printed in the handout that every student pastes: a match unless the rubric names it.
    snippet = (
        "def check_adjoint(A, n, r, trials=5):\n    for _ in range(trials):\n"
        "        x = np.random.randn(n)\n        y = np.random.randn(n - r + 1)\n"
        "        assert abs((A @ x) @ y - x @ (A.T @ y)) < 1e-8\n    return True\n"
    )
    make_class(tmp_path / "class", {"dave": {"conv1D.py": DAVE + snippet}, "erin": {"conv1D.py": ERIN + snippet}})
    assert pair(compare(tmp_path / "class", min_tokens=50), "dave", "erin").flagged
    (tmp_path / "handout").mkdir()
    (tmp_path / "handout" / "snippets.py").write_text("import numpy as np\n" + snippet)
    rubric = _rubric_with(tmp_path, 'boilerplate = ["handout"]')
    assert rubric.boilerplate == ((tmp_path / "handout").resolve(),)
    quiet = pair(compare(tmp_path / "class", rubric, min_tokens=50), "dave", "erin")
    assert quiet is None or not quiet.flagged


def _rubric_with(tmp_path: Path, line: str):
    text = (ROOT / "rubrics" / "hw1.toml").read_text().replace('[assignment]\n', f'[assignment]\n{line}\n', 1)
    text = text.replace('"../reference/', f'"{ROOT}/reference/').replace('"hw1/', f'"{ROOT}/rubrics/hw1/')
    path = tmp_path / "hw1.toml"
    path.write_text(text)
    return load_rubric(path)


@pytest.mark.parametrize("value,error", [
    ('["nope"]', "no such file or folder: nope"),
    ('["notes.txt"]', "not a .py or .ipynb file: notes.txt"),
    ('"handout.py"', "boilerplate must be a list of strings"),
    ('["bad.ipynb"]', "bad.ipynb is not a readable notebook"),
    ('["."]', "bad.ipynb is not a readable notebook"),
])
def test_bad_boilerplate_key_fails_at_load(tmp_path, value, error):
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "bad.ipynb").write_text("{cut short")
    with pytest.raises(RubricError, match=re.escape(error)):
        _rubric_with(tmp_path, f"boilerplate = {value}")


def test_reports_escape_student_text_and_say_it_is_no_verdict(tmp_path):
    evil = "</pre><script>alert(1)</script>"
    sim = compare(make_class(tmp_path / "class", {
        "alice": {"conv1D.py": ALICE + f"# {evil}\n"}, "<b>carol": {"Conv1D <i>.py": CAROL + f"s = '{evil}'\n"},
    }))
    csv_path, html_path = report.write(sim, tmp_path / "out")
    page = html_path.read_text()
    assert "<script>" not in page and "<b>carol" not in page and "<i>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;carol" in page
    assert "Similarity is a reason to look, not a verdict." in page
    assert 'id="pair-1"' in page and page.count("<mark>") >= 4
    rows = list(csv.DictReader(csv_path.open()))
    assert rows[0]["student_a"] == "<b>carol" and rows[0]["flagged"] == "yes"
    assert rows[0]["source_a"] == "Conv1D <i>.py" and rows[0]["detail"] == "similarity.html#pair-1"


def test_csv_cells_from_student_names_never_start_a_formula(tmp_path):
    sim = compare(make_class(tmp_path / "class", {"=cmd|calc": {"conv1D.py": ALICE}, "bob": {"+conv1D.py": CAROL}}))
    csv_path, _ = report.write(sim, tmp_path / "out")
    row = next(csv.DictReader(csv_path.open()))
    assert (row["student_a"], row["source_b"]) == ("'=cmd|calc", "'+conv1D.py")
    assert report.read_pairs(tmp_path / "out")[0].student_a == "=cmd|calc"


def test_read_pairs_returns_the_ranking_for_the_class_page(tmp_path, usual_class):
    assert report.read_pairs(tmp_path) == []
    (tmp_path / "similarity.csv").write_text("student,score\nalice,3\n")
    assert report.read_pairs(tmp_path) == []
    report.write(usual_class, tmp_path)
    pairs = report.read_pairs(tmp_path)
    assert [p.rank for p in pairs] == list(range(1, len(usual_class.matches) + 1))
    assert [(p.student_a, p.student_b) for p in report.read_pairs(tmp_path, flagged_only=True)] == [("alice", "carol")]
    assert pairs[0].detail == "similarity.html#pair-1" and pairs[0].similarity_a >= 0.9


def test_highlight_marks_regions_line_by_line():
    html = report.highlight("a = 1\nb < 2\n", ((4, 9),))
    assert html.splitlines() == [
        '<span class="ln">1</span>a = <mark>1</mark>',
        '<span class="ln">2</span><mark>b &lt;</mark> 2',
    ]


def test_unreadable_notebook_is_listed_not_fatal(tmp_path):
    make_class(tmp_path / "class", {"alice": {"conv1D.py": ALICE}, "bad": {"conv1D.ipynb": "{not json"}})
    sim = compare(tmp_path / "class")
    assert [(s.student, s.wanted) for s in sim.code.skipped] == [("bad", "conv1D.py")]
    _, html_path = report.write(sim, tmp_path / "out")
    page = html_path.read_text()
    assert "conv1D.py of bad not compared: conv1D.ipynb: " in page and "not valid JSON" in page


@pytest.mark.slow  # two fresh interpreters, each importing copydetect (and so matplotlib)
def test_ranking_does_not_depend_on_the_hash_seed(tmp_path):
    make_class(tmp_path / "class", {n: {"conv1D.py": t} for n, t in
                                    {"alice": ALICE, "carol": CAROL, "dave": DAVE, "erin": ERIN}.items()})
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / f"out{seed}"
        subprocess.run(
            [sys.executable, "-m", "grader.cli", "similarity", str(tmp_path / "class"), "--out", str(out),
             "--rubric", str(ROOT / "rubrics" / "hw1.toml")],
            check=True, cwd=ROOT, capture_output=True, env={**os.environ, "PYTHONHASHSEED": seed},
        )
        outputs.append(((out / "similarity.csv").read_text(), (out / "similarity.html").read_text()))
    assert outputs[0] == outputs[1]


def test_cli_similarity_passes_options_through(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(command, "main", lambda **kw: calls.append(kw))
    result = CliRunner().invoke(cli.main, ["similarity", "subs", "--out", str(tmp_path), "--threshold", "0.7",
                                           "--min-tokens", "40", "--rubric", str(ROOT / "rubrics" / "hw1.toml")])
    assert result.exit_code == 0, result.output
    kw = calls[0]
    assert (kw["path"], kw["out"], kw["threshold"], kw["min_tokens"], kw["rubric"].id) == (
        Path("subs"), tmp_path, 0.7, 40, "hw1")


def test_grading_run_passes_the_similarity_flag(monkeypatch):
    calls = []
    monkeypatch.setattr(cli.grade, "main", lambda **kw: calls.append(kw))
    CliRunner().invoke(cli.main, ["subs", "--similarity", "--rubric", str(ROOT / "rubrics" / "hw1.toml")])
    CliRunner().invoke(cli.main, ["subs", "--rubric", str(ROOT / "rubrics" / "hw1.toml")])
    assert [c["similarity"] for c in calls] == [True, False]


def test_grading_run_with_similarity_writes_the_report_before_the_class_pages(monkeypatch, tmp_path):
    order = []
    monkeypatch.setattr(grade, "grade_all", lambda *a, **k: [])
    monkeypatch.setattr(grade, "similarity_report", lambda **kw: order.append("similarity"))
    monkeypatch.setattr(grade, "make_writers", lambda: [type("W", (), {"write_class": lambda self, r, o: order.append("class")})()])
    make_class(tmp_path / "class", {"alice": {"conv1D.py": ALICE}})
    quiet = Context(stdout=io.StringIO())
    grade.main(path=tmp_path / "class", rubric=RUBRIC, out=tmp_path / "out", jobs=1, ctx=quiet, similarity=True)
    assert order == ["similarity", "class"]


def test_a_failing_similarity_report_never_costs_the_grades(tmp_path, monkeypatch):
    make_class(tmp_path / "class", {"alice": {"conv1D.py": ALICE}, "carol": {"conv1D.py": CAROL}})
    ctx = Context(stdout=io.StringIO(), stderr=io.StringIO())
    monkeypatch.setattr(command, "write_report", lambda **kw: 1 / 0)
    with read_class(tmp_path / "class", RUBRIC) as intake:
        command.after_grading(submissions=intake.submissions, rubric=RUBRIC, out=tmp_path / "out", ctx=ctx)
    assert "similarity report not written" in ctx.stderr.getvalue() and "ZeroDivisionError" in ctx.stderr.getvalue()


def test_missing_folder_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(cli.main, ["similarity", str(tmp_path / "nope"), "--rubric",
                                           str(ROOT / "rubrics" / "hw1.toml")])
    assert result.exit_code == 2 and "no such folder" in result.output


def test_readme_section_documents_the_real_command():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Similarity report", 1)[1].split("\n## ", 1)[0]
    assert "a reason to look, not a verdict" in section
    assert "reports/similarity.html" in section and "reports/similarity.csv" in section
    commands = re.findall(r"`(grade (?:similarity )?submissions/[^`]*)`", section)
    assert any("similarity" in c for c in commands) and any("--similarity" in c for c in commands)
    known = {o for c in (cli.similarity_command, cli.run_command) for p in c.params for o in p.opts}
    for text in (section, (ROOT / "docs" / "similarity.md").read_text()):
        options = set(re.findall(r"--[a-z-]+", text))
        assert options <= known, options - known


def test_a_class_of_zips_is_read_through_intake(tmp_path):
    import zipfile

    for student, text in {"alice": ALICE, "carol": CAROL, "dave": DAVE}.items():
        with zipfile.ZipFile(tmp_path / f"{student}.zip", "w") as archive:
            archive.writestr(f"{student}_hw1/conv1D.py", text)
    out = tmp_path / "out"
    ctx = Context(stdout=io.StringIO())
    command.main(path=tmp_path, rubric=RUBRIC, out=out, ctx=ctx)
    top = report.read_pairs(out)[0]
    assert (top.student_a, top.student_b, top.flagged) == ("alice", "carol", True)
    assert "archives" in ctx.stdout.getvalue()


@pytest.mark.parametrize("block", [None, 1])
def test_the_class_wide_screen_counts_what_copydetect_counts(usual_class, monkeypatch, block):
    from copydetect import compare_files

    from grader.similarity import screen
    from grader.similarity.detect import NOISE_TOKENS, _fingerprint, boilerplate_hashes

    if block is not None:  # one file column at a time, as for very long files
        monkeypatch.setattr(screen, "_BLOCK_CELLS", block)
    texts = [ALICE, CAROL, DAVE, ERIN, SAM, TOM, ALICE.replace("acc", "a") + ERIN[-400:], "", "x = 1\n"]
    for ignored in (frozenset(), boilerplate_hashes(boilerplate_files(RUBRIC))):
        prints = [_fingerprint(t, ignored) for t in texts]
        table = screen.shared_tokens([screen.positions(p.hash_idx) for p in prints], NOISE_TOKENS)
        for a in range(len(texts)):
            own = screen.positions(prints[a].hash_idx)[0]
            assert screen.union_length(own, NOISE_TOKENS) == prints[a].token_coverage
            for b in range(len(texts)):
                if a != b:
                    assert table[a, b] == compare_files(prints[a], prints[b])[0], (a, b)
    # And the shown pairs' numbers agree with their regions.
    for m in usual_class.matches:
        if m.shown:
            assert sum(end - start for start, end in m.regions_a) >= m.shared_tokens


@pytest.mark.parametrize("change", [
    pytest.param(lambda t: t.replace("acc", "running_total").replace("out", "y_hat").replace("result", "r_t"),
                 id="renamed locals"),
    pytest.param(lambda t: t.replace("self.__filt", "self.__kernel").replace("vector", "v"), id="renamed attributes"),
    pytest.param(lambda t: t.replace(" = ", "=").replace(" += ", "+=").replace(" * ", "*").replace(", ", ","),
                 id="spacing"),
    pytest.param(lambda t: t.replace("        ", "\t\t").replace("    ", "\t"), id="tabs"),
    pytest.param(lambda t: t.replace("np.zeros(n - r + 1)", "np.zeros(\n            n - r + 1\n        )"),
                 id="line breaks in brackets"),
    pytest.param(lambda t: t.replace("'", '"').replace("A.T @ b", "A.T@b"), id="quotes and A@x"),
    pytest.param(lambda t: t.replace("\n        for ", "\n        # loop over the outputs\n        for ")
                 .replace("        return out\n", "        return out  # the result\n"), id="comments"),
    pytest.param(lambda t: t.replace("\n", "\r\n"), id="CRLF"),
])
def test_the_share_ignores_names_layout_and_comments(tmp_path, change):
    sim = compare(make_class(tmp_path, {"alice": {"conv1D.py": ALICE}, "bob": {"conv1D.py": change(ALICE)}}))
    assert change(ALICE) != ALICE
    m = sim.matches[0]
    assert (m.similarity_a, m.similarity_b) == (1.0, 1.0) and m.flagged, m


def test_an_added_docstring_costs_little(tmp_path):
    # A docstring is a string statement, so it is code (one token); a copy with docstrings added stays on top.
    signature = "    def __matmul__(self, vector):\n"
    documented = ALICE.replace(signature, signature + '        """A @ x."""\n')
    sim = compare(make_class(tmp_path, {"alice": {"conv1D.py": ALICE}, "bob": {"conv1D.py": documented},
                                        "dave": {"conv1D.py": DAVE}}))
    top = sim.matches[0]
    assert (top.student_a, top.student_b) == ("alice", "bob") and top.flagged and top.similarity >= 0.8


@pytest.mark.parametrize("prefix", ["", "\n\n\n", "# a comment first\n\n"])
def test_highlighted_regions_line_up_with_the_students_text(tmp_path, prefix):
    # The same code, shifted by blank lines or a comment: both sides highlight the same text.
    sim = compare(make_class(tmp_path, {"alice": {"conv1D.py": CAROL}, "bob": {"conv1D.py": prefix + CAROL}}))
    m = sim.matches[0]
    assert m.shown and m.regions_a
    assert [CAROL[s:e] for s, e in m.regions_a] == [(prefix + CAROL)[s:e] for s, e in m.regions_b]
    assert all(CAROL[s:e].strip() for s, e in m.regions_a)


def test_one_notebook_for_two_problems_is_compared_cell_by_problem(tmp_path):
    p4 = STARTER_P4.replace("plt.show()\n", "") + (
        "\nfor alpha in (0.01, 0.3, 4):\n    for trial in range(20):\n        theta = np.random.uniform(-5, 20)\n"
        "        for _ in range(1000):\n            theta = theta - alpha * fprime(theta)\n"
        "        print(alpha, trial, theta, f(theta))\n")
    cells = [("markdown", "# Problem 4"), ("code", p4.replace("theta", "t")), ("markdown", "# Problem 5"),
             ("code", DAVE)]
    sim = compare(make_class(tmp_path, {
        "ann": {"hw1.ipynb": notebook(*cells)}, "ben": {"conv1D.py": ERIN, "wideMinima.py": p4},
    }))
    p4_pair = pair(sim, "ann", "ben", "wideMinima.py")
    # Both shares are whole: the P5 cells of ann's notebook are not part of her wideMinima.py.
    assert p4_pair.flagged and p4_pair.source_a == "hw1.ipynb"
    assert (p4_pair.similarity_a, p4_pair.similarity_b) == (1, 1)
    conv = pair(sim, "ann", "ben", "conv1D.py")
    assert conv is None or not conv.flagged


def test_highlighted_regions_end_on_code_not_on_comments_or_cell_markers(tmp_path):
    head, tail = ALICE.split("class TransposedConvolution1d:")
    cells = [("code", head), ("code", "class TransposedConvolution1d:" + tail)]
    sim = compare(make_class(tmp_path, {"alice": {"conv1D.py": CAROL}, "nina": {"conv1D.ipynb": notebook(*cells)}}))
    m = sim.matches[0]
    code = sim.sources()[("conv1D.py", "nina")].code
    texts = [code[s:e] for s, e in m.regions_b]
    assert texts and all(t == t.rstrip() and not t.splitlines()[-1].lstrip().startswith("#") for t in texts), texts
