"""Chinese phrases found through the index of character pairs (search_pairs.py, migration m030_zh_pairs)."""

from __future__ import annotations

import pytest

from accessible_lib import catalogue, search, search_chinese, search_hits, search_pairs, search_query

from .conftest import make_book
from .test_web import check_page_structure


def found(db, query: str) -> set[str]:
    return {hit.title for hit in search.search(db, query, per_page=100).hits}


def pairs_match(db, query: str) -> set[int]:
    rows = db.execute("SELECT rowid >> 20 FROM chapter_pairs WHERE chapter_pairs MATCH ?", [query])
    return {book_id for (book_id,) in rows.fetchall()}


@pytest.fixture
def books(db) -> dict[str, int]:
    def add(title: str, *texts: str) -> int:
        chapters = [(f"第{i}章", text) for i, text in enumerate(texts, 1)]
        return catalogue.add_book(db, make_book(title, chapters, authors=["佚名"], language="zh"))

    return {
        "dream": add("书甲", "此开卷第一回也。宝玉读红楼梦。", "又一回。"),
        "traditional": add("书乙", "寶玉讀紅樓夢，夜深。"),
        "comma": add("书丙", "天下红，楼阁高。"),  # 红 and 楼 side by side only across a comma
        "runs": add("书丁", "问天地，地人安在"),  # 天地 then 地人, in two runs
        "often": add("书戊", "红楼梦。" * 8, "红楼梦"),
    }


def test_a_chinese_phrase_is_found_through_the_pairs(db, books):
    assert pairs_match(db, '"红楼 楼梦"') == {books["dream"], books["traditional"], books["often"]}
    assert found(db, "红楼梦") == {"书甲", "书乙", "书戊"}
    query = search_query.Query(search_query.parse_query("红楼梦"), None, None, None)
    query.collect(db, 1000)
    assert query.chapter_table == "chapter_pairs"


def test_traditional_and_simplified_meet_in_the_pairs(db, books):
    assert found(db, "紅樓夢") == found(db, "红楼梦")
    assert found(db, "宝玉") == {"书甲", "书乙"}


def test_a_single_character_is_still_found(db, books):
    """No pair holds a run's last character alone (梦 in 红楼梦): one character stays in chapter_fts."""
    assert found(db, "梦") == {"书甲", "书乙", "书戊"}
    assert found(db, "阁") == {"书丙"}
    query = search_query.Query(search_query.parse_query("梦"), None, None, None)
    query.collect(db, 1000)
    assert query.chapter_table == "chapter_fts"


def test_a_phrase_across_punctuation_is_no_phrase(db, books):
    assert "书丙" not in found(db, "红楼")
    assert found(db, "天地人") == set()  # 天地，地人: the pairs are there, in two runs
    assert found(db, "天地") == {"书丁"} and found(db, "地人") == {"书丁"}


def test_ranking_puts_the_chapter_richest_in_the_phrase_first(db, books):
    results = search.search(db, "红楼梦")
    assert [hit.title for hit in results.hits][0] == "书戊"
    [first] = [hit for hit in results.hits if hit.title == "书戊"]
    assert first.chapter_position == 1 and "<mark>" in first.snippet


def test_mixed_queries_and_beginnings_stay_on_the_character_index(db, books):
    assert search_pairs.phrase('"红\u200b楼"') == '"红楼"'
    assert search_pairs.phrase('"红"') is None  # one character
    assert search_pairs.phrase('"red"') is None
    assert search_pairs.phrase('"红\u200b楼 red"') is None  # not only Chinese
    assert found(db, "红楼梦 第一回") == {"书甲"}  # every phrase Chinese: both through the pairs
    assert found(db, "宝玉 夜深") == {"书乙"}


def test_chinese_beside_other_words_is_found_through_the_pairs_of_the_chinese(db, books, monkeypatch):
    """A query mixing a Chinese phrase with other words (search_query.Query._collect_mixed): the books
    holding the phrase come from the pairs, in the record or a chapter, each checked for the other words
    anywhere in the book; never across punctuation, as an all-Chinese search. Past MIXED_DRIVER_BOUND
    books and chapters the usual way finds them, and the phrase across punctuation too."""
    chapters = [("One", "An abridged reading.")]
    titled = catalogue.add_book(db, make_book("红楼梦 in English", chapters, authors=["David Hawkes"]))
    in_text = catalogue.add_book(db, make_book("Dream notes", [("一", "宝玉读红楼梦。")], authors=["Hawkes"]))
    catalogue.add_book(db, make_book("Comma notes", [("一", "红，楼梦 abridged")], authors=["Hawkes"]))
    catalogue.add_book(db, make_book("红楼梦 retold", [("One", "Plain words.")], authors=["Someone"]))

    def collected(text: str) -> search_query.Query:
        query = search_query.Query(search_query.parse_query(text), None, None, None, typed=text)
        query.collect(db, 1000)
        return query

    query = collected("红楼梦 hawkes")
    assert "pp0" in query.params and query.found_ids == [titled, in_text]  # the record first, then text
    assert found(db, "红楼梦 hawkes") == {"红楼梦 in English", "Dream notes"}
    assert found(db, "hawkes 红楼梦") == {"红楼梦 in English", "Dream notes"}
    assert found(db, "红楼梦 abridged") == {"红楼梦 in English"}  # the word in a chapter; not across ，
    assert found(db, "宝玉 红楼梦 hawkes") == {"Dream notes"}  # two Chinese phrases, both by their pairs
    assert found(db, "红楼梦 nowhere") == set()
    monkeypatch.setattr(search_query, "MIXED_DRIVER_BOUND", 1)  # 红楼梦 is in more: the usual way
    assert "pp0" not in collected("红楼梦 hawkes").params
    # The usual way, through the characters' index, also finds the phrase across a comma, as before.
    assert found(db, "红楼梦 hawkes") == {"红楼梦 in English", "Dream notes", "Comma notes"}
    assert found(db, "红楼梦 abridged") == {"红楼梦 in English", "Comma notes"}


def test_the_search_page_lists_a_mixed_query_found_through_the_pairs(client, db, books):
    """The reader's way: the search page for 红楼梦 with an author's name says how many it found and lists
    the record holding both, not the book holding 红楼梦 only across a comma."""
    titled = catalogue.add_book(db, make_book("红楼梦 in English", [("One", "Words.")], authors=["Hawkes"]))
    catalogue.add_book(db, make_book("Comma notes", [("一", "红，楼梦 hawkes")], authors=["Someone"]))
    soup = check_page_structure(client.get("/search", params={"q": "红楼梦 hawkes"}))
    assert soup.h1.get_text() == "1 book found for 红楼梦 hawkes"
    links = [a["href"] for a in soup.select("ol.results > li h2 a")]
    assert links == [f"/books/{titled}"]


def test_a_deleted_or_rewritten_book_leaves_the_pairs(db, books):
    book_id = books["traditional"]
    with db.conn:
        search.unindex_book(db, book_id)
    assert book_id not in pairs_match(db, '"红楼"')
    check(db)
    with db.conn:
        search.index_book(db, book_id)
    assert book_id in pairs_match(db, '"红楼"')
    check(db)
    rewritten = make_book("书乙", [("第1章", "江水东流。")], authors=["佚名"], language="zh")
    catalogue.rebuild_contents(db, book_id, rewritten)
    assert book_id not in pairs_match(db, '"红楼"')
    assert found(db, "东流") == {"书乙"}
    check(db)
    search.reindex_all(db)  # the repair rebuilds the pairs too
    assert pairs_match(db, '"红楼"') == {books["dream"], books["often"]}
    check(db)


def check(db) -> None:
    """FTS5's own consistency check of the index: raises when it is corrupt (a wrong delete makes it so)."""
    db.execute("INSERT INTO chapter_pairs (chapter_pairs) VALUES ('integrity-check')")


def test_the_migration_fills_the_pairs_for_books_already_in_the_catalogue(tmp_path):
    from accessible_lib.db import open_database
    from accessible_lib.migrations import migrations

    db = open_database(tmp_path / "old.db", migrate=False)
    try:
        migrations.apply(db, stop_before="m030_zh_pairs")
        book = make_book("书", [("一", "宝玉读红楼梦。"), ("二", "红，楼")], authors=["佚名"], language="zh")
        book_id = catalogue.add_book(db, book)
        assert not search_pairs.exists(db)
        assert {hit.book_id for hit in search.search(db, "红楼").hits} == {book_id}  # before: chapter_fts
        migrations.apply(db)
        assert pairs_match(db, '"红楼 楼梦"') == {book_id}
        assert db.execute("SELECT count(*) FROM chapter_pairs_docsize").fetchone()[0] == 2
        check(db)
        assert {hit.book_id for hit in search.search(db, "宝玉").hits} == {book_id}
    finally:
        db.close()


def test_pairs_text_breaks_runs_at_anything_not_chinese():
    assert search_pairs.pairs_text("甲乙，乙丙丁 abc 紅樓・日本") == "甲乙 0 乙丙 丙丁 0 红楼 0 日本"
    assert search_pairs.pairs_text("English only") == ""
    assert search_pairs.pairs_text("单") == ""


def test_a_chinese_hit_shows_the_phrase_marked_in_the_books_own_script(db, books):
    hits = {hit.title: hit for hit in search.search(db, "红楼梦").hits}
    assert "<mark>紅樓夢</mark>" in hits["书乙"].snippet  # written in Traditional, found in Simplified
    assert "<mark>红楼梦</mark>" in hits["书甲"].snippet
    assert "\u200b" not in hits["书甲"].snippet


def test_a_phrase_snippet_is_cut_around_the_first_match_with_every_match_in_it_marked():
    text = "前" * 100 + "红楼梦，又红楼梦" + "后" * 100
    shown = search_hits.phrase_snippet(text, ["红楼梦"], 40)
    marked = search_hits.snippet_markup(shown)
    assert marked.startswith("…") and marked.endswith("…")
    assert marked.count("<mark>红楼梦</mark>") == 2
    assert len(shown.replace("\x04", "").replace("\x02", "").replace("\x03", "")) == 40
    assert search_hits.phrase_snippet("短文", ["红楼"], 40) == "短文"  # no match: the beginning, unmarked


def _whole_text_snippet(text: str, phrases: list[str], length: int) -> str:
    """phrase_snippet as it was, folding the whole text at once: the oracle for the folding by pieces."""
    folded = search_chinese.fold(text)
    spans = sorted(
        (at, at + len(p)) for p in phrases for at in range(len(folded)) if folded.startswith(p, at)
    )
    first = spans[0][0] if spans else 0
    end = min(len(text), max(0, first - length // 4) + length)
    start = max(0, end - length)
    parts, at = (["\x04"] if start else []), start
    for begin, finish in spans:
        if begin >= at and finish <= end:
            parts += [text[at:begin], "\x02", text[begin:finish], "\x03"]
            at = finish
    return "".join([*parts, text[at:end], *(["\x04"] if end < len(text) else [])])


def test_a_phrase_snippet_folds_only_as_far_as_it_needs_and_finds_what_the_whole_text_holds():
    piece = search_hits.FOLD_PIECE
    far = "前" * (3 * piece + 10) + "他讀紅樓夢，又讀紅樓夢" + "后" * 500  # Traditional, past three pieces
    cases = [
        (far, ["红楼梦"]),
        # 讀紅樓夢 starts inside the first piece, before 红楼 found there, and ends past it
        ("前" * (piece - 3) + "讀紅樓夢" + "后" * 50, ["红楼", "读红楼梦"]),
        ("前" * (piece - 1) + "红楼" + "后" * 50, ["红楼"]),  # the phrase across the pieces' border
        ("無關" * piece, ["红楼"]),  # nowhere: the beginning
    ]
    for text, phrases in cases:
        assert search_hits.phrase_snippet(text, phrases, 40) == _whole_text_snippet(text, phrases, 40)
    assert "\x02紅樓夢\x03" in search_hits.phrase_snippet(far, ["红楼梦"], 40)


def test_a_book_found_by_its_title_shows_the_phrase_marked_in_its_title(db, books):
    catalogue.add_book(db, make_book("紅樓夢新編", [("一", "无关的文字。")], authors=["某"], language="zh"))
    hits = {hit.title: hit for hit in search.search(db, "红楼梦").hits}
    assert "<mark>紅樓夢</mark>" in hits["紅樓夢新編"].snippet
    assert hits["紅樓夢新編"].chapter_position is None


def test_optimizing_the_indexes_leaves_one_segment_each_and_the_same_results(db, books):
    before = {query: found(db, query) for query in ("红楼梦", "梦", "宝玉 夜深")}
    segments = "SELECT count(DISTINCT segid) FROM {}_idx"
    assert db.execute(segments.format("chapter_fts")).fetchone()[0] > 1  # one or more a book added
    with db.conn:
        search.optimize_indexes(db)
    for table in ("book_fts", "book_words", "chapter_pairs", "chapter_fts"):
        assert db.execute(segments.format(table)).fetchone()[0] == 1, table
    assert {query: found(db, query) for query in before} == before
    check(db)


def test_records_are_found_through_their_pairs_and_forgotten_when_edited(db, books):
    """book_pairs (migration m032_search): a record's Chinese phrases through their pairs, as chapters'."""
    chapters = [("一", "无关。")]
    record = catalogue.add_book(db, make_book("西厢记", chapters, authors=["王实甫"], language="zh"))
    across = catalogue.add_book(db, make_book("西，厢", chapters, authors=["某"], language="zh"))
    query = search_query.Query(search_query.parse_query("西厢"), None, None, None)
    query.collect(db, 1000)
    assert (query.record_table, query.found_ids) == ("book_pairs", [record])  # not across the comma
    assert found(db, "实甫") == {"西厢记"}  # in the authors
    with db.conn:
        db.execute("UPDATE books SET title = '牡丹亭' WHERE id = ?", [record])
        search.index_book(db, record)
    assert found(db, "西厢") == set() and found(db, "牡丹") == {"牡丹亭"}
    with db.conn:
        search.unindex_book(db, record)
    assert found(db, "牡丹") == set()
    rows = db.execute("SELECT rowid, * FROM book_pairs ORDER BY rowid").fetchall()
    with db.conn:
        search_pairs.rebuild_records(db)
    assert db.execute("SELECT rowid, * FROM book_pairs ORDER BY rowid").fetchall() == rows
    assert across not in {r[0] for r in rows if "西厢" in (r[1] or "")}
    english = catalogue.add_book(db, make_book("Plain", [("One", "Words.")], authors=["Someone"]))
    assert db.execute("SELECT count(*) FROM book_pairs WHERE rowid = ?", [english]).fetchone()[0] == 0


def test_records_of_a_chinese_phrase_are_ranked_through_their_pairs_title_first(db, books):
    """bm25 over book_pairs (title weighted as in book_fts) ranks the records holding the phrase before the
    books holding it in their text only; a record holding it only across punctuation is not among them."""
    described = catalogue.add_book(
        db, make_book("书己", [("第1章", "无关。")], language="zh", description="一部讲红楼梦的书。")
    )
    titled = catalogue.add_book(db, make_book("红楼梦考", [("第1章", "无关。")], language="zh"))
    across = catalogue.add_book(
        db, make_book("书庚", [("第1章", "无关。")], language="zh", description="红，楼梦")
    )
    results = search.search(db, "红楼梦", per_page=100)
    order = [hit.book_id for hit in results.hits]
    assert order[:2] == [titled, described]
    assert set(order[2:]) == {books["dream"], books["traditional"], books["often"]}
    assert across not in order
    query = search_query.Query(search_query.parse_query("红楼梦"), None, None, None)
    query.collect(db, 1000)
    assert query.record_table == "book_pairs" and query.params["rank_any"] == '"红楼 楼梦"'


def test_functions_registered_again_beside_an_open_statement(tmp_path):
    """A cursor left half read (as a search may leave one) made SQLite refuse to define the index's
    functions again ("Error creating function"), so indexing a book after it failed."""
    from accessible_lib import search
    from accessible_lib.db import open_database

    db = open_database(tmp_path / "catalogue.db")
    try:
        db.execute("CREATE TABLE numbers (n INTEGER)")
        db.conn.executemany("INSERT INTO numbers VALUES (?)", [(n,) for n in range(5)])
        cursor = db.execute("SELECT n FROM numbers")
        assert cursor.fetchone() == (0,)  # the statement stays open
        search.register_functions(db.conn)  # raised sqlite3.OperationalError before
        folded = db.execute("SELECT accessible_lib_search_text('論語')").fetchone()[0]
        assert folded.replace("\u200b", "") == "论语"  # the function answers: folded to Simplified
    finally:
        db.close()
