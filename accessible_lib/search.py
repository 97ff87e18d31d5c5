"""Full-text search over the catalogue with SQLite FTS5, for Chinese as well as English.

Why the index looks the way it does:

- Chinese has no spaces between words and FTS5's trigram tokenizer cannot match the most common Chinese
  queries (two characters like 红楼, one like 坟). So every Han or kana character is made a token of its
  own by putting an invisible U+200B ZERO WIDTH SPACE between it and any neighbouring letter; `unicode61`
  treats U+200B as a separator. A query gets the same treatment and becomes a phrase: 红楼 is the phrase
  "红 楼" and matches 红楼梦. U+200B rather than a plain space because removing it from a snippet gives
  back exactly the original text, even where the text had real spaces next to Chinese characters.
- Traditional and Simplified characters fold together: `search_text` maps each Traditional character to
  one Simplified one (search_chinese.py), for indexed text and queries alike, so 論語 finds 论语 and
  古文观止 finds 古文觀止. Both indexes therefore hold folded text; since folding keeps every character's
  place, a snippet is put back into the book's own script from the text as written (`search_chinese.unfold`).
- Titles and authors also have pinyin keys (the `pinyin` column: `lunyu ly` for 论语), weighted low so that
  they rank below exact matches; a query of several pinyin words or with tone digits (`lun2 yu3`) is also
  tried joined, against that column only.
- English words go through the `porter` stemmer, so "whales" finds "whale". A word is matched whole; a
  prefix only on request (`ishm*`, `prefix_last`) or, with `prefix_fallback`, when the last word as typed is
  nowhere in the index (`whal` finds "whale"): a short prefix of a common word expands to thousands of terms.
  Typing errors are for the page to offer a correction of ("Did you mean", search_suggest.py), from the
  words of titles and authors kept in `search_words`.
- Book metadata (`book_fts`, rowid = book id) keeps its own copy of the transformed text: it is small (a
  few hundred bytes a book) and it changes when a librarian edits a record; a table with its own content can
  always delete the old row correctly.
- Chapter text (`chapter_fts`) is the bulk: at 150,000 books, gigabytes. It is an external-content table
  over the view `chapter_search_source`, which computes the transformed text from `chapters.text` with the
  SQL function `accessible_lib_search_text` (registered by `register_functions`). The text is stored once,
  in `chapters`, and `snippet()` still works. The price: the function must be registered on a connection
  before it reads snippets or changes the chapter index, and chapter text must not change while it is
  indexed (call `unindex_book` before deleting or rewriting a book's chapters; `reindex_all` repairs).
- A search of Chinese phrases only (two characters or more each) finds its chapters through `chapter_pairs`
  instead, each run of Chinese characters indexed as its overlapping pairs (search_pairs.py): a phrase of
  common characters is a few short lists there, where `chapter_fts` reads both characters' positions.
  Records likewise, through `book_pairs` (which records hold the phrases; `book_fts` still ranks them by
  bm25 and gives their snippets).
- A chapter's rowid in `chapter_fts` is `book_id << 20 | position`, not `chapters.id`. Results are books, and
  a common word matches hundreds of thousands of chapters: with the book id inside the rowid, grouping the
  matches by book needs no lookup at all. An index on that expression lets FTS5 fetch a chapter for
  `snippet()`.

A search is a few statements, each cheap on its own at 150,000 books:
- which books match (every phrase somewhere in the book, metadata or text), the total and the facet
  counts: no ranking needed, so no bm25;
- the page: books matching in metadata first, ranked by bm25 over the small metadata table; chapters are
  ranked (bm25 over every matching chapter, the expensive part) only when the page reaches past them;
- per hit: title, authors, a link to a chapter and `snippet()`, without bm25 (its IDF costs a pass over
  every match of every phrase, per call).
"""

from __future__ import annotations

import collections
import re
import threading
from dataclasses import dataclass

from sqlite_utils import Database

from . import catalogue, search_capped, search_chinese, search_hits
from .search_hits import Hit
from .search_index import (  # noqa: F401  (the indexing API, used as search.index_book and so on)
    BOOK_COLUMNS,
    CHAPTER_BITS,
    CJK,
    SEARCH_TEXT_FUNCTION,
    SUGGEST_WORD,
    TOKENIZE,
    create_book_index,
    create_search_tables,
    index_book,
    optimize_indexes,
    rebuild_index,
    recreate_book_index,
    register_functions,
    reindex_all,
    search_text,
    unindex_book,
)
from .search_query import MAX_QUERY_CHARS, Query, parse_query, time_limit
from .search_rank import ranked_page
from .search_summary import Facets, FacetValue, summary  # noqa: F401
from .settings import Settings

MAX_PER_PAGE = 100


@dataclass
class SearchResults:
    query: str
    total: int  # matching books
    hits: list[Hit]
    facets: Facets
    page: catalogue.Page  # items are the hits
    prefix: bool = False  # nothing matched the words as typed, so the last one was taken as a beginning
    more: bool = (
        False  # more books match than `total`, the cap: counted, ranked and listed are the first found
    )


def search(
    db: Database,
    query: str,
    *,
    language: str | None = None,
    subject: str | None = None,
    format: str | None = None,
    page: int = 1,
    per_page: int = 20,
    prefix_last: bool = False,
    prefix_fallback: bool = False,
    time_limit_ms: int | None = None,
    hidden: tuple[str, ...] = (),
    text_hidden: tuple[str, ...] = (),
    local_only: bool = False,
    count_cap: int | None = None,
) -> SearchResults:
    """One page of books matching `query`, best first, with facet counts for the whole result.

    Rights (access.py): books whose rights status is in `hidden` are not found at all; those in
    `text_hidden` are found by their catalogue record only, never by a word of their chapters, and no
    snippet of their text is shown. Staff and the command line pass neither and search everything.
    `local_only` leaves out records harvested from other libraries (our own OPDS feeds pass it).

    `prefix_fallback`: when the words as typed find nothing, search again with the last one as a beginning
    (`whal` finds whale); only then, because a prefix of a common word expands to thousands of terms.

    `count_cap` (default: the `search_count_cap` setting's default): past that many matching books the
    result says `more` and holds the first `count_cap` found (search_capped.py).

    Raises UserError when the search takes longer than `time_limit_ms` (default: the
    `search_time_limit_ms` setting's default).
    """
    options = dict(language=language, subject=subject, format=format, page=page, per_page=per_page)
    rights = dict(time_limit_ms=time_limit_ms, hidden=hidden, text_hidden=text_hidden, local_only=local_only)
    rights["count_cap"] = Settings.search_count_cap if count_cap is None else max(1, count_cap)
    with _ONE_AT_A_TIME:
        results = _search(db, query, prefix_last=prefix_last, **options, **rights)
        if prefix_fallback and not results.total and not prefix_last and _beginning_may_help(db, query):
            beginnings = _search(db, query, prefix_last=True, **options, **rights)
            if beginnings.total:
                beginnings.prefix = True
                results = beginnings
    return results


class _InTurn:
    """A lock that hands itself to its waiters in the order they came.

    `threading.Lock` wakes whichever waiter the system picks, so under load some searches waited for many
    others in a row (a long tail); in turn, a search waits at most for those that came before it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._busy = False
        self._waiting: collections.deque[threading.Lock] = collections.deque()

    def __enter__(self) -> None:
        with self._guard:
            if not self._busy:
                self._busy = True
                return
            turn = threading.Lock()
            turn.acquire()
            self._waiting.append(turn)
        turn.acquire()  # released by the search before this one: the lock is handed over, still busy

    def __exit__(self, *exc) -> None:
        with self._guard:
            if self._waiting:
                self._waiting.popleft().release()
            else:
                self._busy = False


# One search at a time in a process. A search is CPU work in SQLite and in Python (the progress handler,
# the text function behind snippets) on one core: fifty at once in one process's threads share that core
# and the GIL, so each took fifty times as long and hit the time limit (503s under load, issue 12). In
# turn, each runs at full speed and the time limit counts its own work, not its wait; `make run` starts one
# web process per core, so the cores still search side by side.
_ONE_AT_A_TIME = _InTurn()


def _beginning_may_help(db: Database, query: str) -> bool:
    """Whether searching again with the last word as a beginning can find more: only when that word as
    typed is nowhere in the index and some longer word begins with it. Two lookups of one term each, so a
    query with a common word (`the zyxwv`) is not run a second time for nothing."""
    whole, beginning = parse_query(query)[-1:], parse_query(query, prefix_last=True)[-1:]
    if not beginning or whole == beginning:
        return False

    def anywhere(phrase: str) -> bool:
        return bool(
            db.execute(
                "SELECT EXISTS (SELECT 1 FROM book_fts WHERE book_fts MATCH :p)"
                " OR EXISTS (SELECT 1 FROM chapter_fts WHERE chapter_fts MATCH :p)",
                {"p": phrase},
            ).fetchone()[0]
        )

    return not anywhere(whole[0]) and anywhere(beginning[0])


def _search(
    db: Database,
    query: str,
    *,
    language: str | None,
    subject: str | None,
    format: str | None,
    page: int,
    per_page: int,
    prefix_last: bool,
    time_limit_ms: int | None,
    hidden: tuple[str, ...],
    text_hidden: tuple[str, ...],
    local_only: bool,
    count_cap: int,
) -> SearchResults:
    page = max(1, page)
    per_page = max(1, min(MAX_PER_PAGE, per_page))
    phrases = parse_query(query, prefix_last=prefix_last)
    if not phrases:
        return SearchResults(query, 0, [], Facets(), catalogue.Page([], 0, page, per_page))
    if time_limit_ms is None:
        time_limit_ms = Settings.search_time_limit_ms
    with time_limit(db.conn, time_limit_ms):
        prepared = Query(
            phrases,
            language,
            subject,
            format,
            pinyin=search_chinese.pinyin_alternative(query[:MAX_QUERY_CHARS]),
            hidden=hidden,
            text_hidden=text_hidden,
            local_only=local_only,
            typed=query[:MAX_QUERY_CHARS],
        )
        prepared.collect(db, count_cap)
        total, facets = summary(db, prepared, count_cap)
        found = len(prepared.found_ids)
        offset = (page - 1) * per_page
        ranked = []
        if offset < total:
            if found <= count_cap and prepared.plan is not None and prepared.plan.rare:
                ranked = ranked_page(db, prepared, per_page, offset)
            else:
                ranked = search_capped.tiered_page(prepared.found_ids[:count_cap], per_page, offset)
        hits = search_hits.describe(db, prepared, ranked, cjk=bool(re.search(f"[{CJK}]", query)))
    results = SearchResults(query, total, hits, facets, catalogue.Page(hits, total, page, per_page))
    results.more = found > count_cap
    return results
