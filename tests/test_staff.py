"""The staff area through the real app: sign-in, CSRF, upload, metadata editing, editions and the job pages.

Real SQLite files, the real importer on corpus files, real argon2 hashes; HTML read with BeautifulSoup.
"""

from __future__ import annotations

import dataclasses
import io
import re
import stat
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner
from starlette.testclient import TestClient

from accessible_lib import auth, catalogue, create_app, search
from accessible_lib.db import open_database
from accessible_lib.editions import store
from accessible_lib.ingest.model import IngestedBook
from accessible_lib.settings import Settings
from accessible_lib.web.staff_session import COOKIE
from accessible_lib.web.staff_upload import MAX_FILES, body_limit

from .conftest import CORPUS

USERNAME = "librarian"
PASSWORD = "a long enough passphrase"
SMALL_TEXT = CORPUS / "text/en/rip-van-winkle-lowercased-nopunct.txt"  # 37 KB
CHINESE_TEXT = CORPUS / "text/zh/zh-lisao-qu-yuan.txt"
EPUB = CORPUS / "epub/en/pg17192-poe-the-raven-epub2.epub"  # 53 KB
LARGE_TEXT = CORPUS / "text/en/pg84-frankenstein-with-pg-header.txt"  # 457 KB, over the limit below
NOT_A_ZIP = CORPUS / "hostile/epubcheck-ocf/ocf-zip-unreadable-image-with-epub-extension-fatal.epub"
MAX_FILE_BYTES = 100_000


@pytest.fixture
def staff_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, max_file_bytes=MAX_FILE_BYTES)


@pytest.fixture
def staff_db(staff_settings: Settings):
    database = open_database(staff_settings.database_path)
    auth.create_staff(database, USERNAME, PASSWORD)
    yield database
    database.close()


@pytest.fixture
def anonymous(staff_settings: Settings, staff_db):
    with TestClient(create_app(staff_settings)) as test_client:
        yield test_client


@pytest.fixture
def signed_in(anonymous: TestClient) -> TestClient:
    response = sign_in(anonymous, USERNAME, PASSWORD)
    assert response.status_code == 303, response.text
    return anonymous


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def csrf_of(response) -> str:
    return soup(response).find("input", attrs={"name": "csrf_token"})["value"]


def sign_in(client: TestClient, username: str, password: str, next_path: str = "/staff"):
    token = csrf_of(client.get("/staff/login"))
    return client.post(
        "/staff/login",
        data={"csrf_token": token, "username": username, "password": password, "next": next_path},
        follow_redirects=False,
    )


def token_for(client: TestClient) -> str:
    return csrf_of(client.get("/staff"))


# --- Signing in and out ---

GUARDED_GETS = [
    "/staff",
    "/staff/upload",
    "/staff/jobs",
    "/staff/books/1/edit",
    "/staff/jobs/1",
    "/staff/jobs/1.json",
]


def test_every_staff_page_sends_a_signed_out_visitor_to_sign_in(anonymous):
    for path in GUARDED_GETS:
        response = anonymous.get(path + "?x=1", follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"] == f"/staff/login?next={quote(path + '?x=1', safe='')}"
    for path in ["/staff/upload", "/staff/books/1/edit", "/staff/books/1/editions"]:
        response = anonymous.post(path, data={"title": "x"}, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/staff/login?next=%2Fstaff"


def test_sign_in_goes_where_the_librarian_was_going_and_sign_out_ends_the_session(anonymous, staff_db):
    login = anonymous.get("/staff/login?next=%2Fstaff%2Fjobs")
    assert soup(login).find("input", attrs={"name": "next"})["value"] == "/staff/jobs"
    response = sign_in(anonymous, USERNAME.upper(), PASSWORD, next_path="/staff/jobs")
    assert response.status_code == 303
    assert response.headers["location"] == "/staff/jobs"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "Path=/" in cookie and "samesite=lax" in cookie.lower()
    assert staff_db.execute("SELECT last_login_at FROM staff_users").fetchone()[0]

    dashboard = anonymous.get("/staff")
    assert dashboard.status_code == 200
    page = soup(dashboard)
    site_nav = page.find("nav", attrs={"aria-label": "Site"})
    assert site_nav.find("a", href="/staff") is not None, (
        "signed in: the site header links to the staff pages"
    )
    assert USERNAME in page.find("form", action="/staff/logout").get_text()

    response = anonymous.post(
        "/staff/logout", data={"csrf_token": csrf_of(dashboard)}, follow_redirects=False
    )
    assert response.status_code == 303
    assert anonymous.get("/staff", follow_redirects=False).status_code == 303
    signed_out = soup(anonymous.get("/staff/login?signed_out=1"))
    assert signed_out.find(attrs={"role": "status"}).get_text(strip=True) == "You have signed out."
    assert signed_out.find("nav", attrs={"aria-label": "Site"}).find("a", href="/staff") is None


def test_signing_out_ends_the_session_on_the_server_so_a_copied_cookie_stops_working(anonymous, staff_db):
    sign_in(anonymous, USERNAME, PASSWORD)
    copied = anonymous.cookies.get(COOKIE)
    dashboard = anonymous.get("/staff")
    assert dashboard.status_code == 200
    assert staff_db.execute("SELECT count(*) FROM sessions WHERE kind = 'staff'").fetchone()[0] == 1
    anonymous.post("/staff/logout", data={"csrf_token": csrf_of(dashboard)}, follow_redirects=False)
    assert staff_db.execute("SELECT count(*) FROM sessions WHERE kind = 'staff'").fetchone()[0] == 0
    anonymous.cookies.set(COOKIE, copied)  # the signature is still good; the session is gone
    assert anonymous.get("/staff", follow_redirects=False).status_code == 303


def test_a_new_session_and_token_after_signing_in(anonymous):
    before = csrf_of(anonymous.get("/staff/login"))
    sign_in(anonymous, USERNAME, PASSWORD)
    after = token_for(anonymous)
    assert before != after
    # The token from before signing in is worth nothing afterwards.
    response = anonymous.post("/staff/logout", data={"csrf_token": before}, follow_redirects=False)
    assert response.status_code == 403


def test_wrong_password_shows_the_error_summary_and_signs_nobody_in(anonymous):
    response = sign_in(anonymous, USERNAME, PASSWORD + "x")
    assert response.status_code == 400
    summary = soup(response).find(attrs={"role": "alert"})
    assert summary.h2.get_text() == "There is a problem"
    assert [a["href"] for a in summary.find_all("a")] == ["#username"]
    assert soup(response).find(id="username")["aria-invalid"] == "true"
    assert soup(response).find(id="username")["value"] == USERNAME
    assert anonymous.get("/staff", follow_redirects=False).status_code == 303
    assert sign_in(anonymous, "nobody", PASSWORD).status_code == 400


def test_empty_fields_are_named_in_the_summary(anonymous):
    token = csrf_of(anonymous.get("/staff/login"))
    response = anonymous.post("/staff/login", data={"csrf_token": token, "username": "", "password": ""})
    assert response.status_code == 400
    links = soup(response).find(attrs={"role": "alert"}).find_all("a")
    assert [a["href"] for a in links] == ["#username", "#password"]


def test_repeated_failures_are_slowed_down(anonymous):
    for _ in range(5):
        assert sign_in(anonymous, USERNAME, "wrong password here").status_code == 400
    response = sign_in(anonymous, USERNAME, PASSWORD)
    assert response.status_code == 429
    assert "Too many failed attempts" in soup(response).find(attrs={"role": "alert"}).get_text()
    assert anonymous.get("/staff", follow_redirects=False).status_code == 303


def test_a_forged_or_altered_cookie_is_not_a_session(anonymous, staff_settings):
    secret = auth.secret_key_for(staff_settings)
    forged = auth.dump_session("not the secret key at all, but long enough", auth.Session("t", 1, "f"))
    anonymous.cookies.set(COOKIE, forged)
    assert anonymous.get("/staff", follow_redirects=False).status_code == 303
    genuine = auth.dump_session(secret, auth.Session("t", 1, "wrong fingerprint"))
    anonymous.cookies.set(COOKIE, genuine)
    assert anonymous.get("/staff", follow_redirects=False).status_code == 303


def test_changing_the_password_ends_existing_sessions(signed_in, staff_db):
    assert signed_in.get("/staff", follow_redirects=False).status_code == 200
    auth.create_staff(staff_db, USERNAME, "another long passphrase", replace=True)
    assert signed_in.get("/staff", follow_redirects=False).status_code == 303


def test_the_secret_key_is_made_once_and_kept_private(tmp_path):
    settings = Settings.from_env({}, data_dir=tmp_path / "data")
    key = auth.secret_key_for(settings)
    path = settings.data_dir / "secret_key"
    assert path.read_text().strip() == key and len(key) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    auth._stored_secret.cache_clear()
    assert auth.secret_key_for(settings) == key
    assert auth.secret_key_for(dataclasses.replace(settings, secret_key="configured")) == "configured"


# --- CSRF ---


def test_a_post_without_the_token_or_with_a_wrong_one_changes_nothing(signed_in, staff_db):
    book_id = catalogue.add_book(staff_db, _tiny_book("Untouched"))
    form = {"title": "Changed", "rights": "public-domain"}
    for extra in ({}, {"csrf_token": "not-the-token"}):
        response = signed_in.post(f"/staff/books/{book_id}/edit", data={**form, **extra})
        assert response.status_code == 403
        assert "nothing was changed" in response.text
        response = signed_in.post(f"/staff/books/{book_id}/editions", data={"format": "txt", **extra})
        assert response.status_code == 403
    assert catalogue.get_book(staff_db, book_id)["title"] == "Untouched"
    assert store.editions_for_book(staff_db, book_id) == []
    assert signed_in.post("/staff/logout", data={}).status_code == 403
    assert signed_in.get("/staff", follow_redirects=False).status_code == 200, "still signed in"


def test_the_sign_in_form_has_its_token_too(anonymous):
    anonymous.get("/staff/login")
    form = {"username": USERNAME, "password": PASSWORD}
    assert anonymous.post("/staff/login", data=form).status_code == 403
    assert anonymous.post("/staff/login", data={**form, "csrf_token": "guess"}).status_code == 403
    assert anonymous.get("/staff", follow_redirects=False).status_code == 303


# --- Upload ---


def _zip_bomb() -> bytes:
    """An EPUB-shaped zip whose one chapter inflates 1000-fold: refused by the importer's zip checks."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        archive.writestr("OEBPS/chapter.xhtml", b"\0" * 20_000_000, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def _upload(client: TestClient, files: list[tuple[str, bytes]], *, token: str | None, rights="public-domain"):
    data = {"rights": rights}
    if token is not None:
        data = {"csrf_token": token, **data}
    parts = [("books", (name, content, "application/octet-stream")) for name, content in files]
    return client.post("/staff/upload", data=data, files=parts)


def _results(response) -> dict[str, tuple[str, str]]:
    """File name -> (status, reason) from the result page."""
    found = {}
    for item in soup(response).select(".upload-results > li"):
        name = item.select_one(".file-name").get_text()
        reason = item.select_one(".reason")
        found[name] = (item["class"][0].removeprefix("upload-"), reason.get_text() if reason else "")
    return found


def test_several_files_at_once_each_with_its_own_outcome(signed_in, staff_db, staff_settings):
    files = [
        (SMALL_TEXT.name, SMALL_TEXT.read_bytes()),
        (CHINESE_TEXT.name, CHINESE_TEXT.read_bytes()),
        (EPUB.name, EPUB.read_bytes()),
        ("again.txt", SMALL_TEXT.read_bytes()),
        ("bomb.epub", _zip_bomb()),
        (NOT_A_ZIP.name, NOT_A_ZIP.read_bytes()),
        (LARGE_TEXT.name, LARGE_TEXT.read_bytes()),
        ("../../../etc/evil.sh", b"#!/bin/sh\nrm -rf /\n"),
    ]
    assert len(files[4][1]) < MAX_FILE_BYTES and LARGE_TEXT.stat().st_size > MAX_FILE_BYTES
    response = _upload(signed_in, files, token=token_for(signed_in), rights="restricted")
    assert response.status_code == 200
    results = _results(response)
    assert list(results) == [name for name, _ in files[:7]] + ["evil.sh"]
    statuses = {name: status for name, (status, _) in results.items()}
    assert statuses == {
        SMALL_TEXT.name: "imported",
        CHINESE_TEXT.name: "imported",
        EPUB.name: "imported",
        "again.txt": "duplicate",
        "bomb.epub": "rejected",
        NOT_A_ZIP.name: "rejected",
        LARGE_TEXT.name: "rejected",
        "evil.sh": "rejected",
    }
    assert str(MAX_FILE_BYTES) in results[LARGE_TEXT.name][1]
    assert ".sh" in results["evil.sh"][1]
    assert all(reason for status, reason in results.values() if status == "rejected")
    assert "3 imported, 1 already in the library, 4 rejected." in soup(response).get_text(" ", strip=True)

    rows = staff_db.execute("SELECT id, source_name, rights FROM books ORDER BY id").fetchall()
    assert [(name, rights) for _, name, rights in rows] == [
        (SMALL_TEXT.name, "restricted"),
        (CHINESE_TEXT.name, "restricted"),
        (EPUB.name, "restricted"),
    ]
    links = {a["href"] for a in soup(response).select(".upload-results a")}
    assert {f"/books/{book_id}" for book_id, _, _ in rows} <= links
    assert {f"/staff/books/{book_id}/edit" for book_id, _, _ in rows} <= links
    assert list((staff_settings.data_dir / "uploads").iterdir()) == [], "temporary copies are removed"
    assert len(list(staff_settings.sources_dir.iterdir())) == 3, "only imported originals are kept"


def test_uploading_a_book_imported_by_an_older_version_rebuilds_its_chapters(signed_in, staff_db):
    first = _results(_upload(signed_in, [(EPUB.name, EPUB.read_bytes())], token=token_for(signed_in)))
    assert first[EPUB.name][0] == "imported"
    with staff_db.conn:
        staff_db.execute("UPDATE books SET ingest_version = 1")
    response = _upload(signed_in, [("raven.epub", EPUB.read_bytes())], token=token_for(signed_in))
    item = soup(response).select_one(".upload-results > li")
    assert item["class"] == ["upload-rebuilt"]
    assert "its chapters were made again from this file" in item.get_text(" ", strip=True)
    assert "0 imported, 1 already in the library, 0 rejected." in soup(response).get_text(" ", strip=True)
    assert staff_db.execute("SELECT count(*), max(ingest_version) FROM books").fetchone() == (1, 2)


def test_an_upload_too_large_as_a_whole_is_refused_before_anything_is_kept(
    signed_in, staff_db, staff_settings
):
    limit = body_limit(staff_settings)
    files = [(SMALL_TEXT.name, SMALL_TEXT.read_bytes()), ("huge.txt", b"a" * (limit + 1))]
    response = _upload(signed_in, files, token=token_for(signed_in))
    assert response.status_code == 413
    assert "nothing was imported" in response.text
    assert catalogue.book_count(staff_db) == 0
    uploads = staff_settings.data_dir / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []


def test_files_past_the_most_one_upload_takes_are_refused_unread(signed_in, staff_db, staff_settings):
    files = [
        (f"note-{n:02}.txt", f"Note number {n}.\n\nIt says {n} things.\n".encode()) for n in range(MAX_FILES)
    ]
    files.append(("one-too-many.txt", b"Past the limit.\n"))
    results = _results(_upload(signed_in, files, token=token_for(signed_in)))
    assert list(results) == [name for name, _ in files]
    assert all(status == "imported" for status, _ in list(results.values())[:MAX_FILES])
    status, reason = results["one-too-many.txt"]
    assert status == "rejected" and f"at most {MAX_FILES}" in reason
    assert catalogue.book_count(staff_db) == MAX_FILES
    assert list((staff_settings.data_dir / "uploads").iterdir()) == [], "temporary copies are removed"


def test_attaching_two_files_to_a_record_without_text_takes_neither(signed_in, staff_db, staff_settings):
    record = IngestedBook("A record without text", "txt", "0" * 64, "lost.txt")
    book_id = catalogue.add_book(staff_db, record)
    edit = soup(signed_in.get(f"/staff/books/{book_id}/edit"))
    token = edit.find("form", action=f"/staff/books/{book_id}/file").find(
        "input", attrs={"name": "csrf_token"}
    )
    parts = [("books", (path.name, path.read_bytes(), "text/plain")) for path in (SMALL_TEXT, CHINESE_TEXT)]
    response = signed_in.post(
        f"/staff/books/{book_id}/file", data={"csrf_token": token["value"]}, files=parts
    )
    assert response.status_code == 400
    summary = soup(response).select_one("#error-summary a")
    assert summary["href"] == "#books"
    assert summary.get_text() == "The file was not attached: Choose one EPUB or text file."
    assert catalogue.get_book(staff_db, book_id)["chapter_count"] == 0
    assert list((staff_settings.data_dir / "uploads").iterdir()) == [], "temporary copies are removed"


def test_an_upload_without_the_token_writes_nothing(signed_in, staff_db, staff_settings):
    files = [(SMALL_TEXT.name, SMALL_TEXT.read_bytes())]
    assert _upload(signed_in, files, token=None).status_code == 403
    assert _upload(signed_in, files, token="wrong").status_code == 403
    # The token after the files is not our form either.
    parts = [("books", (SMALL_TEXT.name, SMALL_TEXT.read_bytes(), "text/plain"))]
    body_first = signed_in.post("/staff/upload", files=[*parts, ("csrf_token", (None, token_for(signed_in)))])
    assert body_first.status_code == 403
    assert catalogue.book_count(staff_db) == 0
    uploads = staff_settings.data_dir / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []


def test_an_upload_without_files_asks_for_one(signed_in):
    response = signed_in.post(
        "/staff/upload",
        data={"csrf_token": token_for(signed_in)},
        files=[("books", ("", b"", "application/octet-stream"))],
    )
    assert response.status_code == 400
    page = soup(response)
    assert [a["href"] for a in page.find(attrs={"role": "alert"}).find_all("a")] == ["#books"]
    field = page.find(id="books")
    assert field["aria-invalid"] == "true" and "books-error" in field["aria-describedby"].split()
    assert field.has_attr("multiple") and field["accept"] == ".epub,.txt"


# --- Editing a record ---


def _tiny_book(title: str, **fields):
    from .conftest import make_book

    return make_book(title, [("One", "The harpooneer sailed at dawn.")], **fields)


def _edit_form(client: TestClient, book_id: int) -> dict[str, str]:
    page = soup(client.get(f"/staff/books/{book_id}/edit"))
    form = page.find("form", action=f"/staff/books/{book_id}/edit")
    values = {
        field["name"]: field.get("value", "") for field in form.find_all("input") if field["type"] != "radio"
    }
    values.update({area["name"]: area.get_text() for area in form.find_all("textarea")})
    values["rights"] = form.find("input", attrs={"name": "rights", "checked": True})["value"]
    return values


def test_invalid_fields_come_back_with_a_linked_error_summary(signed_in, staff_db):
    book_id = catalogue.add_book(staff_db, _tiny_book("Original", authors=["A. Writer"], language="en"))
    form = _edit_form(signed_in, book_id)
    assert form["title"] == "Original" and form["authors"] == "A. Writer" and form["language"] == "en"
    bad = {**form, "title": "  ", "language": "english!", "date": "1851-13-01", "rights": "stolen"}
    response = signed_in.post(f"/staff/books/{book_id}/edit", data=bad)
    assert response.status_code == 400
    page = soup(response)
    assert page.title.get_text().startswith("Error:")
    summary = page.find(attrs={"role": "alert"})
    assert summary.find("h2").get_text() == "There is a problem"
    assert summary is page.find("main").find(attrs={"role": "alert"}), "one summary, inside main"
    links = summary.find_all("a")
    assert [a["href"] for a in links] == ["#title", "#language", "#date", "#rights-public-domain"]
    for link in links:
        field = page.find(id=link["href"][1:])
        assert field is not None and field["aria-invalid"] == "true", link
        name = field["name"]
        message = page.find(id=f"{name}-error")
        assert message is not None, name
        assert link.get_text() in message.get_text()
        described = field.get("aria-describedby") or field.find_parent("fieldset")["aria-describedby"]
        assert f"{name}-error" in described.split()
    assert page.find(id="language")["value"] == "english!", "what was typed is kept"
    assert page.find(id="subtitle").get("aria-invalid") is None
    assert catalogue.get_book(staff_db, book_id)["title"] == "Original"


def test_a_saved_record_changes_what_search_finds(signed_in, staff_db):
    book_id = catalogue.add_book(
        staff_db, _tiny_book("Quarterdeck Notes", authors=["Old Name"], language="en")
    )
    assert [hit.book_id for hit in search.search(staff_db, "quarterdeck").hits] == [book_id]
    form = {
        **_edit_form(signed_in, book_id),
        "title": "Lighthouse Diaries",
        "authors": "Ada Lovelace\n\nMary Shelley\nAda Lovelace",
        "subjects": "Lighthouses\nDiaries",
        "language": "en-GB",
        "date": "1843-10",
        "rights": "restricted",
    }
    response = signed_in.post(f"/staff/books/{book_id}/edit", data=form, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/staff/books/{book_id}/edit?saved=1"
    saved = soup(signed_in.get(response.headers["location"]))
    assert saved.find(attrs={"role": "status"}).get_text(strip=True) == "The changes were saved."
    book = catalogue.get_book(staff_db, book_id)
    assert (book["title"], book["authors"], book["subjects"]) == (
        "Lighthouse Diaries",
        ["Ada Lovelace", "Mary Shelley"],
        ["Diaries", "Lighthouses"],
    )
    assert (book["language"], book["date"], book["rights"]) == ("en-GB", "1843-10", "restricted")
    assert search.search(staff_db, "quarterdeck").total == 0
    assert [hit.book_id for hit in search.search(staff_db, "lighthouse").hits] == [book_id]
    assert [hit.book_id for hit in search.search(staff_db, "shelley").hits] == [book_id]
    assert [hit.book_id for hit in search.search(staff_db, "harpooneer").hits] == [book_id], (
        "text still found"
    )


# --- Editions and jobs ---


def test_requesting_an_edition_creates_the_row_once(signed_in, staff_db):
    book_id = catalogue.add_book(staff_db, _tiny_book("Edition Source"))
    page = soup(signed_in.get(f"/staff/books/{book_id}/edit"))
    options = [o["value"] for o in page.find("select", id="format").find_all("option")]
    assert {"html", "txt"} <= set(options)
    token = token_for(signed_in)
    url = f"/staff/books/{book_id}/editions"
    first = signed_in.post(url, data={"csrf_token": token, "format": "txt"}, follow_redirects=False)
    assert first.status_code == 303
    edition_id = int(first.headers["location"].rsplit("/", 1)[1])
    edition = store.get_edition(staff_db, edition_id)
    assert (edition["book_id"], edition["format"], edition["status"]) == (book_id, "txt", store.QUEUED)
    assert edition["requested_by"] == USERNAME
    again = signed_in.post(url, data={"csrf_token": token, "format": "txt"}, follow_redirects=False)
    assert again.headers["location"] == first.headers["location"]
    assert len(store.editions_for_book(staff_db, book_id)) == 1
    assert signed_in.post(url, data={"csrf_token": token, "format": "nope"}).status_code == 400
    listed = soup(signed_in.get(f"/staff/books/{book_id}/edit")).select(".edition-jobs a")
    assert [a["href"] for a in listed] == [f"/staff/jobs/{edition_id}"]


def test_an_outdated_edition_is_shown_as_such_and_rebuilt_with_its_options(signed_in, staff_db):
    book_id = catalogue.add_book(staff_db, _tiny_book("Rebuilt Chapters"))
    options = {"table": "en-ueb-g1", "cells": 32, "lines": 25, "word_spacing": True}
    outdated, _ = store.request_edition(staff_db, book_id, "brf", options)
    current, _ = store.request_edition(staff_db, book_id, "txt", {})
    with staff_db.conn:
        staff_db.execute("UPDATE editions SET status = 'done' WHERE book_id = ?", [book_id])
    from .conftest import make_book

    new_chapters = make_book("Rebuilt Chapters", [("One", "The harpooneer."), ("Two", "He sailed at dawn.")])
    catalogue.rebuild_contents(staff_db, book_id, new_chapters)  # marks both outdated
    with staff_db.conn:
        staff_db.execute("UPDATE editions SET outdated_at = NULL WHERE id = ?", [current])

    items = soup(signed_in.get(f"/staff/books/{book_id}/edit")).select(".edition-jobs > li")
    by_job = {item.a["href"]: item for item in items}
    stale = by_job[f"/staff/jobs/{outdated}"]
    assert stale.strong.get_text(strip=True) == "outdated: made before the book’s chapters were rebuilt"
    assert stale.button.get_text(strip=True) == f"Rebuild Braille (BRF) (job {outdated})"
    assert by_job[f"/staff/jobs/{current}"].strong is None and by_job[f"/staff/jobs/{current}"].form is None

    # The job list says it too, and lists the editions to make again on their own.
    rows = {
        row.th.a["href"]: row.find("td", attrs={"data-field": "status_text"})
        for row in soup(signed_in.get("/staff/jobs")).find("table").tbody.find_all("tr")
    }
    assert rows[f"/staff/jobs/{outdated}"].strong.get_text(strip=True).startswith("outdated")
    assert rows[f"/staff/jobs/{current}"].strong is None
    only = soup(signed_in.get("/staff/jobs?status=outdated"))
    assert only.h1.get_text(strip=True) == "Edition jobs: Outdated"
    assert [row.th.a["href"] for row in only.find("table").tbody.find_all("tr")] == [
        f"/staff/jobs/{outdated}"
    ]
    job_page = soup(signed_in.get(f"/staff/jobs/{outdated}"))
    assert job_page.find("dd", attrs={"data-field": "status_text"}).strong is not None

    form = stale.form
    data = {field["name"]: field["value"] for field in form.find_all("input")}
    response = signed_in.post(form["action"], data=data, follow_redirects=False)
    assert response.headers["location"] == f"/staff/jobs/{outdated}"  # the same edition, made again
    edition = store.get_edition(staff_db, outdated)
    assert (edition["status"], edition["outdated_at"], edition["options"]) == (store.QUEUED, None, options)


def test_the_job_list_and_status_say_everything_in_words(signed_in, staff_db):
    book_id = catalogue.add_book(staff_db, _tiny_book("Progressing"))
    running, _ = store.request_edition(staff_db, book_id, "txt", {})
    waiting, _ = store.request_edition(staff_db, book_id, "html", {})
    token = store.claim(staff_db, running, lease_seconds=60)
    assert store.renew(
        staff_db, running, token, lease_seconds=60, progress=37, step="Writing", eta_seconds=200
    )

    page = soup(signed_in.get("/staff/jobs"))
    table = page.find("table")
    assert table.caption.get_text(strip=True)
    assert all(th["scope"] == "col" for th in table.thead.find_all("th"))
    rows = {row.th.get_text(strip=True): row for row in table.tbody.find_all("tr")}
    row = rows[f"Job {running}"]
    cells = [cell.get_text(" ", strip=True) for cell in row.find_all("td")]
    assert cells[2:6] == ["Running", "37%", "Writing", "About 3 minutes left"]
    assert row.find("progress")["value"] == "37" and row.find("progress")["max"] == "100"
    assert row["data-job-url"] == f"/staff/jobs/{running}.json"
    assert rows[f"Job {waiting}"].find(attrs={"data-field": "status_text"}).get_text() == "Waiting to start"
    assert page.find("a", string="Refresh the list") is not None
    assert page.find("script", src="/static/progress.js") is not None
    filtered = soup(signed_in.get("/staff/jobs?status=queued")).find("table").tbody.find_all("tr")
    assert [row.th.get_text(strip=True) for row in filtered] == [f"Job {waiting}"]

    status = soup(signed_in.get(f"/staff/jobs/{running}"))
    assert status.find("meta", attrs={"http-equiv": re.compile("refresh", re.I)}) is None
    assert status.find("a", attrs={"data-refresh": True})["href"] == f"/staff/jobs/{running}"
    assert status.find(attrs={"data-checked": True}).get_text().startswith("Status as of ")
    region = status.find(id="job-announcer")
    assert region["aria-live"] == "polite" and region.get_text() == ""
    assert status.find(attrs={"data-job-url": True})["data-milestone"] == "30"

    job = signed_in.get(f"/staff/jobs/{running}.json")
    assert job.headers["content-type"].startswith("application/json")
    assert job.headers["cache-control"] == "no-store"
    data = job.json()
    assert (data["status"], data["progress"], data["milestone"], data["finished"]) == (
        "running",
        37,
        30,
        False,
    )
    assert data["milestone_text"] == "30% done" and data["final_text"] == ""

    assert store.fail(staff_db, running, token, error="The disk is full.", retry_at=None)
    data = signed_in.get(f"/staff/jobs/{running}.json").json()
    assert data["finished"] and data["status_text"] == "Failed"
    assert data["final_text"] == "Failed: The disk is full."
    finished_page = soup(signed_in.get(f"/staff/jobs/{running}"))
    assert finished_page.find(attrs={"data-job-url": True}) is None, "a finished job is not polled"
    assert signed_in.get("/staff/jobs/999999.json").status_code == 404


# --- The command ---


def test_create_staff_command(tmp_path):
    from accessible_lib.cli import main

    env = {"ACCESSIBLE_LIB_DATA_DIR": str(tmp_path / "data"), "ACCESSIBLE_LIB_SECRET_KEY": ""}
    runner = CliRunner()
    short = runner.invoke(main, ["create-staff", "mei", "--password-stdin"], input="short\n", env=env)
    assert short.exit_code == 1
    assert "at least 12 characters" in short.output
    made = runner.invoke(main, ["create-staff", "Mei", "--password-stdin"], input=PASSWORD + "\n", env=env)
    assert made.exit_code == 0, made.output
    again = runner.invoke(main, ["create-staff", "mei", "--password-stdin"], input=PASSWORD + "\n", env=env)
    assert again.exit_code == 1 and "already exists" in again.output
    prompted = runner.invoke(
        main, ["create-staff", "li"], input=f"{PASSWORD}\nsomething else!!\n{PASSWORD}\n{PASSWORD}\n", env=env
    )
    assert prompted.exit_code == 0, prompted.output
    assert PASSWORD not in prompted.output, "the password is never echoed"
    bad_name = runner.invoke(main, ["create-staff", "no spaces", "--password-stdin"], input=PASSWORD, env=env)
    assert bad_name.exit_code == 2
    db = open_database(tmp_path / "data" / "catalogue.db")
    try:
        assert auth.authenticate(db, "mei", PASSWORD) is not None
        assert auth.authenticate(db, "li", PASSWORD) is not None
        assert auth.authenticate(db, "mei", "short") is None
        hashes = [row[0] for row in db.execute("SELECT password_hash FROM staff_users")]
    finally:
        db.close()
    assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)


def test_paths_are_only_local():
    from accessible_lib.web.staff_session import safe_next
    from accessible_lib.web.staff_upload import safe_file_name

    assert safe_next("https://evil.example/") == "/staff"
    assert safe_next("//evil.example/") == "/staff"
    assert safe_next("/staff/jobs?status=failed") == "/staff/jobs?status=failed"
    assert safe_file_name("C:\\Users\\me\\book.epub") == "book.epub"
    assert safe_file_name("../../.hidden.txt") == "hidden.txt"
    assert safe_file_name("\x00\x1f") == "upload"
    assert Path(safe_file_name("a" * 400 + ".epub")).suffix == ".epub"
