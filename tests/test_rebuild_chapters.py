"""Books imported before chapters followed the table of contents get their real chapters without losing
their ids: by importing the same file again (what `make run` does) or by `accessible-lib rebuild-chapters`."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from accessible_lib import search
from accessible_lib.cli import main
from accessible_lib.editions import store
from accessible_lib.editions.audio import audio_book
from accessible_lib.editions.export import export_book
from accessible_lib.importer import import_file, import_paths
from accessible_lib.settings import Settings

from .conftest import CORPUS

MOBY = CORPUS / "epub/en/pg2701-moby-dick-epub2.epub"
RAVEN = CORPUS / "epub/en/pg17192-poe-the-raven-epub2.epub"


def _as_if_imported_by_version_1(db, book_id: int) -> None:
    """What an older importer left: one chapter per file (here, one chapter) and version 1."""
    with db.conn:
        search.unindex_book(db, book_id)
        db.execute("DELETE FROM chapters WHERE book_id = ? AND position > 1", [book_id])
        db.execute("DELETE FROM toc_entries WHERE book_id = ?", [book_id])
        db.execute("UPDATE chapters SET title = 'Cover' WHERE book_id = ?", [book_id])
        db.execute("UPDATE books SET ingest_version = 1, chapter_count = 28 WHERE id = ?", [book_id])
        search.index_book(db, book_id)


def _titles(db, book_id: int) -> list[str]:
    rows = db.execute("SELECT title FROM chapters WHERE book_id = ? ORDER BY position", [book_id])
    return [row[0] for row in rows]


def test_importing_the_same_file_again_rebuilds_old_chapters(db, settings: Settings, tmp_path: Path) -> None:
    book_id = import_file(db, settings, MOBY).book_id
    _as_if_imported_by_version_1(db, book_id)
    edition_id, _ = store.request_edition(db, book_id, "txt", {})
    db.execute("UPDATE editions SET status = 'done' WHERE id = ?", [edition_id])
    db.conn.commit()
    shelf = tmp_path / "content"
    shelf.mkdir()
    shutil.copyfile(MOBY, shelf / "moby.epub")

    [result] = list(import_paths(db, settings, [shelf]))

    assert (result.status, result.book_id) == ("rebuilt", book_id)
    assert result.chapter_count == 145  # the NCX's entries less the Gutenberg header and licence
    titles = _titles(db, book_id)
    assert titles[0] == "MOBY-DICK; or, THE WHALE."
    assert titles.index("CHAPTER 2. The Carpet-Bag.") == titles.index("CHAPTER 1. Loomings.") + 1
    assert titles[-1] == "THE FULL PROJECT GUTENBERG LICENSE"
    row = db.execute("SELECT ingest_version, chapter_count FROM books WHERE id = ?", [book_id]).fetchone()
    assert row == (2, 145)
    assert db.execute("SELECT count(*) FROM books").fetchone()[0] == 1
    assert store.get_edition(db, edition_id)["outdated_at"]  # made from the old chapters
    # Search sees the new chapters (the old catalogue had only chapter 1).
    hits = search.search(db, "Spouter Inn").hits
    assert [hit.book_id for hit in hits] == [book_id]
    assert hits[0].chapter_position > 1
    assert titles[hits[0].chapter_position - 1].startswith("CHAPTER ")
    # Asking for the same edition again makes it again, with the new chapters.
    again, queued = store.request_edition(db, book_id, "txt", {})
    assert (again, queued) == (edition_id, True)
    assert store.get_edition(db, edition_id)["outdated_at"] is None
    # Imported by the current version: a third import is a plain duplicate.
    assert import_file(db, settings, shelf / "moby.epub").status == "duplicate"


def test_rebuild_chapters_command(settings: Settings, db, tmp_path: Path) -> None:
    env = {"ACCESSIBLE_LIB_DATA_DIR": str(settings.data_dir)}
    book_id = import_file(db, settings, RAVEN).book_id
    current = import_file(db, settings, MOBY).book_id
    _as_if_imported_by_version_1(db, book_id)
    runner = CliRunner()

    result = runner.invoke(main, ["rebuild-chapters"], env=env)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1 book rebuilt"  # only the book an older version made
    assert _titles(db, book_id)[0] == "THE RAVEN"
    assert runner.invoke(main, ["rebuild-chapters", str(current)], env=env).output.strip() == "1 book rebuilt"

    missing = runner.invoke(main, ["rebuild-chapters", "999"], env=env)
    assert missing.exit_code == 1
    assert "Book 999: There is no such book." in missing.output
    (
        settings.data_dir / db.execute("SELECT source_path FROM books WHERE id = ?", [book_id]).fetchone()[0]
    ).unlink()
    gone = runner.invoke(main, ["rebuild-chapters", "--all"], env=env)
    assert gone.exit_code == 1
    assert f"Book {book_id}: The book's source file is missing." in gone.output
    assert "1 book rebuilt" in gone.output  # the other book was still rebuilt
    assert _titles(db, book_id)[0] == "THE RAVEN"  # a failed rebuild changes nothing


def test_audio_editions_read_back_matter_last_or_not_at_all(db, settings: Settings) -> None:
    book = export_book(db, import_file(db, settings, RAVEN).book_id)
    kinds = [chapter["kind"] for chapter in book["chapters"]]
    assert kinds[-2:] == ["back", "back"] and set(kinds[:-2]) == {"body"}
    assert audio_book(book, Settings()) is book  # by default kept, at the end
    without = audio_book(book, Settings.from_env({"ACCESSIBLE_LIB_AUDIO_BACK_MATTER": "false"}))
    assert [c["title"] for c in without["chapters"]] == [c["title"] for c in book["chapters"][:-2]]
    assert "PROJECT GUTENBERG" not in " ".join(c["text"] for c in without["chapters"]).upper()


def test_editions_stay_current_when_rebuilding_changes_no_chapter(db, settings: Settings) -> None:
    text = CORPUS / "text/zh/zh-chibifu-su-shi.txt"  # plain text: cut the same way by both versions
    book_id = import_file(db, settings, text).book_id
    edition_id, _ = store.request_edition(db, book_id, "txt", {})
    with db.conn:
        db.execute("UPDATE books SET ingest_version = 1 WHERE id = ?", [book_id])
        db.execute("UPDATE editions SET status = 'done' WHERE id = ?", [edition_id])
    assert import_file(db, settings, text).status == "rebuilt"
    assert store.get_edition(db, edition_id)["outdated_at"] is None
    assert db.execute("SELECT ingest_version FROM books WHERE id = ?", [book_id]).fetchone()[0] == 2
