"""Capped work for common words: a search's cost follows the size of its result, not of the catalogue.

At 150,000 books a common word (`the`, `monster`, `的`) is in tens of thousands of books and hundreds of
thousands of chapters. Counting them, counting facets over them and ranking them by bm25 cost about 10 µs a
match, so one such search took a second and fifty at once ended in 503s (issue 12). So:

- The books holding every phrase somewhere, metadata or any chapter, come from `book_words`
  (search_presence.py: one row per book, so that is FTS5's own AND). It proves words; a phrase of several
  words it can only narrow to the books holding all of them, and that phrase is then checked against the
  list of every book that has it (`phrase_check`). Without book_words (a query it cannot split), each
  phrase is counted up to a bound (`probe`: a `LIMIT` inside FTS5, which stops reading its index there)
  and the rarest phrase *drives* the search: only its books are candidates, each checked for the other
  phrases by a lookup of that one book in each index.
- At most `cap + 1` matching books are collected (`candidates`). Up to `cap` the count is exact; past it
  the page says "more than cap" and its facets count the first `cap` books found, which is said too.
  Candidates come in this order: titles holding every phrase, metadata holding every phrase, a chapter
  holding every phrase (none of these needs a check), then book_words' books (or the driving phrase's),
  checked where needed, the rarest phrase first; so a title typed whole is never left outside the cap,
  and a capped result of common words is mostly collected without checks.
- bm25 (search.py's ranking) needs a pass over every match of every phrase for its IDF. It runs only when
  every phrase is rare (`Plan.rare`), which also keeps small results exactly as they were ranked before.
  Otherwise the collected books are ranked in tiers (`tiered_page`): the title as typed, every phrase in
  the title, any metadata, then text only; by book id within a tier. (No tier for authors: FTS5 looks
  for a column-filtered phrase beyond the one book asked for, which costs milliseconds when the phrase
  is common but rare in that column.)
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from sqlite_utils import Database

CHAPTER_BITS = 20  # search_index.CHAPTER_BITS; repeated: search_query.py imports this module
LAST_POSITION = (1 << CHAPTER_BITS) - 1


@dataclass(frozen=True)
class Plan:
    order: list[int]  # phrase indexes, rarest first: the first drives (its books are the candidates)
    rare: bool  # every phrase within the bound in both indexes: bm25 is cheap, rank as always
    counts: tuple[tuple[int, int], ...] = ()  # each phrase's matches in book_fts and chapter_fts, bounded


DRIVER_BOUND = 20  # phrases are told apart up to this many times the cap (~0.1 µs a match counted)


def probe(
    db: Database,
    phrases: list[str],
    bound: int,
    chapter_filter: str = "",
    params=None,
    *,
    driver: bool = True,
    table: str = "chapter_fts",
    text_phrases: list[str] | None = None,
    record_table: str = "book_fts",
) -> Plan:
    """How often each phrase occurs, counted up to DRIVER_BOUND * `bound` in each index to choose a
    driving phrase, or just past `bound` when there is none to choose (`driver` False: book_words).
    `table` and `text_phrases`: the chapter index and the phrases as it is asked (search_pairs.py)."""
    counts = []
    for phrase, text_phrase in zip(phrases, text_phrases or phrases, strict=True):
        meta, text = db.execute(
            f"""SELECT (SELECT count(*) FROM (SELECT 1 FROM {record_table} WHERE {record_table} MATCH :p
                 LIMIT :n)),
                (SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {table} MATCH :text_p{chapter_filter}
                 LIMIT :n))""",
            {
                **(params or {}),
                "p": phrase,
                "text_p": text_phrase,
                "n": bound * DRIVER_BOUND if driver else bound + 1,
            },
        ).fetchone()
        counts.append((meta, text))
    order = sorted(range(len(phrases)), key=lambda i: sum(counts[i]))
    return Plan(order, all(meta <= bound and text <= bound for meta, text in counts), tuple(counts))


def all_in(column: str, phrases: list[str]) -> str:
    """An FTS5 query: every phrase in one column."""
    return f"{column} : ({' AND '.join(phrases)})"


def phrase_check(
    name: str,
    text_allowed: str,
    chapter_filter: str = "",
    *,
    lists: bool = False,
    table: str = "chapter_fts",
    record_table: str = "book_fts",
) -> str:
    """SQL true when book `b` has phrase `:name` in its metadata or (its text allowed) in a chapter (`table`
    asked for `:text_name`, the phrase as that index is asked).

    Each index is asked about that one book, or (`lists`) for the list of every book that has the phrase,
    made once per statement: asking about a book that lacks a phrase costs FTS5 a scan to the phrase's next
    match anywhere (it checks the book's rowid bounds only after a match), which for a rare phrase of
    common words is most of the index, once per book; the list costs one pass over the phrase's matches."""
    if lists:
        meta = f"b.id IN (SELECT rowid FROM {record_table} WHERE {record_table} MATCH :{name})"
    else:
        meta = f"EXISTS (SELECT 1 FROM {record_table} WHERE {record_table} MATCH :{name} AND rowid = b.id)"
    if lists:
        text = (
            f"b.id IN (SELECT rowid >> {CHAPTER_BITS} FROM {table}"
            f" WHERE {table} MATCH :text_{name}{chapter_filter})"
        )
    else:
        text = (
            f"EXISTS (SELECT 1 FROM {table} WHERE {table} MATCH :text_{name}"
            f" AND rowid BETWEEN (b.id << {CHAPTER_BITS}) AND (b.id << {CHAPTER_BITS}) + {LAST_POSITION})"
        )
    return f"({meta} OR ({text_allowed} AND {text}))"


def candidates(
    order: list[int],
    *,
    pinyin: bool,
    chapter_filter: str,
    filters: str,
    text_allowed: str,
    words: bool = False,
    unproven: list[int] | None = None,
    chapter_books: bool = False,
    meta_books: bool = False,
    table: str = "chapter_fts",
    record_table: str = "book_fts",
) -> list[str]:
    """The statements collecting at most :cap1 matching books, in the order above: (id, title as typed,
    language; the language facet is counted from these rows, see `collect`).

    `words`: `:words` holds the `book_words` query of every phrase (search_presence.py), which proves
    all phrases but those in `unproven`: the books holding every phrase somewhere then come from that
    index, and only the unproven phrases are checked (by lists, see `phrase_check`). Phrases that
    book_words proves all need no chapter stream: the books holding them in chapters but not in their record
    are the rest of book_words' books, in the same (id) order, one row a book instead of one a chapter. For
    several words that gives up one tier of a capped result, the books holding them all in one chapter
    before the books holding them in several: asking chapter_fts for every word of a title of five common
    words was a quarter of the search mix's time at 150,000 books. A result within the cap is still ranked
    by bm25 over the chapters holding them all (search_rank.ranked_page).
    `chapter_books`: `:chapter_books` lists every book with a chapter holding the one phrase, in id order,
    already found (`search_query.Query`): no need to ask FTS5 again; `meta_books` likewise, every book whose
    record holds all phrases (`:meta_books`). `table`: the chapter index, asked for
    `:text_all` and `:text_pN`, the phrases as it is asked (chapter_fts; chapter_pairs: search_pairs.py)."""
    # Streams of book ids whose rows alone prove every phrase, then the checked ones: the driving phrase's
    # books, checked for the others; or book_words' books, checked for the unproven phrases, and found
    # only when their text may be searched (a book found by its record alone is in the second stream).
    records = record_table  # book_fts, or book_pairs for Chinese phrases (search_pairs.py)
    streams = [f"SELECT rowid AS book_id FROM {records} WHERE {records} MATCH :title_all"]
    if meta_books:
        streams.append("SELECT value FROM json_each(:meta_books)")
    else:
        streams.append(f"SELECT rowid FROM {records} WHERE {records} MATCH :all")
    if pinyin:
        streams.append("SELECT rowid FROM book_fts WHERE book_fts MATCH :pinyin")
    proven = bool(words and not unproven)
    one_word = len(order) == 1 and proven
    if chapter_books:
        streams.append("SELECT value FROM json_each(:chapter_books)")
    elif not proven:
        streams.append(
            f"SELECT rowid >> {CHAPTER_BITS} FROM {table} WHERE {table} MATCH :text_all{chapter_filter}"
        )
    checked = []  # streams whose rows are checked, book by book
    checks = "1"
    check = functools.partial(phrase_check, table=table, record_table=records)
    if (len(order) > 1 or one_word) and words:
        checked.append("SELECT rowid AS book_id FROM book_words WHERE book_words MATCH :words")
        # By the lists of the books holding each unproven phrase: book_words' books hold all its words, so
        # a book without the phrase is common among them, and asking about it costs a scan to the phrase's
        # next match ("Countenance Of My Friend--His Eyes": 150 ms of such lookups, the list 17 ms).
        rest = [i for i in order if i in set(unproven or [])]
        checks = " AND ".join(
            [
                text_allowed,
                *(
                    phrase_check(
                        f"p{i}", text_allowed, chapter_filter, lists=True, table=table, record_table=records
                    )
                    for i in rest
                ),
            ]
        )
    elif len(order) > 1:
        checked.append(f"SELECT rowid AS book_id FROM {records} WHERE {records} MATCH :p{order[0]}")
        checked.append(
            f"SELECT rowid >> {CHAPTER_BITS} FROM {table}"
            f" WHERE {table} MATCH :text_p{order[0]}{chapter_filter}"
        )
        # The rarest other phrase first: a book without it fails at the first lookup.
        checks = " AND ".join(check(f"p{i}", text_allowed) for i in order[1:])
    # DISTINCT streams (an index of the rows seen so far), so LIMIT stops the scan of a common word's
    # matches after :cap1 books; CROSS JOIN keeps that stream the outer loop. Rows come out in the order
    # of the streams, which is the order of the tiers. The checked streams are a second statement, run
    # only when the first found too few, which leaves out the books it found before any check: most of
    # a checked stream's books can be those, and a check costs 50-100 µs.
    statements = [
        f"""SELECT DISTINCT b.id, lower(trim(b.title)) = :typed, b.language
        FROM ({" UNION ALL ".join(streams)}) AS s CROSS JOIN books AS b ON b.id = s.book_id
        WHERE {filters} LIMIT :cap1"""
    ]
    if checked:
        statements.append(
            f"""SELECT DISTINCT b.id, lower(trim(b.title)) = :typed, b.language
            FROM ({" UNION ALL ".join(checked)}) AS s CROSS JOIN books AS b ON b.id = s.book_id
            WHERE {filters} AND b.id NOT IN (SELECT value FROM json_each(:seen)) AND {checks}
            LIMIT :rest"""
        )
    return statements


def pair_driven(
    driver: int,
    others: list[tuple[int, bool]],
    *,
    chapter_filter: str,
    filters: str,
    text_allowed: str,
    pair_table: str,
    pair_record_table: str,
) -> str:
    """The statement collecting at most :cap1 books for a query mixing Chinese phrases with other words
    (`红楼梦 hawkes`, `江水 horror`), driven by the Chinese phrase `driver` through the pairs indexes
    (search_pairs.py; its pairs are `:pp{driver}`), each other phrase checked book by book: `others` is
    (phrase index, whether it is Chinese and asked of the pairs too, as `:pp{i}`).

    Why: such a query could use neither index alone (the pairs hold no Latin words), so it went through
    `book_fts`, where a phrase of common Chinese characters reads the positions of every one of them in
    every record holding them: 15-25 ms a pass at 1.5 million harvested records and two or three passes
    a search, while its pairs are a list of a few records. Rows come in tiers: the title holds the
    Chinese phrase, the record does, a chapter does."""
    streams = [
        f"SELECT rowid AS book_id FROM {pair_record_table} WHERE {pair_record_table} MATCH :pp_title",
        f"SELECT rowid FROM {pair_record_table} WHERE {pair_record_table} MATCH :pp{driver}",
        f"SELECT rowid >> {CHAPTER_BITS} FROM {pair_table}"
        f" WHERE {pair_table} MATCH :text_pp{driver}{chapter_filter}",
    ]
    checks = [
        phrase_check(f"pp{i}", text_allowed, table=pair_table, record_table=pair_record_table)
        if paired
        else phrase_check(f"p{i}", text_allowed)
        for i, paired in others
    ]
    return f"""SELECT DISTINCT b.id, lower(trim(b.title)) = :typed, b.language
        FROM ({" UNION ALL ".join(streams)}) AS s CROSS JOIN books AS b ON b.id = s.book_id
        WHERE {filters} AND {" AND ".join(checks) or "1"} LIMIT :cap1"""


def collect(db: Database, statements: list[str], params: dict) -> tuple[list[int], dict[int, str | None]]:
    """The ids of the books found, in tier order, the title as typed first: `candidates`' statements in
    turn, until :cap1 books are found; and each one's language. The language facet is counted from these
    in Python: asking `books` for them again, in the facets' statement, looked up every book a second
    time (1-2 ms of a capped search's 10)."""
    rows = db.execute(statements[0], params).fetchall()
    if len(rows) < params["cap1"] and len(statements) > 1:
        more = {"seen": json.dumps([row[0] for row in rows]), "rest": params["cap1"] - len(rows)}
        rows += db.execute(statements[1], {**params, **more}).fetchall()
    rows.sort(key=lambda row: not row[1])
    return [row[0] for row in rows], {row[0]: row[2] for row in rows}


# The books found, as a table for the statements that join them (facets, ranking). Their ids only: every
# one was read from `books` by the statement that found it (`candidates`), so none is looked up again.
# Materialized: the facets use it several times.
MATCHED = """matched AS MATERIALIZED (
            SELECT value AS book_id FROM json_each(:found_ids))"""


def tiered_page(found_ids: list[int], limit: int, offset: int) -> list[tuple[int, None]]:
    """One page of the collected books in tier order, when bm25 over every match of a common word is too
    dear: ranking them is already done by the order they were found in."""
    return [(book_id, None) for book_id in found_ids[offset : offset + limit]]
