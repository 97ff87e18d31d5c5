"""The ZIP checks that run before any parser sees an uploaded EPUB."""

from __future__ import annotations

import dataclasses
import warnings
import zipfile
import zlib
from pathlib import Path

import pytest

from accessible_lib.ingest.errors import IngestError
from accessible_lib.ingest.safezip import read_checked_zip, strip_doctype
from accessible_lib.settings import Settings
from tests.test_hostile import raw_zip, zeros_deflated

HOSTILE = Path(__file__).parent / "corpus" / "hostile"


def zip_of(path: Path, entries: dict[str, bytes]) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names we want
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in entries.items():
                archive.writestr(name.split("#")[0], data)
    return path


def rejected(path: Path, settings: Settings | None = None) -> str:
    with pytest.raises(IngestError) as caught:
        read_checked_zip(path, settings or Settings())
    return str(caught.value)


def test_a_good_archive_is_read_whole_with_notes_for_tolerated_faults(tmp_path: Path) -> None:
    archive = read_checked_zip(zip_of(tmp_path / "a.zip", {"a/b.txt": b"hello", "c": b""}), Settings())
    assert archive.entries == {"a/b.txt": b"hello", "c": b""}
    assert archive.notes == ["The archive has no mimetype entry."]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("/etc/passwd", "absolute path"),
        ("OEBPS/../../evil.txt", "outside the book"),
        ("..", "outside the book"),
        ("OEBPS\\evil.txt", "not a valid path"),
        ("C:/evil.txt", "not a valid path"),
    ],
)
def test_names_that_could_escape_are_refused(tmp_path: Path, name: str, reason: str) -> None:
    path = tmp_path / "a.zip"
    path.write_bytes(raw_zip([(name, b"x", zlib.crc32(b"x"), 1, 0)]))
    assert reason in rejected(path)


def test_duplicates_symlinks_and_encryption_are_refused(tmp_path: Path) -> None:
    assert "two entries" in rejected(zip_of(tmp_path / "d.zip", {"a#1": b"1", "a#2": b"2"}))
    assert "symbolic link" in rejected(HOSTILE / "zip-format/go-symlink.zip")
    encrypted = bytearray(zip_of(tmp_path / "e.zip", {"a.txt": b"secret"}).read_bytes())
    central = encrypted.index(b"PK\x01\x02")
    encrypted[central + 8] |= 0x01
    (tmp_path / "e.zip").write_bytes(bytes(encrypted))
    assert "encrypted" in rejected(tmp_path / "e.zip")


def test_names_not_in_utf8_are_refused_but_flagged_utf8_is_fine() -> None:
    assert "UTF-8" in rejected(HOSTILE / "zip-format/go-utf8-osx.zip")
    assert "UTF-8" in rejected(HOSTILE / "epubcheck-ocf/ocf-filename-not-utf8-error.epub")
    archive = read_checked_zip(HOSTILE / "zip-format/go-utf8-infozip.zip", Settings())
    assert list(archive.entries) == ["世界"]


def test_not_a_zip_empty_and_split_archives(tmp_path: Path) -> None:
    (tmp_path / "empty.epub").write_bytes(b"")
    assert "empty" in rejected(tmp_path / "empty.epub")
    assert "not a ZIP" in rejected(HOSTILE / "zip-format/go-readme.notzip")
    assert "split" in rejected(HOSTILE / "w3c-epub-tests/ocf-zip-mult.z01")
    (tmp_path / "none.zip").write_bytes(raw_zip([]))
    assert "empty" in rejected(tmp_path / "none.zip")


def test_limits_on_entries_total_size_and_ratio(tmp_path: Path) -> None:
    small = dataclasses.replace(Settings(), max_zip_entries=3, max_uncompressed_bytes=10_000)
    many = zip_of(tmp_path / "m.zip", {f"f{i}": b"" for i in range(4)})
    assert "4 entries, more than the limit of 3" in rejected(many, small)
    big = zip_of(tmp_path / "b.zip", {"a": bytes(range(256)) * 30, "b": bytes(range(256)) * 30})
    assert "more than 10000 bytes" in rejected(big, small)
    data, crc = zeros_deflated(8)
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(raw_zip([("zeros", data, crc, 8 << 20, 8)]))
    assert "zip bomb" in rejected(bomb)


def test_an_entry_larger_than_its_header_says_is_caught_while_reading(tmp_path: Path) -> None:
    data, crc = zeros_deflated(4)
    liar = tmp_path / "liar.zip"
    liar.write_bytes(raw_zip([("zeros", data, crc, 1000, 8)]))  # 4 MiB declared as 1000 bytes
    rejected(liar)
    honest = tmp_path / "honest.zip"
    honest.write_bytes(raw_zip([("zeros", data, crc, 4 << 20, 8)]))
    loose = dataclasses.replace(Settings(), max_compression_ratio=10_000)
    assert read_checked_zip(honest, loose).entries["zeros"] == bytes(4 << 20)


def test_doctypes_are_removed_and_entity_declarations_refused() -> None:
    public = b'<?xml version="1.0"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.1//EN" "x.dtd">\n<html/>'
    assert strip_doctype(public) == b'<?xml version="1.0"?>\n\n<html/>'
    commented = b"<!-- c --><!DOCTYPE html><html><p>&lt;!DOCTYPE kept&gt;</p></html>"
    assert strip_doctype(commented) == b"<!-- c --><html><p>&lt;!DOCTYPE kept&gt;</p></html>"
    entity = b'<!DOCTYPE x [ <!ENTITY a "b"> ]><x>&a;</x>'
    with pytest.raises(IngestError, match="declares XML entities"):
        strip_doctype(entity, "a.xml")
    parameter = b'<!DOCTYPE x [ <!ENTITY % p SYSTEM "http://127.0.0.1/"> %p; ]><x/>'
    with pytest.raises(IngestError):
        strip_doctype(parameter)
    utf16 = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x><x>é</x>'.encode("utf-16")
    assert strip_doctype(utf16) == '<?xml version="1.0"?><x>é</x>'.encode()


@pytest.mark.parametrize("name", sorted(p.name for p in (HOSTILE / "xml-entities").glob("*.x*")))
def test_the_entity_attacks_of_the_corpus_are_refused_or_harmless(name: str) -> None:
    data = (HOSTILE / "xml-entities" / name).read_bytes()
    try:
        cleaned = strip_doctype(data, name)
    except IngestError:
        return
    assert b"<!ENTITY" not in cleaned.upper() and b"<!DOCTYPE" not in cleaned[:200].upper()
