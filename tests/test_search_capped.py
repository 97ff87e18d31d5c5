"""Capped counts (search_capped.py): past `search_count_cap` books a search says "more than" the cap, in
the h1, the status notice and the feeds; below it the count is exact and nothing changes. The cap is set to
3 here so that a few small books reach it."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from accessible_lib import catalogue, create_app, search, stats
from accessible_lib.db import open_database
from accessible_lib.settings import Settings

from .conftest import make_book
from .test_opds import NS, get_atom, get_json
from .test_web import check_page_structure

CAP = 3


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"ACCESSIBLE_LIB_SEARCH_COUNT_CAP": str(CAP)}, data_dir=tmp_path / "data")


@pytest.fixture
def books(db) -> dict[str, int]:
    """Six books with `whale` in their text, two by Melville with `whale` only in the text; the book titled
    `The Whale` is added last, so it has the highest id: found by id order alone it would come last."""
    ids = {}
    for n in range(4):
        ids[f"sea{n}"] = catalogue.add_book(
            db, make_book(f"Sea Tale {n}", [("One", f"A whale swam by the ship number {n}.")], language="en")
        )
    for n in range(2):
        ids[f"melville{n}"] = catalogue.add_book(
            db,
            make_book(
                f"Voyage {n}", [("One", "The whale was white.")], authors=["Herman Melville"], language="en"
            ),
        )
    ids["title"] = catalogue.add_book(db, make_book("The Whale", [("One", "Waves.")], language="en"))
    return ids


@pytest.fixture
def client(settings, books):
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_over_the_cap_the_h1_title_and_status_say_more_than(client):
    soup = check_page_structure(client.get("/search", params={"q": "whale"}))
    assert soup.h1.get_text() == "More than 3 books found for whale"
    assert soup.title.get_text().startswith("More than 3 books found for whale – ")
    status = soup.find(attrs={"role": "status"})
    assert "Only the first 3 books found are counted and listed" in status.get_text()
    assert len(soup.select("ol.results > li")) == CAP
    formats = soup.find("h3", string="By format").find_next("ul").get_text(" ", strip=True)
    assert "(3 books)" in formats  # the filters count the books listed, not all seven


def test_over_the_cap_in_chinese(client):
    client.cookies.set("locale", "zh_Hans")
    soup = check_page_structure(client.get("/search", params={"q": "whale"}))
    assert soup.h1.get_text() == "找到超过 3 本书：whale"


def test_below_the_cap_the_count_is_exact_and_nothing_more_is_said(client, books):
    soup = check_page_structure(client.get("/search", params={"q": "melville whale"}))
    assert soup.h1.get_text() == "2 books found for melville whale"
    assert soup.find(attrs={"role": "status"}) is None
    found = [a["href"] for a in soup.select("ol.results > li h2 a")]
    assert sorted(found) == sorted(f"/books/{books[f'melville{n}']}" for n in range(2))


def test_a_title_typed_whole_ranks_first_when_capped(db, books):
    results = search.search(db, "the whale", count_cap=CAP)
    assert results.more and results.total == CAP
    assert results.hits[0].book_id == books["title"]


def test_a_phrase_in_the_record_and_one_in_the_text_still_match_when_capped(db, books):
    """`whale` is past the cap, so the rarer `melville` drives and each of its books is checked for
    `whale` in its chapters: the metadata-or-text rule holds on the capped path too."""
    results = search.search(db, "melville whale", count_cap=CAP)
    assert (results.total, results.more) == (2, False)
    assert {hit.book_id for hit in results.hits} == {books["melville0"], books["melville1"]}


def test_opds_feeds_leave_out_the_count_past_the_cap_and_keep_it_below(client):
    capped = get_json(client, "/opds/search?query=whale")
    assert "numberOfItems" not in capped["metadata"]
    assert capped["metadata"]["title"] == "Search results for “whale”: more than 3 books"
    assert len(capped["publications"]) == CAP
    exact = get_json(client, "/opds/search?query=melville%20whale")
    assert exact["metadata"]["numberOfItems"] == len(exact["publications"]) == 2
    atom = get_atom(client, "/opds/v1.2/search?q=whale", "acquisition")
    assert atom.find("os:totalResults", NS) is None
    assert atom.findtext("a:title", namespaces=NS) == "Search results for “whale”: more than 3 books"
    atom = get_atom(client, "/opds/v1.2/search?q=melville+whale", "acquisition")
    assert atom.findtext("os:totalResults", namespaces=NS) == "2"


def test_counts_commit_unsynced_and_every_other_write_stays_full(tmp_path):
    """The day's counts may be lost on a power cut, never a catalogue change: the connection is back to
    FULL (2) as soon as the counts are in."""
    database = open_database(tmp_path / "c.db")
    try:
        assert database.execute("PRAGMA synchronous").fetchone()[0] == 2
        stats.record_search(database, "whale", 3)
        assert database.execute("PRAGMA synchronous").fetchone()[0] == 2
        assert database.execute("SELECT count(*) FROM stats_daily").fetchone()[0] == 2
    finally:
        database.close()


def test_the_default_cap_is_five_hundred_and_search_uses_the_setting(db, books, monkeypatch):
    """500 by default (docs/scaling.md: collecting, counting and faceting cost by the books found); a search
    given no cap takes the setting's default."""
    assert Settings.from_env({}).search_count_cap == 500
    assert not search.search(db, "whale").more  # six books, under the default
    monkeypatch.setattr(Settings, "search_count_cap", 2)
    capped = search.search(db, "whale")
    assert capped.more and capped.total == 2
