"""Search as English readers type (issue 12, part 2), on the default library (content/): beginnings of
words, "Did you mean" for typing errors, announced as a status, and a results page that never fails."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from accessible_lib import access, search, search_suggest
from accessible_lib.db import open_database
from accessible_lib.settings import Settings

from .default_library import import_default_library
from .test_web import check_page_structure


@pytest.fixture(scope="module")
def default_library(tmp_path_factory) -> tuple[Settings, dict[str, int]]:
    return import_default_library(tmp_path_factory.mktemp("default") / "data")


@pytest.fixture
def settings(default_library) -> Settings:
    """conftest's `db` and `client` open the imported default library."""
    return default_library[0]


@pytest.fixture
def books(default_library) -> dict[str, int]:
    return default_library[1]


def status_of(soup):
    statuses = soup.select('main [role="status"]')
    assert len(statuses) <= 1
    return statuses[0] if statuses else None


def test_a_beginning_finds_the_whale_books(client, books):
    soup = check_page_structure(client.get("/search", params={"q": "whal"}))
    found = [a.get_text() for a in soup.select("ol.results h2 a")]
    assert found[0] == "Moby Dick; Or, The Whale"
    assert soup.h1.get_text() == f"{len(found)} books found for whal"
    status = status_of(soup)
    assert status is not None and "beginning of longer words" in status.get_text()


def test_a_beginning_is_tried_only_when_the_word_finds_nothing(db, books):
    exact = search.search(db, "whale", prefix_fallback=True)
    assert not exact.prefix and books["Moby Dick; Or, The Whale"] in {hit.book_id for hit in exact.hits}
    assert search.search(db, "whal").total == 0  # without the fallback, words are matched whole
    assert search.search(db, "wh", prefix_fallback=True).total == 0  # too short to expand


def test_did_you_mean_is_an_announced_link_to_the_corrected_search(client, books):
    soup = check_page_structure(client.get("/search", params={"q": "frankenstien"}))
    assert soup.h1.get_text() == "0 books found for frankenstien"
    status = status_of(soup)
    assert status is not None
    assert status.get_text(" ", strip=True) == "Did you mean frankenstein ?"
    link = status.find("a")
    assert link.get_text() == "frankenstein"
    assert parse_qs(urlsplit(link["href"]).query) == {"q": ["frankenstein"]}
    # The books the correction finds are shown under their own heading, below the h1's honest zero.
    heading = soup.find("h2", string="1 book found for frankenstein")
    assert heading is not None
    assert [a.get_text() for a in soup.select("ol.results h3 a")] == ["Frankenstein"]
    assert soup.select_one("ol.results h3 a")["href"] == f"/books/{books['Frankenstein']}"
    followed = check_page_structure(client.get(link["href"]))
    assert followed.h1.get_text() == "1 book found for frankenstein"
    assert status_of(followed) is None


def test_did_you_mean_in_the_chinese_interface(client):
    client.cookies.set("locale", "zh_Hans")
    soup = check_page_structure(client.get("/search", params={"q": "frankenstien"}))
    status = status_of(soup)
    assert status.get_text(" ", strip=True) == "您是不是要找 frankenstein ？"


def test_typing_errors_are_corrected_word_by_word(db):
    assert search_suggest.corrected(db, "frankenstien") == "frankenstein"
    assert search_suggest.corrected(db, "melvile whale") == "melville whale"
    assert search_suggest.corrected(db, "Frankenstein") is None  # a known word
    assert search_suggest.corrected(db, "zyxwvut") is None
    assert search_suggest.corrected(db, "论语") is None


def test_no_suggestion_when_the_search_finds_enough(db):
    results = search.search(db, "the")
    assert results.total >= search_suggest.FEW_RESULTS
    assert search_suggest.suggest(db, "the", results) is None


def test_a_suggestion_never_leads_to_a_withdrawn_book(tmp_path):
    settings, books = import_default_library(tmp_path / "data")
    db = open_database(settings.database_path)
    try:
        with db.conn:
            db.execute(
                "UPDATE books SET rights_status = ? WHERE id = ?", [access.WITHDRAWN, books["Frankenstein"]]
            )
        options = dict(hidden=access.HIDDEN_STATUSES)
        results = search.search(db, "frankenstien", **options)
        assert results.total == 0
        assert search_suggest.corrected(db, "frankenstien") == "frankenstein"  # the word is still known
        assert search_suggest.suggest(db, "frankenstien", results, **options) is None  # but finds nothing
    finally:
        db.close()


def test_zero_results_say_so_and_suggest_what_to_try(client):
    soup = check_page_structure(client.get("/search", params={"q": "zyxwvut"}))
    assert soup.h1.get_text() == "0 books found for zyxwvut"
    advice = " ".join(p.get_text() for p in soup.select("main p"))
    assert "Try fewer words, another spelling" in advice
    assert "pinyin" in advice and "initials" in advice
    assert soup.find("ol", class_="results") is None


def test_pinyin_on_the_results_page(client, books):
    soup = check_page_structure(client.get("/search", params={"q": "lun2 yu3"}))
    assert soup.h1.get_text() == "1 book found for lun2 yu3"
    link = soup.select_one("ol.results h2 a")
    assert (link.get_text(), link["lang"], link["href"]) == ("论语", "zh-Hans", f"/books/{books['论语']}")


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "%20",
        "%22",
        "*",
        "whal*",
        "%2A%2A%2A",
        "NEAR%28",
        "a%20OR",
        "-",
        "%5E",
        "%00",
        "%FF%FE",
        "%ED%A0%80",  # an encoded lone surrogate
        "%E2%80%8B",  # the separator the index itself uses
        "%02mark%03%04",
        "%F0%9F%90%8B",  # an emoji
        "e%CC%81",  # a combining accent
        "%D8%B9%D8%B1%D8%A8%D9%8A",  # right-to-left text
        "title%3Awhale",
        "%7Btitle%20pinyin%7D%3A%20x",
        "pinyin%3Alunyu",
        "lun2%20yu3%20" * 20,
        "x" * 5000,
        "%E7%BA%A2" * 3000,
        "a%20" * 400,
        "%27%27%27",
        "%E3%80%80",  # an ideographic space
        "1234",
        "q&q=second",
    ],
)
def test_no_query_gives_an_error_page(client, raw):
    response = client.get(f"/search?q={raw}")
    assert response.status_code == 200
    soup = check_page_structure(response)
    assert soup.h1.get_text()
    assert "None" not in soup.h1.get_text()


def test_opds_search_takes_beginnings_too(client):
    feed = client.get("/opds/search", params={"query": "whal"}).json()
    titles = [publication["metadata"]["title"] for publication in feed.get("publications", [])]
    assert "Moby Dick; Or, The Whale" in titles


def test_a_beginning_is_tried_only_where_it_can_help(db):
    assert search._beginning_may_help(db, "whal")  # no word whal; whale, whaling begin with it
    assert not search._beginning_may_help(db, "whale")  # the word itself is there
    assert not search._beginning_may_help(
        db, "the zyxwv"
    )  # no word begins with zyxwv: `the` is not run again
    assert not search._beginning_may_help(db, "论语")  # Chinese characters are whole tokens
