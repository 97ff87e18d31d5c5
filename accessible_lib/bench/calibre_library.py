"""A synthetic Calibre library for the Calibre-Web benchmark: Calibre's own schema, one TXT file per book.

Calibre 6.13's metadata.db (tests/corpus/calibre-library) is copied and emptied, so every table, trigger
and preference is the one Calibre writes, and the books are cut from the real texts as the search
benchmark cuts them (bench/search.synthetic_book). Both `accessible-lib import-calibre` and Calibre-Web read
the same library.
"""

from __future__ import annotations

import random
import re
import shutil
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ..settings import CHECKOUT
from .search import synthetic_book

TEMPLATE = CHECKOUT / "tests" / "corpus" / "calibre-library" / "metadata.db"
TEXTS = CHECKOUT / "tests" / "corpus" / "text"
# Calibre's languages are ISO 639-2 codes; its tables hold what calibre 6.13 writes.
LANGUAGES = {"en": "eng", "zh-Hans": "zho", "zh-Hant": "zho"}
# Rows of the template that are its seven books; the rest (preferences, Calibre's FTS bookkeeping) is kept.
BOOK_TABLES = ("books_authors_link", "books_languages_link", "books_publishers_link", "books_ratings_link",
               "books_series_link", "books_tags_link", "comments", "data", "identifiers", "metadata_dirtied",
               "authors", "languages", "publishers", "ratings", "series", "tags", "books")  # fmt: skip
ARTICLES = re.compile(r"^(A|The|An)\s+", re.IGNORECASE)


def title_sort(title: str | None) -> str:
    """Calibre's default title sort for English: a leading article moves to the end ("Raven, The")."""
    title = title or ""
    match = ARTICLES.match(title)
    return f"{title[match.end() :]}, {match.group(1)}" if match else title


def author_sort(name: str) -> str:
    """Calibre's default author sort: "Mary Shelley" is "Shelley, Mary"; a Chinese name stays as it is."""
    parts = name.split()
    return f"{parts[-1]}, {' '.join(parts[:-1])}" if len(parts) > 1 else name


def _folder_name(text: str, fallback: str) -> str:
    """Calibre keeps folder names ASCII; a name with no Latin letters gets a fallback."""
    cleaned = " ".join(re.sub(r"[^A-Za-z0-9 ]+", " ", text).split())[:60]
    return cleaned or fallback


def _corpus() -> dict[str, list[str]]:
    """The real texts the search benchmark cuts its books from (War and Peace kept out, as there)."""
    texts: dict[str, list[str]] = {"zh": [], "en": []}
    for language in texts:
        for path in sorted((TEXTS / language).glob("*.txt")):
            if path.name != "war-and-peace.txt":
                texts[language].append(path.read_text(encoding="utf-8", errors="replace"))
    return texts


def _calibre_connection(path: Path) -> sqlite3.Connection:
    """metadata.db with the SQL functions Calibre's triggers and views call."""
    conn = sqlite3.connect(path)
    conn.create_function("title_sort", 1, title_sort)
    conn.create_function("uuid4", 0, lambda: str(uuid.uuid4()))
    conn.create_function("books_list_filter", 1, lambda book: 1)
    return conn


def generate_library(
    root: Path, books: int, *, seed: int = 1, pause: Callable[[], bool] = lambda: False
) -> dict:
    """A Calibre library of `books` books at `root`: Calibre's schema, one TXT file per book.

    Calibre 6.13's own metadata.db is copied and emptied of its seven books, so every table, index, trigger,
    view and preference is Calibre's; the books go in through its triggers (title sort, uuid). While `pause`
    says so (another benchmark being timed on a shared machine) the writing waits."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    database = root / "metadata.db"
    shutil.copyfile(TEMPLATE, database)
    conn = _calibre_connection(database)
    with conn:
        for table in BOOK_TABLES:
            conn.execute(f"DELETE FROM {table}")
        conn.execute("DELETE FROM sqlite_sequence WHERE name = 'books'")
        conn.execute(
            "UPDATE library_id SET uuid = ?", [str(uuid.UUID(int=random.Random(seed).getrandbits(128)))]
        )
    conn.execute("VACUUM")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    rng = random.Random(seed)
    texts = _corpus()
    ids: dict[str, dict[str, int]] = {"authors": {}, "tags": {}, "languages": {}, "series": {}}
    added = datetime(2020, 1, 1, tzinfo=UTC)
    text_bytes = 0

    def row_id(table: str, name: str, insert: str, values: list) -> int:
        known = ids[table].get(name.lower())
        if known is None:
            known = conn.execute(insert, values).lastrowid
            ids[table][name.lower()] = known
        return known

    with conn:
        for number in range(books):
            book = synthetic_book(number, rng, texts)
            author = book.authors[0]
            when = added + timedelta(minutes=number)
            pubdate = (
                f"{rng.randint(1600, 2020)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} 00:00:00+00:00"
            )
            book_id = conn.execute(
                "INSERT INTO books (title, timestamp, pubdate, series_index, author_sort, path, has_cover, "
                "last_modified) VALUES (?, ?, ?, ?, ?, '', 0, ?)",
                [book.title, f"{when:%Y-%m-%d %H:%M:%S}+00:00", pubdate, 1.0, author_sort(author),
                 f"{when:%Y-%m-%d %H:%M:%S}+00:00"],
            ).lastrowid  # fmt: skip
            author_id = row_id(
                "authors",
                author,
                "INSERT INTO authors (name, sort) VALUES (?, ?)",
                [author, author_sort(author)],
            )
            conn.execute("INSERT INTO books_authors_link (book, author) VALUES (?, ?)", [book_id, author_id])
            for subject in book.subjects:
                tag = row_id("tags", subject, "INSERT INTO tags (name) VALUES (?)", [subject])
                conn.execute("INSERT INTO books_tags_link (book, tag) VALUES (?, ?)", [book_id, tag])
            code = LANGUAGES[book.language]
            language = row_id("languages", code, "INSERT INTO languages (lang_code) VALUES (?)", [code])
            conn.execute(
                "INSERT INTO books_languages_link (book, lang_code, item_order) VALUES (?, ?, 0)",
                [book_id, language],
            )
            if rng.random() < 0.2:  # a fifth of the books belong to one of an author's series
                name = f"{author} {rng.choice(['Tales', 'Papers', 'Chronicles', '文集', '全集'])}"
                series = row_id(
                    "series", name, "INSERT INTO series (name, sort) VALUES (?, ?)", [name, title_sort(name)]
                )
                conn.execute("INSERT INTO books_series_link (book, series) VALUES (?, ?)", [book_id, series])
                conn.execute("UPDATE books SET series_index = ? WHERE id = ?", [rng.randint(1, 12), book_id])
            conn.execute(
                "INSERT INTO comments (book, text) VALUES (?, ?)", [book_id, f"<p>{book.description}</p>"]
            )
            author_folder, title_folder = (
                _folder_name(author, f"Author {author_id}"),
                _folder_name(book.title, "Book"),
            )
            folder, name = f"{author_folder}/{title_folder} ({book_id})", f"{title_folder} - {author_folder}"
            # Title and author on top, as plain-text books have them; a short source can be cut into the same
            # chapters twice, so a last line with the book's number keeps every file different.
            chapters = "\n\n".join(f"{chapter.title}\n\n{chapter.text}" for chapter in book.chapters)
            body = f"{book.title}\n\n{author}\n\n{chapters}\n\nNo. {book_id}\n"
            data = body.encode("utf-8")
            (root / folder).mkdir(parents=True, exist_ok=True)
            (root / folder / f"{name}.txt").write_bytes(data)
            text_bytes += len(data)
            conn.execute("UPDATE books SET path = ? WHERE id = ?", [folder, book_id])
            conn.execute(
                "INSERT INTO data (book, format, uncompressed_size, name) VALUES (?, 'TXT', ?, ?)",
                [book_id, len(data), name],
            )
            while number % 100 == 0 and pause():
                time.sleep(1)  # the time waited counts in the generation's seconds: not a figure we compare
            if (number + 1) % 10_000 == 0:
                print(f"  calibre library: {number + 1} books", file=sys.stderr, flush=True)
    conn.execute("PRAGMA journal_mode = DELETE")  # as Calibre leaves it
    conn.close()
    return {
        "books": books,
        "authors": len(ids["authors"]),
        "tags": len(ids["tags"]),
        "text_bytes": text_bytes,
    }
