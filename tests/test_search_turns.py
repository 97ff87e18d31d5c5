"""Search pages and both OPDS search feeds are made at most ACCESSIBLE_LIB_SEARCHES_AT_ONCE at a time per web
process (web/helpers.in_search_turn), the others waiting their turn in the event loop; what they answer
is unchanged."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from starlette.testclient import TestClient

from accessible_lib import catalogue, create_app
from accessible_lib.db import open_database
from accessible_lib.settings import Settings

from .conftest import hold_every_turn, make_book

SEARCHES = ["/search?q=whale", "/opds/search?query=whale", "/opds/v1.2/search?q=whale"]


def add_books(settings: Settings) -> None:
    db = open_database(settings.database_path)
    try:
        catalogue.add_book(db, make_book("Moby-Dick", [("Loomings", "Call me Ishmael. The whale.")]))
        catalogue.add_book(db, make_book("Frankenstein", [("Letter 1", "You will rejoice to hear.")]))
    finally:
        db.close()


def answer(response) -> tuple[int, bytes]:
    """Status and body, the Atom feed's <updated> times left out: they are the time of the answer."""
    return response.status_code, re.sub(rb"<updated>[^<]*</updated>", b"", response.content)


def take_every_turn(client, turns: int = 2) -> tuple:
    """Hold every turn of the app's search limiter (`turns`: the setting); returns it and the holders."""
    assert client.get("/").status_code == 200  # the app has started
    return hold_every_turn(client, "search_turns", turns)


def test_many_searches_at_once_answer_as_one_at_a_time(settings) -> None:
    add_books(settings)
    paths = SEARCHES + ["/search?q=frankenstien", "/search?q=", "/search?q=zzzz"]
    with TestClient(create_app(settings)) as client:
        alone = {path: client.get(path) for path in paths}
        with ThreadPoolExecutor(12) as pool:
            together = list(pool.map(client.get, paths * 4))
    assert [answer(r) for r in together] == [answer(alone[p]) for p in paths * 4]
    assert {alone[p].status_code for p in paths} == {200}
    assert "Moby-Dick" in alone["/opds/search?query=whale"].json()["publications"][0]["metadata"]["title"]


@pytest.mark.parametrize("path", SEARCHES)
def test_a_search_waits_while_others_hold_every_turn(settings, path) -> None:
    add_books(settings)
    with TestClient(create_app(settings)) as client:
        limiter, holders = take_every_turn(client)
        answered: list = []
        asking = threading.Thread(target=lambda: answered.append(client.get(path).status_code))
        asking.start()
        asking.join(timeout=1)
        assert answered == []  # every turn is taken: the search waits
        client.portal.call(limiter.release_on_behalf_of, holders[0])
        asking.join(timeout=30)
        assert answered == [200]  # one turn free is enough
        client.portal.call(limiter.release_on_behalf_of, holders[1])


def test_pages_that_are_not_searches_do_not_wait_for_a_turn(settings) -> None:
    add_books(settings)
    with TestClient(create_app(settings)) as client:
        limiter, holders = take_every_turn(client)
        answered: list = []
        asking = threading.Thread(target=lambda: answered.append(client.get("/browse/authors").status_code))
        asking.start()
        asking.join(timeout=10)
        in_time = list(answered)
        for holder in holders:
            client.portal.call(limiter.release_on_behalf_of, holder)
        asking.join()
    assert in_time == [200]


def test_the_turns_are_a_setting(tmp_path) -> None:
    """ACCESSIBLE_LIB_SEARCHES_AT_ONCE=1: one search page at a time, the next waits until it ends."""
    settings = Settings.from_env({"ACCESSIBLE_LIB_SEARCHES_AT_ONCE": "1"}, data_dir=tmp_path / "data")
    assert settings.searches_at_once == 1
    add_books(settings)
    with TestClient(create_app(settings)) as client:
        limiter, holders = take_every_turn(client, turns=1)
        answered: list = []
        asking = threading.Thread(target=lambda: answered.append(client.get(SEARCHES[0]).status_code))
        asking.start()
        asking.join(timeout=1)
        assert answered == []
        client.portal.call(limiter.release_on_behalf_of, holders[0])
        asking.join(timeout=30)
        assert answered == [200]
