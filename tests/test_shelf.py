"""The reader's shelf (issue 11, part 5) through the real app and the real reader sign-in: favourites,
bookmarks, resume reading and listening on another device, history, downloads; all without JavaScript
(the player's and the reading script's JSON reports are tested here as a script sends them), and every
reader seeing only their own shelf."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from starlette.testclient import TestClient

from accessible_lib import catalogue, create_app, readers, shelf
from accessible_lib.editions import store
from accessible_lib.editions.export import export_book
from accessible_lib.editions.runner import run_conversion
from accessible_lib.editions.storage import storage_for

from .conftest import make_book
from .test_player import publish_mp3

PASSWORD = "correct horse battery"
CHAPTERS = [
    ("Loomings", "Call me Ishmael.\n\nSome years ago I thought I would sail.\n\nThe whale was white."),
    ("The Carpet-Bag", "I stuffed a shirt or two into my old carpet-bag.\n\nAnd started for Cape Horn."),
    ("The Spouter-Inn", "Entering that gable-ended Spouter-Inn, you found yourself in a wide hall."),
]


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> None:
    """The accounts code's own sign-in form, as a reader fills it in."""
    form = soup(client.get("/account/sign-in")).find("form", action="/account/sign-in")
    token = form.find("input", attrs={"name": "csrf_token"})["value"]
    response = client.post(
        "/account/sign-in",
        data={"csrf_token": token, "email": email, "password": password, "next": "/account"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/account", response.text


def submit(client: TestClient, form, **changes: str):
    """Post an HTML form as a browser without JavaScript would, with its hidden fields."""
    data = {field["name"]: field.get("value", "") for field in form.find_all("input") if field.get("name")}
    data.update({area["name"]: area.get_text() for area in form.find_all("textarea")})
    data.update(changes)
    return client.post(form["action"], data=data, follow_redirects=False)


@pytest.fixture
def book_id(db) -> int:
    return catalogue.add_book(
        db, make_book("Moby-Dick", CHAPTERS, language="en", authors=["Herman Melville"])
    )


@pytest.fixture
def ann(db) -> int:
    return readers.add_reader(db, "ann@example.org", "Ann", PASSWORD)


@pytest.fixture
def bob(db) -> int:
    return readers.add_reader(db, "bob@example.org", "Bob", PASSWORD)


@pytest.fixture
def phone(settings, ann):
    with TestClient(create_app(settings)) as client:
        sign_in(client, "ann@example.org")
        yield client


@pytest.fixture
def computer(settings, ann):
    """The same reader on a second device: its own session, its own cookies."""
    with TestClient(create_app(settings)) as client:
        sign_in(client, "ann@example.org")
        yield client


@pytest.fixture
def other(settings, bob):
    with TestClient(create_app(settings)) as client:
        sign_in(client, "bob@example.org")
        yield client


def test_a_visitor_who_has_not_signed_in_has_no_shelf(client, db, book_id) -> None:
    response = client.get("/account/shelf", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/account/sign-in?next=%2Faccount%2Fshelf"
    chapter = soup(client.get(f"/books/{book_id}/read/1"))
    assert chapter.find("form", action="/account/shelf/favourites") is None
    assert chapter.select("p[id^=para-]") == []  # anonymous reading pages are as they were
    response = client.post("/account/shelf/favourites", data={"book": str(book_id)}, follow_redirects=False)
    assert response.headers["location"].startswith("/account/sign-in")
    response = client.post("/account/shelf/listening", json={"book": book_id, "chapter": 1, "seconds": 3})
    assert response.status_code == 401
    assert db.execute("SELECT count(*) FROM shelf_favourites").fetchone()[0] == 0


def test_add_and_remove_a_favourite_without_javascript(phone, db, ann, book_id) -> None:
    form = soup(phone.get(f"/books/{book_id}")).find("form", action="/account/shelf/favourites")
    assert form.find("button").get_text() == "Add to favourites"
    response = submit(phone, form)
    assert response.status_code == 303
    page = soup(phone.get(response.headers["location"]))
    assert page.find(class_="notice").get_text(strip=True) == "Added to your favourites."
    assert page.find(class_="notice")["role"] == "status"
    form = page.find("form", action="/account/shelf/favourites")
    assert form.find("button").get_text() == "Remove from favourites"
    shelf_page = soup(phone.get("/account/shelf"))
    favourites = shelf_page.find(id="favourites").find_next("ul")
    assert [a.get_text() for a in favourites.find_all("a")] == ["Moby-Dick"]
    submit(phone, form)
    assert shelf.favourites(db, ann) == []


def test_a_form_without_the_sessions_token_changes_nothing(phone, db, book_id) -> None:
    form = soup(phone.get(f"/books/{book_id}")).find("form", action="/account/shelf/favourites")
    response = submit(phone, form, csrf_token="forged")
    assert response.status_code == 403
    assert soup(response).find("h1").get_text() == "The form could not be accepted"
    assert db.execute("SELECT count(*) FROM shelf_favourites").fetchone()[0] == 0


def test_reading_position_follows_the_reader_to_another_device(phone, computer, book_id) -> None:
    assert phone.get(f"/books/{book_id}/read/2").status_code == 200  # no script: the visit records it
    book_page = soup(computer.get(f"/books/{book_id}"))
    link = book_page.find("a", string="Continue reading")
    assert link["href"] == f"/books/{book_id}/read/2"
    assert "The Carpet-Bag" in link.find_parent("p").get_text()
    home = soup(computer.get("/"))
    heading = home.find("h2", id="continue-reading")
    assert heading.get_text() == "Continue reading"
    [item] = heading.find_next("ul").find_all("li")
    assert item.find("a")["href"] == f"/books/{book_id}/read/2"
    assert item.find("a").get_text() == "Moby-Dick" and item.find("a")["lang"] == "en"


def test_the_reading_script_reports_the_paragraph_and_a_revisit_keeps_it(phone, computer, book_id) -> None:
    page = soup(phone.get(f"/books/{book_id}/read/1"))
    script = page.find("script", attrs={"data-shelf-reading": True})
    token = script["data-csrf"]
    report = {"book": book_id, "chapter": 1, "paragraph": 3, "csrf_token": token}
    assert phone.post("/account/shelf/reading", json=report).status_code == 204
    link = soup(computer.get(f"/books/{book_id}")).find("a", string="Continue reading")
    assert link["href"] == f"/books/{book_id}/read/1#para-3"
    target = soup(computer.get(link["href"].split("#")[0])).find(id="para-3")
    assert target.name == "p" and target.get_text() == "The whale was white."
    # Opening the same chapter again (following that link) keeps the paragraph; another chapter does not.
    link = soup(computer.get(f"/books/{book_id}")).find("a", string="Continue reading")
    assert link["href"] == f"/books/{book_id}/read/1#para-3"
    computer.get(f"/books/{book_id}/read/3")
    link = soup(phone.get(f"/books/{book_id}")).find("a", string="Continue reading")
    assert link["href"] == f"/books/{book_id}/read/3"
    for bad in (
        {**report, "csrf_token": "forged"},
        {**report, "chapter": 99},
        {**report, "paragraph": "3"},
        {**report, "book": 999},
    ):
        assert phone.post("/account/shelf/reading", json=bad).status_code in {400, 403, 404}, bad
    assert phone.post("/account/shelf/reading", content=b"{" * 5000).status_code == 413
    assert phone.post("/account/shelf/reading", content=b"not json").status_code == 400


def test_bookmark_a_paragraph_with_a_note_and_find_it_on_the_other_device(phone, computer, book_id) -> None:
    chapter = soup(phone.get(f"/books/{book_id}/read/1"))
    assert chapter.select(".bookmark-this") == []  # no link after every paragraph unless asked for
    show = chapter.find("a", string="Bookmark a paragraph: show a link after each one")
    marked = soup(phone.get(show["href"]))
    links = marked.select("p.bookmark-this a")
    assert [a.get_text() for a in links] == [
        "Bookmark paragraph 1",
        "Bookmark paragraph 2",
        "Bookmark paragraph 3",
    ]
    assert all(a.find_parent("p")["lang"] == "en" for a in links)  # the interface's words, marked as such
    form_page = soup(phone.get(links[1]["href"]))
    assert form_page.find("h1").get_text() == "Bookmark paragraph 2"
    assert form_page.find("blockquote").get_text() == "Some years ago I thought I would sail."
    form = form_page.find("form", action=f"/books/{book_id}/read/1/bookmark")
    assert form.find("label", attrs={"for": "note"}).get_text() == "Note (optional)"
    response = submit(phone, form, note="Where the voyage begins")
    assert response.status_code == 303
    assert response.headers["location"] == f"/books/{book_id}/read/1?shelf=bookmark-added#para-2"

    again = soup(computer.get(f"/books/{book_id}/read/1"))
    mark = again.find(id="para-2").find_next_sibling()
    assert "bookmark-mark" in mark["class"] and mark.get_text() == "Your bookmark: Where the voyage begins"
    listed = soup(computer.get("/account/shelf")).find(id="bookmarks").find_next("ul")
    [item] = listed.find_all("li", recursive=False)
    assert item.find("a")["href"] == f"/books/{book_id}/read/1#para-2"
    assert item.find("a").get_text() == "Moby-Dick, chapter 1, paragraph 2"  # heard alone, it names the book
    assert item.find(class_="bookmark-note").get_text() == "Note: Where the voyage begins"
    response = submit(computer, item.find("form"))
    assert response.headers["location"] == "/account/shelf?shelf=bookmark-deleted#bookmarks"
    assert (
        soup(computer.get("/account/shelf"))
        .find(id="bookmarks")
        .find_next("p")
        .get_text()
        .startswith("No bookmarks")
    )


def test_a_note_too_long_is_refused_with_a_linked_error_and_nothing_kept(phone, db, ann, book_id) -> None:
    page = soup(phone.get(f"/books/{book_id}/read/2/bookmark"))
    form = page.find("form", action=f"/books/{book_id}/read/2/bookmark")
    response = submit(phone, form, note="x" * (shelf.MAX_NOTE_CHARS + 1))
    assert response.status_code == 400
    page = soup(response)
    summary = page.find(class_="error-summary")
    assert summary["role"] == "alert" and summary.find("a")["href"] == "#note"
    assert page.find(id="note")["aria-describedby"].split()[-1] == "note-error"
    assert shelf.bookmarks(db, ann) == []
    assert phone.get(f"/books/{book_id}/read/2/bookmark?paragraph=9").status_code == 400
    assert phone.get(f"/books/{book_id}/read/9/bookmark").status_code == 404


def test_one_readers_shelf_is_never_anothers(phone, other, db, ann, bob, book_id) -> None:
    phone.get(f"/books/{book_id}/read/2")
    mark = shelf.add_bookmark(db, ann, book_id, chapter=2, note="private thought")
    shelf.set_favourite(db, ann, book_id, True)
    assert "private thought" not in other.get("/account/shelf").text
    assert soup(other.get("/")).find(id="continue-reading") is None
    assert soup(other.get(f"/books/{book_id}")).find("a", string="Continue reading") is None
    assert "private thought" not in other.get(f"/books/{book_id}/read/2").text  # now Bob's own history
    token = soup(other.get("/account/shelf")).find("input", attrs={"name": "csrf_token"})["value"]
    response = other.post(f"/account/shelf/bookmarks/{mark}/delete", data={"csrf_token": token})
    assert response.status_code == 404
    assert [b["id"] for b in shelf.bookmarks(db, ann)] == [mark]
    assert [p["chapter"] for p in shelf.reading_history(db, bob)] == [2] and shelf.favourites(db, bob) == []


def test_listening_position_is_kept_for_the_player_and_offered_without_javascript(
    phone, computer, db, settings, ann, book_id
) -> None:
    edition_id = publish_mp3(db, settings, book_id)
    root = soup(phone.get(f"/books/{book_id}")).find(attrs={"data-player-root": True})
    assert root["data-save-url"] == "/account/shelf/listening"
    report = {"book": book_id, "edition": edition_id, "chapter": 2, "seconds": 12.4, "rate": 1.5}
    response = phone.post(root["data-save-url"], json={**report, "csrf_token": root["data-csrf"]})
    assert response.status_code == 204

    page = soup(computer.get(f"/books/{book_id}"))
    player = page.find(attrs={"data-player-root": True})
    assert (player["data-server-chapter"], player["data-server-seconds"], player["data-server-rate"]) == (
        "2", "12.4", "1.5",
    )  # fmt: skip
    link = page.find("a", string="Continue listening")
    chapter_two = page.select("ol.listen-chapters a[data-chapter]")[1]["href"]
    assert link["href"] == f"{chapter_two}#t=12"  # plays from there in the browser, no script needed
    assert "at 0:12" in link.find_parent("p").get_text()
    home = soup(computer.get("/")).find("h2", id="continue-listening").find_next("ul")
    assert home.find("a")["href"] == f"/books/{book_id}#listen"

    form = page.find("form", action="/account/shelf/bookmarks/listening")
    assert submit(computer, form).status_code == 303
    [mark] = shelf.bookmarks(db, ann)
    assert (mark["audio_chapter"], mark["audio_seconds"]) == (2, 12.4)
    assert "listening: chapter 2 at 0:12" in computer.get("/account/shelf").text

    for bad in (
        {**report, "chapter": 0},
        {**report, "seconds": "x"},
        {**report, "rate": 9},
        {**report, "edition": 999},
    ):
        response = phone.post(root["data-save-url"], json={**bad, "csrf_token": root["data-csrf"]})
        assert response.status_code == 400, bad
    assert phone.post(root["data-save-url"], json={**report, "csrf_token": "forged"}).status_code == 403


def test_download_history_on_the_shelf_and_from_the_account(phone, db, settings, book_id) -> None:
    edition_id, _ = store.request_edition(db, book_id, "txt", {})
    token = store.claim(db, edition_id, lease_seconds=60)
    storage = storage_for(settings)
    workspace = storage.new_workspace()
    files = run_conversion(export_book(db, book_id), "txt", {}, workspace, lambda f, s: None)
    storage.publish(workspace, str(edition_id))
    assert store.complete(db, edition_id, token, storage_key=str(edition_id), files=files)
    href = soup(phone.get(f"/books/{book_id}")).find("a", attrs={"download": True})["href"]
    assert phone.get(href).status_code == 200
    assert phone.get(href, headers={"Range": "bytes=10-20"}).status_code == 206  # resuming: not a new one
    account = soup(phone.get("/account"))
    link = account.find("a", string="Download history")
    downloads = soup(phone.get(link["href"])).find(id="downloads").find_next("ul")
    [item] = downloads.find_all("li")
    assert item.find("a").get_text() == "Moby-Dick" and "book.txt" in item.get_text()
    form = downloads.find_next("form", action="/account/shelf/downloads/forget")
    assert submit(phone, form).status_code == 303
    assert (
        soup(phone.get("/account/shelf")).find(id="downloads").find_next("p").get_text()
        == "No downloads yet."
    )


def test_clearing_the_history_forgets_the_places_to_continue(phone, db, ann, book_id) -> None:
    phone.get(f"/books/{book_id}/read/2")
    page = soup(phone.get("/account/shelf"))
    form = page.find("form", action="/account/shelf/history/forget")
    response = submit(phone, form)
    assert response.headers["location"] == "/account/shelf?shelf=book-forgotten#history"
    assert shelf.reading_history(db, ann) == []
    assert soup(phone.get(f"/books/{book_id}")).find("a", string="Continue reading") is None


def test_deleting_a_reader_deletes_their_shelf(db, ann, book_id) -> None:
    shelf.set_favourite(db, ann, book_id, True)
    shelf.add_bookmark(db, ann, book_id, chapter=1, paragraph=2, note="n")
    shelf.record_visit(db, ann, book_id, 1)
    shelf.record_listening(db, ann, book_id, None, 1, 3.0, 1.0)
    assert set(shelf.export_reader(db, ann)) == {
        "favourites",
        "bookmarks",
        "reading",
        "listening",
        "downloads",
    }
    with db.conn:
        db.execute("DELETE FROM sessions WHERE account_id = ?", [ann])
        db.execute("DELETE FROM readers WHERE id = ?", [ann])
    for table in (
        "shelf_favourites",
        "shelf_bookmarks",
        "shelf_reading",
        "shelf_listening",
        "shelf_downloads",
    ):
        assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table


def test_the_shelf_page_speaks_chinese(phone, book_id) -> None:
    phone.cookies.set("locale", "zh_Hans")
    page = soup(phone.get("/account/shelf"))
    assert page.find("h1").get_text() == "您的书架"
    assert page.find("html")["lang"] == "zh-Hans"
