"""Reading a Calibre library (its metadata.db and book folders) without ever changing it.

metadata.db is opened read-only through an SQLite URI (immutable when the folder itself is read-only), so
a running Calibre, or a library on a read-only disk, is never touched. What a record says is turned into
our vocabulary here: ISO 639-2/3 languages become BCP 47 tags, ISBNs are checked, the HTML comment is
sanitised and reduced to text, Calibre's placeholders ("Unknown" author, the year-101 "no date") dropped.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from lxml import etree
from lxml import html as lxml_html

from ..i18n import TranslatableError
from ..ingest.allow_list import allow_listed
from ..ingest.errors import N_
from ..ingest.language import normalise_language_tag
from ..ingest.plain_text import plain_text

# Formats we can ingest, best first: an EPUB keeps headings, notes and languages that plain text lost.
FORMATS = ("EPUB", "TXT")
# Calibre's author when none was given, in the languages our librarians use.
_NO_AUTHOR = {"unknown", "未知", "未知作者"}
_REQUIRED_TABLES = {"books", "authors", "books_authors_link", "data", "library_id"}


class CalibreError(TranslatableError):
    """The path is not a Calibre library we can read: nothing is imported."""


def valid_isbn(value: str) -> str | None:
    """The ISBN-10 or ISBN-13 in `value` without hyphens or spaces, or None when its check digit is wrong.

    Kept small and self-contained so it can be merged with the identifiers code's own ISBN check."""
    compact = re.sub(r"[\s-]", "", value or "").upper()
    if compact.startswith("ISBN:"):
        compact = compact[5:]
    if re.fullmatch(r"\d{9}[\dX]", compact):
        digits = [10 if c == "X" else int(c) for c in compact]
        return compact if sum((10 - i) * d for i, d in enumerate(digits)) % 11 == 0 else None
    if re.fullmatch(r"97[89]\d{10}", compact):
        return compact if sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(compact)) % 10 == 0 else None
    return None


@dataclass
class Record:
    """One Calibre book, in our vocabulary."""

    calibre_id: int
    uuid: str
    title: str
    authors: list[tuple[str, str | None]] = field(default_factory=list)  # (name, sort)
    author_sort: str | None = None
    series: str | None = None
    series_index: float | None = None
    subjects: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)  # BCP 47, Calibre's order
    identifiers: list[tuple[str, str]] = field(default_factory=list)
    description: str | None = None
    publisher: str | None = None
    date: str | None = None
    added_at: str | None = None
    modified_at: str | None = None
    files: list[Path] = field(default_factory=list)  # ingestible files inside the library, best first
    warnings: list[TranslatableError] = field(default_factory=list)

    def metadata_hash(self) -> str:
        """Changes when anything we import from the record changes (not Calibre's own timestamps)."""
        fields = [self.title, self.authors, self.author_sort, self.series, self.series_index, self.subjects,
                  self.languages, self.identifiers, self.description, self.publisher, self.date]  # fmt: skip
        return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode()).hexdigest()


@dataclass
class Library:
    root: Path
    uuid: str
    records: list[Record]


def open_readonly(database: Path) -> sqlite3.Connection:
    """metadata.db opened so that nothing can write to it; `immutable` when the folder is read-only."""
    uri = f"file:{quote(str(database.resolve()))}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        conn = sqlite3.connect(uri + "&immutable=1", uri=True)
    return conn


def read_library(path: Path) -> Library:
    """Every record of the Calibre library at `path`; CalibreError when it is not one we can read."""
    path = Path(path)
    if path.name == "metadata.db" and path.is_file():
        path = path.parent  # the librarian pointed at the database itself
    if not path.is_dir():
        raise CalibreError(N_("%(path)s is not a folder: give the folder of a Calibre library."), path=path)
    database = path / "metadata.db"
    if not database.is_file():
        raise CalibreError(N_("%(path)s is not a Calibre library: it has no metadata.db file."), path=path)
    try:
        conn = open_readonly(database)
        try:
            return _read(conn, path.resolve())
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        raise CalibreError(
            N_("The Calibre library's metadata.db cannot be read: %(detail)s"), detail=str(error)
        ) from None


def _read(conn: sqlite3.Connection, root: Path) -> Library:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not _REQUIRED_TABLES <= tables:
        message = N_("%(path)s is not a Calibre library: its metadata.db has no books table.")
        raise CalibreError(message, path=root)
    row = conn.execute("SELECT uuid FROM library_id").fetchone()
    if row is None or not row[0]:
        raise CalibreError(N_("The Calibre library has no library id in its metadata.db."))
    records = []
    for calibre_id, title, pubdate, index, author_sort, isbn, folder, uuid, added, modified in conn.execute(
        "SELECT id, title, pubdate, series_index, author_sort, isbn, path, uuid, timestamp, last_modified "
        "FROM books ORDER BY id"
    ).fetchall():
        record = Record(calibre_id, uuid or f"id-{calibre_id}", (title or "").strip() or "Unknown")
        record.added_at, record.modified_at = _iso(added), _iso(modified)
        record.date = _date(pubdate)
        _fill(conn, record, tables, index, author_sort, isbn)
        record.files = _files(conn, record, root, folder or "")
        records.append(record)
    return Library(root, row[0], records)


def _fill(conn, record: Record, tables: set[str], index, author_sort, isbn) -> None:
    def values(sql: str) -> list:
        return conn.execute(sql, [record.calibre_id]).fetchall()

    record.authors = [
        (name.strip(), (sort or "").strip() or None)
        for name, sort in values(
            "SELECT a.name, a.sort FROM books_authors_link l JOIN authors a ON a.id = l.author "
            "WHERE l.book = ? ORDER BY l.id"
        )
        if name and name.strip().lower() not in _NO_AUTHOR
    ]
    if record.authors:
        record.author_sort = (author_sort or "").strip() or None
    if {"series", "books_series_link"} <= tables:
        series = values(
            "SELECT s.name FROM books_series_link l JOIN series s ON s.id = l.series WHERE l.book = ?"
        )
        if series:
            record.series, record.series_index = series[0][0], float(index if index is not None else 1.0)
    if {"tags", "books_tags_link"} <= tables:
        record.subjects = sorted(
            name.strip()
            for (name,) in values(
                "SELECT t.name FROM books_tags_link l JOIN tags t ON t.id = l.tag WHERE l.book = ?"
            )
            if name and name.strip()
        )
    if {"languages", "books_languages_link"} <= tables:
        for (code,) in values(
            "SELECT g.lang_code FROM books_languages_link l JOIN languages g ON g.id = l.lang_code "
            "WHERE l.book = ? ORDER BY l.item_order, l.id"
        ):
            tag = normalise_language_tag(code)
            if tag and tag not in record.languages:
                record.languages.append(tag)
    if {"publishers", "books_publishers_link"} <= tables:
        found = values(
            "SELECT p.name FROM books_publishers_link l JOIN publishers p ON p.id = l.publisher "
            "WHERE l.book = ?"
        )
        record.publisher = (found[0][0] or "").strip() or None if found else None
    if "comments" in tables:
        found = values("SELECT text FROM comments WHERE book = ?")
        record.description = comment_text(found[0][0]) if found else None
    pairs = []
    if "identifiers" in tables:
        pairs = values("SELECT type, val FROM identifiers WHERE book = ? ORDER BY type")
    if isbn and not any((kind or "").lower() == "isbn" for kind, _ in pairs):
        pairs.append(("isbn", isbn))  # libraries made by old Calibre versions
    for kind, value in pairs:
        scheme, value = (kind or "").strip().lower() or "other", (value or "").strip()
        if not value:
            continue
        if scheme == "isbn":
            checked = valid_isbn(value)
            if checked is None:
                record.warnings.append(TranslatableError(
                    N_("ISBN %(isbn)s has a wrong check digit and was not imported; correct it in Calibre."),
                    isbn=value,
                ))  # fmt: skip
                continue
            value = checked
        if (scheme, value) not in record.identifiers:
            record.identifiers.append((scheme, value))


def comment_text(markup: str | None) -> str | None:
    """Calibre's comment is HTML typed by anyone: through our sanitiser, then to plain paragraphs."""
    if not markup or not markup.strip():
        return None
    cleaned = allow_listed(markup)
    try:
        fragment = lxml_html.fragment_fromstring(cleaned, create_parent="div")
    except (etree.ParserError, ValueError):
        return None
    return plain_text(fragment) or None


def _files(conn, record: Record, root: Path, folder: str) -> list[Path]:
    """The record's EPUB and TXT files that exist inside the library, best first.

    A path that leads outside the library (`..`, an absolute path, a symbolic link) is refused with a
    warning: metadata.db is data from elsewhere, not a list of files we may read."""
    found = {}
    for fmt, name in conn.execute("SELECT format, name FROM data WHERE book = ?", [record.calibre_id]):
        fmt = (fmt or "").upper()
        if fmt not in FORMATS or not name:
            continue
        candidate = root / folder / f"{name}.{fmt.lower()}"
        try:
            resolved = candidate.resolve()
        except (OSError, RuntimeError):
            resolved = None
        if resolved is None or not resolved.is_relative_to(root):
            record.warnings.append(TranslatableError(
                N_("The %(format)s file is outside the Calibre library and was not read."), format=fmt
            ))  # fmt: skip
        elif not resolved.is_file():
            record.warnings.append(TranslatableError(
                N_("The %(format)s file listed by Calibre is missing: %(path)s"), format=fmt, path=candidate
            ))  # fmt: skip
        else:
            found[fmt] = resolved
    return [found[fmt] for fmt in FORMATS if fmt in found]


def _iso(value: str | None) -> str | None:
    return value.replace(" ", "T", 1) if value else None


def _date(value: str | None) -> str | None:
    """Calibre's publication date as YYYY-MM-DD; its "no date" (the year 101) and junk give None."""
    match = re.match(r"(\d{4})-(\d{2})-(\d{2})", value or "")
    if not match or int(match.group(1)) <= 101:
        return None
    return match.group(0)
