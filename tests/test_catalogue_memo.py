"""Browse counts kept per web process (catalogue_memo) follow every change at once: a book added shows,
a withdrawn book leaves the lists on the very next request, even within the same second."""

from __future__ import annotations

from bs4 import BeautifulSoup

from accessible_lib import access, browsing, catalogue, catalogue_memo, rights

from .conftest import make_book


def _authors(client) -> dict[str, str]:
    soup = BeautifulSoup(client.get("/browse/authors").text, "html5lib")
    return {a.get_text(" ", strip=True): a["href"] for a in soup.select(".facet-list a")}


def _lead(client) -> str:
    soup = BeautifulSoup(client.get("/").text, "html5lib")
    return soup.select_one("p.lead").get_text(" ", strip=True)


def test_every_catalogue_change_moves_the_version(db, sample_library):
    seen = [catalogue_memo.version(db)]
    book_id = catalogue.add_book(
        db, make_book("Walden", [("Economy", "I went to the woods.")], authors=["Thoreau"])
    )
    seen.append(catalogue_memo.version(db))
    with db.conn:
        rights.set_rights(db, book_id, rights.Rights(access.WITHDRAWN))
    seen.append(catalogue_memo.version(db))
    with db.conn:
        db.execute("DELETE FROM book_subjects WHERE book_id = ?", [sample_library["en"]])
    seen.append(catalogue_memo.version(db))
    assert seen == sorted(set(seen)), seen  # strictly growing: each change counted


def test_lists_and_count_follow_an_added_and_a_withdrawn_book(client, db, sample_library):
    before = _authors(client)
    assert not any("Thoreau" in name for name in before)
    assert _lead(client).startswith("2 books")
    assert _authors(client) == before  # asked again, unchanged: the kept answer

    book_id = catalogue.add_book(
        db, make_book("Walden", [("Economy", "I went to the woods.")], authors=["Thoreau"])
    )
    added = _authors(client)
    assert any("Thoreau" in name for name in added), added
    assert _lead(client).startswith("3 books")

    with db.conn:
        rights.set_rights(db, book_id, rights.Rights(access.WITHDRAWN))
    assert _authors(client) == before  # gone at once, though in the same second as the last count
    assert _lead(client).startswith("2 books")
    browse = BeautifulSoup(client.get("/browse/authors/Thoreau").text, "html5lib")
    assert "Walden" not in browse.get_text()


def test_two_catalogues_in_one_process_never_share_an_answer(tmp_path, db, sample_library):
    from accessible_lib.db import open_database

    other = open_database(tmp_path / "other" / "catalogue.db")
    try:
        assert catalogue.book_count(db) == 2
        assert catalogue.book_count(other) == 0
        assert browsing.facet_values(other, "authors", 1, 10).total == 0
        assert browsing.facet_values(db, "authors", 1, 10).total == 2
    finally:
        other.close()
