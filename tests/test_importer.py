"""Importing files into a real catalogue: whole or not at all, duplicates recognised, originals kept."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from accessible_lib import importer
from accessible_lib.importer import import_file, import_paths
from accessible_lib.settings import Settings

CORPUS = Path(__file__).parent / "corpus"
CONTENT = Path(__file__).parent.parent / "content"
FRANKENSTEIN = CORPUS / "text" / "en" / "pg84-frankenstein-with-pg-header.txt"
CHIBIFU = CORPUS / "text" / "zh" / "zh-chibifu-su-shi.txt"


def _count(db, table: str) -> int:
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_import_stores_book_and_keeps_the_original(db, settings: Settings) -> None:
    result = import_file(db, settings, FRANKENSTEIN)
    assert result.status == "imported"
    assert result.title == "Frankenstein"
    assert result.language == "en"
    assert result.chapter_count == 30
    checksum = hashlib.sha256(FRANKENSTEIN.read_bytes()).hexdigest()
    row = db.execute(
        "SELECT title, checksum, source_path, rights, chapter_count FROM books WHERE id = ?",
        [result.book_id],
    ).fetchone()
    assert row == ("Frankenstein", checksum, f"sources/{checksum}.txt", "public-domain", 30)
    assert (settings.data_dir / row[2]).read_bytes() == FRANKENSTEIN.read_bytes()
    assert [p.name for p in settings.sources_dir.iterdir()] == [f"{checksum}.txt"]


def test_rights_option(db, settings: Settings) -> None:
    result = import_file(db, settings, CHIBIFU, rights="restricted")
    rights = db.execute("SELECT rights FROM books WHERE id = ?", [result.book_id]).fetchone()[0]
    assert rights == "restricted"


def test_duplicate_is_found_by_checksum_whatever_the_name(db, settings: Settings, tmp_path: Path) -> None:
    first = import_file(db, settings, CHIBIFU)
    renamed = tmp_path / "another-name.txt"
    shutil.copyfile(CHIBIFU, renamed)
    second = import_file(db, settings, renamed)
    assert second.status == "duplicate"
    assert second.book_id == first.book_id
    assert second.title == "赤壁赋"
    assert "赤壁赋" in second.reason
    assert _count(db, "books") == 1


def test_rejected_file_changes_nothing(db, settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "broken.txt"
    bad.write_bytes(b"\x00\x01\x02binary\x00\xff" * 50)
    result = import_file(db, settings, bad)
    assert result.status == "rejected"
    assert result.book_id is None
    assert "binary" in result.reason
    assert _count(db, "books") == 0
    assert not settings.sources_dir.exists() or not any(settings.sources_dir.iterdir())


def test_unexpected_failure_is_a_rejection_and_the_batch_goes_on(
    db, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in a parser (here: one that raises KeyError on a given file) must not stop the batch."""
    real_ingest = importer.ingest_file

    def ingest_that_fails_on_one_file(path, settings, **kwargs):
        if path.name == "b-crash.txt":
            raise KeyError("surprise")
        return real_ingest(path, settings, **kwargs)

    monkeypatch.setattr(importer, "ingest_file", ingest_that_fails_on_one_file)
    folder = tmp_path / "shelf"
    folder.mkdir()
    shutil.copyfile(CHIBIFU, folder / "a.txt")
    (folder / "b-crash.txt").write_text("Some text that is fine.\n", encoding="utf-8")
    shutil.copyfile(FRANKENSTEIN, folder / "c.txt")
    results = list(import_paths(db, settings, [folder]))
    assert [r.status for r in results] == ["imported", "rejected", "imported"]
    assert results[1].reason == "The file could not be read: KeyError: 'surprise'"
    assert _count(db, "books") == 2
    assert len(list(settings.sources_dir.iterdir())) == 2


def test_folders_are_walked_sorted_skipping_hidden_files(db, settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "library"
    (folder / "zh").mkdir(parents=True)
    (folder / ".git").mkdir()
    shutil.copyfile(CHIBIFU, folder / "zh" / "chibifu.txt")
    shutil.copyfile(FRANKENSTEIN, folder / "b.txt")
    (folder / ".hidden.txt").write_text("secret notes\n", encoding="utf-8")
    (folder / ".git" / "config.txt").write_text("[core]\n", encoding="utf-8")
    (folder / "a-notes.md").write_text("# notes\n", encoding="utf-8")
    results = list(import_paths(db, settings, [folder]))
    assert [Path(r.path).name for r in results] == ["b.txt", "chibifu.txt"]
    assert [r.status for r in results] == ["imported", "imported"]


def test_a_file_named_explicitly_is_rejected_when_not_a_book(db, settings: Settings, tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("# notes\n", encoding="utf-8")
    [result] = import_paths(db, settings, [notes])
    assert result.status == "rejected"
    assert result.reason == (
        "The file type .md is not supported: the library imports EPUB and plain text (.txt) files."
    )


def test_missing_path_is_rejected(db, settings: Settings, tmp_path: Path) -> None:
    results = list(import_paths(db, settings, [tmp_path / "nowhere.txt"]))
    assert [(r.status, r.reason) for r in results] == [("rejected", "There is no file at this path.")]


def test_every_content_file_imports(db, settings: Settings) -> None:
    """The default library must import whole: a demo that starts with rejections is no demo."""
    results = list(import_paths(db, settings, [CONTENT]))
    books = results
    assert len(books) >= 6
    assert all(r.status == "imported" for r in books), [(r.path, r.reason) for r in books]
    languages = {r.language.split("-")[0] for r in books}
    assert languages == {"en", "zh"}
    assert all(r.chapter_count >= 1 for r in books)
