"""The Calibre-Web benchmark's synthetic library is a Calibre library `import-calibre` reads right: calibre
6.13's schema, its triggers' title sort and uuids, and every title, author and tag arriving in our catalogue.
Calibre-Web itself is not needed here: only `make bench` installs and runs it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from click.testing import CliRunner

from accessible_lib.bench.__main__ import _section_name
from accessible_lib.bench.calibre_library import TEMPLATE, author_sort, generate_library, title_sort
from accessible_lib.calibre.library import read_library
from accessible_lib.cli import main
from accessible_lib.db import open_database
from accessible_lib.settings import Settings


def calibre_books(library: Path) -> dict[str, dict]:
    conn = sqlite3.connect(library / "metadata.db")
    books = {}
    for book_id, uuid, title, sort, path in conn.execute("SELECT id, uuid, title, sort, path FROM books"):
        authors = [r[0] for r in conn.execute(
            "SELECT a.name FROM books_authors_link l JOIN authors a ON a.id = l.author WHERE l.book = ?",
            [book_id],
        )]  # fmt: skip
        tags = sorted(r[0] for r in conn.execute(
            "SELECT t.name FROM books_tags_link l JOIN tags t ON t.id = l.tag WHERE l.book = ?", [book_id]
        ))  # fmt: skip
        books[uuid] = {"title": title, "sort": sort, "path": path, "authors": authors, "tags": tags}
    conn.close()
    return books


def test_the_generated_library_has_calibres_schema_and_imports_whole(tmp_path: Path) -> None:
    library = tmp_path / "Calibre Library"
    facts = generate_library(library, 20)
    assert facts["books"] == 20 and facts["text_bytes"] > 20 * 1000

    def schema(path: Path) -> tuple[set, int]:
        conn = sqlite3.connect(path)
        found = set(conn.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"))
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.close()
        return found, version

    assert schema(library / "metadata.db") == schema(TEMPLATE)  # every table, index, trigger and view
    books = calibre_books(library)
    assert len(books) == 20 and all(len(uuid) == 36 for uuid in books)  # uuids from Calibre's insert trigger
    for book in books.values():
        assert book["sort"] == title_sort(book["title"])  # title sort from the trigger too
        assert (library / book["path"]).is_dir() and len(book["authors"]) == 1 and book["tags"]
    assert len(read_library(library).records) == 20

    settings = Settings.from_env({}, data_dir=tmp_path / "data")
    result = CliRunner().invoke(
        main, ["import-calibre", str(library)], env={"ACCESSIBLE_LIB_DATA_DIR": str(settings.data_dir)}
    )
    assert result.exit_code == 0, result.output
    assert "20 imported, 0 updated, 0 unchanged, 0 metadata only, 0 rejected" in result.output
    db = open_database(settings.database_path)
    try:
        ours = {}
        for uuid, book_id, title, chapters in db.execute(
            "SELECT c.book_uuid, b.id, b.title, (SELECT count(*) FROM chapters WHERE book_id = b.id) "
            "FROM calibre_books c JOIN books b ON b.id = c.book_id"
        ):
            authors = [r[0] for r in db.execute(
                "SELECT name FROM book_authors WHERE book_id = ? ORDER BY position", [book_id]
            )]  # fmt: skip
            tags = sorted(
                r[0] for r in db.execute("SELECT subject FROM book_subjects WHERE book_id = ?", [book_id])
            )
            ours[uuid] = {"title": title, "authors": authors, "tags": tags, "chapters": chapters}
    finally:
        db.close()
    assert set(ours) == set(books)
    for uuid, book in books.items():
        assert (ours[uuid]["title"], ours[uuid]["authors"], ours[uuid]["tags"]) == (
            book["title"], book["authors"], book["tags"]
        )  # fmt: skip
        assert ours[uuid]["chapters"] >= 1  # the TXT file was read, not only the record


def test_calibres_default_sorts() -> None:
    assert title_sort("The Raven") == "Raven, The" and title_sort("An Essay") == "Essay, An"
    assert title_sort("Theodora") == "Theodora" and title_sort("红楼梦") == "红楼梦"
    assert author_sort("Mary Shelley") == "Shelley, Mary" and author_sort("鲁迅") == "鲁迅"


def test_a_partial_bench_run_keeps_the_calibre_web_section() -> None:
    assert _section_name("## Calibre-Web side by side") == "calibreweb"
    assert _section_name("## Under load: the reader pages") == "load"
