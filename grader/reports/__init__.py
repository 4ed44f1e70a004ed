"""Report writers, listed explicitly; each is one small class (see base.ReportWriter)."""

from grader.reports.gradebook import GradebookCsv
from grader.reports.gradescope import GradescopeResults
from grader.reports.html import HtmlReport
from grader.reports.json_report import JsonReport
from grader.reports.markdown import MarkdownReport

#: The writers ``grade`` runs, in order; each run makes its own (:func:`make_writers`).
WRITERS = (JsonReport, MarkdownReport, GradescopeResults, GradebookCsv, HtmlReport)


def make_writers() -> list:
    """One instance of each writer, for one run (a writer may keep what it prepared, e.g. compiled templates)."""
    return [writer() for writer in WRITERS]
