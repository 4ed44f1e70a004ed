"""Report writers, listed explicitly; each is one small class (see base.ReportWriter)."""

from grader.reports.gradebook import GradebookCsv
from grader.reports.gradescope import GradescopeResults
from grader.reports.html import HtmlReport
from grader.reports.json_report import JsonReport
from grader.reports.markdown import MarkdownReport

#: The writers ``grade`` runs, in order.
WRITERS = (JsonReport(), MarkdownReport(), GradescopeResults(), GradebookCsv(), HtmlReport())
