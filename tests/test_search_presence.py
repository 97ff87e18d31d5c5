"""`book_words` (search_presence.py): every phrase somewhere in a book, answered by one index row per book,
and the hits' chapters found without scanning the index (search_hits.py). Real catalogue files, books added
through catalogue.add_book, queries through search.search."""

from __future__ import annotations

import pytest

from accessible_lib import access, catalogue, search, search_presence
from accessible_lib.db import open_database

from .conftest import make_book

CAP = 2  # small, so that a few books reach it and the capped path (book_words' stream) is taken


@pytest.fixture
def books(db) -> dict[str, int]:
    ids = {
        "moby": catalogue.add_book(
            db,
            make_book(
                "Moby-Dick",
                [("One", "Call me Ishmael."), ("Two", "The white whale dived."), ("Three", "Waves.")],
                authors=["Herman Melville"],
                language="en",
            ),
        ),
        "spread": catalogue.add_book(
            db,
            make_book("Sea Notes", [("One", "A white sail."), ("Two", "A whale, far off.")], language="en"),
        ),
        "other": catalogue.add_book(
            db, make_book("Land Notes", [("One", "A white house."), ("Two", "A cart.")], language="en")
        ),
        "red": catalogue.add_book(
            db, make_book("石头记", [("一", "宝玉看了，又读红楼一回。")], language="zh-Hans")
        ),
    }
    return ids


def ids(results: search.SearchResults) -> set[int]:
    return {hit.book_id for hit in results.hits}


@pytest.mark.parametrize(
    ("phrase", "words"),
    [
        ('"whale"', ['"whale"']),
        ('"white whale"', ['"white"', '"whale"']),
        ('"Friend--His"', ['"Friend"', '"His"']),
        ('"红\u200b楼"', ['"红"', '"楼"']),
        ('"iPhone\u200b手\u200b机"', ['"iPhone"', '"手"', '"机"']),
        ('"creat" *', ['"creat" *']),
        ('"e-mai" *', None),  # a beginning of several words: left to the per-book check
        ('"café"', None),  # not certain how FTS5 splits it
        ('"・"', None),  # a Japanese middle dot is no word at all
    ],
)
def test_a_phrase_is_split_into_words_only_where_certain(phrase, words):
    assert search_presence.phrase_words(phrase) == words


def test_match_all_proves_single_words_and_leaves_phrases_to_be_checked():
    phrases = search.parse_query('melville "white whale" 红楼')
    query, unproven = search_presence.match_all(phrases)
    assert query == '"melville" AND "white" AND "whale" AND "红" AND "楼"'
    assert unproven == [1, 2]


@pytest.mark.parametrize("cap", [CAP, 1000])
def test_words_spread_over_the_record_and_chapters_match_capped_or_not(db, books, cap):
    assert ids(search.search(db, "melville dived", count_cap=cap)) == {books["moby"]}
    assert ids(search.search(db, "white whale", count_cap=cap)) == {books["moby"], books["spread"]}
    # every word in the book, but not as the phrase asked for: book_words alone would take it
    assert ids(search.search(db, '"white whale" ishmael', count_cap=cap)) == {books["moby"]}
    assert ids(search.search(db, '"whale white" ishmael', count_cap=cap)) == set()
    assert ids(search.search(db, "宝玉 红楼", count_cap=cap)) == {books["red"]}
    assert ids(search.search(db, "宝玉 楼红", count_cap=cap)) == set()


def test_a_book_whose_text_may_not_be_read_is_not_found_by_words_of_its_text(db, books):
    with db.conn:
        db.execute("UPDATE books SET rights_status = ? WHERE id = ?", [access.ELIGIBLE_ONLY, books["moby"]])
    hidden = (access.ELIGIBLE_ONLY,)
    for cap in (CAP, 1000):
        assert ids(search.search(db, "melville dived", count_cap=cap, text_hidden=hidden)) == set()
        assert ids(search.search(db, "melville dived", count_cap=cap)) == {books["moby"]}
        assert ids(search.search(db, "dived", count_cap=cap, text_hidden=hidden)) == set()
        assert ids(search.search(db, "dived", count_cap=cap)) == {books["moby"]}
        # its record alone still finds it
        assert ids(search.search(db, "melville moby", count_cap=cap, text_hidden=hidden)) == {books["moby"]}
        assert ids(search.search(db, "melville", count_cap=cap, text_hidden=hidden)) == {books["moby"]}


def test_the_index_follows_edits_and_stays_consistent(db, books):
    with db.conn:
        db.execute("UPDATE books SET title = 'Leviathan' WHERE id = ?", [books["moby"]])
        search.index_book(db, books["moby"])
    assert ids(search.search(db, "leviathan dived", count_cap=CAP)) == {books["moby"]}
    assert ids(search.search(db, "moby dived", count_cap=CAP)) == set()
    db.execute("INSERT INTO book_words (book_words) VALUES ('integrity-check')")
    with db.conn:
        search.unindex_book(db, books["spread"])
    assert ids(search.search(db, "white whale", count_cap=CAP)) == {books["moby"]}
    db.execute("INSERT INTO book_words (book_words) VALUES ('integrity-check')")
    search.reindex_all(db)
    assert ids(search.search(db, "white whale", count_cap=CAP)) == {books["moby"], books["spread"]}
    db.execute("INSERT INTO book_words (book_words) VALUES ('integrity-check')")


def test_the_migration_fills_it_for_books_already_in_the_catalogue(tmp_path):
    from accessible_lib.migrations import migrations

    db = open_database(tmp_path / "old.db", migrate=False)
    try:
        migrations.apply(db, stop_before="m029_search")
        book_id = catalogue.add_book(
            db, make_book("Moby-Dick", [("One", "Ishmael."), ("Two", "Dived.")], authors=["Herman Melville"])
        )
        assert not search_presence.exists(db)
        migrations.apply(db)
        assert db.execute("SELECT count(*) FROM book_words_docsize").fetchone()[0] == 1
        db.execute("INSERT INTO book_words (book_words) VALUES ('integrity-check')")
        assert ids(search.search(db, "melville dived", count_cap=1)) == {book_id}
        found = db.execute("SELECT rowid FROM book_words WHERE book_words MATCH 'ishmael'").fetchall()
        assert found == [(book_id,)]
    finally:
        db.close()


def test_each_hit_links_to_its_first_chapter_holding_the_phrase(db):
    """Books found by their titles, in id order, some holding the phrase in a chapter and some not: each
    links to the right chapter (the lookups go through the index once, in id order)."""
    made = []
    for n in range(6):
        chapters = [("One", "Nothing here."), ("Two", "Nor here.")]
        if n % 2:
            chapters.append(("Three", "The 红楼 is here."))
        made.append(catalogue.add_book(db, make_book(f"红楼 {n}", chapters, language="zh-Hans")))
    expected = {book_id: (3 if n % 2 else None) for n, book_id in enumerate(made)}
    hits = search.search(db, "红楼", per_page=10).hits
    assert {hit.book_id: hit.chapter_position for hit in hits} == expected
    capped = search.search(db, "红楼", count_cap=CAP, per_page=10)
    assert capped.more and len(capped.hits) == CAP
    assert all(hit.chapter_position == expected[hit.book_id] for hit in capped.hits)


def test_a_beginning_finds_each_hits_chapter_and_snippet(db):
    made = [
        catalogue.add_book(db, make_book(f"Book {n}", [("One", "Nothing."), ("Two", f"The creature {n}.")]))
        for n in range(4)
    ]
    hits = search.search(db, "creat*").hits
    assert {hit.book_id: hit.chapter_position for hit in hits} == dict.fromkeys(made, 2)
    assert all("<mark>creature</mark>" in hit.snippet for hit in hits)


def test_one_word_lists_books_by_their_titles_then_records_then_text(db, books):
    """One word's books come from book_words after the record streams: the title first, then the rest by
    id, whatever the cap."""
    titled = catalogue.add_book(db, make_book("White", [("One", "Snow.")], language="en"))
    everyone = [titled, books["moby"], books["spread"], books["other"]]
    assert [hit.book_id for hit in search.search(db, "white", count_cap=10).hits][:1] == [titled]
    for cap in (1, 2, 3):
        found = search.search(db, "white", count_cap=cap)
        assert ([hit.book_id for hit in found.hits], found.more) == (everyone[:cap], True)
