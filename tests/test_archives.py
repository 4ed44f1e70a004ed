"""Safe extraction: every hazard with an archive the test builds itself."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from grader.intake import archives
from grader.intake.archives import ArchiveError, Limits, extract


def _zip(path: Path, members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def _tar(path: Path, build) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        build(tf)
    return path


def _add(tf: tarfile.TarFile, name: str, data: bytes = b"x", kind=tarfile.REGTYPE, link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, len(data) if kind == tarfile.REGTYPE else 0
    tf.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() or p.is_symlink())


def test_a_normal_zip_unpacks_and_skips_mac_and_windows_junk(tmp_path):
    archive = _zip(tmp_path / "a.zip", {
        "hw/conv1D.py": b"x = 1\n", "__MACOSX/hw/._conv1D.py": b"junk", "hw/.DS_Store": b"junk",
        "hw/Thumbs.db": b"junk",
    })
    notes = extract(archive, tmp_path / "out")
    assert _files(tmp_path / "out") == ["hw/conv1D.py"] and notes == []
    assert archives.single_root(tmp_path / "out") == tmp_path / "out" / "hw"


@pytest.mark.parametrize("evil", ["../evil.py", "../../evil.py", "hw/../../evil.py", "/tmp/evil.py", "C:/evil.py",
                                  "..\\evil.py"])
def test_zip_members_outside_the_folder_are_skipped(tmp_path, evil):
    archive = _zip(tmp_path / "a.zip", {evil: b"owned", "conv1D.py": b"x = 1\n"})
    notes = extract(archive, tmp_path / "box" / "out")
    assert _files(tmp_path / "box") == ["out/conv1D.py"]
    assert not (tmp_path / "evil.py").exists() and not Path("/tmp/evil.py").exists()
    assert any("leads outside" in n for n in notes)


def test_zip_symlinks_are_never_created(tmp_path):
    archive = _zip(tmp_path / "a.zip", {"conv1D.py": b"x = 1\n"}, symlinks={"link.py": "/etc/passwd"})
    notes = extract(archive, tmp_path / "out")
    assert _files(tmp_path / "out") == ["conv1D.py"]
    assert any("symbolic link" in n for n in notes)


@pytest.mark.parametrize("kind,link", [(tarfile.SYMTYPE, "/etc/passwd"), (tarfile.LNKTYPE, "conv1D.py"),
                                       (tarfile.CHRTYPE, ""), (tarfile.FIFOTYPE, "")])
def test_tar_links_and_special_files_are_never_created(tmp_path, kind, link):
    def build(tf):
        _add(tf, "conv1D.py", b"x = 1\n")
        _add(tf, "other", kind=kind, link=link)
    notes = extract(_tar(tmp_path / "a.tar.gz", build), tmp_path / "out")
    assert _files(tmp_path / "out") == ["conv1D.py"]
    assert any("skipped 'other'" in n for n in notes)


def test_tar_traversal_and_absolute_members_are_skipped(tmp_path):
    def build(tf):
        _add(tf, "../evil.py", b"owned")
        _add(tf, "/abs.py", b"owned")
        _add(tf, "ok.py", b"x = 1\n")
    notes = extract(_tar(tmp_path / "a.tgz", build), tmp_path / "box" / "out")
    assert _files(tmp_path / "box") == ["out/ok.py"] and len(notes) == 2


def test_a_zip_bomb_stops_at_the_size_cap_whatever_its_headers_say(tmp_path):
    archive = _zip(tmp_path / "bomb.zip", {"zeros.bin": b"\0" * (3 * 2**20)})
    with pytest.raises(ArchiveError, match="more than 1 MB"):
        extract(archive, tmp_path / "out", Limits(max_bytes=2**20, ratio_floor=10 * 2**20))


def test_the_ratio_cap_catches_a_small_archive_that_unpacks_large(tmp_path):
    archive = _zip(tmp_path / "bomb.zip", {"zeros.bin": b"\0" * (2 * 2**20)})
    assert archive.stat().st_size < 2**20 // 100
    with pytest.raises(ArchiveError, match="times its size"):
        extract(archive, tmp_path / "out", Limits(max_ratio=100, ratio_floor=2**20))


def test_the_file_count_cap(tmp_path):
    archive = _zip(tmp_path / "many.zip", {f"f{i}.txt": b"x" for i in range(30)})
    with pytest.raises(ArchiveError, match="more than 20 files"):
        extract(archive, tmp_path / "out", Limits(max_files=20))


def test_ordinary_text_is_not_mistaken_for_a_bomb(tmp_path):
    archive = _zip(tmp_path / "ok.zip", {"conv1D.py": b"# comment\n" * 100_000})  # ~1 MB, compresses ~1000x
    extract(archive, tmp_path / "out")
    assert (tmp_path / "out" / "conv1D.py").stat().st_size == 1_000_000


def test_a_damaged_archive_gives_the_student_a_note_and_an_empty_folder(tmp_path):
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 not really a zip")
    notes = archives.extract_for_student(tmp_path / "bad.zip", tmp_path / "out")
    assert "could not be unpacked" in notes[0] and _files(tmp_path / "out") == []


class _LegacyName(zipfile.ZipInfo):
    """A member name stored as cp949 without the UTF-8 flag, as Windows' built-in zip writes it in Korea."""

    def _encodeFilenameFlags(self):
        return self.filename.encode("cp949"), self.flag_bits & ~0x800


def test_zip_names_written_by_korean_windows_are_decoded(tmp_path):
    path = tmp_path / "k.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(_LegacyName("과제/conv1D.py"), b"x = 1\n")
    with zipfile.ZipFile(path) as zf:
        assert zf.infolist()[0].flag_bits & 0x800 == 0  # the forged header is what Windows writes
    extract(path, tmp_path / "out")
    assert _files(tmp_path / "out") == ["과제/conv1D.py"]


def test_a_rar_or_7z_gets_a_clear_note_in_every_layout(tmp_path):
    from grader.intake.layouts import read_class
    from grader.rubric import load_rubric

    rubric = load_rubric(Path(__file__).resolve().parents[1] / "rubrics" / "hw1.toml")
    zips = tmp_path / "zips"
    zips.mkdir()
    _zip(zips / "ann.zip", {"conv1D.py": b"x = 1\n"})
    (zips / "ben.rar").write_bytes(b"Rar!\x1a\x07\x00")
    with read_class(zips, rubric) as intake:
        ben = intake.submissions[1]
        assert ben.student == "ben" and "ben.rar is a RAR archive, which the grader cannot open" in ben.notes[0]
    canvas = tmp_path / "canvas"
    canvas.mkdir()
    (canvas / "leeben_5_6_hw1.7z").write_bytes(b"7z\xbc\xaf\x27\x1c")
    with read_class(canvas, rubric) as intake:
        assert "hw1.7z is a 7-Zip archive" in intake.submissions[0].notes[0]
    folders = tmp_path / "class" / "cat"
    folders.mkdir(parents=True)
    (folders / "conv1D.py").write_text("x = 1\n")
    (folders / "old.rar").write_bytes(b"Rar!")
    with read_class(tmp_path / "class", rubric) as intake:
        assert "old.rar is a RAR archive" in intake.submissions[0].notes[0]


@pytest.mark.parametrize("suffix,mode", [(".tar.bz2", "w:bz2"), (".tar.xz", "w:xz"), (".tar", "w")])
def test_other_tar_compressions_unpack(tmp_path, suffix, mode):
    path = tmp_path / f"a{suffix}"
    with tarfile.open(path, mode) as tf:
        _add(tf, "conv1D.py", b"x = 1\n")
    assert archives.is_archive(path) and archives.stem(path) == "a"
    extract(path, tmp_path / "out")
    assert _files(tmp_path / "out") == ["conv1D.py"]
