"""Staged records written into the catalogue a batch at a time (issue 12, part 5: the harvest applied 910
records a second, record by record).

Why: applying one record cost a dozen statements of its own (look it up, insert it, its authors, subjects
and identifiers, then `search.index_book`, which asks `sqlite_master` three times whether an index exists
and reads the record back before indexing it). Here a batch (store.BATCH records, one transaction, the
caller's) costs one lookup of every record it names, one `executemany` per table for the records new to the
catalogue, and one `executemany` per search index, with the indexes' existence asked once (`Indexes`).

What it writes is what `store`'s record-by-record path wrote: the same rows, the same ids (new records are
inserted in staging order), and for a new record the index rows `search.index_book(new=True,
chapter_texts=[])` writes, built as `search._index_book_metadata` builds them (tests/test_harvest_batch.py
checks the catalogue and its indexes against a full rebuild and against the record-by-record path).

- A record changed at the source, or brought back after a deletion, is written with the others of its
  batch too (a full re-harvest changes many at once), forgetting its old index rows first as
  `search.unindex_book` does; one with chapters a librarian attached is still re-indexed by
  `search.index_book`, one at a time (its chapters' rows must be forgotten from their text).
- A remote id staged twice in one batch (a source may list a record on two pages) is applied in order:
  the batch is cut before the repeat, so the second sees what the first wrote.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlite_utils import Database

from .. import access, search, search_chinese, search_pairs, search_presence
from ..book_names import record_texts
from ..ingest import INGEST_VERSION
from .record import Record

# The columns of a new harvested record, in the order `_new_row` gives them.
NEW_COLUMNS = (
    "title", "subtitle", "language", "description", "publisher", "date", "rights_statement", "remote_url",
    "harvest_hash", "modified_at", "source_id", "remote_id", "checksum", "added_at", "rights",
    "rights_status", "ingest_version",
)  # fmt: skip
_INSERT = f"INSERT INTO books ({', '.join(NEW_COLUMNS)}) VALUES ({', '.join('?' * len(NEW_COLUMNS))})"
_WITHDRAW = "UPDATE books SET rights_status = ?, rights = 'restricted', harvest_deleted_at = ? WHERE id = ?"


@dataclass(frozen=True)
class Indexes:
    """Which optional search indexes the catalogue has: asked once a batch, not once a record."""

    pairs: bool  # book_pairs (m032_search)
    presence: bool  # book_words (m029_search)

    @classmethod
    def of(cls, db: Database) -> Indexes:
        return cls(search_pairs.book_table_exists(db), search_presence.exists(db))


def apply(db: Database, run, staged: list[tuple[Record, str]], now: str) -> None:
    """Write `staged` ((record, fingerprint) in staging order) inside the caller's transaction, counting
    into `run.counts`."""
    indexes = Indexes.of(db)
    part: list[tuple[Record, str]] = []
    seen: set[str] = set()
    for record, record_hash in staged:
        if record.remote_id in seen:
            _apply_part(db, run, part, now, indexes)
            part, seen = [], set()
        part.append((record, record_hash))
        seen.add(record.remote_id)
    if part:
        _apply_part(db, run, part, now, indexes)


def _apply_part(db: Database, run, part: list[tuple[Record, str]], now: str, indexes: Indexes) -> None:
    """Records with distinct remote ids: none depends on another, so each kind is written together."""
    marks = ", ".join("?" * len(part))
    existing = {
        remote_id: (book_id, old_hash, deleted_at)
        for remote_id, book_id, old_hash, deleted_at in db.execute(
            "SELECT remote_id, id, harvest_hash, harvest_deleted_at FROM books "
            f"WHERE source_id = ? AND remote_id IN ({marks})",
            [run.source_id, *(record.remote_id for record, _ in part)],
        )
    }
    withdrawn, new, changed = [], [], []
    for record, record_hash in part:
        known = existing.get(record.remote_id)
        if record.deleted:
            if known and known[2] is None:
                withdrawn.append((access.WITHDRAWN, now, known[0]))
        elif known is None:
            new.append((record, record_hash))
        elif known[1] == record_hash and known[2] is None:
            run.counts["unchanged"] += 1
        else:
            changed.append((record, record_hash, known))
    if withdrawn:
        db.conn.executemany(_WITHDRAW, withdrawn)
        run.counts["deleted"] += len(withdrawn)
    if new:
        _add(db, run, new, now, indexes)
    if changed:
        _change(db, run, changed, indexes)


def _fields(record: Record, record_hash: str) -> list:
    return [
        record.title, record.subtitle, record.language, record.description, record.publisher, record.date,
        record.rights_statement, record.remote_url, record_hash,
        # Set here rather than left to the OAI-PMH triggers (migration m016), which would update the row
        # again after each insert or change: a second write of the row and its indexes for every record.
        datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    ]  # fmt: skip


def _new_row(source_id: int, record: Record, record_hash: str, now: str) -> list:
    checksum = "harvest:" + hashlib.sha256(f"{source_id}\n{record.remote_id}".encode()).hexdigest()
    return [
        *_fields(record, record_hash),
        source_id, record.remote_id, checksum, now,
        access.PUBLIC_DOMAIN, access.PUBLIC_DOMAIN, INGEST_VERSION,
    ]  # fmt: skip


def _add(db: Database, run, new: list[tuple[Record, str]], now: str, indexes: Indexes) -> None:
    db.conn.executemany(_INSERT, [_new_row(run.source_id, r, h, now) for r, h in new])
    marks = ", ".join("?" * len(new))
    ids = dict(
        db.execute(
            f"SELECT remote_id, id FROM books WHERE source_id = ? AND remote_id IN ({marks})",
            [run.source_id, *(record.remote_id for record, _ in new)],
        ).fetchall()
    )
    pairs = [(ids[record.remote_id], record) for record, _ in new]
    _links(db, pairs)
    index_new(db, [book_id for book_id, _ in pairs], indexes)
    run.counts["added"] += len(new)


def _links(db: Database, pairs: list[tuple[int, Record]]) -> None:
    db.conn.executemany(
        "INSERT INTO book_authors (book_id, position, name, role) VALUES (?, ?, ?, 'author')",
        [(book_id, i, name) for book_id, record in pairs for i, name in enumerate(record.authors)],
    )
    db.conn.executemany(
        "INSERT OR IGNORE INTO book_subjects (book_id, subject) VALUES (?, ?)",
        [(book_id, subject) for book_id, record in pairs for subject in record.subjects],
    )
    db.conn.executemany(
        "INSERT OR IGNORE INTO book_identifiers (book_id, scheme, value) VALUES (?, ?, ?)",
        [(book_id, scheme, value) for book_id, record in pairs for scheme, value in record.identifiers],
    )


def _change(db: Database, run, changed: list[tuple[Record, str, tuple]], indexes: Indexes) -> None:
    """Records changed at the source or brought back after a deletion: their rows rewritten together, and
    those with no chapters (all but the ones a librarian attached chapters to) indexed again together,
    as `search.index_book` indexes each. A book with chapters keeps `index_book`, one at a time: its
    chapters' index rows are forgotten and written again there."""
    for revived in (False, True):
        columns = NEW_COLUMNS[:10]
        extra = []
        if revived:  # the source brought it back
            columns += ("rights", "rights_status", "harvest_deleted_at")
            extra = [access.PUBLIC_DOMAIN, access.PUBLIC_DOMAIN, None]
        assignments = ", ".join(f"{name} = ?" for name in columns)
        db.conn.executemany(
            f"UPDATE books SET {assignments} WHERE id = ?",
            [
                [*_fields(record, record_hash), *extra, book_id]
                for record, record_hash, (book_id, _, deleted_at) in changed
                if (deleted_at is not None) == revived
            ],
        )
    pairs = [(book_id, record) for record, _, (book_id, _, _) in changed]
    for table in ("book_authors", "book_subjects", "book_identifiers"):
        db.conn.executemany(f"DELETE FROM {table} WHERE book_id = ?", [(book_id,) for book_id, _ in pairs])
    _links(db, pairs)
    book_ids = [book_id for book_id, _ in pairs]
    marks = ", ".join("?" * len(book_ids))
    with_chapters = {
        book_id
        for (book_id,) in db.execute(
            f"SELECT DISTINCT book_id FROM chapters WHERE book_id IN ({marks})", book_ids
        )
    }
    bare = [(book_id,) for book_id in book_ids if book_id not in with_chapters]
    if indexes.presence:  # search_presence.unindex for each; first: its view reads book_fts back
        db.conn.executemany(
            """INSERT INTO book_words (book_words, rowid, words)
               SELECT 'delete', id, words FROM book_words_source
               WHERE id = ?1 AND EXISTS (SELECT 1 FROM book_words_docsize WHERE id = ?1)""",
            bare,
        )
    db.conn.executemany("DELETE FROM book_fts WHERE rowid = ?", bare)
    if indexes.pairs:
        db.conn.executemany(f"DELETE FROM {search_pairs.BOOK_TABLE} WHERE rowid = ?", bare)
    index_new(db, [book_id for (book_id,) in bare], indexes)
    for book_id in sorted(with_chapters):
        search.index_book(db, book_id)
    run.counts["updated"] += len(changed)


def index_new(db: Database, book_ids: list[int], indexes: Indexes) -> None:
    """Index records just inserted, with no chapters, as `search.index_book(db, id, new=True,
    chapter_texts=[])` indexes each: `book_fts`, `book_pairs`, `search_words`, `book_words`. The record is
    read back from the catalogue (authors by position, subjects in the catalogue's order), as there."""
    if not book_ids:
        return
    texts = record_texts(db, book_ids)
    records, words = [], {}
    for book_id in book_ids:
        values = texts[book_id]
        title, names = values[0], values[2]
        record = [*(search.search_text(v) for v in values), search_chinese.pinyin_keys([title, names])]
        records.append((book_id, record))
        words.update(dict.fromkeys(w.lower() for w in search.SUGGEST_WORD.findall(f"{title} {names}")))
    columns = ", ".join(search.BOOK_COLUMNS)
    db.conn.executemany(
        f"INSERT INTO book_fts (rowid, {columns}) VALUES ({', '.join('?' * (len(search.BOOK_COLUMNS) + 1))})",
        [(book_id, *record) for book_id, record in records],
    )
    if indexes.pairs:
        search_pairs.index_records(db, records)
    db.conn.executemany("INSERT OR IGNORE INTO search_words (word) VALUES (?)", [(w,) for w in words])
    if indexes.presence:
        db.conn.executemany(
            "INSERT INTO book_words (rowid, words) VALUES (?, ?)",
            [(book_id, search_presence.words_text(record, [])) for book_id, record in records],
        )
