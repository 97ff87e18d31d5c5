"""Querying: what a reader typed as FTS5 phrases, the SQL pieces one search shares, and its time limit."""

from __future__ import annotations

import json
import re
import sqlite3
import time
import unicodedata

from sqlite_utils import Database

from . import search_capped, search_pairs, search_presence
from .errors import UserError
from .i18n import gettext
from .search_index import CHAPTER_BITS, CJK, search_text

MAX_QUERY_CHARS = 200  # a longer query is cut: no title is longer, and each term costs an index scan
MAX_TERMS = 12
MIN_PREFIX_CHARS = 3  # "a*" would expand to every word in the index
ALWAYS_FORMAT = "html"  # every book can be read online
MIXED_DRIVER_BOUND = 300  # records and chapters a Chinese phrase beside other words may drive (_pair_driver)

_WORD = re.compile(r"[^\W_]")
_LATIN_END = re.compile(rf"[^\W_{CJK}]{{{MIN_PREFIX_CHARS},}}$")


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


# SQLite instructions between two checks of the time limit. Each check is a call into Python, which must take
# the GIL: under load another thread (a page being rendered) holds it, and the search waited for it at every
# check (up to the interpreter's switch interval, 5 ms). At 1,000 a search made about a hundred checks; an
# instruction is well under a microsecond, so 20,000 still checks the limit many times a second.
PROGRESS_STEPS = 20_000


class time_limit:
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


class Query:
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
        elif (driver := self._pair_driver(db)) is not None:
            self._collect_mixed(db, cap, driver)
            return
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

    def _pair_driver(self, db: Database) -> int | None:
        """When this query mixes Chinese phrases with other words and its Chinese phrase with the most
        pairs is in at most MIXED_DRIVER_BOUND records and chapters, that phrase's index: `_collect_mixed`
        then checks each of them for the other words, 30-90 µs a book at 1.5 million records. None for a
        common one (`日君王`, in 15,000 records), left to the usual way, whose lists cost a pass over
        each word instead."""
        paired = [i for i, phrase in enumerate(self.pair_phrases) if phrase]
        if not paired or len(paired) == len(self.phrases) or self.prefixed:
            return None
        if not (search_pairs.exists(db) and search_pairs.book_table_exists(db)):
            return None
        driver = max(paired, key=lambda i: len(self.pair_phrases[i]))
        pairs, bound = self.pair_phrases[driver], MIXED_DRIVER_BOUND
        found = db.execute(
            f"""SELECT (SELECT count(*) FROM (SELECT 1 FROM {search_pairs.BOOK_TABLE}
                    WHERE {search_pairs.BOOK_TABLE} MATCH :p LIMIT :n))
                + (SELECT count(*) FROM (SELECT 1 FROM {search_pairs.TABLE}
                    WHERE {search_pairs.TABLE} MATCH :p LIMIT :n))""",
            {"p": pairs, "n": bound + 1},
        ).fetchone()[0]
        return driver if found <= bound else None

    def _collect_mixed(self, db: Database, cap: int, driver: int) -> None:
        """Chinese phrases beside other words: the books come from the Chinese phrase with the most pairs
        (the fewest books), through the pairs indexes, each checked for the other phrases
        (search_capped.pair_driven). Found as an all-Chinese search finds its phrases, never across
        punctuation. Ranked in the tiers they were found in: bm25 would read `book_fts` for the Chinese
        phrase, the cost this avoids."""
        for i, pairs in enumerate(self.pair_phrases):
            if pairs:
                self.params[f"pp{i}"] = self.params[f"text_pp{i}"] = pairs
        self.params["pp_title"] = search_capped.all_in("title", [self.pair_phrases[driver]])
        statement = search_capped.pair_driven(
            driver,
            [(i, bool(self.pair_phrases[i])) for i in range(len(self.phrases)) if i != driver],
            chapter_filter=self.chapter_filter,
            filters=self.filters,
            text_allowed=self.text_allowed,
            pair_table=search_pairs.TABLE,
            pair_record_table=search_pairs.BOOK_TABLE,
        )
        self.found_ids, self.languages = search_capped.collect(db, [statement], self.params)
        self.plan = search_capped.Plan(list(range(len(self.phrases))), rare=False)
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
            if "pinyin" not in self.params:  # book_pairs has no pinyin column to rank the joined words by
                # Ranked by their pairs too: bm25 over book_fts read the positions of every character of
                # the phrase in every record holding them (15 ms for 顾而乐之行歌, which 30 books hold).
                self.params["rank_any"] = self.chapter_match["any"]
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
