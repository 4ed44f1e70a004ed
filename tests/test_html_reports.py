"""HTML reports: escaping, hidden items, source lines, P4 runs plot, student figures, class summary."""

import base64
import json
import re
from html.parser import HTMLParser

import pytest

from grader.models import ItemScore, ProblemResult, SourceExcerpt, Status, StudentReport
from grader.reports import figures
from grader.reports.html import HtmlReport, class_issues, pass_rates, render_index, render_student
from grader.reports.sources import attach_sources, find_locations

HOSTILE = '<script>alert("x")</script><img src=http://evil.example/x.png onerror=alert(1)>'

#: A 1×1 PNG.
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


class _Tags(HTMLParser):
    """Collects every tag and its attributes, to see what a browser would treat as markup."""

    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags(html: str) -> list[tuple[str, dict]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def fixture_runs() -> dict:
    runs = []
    for alpha, outcome, start in ((0.01, "sharp", 1.0), (0.01, "wide", 12.0), (0.3, "wide", -3.0), (4.0, "diverged", 5.0)):
        x, trajectory = start, [[0, start]]
        for step in range(1, 30):
            x = x * 3.0 if outcome == "diverged" else x + (10.0 - x) * 0.3 if outcome == "wide" else x * 0.7
            trajectory.append([step, x])
        runs.append({"alpha": alpha, "start": start, "last": x, "steps": 29, "outcome": outcome,
                     "group": f"α={alpha}", "judged": True, "trajectory": trajectory})
    # As the suite writes a blown-up run: inf and nan become null.
    runs.append({"alpha": 4.0, "start": 7.0, "last": None, "steps": 3, "outcome": "diverged", "group": "α=4.0",
                 "judged": False, "trajectory": [[0, 7.0], [1, -1e160], [2, None], [3, None]]})
    runs.append({"alpha": "bad"})  # malformed runs are skipped, not fatal
    return {"schema": 1, "runs": runs}


def sample(locations=()) -> StudentReport:
    items = (
        ItemScore("p5-no-dense", "no dense matrix", 0.0, 8.0, Status.FAILED,
                  f"found at conv1D.py:3 in f: {HOSTILE}", "public", tuple(locations)),
        ItemScore("p5-adjoint", "secret adjoint check", 0.0, 1.0, Status.FAILED, "hidden detail 42", "hidden",
                  (SourceExcerpt("conv1D.py", 9, ((9, "hidden line"),)),)),
        ItemScore("p5-forward", "A @ x", 4.0, 4.0, Status.PASSED, "", "public"),
    )
    p4 = (ItemScore("p4-update", "GD update", 0.0, 2.0, Status.TIMEOUT, "stopped after 2m", "public"),)
    return StudentReport(
        "bob<b>", "hw1",
        (ProblemResult("p4", "Wide minima", p4, ("wideMinima.py",)),
         ProblemResult("p5", "Conv", items, (f"{HOSTILE}.py",), (f"Your code printed:\n{HOSTILE}",), ("look at me",))),
        warnings=("unexpected file x",),
    )


@pytest.fixture
def student_dir(tmp_path):
    folder = tmp_path / "bob"
    (folder / "p4").mkdir(parents=True)
    (folder / "p4" / "runs.json").write_text(json.dumps(fixture_runs()))
    (folder / "p4" / "runs.md").write_text("| α | runs |\n|---|---|\n| 0.01 | 2 |\n")
    (folder / "p4" / "figure-01.png").write_bytes(TINY_PNG)
    (folder / "p4" / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 20)
    (folder / "p4" / "fake.png").write_bytes(b"<svg onload=alert(1)></svg>")
    return folder


def test_student_page_escapes_everything_from_the_submission(student_dir):
    html = render_student(sample(), student_dir)
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    # Only the page's own tags exist: no <script>, no <img> pointing anywhere but data: URIs.
    assert not [t for t, _ in tags(html) if t == "script"]
    assert all(a["src"].startswith("data:image/") for t, a in tags(html) if t == "img")
    assert "bob&lt;b&gt;" in html
    assert not re.search(r"(src|href)=\"https?:", html)
    assert "default-src 'none'" in html and "script-src 'none'" in html


def test_hidden_items_show_their_score_only(student_dir):
    html = render_student(sample(), student_dir)
    assert "hidden detail 42" not in html and "hidden line" not in html
    assert "0 / 1" in html and "details are released after the deadline" in html


def test_source_excerpts_are_shown_with_the_named_line_highlighted(student_dir):
    excerpt = SourceExcerpt("conv1D.py", 3, ((2, "def f(n):"), (3, "    A = np.zeros((n, n))  # <b>"), (4, "    return A")))
    html = render_student(sample([excerpt]), student_dir)
    hits = re.findall(r'<span class="line hit"><span class="no">(\d+)</span>([^<]*)</span>', html)
    assert hits == [("3", "    A = np.zeros((n, n))  # &lt;b&gt;")]
    assert 'data-file="conv1D.py" data-line="3"' in html


def test_p4_runs_are_plotted_tabulated_and_student_figures_embedded_by_magic_bytes(student_dir):
    html = render_student(sample(), student_dir)
    plot = re.search(r'<figure class="runs-plot"><img src="data:image/svg\+xml;base64,([^"]+)"', html)
    drawing = base64.b64decode(plot.group(1)).decode("utf-8")
    # One line per run, in its outcome's colour (the blown-up run among them).
    assert drawing.startswith("<svg ") and drawing.count("<polyline ") == 5
    assert drawing.count(f'stroke="{figures.OUTCOME_COLOURS["diverged"]}" stroke-width="1"') >= 1
    assert html.count('<tr><td class="num">') == 5  # five well-formed runs in the table
    assert ">diverged<" in html and "Runs as the grader tabulated them" in html
    embedded = re.findall(r'<figure class="student-figure"><img src="data:(image/\w+);base64,[^"]+" alt="([^"]+)"', html)
    assert sorted(embedded) == [("image/jpeg", "photo.jpg"), ("image/png", "figure-01.png")]
    assert "<code>fake.png</code>: it is not a PNG or JPEG file" in html


def test_runs_json_nulls_are_kept_as_points_off_the_chart(student_dir):
    runs = figures.load_runs(student_dir / "p4" / "runs.json")
    blown = [r for r in runs if r["start"] == 7.0][0]
    assert blown["last"] is None and len(blown["trajectory"]) == 4
    assert [r["alpha"] for r in runs] == [0.01, 0.01, 0.3, 4.0, 4.0]


def test_runs_json_with_a_wrong_schema_is_ignored(tmp_path):
    (tmp_path / "runs.json").write_text(json.dumps({"schema": 2, "runs": []}))
    assert figures.load_runs(tmp_path / "runs.json") is None
    (tmp_path / "runs.json").write_text("{not json")
    assert figures.load_runs(tmp_path / "runs.json") is None


def test_runs_plot_copes_with_diverged_values():
    data = [{"alpha": 4.0, "start": 1.0, "last": float("inf"), "steps": 3, "outcome": "diverged", "group": "",
             "judged": True, "trajectory": [(0, 1.0), (1, 1e300), (2, float("inf")), (3, float("nan"))]}]
    uri = figures.runs_plot(data)
    assert uri.startswith("data:image/svg+xml;base64,")
    drawing = base64.b64decode(uri.split(",", 1)[1]).decode("utf-8")
    # Every point is drawn inside the panel: 1e300, inf and nan sit at the clip edge, never off the canvas.
    points = re.search(r'<polyline points="([^"]+)"', drawing).group(1).split()
    ys = [float(p.split(",")[1]) for p in points]
    assert len(ys) == 4 and len(set(ys[1:])) == 1 and "nan" not in drawing and "inf" not in drawing


def test_image_data_uri_accepts_only_real_png_or_jpeg(tmp_path):
    (tmp_path / "a.png").write_bytes(TINY_PNG)
    (tmp_path / "b.png").write_bytes(b"GIF89a...")
    (tmp_path / "c.jpg").write_bytes(b"\xff\xd8\xff\xdb" + b"\0" * 8)
    assert figures.image_data_uri(tmp_path / "a.png").startswith("data:image/png;base64,")
    assert figures.image_data_uri(tmp_path / "b.png") is None
    assert figures.image_data_uri(tmp_path / "c.jpg").startswith("data:image/jpeg;base64,")
    assert figures.image_data_uri(tmp_path / "missing.png") is None


def test_class_summary_has_sortable_links_stats_charts_and_issues(tmp_path):
    good = StudentReport("alice", "hw1", (
        ProblemResult("p4", "Wide minima", (ItemScore("p4-update", "GD", 2.0, 2.0, Status.PASSED, "", "public"),)),
        ProblemResult("p5", "Conv", (
            ItemScore("p5-no-dense", "ban", 8.0, 8.0, Status.PASSED, "", "public"),
            ItemScore("p5-adjoint", "adj", 1.0, 1.0, Status.PASSED, "", "hidden"),
            ItemScore("p5-forward", "fw", 4.0, 4.0, Status.PASSED, "", "public"),
        )),
    ))
    excerpt = SourceExcerpt("conv1D.py", 3, ((3, "A = np.zeros((n, n))"),))
    reports = [sample([excerpt]), good]
    html = render_index(reports)
    rows = re.findall(r'<tr data-student="([^"]+)">', html)
    assert rows == ["alice", "bob&lt;b&gt;"]
    assert 'href="alice/report.html"' in html and 'href="bob%3Cb%3E/report.html"' in html
    assert html.count('class="sortable') == 2 + 5  # student, p4, p5, total, pending, errors, flags
    assert re.search(r'<tr data-problem="total"><td>total: all problems</td><td class="num">15</td>'
                     r'<td class="num">9.50</td><td class="num">9.50</td></tr>', html)
    assert '<figure id="histogram"><img src="data:image/svg+xml;base64,' in html
    assert '<figure id="pass-rates"><img src="data:image/svg+xml;base64,' in html
    kinds = {(i["student"], i["kind"], i["where"], tuple(i["item_ids"])) for i in class_issues(reports)}
    # The class summary is the TA's page: hidden items' findings are listed too.
    assert kinds == {("bob<b>", "timeout", "p4", ("p4-update",)), ("bob<b>", "finding", "p5", ("p5-no-dense",)),
                     ("bob<b>", "finding", "p5", ("p5-adjoint",)), ("bob<b>", "flag", "p5", ()),
                     ("bob<b>", "warning", "", ())}
    assert "<script>alert" not in html.split("<script>\n")[0]
    assert dict(pass_rates(reports))["p5 p5-forward"] == 1.0 and dict(pass_rates(reports))["p4 p4-update"] == 0.5


def test_writer_writes_both_pages(tmp_path, student_dir):
    report = sample()
    HtmlReport().write_student(report, student_dir)
    HtmlReport().write_class([report], tmp_path)
    assert (student_dir / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert (tmp_path / "index.html").exists()


# -- source lines -------------------------------------------------------------

def test_find_locations_matches_whole_file_names_only():
    text = "at conv1D.py:23 in f, numpy/conv1D.py:5, myconv1D.py:7, conv1D.py:23 again, sub/conv1D.py:4, Conv1D (1).py:2"
    assert find_locations(text, ["sub/conv1D.py", "Conv1D (1).py", "conv1D.py"]) == [
        ("conv1D.py", 23), ("sub/conv1D.py", 4), ("Conv1D (1).py", 2)]


def test_attach_sources_reads_the_working_copy_and_skips_bad_lines(tmp_path):
    (tmp_path / "conv1D.py").write_text("import numpy as np\n\ndef f(n):\n    A = np.zeros((n, n))\n    return A\n")
    items = (
        ItemScore("a", "d", 0, 1, Status.FAILED, "dense at conv1D.py:4 in f; also conv1D.py:99", "public"),
        ItemScore("b", "d", 1, 1, Status.PASSED, "nothing to see", "public"),
    )
    result = attach_sources(ProblemResult("p5", "t", items), tmp_path)
    (loc,) = result.items[0].locations
    assert (loc.file, loc.line) == ("conv1D.py", 4)
    assert loc.lines == ((2, ""), (3, "def f(n):"), (4, "    A = np.zeros((n, n))"), (5, "    return A"))
    assert result.items[1].locations == ()
    assert attach_sources(ProblemResult("p5", "t", items), tmp_path / "gone").items[0].locations == ()


def test_class_issues_merge_items_failing_for_one_reason():
    missing = "Missing file: wideMinima.py. Hand it in."
    items = tuple(ItemScore(f"p4-{n}", n, 0.0, 2.0, Status.ERROR, missing, "public") for n in ("a", "b", "c"))
    (issue,) = class_issues([StudentReport("carol", "hw1", (ProblemResult("p4", "Wide minima", items),))])
    assert (issue["kind"], issue["where"], issue["item_ids"], issue["text"]) == ("error", "p4", ["p4-a", "p4-b", "p4-c"], missing)


def test_odd_file_names_and_texts_do_not_stop_the_writer(tmp_path):
    folder = tmp_path / "s"
    (folder / "p4").mkdir(parents=True)
    odd = "fig\udcff.png"  # a name with an undecodable byte, as os.listdir returns it
    (folder / "p4" / odd).write_bytes(TINY_PNG)
    item = ItemScore("p4-update", "GD", 0.0, 2.0, Status.FAILED, "printed \udcff and \x00", "public")
    report = StudentReport("s", "hw1", (ProblemResult("p4", "Wide minima", (item,)),))
    HtmlReport().write_student(report, folder)
    assert "fig?.png" in (folder / "report.html").read_text(encoding="utf-8")


def test_class_summary_lists_the_flagged_pairs_of_a_similarity_report(tmp_path, student_dir):
    from grader.similarity.report import CSV_NAME

    columns = "rank,file,student_a,student_b,similarity_a,similarity_b,shared_tokens,flagged,source_a,source_b,detail"
    rows = ["1,conv1D.py,bob,<carol>,0.950,0.910,120,yes,a,b,similarity.html#pair-1",
            "2,conv1D.py,bob,dave,0.100,0.080,20,no,a,b,"]
    (tmp_path / CSV_NAME).write_text("\n".join([columns, *rows]) + "\n", encoding="utf-8")
    HtmlReport().write_class([sample()], tmp_path)
    html = (tmp_path / "index.html").read_text()
    table = html[html.index('<table id="similar">'):]
    table = table[: table.index("</table>")]
    assert "similarity.html#pair-1" in table and "&lt;carol&gt;" in table and "95%" in table
    assert "dave" not in table  # only flagged pairs
    assert "a reason to look, not a verdict" in html


def test_class_summary_without_a_similarity_report_has_no_similar_section(tmp_path):
    HtmlReport().write_class([sample()], tmp_path)
    assert 'id="similar"' not in (tmp_path / "index.html").read_text()


def test_svg_ticks_are_round_and_cover_the_range_and_text_is_escaped():
    from grader.reports import svg

    assert svg.nice_ticks(0, 1000) == [0, 200, 400, 600, 800, 1000]
    assert svg.nice_ticks(-11, 26) == [-10, 0, 10, 20]
    assert svg.nice_ticks(3, 3) == [3] and svg.nice_ticks(float("nan"), 1) == []
    canvas = svg.Canvas(100, 50)
    canvas.text(10, 10, '<script>alert("x")</script> & co')
    assert "<script>" not in canvas.svg() and "&lt;script&gt;" in canvas.svg() and "&amp; co" in canvas.svg()
