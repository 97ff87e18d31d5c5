"""Anonymous visitors' pages kept in memory (web/page_cache.py): what they are kept by, who never gets them,
and what makes them again."""

from __future__ import annotations

from bs4 import BeautifulSoup
from starlette.testclient import TestClient

from accessible_lib import catalogue, create_app, readers
from accessible_lib.web import csrf
from accessible_lib.web.page_cache import PageCacheMiddleware

from .conftest import make_book
from .form_helpers import ask_braille

READER_EMAIL, READER_PASSWORD = "reader@example.org", "correct horse battery"


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def page_cache(app) -> PageCacheMiddleware:
    """The app's cache layer, found through the middleware stack the app built."""
    layer = app.middleware_stack
    while not isinstance(layer, PageCacheMiddleware):
        layer = layer.app
    return layer


def sign_in(client: TestClient, db) -> None:
    readers.add_reader(db, READER_EMAIL, "Ann Lee", READER_PASSWORD)
    token = soup(client.get("/account/sign-in")).find("input", attrs={"name": "csrf_token"})["value"]
    fields = {"csrf_token": token, "email": READER_EMAIL, "password": READER_PASSWORD, "next": ""}
    assert client.post("/account/sign-in", data=fields, follow_redirects=False).status_code == 303


def test_a_kept_page_is_served_again_and_a_catalogue_change_makes_it_again(client, db, sample_library):
    book = sample_library["en"]
    first = client.get(f"/books/{book}")
    assert first.status_code == 200 and "Moby-Dick" in soup(first).h1.get_text()
    cache = page_cache(client.app).cache
    assert cache is not None and len(cache) == 1
    # Served from memory: a change that the catalogue version does not see is not shown (chapter text)...
    db.execute("UPDATE chapters SET html = '<p>changed</p>' WHERE book_id = ?", [book])
    db.conn.commit()
    assert client.get(f"/books/{book}").text == first.text
    # ...while every change a book page shows is (the title; a chapter title through m028_pages).
    with db.conn:
        db.execute("UPDATE books SET title = 'Moby-Dick; or, The Whale' WHERE id = ?", [book])
    assert "Moby-Dick; or, The Whale" in soup(client.get(f"/books/{book}")).h1.get_text()
    with db.conn:
        db.execute("UPDATE chapters SET title = 'Loomings, again' WHERE book_id = ? AND position = 1", [book])
    assert "Loomings, again" in client.get(f"/books/{book}").text
    # The home page lists a book added since it was kept.
    assert "Frankenstein" not in client.get("/").text
    catalogue.add_book(db, make_book("Frankenstein", [("Letter 1", "You will rejoice.")], language="en"))
    assert "Frankenstein" in client.get("/").text


def test_each_language_and_reading_preference_has_its_own_page(client, sample_library):
    english = client.get("/browse/subjects", headers={"Accept-Language": "en"})
    chinese = client.get("/browse/subjects", headers={"Accept-Language": "zh-CN"})
    assert soup(english).html["lang"] == "en"
    assert soup(chinese).html["lang"].startswith("zh")
    assert soup(chinese).h1.get_text() != soup(english).h1.get_text()
    assert client.get("/browse/subjects", headers={"Accept-Language": "en"}).text == english.text
    client.cookies.set("reading_prefs", "text_size:200.theme:dark")
    larger = client.get("/browse/subjects", headers={"Accept-Language": "en"})
    assert soup(larger).html.attrs != soup(english).html.attrs
    assert len(page_cache(client.app).cache) == 3


def test_a_signed_in_reader_never_gets_a_kept_page_nor_leaves_one(client, db, sample_library):
    book = sample_library["en"]
    anonymous = client.get(f"/books/{book}")
    assert "Sign out" not in anonymous.text
    sign_in(client, db)
    mine = client.get(f"/books/{book}")
    assert "Sign out" in mine.text  # the header's sign-out form, with the session's token
    assert mine.text != anonymous.text
    home = client.get("/")
    assert "Sign out" in home.text
    cache = page_cache(client.app).cache
    assert len(cache) == 1  # only the anonymous book page: nothing of the reader's was kept
    with TestClient(client.app) as stranger:
        for path in (f"/books/{book}", "/"):
            assert "Sign out" not in stranger.get(path).text


def test_every_visitor_gets_their_own_csrf_token_in_a_kept_book_page(client, sample_library):
    book = sample_library["en"]
    tokens = []
    for _ in range(2):
        with TestClient(client.app) as visitor:
            page = visitor.get(f"/books/{book}")
            form = soup(page).find("form", action=f"/books/{book}/braille")
            token = form.find("input", attrs={"name": "csrf_token"})["value"]
            assert page_cache(client.app).placeholder not in page.text
            # The token is the one the visitor's new cookie holds: the braille form is accepted.
            assert visitor.cookies.get(csrf.COOKIE)
            assert visitor.get(f"/books/{book}").text.count(token) == 1  # the same visitor, the same token
            answer = ask_braille(visitor, book, {"table": "en-ueb-g1.ctb"})
            assert answer.status_code != 403
            tokens.append(token)
    assert tokens[0] != tokens[1]
    assert len(page_cache(client.app).cache) == 1


def test_errors_and_other_pages_are_not_kept(client, sample_library):
    assert client.get("/books/999999").status_code == 404
    assert client.get("/browse/authors/Nobody%20at%20all").status_code == 404
    assert client.get(f"/books/{sample_library['en']}/read/1").status_code == 200  # chapters: never kept
    assert len(page_cache(client.app).cache) == 0


def _quietly(db, sql: str, params: list) -> None:
    """A change of a book's title that the catalogue version does not see (its trigger set aside for the
    one statement): what a page served from a cache still shows as before."""
    trigger = db.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'catalogue_version_books_update'"
    ).fetchone()[0]
    with db.conn:
        db.execute("DROP TRIGGER catalogue_version_books_update")
        db.execute(sql, params)
        db.execute(trigger)


def test_web_processes_share_the_pages_they_render(settings, db, sample_library):
    book = sample_library["en"]
    with TestClient(create_app(settings)) as first, TestClient(create_app(settings)) as second:
        made = first.get(f"/books/{book}")
        assert "Moby-Dick" in soup(made).h1.get_text()
        _quietly(db, "UPDATE books SET title = 'Renamed quietly' WHERE id = ?", [book])
        # The second process (an app of its own over the same data directory) renders nothing: it serves
        # the first one's page, with its visitor's own CSRF token.
        shared = second.get(f"/books/{book}")
        assert "Moby-Dick" in soup(shared).h1.get_text()
        form = soup(shared).find("form", action=f"/books/{book}/braille")
        assert form.find("input", attrs={"name": "csrf_token"})["value"] not in made.text
        assert page_cache(second.app).placeholder not in shared.text
        # A change the version sees is rendered again by whichever process is asked first.
        with db.conn:
            db.execute("UPDATE books SET title = 'Moby-Dick; or, The Whale' WHERE id = ?", [book])
        assert "The Whale" in soup(second.get(f"/books/{book}")).h1.get_text()
        assert "The Whale" in soup(first.get(f"/books/{book}")).h1.get_text()


def test_a_spoilt_shared_file_is_replaced_and_pages_still_served(settings, sample_library):
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with TestClient(create_app(settings)) as client:
        assert client.get("/").status_code == 200
        shared = page_cache(client.app).shared
        shared.close()
        for path in settings.data_dir.glob("page_cache-*.db*"):
            path.write_bytes(b"not a database at all" * 100)
    with TestClient(create_app(settings)) as client:
        assert client.get(f"/books/{sample_library['en']}").status_code == 200
        assert client.get(f"/books/{sample_library['en']}").status_code == 200


def test_a_page_asked_for_with_another_host_is_never_served_to_anyone_else(client, sample_library):
    book = sample_library["en"]
    forged = client.get(f"/books/{book}", headers={"Host": "evil.example"})
    assert "http://evil.example/id/" in forged.text  # its permanent link is on the address asked for
    honest = client.get(f"/books/{book}")
    assert "evil.example" not in honest.text
    assert "http://testserver/id/" in honest.text
