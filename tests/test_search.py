"""Search on real catalogue files: books go in through catalogue.add_book, queries through search.search."""

from __future__ import annotations

import hashlib
import html
import re
import threading
import time
from pathlib import Path

import pytest
from markupsafe import Markup

from accessible_lib import catalogue, search, search_chinese, search_index, search_query
from accessible_lib.db import open_database
from accessible_lib.errors import UserError
from accessible_lib.ingest.model import Chapter, IngestedBook

CORPUS = Path(__file__).parent / "corpus" / "text"


def book(title: str, chapters: list[str], **fields) -> IngestedBook:
    """A book whose chapters are plain-text strings, titled 1, 2, 3..."""
    built = [
        Chapter(title=f"Chapter {i + 1}", html=f"<p>{text}</p>", text=text) for i, text in enumerate(chapters)
    ]
    checksum = hashlib.sha256(repr((title, chapters, sorted(fields.items()))).encode()).hexdigest()
    return IngestedBook(
        title=title, source_format="txt", checksum=checksum, source_name="x.txt", chapters=built, **fields
    )


@pytest.fixture
def db(tmp_path: Path):
    database = open_database(tmp_path / "c.db")
    yield database
    database.close()


@pytest.fixture
def library(db) -> dict[str, int]:
    hongloumeng = (CORPUS / "zh" / "zh-hongloumeng-ch001-080-commas-stripped.txt").read_text()[:3000]
    books = {
        "hongloumeng": book(
            "红楼梦", [hongloumeng], authors=["曹雪芹"], language="zh-Hans", subjects=["古典小说"]
        ),
        "essay": book(
            "读书随笔",
            ["昨夜又读了一回红楼，想起许多旧事。", "今天天气很好。"],
            authors=["张三"],
            language="zh-Hant",
            subjects=["散文"],
        ),
        "luxun": book("呐喊", ["我在年青时候也曾经做过许多梦。"], authors=["鲁迅"], language="zh-Hans"),
        "grave": book("野草", ["这是一座坟，荒草丛生。"], authors=["某人"], language="zh-Hans"),
        "moby": book(
            "Moby-Dick",
            ["Call me Ishmael.", "The white whale swam <away> & dived."],
            authors=["Herman Melville"],
            language="en",
            subjects=["Whaling", "Sea stories"],
        ),
        "whales_title": book(
            "Whales of the World", ["A guide to seas."], authors=["A. Writer"], language="en-GB"
        ),
        "sailing": book("Sailing", ["We saw whales, whales and more whales near the ship."], language="en"),
    }
    return {name: catalogue.add_book(db, value) for name, value in books.items()}


def ids(results: search.SearchResults) -> list[int]:
    return [hit.book_id for hit in results.hits]


def test_two_chinese_characters_find_a_title_and_a_text(db, library):
    results = search.search(db, "红楼")
    assert set(ids(results)) == {library["hongloumeng"], library["essay"]}
    assert ids(results)[0] == library["hongloumeng"]  # the title match first
    essay = next(hit for hit in results.hits if hit.book_id == library["essay"])
    assert essay.chapter_position == 1
    assert essay.chapter_title == "Chapter 1"
    assert "<mark>红楼</mark>" in essay.snippet


def test_an_author_is_found_by_name(db, library):
    results = search.search(db, "鲁迅")
    assert ids(results) == [library["luxun"]]
    assert results.hits[0].authors == ["鲁迅"]
    assert results.hits[0].chapter_position is None
    assert "<mark>鲁迅</mark>" in results.hits[0].snippet


def test_a_single_chinese_character_is_found(db, library):
    assert ids(search.search(db, "坟")) == [library["grave"]]


def test_english_is_stemmed(db, library):
    found = set(ids(search.search(db, "whales")))
    assert {library["moby"], library["whales_title"], library["sailing"]} <= found
    assert library["moby"] in set(ids(search.search(db, "WHALE")))


def test_title_ranks_above_body_text(db, library):
    ranked = ids(search.search(db, "whales"))
    assert ranked.index(library["whales_title"]) < ranked.index(library["sailing"])
    assert ranked.index(library["whales_title"]) < ranked.index(library["moby"])


def test_snippets_are_safe_html_without_inserted_spaces(db, library):
    hit = search.search(db, "dived").hits[0]
    assert isinstance(hit.snippet, Markup)
    assert "&lt;away&gt; &amp; <mark>dived</mark>" in hit.snippet
    chinese = search.search(db, "梦幻").hits[0]
    assert "<mark>梦幻</mark>" in chinese.snippet
    assert "\u200b" not in chinese.snippet and "梦 幻" not in chinese.snippet
    text = html.unescape(str(chinese.snippet).replace("<mark>", "").replace("</mark>", "").strip("…"))
    assert text in (CORPUS / "zh" / "zh-hongloumeng-ch001-080-commas-stripped.txt").read_text()


def test_chinese_next_to_latin_letters(db):
    book_id = catalogue.add_book(db, book("Gadgets", ["新款iPhone手机发布了。"], language="zh"))
    assert ids(search.search(db, "iPhone手机")) == [book_id]
    assert ids(search.search(db, "手机")) == [book_id]
    assert ids(search.search(db, "phone")) == []


def test_quoted_phrases_and_and(db, library):
    assert ids(search.search(db, '"white whale"')) == [library["moby"]]
    assert ids(search.search(db, '"whale white"')) == []
    assert ids(search.search(db, "ishmael whale")) == [library["moby"]]
    assert ids(search.search(db, "ishmael ship")) == []
    # every word somewhere in the book is enough: metadata and different chapters
    assert ids(search.search(db, "melville dived")) == [library["moby"]]
    assert ids(search.search(db, "ishmael dived")) == [library["moby"]]
    hit = search.search(db, "melville dived").hits[0]
    assert (hit.chapter_position, "<mark>dived</mark>" in hit.snippet) == (2, True)


def test_prefix_on_request(db, library):
    assert ids(search.search(db, "ishm")) == []
    assert ids(search.search(db, "ishm*")) == [library["moby"]]
    assert ids(search.search(db, "ishm", prefix_last=True)) == [library["moby"]]
    assert search.parse_query("a*") == ['"a"']  # too short to expand


def test_a_book_with_many_matching_chapters_appears_once(db):
    chapters = ["the raven", "a raven", "nothing", "raven raven raven raven"]
    book_id = catalogue.add_book(db, book("Birds", chapters, language="en"))
    results = search.search(db, "raven")
    assert ids(results) == [book_id]
    assert results.total == 1
    assert results.hits[0].chapter_position == 4  # the densest chapter


def test_language_filter_matches_subtags(db, library):
    assert set(ids(search.search(db, "红楼", language="zh"))) == {library["hongloumeng"], library["essay"]}
    assert ids(search.search(db, "红楼", language="zh-Hant")) == [library["essay"]]
    assert ids(search.search(db, "红楼", language="en")) == []
    assert set(ids(search.search(db, "whales", language="en"))) == {
        library["moby"],
        library["whales_title"],
        library["sailing"],
    }
    assert ids(search.search(db, "whales", language="e")) == []


def test_subject_and_format_filters(db, library):
    assert ids(search.search(db, "whales", subject="Whaling")) == [library["moby"]]
    assert ids(search.search(db, "whales", subject="whaling")) == []  # exact
    with db.conn:
        db.execute(
            "INSERT INTO editions (book_id, format, status)"
            " VALUES (?, 'epub', 'done'), (?, 'epub', 'queued')",
            [library["sailing"], library["moby"]],
        )
    assert ids(search.search(db, "whales", format="epub")) == [library["sailing"]]
    assert len(search.search(db, "whales", format="html").hits) == 3


def test_facets_count_the_whole_result(db, library):
    with db.conn:
        db.execute(
            "INSERT INTO editions (book_id, format, status) VALUES (?, 'daisy', 'done')", [library["moby"]]
        )
    facets = search.search(db, "whales", per_page=1).facets
    assert {(f.value, f.count) for f in facets.languages} == {("en", 2), ("en-GB", 1)}
    assert {(f.value, f.count) for f in facets.subjects} == {("Whaling", 1), ("Sea stories", 1)}
    assert [(f.value, f.count) for f in facets.formats] == [("html", 3), ("daisy", 1)]
    chinese = search.search(db, "红楼").facets
    assert {(f.value, f.count) for f in chinese.subjects} == {("古典小说", 1), ("散文", 1)}


def test_language_facet_is_ordered_by_count_then_code_and_counts_only_the_capped_books(db):
    """The language facet is counted in Python from the rows that found the books (search_capped.collect),
    in the order the SQL facets use: most books first, then by code; no language, no entry."""
    for n, language in enumerate(["fr", "de", "de", "en", "en", "en", None, "zh"]):
        catalogue.add_book(db, book(f"Lantern {n}", [f"a lantern number {n}"], language=language))
    facets = search.search(db, "lantern").facets
    assert [(f.value, f.count) for f in facets.languages] == [("en", 3), ("de", 2), ("fr", 1), ("zh", 1)]
    capped = search.search(db, "lantern", count_cap=3)
    assert (capped.total, capped.more) == (3, True)
    assert sum(f.count for f in capped.facets.languages) <= 3
    assert capped.facets.formats[0].count == 3


def test_pagination(db):
    for n in range(25):
        catalogue.add_book(db, book(f"Lighthouse {n}", [f"keeper number {n}"], language="en"))
    pages = [search.search(db, "lighthouse", page=p, per_page=10) for p in (1, 2, 3, 4)]
    assert [len(p.hits) for p in pages] == [10, 10, 5, 0]
    assert {p.total for p in pages} == {25}
    seen = [book_id for p in pages for book_id in ids(p)]
    assert len(set(seen)) == 25
    assert pages[2].page.count == 3
    assert (pages[1].page.first_index, pages[1].page.last_index) == (11, 20)
    assert pages[1].page.items == pages[1].hits


@pytest.mark.parametrize(
    "query",
    [
        '"',
        "*",
        "NEAR(",
        "a OR",
        "-",
        "^",
        '"unbalanced',
        'white" whale',
        "AND",
        "NOT whale",
        "(",
        ")",
        "whale:",
        "title:whale",
        "{title}: x",
        "'",
        "\x00",
        "\x02mark\x03",
        '红楼"',
        "x" * 10_000,
        "红" * 10_000,
        "whale " * 2_000,
        "   ",
        "，。！",
        "_",
        "+whale",
        "whale^2",
    ],
)
def test_hostile_queries_never_raise(db, library, query):
    results = search.search(db, query)
    assert results.total == len(set(ids(results)))  # seven books: all on one page, each once


def test_empty_or_punctuation_query_gives_no_search(db, library):
    for query in ["", "   ", "!?", "，。", '""']:
        results = search.search(db, query)
        assert (results.total, results.hits, results.facets.languages) == (0, [], [])


def test_operator_words_are_plain_words(db):
    book_id = catalogue.add_book(db, book("Logic", ["this OR that, NEAR the end"], language="en"))
    assert ids(search.search(db, "this OR")) == [book_id]
    assert ids(search.search(db, "NEAR(")) == [book_id]


def test_reindexing_a_book_replaces_its_rows(db, library):
    for _ in range(3):
        with db.conn:
            search.index_book(db, library["moby"])
    assert ids(search.search(db, "ishmael")) == [library["moby"]]
    db.execute("INSERT INTO chapter_fts (chapter_fts) VALUES ('integrity-check')")
    db.execute("INSERT INTO book_fts (book_fts) VALUES ('integrity-check')")
    with db.conn:
        db.execute("UPDATE books SET title = 'Leviathan' WHERE id = ?", [library["moby"]])
        search.index_book(db, library["moby"])
    assert ids(search.search(db, "leviathan")) == [library["moby"]]
    assert ids(search.search(db, "moby")) == []


def test_unindex_then_reindex_all(db, library):
    with db.conn:
        search.unindex_book(db, library["moby"])
    assert ids(search.search(db, "ishmael")) == []
    db.execute("INSERT INTO chapter_fts (chapter_fts) VALUES ('integrity-check')")
    search.reindex_all(db)
    assert ids(search.search(db, "ishmael")) == [library["moby"]]
    assert set(ids(search.search(db, "红楼"))) == {library["hongloumeng"], library["essay"]}


def test_a_search_over_its_time_limit_is_stopped(db, library, monkeypatch):
    for n in range(100):
        catalogue.add_book(db, book(f"Whale {n}", ["whales " * n], language="en"))
    # The limit is checked every PROGRESS_STEPS SQLite instructions: more than this small search runs.
    monkeypatch.setattr(search_query, "PROGRESS_STEPS", 1000)
    with pytest.raises(UserError) as stopped:
        search.search(db, "whales", time_limit_ms=0)
    assert stopped.value.message
    assert ids(search.search(db, "whales"))  # the connection still works afterwards


def test_parse_query_quotes_every_term():
    assert search.parse_query('whales "white whale" NEAR( whales') == ['"whales"', '"white whale"', '"NEAR("']
    assert search.parse_query("红楼梦") == ['"红\u200b楼\u200b梦"']
    assert search.parse_query("!!! ...") == []


def test_the_migration_indexes_books_already_in_the_catalogue(tmp_path):
    from accessible_lib.migrations import migrations

    db = open_database(tmp_path / "old.db", migrate=False)
    migrations.apply(db, stop_before="m002_search")
    with db.conn:
        db.execute("INSERT INTO books (id, title, checksum, added_at) VALUES (7, '坟', 'x', 'now')")
        db.execute("INSERT INTO book_authors (book_id, position, name) VALUES (7, 0, '鲁迅')")
        db.execute("INSERT INTO chapters (book_id, position, title, text) VALUES (7, 1, '题记', '野草荒坟')")
    migrations.apply(db)
    assert ids(search.search(db, "鲁迅")) == [7]
    hit = search.search(db, "荒坟").hits[0]
    assert (hit.book_id, hit.chapter_position, str(hit.snippet)) == (7, 1, "野草<mark>荒坟</mark>")
    db.close()


def test_folding_maps_chinese_characters_to_chinese_characters():
    """search_text folds before it separates: right only while every character folded, and every character
    it folds to, is one the separators are put around."""
    table = search_chinese._fold_table()
    cjk = re.compile(f"[{search_index.CJK}]")
    assert table and all(cjk.match(chr(source)) and cjk.match(target) for source, target in table.items())
    separated = "\u200b".join(["新", "款", "iPhone", "手", "机", "论", "语"])
    assert search.search_text("新款iPhone手機\x02論語") == separated


def test_searches_waiting_for_their_turn_go_in_the_order_they_came():
    turn = search._InTurn()
    order: list[int] = []

    def one(number: int) -> None:
        with turn:
            order.append(number)

    with turn:
        threads = []
        for number in range(6):
            thread = threading.Thread(target=one, args=(number,))
            thread.start()
            threads.append(thread)
            deadline = time.monotonic() + 5
            while len(turn._waiting) <= number and time.monotonic() < deadline:  # until it waits
                time.sleep(0.001)
    for thread in threads:
        thread.join(5)
    assert order == list(range(6))


def test_search_text_separates_exactly_as_the_boundary_pattern_says():
    """search_text separates a run of CJK characters at a time (faster); the index already built holds what
    the boundary pattern made, so every text must come out the same, the odd cases included (・, a combining
    mark, digits, the underscore that `\\w` matches and FTS5 does not)."""
    texts = [path.read_text(encoding="utf-8", errors="replace") for path in sorted(CORPUS.glob("*/*.txt"))]
    texts += ["a红b", "・a", "a・", "红・", "x゠y红", "红楼 abc 梦", "１红", "_红_", "a・・b", "か\u3099a"]
    for text in texts:
        expected = search_index.CJK_BOUNDARY.sub("\u200b", search_chinese.fold(text))
        assert search.search_text(text) == expected, text[:40]


def test_each_hit_names_its_own_chapter(db):
    """The chapter titles of a page's hits are read in one statement: each must stay with its own hit."""
    made = {}
    for n in range(4):
        voyage = book(f"Voyage {n}", [f"Plain prose number {n}."] * (n + 1) + [f"The narwhal surfaced, {n}."])
        for i, chapter in enumerate(voyage.chapters):
            chapter.title = f"Voyage {n}, part {i + 1}"
        made[n] = catalogue.add_book(db, voyage)
    results = search.search(db, "narwhal")
    assert sorted(ids(results)) == sorted(made.values())
    for n, book_id in made.items():
        hit = next(hit for hit in results.hits if hit.book_id == book_id)
        assert hit.chapter_position == n + 2
        assert hit.chapter_title == f"Voyage {n}, part {n + 2}"


def test_a_connection_from_open_database_searches_and_indexes_with_no_further_registration(tmp_path):
    """Searching and indexing no longer register the SQL functions themselves: open_database does, once
    per connection. The catalogue is opened a second time, already migrated, so no migration registers
    them on this connection either."""
    open_database(tmp_path / "c.db").close()
    db = open_database(tmp_path / "c.db")
    try:
        book_id = catalogue.add_book(db, book("Moby-Dick", ["Call me Ishmael.", "The whale 論語."]))
        assert ids(search.search(db, "ishmael")) == [book_id]
        assert ids(search.search(db, "论语")) == [book_id]  # through the chapter text function
        with db.conn:
            search_index.index_book(db, book_id)  # again: forgetting the book reads the text back
        assert ids(search.search(db, "whale")) == [book_id]
    finally:
        db.close()
