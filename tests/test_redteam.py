"""Red team: hostile submissions graded in one batch beside an honest one.

Every case of :mod:`redteam_cases` is the starter (0 points on P5) plus one
attack. The whole class is graded once (module-scoped, P5 only, two jobs), as
a TA would, with a TCP and a UDP listener open on 127.0.0.1 and a correct
``conv1D.py`` planted where an unconfined child could find it. Then, per case
and for the machine as a whole:

* the batch completes and the honest student's result is what it is alone;
* the hostile student gets no more than the starter's 0, with a clear status
  and never "internal grader error";
* nothing outside its working copy changed: class folder, reports,
  ``$HOME``, ``rubrics/``, ``reference/``, the grader, ``/tmp``;
* no process it started survives (found by the run's token or working
  folder, not by uid: other graders may run on the machine); nothing reached
  the listeners.

``test_degraded_sandbox_warns`` grades with the sandbox forced down to
rlimits only and checks that the run says so, and that rlimits alone still
contain the attacks they are meant for.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import shutil
import socket
import threading
import tomllib
import uuid
from pathlib import Path

import pytest

import redteam_cases
from proc_scan import live_processes
from grader import grade
from grader.context import Context
from grader.models import Status
from grader.rubric import load_rubric
from grader.sandbox.outside import confine

ROOT = Path(__file__).resolve().parents[1]
RUBRIC = load_rubric(ROOT / "rubrics" / "hw1.toml")
#: Attacks that loop or recurse forever wait out the time limit (spinning, on every core the batch
#: has), and the suite is about what the sandbox contains, not about the length of the limit: P5
#: with 6 s instead of hw1's 20 s. The honest student's child needs 0.2 s idle, and under 2 s with
#: six busy loops beside a two-job batch on the 2-core machine (measured): a margin of 3x there.
#: Two cases (three busy processes) wait out the whole limit side by side: each second of it costs
#: ~3 s of CPU that the rest of the suite could use.
RED_TEAM_SECONDS = 6.0
P5_ONLY = dataclasses.replace(RUBRIC, problems=tuple(
    dataclasses.replace(p, timeout=RED_TEAM_SECONDS) for p in RUBRIC.problems if p.id == "p5"))
#: The degraded run's attacks stop at once (memory, a crash, killing the judge): none waits out the
#: limit, so it keeps hw1's own. Without the zygote every child there is a fresh interpreter, and 6 s
#: was once too little for the honest student while the whole suite ran.
P5_HW1_LIMIT = dataclasses.replace(RUBRIC, problems=tuple(p for p in RUBRIC.problems if p.id == "p5"))
EXPECTED = Path(__file__).with_name("expected")
HONEST = "honest_full_marks"
CASES = sorted(redteam_cases.ATTACKS)
FORGED_NAMES = ("results.json", "gradebook.csv", "report.json")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        any(layer not in confine.probe("auto").active for layer in confine.LAYERS),
        reason="the red-team suite asserts the full sandbox (Linux, root or user namespaces)",
    ),
]


class _Listeners:
    """A TCP and a UDP socket on 127.0.0.1 that record anything that reaches them."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(16)
        self.tcp.settimeout(0.2)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp.settimeout(0.2)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True),
                         threading.Thread(target=self._recv, daemon=True)]
        for thread in self._threads:
            thread.start()

    @property
    def ports(self) -> tuple[int, int]:
        return self.tcp.getsockname()[1], self.udp.getsockname()[1]

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self.tcp.accept()
            except OSError:
                continue
            self.received.append(f"tcp connection from {peer}")
            conn.close()

    def _recv(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.udp.recvfrom(4096)
            except OSError:
                continue
            self.received.append(f"udp {data!r} from {peer}")

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self.tcp.close()
        self.udp.close()


def _hashes(folder: Path) -> dict[str, str]:
    """Content hash of every file under ``folder`` (symlinks by target), ignoring caches."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if "__pycache__" in path.parts or ".pytest_cache" in path.parts:
            continue
        if path.is_symlink():
            out[str(path)] = "-> " + os.readlink(path)
        elif path.is_file():
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out



def _grade(class_dir: Path, out: Path, work: Path, rubric=P5_ONLY) -> tuple[list, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    ctx = Context(stdout=stdout, stderr=stderr, tmp_root=work, keep_workdirs=True)
    reports = grade.main(path=class_dir, rubric=rubric, out=out, jobs=2, ctx=ctx)
    return reports, stderr.getvalue()


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    token = "rt" + uuid.uuid4().hex[:10]
    base = tmp_path_factory.mktemp("redteam")
    planted = base / f"planted-{token}"
    planted.mkdir()
    shutil.copyfile(ROOT / "reference" / "hw1" / "conv1D.py", planted / "conv1D.py")
    class_dir = base / "class"
    (class_dir / HONEST).mkdir(parents=True)
    shutil.copyfile(ROOT / "submissions" / "full_marks" / "conv1D.py", class_dir / HONEST / "conv1D.py")
    listeners = _Listeners()
    tcp, udp = listeners.ports
    for case in CASES:
        (class_dir / case).mkdir()
        (class_dir / case / "conv1D.py").write_text(
            redteam_cases.source(case, token, tcp, udp, str(planted)), encoding="utf-8"
        )
    home = Path(os.path.expanduser("~"))
    watched = [class_dir, ROOT / "rubrics", ROOT / "reference", ROOT / "grader", planted]
    before = {str(folder): _hashes(folder) for folder in watched}
    home_before = set(os.listdir(home))
    tmp_before = set(os.listdir("/tmp"))
    out, work = base / "reports", base / "work"
    work.mkdir()
    try:
        reports, warnings = _grade(class_dir, out, work)
    finally:
        listeners.close()
    after = {str(folder): _hashes(folder) for folder in watched}
    return {
        "token": token,
        "reports": {r.student: r for r in reports},
        "out": out,
        "work": work,
        "warnings": warnings,
        "changed": {k: sorted(set(before[k].items()) ^ set(after[k].items())) for k in before},
        "home_new": sorted(set(os.listdir(home)) - home_before),
        "tmp_new": sorted(set(os.listdir("/tmp")) - tmp_before),
        "survivors": live_processes(token, str(work)),
        "received": list(listeners.received),
    }


def _diary(batch, case: str) -> str:
    path = batch["work"]
    found = list(path.glob(f"grader-*/{case}/p5/work/diary.txt"))
    return "".join(p.read_text(errors="replace") for p in found)


def _p5(batch, student: str):
    report = batch["reports"][student]
    return next(p for p in report.problems if p.id == "p5")


def test_batch_completes_and_the_sandbox_is_full(batch):
    assert sorted(batch["reports"]) == sorted([HONEST, *CASES])
    assert "sandbox degraded" not in batch["warnings"], batch["warnings"]
    report = json.loads((batch["out"] / HONEST / "report.json").read_text())
    assert report["sandbox"] == {"layers": [*confine.LAYERS, "rlimits"], "missing": []}


def test_honest_result_is_unchanged(batch):
    expected = tomllib.loads((EXPECTED / "full_marks.toml").read_text())["problems"]["p5"]
    p5 = _p5(batch, HONEST)
    assert {i.id: i.status.value for i in p5.items} == expected["items"], [i.feedback for i in p5.items]
    assert p5.score == pytest.approx(expected["score"])


@pytest.mark.parametrize("case", CASES)
def test_hostile_gets_no_more_than_its_honest_score_with_a_clear_status(batch, case):
    starter = tomllib.loads((EXPECTED / "starter_unimplemented.toml").read_text())["problems"]["p5"]
    p5 = _p5(batch, case)
    detail = json.dumps([[i.id, i.status.value, i.feedback] for i in p5.items], indent=1) + _diary(batch, case)
    assert p5.score <= starter["score"], detail
    assert all(i.status.value != "passed" for i in p5.items), detail
    assert all(i.feedback.strip() for i in p5.items), detail
    assert not any("Internal grader error" in i.feedback for i in p5.items), detail


# What each attack must have run into, in its own words (diary) or in the feedback.
_EVIDENCE = {
    "fork_bomb": ("diary", "fork failed: capped"),
    "allocate_6gib": ("diary", "MemoryError"),
    "segfault_ctypes": ("feedback", "SIGSEGV"),
    "ignore_sigterm_and_loop": ("feedback", "time limit"),
    "read_reference": ("diary", "ModuleNotFoundError"),
    "walk_for_answers": ("diary", "no answer found"),
    "tcp_to_localhost": ("diary", "tcp failed"),
    "udp_to_localhost": ("diary", "udp failed"),
    "dns_lookup": ("diary", "dns failed"),
    "kill_parent": ("diary", "attack raised PermissionError"),  # its parent is the namespace's init, root
    "stdout_flood": ("diary", "File too large"),
    "exit_at_import": ("feedback", "exit"),
}


@pytest.mark.parametrize("case", sorted(_EVIDENCE))
def test_attack_was_tried_and_contained(batch, case):
    where, needle = _EVIDENCE[case]
    diary = _diary(batch, case)
    text = diary if where == "diary" else " ".join(i.feedback for i in _p5(batch, case).items)
    assert needle in text, f"{case}: {needle!r} not in {where}: {text[:2000]}"
    for success in ("overwrote", "wrote into", "delegating", "imported the reference", "tcp connected",
                    "udp sent", "dns resolved", "allocated"):
        assert success not in diary, f"{case} diary: {diary}"


@pytest.mark.parametrize("case", ["write_classmates_relative", "write_through_proc",
                                  "write_reports_grader_home_tmp", "forge_results"])
def test_writes_reach_nothing_outside_the_working_copy(batch, case):
    diary = _diary(batch, case)
    assert "overwrote" not in diary and "wrote into" not in diary, diary
    assert "patched the hidden tests" not in diary, diary


def test_no_file_outside_the_working_copies_changed(batch):
    assert batch["changed"] == {k: [] for k in batch["changed"]}
    token = batch["token"]
    assert not [n for n in batch["home_new"] if token in n or n in FORGED_NAMES], batch["home_new"]
    assert not [n for n in batch["tmp_new"] if token in n or n in FORGED_NAMES], batch["tmp_new"]
    assert not [p for p in batch["out"].rglob("*") if token in p.name]
    for student in batch["reports"]:
        report = json.loads((batch["out"] / student / "report.json").read_text())
        assert report["student"] == student  # written by the grader, not forged


def test_no_process_survives(batch):
    assert batch["survivors"] == []


def test_nothing_reached_the_listeners(batch):
    assert batch["received"] == []


def test_degraded_sandbox_warns_and_rlimits_still_hold(tmp_path, monkeypatch):
    """Forced down to rlimits only: the run says what is missing, and resource attacks are still capped."""
    monkeypatch.setenv(confine.MODE_VARIABLE, "rlimits")
    class_dir = tmp_path / "class"
    (class_dir / HONEST).mkdir(parents=True)
    shutil.copyfile(ROOT / "submissions" / "full_marks" / "conv1D.py", class_dir / HONEST / "conv1D.py")
    for case in ("allocate_6gib", "segfault_ctypes", "kill_parent"):
        (class_dir / case).mkdir()
        (class_dir / case / "conv1D.py").write_text(redteam_cases.source(case, "degraded", 1, 1, "/nonexistent"))
    (tmp_path / "work").mkdir()
    reports, warnings = _grade(class_dir, tmp_path / "reports", tmp_path / "work", P5_HW1_LIMIT)
    lines = [line for line in warnings.splitlines() if "sandbox degraded" in line]
    assert len(lines) == 1, warnings
    for layer in confine.LAYERS:
        assert layer in lines[0]
    report = json.loads((tmp_path / "reports" / HONEST / "report.json").read_text())
    assert report["sandbox"] == {"layers": ["rlimits"], "missing": list(confine.LAYERS)}
    by_student = {r.student: r for r in reports}
    honest = next(p for p in by_student[HONEST].problems if p.id == "p5")
    assert honest.score == pytest.approx(20)
    for case in ("allocate_6gib", "segfault_ctypes", "kill_parent"):
        p5 = next(p for p in by_student[case].problems if p.id == "p5")
        assert p5.score == 0 and not any("Internal grader error" in i.feedback for i in p5.items)
    # Unconfined, the child's parent is the judge: killing it is the student's doing, flagged for the TA.
    killed = next(p for p in by_student["kill_parent"].problems if p.id == "p5")
    assert any(f.startswith("judge-killed") for f in killed.flags), killed.flags
    # Said once per problem (issue 9): the first item carries the reason, the others point to it
    # or are skipped because they need a working product first (`requires`).
    first, *rest = killed.items
    assert "Your code stopped the grading" in first.feedback, first.feedback
    assert all(i.status is Status.SKIPPED or f"Not run: see {first.id}" in i.feedback for i in rest)
