"""Bringing a Calibre library into the catalogue, and again later without adding anything twice.

Each Calibre book is remembered by its library's uuid and its own (`calibre_books`), with a hash of the
record and the checksum of the file we ingested: a second run updates a changed record, re-ingests a changed
file through the same path as `import` (the book keeps its id), and leaves the rest alone. A record with no
file we can read becomes a metadata-only book (no chapters, a placeholder checksum) that staff can later
give a file; a file the ingest rejects is reported, and its record kept all the same.

Books are committed in batches (batch.py), each book in a savepoint of its own: a book that fails for any
other reason is reported as FAILED and changes nothing, and the rest of its batch is imported. What is
already known of the library is read once, at the start, and each book is indexed for search once, when its
record is complete. Once a batch is committed its new and changed books' chapters are fitted and
sentence-marked for their reading pages (chapter_marks.py), as `import` does for each book: after the record,
whose Calibre language the marks depend on, and in a transaction of their own, so a failure there never
undoes the batch (the pages then compute the content on each visit until `fill-marks` or the worker fills it).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database

from .. import catalogue, chapter_marks, search
from ..i18n import gettext
from ..importer import REBUILT, replace_file
from ..ingest import file_checksum
from ..ingest.errors import N_
from ..ingest.language import chinese_script
from ..ingest.model import IngestedBook
from ..settings import Settings
from .batch import BATCH_BOOKS, Batch
from .library import Library, Record
from .prefetch import Ingested, Prefetch, ingest_record

log = logging.getLogger(__name__)

IMPORTED = "imported"
UPDATED = "updated"
UNCHANGED = "unchanged"
METADATA_ONLY = "metadata-only"
REJECTED = "rejected"  # a file the ingest refused; the record is in the catalogue all the same
FAILED = "failed"  # something else went wrong with this book: nothing of it changed, the others went on
STATUSES = (IMPORTED, UPDATED, UNCHANGED, METADATA_ONLY, REJECTED, FAILED)
_MARKED = (IMPORTED, UPDATED, REJECTED)  # whose chapters' marks are kept; REJECTED may hold older chapters


@dataclass
class SyncResult:
    calibre_id: int
    title: str
    status: str
    book_id: int | None = None
    reasons: list[str] = field(default_factory=list)  # translated: rejected files, refused identifiers


def metadata_only_checksum(library_uuid: str, book_uuid: str) -> str:
    """`books.checksum` must be unique and present; a book without a file gets one that no sha256 can be,
    and the same one on every run, so an interrupted import is recognised when run again."""
    return f"calibre:{library_uuid}:{book_uuid}"


def sync_library(
    db: Database, settings: Settings, library: Library, *, rights: str = "public-domain"
) -> list[SyncResult]:
    return list(sync_records(db, settings, library, rights=rights))


def known_books(db: Database, library_uuid: str) -> dict[str, tuple[int, str, str | None]]:
    """What an earlier run imported from this library, by Calibre uuid: (book id, record hash, file
    checksum). One query instead of one a book; a book deleted here since is not known, so comes back."""
    rows = db.execute(
        "SELECT c.book_uuid, c.book_id, c.metadata_hash, c.file_checksum FROM calibre_books c "
        "JOIN books b ON b.id = c.book_id WHERE c.library_uuid = ?",
        [library_uuid],
    )
    return {book_uuid: (book_id, digest, checksum) for book_uuid, book_id, digest, checksum in rows}


def sync_records(
    db: Database,
    settings: Settings,
    library: Library,
    *,
    rights: str = "public-domain",
    batch_books: int = BATCH_BOOKS,
    worker: bool | None = None,
) -> Iterator[SyncResult]:
    """Every record of `library` into the catalogue, in Calibre's order; each result is yielded once its
    batch is committed, so what it says is true of the catalogue. The files of new records are read one
    batch ahead by a worker process (`worker`; by default when the library is more than one batch and the
    machine has a second core)."""
    known = known_books(db, library.uuid)
    records = library.records
    chunks = [records[i : i + batch_books] for i in range(0, len(records), batch_books)]
    if worker is None:
        worker = len(chunks) > 1 and (os.cpu_count() or 1) > 1
    prefetch = Prefetch(settings, worker=worker)
    batch, done, current = Batch(db, settings), [], []

    def wanted(chunk: list[Record]) -> list[tuple[list[Path], str | None]]:
        return [(record.files, _language_hint(record)) for record in chunk if record.uuid not in known]

    try:
        if chunks:
            prefetch.start(wanted(chunks[0]))
        for number, chunk in enumerate(chunks):
            current = prefetch.take()
            ingested = iter(current)
            if number + 1 < len(chunks):
                prefetch.start(wanted(chunks[number + 1]))
            for record in chunk:
                old = known.get(record.uuid)
                if old is None:
                    done.append(_in_batch(batch, db, library.uuid, record, old, rights, next(ingested)))
                elif _file_changed(record, old[2]):
                    batch.commit()  # a changed file is re-ingested by `importer.replace_file`, which commits
                    yield from done
                    done = [sync_record(db, settings, library.uuid, record, rights=rights)]
                else:
                    done.append(_in_batch(batch, db, library.uuid, record, old, rights, None))
            batch.commit()
            _keep_marks(db, done)
            yield from done
            done = []
    finally:
        batch.rollback()  # only when something escaped: a commit leaves nothing open
        for left in current:
            left.discard()  # copies of records never reached; a taken or discarded one has none
        prefetch.close()


def _in_batch(
    batch: Batch, db, library_uuid: str, record: Record, old, rights: str, ingested: Ingested | None
) -> SyncResult:
    """One record whose file, if known, is unchanged: added or updated inside the batch's transaction."""
    result = SyncResult(record.calibre_id, record.title, UNCHANGED)
    result.reasons = [warning.translated() for warning in record.warnings]
    try:
        with batch.book():
            if old is None:
                _add(db, library_uuid, record, result, rights, batch, ingested)
            else:
                result.book_id, old_hash, checksum = old
                if old_hash != record.metadata_hash():
                    _update_record(db, result.book_id, record)
                    result.status = UPDATED
                    _remember(db, library_uuid, record, result.book_id, checksum)
    except Exception as error:  # one book's failure must not stop the rest of the library
        log.exception("unexpected failure importing Calibre book %s", record.calibre_id)
        detail = f"{type(error).__name__}: {error}"
        result.status, result.book_id = FAILED, (old[0] if old else None)
        result.reasons.append(
            gettext(N_("Not imported, and nothing of it changed: %(detail)s"), detail=detail)
        )
    finally:
        if ingested is not None:
            ingested.discard()  # a copy the batch did not take
    return result


def _keep_marks(db: Database, results: list[SyncResult]) -> None:
    """The reading-page content of the committed books that are new or changed (a changed record may carry
    another language); unchanged books keep their rows, and a book whose file changed was kept by
    `importer.replace_file` already (store_chapters skips a current row either way)."""
    book_ids = sorted({r.book_id for r in results if r.book_id is not None and r.status in _MARKED})
    try:
        chapter_marks.store_books(db, book_ids)
    except Exception:  # noqa: BLE001 - the import stands; the pages compute the content themselves
        log.exception("could not keep the marked chapters of Calibre books %s", book_ids)


def _file_changed(record: Record, old: str | None) -> bool:
    """Whether Calibre has a file for the record and none is the one we read last time."""
    return bool(record.files) and all(file_checksum(path) != old for path in record.files)


def sync_record(
    db: Database, settings: Settings, library_uuid: str, record: Record, *, rights: str = "public-domain"
) -> SyncResult:
    """One record on its own, committed as it goes; the batches use it for a book whose file changed."""
    result = SyncResult(record.calibre_id, record.title, UNCHANGED)
    result.reasons = [warning.translated() for warning in record.warnings]
    known = db.execute(
        "SELECT c.book_id, c.metadata_hash, c.file_checksum FROM calibre_books c JOIN books b "
        "ON b.id = c.book_id WHERE c.library_uuid = ? AND c.book_uuid = ?",
        [library_uuid, record.uuid],
    ).fetchone()
    if known is None:
        batch = Batch(db, settings)
        ingested = ingest_record(settings, record.files, _language_hint(record), False)
        try:
            with batch.book():
                _add(db, library_uuid, record, result, rights, batch, ingested)
            batch.commit()
        finally:
            batch.rollback()
        _keep_marks(db, [result])
    else:
        result.book_id, old_hash, old_checksum = known
        if old_hash != record.metadata_hash():
            update_record(db, result.book_id, record)
            result.status = UPDATED
        checksum = _replace_changed_file(db, settings, record, result, old_checksum)
        with db.conn:
            _remember(db, library_uuid, record, result.book_id, checksum)
    return result


def _language_hint(record: Record) -> str | None:
    """Calibre's language for a plain-text file, unless it is Chinese: the text's own script says
    Simplified or Traditional better than Calibre's bare "zho", and costs little to find."""
    if record.languages and record.languages[0].split("-")[0] != "zh":
        return record.languages[0]
    return None


def _add(
    db, library_uuid: str, record: Record, result: SyncResult, rights: str, batch: Batch, ingested: Ingested
) -> None:
    book, checksum, path = ingested.book, ingested.checksum, ingested.path
    if ingested.problems:
        result.status = REJECTED
        result.reasons += ingested.reasons()
    if book is None:
        book = IngestedBook(record.title, None, metadata_only_checksum(library_uuid, record.uuid), None)
    book.rights = rights
    _overlay(book, record)
    source_path = batch.keep_source(path, checksum, ingested.copy) if path else None
    ingested.copy = None  # the batch's now, or removed
    try:
        result.book_id = catalogue.insert_book(db, book, source_path=source_path, index=False)
        result.status = IMPORTED if checksum else (REJECTED if result.status == REJECTED else METADATA_ONLY)
    except catalogue.DuplicateBook as duplicate:  # the same file imported before, by `import` or a crash
        result.book_id, result.status = duplicate.book_id, UPDATED
    new = result.status != UPDATED
    _update_record(db, result.book_id, record, new=new, chapter_texts=ingested.search_texts if new else None)
    _remember(db, library_uuid, record, result.book_id, checksum)


def _replace_changed_file(db, settings, record: Record, result: SyncResult, old: str | None) -> str | None:
    """Re-ingest when Calibre's file is not the one we read last time; the checksum we now hold."""
    if not record.files:
        return old
    for path in record.files:
        if file_checksum(path) == old:
            return old
    for path in record.files:
        replaced = replace_file(db, settings, result.book_id, path, shown=path.name)
        if replaced.status == REBUILT:
            result.status = UPDATED
            return file_checksum(path)
        result.reasons.append(f"{path.name}: {replaced.reason}")
    result.status = REJECTED
    return old


def _language(record: Record, known: str | None, sample: str) -> str | None:
    """Calibre's first language, made as specific as what we know: the file's own tag when it is the same
    language (its zh-Hant is better than Calibre's bare "zho"), else the script of Chinese text."""
    if not record.languages:
        return known
    wanted = record.languages[0]
    primary = wanted.split("-")[0]
    if known and known.split("-")[0] == primary:
        return known
    if primary == "zh":
        return chinese_script(sample) or wanted
    return wanted


def _overlay(book: IngestedBook, record: Record) -> None:
    """Calibre's record over the file's own metadata, wherever Calibre has something to say."""
    if record.title != book.title:
        book.subtitle = None  # the file's subtitle belongs to the file's title
    book.title = record.title
    if record.authors:
        book.authors = [name for name, _ in record.authors]
    book.language = _language(record, book.language, record.title + (record.description or ""))
    book.subjects = record.subjects or book.subjects
    book.identifiers = record.identifiers or book.identifiers
    book.description = record.description or book.description
    book.publisher = record.publisher or book.publisher
    book.date = record.date or book.date


def update_record(db: Database, book_id: int, record: Record) -> None:
    """Calibre's record into our book, in one transaction, and the book indexed again."""
    with db.conn:
        _update_record(db, book_id, record)


def _update_record(
    db: Database, book_id: int, record: Record, *, new: bool = False, chapter_texts: list | None = None
) -> None:
    """Calibre's record into our book inside the caller's transaction, and the book indexed again (`new`:
    for the first time). Fields Calibre leaves empty keep what we have (the file's own, or what staff
    typed)."""
    language, title = db.execute("SELECT language, title FROM books WHERE id = ?", [book_id]).fetchone()
    sample = record.title + (record.description or "")
    db.execute(
        "UPDATE books SET title = ?, language = ?, description = coalesce(?, description), "
        "publisher = coalesce(?, publisher), date = coalesce(?, date), author_sort = ?, series = ?, "
        "series_index = ?, subtitle = CASE WHEN title = ? THEN subtitle END WHERE id = ?",
        [record.title, _language(record, language, sample), record.description, record.publisher,
         record.date, record.author_sort, record.series, record.series_index, record.title, book_id],
    )  # fmt: skip
    if record.authors:
        db.execute("DELETE FROM book_authors WHERE book_id = ?", [book_id])
        db.conn.executemany(
            "INSERT INTO book_authors (book_id, position, name, role, sort) VALUES (?, ?, ?, ?, ?)",
            [(book_id, i, name, "author", sort) for i, (name, sort) in enumerate(record.authors)],
        )
    if record.subjects:
        db.execute("DELETE FROM book_subjects WHERE book_id = ?", [book_id])
        db.conn.executemany(
            "INSERT OR IGNORE INTO book_subjects (book_id, subject) VALUES (?, ?)",
            [(book_id, subject) for subject in record.subjects],
        )
    if record.identifiers:
        db.execute("DELETE FROM book_identifiers WHERE book_id = ?", [book_id])
        db.conn.executemany(
            "INSERT OR IGNORE INTO book_identifiers (book_id, scheme, value) VALUES (?, ?, ?)",
            [(book_id, scheme, value) for scheme, value in record.identifiers],
        )
    search.index_book(db, book_id, new=new, chapter_texts=chapter_texts)


def _remember(db: Database, library_uuid: str, record: Record, book_id: int, checksum: str | None) -> None:
    db.execute(
        """INSERT INTO calibre_books (library_uuid, book_uuid, book_id, metadata_hash, file_checksum,
               calibre_added_at, calibre_modified_at, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (library_uuid, book_uuid) DO UPDATE SET book_id = excluded.book_id,
               metadata_hash = excluded.metadata_hash, file_checksum = excluded.file_checksum,
               calibre_added_at = excluded.calibre_added_at,
               calibre_modified_at = excluded.calibre_modified_at, imported_at = excluded.imported_at""",
        [library_uuid, record.uuid, book_id, record.metadata_hash(), checksum, record.added_at,
         record.modified_at, datetime.now(UTC).isoformat(timespec="seconds")],
    )  # fmt: skip
