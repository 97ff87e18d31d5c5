"""An appended archive trusts the caller for members it knows unchanged (voices.zip_append `same`): a
rebuild of War and Peace's MP3 edition no longer reads 1.5 GB of unchanged chapters to checksum them."""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

from voices import zip_append


def test_members_known_the_same_are_not_read_and_the_archive_is_whole(tmp_path: Path, monkeypatch) -> None:
    root, previous, names = _archive(tmp_path)
    old_size = previous.stat().st_size
    (root / "c.mp3").write_bytes(b"C" * 1000)  # changed, same size: only its checksum tells
    read = []
    crc = zip_append._crc
    monkeypatch.setattr(zip_append, "_crc", lambda path: read.append(path.name) or crc(path))
    assert zip_append.append_zip(previous, root / "book.zip", root, names, same=["a.mp3", "b.mp3"])
    assert read == ["c.mp3", "d.mp3"]  # a and b were not read
    with zipfile.ZipFile(root / "book.zip") as grown:
        assert grown.testzip() is None and grown.namelist() == names
        assert [grown.read(name) for name in names] == [(root / name).read_bytes() for name in names]
        appended = [info.filename for info in grown.infolist() if info.header_offset >= old_size]
    assert appended == ["c.mp3"]


def _archive(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    root = tmp_path / "work"
    root.mkdir()
    names = [f"{letter}.mp3" for letter in "abcd"]
    for name in names:
        (root / name).write_bytes(name[0].encode() * 1000)
    previous = tmp_path / "book.zip"
    with zipfile.ZipFile(previous, "w") as archive:
        for name in names:
            archive.write(root / name, name)
    return root, previous, names


def test_the_appended_archive_checksum_is_its_whole_files(tmp_path: Path) -> None:
    """The previous archive is hashed ahead; only the appended bytes are hashed at the end."""
    root, previous, names = _archive(tmp_path)
    prefix = zip_append.PrefixDigest(previous)
    prefix.wait()  # as a long build gives it time to; on a busy machine the append could come first
    (root / "c.mp3").write_bytes(b"C" * 1000)
    assert zip_append.append_zip(previous, root / "book.zip", root, names)
    whole = hashlib.sha256((root / "book.zip").read_bytes()).hexdigest()
    assert prefix.hexdigest(root / "book.zip") == whole


def test_an_unchanged_archive_has_the_previous_checksum(tmp_path: Path) -> None:
    root, previous, names = _archive(tmp_path)
    prefix = zip_append.PrefixDigest(previous)
    assert zip_append.append_zip(previous, root / "book.zip", root, names)  # nothing changed: a link
    assert prefix.hexdigest(root / "book.zip") == hashlib.sha256(previous.read_bytes()).hexdigest()


def test_no_checksum_from_a_prefix_that_changed_or_a_new_archive(tmp_path: Path) -> None:
    root, previous, names = _archive(tmp_path)
    prefix = zip_append.PrefixDigest(previous)
    prefix.hexdigest(previous)  # wait for it: the hash covers the archive as it was
    status = previous.stat()  # changed by someone else after the hash (here only its time)
    os.utime(previous, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000))
    (root / "c.mp3").write_bytes(b"C" * 1000)
    assert zip_append.append_zip(previous, root / "book.zip", root, names)
    assert prefix.hexdigest(root / "book.zip") is None  # the caller hashes the whole file
    other = tmp_path / "other"
    other.mkdir()
    (other / "book.zip").write_bytes(previous.read_bytes())  # written anew: another file
    assert zip_append.PrefixDigest(previous).hexdigest(other / "book.zip") is None


def test_an_append_not_published_is_undone_and_a_wasteful_one_is_refused(tmp_path: Path) -> None:
    root, previous, names = _archive(tmp_path)
    original = previous.read_bytes()
    (root / "b.mp3").write_bytes(b"B" * 1000)
    assert zip_append.append_zip(previous, root / "book.zip", root, names)
    with zipfile.ZipFile(previous) as grown:
        assert [grown.read(name) for name in names] == [(root / name).read_bytes() for name in names]
        assert grown.namelist() == names
    zip_append.undo(root)  # the build was not published: the previous edition is as it was
    assert previous.read_bytes() == original and not (root / zip_append.MARKER).exists()
    (root / "book.zip").unlink()
    for name in names:  # every member changed: writing the archive anew is cheaper
        (root / name).write_bytes(name[0].upper().encode() * 1000)
    assert not zip_append.append_zip(previous, root / "book.zip", root, names)
    assert previous.read_bytes() == original and not (root / "book.zip").exists()
