"""An appended archive trusts the caller for members it knows unchanged (voices.zip_append `same`): a
rebuild of War and Peace's MP3 edition no longer reads 1.5 GB of unchanged chapters to checksum them."""

from __future__ import annotations

import zipfile
from pathlib import Path

from voices import zip_append


def test_members_known_the_same_are_not_read_and_the_archive_is_whole(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "work"
    root.mkdir()
    names = [f"{letter}.mp3" for letter in "abcd"]
    for name in names:
        (root / name).write_bytes(name[0].encode() * 1000)
    previous = tmp_path / "book.zip"
    with zipfile.ZipFile(previous, "w") as archive:
        for name in names:
            archive.write(root / name, name)
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
