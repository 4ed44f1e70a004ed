"""The ``grade`` command: parses arguments and calls keyword-only functions.

``grade PATH`` is short for ``grade run PATH``. Exit statuses are in
:class:`grader.exitcodes.ExitCode`.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import click

from grader import check, ci, export, grade, manual, verify
from grader.context import Context, default_jobs
from grader.exitcodes import ExitCode
from grader.intake.layouts import LAYOUT_NAMES
from grader.intake.roster import RosterError
from grader.manual import ManualScoresError
from grader.rubric import RubricError, find_default_rubric, load_rubric
from grader.sandbox.outside import confine
from grader.similarity import command as similarity
from grader.submission import SubmissionError

#: Errors that are the user's input, not a grader bug: one line, exit 2 (see :func:`usage_errors`).
USAGE_ERRORS: tuple[type[Exception], ...] = (RubricError, SubmissionError, ManualScoresError, RosterError)


def usage_errors() -> tuple[type[Exception], ...]:
    """:data:`USAGE_ERRORS`, and an unusable Dask scheduler once a ``--scheduler`` run imported the Dask side.

    grader.dask_grading imports dask.distributed (most of a second), so only a run that uses it does.
    """
    dask = sys.modules.get("grader.dask_grading")
    return USAGE_ERRORS + ((dask.DaskSchedulerError,) if dask is not None else ())


class _DefaultToRun(click.Group):
    """A group where an unknown first word is a path for the ``run`` command."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version", "--sandbox-info"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


def _invoke(func, *, rubric: Path | None, **kwargs) -> None:
    """Loads the rubric, calls a keyword-only command function, and maps failures to exit codes."""
    try:
        loaded = load_rubric(rubric if rubric is not None else find_default_rubric(Path.cwd()))
        code = func(rubric=loaded, **kwargs)
    except usage_errors() as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(ExitCode.USAGE)
    except Exception:  # noqa: BLE001 - a bug in the grader: say so, exit 1
        click.echo("internal error in the grader (please report it):", err=True)
        click.echo(traceback.format_exc(), err=True)
        sys.exit(ExitCode.INTERNAL)
    sys.exit(code if isinstance(code, ExitCode) else ExitCode.OK)


_rubric_option = click.option(
    "--rubric", type=click.Path(path_type=Path), default=None,
    help="Rubric TOML (default: the only rubrics/*.toml).",
)


_layout_option = click.option(
    "--layout", type=click.Choice(LAYOUT_NAMES), default=None,
    help="The class's layout (default: detected, and said in one line).",
)


def _sandbox_info(ctx: click.Context, _param, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(confine.probe().describe())
        ctx.exit(ExitCode.OK)


@click.group(cls=_DefaultToRun, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mfdnn-grader")
@click.option("--sandbox-info", is_flag=True, is_eager=True, expose_value=False, callback=_sandbox_info,
              help="Print which isolation layers student code gets on this machine, and exit.")
def main() -> None:
    """Autograder for HW1 of Mathematical Foundations of Deep Neural Networks.

    \b
    grade submissions/            grade a class (one folder per student)
    grade submissions/alice       grade one student
    grade verify                  check the reference solutions
    grade manual-template submissions/ --out scores.csv
    grade submissions/ --manual scores.csv
    grade check [my_folder]       a student's self-check (public checks only)
    grade ci [PATH] --min-score 60%
    grade export gradescope --out autograder.zip
    grade export student-kit --out kit/
    grade similarity submissions/ which submissions share more than the starter
    grade --sandbox-info          which isolation layers student code gets here
    """


def _verbosity(quiet: bool, verbose: bool) -> int:
    return 0 if quiet else 2 if verbose else 1


def _verbosity_options(func):
    func = click.option("-v", "--verbose", is_flag=True, help="Also show every item's score and status.")(func)
    return click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors (and final scores).")(func)


@main.command("run")
@click.argument("path", type=click.Path(path_type=Path))
@_rubric_option
@click.option("--out", type=click.Path(path_type=Path), default=Path("reports"), show_default=True,
              help="Folder for reports and the gradebook.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Submissions graded in parallel (default: number of cores).")
@click.option("--keep-workdirs", is_flag=True, help="Keep the students' working copies for debugging.")
@click.option("--manual", "manual_csv", type=click.Path(path_type=Path), default=None,
              help="The TA's manual-scores CSV to merge (see `grade manual-template`).")
@click.option("--similarity", "with_similarity", is_flag=True,
              help="Also write the similarity report (see `grade similarity`).")
@_layout_option
@click.option("--prefer", default=None, metavar="newest|largest|NAME",
              help="When two files could be one problem's: the newest, the largest, or the one named NAME.")
@click.option("--roster", type=click.Path(path_type=Path), default=None,
              help="Class roster CSV (id, name, email): missing students get 0 and status 'missing'.")
@click.option("--no-cache", is_flag=True,
              help="Regrade everything instead of reusing unchanged results from OUT/.cache.")
@click.option("--scheduler", default=None, metavar="tcp://HOST:8786",
              help="Grade on this Dask cluster (needs the [dask] extra); --jobs is then ignored.")
@_verbosity_options
def run_command(
    path: Path, rubric: Path | None, out: Path, jobs: int | None, keep_workdirs: bool, manual_csv: Path | None,
    with_similarity: bool, layout: str | None, prefer: str | None, roster: Path | None, no_cache: bool,
    scheduler: str | None, quiet: bool, verbose: bool,
) -> None:
    """Grade PATH: a class folder (any layout in the README), an archive of one, or one student's folder."""
    _invoke(grade.main, rubric=rubric, path=path, out=out, jobs=jobs or default_jobs(),
            ctx=Context(keep_workdirs=keep_workdirs, verbosity=_verbosity(quiet, verbose)), manual_csv=manual_csv,
            layout=layout, prefer=prefer, roster=roster, similarity=with_similarity, cache=not no_cache,
            scheduler=scheduler)


@main.command("check")
@click.argument("path", type=click.Path(path_type=Path), default=Path("."))
@_rubric_option
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Folder for the report (default: a new temporary folder, printed at the end).")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Problems graded in parallel.")
@_verbosity_options
def check_command(path: Path, rubric: Path | None, out: Path | None, jobs: int | None, quiet: bool,
                  verbose: bool) -> None:
    """Self-check PATH (default: this folder) against the public checks; says what is hidden."""
    _invoke(check.main, rubric=rubric, path=path, out=out, jobs=jobs or default_jobs(),
            ctx=Context(verbosity=_verbosity(quiet, verbose)))


@main.command("ci")
@click.argument("path", type=click.Path(path_type=Path), default=Path("."))
@_rubric_option
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Folder for reports, junit.xml and ci.json (default: a temporary folder).")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Problems graded in parallel.")
@click.option("--min-score", default=None, help="Exit 4 below this: points (40) or percent of the autograded maximum (60%).")
@click.option("--junit", type=click.Path(path_type=Path), default=None, help="JUnit XML file (default: OUT/junit.xml).")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None,
              help="JSON summary file (default: OUT/ci.json).")
@click.option("--all-items", is_flag=True, help="Grade hidden items too: only on a runner students cannot read.")
@_verbosity_options
def ci_command(path: Path, rubric: Path | None, out: Path | None, jobs: int | None, min_score: str | None,
               junit: Path | None, json_path: Path | None, all_items: bool, quiet: bool, verbose: bool) -> None:
    """Grade a repository's files in CI: Markdown summary, JUnit XML, JSON, --min-score exit code."""
    _invoke(ci.main, rubric=rubric, path=path, out=out, jobs=jobs or default_jobs(),
            ctx=Context(verbosity=_verbosity(quiet, verbose)), min_score=min_score, junit=junit,
            json_path=json_path, all_items=all_items)


@main.command("export")
@click.argument("kind", type=click.Choice(["gradescope", "student-kit"]))
@_rubric_option
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="gradescope: the zip to write; student-kit: a new folder.")
def export_command(kind: str, rubric: Path | None, out: Path) -> None:
    """Build a Gradescope autograder zip, or the kit students receive (public checks only)."""
    _invoke(export.main, rubric=rubric, kind=kind, out=out, ctx=Context())


@main.command("similarity")
@click.argument("path", type=click.Path(path_type=Path))
@_rubric_option
@click.option("--out", type=click.Path(path_type=Path), default=Path("reports"), show_default=True,
              help="Folder for similarity.html and similarity.csv.")
@click.option("--threshold", type=click.FloatRange(0, 1), default=similarity.DEFAULT_THRESHOLD, show_default=True,
              help="Flag a pair when this share of one student's own code is shared …")
@click.option("--min-tokens", type=click.IntRange(min=1), default=similarity.DEFAULT_MIN_TOKENS, show_default=True,
              help="… and the shared code is at least this many tokens.")
@_layout_option
@click.option("--prefer", default=None, metavar="newest|largest|NAME",
              help="When two files could be one problem's: the newest, the largest, or the one named NAME.")
def similarity_command(
    path: Path, rubric: Path | None, out: Path, threshold: float, min_tokens: int, layout: str | None,
    prefer: str | None,
) -> None:
    """Rank pairs of students in PATH by code they share beyond the starter."""
    _invoke(similarity.main, rubric=rubric, path=path, out=out, threshold=threshold, min_tokens=min_tokens,
            layout=layout, prefer=prefer, ctx=Context())


@main.command("verify")
@_rubric_option
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Keep the reference's and starter's reports here (default: discarded).")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Problems graded in parallel.")
def verify_command(rubric: Path | None, out: Path | None, jobs: int | None) -> None:
    """Check the reference solutions: checks pass, reference full marks, starter 0."""
    _invoke(verify.main, rubric=rubric, ctx=Context(), jobs=jobs or default_jobs(), out=out)


@main.command("manual-template")
@click.argument("path", type=click.Path(path_type=Path))
@_rubric_option
@click.option("--out", type=click.Path(path_type=Path), default=Path("scores.csv"), show_default=True,
              help="The CSV to write; a grading sheet (same name, .md) is written beside it.")
@click.option("--force", is_flag=True, help="Overwrite an existing CSV.")
@_layout_option
def manual_template_command(path: Path, rubric: Path | None, out: Path, force: bool, layout: str | None) -> None:
    """Write the manual-scores CSV for the class in PATH, and the TA's grading sheet."""
    _invoke(manual.template_main, rubric=rubric, path=path, out=out, force=force, ctx=Context(), layout=layout)


if __name__ == "__main__":  # pragma: no cover
    main()
