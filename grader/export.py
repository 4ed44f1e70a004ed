"""``grade export``: packages the grader for Gradescope, or as the kit students receive.

* ``gradescope``: a zip with ``setup.sh``, ``run_autograder``, the engine, this
  rubric and its suites (hidden items included: Gradescope keeps them until
  grades are published). ``run_autograder`` grades ``$AUTOGRADER_ROOT/submission``
  (default ``/autograder``) and writes ``results/results.json``.
* ``student-kit``: the engine, the rubric without hidden items, and its suites
  with every hidden test function cut out; no reference solutions, no starter
  checks. Building it fails if a hidden test's name or an hidden item's id is
  still found in any file, so a kit that leaks is never written.
"""

from __future__ import annotations

import ast
import importlib.metadata
import shutil
import stat
import tempfile
import tomllib
import zipfile
from pathlib import Path

from grader import public, toml_out
from grader.context import Context
from grader.exitcodes import ExitCode
from grader.rubric import Rubric, RubricError, load_rubric

#: The grader's checkout (its ``grader/`` package and ``pyproject.toml``).
_ROOT = Path(__file__).resolve().parents[1]

#: Assignment keys an exported grader does not need (they point at the reference solutions).
_REFERENCE_KEYS = ("reference", "starter", "checks")

_SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once when building the autograder image.
set -euo pipefail
cd "$(dirname "$0")"
if python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  PY=python3
else  # the grader needs Python >= 3.11 (tomllib); Gradescope's Ubuntu 22.04 image has 3.10
  apt-get update && apt-get install -y python3.11 python3.11-venv
  PY=python3.11
fi
"$PY" -m venv /autograder/venv
/autograder/venv/bin/python -m pip install --upgrade pip
/autograder/venv/bin/python -m pip install -r requirements.txt
"""

_RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission: grades $ROOT/submission, writes $ROOT/results/results.json.
# AUTOGRADER_ROOT and AUTOGRADER_PYTHON override the defaults (tests use a fake /autograder tree).
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
if [ -n "${{AUTOGRADER_PYTHON:-}}" ]; then PY="$AUTOGRADER_PYTHON"
elif [ -x "$ROOT/venv/bin/python" ]; then PY="$ROOT/venv/bin/python"
else PY=python3; fi
OUT="$(mktemp -d)"
mkdir -p "$ROOT/results"
cd "$ROOT/source"
"$PY" -m grader.cli run "$ROOT/submission" --out "$OUT" --rubric "rubrics/{rubric}"
status=$?
# The submission folder is one student; a hand-in that is one folder inside it is graded under that name.
found=$(find "$OUT" -mindepth 2 -maxdepth 2 -name results.json)
if [ "$(printf '%s\\n' "$found" | grep -c .)" -ne 1 ]; then
  echo "run_autograder: expected one results.json under $OUT (grade exit $status), found: $found" >&2
  exit 1
fi
cp "$found" "$ROOT/results/results.json"
exit $status
"""

_KIT_README = """# {title}: self-check kit

Run the public checks of {rubric_id} on your own files before you hand them in.

```bash
python3 -m pip install -r requirements.txt   # once (Python >= 3.11)
python3 -m grader.cli check path/to/your/folder
```

It prints what passed, what to fix and your public score, and writes a full
report (HTML and Markdown) whose path it prints. Hidden checks are not in this
kit: they are not run and not counted, so your final grade can differ.
"""


class ExportError(RubricError):
    """The export cannot be built (a path outside the rubric folder, a kit that would leak)."""


def main(*, rubric: Rubric, kind: str, out: Path, ctx: Context) -> ExitCode:
    """Builds the export ``kind`` (``gradescope`` or ``student-kit``) at ``out``."""
    if kind == "gradescope":
        gradescope(rubric, out)
    elif kind == "student-kit":
        student_kit(rubric, out)
    else:  # the CLI's choice list prevents this
        raise ExportError(f"unknown export {kind!r}")
    ctx.say(f"Wrote {out}")
    return ExitCode.OK


def gradescope(rubric: Rubric, out: Path) -> None:
    """Writes the Gradescope autograder zip ``out``."""
    with tempfile.TemporaryDirectory(prefix="grade-export-") as tmp:
        root = Path(tmp)
        _copy_engine(root)
        name = _write_rubric(rubric, root, public_only=False)
        _write_executable(root / "setup.sh", _SETUP_SH)
        _write_executable(root / "run_autograder", _RUN_AUTOGRADER.format(rubric=name))
        load_rubric(root / "rubrics" / name)  # the packaged rubric must load on its own
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    info = zipfile.ZipInfo.from_file(path, path.relative_to(root).as_posix())
                    with open(path, "rb") as fh:
                        archive.writestr(info, fh.read(), zipfile.ZIP_DEFLATED)


def student_kit(rubric: Rubric, out: Path) -> None:
    """Writes the student kit into the folder ``out`` (which must not exist or be empty)."""
    if out.exists() and any(out.iterdir()):
        raise ExportError(f"{out}: folder is not empty; choose a new folder for the kit")
    with tempfile.TemporaryDirectory(prefix="grade-kit-") as tmp:
        root = Path(tmp) / "kit"
        root.mkdir()
        _copy_engine(root)
        name = _write_rubric(rubric, root, public_only=True)
        (root / "README.md").write_text(
            _KIT_README.format(title=rubric.title, rubric_id=rubric.id), encoding="utf-8"
        )
        load_rubric(root / "rubrics" / name)
        leaks = find_leaks(rubric, root)
        if leaks:
            raise ExportError("the student kit would reveal hidden checks: " + "; ".join(leaks))
        out.mkdir(parents=True, exist_ok=True)
        shutil.copytree(root, out, dirs_exist_ok=True)


def find_leaks(rubric: Rubric, folder: Path) -> list[str]:
    """Files under ``folder`` that name a hidden test or hidden item (``file: name``)."""
    hidden = public.hidden_test_names(rubric) | {
        i.id for p in rubric.problems for i in p.items if i.visibility == "hidden"
    }
    leaks = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        leaks += [f"{path.relative_to(folder)}: {name}" for name in sorted(hidden) if name in text]
    return leaks


def requirements() -> list[str]:
    """The grader's runtime dependencies, from its pyproject.toml (or the installed metadata)."""
    pyproject = _ROOT / "pyproject.toml"
    if pyproject.is_file():
        return list(tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"])
    return [r for r in importlib.metadata.requires("mfdnn-grader") or [] if "extra ==" not in r]


def _copy_engine(root: Path) -> None:
    shutil.copytree(_ROOT / "grader", root / "grader", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (root / "requirements.txt").write_text("\n".join(requirements()) + "\n", encoding="utf-8")


def _write_rubric(rubric: Rubric, root: Path, *, public_only: bool) -> str:
    """Writes the rubric (without reference keys, optionally without hidden items) and its content folders."""
    data = tomllib.loads(rubric.path.read_text(encoding="utf-8"))
    for key in _REFERENCE_KEYS:
        data.get("assignment", {}).pop(key, None)
    hidden_tests = public.hidden_test_names(rubric) if public_only else set()
    if public_only:
        hidden_ids = {i.id for p in rubric.problems for i in p.items if i.visibility == "hidden"}
        problems = []
        for problem in data["problems"]:
            problem["items"] = [i for i in problem["items"] if i.get("id") not in hidden_ids]
            for item in problem["items"]:  # as public.public_rubric: drop requirements on hidden items
                if set(item.get("requires", ())) & hidden_ids:
                    item["requires"] = [r for r in item["requires"] if r not in hidden_ids]
                    if not item["requires"]:
                        del item["requires"]
                        item.pop("requires_policy", None)
            if problem["items"]:
                problems.append(problem)
        data["problems"] = problems
    base = rubric.path.parent.resolve()
    target = root / "rubrics"
    target.mkdir(parents=True, exist_ok=True)
    for folder in sorted(_content_folders(rubric, data, base)):
        shutil.copytree(base / folder, target / folder, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    if public_only:
        used = {(base / p["suite"]).resolve() for p in data["problems"] if p.get("suite")}
        for problem in rubric.problems:
            if problem.suite is None:
                continue
            copy = target / problem.suite.resolve().relative_to(base)
            if problem.suite.resolve() not in used:
                copy.unlink(missing_ok=True)  # every item of this suite is hidden
            elif copy.is_file():
                copy.write_text(strip_tests(copy.read_text(encoding="utf-8"), hidden_tests), encoding="utf-8")
    name = rubric.path.name
    (target / name).write_text(
        f"# Exported from {rubric.path.name} by `grade export`.\n" + toml_out.dumps(data), encoding="utf-8"
    )
    return name


def _content_folders(rubric: Rubric, data: dict, base: Path) -> set[Path]:
    """Folders (relative to the rubric) holding the suites and plugins the exported rubric names."""
    folders = set()
    for problem in data["problems"]:
        paths = [problem["suite"]] if problem.get("suite") else []
        paths += [p["path"] if isinstance(p, dict) else p for p in problem.get("plugins", [])]
        for relative in paths:
            resolved = (base / relative).resolve()
            if not resolved.is_relative_to(base) or resolved.parent == base:
                raise ExportError(
                    f"{rubric.path}: problem {problem.get('id')}: {relative} must be in a folder beside the rubric "
                    "(e.g. rubrics/hw1/) to be exported"
                )
            folders.add(resolved.parent.relative_to(base))
    return folders


def strip_tests(source: str, names: set[str]) -> str:
    """``source`` without the top-level (or Test-class) test functions in ``names``, decorators included."""
    if not names:
        return source
    tree = ast.parse(source)
    cut: list[tuple[int, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            cut.append((first, node.end_lineno))
    lines = source.splitlines(keepends=True)
    keep = "".join(line for number, line in enumerate(lines, 1) if not any(a <= number <= b for a, b in cut))
    try:
        ast.parse(keep)
    except SyntaxError as exc:  # e.g. a Test class whose only tests were hidden
        raise ExportError(f"cutting hidden tests out of a suite leaves invalid Python (line {exc.lineno}): "
                          "keep hidden tests at top level or with a public test in their class") from None
    return keep


def _write_executable(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
