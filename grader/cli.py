"""The ``grade`` command: parses arguments and calls keyword-only functions.

``grade PATH`` is short for ``grade run PATH``. Exit statuses are in
:class:`grader.exitcodes.ExitCode`.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import click

from grader import grade, manual, verify
from grader.context import Context, default_jobs
from grader.dask_grading import DaskSchedulerError
from grader.exitcodes import ExitCode
from grader.manual import ManualScoresError
from grader.rubric import RubricError, find_default_rubric, load_rubric
from grader.sandbox.outside import confine
from grader.submission import SubmissionError

#: Errors that are the user's input, not a grader bug: one line, exit 2.
USAGE_ERRORS: tuple[type[Exception], ...] = (RubricError, SubmissionError, ManualScoresError, DaskSchedulerError)


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
    except USAGE_ERRORS as exc:
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
    grade --sandbox-info          which isolation layers student code gets here
    """


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
@click.option("--no-cache", is_flag=True,
              help="Regrade everything instead of reusing unchanged results from OUT/.cache.")
@click.option("--scheduler", default=None, metavar="tcp://HOST:8786",
              help="Grade on this Dask cluster (needs the [dask] extra); --jobs is then ignored.")
def run_command(
    path: Path, rubric: Path | None, out: Path, jobs: int | None, keep_workdirs: bool, manual_csv: Path | None,
    no_cache: bool, scheduler: str | None,
) -> None:
    """Grade PATH: a class folder, or one student's folder."""
    _invoke(grade.main, rubric=rubric, path=path, out=out, jobs=jobs or default_jobs(),
            ctx=Context(keep_workdirs=keep_workdirs), manual_csv=manual_csv, cache=not no_cache,
            scheduler=scheduler)


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
def manual_template_command(path: Path, rubric: Path | None, out: Path, force: bool) -> None:
    """Write the manual-scores CSV for the class in PATH, and the TA's grading sheet."""
    _invoke(manual.template_main, rubric=rubric, path=path, out=out, force=force, ctx=Context())


if __name__ == "__main__":  # pragma: no cover
    main()
