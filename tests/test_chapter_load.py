"""What the chapter page does to stay quick under many clients (web/reader.py, catalogue.get_reading_book):
it loads only the book's row and chapter list, and renders at most ACCESSIBLE_LIB_CHAPTERS_AT_ONCE pages at
a time per web process, the others waiting their turn; the pages themselves are unchanged."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from starlette.testclient import TestClient

from accessible_lib import catalogue, create_app, readers
from accessible_lib.settings import Settings

from .conftest import hold_every_turn, make_book
from .test_shelf import PASSWORD, sign_in


def add_book(db) -> int:
    book = make_book("Moby", [("Loomings", "Call me Ishmael."), ("The Carpet-Bag", "I stuffed a shirt.")])
    return catalogue.add_book(db, book)


def test_the_reading_book_is_the_full_book_without_what_only_its_page_shows(db) -> None:
    book_id = add_book(db)
    full = catalogue.get_book(db, book_id)
    light = catalogue.get_reading_book(db, book_id)
    skipped = {"authors", "subjects", "identifiers", "toc", "formats"}
    assert light == {key: value for key, value in full.items() if key not in skipped}
    assert [chapter["title"] for chapter in light["chapters"]] == ["Loomings", "The Carpet-Bag"]
    assert catalogue.get_reading_book(db, book_id + 1000) is None


def test_many_pages_at_once_are_the_pages_one_at_a_time(client, db) -> None:
    book_id = add_book(db)
    paths = [f"/books/{book_id}/read/{n}" for n in (1, 2, 3)] * 8  # 3: past the end, the 404 page
    alone = {path: (r.status_code, r.content) for path in set(paths) for r in [client.get(path)]}
    with ThreadPoolExecutor(12) as pool:
        together = list(pool.map(client.get, paths))
    assert [(r.status_code, r.content) for r in together] == [alone[path] for path in paths]
    assert [alone[path][0] for path in paths[:3]] == [200, 200, 404]


def take_every_turn(client, path: str, turns: int = 4) -> tuple:
    """Take every turn of the app's chapter limiter (`turns`: the setting); returns it and the holders."""
    assert client.get(path).status_code == 200
    return hold_every_turn(client, "chapter_turns", turns)


def test_a_chapter_page_waits_while_others_hold_every_turn(client, db) -> None:
    path = f"/books/{add_book(db)}/read/1"
    limiter, holders = take_every_turn(client, path)
    answered = []
    waiting = threading.Thread(target=lambda: answered.append(client.get(path).status_code))
    waiting.start()
    waiting.join(timeout=1)
    assert answered == []  # every turn is taken: the page waits
    for holder in holders:
        client.portal.call(limiter.release_on_behalf_of, holder)
    waiting.join(timeout=30)
    assert answered == [200]


def test_the_turns_are_a_setting(tmp_path, db) -> None:
    """ACCESSIBLE_LIB_CHAPTERS_AT_ONCE=2: two pages at once, a third waits until one of them ends."""
    settings = Settings.from_env({"ACCESSIBLE_LIB_CHAPTERS_AT_ONCE": "2"}, data_dir=tmp_path / "data")
    assert settings.chapters_at_once == 2
    path = f"/books/{add_book(db)}/read/1"  # db: the catalogue of the same data directory
    with TestClient(create_app(settings)) as client:
        limiter, holders = take_every_turn(client, path, turns=2)
        answered = []
        waiting = threading.Thread(target=lambda: answered.append(client.get(path).status_code))
        waiting.start()
        waiting.join(timeout=1)
        assert answered == []
        client.portal.call(limiter.release_on_behalf_of, holders[0])
        waiting.join(timeout=30)
        assert answered == [200]
        client.portal.call(limiter.release_on_behalf_of, holders[1])


def test_a_signed_in_readers_page_does_not_wait_for_a_turn(settings, db) -> None:
    """Their page writes the visit, which may wait for another writer: it keeps the shared pool."""
    path = f"/books/{add_book(db)}/read/2"
    readers.add_reader(db, "ann@example.org", "Ann", PASSWORD)
    answered = []
    with TestClient(create_app(settings)) as client:
        limiter, holders = take_every_turn(client, path)
        sign_in(client, "ann@example.org")
        asking = threading.Thread(target=lambda: answered.append(client.get(path)))
        asking.start()
        asking.join(timeout=10)
        in_time = list(answered)
        for holder in holders:  # so that a page that did wait ends, and the test with it
            client.portal.call(limiter.release_on_behalf_of, holder)
        asking.join()
    assert in_time and in_time[0].status_code == 200 and "data-shelf-reading" in in_time[0].text
