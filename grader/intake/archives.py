"""Unpacking student archives safely, and the folder-of-archives layout.

An archive is hostile input. :func:`extract` never writes outside its target
folder: members with absolute paths, drive letters or ``..`` are skipped,
symlinks, hard links and device files are never created, and every file is
written by streaming with a byte budget, so a zip bomb stops at the cap
whatever sizes its headers claim. ``__MACOSX/``, ``.DS_Store`` and AppleDouble
``._*`` files are skipped. Caps (:class:`Limits`): total bytes, number of
files, and the ratio of unpacked to packed size.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grader.intake.naming import safe_id, unique
from grader.rubric import Rubric
from grader.submission import Submission

NAME = "archives"
TITLE = "a folder of per-student archives (.zip, .tar.gz, .tar.xz …)"

_TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
_SUFFIXES = (".zip", *_TAR_SUFFIXES)
_JUNK_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}
_JUNK_DIRS = {"__MACOSX"}


@dataclass(frozen=True)
class Limits:
    """Caps on what one archive may unpack to."""

    max_bytes: int = 200 * 2**20
    """Total bytes written."""

    max_files: int = 2000
    """Files written."""

    max_ratio: float = 200.0
    """Unpacked bytes per packed byte (checked once more than ``ratio_floor`` bytes are out)."""

    ratio_floor: int = 8 * 2**20
    """Below this many unpacked bytes the ratio is not checked (small text compresses well)."""


#: Caps for a whole class downloaded as one archive.
CLASS_LIMITS = Limits(max_bytes=4 * 2**30, max_files=100_000)


class ArchiveError(Exception):
    """The archive cannot be unpacked (damaged, a bomb, an unknown format); the message says why."""


#: Archive formats students upload that the standard library cannot open.
_UNSUPPORTED = {".rar": "RAR", ".7z": "7-Zip"}


def unsupported_note(path: Path) -> str | None:
    """A note for the student when ``path`` is an archive format the grader cannot open, else None."""
    kind = _UNSUPPORTED.get(path.suffix.lower())
    if kind is None or not path.is_file():
        return None
    return f"{path.name} is a {kind} archive, which the grader cannot open: nothing in it was graded. Hand in a .zip."


def unsupported_in(folder: Path) -> list[str]:
    """Notes for every unsupported archive directly in ``folder``."""
    return [n for n in (unsupported_note(e) for e in sorted(folder.iterdir())) if n]


def is_archive(path: Path) -> bool:
    """Whether ``path`` is a file with an archive suffix we unpack."""
    return path.is_file() and path.name.lower().endswith(_SUFFIXES)


def stem(path: Path) -> str:
    """``alice.tar.gz`` → ``alice``."""
    lower = path.name.lower()
    for suffix in _SUFFIXES:
        if lower.endswith(suffix):
            return path.name[: -len(suffix)]
    return path.stem


def only_archives(folder: Path) -> list[Path]:
    """The archives of a folder that holds archives and no code or sub-folders (else [])."""
    entries = [e for e in folder.iterdir() if not _junk(e.name)]
    packed = [e for e in entries if is_archive(e)]
    if packed and all(e in packed or (e.is_file() and e.suffix.lower() not in (".py", ".ipynb")) for e in entries):
        return sorted(packed)
    return []


def archives_beside_code(folder: Path, missing: set[str]) -> list[Path]:
    """The archives directly in a folder with code that hold one of the ``missing`` files (lower-case stems).

    A ``data.zip`` beside the code stays packed; an ``hw1.zip`` with the conv1D.py the loose
    files lack is unpacked, so the work in it is graded.
    """
    found = []
    for entry in sorted(folder.iterdir()):
        if _junk(entry.name) or not entry.is_file() or entry.is_symlink() or not is_archive(entry):
            continue
        stems = {Path(name).stem.lower() for name in member_names(entry)
                 if Path(name).suffix.lower() in (".py", ".ipynb")}
        if stems & missing:
            found.append(entry)
    return found


def member_names(archive: Path, limit: int = 10_000) -> list[str]:
    """The names of an archive's members (at most ``limit``), or [] if it cannot be read."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                return zf.namelist()[:limit]
        with tarfile.open(archive) as tf:
            names = []
            for member in tf:
                names.append(member.name)
                if len(names) >= limit:
                    break
            return names
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError, ValueError):
        return []


def detect(path: Path) -> bool:
    """A folder whose entries are mostly archives (a student folder or two may sit beside them).

    A folder that directly holds code is one student's, whatever archives sit beside it.
    """
    if not path.is_dir():
        return False
    entries = [e for e in path.iterdir() if not _junk(e.name) and not e.name.startswith(".")]
    if any(e.is_file() and e.suffix.lower() in (".py", ".ipynb") for e in entries):
        return False
    packed = [e for e in entries if is_archive(e) or unsupported_note(e)]
    return bool(packed) and len(packed) * 2 >= len(entries)


def read(path: Path, rubric: Rubric, scratch: Path) -> tuple[list[Submission], list[str]]:
    """One submission per archive (named after it) and per plain sub-folder."""
    entries = sorted(e for e in path.iterdir() if not _junk(e.name) and not e.name.startswith("."))
    packed = [e for e in entries if is_archive(e) or unsupported_note(e)]
    ids = unique([safe_id(stem(e) if is_archive(e) else e.stem) for e in packed])
    out, notes = [], []
    for student, archive in zip(ids, packed):
        target = scratch / NAME / student
        if is_archive(archive):
            member_notes = extract_for_student(archive, target)
        else:
            target.mkdir(parents=True, exist_ok=True)
            member_notes = [unsupported_note(archive)]
        out.append(Submission(student, single_root(target), notes=tuple(member_notes)))
    taken = set(ids)
    for entry in entries:
        if entry.is_dir() and entry.name not in taken and entry.name not in {"__pycache__"}:
            out.append(Submission(entry.name, entry))
        elif entry.is_file() and entry not in packed:
            notes.append(f"{entry.name}: not an archive, ignored")
    return out, notes


def extract_for_student(archive: Path, target: Path) -> list[str]:
    """Unpacks one student's archive; a damaged or hostile one leaves an empty folder and a note."""
    try:
        return extract(archive, target)
    except ArchiveError as exc:
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True, exist_ok=True)
        return [f"Your archive {archive.name} could not be unpacked: {exc}. Nothing from it was graded."]


def single_root(folder: Path) -> Path:
    """The folder itself, or its only sub-folder when it holds nothing else (``alice.zip`` → ``alice/``)."""
    current = folder
    for _ in range(3):
        entries = [e for e in current.iterdir() if not _junk(e.name)]
        if len(entries) == 1 and entries[0].is_dir():
            current = entries[0]
        else:
            break
    return current


def extract(archive: Path, target: Path, limits: Limits = Limits()) -> list[str]:
    """Unpacks ``archive`` into ``target`` (created), within ``limits``.

    Returns:
        Notes on skipped members (unsafe paths, links, junk).

    Raises:
        ArchiveError: unreadable archive, or a cap exceeded (nothing partial is promised).
    """
    target.mkdir(parents=True, exist_ok=True)
    budget = _Budget(limits, max(1, archive.stat().st_size), archive.name)
    name = archive.name.lower()
    try:
        if name.endswith(".zip"):
            return _extract_zip(archive, target, budget)
        if name.endswith(_TAR_SUFFIXES):
            return _extract_tar(archive, target, budget)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, RuntimeError, NotImplementedError) as exc:
        raise ArchiveError(f"damaged or unsupported archive ({type(exc).__name__}: {exc})") from None
    raise ArchiveError("not a .zip or .tar(.gz/.bz2/.xz) file")


class _Budget:
    def __init__(self, limits: Limits, packed: int, name: str) -> None:
        self.limits, self.packed, self.name = limits, packed, name
        self.bytes = 0
        self.files = 0

    def new_file(self) -> None:
        self.files += 1
        if self.files > self.limits.max_files:
            raise ArchiveError(f"more than {self.limits.max_files} files (refused as a possible archive bomb)")

    def add(self, count: int) -> None:
        self.bytes += count
        if self.bytes > self.limits.max_bytes:
            raise ArchiveError(
                f"unpacks to more than {self.limits.max_bytes >> 20} MB (refused as a possible archive bomb)"
            )
        if self.bytes > self.limits.ratio_floor and self.bytes > self.limits.max_ratio * self.packed:
            raise ArchiveError(
                f"unpacks to more than {self.limits.max_ratio:g} times its size (refused as a possible archive bomb)"
            )


def _safe_parts(name: str) -> tuple[str, ...] | None:
    """The member's path parts if it stays inside the target, else None."""
    name = name.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return None
    parts = tuple(p for p in PurePosixPath(name).parts if p not in ("", "."))
    if not parts or any(p == ".." for p in parts):
        return None
    return parts


def _junk(part: str) -> bool:
    return part in _JUNK_NAMES or part in _JUNK_DIRS or part.startswith("._")


def _place(target: Path, raw_name: str, notes: list[str]) -> Path | None:
    """Where a member goes, or None (with a note) when it must be skipped."""
    parts = _safe_parts(raw_name)
    if parts is None:
        notes.append(f"skipped {raw_name!r}: its path leads outside the archive's folder")
        return None
    if any(_junk(p) for p in parts):
        return None  # macOS and Windows leftovers: skipped silently
    dest = target.joinpath(*parts)
    # A member may not go through a symlink either (none are created, but be certain).
    resolved_root = target.resolve()
    if resolved_root not in dest.resolve().parents:
        notes.append(f"skipped {raw_name!r}: its path leads outside the archive's folder")
        return None
    return dest


def _write(source, dest: Path, budget: _Budget, mtime: float | None) -> None:
    budget.new_file()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "wb") as out:
        while True:
            chunk = source.read(1 << 16)
            if not chunk:
                break
            budget.add(len(chunk))
            out.write(chunk)
    if mtime is not None:
        os.utime(dest, (mtime, mtime))


def _zip_name(info: zipfile.ZipInfo) -> str:
    # Without the UTF-8 flag, zipfile decodes names as cp437; Windows in Korea wrote cp949.
    if info.flag_bits & 0x800:
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    for encoding in ("utf-8", "cp949"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


def _extract_zip(archive: Path, target: Path, budget: _Budget) -> list[str]:
    notes: list[str] = []
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            name = _zip_name(info)
            mode = info.external_attr >> 16
            if info.is_dir():
                continue
            if stat.S_ISLNK(mode):
                notes.append(f"skipped {name!r}: a symbolic link")
                continue
            dest = _place(target, name, notes)
            if dest is None:
                continue
            if dest.exists():
                notes.append(f"skipped a second copy of {name!r}")
                continue
            mtime = time.mktime(info.date_time + (0, 0, -1)) if info.date_time[0] >= 1980 else None
            with zf.open(info) as source:
                _write(source, dest, budget, mtime)
    return notes


def _extract_tar(archive: Path, target: Path, budget: _Budget) -> list[str]:
    notes: list[str] = []
    with tarfile.open(archive) as tf:
        for member in tf:
            if member.isdir():
                continue
            if not member.isfile():
                kind = "a link" if member.issym() or member.islnk() else "a special file"
                notes.append(f"skipped {member.name!r}: {kind}")
                continue
            dest = _place(target, member.name, notes)
            if dest is None:
                continue
            if dest.exists():
                notes.append(f"skipped a second copy of {member.name!r}")
                continue
            source = tf.extractfile(member)
            if source is None:
                continue
            with source:
                _write(source, dest, budget, float(member.mtime) if member.mtime else None)
    return notes
