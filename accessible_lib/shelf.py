"""The reader's shelf: favourites, bookmarks, where they are in each book, and what they downloaded.

Why on the server: a reader who listens on the phone on the bus and reads on the computer at home expects to
continue where they stopped, and a blind reader who finds a book again through a screen reader should not
have to search the contents for the place. The browser's own storage (the player's localStorage) stays for
visitors who have not signed in.

Every function takes the reader's id and touches only that reader's rows: one reader's shelf is never
visible to another, nor counted into anything shown to others. The last reading position per book is also
the reading history (newest first), so clearing the history also forgets the positions.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from sqlite_utils import Database

MAX_NOTE_CHARS = 1000
MAX_BOOKMARKS_PER_BOOK = 500  # a reader bookmarking more is a script; the shelf page must stay usable
HISTORY_LIMIT = 200
DOWNLOADS_LIMIT = 200
MAX_AUDIO_SECONDS = 48 * 3600.0


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _rows(db: Database, sql: str, params: list) -> list[dict]:
    cursor = db.execute(sql, params)
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


# --- Favourites ---


def is_favourite(db: Database, reader_id: int, book_id: int) -> bool:
    row = db.execute(
        "SELECT 1 FROM shelf_favourites WHERE reader_id = ? AND book_id = ?", [reader_id, book_id]
    ).fetchone()
    return row is not None


def set_favourite(db: Database, reader_id: int, book_id: int, favourite: bool) -> None:
    with db.conn:
        if favourite:
            db.execute(
                "INSERT OR IGNORE INTO shelf_favourites (reader_id, book_id, added_at) VALUES (?, ?, ?)",
                [reader_id, book_id, _now()],
            )
        else:
            db.execute(
                "DELETE FROM shelf_favourites WHERE reader_id = ? AND book_id = ?", [reader_id, book_id]
            )


def favourites(db: Database, reader_id: int) -> list[dict]:
    return _rows(
        db,
        "SELECT b.id AS book_id, b.title, b.language, f.added_at FROM shelf_favourites f "
        "JOIN books b ON b.id = f.book_id WHERE f.reader_id = ? ORDER BY f.added_at DESC",
        [reader_id],
    )


# --- Bookmarks ---


def clean_note(note: str | None) -> str | None:
    """The note as kept: its own line breaks, no control characters, at most MAX_NOTE_CHARS (the form says
    so before it is cut: see web/shelf.py)."""
    if not note:
        return None
    text = "".join(c for c in note.replace("\r\n", "\n") if c == "\n" or c >= " ").strip()
    return text[:MAX_NOTE_CHARS] or None


def bookmark_count(db: Database, reader_id: int, book_id: int) -> int:
    return db.execute(
        "SELECT count(*) FROM shelf_bookmarks WHERE reader_id = ? AND book_id = ?", [reader_id, book_id]
    ).fetchone()[0]


def add_bookmark(
    db: Database,
    reader_id: int,
    book_id: int,
    *,
    chapter: int | None = None,
    paragraph: int | None = None,
    audio_chapter: int | None = None,
    audio_seconds: float | None = None,
    note: str | None = None,
) -> int:
    """A reading bookmark (chapter, and paragraph or the whole chapter) or a listening one (audio chapter
    and time). The same place bookmarked again keeps one bookmark, with the newer note when one is given."""
    if (chapter is None) == (audio_chapter is None):
        raise ValueError("a bookmark is either in the text or in the audio")
    if audio_seconds is not None:
        audio_seconds = round(audio_seconds, 1)
    note = clean_note(note)
    with db.conn:
        row = db.execute(
            "SELECT id FROM shelf_bookmarks WHERE reader_id = ? AND book_id = ? AND chapter IS ? "
            "AND paragraph IS ? AND audio_chapter IS ? AND audio_seconds IS ?",
            [reader_id, book_id, chapter, paragraph, audio_chapter, audio_seconds],
        ).fetchone()
        if row:
            if note:
                db.execute("UPDATE shelf_bookmarks SET note = ? WHERE id = ?", [note, row[0]])
            return row[0]
        cursor = db.execute(
            "INSERT INTO shelf_bookmarks (reader_id, book_id, chapter, paragraph, audio_chapter, "
            "audio_seconds, note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [reader_id, book_id, chapter, paragraph, audio_chapter, audio_seconds, note, _now()],
        )
        return cursor.lastrowid


def delete_bookmark(db: Database, reader_id: int, bookmark_id: int) -> bool:
    with db.conn:
        cursor = db.execute(
            "DELETE FROM shelf_bookmarks WHERE id = ? AND reader_id = ?", [bookmark_id, reader_id]
        )
    return cursor.rowcount == 1


_BOOKMARK_SQL = (
    "SELECT m.id, m.book_id, b.title, b.language, m.chapter, c.title AS chapter_title, m.paragraph, "
    "m.audio_chapter, m.audio_seconds, m.note, m.created_at FROM shelf_bookmarks m "
    "JOIN books b ON b.id = m.book_id "
    "LEFT JOIN chapters c ON c.book_id = m.book_id AND c.position = m.chapter WHERE m.reader_id = ?"
)


def bookmarks(db: Database, reader_id: int, book_id: int | None = None) -> list[dict]:
    """The reader's bookmarks, a book's in reading order, all of them by book and then reading order."""
    sql, params = _BOOKMARK_SQL, [reader_id]
    if book_id is not None:
        sql += " AND m.book_id = ?"
        params.append(book_id)
    order = " ORDER BY b.title COLLATE NOCASE, m.book_id, m.audio_chapter IS NOT NULL, m.chapter, "
    order += "coalesce(m.paragraph, 0), m.audio_chapter, m.audio_seconds"
    return _rows(db, sql + order, params)


def chapter_bookmarks(db: Database, reader_id: int, book_id: int, chapter: int) -> list[dict]:
    return _rows(
        db,
        "SELECT id, paragraph, note FROM shelf_bookmarks WHERE reader_id = ? AND book_id = ? AND chapter = ? "
        "ORDER BY coalesce(paragraph, 0)",
        [reader_id, book_id, chapter],
    )


# --- Reading: the last position per book, and so the history ---


def record_reading(db: Database, reader_id: int, book_id: int, chapter: int, paragraph: int | None) -> None:
    """Where the reader is now. A visit to a chapter page gives the chapter; the page's script, when it
    runs, the paragraph at the top of the screen."""
    now = _now()
    with db.conn:
        db.execute(
            "INSERT INTO shelf_reading (reader_id, book_id, chapter, paragraph, first_read_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (reader_id, book_id) DO UPDATE SET "
            "chapter = excluded.chapter, paragraph = excluded.paragraph, updated_at = excluded.updated_at",
            [reader_id, book_id, chapter, paragraph, now, now],
        )


def record_visit(db: Database, reader_id: int, book_id: int, chapter: int) -> None:
    """A chapter page was opened: the reader is in this chapter. Back in the chapter they were in, the
    paragraph they had reached is kept (the "Continue reading" link led here, to it)."""
    now = _now()
    with db.conn:
        db.execute(
            "INSERT INTO shelf_reading (reader_id, book_id, chapter, paragraph, first_read_at, updated_at) "
            "VALUES (?, ?, ?, NULL, ?, ?) ON CONFLICT (reader_id, book_id) DO UPDATE SET "
            "paragraph = CASE WHEN chapter = excluded.chapter THEN paragraph END, "
            "chapter = excluded.chapter, updated_at = excluded.updated_at",
            [reader_id, book_id, chapter, now, now],
        )


def reading_position(db: Database, reader_id: int, book_id: int) -> dict | None:
    found = _reading(db, reader_id, " AND r.book_id = ?", [book_id], 1)
    return found[0] if found else None


def reading_history(db: Database, reader_id: int, limit: int = HISTORY_LIMIT) -> list[dict]:
    """Books the reader has read, the most recent first, each with where they stopped."""
    return _reading(db, reader_id, "", [], limit)


def _reading(db: Database, reader_id: int, where: str, params: list, limit: int) -> list[dict]:
    return _rows(
        db,
        "SELECT r.book_id, b.title, b.language, r.chapter, c.title AS chapter_title, r.paragraph, "
        "r.first_read_at, r.updated_at, b.chapter_count FROM shelf_reading r "
        "JOIN books b ON b.id = r.book_id "
        "LEFT JOIN chapters c ON c.book_id = r.book_id AND c.position = r.chapter "
        f"WHERE r.reader_id = ?{where} ORDER BY r.updated_at DESC LIMIT ?",
        [reader_id, *params, limit],
    )


def forget_reading(db: Database, reader_id: int, book_id: int | None = None) -> int:
    """Remove one book, or every book, from the reader's history (and so its place to continue)."""
    with db.conn:
        if book_id is None:
            cursor = db.execute("DELETE FROM shelf_reading WHERE reader_id = ?", [reader_id])
        else:
            cursor = db.execute(
                "DELETE FROM shelf_reading WHERE reader_id = ? AND book_id = ?", [reader_id, book_id]
            )
    return cursor.rowcount


# --- Listening ---


def check_listening(chapter: object, seconds: object, rate: object) -> tuple[int, float, float]:
    """The player's report made safe: a chapter number from 1, a time within two days, a speed the player
    offers (0.5-4). ValueError for anything else."""
    if isinstance(chapter, bool) or not isinstance(chapter, int) or not 1 <= chapter <= 100_000:
        raise ValueError("chapter")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds):
        raise ValueError("seconds")
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.5 <= rate <= 4:
        raise ValueError("rate")
    return chapter, min(max(float(seconds), 0.0), MAX_AUDIO_SECONDS), float(rate)


def record_listening(
    db: Database,
    reader_id: int,
    book_id: int,
    edition_id: int | None,
    chapter: int,
    seconds: float,
    rate: float,
) -> None:
    with db.conn:
        db.execute(
            "INSERT INTO shelf_listening (reader_id, book_id, edition_id, chapter, seconds, rate, "
            "updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (reader_id, book_id) DO UPDATE SET "
            "edition_id = excluded.edition_id, chapter = excluded.chapter, seconds = excluded.seconds, "
            "rate = excluded.rate, updated_at = excluded.updated_at",
            [reader_id, book_id, edition_id, chapter, round(seconds, 1), rate, _now()],
        )


def listening_position(db: Database, reader_id: int, book_id: int) -> dict | None:
    found = _listening(db, reader_id, " AND l.book_id = ?", [book_id], 1)
    return found[0] if found else None


def recent_listening(db: Database, reader_id: int, limit: int = HISTORY_LIMIT) -> list[dict]:
    return _listening(db, reader_id, "", [], limit)


def _listening(db: Database, reader_id: int, where: str, params: list, limit: int) -> list[dict]:
    return _rows(
        db,
        "SELECT l.book_id, b.title, b.language, l.edition_id, l.chapter, l.seconds, l.rate, l.updated_at "
        "FROM shelf_listening l JOIN books b ON b.id = l.book_id "
        f"WHERE l.reader_id = ?{where} ORDER BY l.updated_at DESC LIMIT ?",
        [reader_id, *params, limit],
    )


def forget_listening(db: Database, reader_id: int, book_id: int | None = None) -> int:
    with db.conn:
        if book_id is None:
            cursor = db.execute("DELETE FROM shelf_listening WHERE reader_id = ?", [reader_id])
        else:
            cursor = db.execute(
                "DELETE FROM shelf_listening WHERE reader_id = ? AND book_id = ?", [reader_id, book_id]
            )
    return cursor.rowcount


# --- Downloads ---


def record_download(
    db: Database, reader_id: int, book_id: int, edition_id: int, format: str, file_name: str
) -> None:
    with db.conn:
        db.execute(
            "INSERT INTO shelf_downloads (reader_id, book_id, edition_id, format, file_name, downloaded_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [reader_id, book_id, edition_id, format, file_name, _now()],
        )


def downloads(db: Database, reader_id: int, limit: int = DOWNLOADS_LIMIT) -> list[dict]:
    return _rows(
        db,
        "SELECT d.id, d.book_id, b.title, b.language, d.edition_id, d.format, d.file_name, d.downloaded_at "
        "FROM shelf_downloads d JOIN books b ON b.id = d.book_id WHERE d.reader_id = ? "
        "ORDER BY d.downloaded_at DESC, d.id DESC LIMIT ?",
        [reader_id, limit],
    )


def forget_downloads(db: Database, reader_id: int) -> int:
    with db.conn:
        return db.execute("DELETE FROM shelf_downloads WHERE reader_id = ?", [reader_id]).rowcount


# --- For the account's data export and deletion (issue 11, part 2) ---


def export_reader(db: Database, reader_id: int) -> dict:
    """Everything the shelf keeps about one reader, as JSON-ready data."""
    return {
        "favourites": favourites(db, reader_id),
        "bookmarks": bookmarks(db, reader_id),
        "reading": reading_history(db, reader_id, limit=-1),
        "listening": recent_listening(db, reader_id, limit=-1),
        "downloads": downloads(db, reader_id, limit=-1),
    }


def delete_reader(db: Database, reader_id: int) -> None:
    """Forget one reader's shelf (deleting the reader row does it too, through ON DELETE CASCADE)."""
    with db.conn:
        for table in (
            "shelf_favourites",
            "shelf_bookmarks",
            "shelf_reading",
            "shelf_listening",
            "shelf_downloads",
        ):
            db.execute(f"DELETE FROM {table} WHERE reader_id = ?", [reader_id])
