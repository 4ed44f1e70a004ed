"""Reads student notebooks (Colab or Jupyter) with nbformat."""

from __future__ import annotations

import nbformat

from grader.sandbox.inside.loader import strip_magics


class NotebookError(ValueError):
    """A notebook that cannot be read; the message says why."""


def _read(text: str):
    try:
        return nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several unrelated types
        raise NotebookError(f"not a readable notebook ({type(exc).__name__}: {str(exc)[:200]})") from None


def notebook_to_script(text: str) -> str:
    """The notebook's code cells as one Python script.

    Each cell is preceded by a ``# In[N]`` marker so feedback lines can be
    traced back to a cell; magics and shell escapes are commented out.
    """
    notebook = _read(text)
    parts = []
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.cell_type != "code":
            continue
        source, _ = strip_magics(cell.source)
        parts.append(f"# In[{number}]:\n{source}\n")
    return "\n".join(parts)


def markdown_cells(text: str) -> list[str]:
    """The notebook's markdown cells, for the TA's view of written answers."""
    return [cell.source for cell in _read(text).cells if cell.cell_type == "markdown"]
