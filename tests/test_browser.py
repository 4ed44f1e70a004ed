"""The HTML reports in a real browser: headless Chromium opens report.html and index.html, the test
queries the DOM over the DevTools protocol and saves screenshots as artifacts.

Needs Debian's ``chromium`` package (``apt-get install -y chromium``). Without it the test is
skipped on a developer's machine but FAILS in CI (``CI`` set), so CI can never pass by skipping it.
Screenshots go to ``$GRADER_TEST_ARTIFACTS/browser`` (default ``test-artifacts/browser``).
"""

import io
import json
import os
import shutil
from pathlib import Path

import pytest

from browser import Browser, find_chromium
from grader import grade
from grader.context import Context
from grader.reports.html import HtmlReport
from grader.rubric import load_rubric

ROOT = Path(__file__).resolve().parents[1]
STUDENTS = ("dense_circulant", "full_marks")
ARTIFACTS = Path(os.environ.get("GRADER_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "browser"

#: A small runs.json as the P4 suite writes it (schema 1), used when the suite wrote none.
RUNS = {"schema": 1, "runs": [
    {"alpha": 0.01, "start": 14.0, "last": 10.0, "steps": 4, "outcome": "wide", "group": "α=0.01", "judged": True,
     "trajectory": [[0, 14.0], [1, 12.0], [2, 11.0], [3, 10.2], [4, 10.0]]},
    {"alpha": 0.01, "start": 1.0, "last": 0.0, "steps": 4, "outcome": "sharp", "group": "α=0.01", "judged": True,
     "trajectory": [[0, 1.0], [1, 0.5], [2, 0.2], [3, 0.05], [4, 0.0]]},
    {"alpha": 4.0, "start": 3.0, "last": 1e300, "steps": 3, "outcome": "diverged", "group": "α=4", "judged": True,
     "trajectory": [[0, 3.0], [1, -40.0], [2, 900.0], [3, 1e300]]},
]}


def chromium_or_fail() -> str:
    binary = find_chromium()
    if binary is None:
        message = ("chromium is not installed: the browser test of the HTML reports needs it "
                   "(apt-get update && apt-get install -y chromium)")
        if os.environ.get("CI"):
            pytest.fail(message + "; in CI this is a failure, not a skip")
        pytest.skip(message)
    return binary


@pytest.fixture(scope="module")
def pages(tmp_path_factory, seed_from_class_run):
    binary = chromium_or_fail()
    work = tmp_path_factory.mktemp("browser")
    for student in STUDENTS:
        shutil.copytree(ROOT / "submissions" / student, work / "class" / student)
    out = work / "reports"
    # The pages are written afresh for a two-student class; the results come from the session's
    # class run through the cache (these tests are about the HTML, the grading is tested there).
    seed_from_class_run(STUDENTS, out)
    said, rubric = io.StringIO(), load_rubric(ROOT / "rubrics" / "hw1.toml")
    reports = grade.main(path=work / "class", rubric=rubric, out=out, jobs=2, ctx=Context(stdout=said, stderr=said))
    reused = len(STUDENTS) * len(rubric.problems)
    assert f"Reused {reused} cached result(s)" in said.getvalue(), said.getvalue()
    full = next(r for r in reports if r.student == "full_marks")
    if not (out / "full_marks" / "p4" / "runs.json").exists():
        (out / "full_marks" / "p4" / "runs.json").write_text(json.dumps(RUNS))
        HtmlReport().write_student(full, out / "full_marks")
    browser = Browser(binary)
    print(f"\nbrowser screenshots: {ARTIFACTS}")
    yield browser, out
    browser.close()


def load(browser, path: Path, name: str, fragment: str = "") -> None:
    browser.events.clear()
    browser.open(path.resolve().as_uri() + fragment)
    browser.screenshot(ARTIFACTS / f"{name}.png")


def images_ok(browser) -> list:
    return browser.evaluate("Array.from(document.images).map(i => [i.alt, i.complete && i.naturalWidth > 0])")


def fetched(browser) -> list:
    """Everything the page loaded that is not a data: URI (must be nothing)."""
    return browser.evaluate(
        "performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith('data:'))"
    )


def test_student_report_shows_guard_findings_with_the_source_line_highlighted(pages):
    browser, out = pages
    load(browser, out / "dense_circulant" / "report.html", "report-dense_circulant")
    assert browser.evaluate("document.querySelector('#student').textContent") == "dense_circulant"
    hits = browser.evaluate(
        "Array.from(document.querySelectorAll('tr.item[data-item=\"p5-no-dense\"] + tr.detail .source'))"
        ".map(s => [s.dataset.file, s.dataset.line, s.querySelector('.line.hit').textContent])"
    )
    assert hits and hits[0][:2] == ["conv1D.py", "23"] and "circulant(" in hits[0][2]
    assert browser.evaluate("getComputedStyle(document.querySelector('.line.hit')).backgroundColor") != "rgba(0, 0, 0, 0)"
    hidden = browser.evaluate(
        "[document.querySelector('tr.item[data-item=\"p5-adjoint\"]').dataset.status,"
        " document.querySelector('tr.item[data-item=\"p5-adjoint\"] + tr.detail') === null"
        " || !document.querySelector('tr.item[data-item=\"p5-adjoint\"] + tr.detail').classList.contains('detail')]"
    )
    assert hidden == ["hidden", True]
    assert all(ok for _, ok in images_ok(browser)) and fetched(browser) == [] and browser.console_errors() == []


def test_student_report_embeds_the_runs_plot_and_the_students_figures(pages):
    browser, out = pages
    load(browser, out / "full_marks" / "report.html", "report-full_marks")
    images = images_ok(browser)
    assert any(alt.startswith("Observed GD runs") and ok for alt, ok in images)
    figures = browser.evaluate("Array.from(document.querySelectorAll('figure.student-figure img')).map(i => i.alt)")
    assert figures and all(ok for alt, ok in images if alt in figures)
    rows = browser.evaluate("document.querySelectorAll('#problem-p4 table.runs tr').length")
    assert rows >= 4  # a header and at least three runs
    assert fetched(browser) == [] and browser.console_errors() == []


def test_class_summary_sorts_links_and_lists_issues(pages):
    browser, out = pages
    load(browser, out / "index.html", "index-sorted-by-total", "#sort=total")
    order = browser.evaluate("Array.from(document.querySelectorAll('#students tbody tr')).map(r => r.dataset.student)")
    assert order == ["full_marks", "dense_circulant"]  # full marks first: sorted by total, descending
    browser.evaluate("document.querySelector('#students th[data-key=\"student\"]').click()")
    browser.evaluate("document.querySelector('#students th[data-key=\"student\"]').click()")
    order = browser.evaluate("Array.from(document.querySelectorAll('#students tbody tr')).map(r => r.dataset.student)")
    assert order == ["dense_circulant", "full_marks"]
    links = browser.evaluate("Array.from(document.querySelectorAll('#students a')).map(a => a.href)")
    assert sorted(Path(link.removeprefix("file://")).relative_to(out.resolve()).as_posix() for link in links) == [
        "dense_circulant/report.html", "full_marks/report.html"]
    assert all((out / s / "report.html").exists() for s in STUDENTS)
    stats = browser.evaluate("Array.from(document.querySelectorAll('#stats tr[data-problem]')).map(r => r.dataset.problem)")
    assert stats == ["p1", "p2", "p3", "p4", "p5", "total"]
    kinds = browser.evaluate(
        "Array.from(document.querySelectorAll('#issues tr.issue')).map(r => [r.cells[0].textContent, r.dataset.kind])"
    )
    assert ["dense_circulant", "finding"] in kinds and ["dense_circulant", "error"] in kinds  # no wideMinima.py
    assert not any(student == "full_marks" for student, _ in kinds)
    images = images_ok(browser)
    assert {alt for alt, ok in images if ok} >= {"Histogram of totals", "Pass rate per item"}
    assert fetched(browser) == [] and browser.console_errors() == []


def test_missing_chromium_fails_in_ci_and_skips_elsewhere(monkeypatch):
    import test_browser

    monkeypatch.setattr(test_browser, "find_chromium", lambda: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="in CI this is a failure"):
        chromium_or_fail()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium"):
        chromium_or_fail()
