"""Generates a synthetic class of N students for the throughput benchmark.

Styles (each student gets one P5 and one P4 style; every file carries the
student's index so no two students hand in the same bytes):

* P5 ``correct``: ``np.correlate`` / ``np.convolve`` (fast, matrix-free);
  ``buggy``: an off-by-one output length; ``dense``: builds the banned
  (n-r+1)×n matrix; ``slow``: pure-Python double loop (correct, O(n·r) in the
  interpreter).
* P4: the sample class's script styles: ``vectorized`` (all starts at once),
  ``function_style`` (a GD function called per start), ``until_tolerance``,
  ``top_level`` (the starter's shape with plt.show).

Usage: ``python benchmarks/synthetic_class.py OUT --students 300 --mix correct|mixed``.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

P5 = {
    "correct": '''import numpy as np


class Convolution1d:
    def __init__(self, k):
        self.k = np.asarray(k, dtype=float)
        self.T = TransposedConvolution1d(self.k)

    def __matmul__(self, x):
        return np.correlate(np.asarray(x, dtype=float), self.k, mode="valid")


class TransposedConvolution1d:
    def __init__(self, k):
        self.k = np.asarray(k, dtype=float)

    def __matmul__(self, y):
        return np.convolve(np.asarray(y, dtype=float), self.k, mode="full")
''',
    "buggy": '''import numpy as np


class Convolution1d:
    def __init__(self, k):
        self.k = np.asarray(k, dtype=float)
        self.T = TransposedConvolution1d(self.k)

    def __matmul__(self, x):
        r = len(self.k)
        return np.asarray([self.k @ x[i:i + r] for i in range(len(x) - r)])


class TransposedConvolution1d:
    def __init__(self, k):
        self.k = np.asarray(k, dtype=float)

    def __matmul__(self, y):
        return np.convolve(np.asarray(y, dtype=float), self.k, mode="full")
''',
    "dense": '''import numpy as np


class Convolution1d:
    def __init__(self, k):
        self.k = np.asarray(k, dtype=float)
        self.T = TransposedConvolution1d(self.k)

    def __matmul__(self, x):
        n, r = len(x), len(self.k)
        A = np.zeros((n - r + 1, n))
        for i in range(n - r + 1):
            A[i, i:i + r] = self.k
        return A @ x


class TransposedConvolution1d:
    def __init__(self, k):
        self.k = np.asarray(k, dtype=float)

    def __matmul__(self, y):
        r = len(self.k)
        n = len(y) + r - 1
        A = np.zeros((n - r + 1, n))
        for i in range(n - r + 1):
            A[i, i:i + r] = self.k
        return A.T @ y
''',
    "slow": '''import numpy as np


class Convolution1d:
    def __init__(self, k):
        self.k = list(map(float, k))
        self.T = TransposedConvolution1d(self.k)

    def __matmul__(self, x):
        r = len(self.k)
        out = []
        for i in range(len(x) - r + 1):
            s = 0.0
            for j in range(r):
                s += self.k[j] * x[i + j]
            out.append(s)
        return np.array(out)


class TransposedConvolution1d:
    def __init__(self, k):
        self.k = k

    def __matmul__(self, y):
        r = len(self.k)
        n = len(y) + r - 1
        out = [0.0] * n
        for i in range(len(y)):
            for j in range(r):
                out[i + j] += self.k[j] * y[i]
        return np.array(out)
''',
}

#: P4 styles, taken from the sample class (their expected outcomes are asserted in tests/expected/).
P4 = {
    "vectorized": ROOT / "submissions" / "p4_vectorized" / "wideMinima.py",
    "function_style": ROOT / "submissions" / "p4_function_style" / "wideMinima.py",
    "until_tolerance": ROOT / "submissions" / "p4_until_tolerance" / "wideMinima.py",
    "top_level": ROOT / "submissions" / "full_marks" / "wideMinima.py",
}

MIXES = {
    # What the speed target is about: correct, fast answers to both problems.
    "correct": [("correct", "vectorized")],
    "mixed": list(zip(itertools.cycle(P5), itertools.islice(itertools.cycle(P4), 8))),
}


def generate(out: Path, students: int, mix: str) -> list[tuple[str, str, str]]:
    """Writes ``students`` folders under ``out``; returns (student, P5 style, P4 style) per student."""
    if out.exists():
        shutil.rmtree(out)
    styles = MIXES[mix]
    made = []
    for i in range(students):
        p5, p4 = styles[i % len(styles)]
        name = f"s{i:04d}_{p5}_{p4}"
        folder = out / name
        folder.mkdir(parents=True)
        stamp = f"# synthetic student {i}\n"
        (folder / "conv1D.py").write_text(stamp + P5[p5], encoding="utf-8")
        (folder / "wideMinima.py").write_text(stamp + P4[p4].read_text(encoding="utf-8"), encoding="utf-8")
        made.append((name, p5, p4))
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--mix", choices=sorted(MIXES), default="correct")
    args = parser.parse_args()
    made = generate(args.out, args.students, args.mix)
    print(f"{len(made)} students in {args.out}")


if __name__ == "__main__":
    main()
