"""Reads student notebooks (Colab or Jupyter) with nbformat, and picks each problem's cells.

One notebook often holds several problems (``hw1.ipynb`` with the wide-minima
experiment and the convolution class). Which cells a problem takes:

1. Every code cell is parsed; a cell *belongs* to a problem when it defines
   one of the names the rubric's ``defines`` lists for that problem (``f``,
   ``fprime`` for P4; ``Convolution1d`` for P5), or when it uses a name bound
   by an earlier cell that belongs to that problem (the experiment cell that
   builds ``A = Convolution1d(k)`` and the loop that uses ``A``).
2. A problem takes, in order, every cell except those that belong *only* to
   other problems, of which it keeps the top-level imports. Cells that belong
   to no problem (imports, helpers, set-up) and cells shared by several
   problems are always kept; a cell that does not parse is kept (the loader
   reports the syntax error with its line).
3. Skipped cells become a ``# In[N]: skipped …`` comment, so the script a
   problem runs still shows where each cell was.

So a script problem like P4 runs the whole notebook in order minus the other
problems' cells (their heavy experiments), and a definitions problem like P5
loads its definitions without P4's experiment. Markdown cells are not code;
they stay available for the written answers (:func:`markdown_cells`).
"""

from __future__ import annotations

import ast
import json
import warnings

from grader.sandbox.inside.loader import strip_magics


class NotebookError(ValueError):
    """A notebook that cannot be read; the message says why."""


def _read(text: str):
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(
            f"not a readable notebook: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "the file may be cut short or not a notebook: download it again from Colab/Jupyter"
        ) from None
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        raise NotebookError("JSON but not a notebook (no 'cells')")
    version = data.get("nbformat")
    if version != 4:
        raise NotebookError(
            f"nbformat {version!r}, but the grader reads nbformat 4; open and save it in a current Jupyter or Colab"
        )
    import nbformat  # here: nbformat (jsonschema) costs ~0.1 s to import, and most classes hand in scripts

    try:
        with warnings.catch_warnings():
            # Colab and older Jupyter write cells without ids: nbformat warns on each read, on the
            # TA's terminal, about something that changes nothing here.
            warnings.simplefilter("ignore", getattr(nbformat.validator, "MissingIDFieldWarning", UserWarning))
            return nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several unrelated types
        raise NotebookError(f"not a readable notebook ({type(exc).__name__}: {str(exc)[:200]})") from None


def notebook_to_script(text: str) -> str:
    """The notebook's code cells as one Python script.

    Each cell is preceded by a ``# In[N]`` marker so feedback lines can be
    traced back to a cell; magics and shell escapes are commented out.
    """
    return notebook_for_problem(text, (), {})[0]


def notebook_for_problem(
    text: str, own: tuple[str, ...], others: dict[str, tuple[str, ...]], *, keep_imports: bool = True
) -> tuple[str, str]:
    """The script of the cells one problem takes (rule in the module docstring).

    Args:
        own: the names the problem's ``defines`` lists.
        others: the other problems' ids and their ``defines``.
        keep_imports: keep a skipped cell's imports (running needs them; comparing
            a problem's own cells across students does not).

    Returns:
        The script, and a sentence naming the skipped cells ("" when none was skipped).
    """
    notebook = _read(text)
    cells = [
        (number, strip_magics(cell.source)[0])
        for number, cell in enumerate(notebook.cells, start=1)
        if cell.cell_type == "code"
    ]
    owners = _owners(cells, {"": tuple(own), **others}) if others else {}
    parts, skipped = [], {}
    for number, source in cells:
        belongs = owners.get(number, set())
        if belongs and "" not in belongs:
            problems = ", ".join(sorted(belongs))
            imports = _imports(source) if keep_imports else ""
            kept = " (its imports kept)" if imports else ""
            parts.append(f"# In[{number}]: skipped by the grader (this cell belongs to {problems}){kept}\n{imports}")
            skipped.setdefault(problems, []).append(number)
            continue
        parts.append(f"# In[{number}]:\n{source}\n")
    said = "; ".join(
        f"cell{'s' if len(numbers) > 1 else ''} {', '.join(map(str, numbers))} (belonging to {problems})"
        for problems, numbers in skipped.items()
    )
    return "\n".join(parts), (f"these were skipped: {said}." if said else "")


def _imports(source: str) -> str:
    """A cell's top-level import statements, as lines of their own ("" if none, or it does not parse).

    A skipped cell's imports stay: ``import numpy as np`` often sits in the first cell of one
    problem, and the other problem's cells use it. Dropping it gave every later cell a NameError.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ""
    lines = source.splitlines()
    kept = [
        "\n".join(lines[node.lineno - 1:node.end_lineno]).strip() + "\n"
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom)) and node.col_offset == 0
    ]
    return "".join(kept)


def _owners(cells: list[tuple[int, str]], problems: dict[str, tuple[str, ...]]) -> dict[int, set[str]]:
    """Which problems each cell belongs to (``""`` is the problem being graded)."""
    bound: dict[str, set[str]] = {pid: set(names) for pid, names in problems.items()}
    owners: dict[int, set[str]] = {}
    for number, source in cells:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        defines, uses = _binds(tree), _uses(tree)
        belongs = {
            pid for pid, names in problems.items()
            if defines & set(names) or (uses - defines) & bound[pid]
        }
        for pid in problems:
            if pid in belongs:
                bound[pid] |= defines
            else:  # rebound by a cell of someone else: later uses refer to that cell
                bound[pid] -= defines - set(problems[pid])
        if belongs:
            owners[number] = belongs
    return owners


def _binds(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            continue  # an import belongs to whoever uses it
        else:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    names.add(sub.id)
    return names


def _uses(tree: ast.Module) -> set[str]:
    """Names a cell reads from the notebook's globals (not a function's parameters or locals)."""
    return set().union(*(_free(node, frozenset()) for node in tree.body)) if tree.body else set()


def _stored(nodes) -> set[str]:
    return {n.id for node in nodes for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _free(node: ast.AST, local: frozenset) -> set[str]:
    if isinstance(node, ast.Name):
        return {node.id} - local if isinstance(node.ctx, ast.Load) else set()
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        args = node.args
        params = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
        params |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        body = node.body if isinstance(node.body, list) else [node.body]
        outer = [*getattr(node, "decorator_list", []), *args.defaults, *(d for d in args.kw_defaults if d)]
        inner = local | params | _stored(body)
        return set().union(set(), *(_free(n, local) for n in outer), *(_free(n, inner) for n in body))
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
        inner = local | _stored(g.target for g in node.generators)
        return set().union(set(), *(_free(child, inner) for child in ast.iter_child_nodes(node)))
    return set().union(set(), *(_free(child, local) for child in ast.iter_child_nodes(node)))


def markdown_cells(text: str) -> list[str]:
    """The notebook's markdown cells, for the TA's view of written answers."""
    return [cell.source for cell in _read(text).cells if cell.cell_type == "markdown"]
