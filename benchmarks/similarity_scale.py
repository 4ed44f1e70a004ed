"""How long ``grade similarity`` takes on a class of 300 students × 2 files (issue 13: under a minute).

A measurement, not a test: it builds a synthetic class in a temporary folder
(the starter plus one of a few implementation styles per problem, with random
names, constants and experiment code, and a few renamed copies), then times
reading + comparing and writing the report, as wall-clock and CPU seconds (the
CPU figure is what a loaded machine does not change much). The class is far more
uniform than a real one (a few templates), so it stresses the pairs that share
code; its flagged count says nothing about a real class. Run it on an idle machine::

    python benchmarks/similarity_scale.py [--students 300] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.intake.layouts import read_class  # noqa: E402
from grader.rubric import load_rubric  # noqa: E402
from grader.similarity import command, report  # noqa: E402

STARTER = ROOT / "reference" / "hw1" / "starter"

FORWARD = [
    "        {o} = np.zeros(n - r + 1)\n        for {i} in range(n - r + 1):\n"
    "            {o}[{i}] = np.dot(self.__filt, vector[{i}:{i} + r])\n        return {o}\n",
    "        return np.asarray([self.__filt @ vector[{i}:{i} + r] for {i} in range(n - r + 1)])\n",
    "        return np.convolve(vector, self.__filt[::-1], mode='valid')\n",
    "        {o} = []\n        for {i} in range(n - r + 1):\n            {s} = 0\n"
    "            for {j} in range(r):\n                {s} += self.__filt[{j}] * vector[{i} + {j}]\n"
    "            {o}.append({s})\n        return np.array({o})\n",
]
TRANSPOSE = [
    "        {o} = np.zeros(n)\n        for {i} in range(vector.size):\n"
    "            {o}[{i}:{i} + r] += vector[{i}] * self.__filt\n        return {o}\n",
    "        {p} = np.concatenate((np.zeros(r - 1), vector, np.zeros(r - 1)))\n"
    "        return np.asarray([self.__filt[::-1] @ {p}[{j}:{j} + r] for {j} in range(n)])\n",
    "        return np.convolve(vector, self.__filt, mode='full')\n",
    "        {o} = np.zeros(n)\n        for {j} in range(n):\n            for {i} in range(r):\n"
    "                if 0 <= {j} - {i} < vector.size:\n"
    "                    {o}[{j}] += self.__filt[{i}] * vector[{j} - {i}]\n"
    "        return {o}\n",
]
EXPERIMENT = [
    "{v} = np.random.randn({n})\nprint('{w}', np.linalg.norm(A @ {v}))\n",
    "for {i} in range({n}):\n    {v} = np.random.randn(n)\n    assert np.allclose(A @ {v}, As @ {v}), {i}\n",
    "{v} = np.random.randn(n - r + 1)\nprint('{w} transpose ok:', np.allclose(A.T @ {v}, As.T @ {v}))\n",
    "def {f}({v}, {u}={c}):\n    return np.sum({v} ** 2) * {u}\n\nprint({f}(x, {c}))\n",
    "# {w}: try another filter\n{v} = Convolution1d(np.ones({n}))\nprint({v} @ np.arange({m}.0))\n",
    "plt.figure()\nplt.plot(x, label='{w}')\nplt.legend()\nplt.savefig('{w}_{n}.png')\n",
]
P4 = [
    "for {a} in ({alphas}):\n    for {t} in range({n}):\n        {x} = np.random.uniform(-5, 20)\n"
    "        for {k} in range({iters}):\n            {x} = {x} - {a} * fprime({x})\n"
    "        print({a}, {t}, {x})\n",
    "def {f}({x}, {a}, {k}={iters}):\n    for _ in range({k}):\n        {x} -= {a} * fprime({x})\n    return {x}\n\n"
    "{res} = {{{a}: [{f}(np.random.uniform(-5, 20), {a}) for _ in range({n})] for {a} in ({alphas})}}\n"
    "print({res})\n",
    "{x} = np.random.uniform(-5, 20, size={n})\nfor {a} in ({alphas}):\n    {y} = {x}.copy()\n"
    "    for {k} in range({iters}):\n        {y} = {y} - {a} * fprime({y})\n"
    "    plt.hist({y}, bins={m}, label=str({a}))\nplt.legend()\nplt.savefig('{w}.png')\n",
]
WORDS = ["check", "test", "result", "value", "out", "tmp", "data", "res", "acc", "vec", "buf", "arr"]


def _names(rng: random.Random) -> dict[str, str]:
    pick = lambda: rng.choice(WORDS) + rng.choice(["", "_", "2", "_v", "s"]) + str(rng.randint(0, 99))  # noqa: E731
    return {
        "o": pick(), "s": pick(), "p": pick(), "v": pick(), "u": pick(), "f": "fn_" + pick(), "x": pick(),
        "y": pick(), "t": pick(), "res": pick(), "a": pick(), "k": pick(), "i": rng.choice("ijkl"),
        "j": rng.choice("mpq"), "w": rng.choice(WORDS), "n": str(rng.randint(3, 50)), "m": str(rng.randint(5, 40)),
        "c": str(round(rng.uniform(0.1, 9), 2)), "iters": str(rng.choice([100, 500, 1000, 2000])),
        "alphas": ", ".join(str(a) for a in rng.sample([0.01, 0.05, 0.1, 0.3, 1, 2, 4], 3)),
    }


def student_files(rng: random.Random) -> dict[str, str]:
    conv = (STARTER / "conv1D.py").read_text()
    first, second, rest = conv.split("        return None\n")
    body = first + rng.choice(FORWARD).format(**_names(rng)) + second + rng.choice(TRANSPOSE).format(**_names(rng))
    body += rest + "".join(rng.choice(EXPERIMENT).format(**_names(rng)) for _ in range(rng.randint(3, 12)))
    p4 = (STARTER / "wideMinima.py").read_text()
    p4 += "".join(rng.choice(P4).format(**_names(rng)) for _ in range(rng.randint(1, 4)))
    return {"conv1D.py": body, "wideMinima.py": p4}


def build_class(root: Path, students: int, copies: int, seed: int = 0) -> set[tuple[str, str]]:
    """Writes the class; returns the planted (original, copy) pairs of student ids."""
    rng = random.Random(seed)
    texts = [student_files(rng) for _ in range(students)]
    planted = set()
    for _ in range(copies):  # a renamed copy of another student's work
        src, dst = rng.sample(range(students), 2)
        texts[dst] = {name: text.replace("vector", "vec_in").replace("self.__filt", "self.__k")
                      for name, text in texts[src].items()}
        planted.add(tuple(sorted((f"student{src:03d}", f"student{dst:03d}"))))
    for n, files in enumerate(texts):
        folder = root / f"student{n:03d}"
        folder.mkdir(parents=True)
        for name, text in files.items():
            (folder / name).write_text(text)
    return planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    rubric = load_rubric(ROOT / "rubrics" / "hw1.toml")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "class"
        planted = build_class(root, args.students, args.copies)
        import copydetect  # noqa: F401  - one-off import (matplotlib), not part of the per-class cost

        for _ in range(args.repeat):
            wall, cpu = time.perf_counter(), time.process_time()
            with read_class(root, rubric) as intake:
                similarity = command.compare(submissions=intake.submissions, rubric=rubric,
                                             threshold=command.DEFAULT_THRESHOLD, min_tokens=command.DEFAULT_MIN_TOKENS)
            compared_wall, compared_cpu = time.perf_counter(), time.process_time()
            report.write(similarity, Path(tmp) / "out")
            done_wall, done_cpu = time.perf_counter(), time.process_time()
            files = len(similarity.code.files)
            flagged = sum(m.flagged for m in similarity.matches)
            found = {(m.student_a, m.student_b) for m in similarity.matches if m.flagged}
            print(f"{args.students} students, {files} files: read + compare {compared_wall - wall:.1f} s "
                  f"(CPU {compared_cpu - cpu:.1f} s), report {done_wall - compared_wall:.1f} s "
                  f"(CPU {done_cpu - compared_cpu:.1f} s), total {done_wall - wall:.1f} s "
                  f"(CPU {done_cpu - cpu:.1f} s), load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
            print(f"  {len(similarity.matches)} (file, pair)s share code, {flagged} flagged; "
                  f"renamed copies planted: {len(planted)}, flagged: {len(planted & found)}")


if __name__ == "__main__":
    main()
