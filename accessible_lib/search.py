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
import json
import re
import sqlite3
import threading
import time
import unicodedata
from dataclasses import dataclass, field

from sqlite_utils import Database

from . import catalogue, search_capped, search_chinese, search_hits, search_pairs, search_presence
from .errors import UserError
from .i18n import gettext
from .search_hits import Hit
from .settings import Settings

TOKENIZE = "porter unicode61 remove_diacritics 2"
SEARCH_TEXT_FUNCTION = "accessible_lib_search_text"
CHAPTER_BITS = 20  # chapter positions up to 1,048,575 fit beside the book id in a chapter's rowid
MAX_QUERY_CHARS = 200  # a longer query is cut: no title is longer, and each term costs an index scan
MAX_TERMS = 12
MIN_PREFIX_CHARS = 3  # "a*" would expand to every word in the index
MAX_PER_PAGE = 100
FACET_LIMIT = 20
ALWAYS_FORMAT = "html"  # every book can be read online

# bm25 weights, in column order. Title and authors far above everything else; description is longer
# and looser; the body text lives in another table and only ranks books that match nowhere else.
# `pinyin` holds pinyin keys of the title and authors (search_chinese.py): weighted far below the title, so a
# book found by pinyin ranks below one whose words were typed as they are written.
BOOK_COLUMNS = search_presence.RECORD_COLUMNS  # book_words reads them back in this order
BOOK_WEIGHTS = (10.0, 5.0, 10.0, 4.0, 1.5, 1.0, 0.5)
CHAPTER_WEIGHTS = (3.0, 1.0)  # chapter title, chapter text

_CJK = search_chinese.CJK
_CJK_BOUNDARY = re.compile(rf"(?<=[{_CJK}])(?=\w)|(?<=\w)(?=[{_CJK}])")
_CJK_RUN = re.compile(f"[{_CJK}]+")
_SEPARATOR = search_hits.SEPARATOR
_MARKERS = re.compile("[\x02\x03\x04]")  # search_hits' snippet markers: removed from indexed text
_WORD = re.compile(r"[^\W_]")
_LATIN_END = re.compile(rf"[^\W_{_CJK}]{{{MIN_PREFIX_CHARS},}}$")
SUGGEST_WORD = re.compile(rf"[^\W\d_{_CJK}]{{4,}}")  # title and author words a typing error is corrected to


def search_text(text: str | None) -> str | None:
    """Text as it is indexed: each CJK character a token of its own, Traditional folded to Simplified."""
    if text is None:
        return None
    if "\x02" in text or "\x03" in text or "\x04" in text:
        text = _MARKERS.sub("", text)
    if text.isascii():  # O(1) in CPython: no Chinese to separate or fold in English text
        return text
    if not _CJK_RUN.search(text):  # English with a curly quote or a dash: folding, a dictionary lookup a
        return text  # character, changes only CJK characters (tests/test_search_chinese.py checks the table)
    # Folded first, on the shorter text: folding maps a Han character to a Han character, so it moves no
    # separator (tests/test_search.py checks the table); snippets call this on every chapter they show.
    folded = search_chinese.fold(text)
    return _CJK_RUN.sub(lambda run: _separated(folded, run), folded)


def _separated(text: str, match: re.Match) -> str:
    """One run of CJK characters as `_CJK_BOUNDARY` separates it: between its characters, and from a word
    character on either side. A run at a time, because the boundary pattern tried at every position of a
    chapter cost most of a Chinese snippet's time (0.8 ms for 1,500 characters; this, half of it)."""
    run = match.group()
    inner = _SEPARATOR.join(run) if run.isalnum() else _CJK_BOUNDARY.sub(_SEPARATOR, run)
    start, end = match.span()
    if start and (text[start - 1].isalnum() or text[start - 1] == "_"):  # what `\w` matches
        inner = _SEPARATOR + inner
    if end < len(text) and (text[end].isalnum() or text[end] == "_"):
        inner += _SEPARATOR
    return inner


def register_functions(conn: sqlite3.Connection) -> None:
    """Make the chapter index usable on `conn`; cheap, so it is called before every use."""
    conn.create_function(SEARCH_TEXT_FUNCTION, 1, search_text, deterministic=True)
    search_pairs.register(conn)


def create_search_tables(db: Database) -> None:
    """The FTS tables, the view and the expression index; used by the migration."""
    create_book_index(db)
    key = f"((book_id << {CHAPTER_BITS}) + position)"
    for statement in (
        f"CREATE INDEX chapters_search_key ON chapters({key})",
        f"""CREATE VIEW chapter_search_source AS
            SELECT {key} AS search_key, {SEARCH_TEXT_FUNCTION}(title) AS title,
                   {SEARCH_TEXT_FUNCTION}(text) AS body
            FROM chapters""",
        f"""CREATE VIRTUAL TABLE chapter_fts USING fts5(title, body,
                content = 'chapter_search_source', content_rowid = 'search_key',
                tokenize = '{TOKENIZE}')""",
    ):
        db.execute(statement)


def create_book_index(db: Database) -> None:
    """The metadata index and the words of titles and authors that typing errors are corrected to.

    `search_words` only grows (a word left by a deleted book costs nothing: a suggestion is offered only
    when searching for it finds books); `rebuild_index` starts it afresh.
    """
    book_columns = ", ".join(BOOK_COLUMNS)
    db.execute(f"CREATE VIRTUAL TABLE book_fts USING fts5({book_columns}, tokenize = '{TOKENIZE}')")
    db.execute("CREATE TABLE search_words (word TEXT PRIMARY KEY) WITHOUT ROWID")


def recreate_book_index(db: Database) -> None:
    """Drop the metadata index and rebuild every index; for a migration that changes what is indexed."""
    db.execute("DROP TABLE IF EXISTS book_fts")
    db.execute("DROP TABLE IF EXISTS search_words")
    create_book_index(db)
    rebuild_index(db)


# -- indexing ---------------------------------------------------------------------------------------


def index_book(
    db: Database,
    book_id: int,
    *,
    new: bool = False,
    chapter_texts: list[tuple[str | None, str]] | None = None,
) -> None:
    """(Re)index one book inside the caller's transaction: never commits. `new` when the caller has just
    inserted the book, so nothing of it can be indexed yet and there is nothing to forget first.

    `chapter_texts`, for a new book only: each chapter's title and text already through `search_text`, in
    position order, as the view would compute them; an importer makes them in the process that reads the
    files, not in the one that writes the catalogue."""
    register_functions(db.conn)
    if not new:
        unindex_book(db, book_id)
    record = _index_book_metadata(db, book_id)
    if record is None:
        return
    base = book_id << CHAPTER_BITS
    if new and chapter_texts is not None:
        keyed = [(base + position, title, body) for position, (title, body) in enumerate(chapter_texts, 1)]
    else:  # the text as the view computes it, once for both indexes
        keyed = [
            (base + position, search_text(title), search_text(text))
            for position, title, text in db.execute(
                "SELECT position, title, text FROM chapters WHERE book_id = ? ORDER BY position", [book_id]
            )
        ]
    db.conn.executemany("INSERT INTO chapter_fts (rowid, title, body) VALUES (?, ?, ?)", keyed)
    if search_pairs.exists(db):
        pairs = search_pairs.pairs_text
        db.conn.executemany(
            f"INSERT INTO {search_pairs.TABLE} (rowid, title, body) VALUES (?, ?, ?)",
            [(key, pairs(title, folded=True), pairs(body, folded=True)) for key, title, body in keyed],
        )
    if search_presence.exists(db):
        words = search_presence.words_text(record, [(title, body) for _, title, body in keyed])
        search_presence.index(db, book_id, words)


def unindex_book(db: Database, book_id: int) -> None:
    """Remove a book from the index; call it BEFORE deleting or changing the book's chapters.

    An external-content FTS5 table can only forget a row by being told the text it indexed; that is read
    back from `chapters`. Which chapters are indexed is read from FTS5's `docsize` table, because asking
    `chapter_fts` itself would list the chapters in `chapters`, indexed or not.
    """
    register_functions(db.conn)
    if search_presence.exists(db):
        search_presence.unindex(db, book_id)  # first: its view reads the record back from book_fts
    db.execute("DELETE FROM book_fts WHERE rowid = ?", [book_id])
    if search_pairs.book_table_exists(db):
        db.execute(f"DELETE FROM {search_pairs.BOOK_TABLE} WHERE rowid = ?", [book_id])
    db.execute(
        f"""INSERT INTO chapter_fts (chapter_fts, rowid, title, body)
            SELECT 'delete', d.id, {SEARCH_TEXT_FUNCTION}(c.title), {SEARCH_TEXT_FUNCTION}(c.text)
            FROM chapters AS c
            JOIN chapter_fts_docsize AS d ON d.id = (c.book_id << {CHAPTER_BITS}) + c.position
            WHERE c.book_id = ?""",
        [book_id],
    )
    if search_pairs.exists(db):
        pairs = search_pairs.PAIRS_FUNCTION
        db.execute(
            f"""INSERT INTO {search_pairs.TABLE} ({search_pairs.TABLE}, rowid, title, body)
                SELECT 'delete', d.id, {pairs}(c.title), {pairs}(c.text)
                FROM chapters AS c
                JOIN {search_pairs.TABLE}_docsize AS d ON d.id = (c.book_id << {CHAPTER_BITS}) + c.position
                WHERE c.book_id = ?""",
            [book_id],
        )


def rebuild_index(db: Database) -> None:
    """Index every book from scratch, inside the caller's transaction (migrations use this)."""
    register_functions(db.conn)
    db.execute("DELETE FROM book_fts")
    db.execute("DELETE FROM search_words")
    if search_pairs.book_table_exists(db):
        db.execute(f"DELETE FROM {search_pairs.BOOK_TABLE}")
    for (book_id,) in db.execute("SELECT id FROM books").fetchall():
        _index_book_metadata(db, book_id)
    db.execute("INSERT INTO chapter_fts (chapter_fts) VALUES ('rebuild')")
    if search_pairs.exists(db):
        db.execute(f"INSERT INTO {search_pairs.TABLE} ({search_pairs.TABLE}) VALUES ('rebuild')")
    if search_presence.exists(db):
        search_presence.rebuild(db)


def _index_book_metadata(db: Database, book_id: int) -> list[str | None] | None:
    """Index the record; returns its columns as indexed (BOOK_COLUMNS order), None for no such book."""
    authors = "; ".join(
        r[0]
        for r in db.execute("SELECT name FROM book_authors WHERE book_id = ? ORDER BY position", [book_id])
    )
    subjects = "; ".join(
        r[0]
        for r in db.execute("SELECT subject FROM book_subjects WHERE book_id = ? ORDER BY subject", [book_id])
    )
    row = db.execute(
        "SELECT title, subtitle, description, publisher FROM books WHERE id = ?", [book_id]
    ).fetchone()
    if row is None:
        return None
    title, subtitle, description, publisher = row
    values = [title, subtitle, authors, subjects, description, publisher]
    record = [*(search_text(v) for v in values), search_chinese.pinyin_keys([title, authors])]
    marks = ", ".join("?" * (len(BOOK_COLUMNS) + 1))
    columns = ", ".join(BOOK_COLUMNS)
    db.execute(f"INSERT INTO book_fts (rowid, {columns}) VALUES ({marks})", [book_id, *record])
    if search_pairs.book_table_exists(db):
        search_pairs.index_record(db, book_id, record)
    words = {w.lower() for w in SUGGEST_WORD.findall(f"{title} {authors}")}
    db.conn.executemany("INSERT OR IGNORE INTO search_words (word) VALUES (?)", [(w,) for w in words])
    return record


def optimize_indexes(db: Database) -> None:
    """Merge each full-text index into one segment (FTS5's 'optimize'), inside the caller's transaction.

    Books added one transaction at a time leave an FTS5 index in many segments (18 in the 150,000-book
    bench catalogue's chapter_fts), and every term a search looks up is looked up in each: after this, a
    chapter lookup took 0.04 ms instead of 0.14 and the mix's search CPU fell by 30%. New books add segments
    again (FTS5 merges them in the background, up to a bound), so it is worth running again after a large
    import; 40 s of CPU at 150,000 books."""
    for table in ("book_fts", "book_words", search_pairs.BOOK_TABLE, search_pairs.TABLE, "chapter_fts"):
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", [table]).fetchone():
            db.execute(f"INSERT INTO {table} ({table}) VALUES ('optimize')")


def reindex_all(db: Database) -> None:
    """Rebuild the whole index in one transaction: the repair for any drift between text and index."""
    with db.conn:
        rebuild_index(db)


# -- queries ----------------------------------------------------------------------------------------


def parse_query(text: str, *, prefix_last: bool = False) -> list[str]:
    """Turn what a reader typed into safe FTS5 phrases, all of which a book must match; [] finds nothing.

    Nothing the reader types is FTS5 syntax: every term becomes a quoted string (so `NEAR(`, `OR`, `-`,
    `^` and `*` in the middle are just text), quoted phrases stay phrases, and a run of Chinese becomes a
    phrase of single characters. A trailing `*` on a Latin word of three or more
    letters asks for prefix matching; `prefix_last` does that for the last word (search as you type).
    """
    text = unicodedata.normalize("NFC", text[:MAX_QUERY_CHARS])
    terms: list[tuple[str, bool, bool]] = []  # (text, prefix, quoted)
    for i, part in enumerate(text.split('"')):
        quoted = i % 2 == 1  # an unbalanced quote runs to the end of the query
        for chunk in [part] if quoted else part.split():
            prefix = False
            if not quoted and chunk.endswith("*"):
                chunk = chunk.rstrip("*")
                prefix = bool(_LATIN_END.search(chunk))
            if _WORD.search(chunk):
                terms.append((chunk, prefix, quoted))
    if not terms:
        return []
    if prefix_last and not text[-1].isspace() and text[-1] != '"':
        chunk, _, quoted = terms[-1]
        terms[-1] = (chunk, bool(_LATIN_END.search(chunk)), quoted)
    phrases: dict[str, None] = {}
    for chunk, prefix, _ in terms[:MAX_TERMS]:
        phrase = '"' + (search_text(chunk) or "").replace('"', '""') + '"'
        phrases.setdefault(phrase + " *" if prefix else phrase, None)
    return list(phrases)


@dataclass(frozen=True)
class FacetValue:
    value: str
    count: int


@dataclass
class Facets:
    """Counts among the books the current query and filters find, for offering filter links."""

    languages: list[FacetValue] = field(default_factory=list)
    subjects: list[FacetValue] = field(default_factory=list)  # the FACET_LIMIT most frequent
    formats: list[FacetValue] = field(default_factory=list)


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
    register_functions(db.conn)

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
    register_functions(db.conn)
    with _time_limit(db.conn, time_limit_ms):
        prepared = _Query(
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
        total, facets = _summary(db, prepared, count_cap)
        found = len(prepared.found_ids)
        offset = (page - 1) * per_page
        ranked = []
        if offset < total:
            if found <= count_cap and prepared.plan is not None and prepared.plan.rare:
                ranked = _ranked_page(db, prepared, per_page, offset)
            else:
                ranked = search_capped.tiered_page(prepared.found_ids[:count_cap], per_page, offset)
        hits = search_hits.describe(db, prepared, ranked, cjk=bool(re.search(f"[{_CJK}]", query)))
    results = SearchResults(query, total, hits, facets, catalogue.Page(hits, total, page, per_page))
    results.more = found > count_cap
    return results


# SQLite instructions between two checks of the time limit. Each check is a call into Python, which must take
# the GIL: under load another thread (a page being rendered) holds it, and the search waited for it at every
# check (up to the interpreter's switch interval, 5 ms). At 1,000 a search made about a hundred checks; an
# instruction is well under a microsecond, so 20,000 still checks the limit many times a second.
PROGRESS_STEPS = 20_000


class _time_limit:
    """Abort the statements run inside it after `ms` milliseconds, as a UserError.

    The progress handler belongs to the connection: a connection must not serve two searches at once.
    """

    def __init__(self, conn: sqlite3.Connection, ms: int):
        self.conn = conn
        self.deadline = time.monotonic() + ms / 1000
        self.fired = False

    def _check(self) -> int:
        if time.monotonic() > self.deadline:
            self.fired = True
            return 1
        return 0

    def __enter__(self) -> None:
        self.conn.set_progress_handler(self._check, PROGRESS_STEPS)

    def __exit__(self, kind, error, traceback) -> None:
        self.conn.set_progress_handler(None, 0)
        if self.fired and isinstance(error, sqlite3.OperationalError):
            raise UserError(
                gettext("The search took too long. Try more specific words, or fewer of them."),
                title=gettext("Search stopped"),
                status=503,
            ) from error


class _Query:
    """The SQL pieces one search shares between its statements."""

    def __init__(
        self,
        phrases: list[str],
        language: str | None,
        subject: str | None,
        format: str | None,
        *,
        pinyin: str | None = None,
        hidden: tuple[str, ...] = (),
        text_hidden: tuple[str, ...] = (),
        local_only: bool = False,
        typed: str = "",
    ):
        self.phrases = phrases
        self.params: dict[str, object] = {"any": " OR ".join(phrases), "all": " AND ".join(phrases)}
        self.text_match = {"any": self.params["any"], "all": self.params["all"]}  # for chapter_fts' snippets
        # Chapters are found through chapter_pairs when every phrase is a Chinese phrase (search_pairs.py),
        # else through chapter_fts; `collect` chooses, once it knows the catalogue has the pairs.
        self.pair_phrases = [search_pairs.phrase(phrase) for phrase in phrases]
        self.chapter_table = "chapter_fts"
        self.record_table = "book_fts"  # which books' records hold the phrases: book_pairs for Chinese ones
        self.chapter_match = dict(self.text_match)  # the chapter index's own `any` and `all`
        # A query typed as pinyin in several words (`lun yu`) also finds the book whose pinyin key is
        # the words joined (`lunyu`), in the pinyin column only.
        if pinyin:
            self.params["pinyin"] = f'pinyin : "{pinyin}"'
            self.params["any"] = f"{self.params['any']} OR {self.params['pinyin']}"
        filters = ["1"]
        if local_only:
            filters.append("b.source_id IS NULL")
        if hidden:
            filters.append(f"b.rights_status NOT IN ({self._bind('hidden', hidden)})")
        # Chapters of books whose text this reader may not read are left out of every chapter match, so
        # such a book is found by its record alone: a search for a sentence of it must not say it is there.
        # Few books are restricted, so the list is small and SQLite builds it once per statement.
        self.text_hidden = set(text_hidden)
        self.chapter_filter = ""
        if text_hidden:
            self.chapter_filter = (
                f" AND (rowid >> {CHAPTER_BITS}) NOT IN (SELECT id FROM books"
                f" WHERE rights_status IN ({self._bind('text_hidden', text_hidden)}))"
            )
        if language:
            self.params["language"] = language.strip().lower()
            filters.append(
                "(lower(b.language) = :language"
                " OR substr(lower(b.language), 1, length(:language) + 1) = :language || '-')"
            )
        if subject:
            self.params["subject"] = subject
            filters.append(
                "EXISTS (SELECT 1 FROM book_subjects s WHERE s.book_id = b.id AND s.subject = :subject)"
            )
        if format and format != ALWAYS_FORMAT:
            self.params["format"] = format
            filters.append(
                "EXISTS (SELECT 1 FROM editions e"
                " WHERE e.book_id = b.id AND e.format = :format AND e.status = 'done')"
            )
        self.params["title_all"] = search_capped.all_in("title", phrases)
        self.params["typed"] = " ".join(typed.split()).lower()  # a title typed whole ranks first
        self.filters = " AND ".join(filters)
        self.text_allowed = "1"
        if text_hidden:
            self.text_allowed = (
                f"coalesce(b.rights_status, '') NOT IN ({self._bind('text_hidden', text_hidden)})"
            )
        for i, phrase in enumerate(phrases):
            self.params[f"p{i}"] = self.params[f"text_p{i}"] = phrase
        self.params["text_all"] = self.params["all"]
        self.prefixed = any(phrase.endswith(" *") for phrase in phrases)
        self.plan: search_capped.Plan | None = None
        self.known_chapters: dict[int, int] = {}  # book id -> first chapter holding the one phrase
        self.matched = ""
        self.languages: dict[int, str | None] = {}  # found book id -> its language, for the facet

    def collect(self, db: Database, cap: int) -> None:
        """Set `matched`: the first `cap` (+1 in `found`) books matching every phrase somewhere in them,
        metadata or any chapter ("melville whale" finds Moby-Dick although Melville is only in its
        metadata), and `plan`. See search_capped.py.

        Each phrase is probed (counted up to a bound) first only where the statement needs it, to choose
        a driving phrase (no book_words query). Otherwise only when at most
        `cap` books are found, to tell whether bm25 can rank them; a common word's capped result needs no
        probe at all, and probing a beginning (`creat*`) costs FTS5 a merge of every word it begins. One
        phrase of several words (Chinese characters, a quoted phrase) has its chapters listed once, up to
        `cap` books, and that list is both its probe and, when complete, its chapter stream: for a rare
        phrase of common characters each pass over the chapters costs most of the index, 20-50 ms."""
        self.params["cap"], self.params["cap1"] = cap, cap + 1
        if all(self.pair_phrases) and search_pairs.exists(db):
            self._use_pairs(search_pairs.book_table_exists(db))
        words, unproven = search_presence.match_all(self.phrases)
        if words is not None and search_presence.exists(db):
            self.params["words"] = words
        needed = len(self.phrases) > 1 and "words" not in self.params
        self.plan = self._probe(db, cap) if needed else None
        if len(self.phrases) == 1 and ("words" not in self.params or unproven):
            self.plan = self._list_chapters(db, cap)
        statements = search_capped.candidates(
            self.plan.order if self.plan else list(range(len(self.phrases))),
            pinyin="pinyin" in self.params,
            chapter_filter=self.chapter_filter,
            filters=self.filters,
            text_allowed=self.text_allowed,
            words="words" in self.params,
            unproven=unproven,
            chapter_books="chapter_books" in self.params,
            meta_books="meta_books" in self.params,
            table=self.chapter_table,
            record_table=self.record_table,
        )
        self.found_ids, self.languages = search_capped.collect(db, statements, self.params)
        if self.plan is None and len(self.found_ids) <= cap:
            self.plan = self._probe(db, cap)
        self.params["found_ids"] = json.dumps(self.found_ids[:cap])
        self.matched = search_capped.MATCHED

    def _use_pairs(self, records: bool) -> None:
        """Chinese phrases only: chapters (and, with `records`, records) are found through their pairs.
        `any` stays the phrases of `book_fts`, which ranks records by bm25 and cuts their snippets."""
        pairs = [phrase for phrase in self.pair_phrases if phrase]
        self.chapter_table = search_pairs.TABLE
        self.chapter_match = {"any": " OR ".join(pairs), "all": " AND ".join(pairs)}
        self.params["text_all"] = self.chapter_match["all"]
        for i, phrase in enumerate(pairs):
            self.params[f"text_p{i}"] = phrase
        if records:
            self.record_table = search_pairs.BOOK_TABLE
            self.params["all"] = self.chapter_match["all"]
            self.params["title_all"] = search_capped.all_in("title", pairs)
            for i, phrase in enumerate(pairs):
                self.params[f"p{i}"] = phrase

    def _list_chapters(self, db: Database, cap: int) -> search_capped.Plan:
        """The one phrase's chapters, read until they name more than `cap` books and kept as the chapter
        stream when that is all of them, and its matches in book_fts counted: the probe of one phrase,
        with one pass over the chapters. Each book's first chapter is kept for its hit."""
        table = self.chapter_table
        cursor = db.execute(
            f"SELECT rowid FROM {table} WHERE {table} MATCH :text_all{self.chapter_filter}", self.params
        )
        chapters = 0
        for (key,) in cursor:
            chapters += 1
            self.known_chapters.setdefault(key >> CHAPTER_BITS, key)
            if len(self.known_chapters) > cap:
                break
        cursor.close()
        if len(self.known_chapters) <= cap:
            self.params["chapter_books"] = json.dumps(list(self.known_chapters))
        # Listed, not only counted: when they are all of them, the statement collecting the books takes them
        # from this list instead of asking book_fts again (a pass over the phrase's matches, ~1 ms for
        # common Chinese characters).
        in_meta = [
            row[0]
            for row in db.execute(
                f"SELECT rowid FROM {self.record_table} WHERE {self.record_table} MATCH :all LIMIT :cap1",
                self.params,
            )
        ]
        if len(in_meta) <= cap:
            self.params["meta_books"] = json.dumps(in_meta)
        meta = len(in_meta)
        return search_capped.Plan([0], meta <= cap and chapters <= cap, ((meta, chapters),))

    def _probe(self, db: Database, cap: int) -> search_capped.Plan:
        driver = "words" not in self.params
        texts = [self.params[f"text_p{i}"] for i in range(len(self.phrases))]
        return search_capped.probe(
            db,
            [self.params[f"p{i}"] for i in range(len(self.phrases))],
            cap,
            self.chapter_filter,
            self.params,
            driver=driver,
            table=self.chapter_table,
            text_phrases=texts,
            record_table=self.record_table,
        )

    def _bind(self, name: str, values: tuple[str, ...]) -> str:
        marks = []
        for i, value in enumerate(values):
            self.params[f"{name}{i}"] = value
            marks.append(f":{name}{i}")
        return ", ".join(marks)

    def rows(self, db: Database, sql: str, **params: object) -> list[tuple]:
        return db.execute(sql, {**self.params, **params}).fetchall()


def _summary(db: Database, query: _Query, cap: int) -> tuple[int, Facets]:
    """The number of matching books (up to the cap) and their facet counts. The total and the languages
    come from what `collect` read already; subjects and formats in one statement."""
    found = query.found_ids[:cap]
    total = len(found)
    facets = Facets()
    if not total:
        return total, facets
    languages = collections.Counter(query.languages[book_id] for book_id in found)
    languages.pop(None, None)
    ordered = sorted(languages.items(), key=lambda item: (-item[1], item[0]))  # as SQL's ORDER BY 3 DESC, 2
    facets.languages = [FacetValue(value, number) for value, number in ordered[:FACET_LIMIT]]
    rows = query.rows(
        db,
        f"""WITH {query.matched}
        SELECT * FROM (
            SELECT 'subject', s.subject, count(*)
            FROM matched CROSS JOIN book_subjects AS s ON s.book_id = matched.book_id  -- this order
            GROUP BY s.subject ORDER BY 3 DESC, 2 LIMIT {FACET_LIMIT})
        UNION ALL SELECT * FROM (
            SELECT 'format', e.format, count(DISTINCT e.book_id)
            FROM matched CROSS JOIN editions AS e ON e.book_id = matched.book_id
            -- `+`: by the book's editions, not by every edition done (SQLite chose that index)
            WHERE +e.status = 'done' AND e.format != '{ALWAYS_FORMAT}'
            GROUP BY e.format ORDER BY 3 DESC, 2)""",
    )
    for kind, value, number in rows:
        getattr(facets, f"{kind}s").append(FacetValue(value, number))
    facets.formats.insert(0, FacetValue(ALWAYS_FORMAT, total))
    return total, facets


def _ranked_page(db: Database, query: _Query, limit: int, offset: int) -> list[tuple[int, int | None]]:
    """One page of (book id, best chapter key or None), best first.

    Books with a phrase in their metadata come first, by bm25 over metadata. The rest follow by their
    best chapter holding every phrase. Ranking chapters is the expensive part (a common word is in most
    of them), so it runs only when the page reaches past the books that matched in metadata. The books
    found in metadata (at most the cap) are listed whole, once: the chapters' statement leaves them out by
    that list rather than by asking book_fts again (for a phrase of common Chinese characters, a pass
    over most of book_fts).
    """
    book_weights = ", ".join(str(w) for w in BOOK_WEIGHTS)
    meta_sql = f"""WITH {query.matched},
        meta AS (
            SELECT rowid AS book_id, bm25(book_fts, {book_weights}) AS score
            FROM book_fts WHERE book_fts MATCH :any LIMIT -1)
        SELECT book_id FROM meta WHERE book_id IN (SELECT book_id FROM matched) ORDER BY score, book_id"""
    in_meta = [book_id for (book_id,) in query.rows(db, meta_sql)]
    ranked: list[tuple[int, int | None]] = [(book_id, None) for book_id in in_meta[offset : offset + limit]]
    if len(ranked) == limit:
        return ranked
    chapter_weights = ", ".join(str(w) for w in CHAPTER_WEIGHTS)
    text_sql = f"""WITH {query.matched},
        text AS MATERIALIZED (
            SELECT book_id, min(score) AS score, chapter_key FROM (
                SELECT rowid >> {CHAPTER_BITS} AS book_id, rowid AS chapter_key,
                       bm25({query.chapter_table}, {chapter_weights}) AS score
                FROM {query.chapter_table} WHERE {query.chapter_table} MATCH :text_all{query.chapter_filter}
                LIMIT -1  -- not flattened: FTS5 computes bm25 only while its cursor is on the row
            ) GROUP BY book_id)
        SELECT book_id, chapter_key FROM (
            SELECT book_id, score, chapter_key FROM text
            WHERE book_id IN (SELECT book_id FROM matched)
            UNION ALL
            SELECT book_id, NULL, NULL FROM matched WHERE book_id NOT IN (SELECT book_id FROM text))
        WHERE book_id NOT IN (SELECT value FROM json_each(:in_meta))
        ORDER BY score IS NULL, score, book_id LIMIT :limit OFFSET :offset"""
    skip = max(0, offset - len(in_meta))
    rows = query.rows(db, text_sql, limit=limit - len(ranked), offset=skip, in_meta=json.dumps(in_meta))
    return ranked + [(book_id, chapter_key) for book_id, chapter_key in rows]
