"""`accessible-lib import-calibre` on a real Calibre library: tests/corpus/calibre-library, calibre 6.13.

Each test works on a copy of the library in tmp_path and a real catalogue there; altered libraries are made
by changing the copy's metadata.db with SQLite, as Calibre itself would, never the corpus.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner
from starlette.testclient import TestClient

from accessible_lib import auth, catalogue, chapter_marks, create_app
from accessible_lib.calibre.library import comment_text, read_library, valid_isbn
from accessible_lib.cli import main
from accessible_lib.db import open_database
from accessible_lib.settings import Settings

from .conftest import CORPUS

LIBRARY = CORPUS / "calibre-library"
LIBRARY_UUID = "b4df9dd8-f9a1-4330-8b1b-0fc423fd20f8"
LOST = "The Lost Manuscript"
PASSWORD = "a long enough passphrase"


@pytest.fixture
def library(tmp_path: Path) -> Path:
    copy = tmp_path / "Calibre Library"
    shutil.copytree(LIBRARY, copy)
    return copy


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    return {"ACCESSIBLE_LIB_DATA_DIR": str(settings.data_dir)}


def run(env: dict[str, str], *args: str):
    return CliRunner().invoke(main, ["import-calibre", *args], env=env)


def alter(library: Path, sql: str, params: tuple = ()) -> None:
    """Change the copy's metadata.db; Calibre's triggers call its own SQL functions, given here."""
    conn = sqlite3.connect(library / "metadata.db")
    conn.create_function("title_sort", 1, lambda title: title)
    conn.create_function("uuid4", 0, lambda: "00000000-0000-4000-8000-000000000000")
    with conn:
        conn.execute(sql, params)
    conn.close()


def books_by_title(settings: Settings) -> dict[str, dict]:
    db = open_database(settings.database_path)
    try:
        ids = [row[0] for row in db.execute("SELECT id FROM books")]
        return {book["title"]: book for book in (catalogue.get_book(db, i) for i in ids)}
    finally:
        db.close()


@pytest.fixture
def imported(env, library, settings) -> dict[str, dict]:
    result = run(env, str(library))
    assert result.exit_code == 0, result.output
    assert "6 imported, 0 updated, 0 unchanged, 1 metadata only, 0 rejected" in result.output
    assert "metadata only: “The Lost Manuscript” (book 7)" in result.output.splitlines()
    assert "imported: “赤壁赋” (book 3)" in result.output.splitlines()
    return books_by_title(settings)


def test_titles_authors_and_author_sort(imported, settings) -> None:
    assert set(imported) == {
        "The Raven", "Alice's Adventures in Wonderland", "赤壁赋", "后赤壁赋", "琵琶行（并序）",
        "测试用EPUB3", LOST,
    }  # fmt: skip
    alice = imported["Alice's Adventures in Wonderland"]
    assert alice["authors"] == ["Lewis Carroll", "John Tenniel"]
    assert alice["author_sort"] == "Carroll, Lewis"
    assert imported["The Raven"]["author_sort"] == "Poe, Edgar Allan"
    db = open_database(settings.database_path)
    sorts = db.execute(
        "SELECT name, sort FROM book_authors WHERE book_id = ? ORDER BY position", [alice["id"]]
    ).fetchall()
    db.close()
    assert sorts == [("Lewis Carroll", "Carroll, Lewis"), ("John Tenniel", "Tenniel, John")]


def test_series_and_index(imported) -> None:
    assert (imported["赤壁赋"]["series"], imported["赤壁赋"]["series_index"]) == ("前后赤壁赋", 1.0)
    assert (imported["后赤壁赋"]["series"], imported["后赤壁赋"]["series_index"]) == ("前后赤壁赋", 2.0)
    assert imported["The Raven"]["series_index"] == 2.5
    assert imported["琵琶行（并序）"]["series"] is None


def test_tags_languages_publisher_dates_and_comments(imported) -> None:
    assert imported["赤壁赋"]["subjects"] == ["宋代", "散文"]
    assert imported["The Raven"]["subjects"] == ["Gothic", "Poetry"]
    assert imported["The Raven"]["language"] == "en"
    assert imported["赤壁赋"]["language"] == "zh-Hans"  # Calibre's "zho", in the script of the text
    assert imported["测试用EPUB3"]["language"] == "zh-Hans"
    assert imported[LOST]["language"] is None  # Calibre gave none
    assert imported["Alice's Adventures in Wonderland"]["publisher"] == "Project Gutenberg"
    assert imported["The Raven"]["date"] == "2005-11-30"
    assert imported["琵琶行（并序）"]["date"] is None  # Calibre's "no date", the year 101
    assert imported["赤壁赋"]["description"] == "苏轼贬官黄州时所作。"  # the HTML comment, as text


def test_identifiers_isbn_checked_and_uri(imported) -> None:
    assert {"scheme": "isbn", "value": "9780306406157"} in imported["The Raven"]["identifiers"]
    assert imported["Alice's Adventures in Wonderland"]["identifiers"] == [
        {"scheme": "uri", "value": "http://www.gutenberg.org/11"}
    ]


def test_isbn_check_digits() -> None:
    assert valid_isbn("978-0-306-40615-7") == "9780306406157"
    assert valid_isbn("0-306-40615-2") == "0306406152"
    assert valid_isbn("080442957X") == "080442957X"
    assert valid_isbn("9780306406158") is None
    assert valid_isbn("0306406153") is None
    assert valid_isbn("not an isbn") is None


def test_an_invalid_isbn_is_refused_with_a_warning(env, library, settings) -> None:
    alter(library, "UPDATE identifiers SET val = '978-0-306-40615-8' WHERE type = 'isbn'")
    result = run(env, str(library))
    assert result.exit_code == 0, result.output
    assert "ISBN 978-0-306-40615-8 has a wrong check digit" in result.output
    raven = books_by_title(settings)["The Raven"]
    assert not [i for i in raven["identifiers"] if i["scheme"] == "isbn"]


def test_the_html_comment_is_sanitised(env, library, settings) -> None:
    hostile = '<p onclick="x()">Safe <b>words</b></p><script>alert(1)</script><style>p{}</style><p>Two</p>'
    alter(library, "UPDATE comments SET text = ? WHERE book = 3", (hostile,))
    assert run(env, str(library)).exit_code == 0
    description = books_by_title(settings)["赤壁赋"]["description"]
    assert description == "Safe words\n\nTwo"
    assert comment_text("<p></p>") is None


def test_files_are_ingested_and_the_epub3_has_no_author(imported) -> None:
    assert imported["The Raven"]["source_format"] == "epub" and imported["The Raven"]["chapter_count"] > 0
    assert imported["赤壁赋"]["source_format"] == "txt" and imported["赤壁赋"]["chapter_count"] >= 1
    epub3 = imported["测试用EPUB3"]
    assert epub3["source_format"] == "epub" and epub3["chapter_count"] > 0
    assert epub3["authors"] == []  # Calibre's "Unknown" is no author


def test_a_record_without_a_file_is_metadata_only(imported) -> None:
    lost = imported[LOST]
    assert lost["chapter_count"] == 0 and lost["chapters"] == [] and lost["source_format"] is None
    assert lost["authors"] == ["Unknown Author"]
    assert lost["subjects"] == ["Missing"]
    assert lost["description"] == "A record with no book file: metadata only."
    assert lost["checksum"].startswith(f"calibre:{LIBRARY_UUID}:")


def test_importing_twice_changes_nothing(env, library, settings, imported) -> None:
    again = run(env, str(library))
    assert again.exit_code == 0, again.output
    assert "0 imported, 0 updated, 7 unchanged, 0 metadata only, 0 rejected" in again.output
    after = books_by_title(settings)
    assert {t: b["id"] for t, b in after.items()} == {t: b["id"] for t, b in imported.items()}
    assert len(after) == 7


def test_a_changed_record_updates_the_book(env, library, settings, imported) -> None:
    alter(library, "UPDATE books SET title = 'The Raven (annotated)', series_index = 3 WHERE id = 1")
    alter(library, "INSERT INTO tags (name) VALUES ('Ballads')")
    alter(library, "INSERT INTO books_tags_link (book, tag) SELECT 1, id FROM tags WHERE name = 'Ballads'")
    result = run(env, str(library))
    assert "0 imported, 1 updated, 6 unchanged" in result.output, result.output
    after = books_by_title(settings)
    raven = after["The Raven (annotated)"]
    assert raven["id"] == imported["The Raven"]["id"] and "The Raven" not in after
    assert raven["series_index"] == 3.0 and raven["subjects"] == ["Ballads", "Gothic", "Poetry"]
    assert raven["chapter_count"] == imported["The Raven"]["chapter_count"]


def test_a_changed_file_is_ingested_again_keeping_the_id(env, library, settings, imported) -> None:
    text = library / "Su Shi" / "Chi Bi Fu (3)" / "Chi Bi Fu - Su Shi.txt"
    text.write_text(text.read_text(encoding="utf-8") + "\n\n后记：新加的一段。\n", encoding="utf-8")
    result = run(env, str(library))
    assert "1 updated" in result.output, result.output
    book = books_by_title(settings)["赤壁赋"]
    assert book["id"] == imported["赤壁赋"]["id"]
    assert book["checksum"] == hashlib.sha256(text.read_bytes()).hexdigest()


def test_a_file_the_ingest_rejects_keeps_its_record(env, library, settings) -> None:
    epub = library / "Edgar Allan Poe" / "The Raven (1)" / "The Raven - Edgar Allan Poe.epub"
    epub.write_bytes(b"not a zip at all")
    result = run(env, str(library))
    assert result.exit_code == 1
    assert "1 rejected" in result.output and "“The Raven”: The Raven - Edgar Allan Poe.epub:" in result.output
    raven = books_by_title(settings)["The Raven"]
    assert raven["chapter_count"] == 0 and raven["series_index"] == 2.5


def test_a_path_outside_the_library_is_not_read(env, library, settings) -> None:
    alter(library, "UPDATE books SET path = '../../../../../../etc' WHERE id = 5")
    alter(library, "UPDATE data SET name = 'passwd', format = 'TXT' WHERE book = 5")
    result = run(env, str(library))
    assert "The TXT file is outside the Calibre library and was not read." in result.output
    assert books_by_title(settings)["琵琶行（并序）"]["chapter_count"] == 0


def test_the_library_is_never_written(env, library) -> None:
    before = {p: p.read_bytes() for p in library.rglob("*") if p.is_file()}  # no -wal or -shm file added
    library.chmod(0o555)
    try:
        assert run(env, str(library)).exit_code == 0
    finally:
        library.chmod(0o755)
    assert {p: p.read_bytes() for p in library.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "missing", "is not a folder"),
        (lambda tmp: tmp, "is not a Calibre library: it has no metadata.db file."),
        (lambda tmp: _write(tmp / "bad", b"\x00garbage" * 500), "metadata.db cannot be read"),
        (lambda tmp: _sqlite(tmp / "other"), "its metadata.db has no books table"),
    ],
)
def test_bad_input_is_one_sentence_and_status_1(env, tmp_path, make, message) -> None:
    result = run(env, str(make(tmp_path)))
    assert result.exit_code == 1
    assert message in result.output
    assert (
        "Traceback" not in result.output
        and result.exception is None
        or isinstance(result.exception, SystemExit)
    )


def _write(folder: Path, data: bytes) -> Path:
    folder.mkdir()
    (folder / "metadata.db").write_bytes(data)
    return folder


def _sqlite(folder: Path) -> Path:
    folder.mkdir()
    conn = sqlite3.connect(folder / "metadata.db")
    conn.execute("CREATE TABLE notes (x)")
    conn.close()
    return folder


def test_json_output_is_one_object_per_calibre_book(env, library) -> None:
    result = run(env, "--json", str(library))
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [(line["calibre_id"], line["status"]) for line in lines] == [
        (1, "imported"), (2, "imported"), (3, "imported"), (4, "imported"), (5, "imported"), (6, "imported"),
        (7, "metadata-only"),
    ]  # fmt: skip


def test_read_library_gives_records_in_calibre_order(library) -> None:
    found = read_library(library)
    assert found.uuid == LIBRARY_UUID
    assert read_library(library / "metadata.db").root == found.root
    assert [r.calibre_id for r in found.records] == [1, 2, 3, 4, 5, 6, 7]
    assert [p.suffix for p in found.records[0].files] == [".epub"]
    assert found.records[6].files == []


def test_book_page_of_a_metadata_only_record(client, env, library, settings) -> None:
    assert run(env, str(library)).exit_code == 0
    lost = books_by_title(settings)[LOST]
    page = BeautifulSoup(client.get(f"/books/{lost['id']}").text, "html.parser")
    assert page.h1.get_text() == LOST
    notice = page.select_one("p.no-text")
    assert (
        notice.get_text()
        == "No text is available for this book yet: the library has its record, not its file."
    )
    assert not page.find("a", string="Start reading")
    assert "None" not in page.get_text() and "Length" not in page.get_text()
    found = BeautifulSoup(client.get("/search?q=manuscript").text, "html.parser")
    assert found.find("a", href=f"/books/{lost['id']}"), "a metadata-only record is found by search"
    readable = BeautifulSoup(client.get("/browse/formats/html").text, "html.parser")
    assert not readable.find("a", href=f"/books/{lost['id']}"), "it cannot be read online"
    assert readable.find("a", href=f"/books/{books_by_title(settings)['赤壁赋']['id']}")
    series = BeautifulSoup(
        client.get(f"/books/{books_by_title(settings)['后赤壁赋']['id']}").text, "html.parser"
    )
    facts = {dt.get_text(): dt.find_next_sibling("dd").get_text() for dt in series.select("dl.facts dt")}
    assert facts["Series"] == "前后赤壁赋, book 2"
    assert series.select_one("dl.facts dd span")["lang"] == "zh-Hans"


def test_staff_attach_a_file_to_a_metadata_only_record(env, library, settings) -> None:
    assert run(env, str(library)).exit_code == 0
    lost_id = books_by_title(settings)[LOST]["id"]
    db = open_database(settings.database_path)
    auth.create_staff(db, "librarian", PASSWORD)
    db.close()
    with TestClient(create_app(settings)) as client:
        login = BeautifulSoup(client.get("/staff/login").text, "html.parser")
        token = login.find("input", attrs={"name": "csrf_token"})["value"]
        client.post("/staff/login", data={"csrf_token": token, "username": "librarian", "password": PASSWORD,
                                          "next": "/staff"})  # fmt: skip
        edit = BeautifulSoup(client.get(f"/staff/books/{lost_id}/edit").text, "html.parser")
        form = edit.find("form", action=f"/staff/books/{lost_id}/file")
        assert form.find("label", attrs={"for": "books"}).get_text() == "EPUB or text file"
        token = form.find("input", attrs={"name": "csrf_token"})["value"]
        assert edit.find("form", action=f"/staff/books/{lost_id}/editions") is None
        refused = client.post(f"/staff/books/{lost_id}/editions", data={"csrf_token": token, "format": "txt"})
        assert refused.status_code == 400
        assert "This book has no text yet" in BeautifulSoup(refused.text, "html.parser").main.get_text()
        binary = b"\x00\xff\x00binary" * 20
        bad = client.post(f"/staff/books/{lost_id}/file", data={"csrf_token": token},
                          files={"books": ("lost.txt", binary, "text/plain")})  # fmt: skip
        assert bad.status_code == 400
        summary = BeautifulSoup(bad.text, "html.parser").select_one("#error-summary a")
        assert summary["href"] == "#books" and summary.get_text().startswith("The file was not attached:")
        text = (CORPUS / "text/zh/zh-lisao-qu-yuan.txt").read_bytes()  # not in the Calibre library
        done = client.post(f"/staff/books/{lost_id}/file", data={"csrf_token": token},
                           files={"books": ("lost.txt", text, "text/plain")},
                           follow_redirects=False)  # fmt: skip
        assert done.status_code == 303, BeautifulSoup(done.text, "html.parser").select_one("#error-summary")
        assert done.status_code == 303 and done.headers["location"].endswith("attached=1")
        page = BeautifulSoup(client.get(f"/books/{lost_id}").text, "html.parser")
        assert page.select_one("p.no-text") is None and page.find("a", string="Start reading")
    book = books_by_title(settings)[LOST]
    assert book["id"] == lost_id and book["chapter_count"] >= 1 and book["source_format"] == "txt"
    assert book["authors"] == ["Unknown Author"]  # the record was kept
    again = run(env, str(library))
    assert "7 unchanged" in again.output, again.output  # Calibre still has no file: ours is kept


def test_staff_edits_keep_the_author_sort(env, library, settings) -> None:
    from accessible_lib.web.staff_books import save_record

    assert run(env, str(library)).exit_code == 0
    alice = books_by_title(settings)["Alice's Adventures in Wonderland"]
    db = open_database(settings.database_path)
    from accessible_lib import rights

    record = {k: alice[k] for k in ("title", "subtitle", "language", "description", "publisher", "date")}
    record["rights"], problems = rights.check(rights.form_values(alice))
    assert problems == {}
    save_record(db, alice["id"], {**record, "authors": ["Lewis Carroll", "Someone New"], "subjects": []})
    sorts = db.execute(
        "SELECT name, sort FROM book_authors WHERE book_id = ? ORDER BY position", [alice["id"]]
    )
    assert sorts.fetchall() == [("Lewis Carroll", "Carroll, Lewis"), ("Someone New", None)]
    db.close()


def _catalogue_state(settings: Settings) -> dict:
    """What a failed book could have left behind: its rows, its chapters, its kept copy, the search index
    out of step with the chapters (FTS5's integrity check against its content raises if so)."""
    conn = sqlite3.connect(settings.database_path)
    try:
        from accessible_lib import search

        search.register_functions(conn)
        conn.execute("INSERT INTO chapter_fts (chapter_fts, rank) VALUES ('integrity-check', 1)")
        conn.execute("INSERT INTO book_fts (book_fts, rank) VALUES ('integrity-check', 1)")
        counts = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in (
                "books",
                "calibre_books",
                "book_authors",
                "chapters",
                "book_fts",
                "chapter_fts_docsize",
            )
        }
        counts["sources"] = sorted(path.name for path in settings.sources_dir.iterdir())
        counts["kept"] = sorted(Path(p).name for (p,) in conn.execute("SELECT source_path FROM books") if p)
        return counts
    finally:
        conn.close()


def test_one_failing_book_in_a_batch_changes_nothing_and_the_others_are_imported(
    env, library, settings
) -> None:
    """All seven books go in one batch; the catalogue refuses 白居易 as an author (a real SQLite trigger,
    firing after the book's own row was written): that book alone is rolled back, its copy removed."""
    db = open_database(settings.database_path)
    db.execute(
        "CREATE TRIGGER refuse_bai BEFORE INSERT ON book_authors WHEN NEW.name = '白居易' "
        "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
    )
    db.close()
    result = run(env, str(library))
    assert result.exit_code == 1
    assert "5 imported, 0 updated, 0 unchanged, 1 metadata only, 0 rejected, 1 failed" in result.output
    assert "not imported, nothing of it changed: “琵琶行（并序）”" in result.output.splitlines()
    assert "refused by the test" in result.output
    assert "琵琶行（并序）" not in books_by_title(settings)
    state = _catalogue_state(settings)
    assert state["books"] == state["calibre_books"] == state["book_fts"] == 6
    assert state["chapters"] == state["chapter_fts_docsize"]
    assert state["sources"] == state["kept"] and len(state["kept"]) == 5  # no temporary copy left

    db = open_database(settings.database_path)
    db.execute("DROP TRIGGER refuse_bai")
    db.close()
    again = run(env, str(library))
    assert again.exit_code == 0, again.output
    assert "1 imported, 0 updated, 6 unchanged, 0 metadata only, 0 rejected" in again.output
    assert len(books_by_title(settings)) == 7


def test_batches_read_ahead_by_a_worker_process(library, settings) -> None:
    """Batches of three books whose files a worker process reads one batch ahead: the same catalogue as
    one batch in one process, its search index in step, and a second run changes nothing."""
    from accessible_lib.calibre.sync import sync_records

    db = open_database(settings.database_path)
    try:
        results = list(sync_records(db, settings, read_library(library), batch_books=3, worker=True))
        assert [r.status for r in results] == ["imported"] * 6 + ["metadata-only"]
        assert [r.book_id for r in results] == list(range(1, 8))
        again = list(sync_records(db, settings, read_library(library), batch_books=3, worker=True))
        assert [r.status for r in again] == ["unchanged"] * 7
    finally:
        db.close()
    state = _catalogue_state(settings)
    assert state["books"] == state["calibre_books"] == state["book_fts"] == 7
    assert state["chapters"] == state["chapter_fts_docsize"] > 7
    assert state["sources"] == state["kept"] and len(state["kept"]) == 6
    assert books_by_title(settings)["赤壁赋"]["language"] == "zh-Hans"


def test_every_imported_chapter_keeps_its_marks_and_its_page_is_the_computed_one(imported, settings) -> None:
    """import-calibre keeps each chapter's fitted, sentence-marked content as `import` does
    (chapter_marks.py), so its readers never wait for it; the kept page is the page computed on a visit."""
    db = open_database(settings.database_path)
    try:
        places = [tuple(row) for row in db.execute("SELECT book_id, position FROM chapters ORDER BY 1, 2")]
        assert len({book_id for book_id, _ in places}) == 6  # every book with text
        keys = {
            (book_id, chapter["position"]): chapter_marks.marks_key(book_id, chapter, chapter["lang"] or lang)
            for book_id, lang, chapter in chapter_marks.chapters_of(db, sorted({b for b, _ in places}))
        }
        kept = {(book_id, position): key for book_id, position, key in db.execute(
            "SELECT book_id, position, key FROM chapter_marks")}  # fmt: skip
        assert kept == keys and len(keys) == len(places)
        with TestClient(create_app(settings)) as client:
            stored = {place: client.get("/books/{}/read/{}".format(*place)).content for place in places}
            with db.conn:
                db.execute("DELETE FROM chapter_marks")
            computed = {place: client.get("/books/{}/read/{}".format(*place)).content for place in places}
    finally:
        db.close()
    assert all(b'data-s="' in page for page in computed.values())
    for place in places:
        assert stored[place] == computed[place], place


def test_a_large_calibre_import_merges_the_search_indexes(settings: Settings, env, library: Path) -> None:
    """Past `index_merge_records` books changed, import-calibre leaves each index in one segment."""
    assert run({**env, "ACCESSIBLE_LIB_INDEX_MERGE_RECORDS": "1"}, str(library)).exit_code == 0
    db = open_database(settings.database_path)
    try:
        for table in ("book_fts", "book_words", "chapter_fts"):
            assert db.execute(f"SELECT count(DISTINCT segid) FROM {table}_idx").fetchone()[0] == 1, table
    finally:
        db.close()
