"""One page of a result bm25 can rank: records by bm25 first, then books by their best chapter."""

from __future__ import annotations

import json

from sqlite_utils import Database

from . import search_pairs
from .search_index import CHAPTER_BITS
from .search_query import Query

# bm25 weights, in column order (search_index.BOOK_COLUMNS). Title and authors far above everything else;
# description is longer and looser; the body text lives in another table and only ranks books that match
# nowhere else. `pinyin` holds pinyin keys of the title and authors (search_chinese.py): weighted far below
# the title, so a book found by pinyin ranks below one whose words were typed as they are written.
BOOK_WEIGHTS = (10.0, 5.0, 10.0, 4.0, 1.5, 1.0, 0.5)
CHAPTER_WEIGHTS = (3.0, 1.0)  # chapter title, chapter text


def ranked_page(db: Database, query: Query, limit: int, offset: int) -> list[tuple[int, int | None]]:
    """One page of (book id, best chapter key or None), best first.

    Books with a phrase in their metadata come first, by bm25 over metadata. The rest follow by their
    best chapter holding every phrase. Ranking chapters is the expensive part (a common word is in most
    of them), so it runs only when the page reaches past the books that matched in metadata. The books
    found in metadata (at most the cap) are listed whole, once: the chapters' statement leaves them out by
    that list rather than by asking book_fts again (for a phrase of common Chinese characters, a pass
    over most of book_fts). Records of Chinese phrases are ranked by bm25 over their pairs (`book_pairs`,
    the same columns and weights but pinyin), which lists only the records holding the pairs.
    """
    records, match, weights = "book_fts", ":any", BOOK_WEIGHTS
    if "rank_any" in query.params:  # Chinese phrases only: their records ranked through their pairs
        records, match, weights = (
            search_pairs.BOOK_TABLE,
            ":rank_any",
            BOOK_WEIGHTS[: len(search_pairs.BOOK_COLUMNS)],
        )
    book_weights = ", ".join(str(w) for w in weights)
    meta_sql = f"""WITH {query.matched},
        meta AS (
            SELECT rowid AS book_id, bm25({records}, {book_weights}) AS score
            FROM {records} WHERE {records} MATCH {match} LIMIT -1)
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
