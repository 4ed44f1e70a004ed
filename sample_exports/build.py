"""Rebuilds the sample LMS exports from the sample class (``python sample_exports/build.py``).

Each export is a small class in the layout an LMS gives a TA; the expected
results are in ``tests/expected_exports/<layout>.toml``. The archives are
built with fixed timestamps, so rebuilding gives the same bytes.
"""

from __future__ import annotations

import gzip
import io
import shutil
import tarfile
import zipfile
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FULL = ROOT / "submissions" / "full_marks"
STARTER = ROOT / "reference" / "hw1" / "starter"
STAMP = (2026, 3, 20, 21, 0, 0)


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def hw1_notebook() -> str:
    """A Colab notebook holding P4 and P5, with the usual Colab leftovers around them."""
    conv = _text(FULL / "conv1D.py")
    defs, experiment = conv.split("r, n, lam = 3, 20, 0.1", 1)
    wide = _text(FULL / "wideMinima.py")
    wide_defs, wide_run = wide.split("np.random.seed(2024)", 1)
    nb = nbformat.v4.new_notebook()
    nb.metadata["colab"] = {"provenance": []}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# HW1\nProblems 4 and 5 in one notebook."),
        nbformat.v4.new_code_cell("!wget -q https://raw.githubusercontent.com/example/colab-pdf/main/colab_pdf.py\n"
                                  "from colab_pdf import colab_pdf"),
        nbformat.v4.new_code_cell("from google.colab import drive\ndrive.mount('/content/drive')"),
        nbformat.v4.new_markdown_cell("## Problem 4: wide minima"),
        nbformat.v4.new_code_cell(wide_defs.strip()),
        nbformat.v4.new_code_cell("np.random.seed(2024)" + wide_run.rstrip()),
        nbformat.v4.new_markdown_cell("## Problem 5: convolution"),
        nbformat.v4.new_code_cell(defs.strip()),
        nbformat.v4.new_code_cell(("r, n, lam = 3, 20, 0.1" + experiment).strip()),
        nbformat.v4.new_code_cell("colab_pdf('HW1.ipynb')"),
    ]
    return nbformat.writes(nb)


def canvas(out: Path) -> None:
    """Flat Canvas download: a resubmission, a LATE notebook, a PDF named .py and a cp949 file."""
    out.mkdir(parents=True)
    (out / "kimminjun_1001_50001_conv1D.py").write_text(_text(STARTER / "conv1D.py"), encoding="utf-8")
    (out / "kimminjun_1001_50002_conv1D-1.py").write_text(_text(FULL / "conv1D.py"), encoding="utf-8")
    (out / "kimminjun_1001_50003_wideMinima.py").write_text(_text(FULL / "wideMinima.py"), encoding="utf-8")
    (out / "leejisoo_LATE_1002_50004_HW1.ipynb").write_text(hw1_notebook(), encoding="utf-8")
    (out / "parkseoyeon_1003_50005_conv1D.py").write_bytes(
        b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    )
    korean = "# 문제 4: 넓은 최솟값으로 수렴하는 경사 하강법\n" + _text(FULL / "wideMinima.py")
    (out / "parkseoyeon_1003_50006_wideMinima.py").write_bytes(korean.encode("cp949"))


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, STAMP), data)


def zips(out: Path) -> None:
    """A folder of per-student archives: a macOS zip, a .tar.gz with two candidates, a zip with a hostile member."""
    out.mkdir(parents=True)
    full_conv, full_wide = (FULL / "conv1D.py").read_bytes(), (FULL / "wideMinima.py").read_bytes()
    _zip(out / "choi_yuna.zip", {
        "hw1/conv1D.py": full_conv,
        "hw1/wideMinima.py": full_wide,
        "__MACOSX/hw1/._conv1D.py": b"\x00\x05\x16\x07",
        "hw1/.DS_Store": b"\x00\x00\x00\x01Bud1",
    })
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in (("conv1D.py", b""), ("conv1D (1).py", full_conv)):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1774000000
            tf.addfile(info, io.BytesIO(data))
    (out / "jung_hoon.tar.gz").write_bytes(gzip.compress(buffer.getvalue(), mtime=0))
    _zip(out / "han_mirae.zip", {
        "../../escaped.py": b"print('outside')\n",
        "conv1D.py": _text(STARTER / "conv1D.py").encode(),
        "wideMinima.py": full_wide,
    })


def gradescope(out: Path) -> None:
    """A Gradescope export: an on-time student, a late notebook, and a group of two."""
    out.mkdir(parents=True)
    for folder, files in {
        "submission_311001": {"conv1D.py": _text(FULL / "conv1D.py"), "wideMinima.py": _text(FULL / "wideMinima.py")},
        "submission_311002": {"HW1.ipynb": hw1_notebook()},
        "submission_311003": {"conv1D.py": _text(FULL / "conv1D.py")},
    }.items():
        (out / folder).mkdir()
        for name, text in files.items():
            (out / folder / name).write_text(text, encoding="utf-8")
    (out / "submission_metadata.yml").write_text("""\
---
submission_311001:
  :submitters:
  - :name: Seo Jiwoo
    :sid: '2026-10001'
    :email: jiwoo@example.edu
  :created_at: 2026-03-20 22:41:07.123456789 +09:00
  :score: 0.0
submission_311002:
  :submitters:
  - :name: Kang Minseo
    :sid: '2026-10002'
    :email: minseo@example.edu
  :created_at: 2026-03-22 08:15:00.000000000 +09:00
  :score: 0.0
submission_311003:
  :submitters:
  - :name: Yoon Dohyun
    :sid: '2026-10003'
    :email: dohyun@example.edu
  - :name: Lim Sora
    :sid: '2026-10004'
    :email: sora@example.edu
  :created_at: 2026-03-20 12:00:00.000000000 +09:00
  :score: 0.0
""", encoding="utf-8")


def moodle(out: Path) -> None:
    """A Moodle download: one folder per participant and plugin."""
    out.mkdir(parents=True)
    first = out / "Oh Sejin_20041_assignsubmission_file_"
    first.mkdir()
    (first / "conv1D.py").write_text(_text(FULL / "conv1D.py"), encoding="utf-8")
    (first / "wideMinima.py").write_text(_text(FULL / "wideMinima.py"), encoding="utf-8")
    second = out / "Baek Harin_20042_assignsubmission_file_"
    second.mkdir()
    (second / "conv1D.py").write_text(_text(STARTER / "conv1D.py"), encoding="utf-8")
    text = out / "Baek Harin_20042_assignsubmission_onlinetext_"
    text.mkdir()
    (text / "onlinetext.html").write_text("<p>My proofs are in the PDF.</p>", encoding="utf-8")


def main() -> None:
    for name, build in (("canvas", canvas), ("zips", zips), ("gradescope", gradescope), ("moodle", moodle)):
        target = HERE / name
        shutil.rmtree(target, ignore_errors=True)
        build(target)
    roster = "id,name,email\n1001,Kim Minjun,minjun@example.edu\n1002,Lee Jisoo,jisoo@example.edu\n" \
             "1004,Song Taeyang,taeyang@example.edu\n"
    (HERE / "canvas_roster.csv").write_text(roster, encoding="utf-8")


if __name__ == "__main__":
    main()
