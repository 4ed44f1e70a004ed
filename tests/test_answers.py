"""Written answers for manually graded problems: finding them, reading them, showing them."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from grader import answers
from grader.answers import find_answers, pdf_page_count, read_answer
from grader.models import ProblemResult, StudentReport, WrittenAnswer
from grader.reports.grading_sheet import render_sheet
from grader.reports.json_report import report_to_dict
from grader.reports.markdown import render, render_answer
from grader.rubric import load_rubric
from grader.submission import Submission
from tests.pdf_samples import minimal_pdf, object_stream_pdf

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def rubric():
    return load_rubric(ROOT / "rubrics" / "hw1.toml")


def problem(rubric, pid):
    return next(p for p in rubric.problems if p.id == pid)


def notebook(cells) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src)
        for kind, src in cells
    ]
    return nbformat.writes(nb)


# -- PDF page count ----------------------------------------------------------------
@pytest.mark.parametrize("pages", [1, 2, 5])
def test_pdf_pages_of_a_plain_pdf(pages):
    assert pdf_page_count(minimal_pdf([f"page {i}" for i in range(pages)])) == pages


def test_pdf_pages_inside_a_compressed_object_stream():
    # PDF 1.5 exporters (LaTeX, Word) pack page objects in compressed object streams.
    assert pdf_page_count(object_stream_pdf(7)) == 7


def test_pdf_pages_of_a_matplotlib_pdf(tmp_path):
    import matplotlib  # here, not at collection: only this test needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    path = tmp_path / "plots.pdf"
    with PdfPages(path) as pdf:
        for i in range(3):
            fig = plt.figure()
            fig.gca().plot([0, i])
            pdf.savefig(fig)
            plt.close(fig)
    assert pdf_page_count(path.read_bytes()) == 3


def test_pdf_page_rewritten_by_an_incremental_update_counts_once():
    data = minimal_pdf(["a", "b"])
    # An incremental update appends a new version of page object 3.
    data += b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>\nendobj\n"
    assert pdf_page_count(data) == 2


@pytest.mark.parametrize("data", [b"", b"hello world", b"%PDF-1.4\n%%EOF\n"])
def test_pdf_pages_unknown(data):
    assert pdf_page_count(data) is None


def test_damaged_pdf_says_to_open_it(tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(b"%PDF-1.7\n garbage")
    answer = read_answer(path, "scan.pdf")
    assert answer.kind == "pdf" and answer.pages is None
    assert "open the file" in answer.note


# -- finding answers -------------------------------------------------------------
def test_files_naming_a_problem_go_to_that_problem_only(tmp_path, rubric):
    (tmp_path / "hw1_p2.pdf").write_bytes(minimal_pdf(["p2"]))
    (tmp_path / "P1.md").write_text("θ proof of p1", encoding="utf-8")
    (tmp_path / "answers.tex").write_text(r"\section{All} $\nabla L$", encoding="utf-8")
    (tmp_path / "p21.md").write_text("not problem 2", encoding="utf-8")  # p21 names no problem of hw1
    found = {pid: [a.file for a in find_answers(tmp_path, problem(rubric, pid), rubric)] for pid in ("p1", "p2", "p3")}
    assert found["p1"] == ["P1.md", "answers.tex", "p21.md"]
    assert found["p2"] == ["hw1_p2.pdf", "answers.tex", "p21.md"]
    assert found["p3"] == ["answers.tex", "p21.md"]


def test_answer_kinds_and_contents(tmp_path, rubric):
    (tmp_path / "hw1.pdf").write_bytes(minimal_pdf(["1", "2", "3"]))
    (tmp_path / "proofs.ipynb").write_text(
        notebook([("md", "## P1\n$\\nabla \\ell_i$"), ("code", "x = 1"), ("md", "  "), ("md", "QED")]),
        encoding="utf-8",
    )
    (tmp_path / "notes.tex").write_bytes("Beweis für $\\theta$".encode("latin-1"))
    by_file = {a.file: a for a in find_answers(tmp_path, problem(rubric, "p1"), rubric)}
    assert by_file["hw1.pdf"] == WrittenAnswer("hw1.pdf", "pdf", pages=3)
    assert by_file["proofs.ipynb"].kind == "notebook"
    assert by_file["proofs.ipynb"].text == "## P1\n$\\nabla \\ell_i$\n\n---\n\nQED"
    assert by_file["notes.tex"].text == "Beweis für $\\theta$"  # Latin-1 is read, not garbled


def test_code_notebooks_are_not_written_answers(tmp_path, rubric):
    # conv1D.ipynb is P5's code; a notebook with only code cells has nothing to grade by hand.
    (tmp_path / "conv1D.ipynb").write_text(notebook([("md", "# my conv"), ("code", "pass")]), encoding="utf-8")
    (tmp_path / "scratch.ipynb").write_text(notebook([("code", "print(1)")]), encoding="utf-8")
    assert find_answers(tmp_path, problem(rubric, "p1"), rubric) == ()


def test_unreadable_notebook_is_named_with_the_reason(tmp_path, rubric):
    (tmp_path / "proofs.ipynb").write_text("{not json", encoding="utf-8")
    [answer] = find_answers(tmp_path, problem(rubric, "p1"), rubric)
    assert answer.file == "proofs.ipynb" and "not a readable notebook" in answer.note


def test_long_text_is_cut(tmp_path, rubric):
    (tmp_path / "p1.md").write_text("x" * (answers.MAX_CHARS + 10), encoding="utf-8")
    [answer] = find_answers(tmp_path, problem(rubric, "p1"), rubric)
    assert answer.truncated and len(answer.text) == answers.MAX_CHARS


def test_at_most_max_files_and_hidden_folders_ignored(tmp_path, rubric):
    for i in range(answers.MAX_FILES + 3):
        (tmp_path / f"part{i}.md").write_text(f"part {i}", encoding="utf-8")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "p1-checkpoint.md").write_text("old", encoding="utf-8")
    found = find_answers(tmp_path, problem(rubric, "p1"), rubric)
    assert len(found) == answers.MAX_FILES
    assert all(not a.file.startswith(".") for a in found)


def test_problem_without_answers_globs_finds_nothing(tmp_path, rubric):
    (tmp_path / "p5.md").write_text("notes", encoding="utf-8")
    assert find_answers(tmp_path, problem(rubric, "p5"), rubric) == ()


# -- showing answers ---------------------------------------------------------------
def test_markdown_report_fences_the_answer_so_it_cannot_break_the_report():
    answer = WrittenAnswer("p1.md", "markdown", text="# Heading\n```python\nx\n```", truncated=True)
    lines = render_answer(answer)
    assert lines[0] == "Written answer `p1.md` (markdown)"
    assert lines[2] == "````" and lines[4] == "````"
    assert "cut after" in lines[-1]
    assert render_answer(WrittenAnswer("a.pdf", "pdf", pages=1))[0] == "Written answer `a.pdf` (pdf, 1 page)"


def test_reports_show_answers():
    result = ProblemResult("p1", "Least squares", (), answers=(WrittenAnswer("hw1.pdf", "pdf", pages=4),))
    report = StudentReport("ann", "hw1", (result,))
    assert "Written answer `hw1.pdf` (pdf, 4 pages)" in render(report)
    data = json.loads(json.dumps(report_to_dict(report)))
    assert data["problems"][0]["answers"] == [
        {"file": "hw1.pdf", "kind": "pdf", "pages": 4, "text": "", "truncated": False, "note": ""}
    ]


def test_grading_sheet_lists_rubric_and_each_answer_once(tmp_path, rubric):
    ann = tmp_path / "ann"
    ann.mkdir()
    (ann / "hw1.md").write_text("All proofs: $X^T(X\\theta - Y)$", encoding="utf-8")
    bob = tmp_path / "bob"
    bob.mkdir()
    sheet = render_sheet(rubric, [Submission("ann", ann), Submission("bob", bob)], "scores.csv")
    assert "| `p1a` | p1 |" in sheet and "`chain`: -3, missing chain-rule step" in sheet
    assert sheet.count("All proofs: $X^T(X\\theta - Y)$") == 1  # shown under p1, referenced under p2, p3
    assert sheet.count("Written answer `hw1.md`: shown above.") == 2
    assert "### bob — p2" in sheet and "No written answer found" in sheet


def test_sample_student_with_written_answers(rubric):
    folder = ROOT / "submissions" / "written_answers_pdf_md"
    found = {p.id: find_answers(folder, p, rubric) for p in rubric.problems}
    pdf = WrittenAnswer("HW1_written.pdf", "pdf", pages=2)
    assert found["p1"] == (pdf,) and found["p2"] == (pdf,)
    assert [a.file for a in found["p3"]] == ["p3.md", "HW1_written.pdf"]
    assert "(I-\\alpha X^\\intercal X)(\\theta^k-\\theta^\\star)" in found["p3"][0].text
    assert found["p4"] == found["p5"] == ()
