"""A whole book as one JSON-serialisable dict: what a converter reads.

A worker on another machine gets this in its task instead of opening the catalogue, so the catalogue keeps a
single writer and converters never need SQLite. Files given to `accessible-lib convert` that are not in the
catalogue are exported from their in-memory ingestion in the same shape, so converters see no difference.

Shape (version 1):
    id (book id or None), title, subtitle, authors [str], language, description, publisher, date, rights,
    subjects [str], identifiers [[scheme, value]] (what the file says),
    identifier (the book's persistent identifier, accessible_lib/identifiers.py; None outside the catalogue),
    edition_identifier (added for one edition by the queue's payload or by runner.run_conversion),
    chapters [{title, level, lang, html, text, kind}] in reading order, back matter (kind "back": Project
        Gutenberg's header and licence) last; in `html`, `chapter:N#id` links name the 0-based index into
        this list and `resource:NAME` image sources name a resource,
    toc [{title, level, chapter_index (0-based), fragment}],
    resources [{name, media_type, data (base64)}],
    pronunciations [{lang, written, reading, kind, whole_word, case_sensitive}]: the dictionary entries that
        apply to this book (accessible_lib/pronunciations.py); None (a file converted without the
        catalogue): the starter readings only.
"""

from __future__ import annotations

import base64
import dataclasses
import uuid

from sqlite_utils import Database

from .. import catalogue, identifiers, pronunciations
from ..ingest.model import IngestedBook

EXPORT_VERSION = 1


def export_book(db: Database, book_id: int) -> dict:
    """The catalogue's book `book_id`; KeyError when there is none."""
    book = catalogue.get_book(db, book_id)
    if book is None:
        raise KeyError(book_id)
    chapters = [
        {"title": r[0], "level": r[1], "lang": r[2], "html": r[3] or "", "text": r[4] or "", "kind": r[5]}
        for r in db.execute(
            "SELECT title, level, lang, html, text, kind FROM chapters WHERE book_id = ? ORDER BY position",
            [book_id],
        )
    ]
    resources = [
        {"name": r[0], "media_type": r[1], "data": _b64(r[2])}
        for r in db.execute(
            "SELECT name, media_type, data FROM resources WHERE book_id = ? ORDER BY id", [book_id]
        )
    ]
    return {
        "version": EXPORT_VERSION,
        "id": book["id"],
        "title": book["title"],
        "subtitle": book["subtitle"],
        "authors": book["authors"],
        "language": book["language"],
        "description": book["description"],
        "publisher": book["publisher"],
        "date": book["date"],
        "rights": book["rights"],
        "subjects": book["subjects"],
        "identifiers": [[i["scheme"], i["value"]] for i in book["identifiers"]],
        "identifier": book.get("identifier"),
        "chapters": chapters,
        "toc": [
            {
                "title": entry["title"],
                "level": entry["level"],
                "chapter_index": entry["chapter_position"] - 1,
                "fragment": entry["fragment"],
            }
            for entry in book["toc"]
        ],
        "resources": resources,
        "pronunciations": [dataclasses.asdict(e) for e in pronunciations.lexicon_for(db, book_id).entries],
    }


def export_ingested(book: IngestedBook) -> dict:
    """A book read from a file but not stored: the same shape as export_book, with no id."""
    return {
        "version": EXPORT_VERSION,
        "id": None,
        "title": book.title,
        "subtitle": book.subtitle,
        "authors": list(book.authors),
        "language": book.language,
        "description": book.description,
        "publisher": book.publisher,
        "date": book.date,
        "rights": book.rights,
        "subjects": list(book.subjects),
        "identifiers": [[scheme, value] for scheme, value in book.identifiers],
        "identifier": identifiers.from_source(book.identifiers),
        "chapters": [
            {
                "title": c.title,
                "level": c.level,
                "lang": c.lang,
                "html": c.html,
                "text": c.text,
                "kind": c.kind,
            }
            for c in book.chapters
        ],
        "toc": [
            {"title": e.title, "level": e.level, "chapter_index": e.chapter_index, "fragment": e.fragment}
            for e in book.toc
        ],
        "resources": [
            {"name": r.name, "media_type": r.media_type, "data": _b64(r.data)} for r in book.resources
        ],
        # No catalogue, so no dictionary of its own: None keeps the starter readings (runner.book_lexicon).
        "pronunciations": None,
    }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def book_identifier(book: dict) -> str:
    """The book's persistent identifier (see accessible_lib/identifiers.py). A book exported before
    identifiers existed, or converted from a file outside the catalogue without a valid ISBN or UUID, gets a
    UUID that stays the same for the same book (id, title, authors), so a rebuilt edition keeps it."""
    if book.get("identifier"):
        return book["identifier"]
    found = identifiers.from_source(book.get("identifiers") or [])
    if found:
        return found
    seed = "|".join([str(book.get("id")), book["title"], *(book.get("authors") or [])])
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'accessible-lib:' + seed)}"


def edition_identifier(book: dict) -> str:
    """What an edition calls itself in its metadata: its own identifier, given with the book by the queue
    or by runner.run_conversion; the book's when a caller gave none."""
    return book.get("edition_identifier") or book_identifier(book)


def source_identifier(book: dict) -> str | None:
    """The book's identifier, written beside the edition's as the source it was made from (dc:source);
    None when the edition has no identifier of its own (they would be the same)."""
    source = book_identifier(book)
    return source if source != edition_identifier(book) else None
