"""The catalogue at national scale (m026 onwards): indexes, harvest jobs, stored pages, Chinese pairs
and chapter marks.

New migrations go at the end of this module.
"""

from __future__ import annotations

from sqlite_utils import Database

from ._registry import migrations


@migrations()
def m026_scale(db: Database) -> None:
    """A catalogue version (issue 12, part 1): one number that moves with every change a reader's lists
    could show, so each web process can keep its browse counts until the catalogue changes.

    `books.modified_at` is not enough: it counts seconds, and two changes in one second (a book withdrawn
    just after the lists were counted) would leave a withdrawn book listed. A counter bumped by triggers
    moves on every change, from every writer (staff pages, imports, the rights CSV, harvests, other
    processes), and reading it is one row.

    Also two indexes for the browse pages' title order.
    """
    # A browse list of books is in title order, 20 at a time: with these indexes SQLite reads the first
    # 20 in order instead of sorting every book of a language (half the catalogue) or every book at all.
    db.execute("CREATE INDEX books_title_order ON books (title COLLATE NOCASE, id)")
    db.execute("CREATE INDEX books_language_title_order ON books (language, title COLLATE NOCASE, id)")
    db.execute("CREATE TABLE catalogue_version (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL)")
    db.execute("INSERT INTO catalogue_version (id, n) VALUES (1, 0)")
    bump = "UPDATE catalogue_version SET n = n + 1 WHERE id = 1;"
    for table in ("books", "book_authors", "book_subjects", "editions"):
        for event in ("INSERT", "UPDATE", "DELETE"):
            # An edition's progress is written often while it builds; only its status shows in a list.
            what = "UPDATE OF status" if (table, event) == ("editions", "UPDATE") else event
            db.execute(
                f"CREATE TRIGGER catalogue_version_{table}_{event.lower()} AFTER {what} ON {table} "
                f"BEGIN {bump} END"
            )


@migrations()
def m027_harvest_jobs(db: Database) -> None:
    """Harvests run as jobs on the queue, by a worker, not in a thread of the web process.

    `job_status` is the harvest job of a source as staff see it: "queued" (asked for, waiting for a worker),
    "running" (a worker has it) or NULL (none); `job_since` is when it entered that state. Asking for a
    harvest sets "queued" only where there is no job, in one statement, so two clicks (or two web processes)
    never queue two harvests of the same library. A job older than the harvest time limit is taken for one
    whose worker was killed, and may be asked for again."""
    db["harvest_sources"].add_column("job_status", str)
    db["harvest_sources"].add_column("job_since", str)


@migrations()
def m029_search(db: Database) -> None:
    """`book_words`: the words each book holds anywhere, one row per book, so that "every phrase somewhere
    in the book" is one FTS5 query instead of a lookup per book and phrase (search_presence.py). Filling it
    reads every chapter through the search text function once: minutes at 150,000 books."""
    from .. import search, search_presence

    search.register_functions(db.conn)
    search_presence.create(db, search.TOKENIZE)
    search_presence.rebuild(db)


@migrations()
def m028_pages(db: Database) -> None:
    """The catalogue version (m026_scale) also moves with the rest of what a book's page shows: its
    identifiers, contents, chapter titles and the library that holds a harvested record. Anonymous
    visitors' book pages are kept per version (web/page_cache.py), so a change to any of these must be
    seen at once, as a change to the book's own row is. Chapter text is not on the book page: an UPDATE of
    a chapter's html (a re-render) does not move it.

    Also two indexes for what each web process computes as it starts and after each change: new arrivals
    in order without sorting every book, and the visible books' counts (the book count, the languages
    and formats lists, the visible ids the subject and author lists join) from a small covering index
    instead of the wide rows."""
    db.execute("CREATE INDEX books_newest ON books (added_at DESC, id DESC)")
    db.execute(
        "CREATE INDEX books_visible_counts ON books (rights_status, source_id, language, chapter_count)"
    )
    bump = "UPDATE catalogue_version SET n = n + 1 WHERE id = 1;"
    watched = {
        "book_identifiers": ("INSERT", "UPDATE", "DELETE"),
        "toc_entries": ("INSERT", "UPDATE", "DELETE"),
        "chapters": ("INSERT", "UPDATE OF position, level, title, kind, word_count", "DELETE"),
        "harvest_sources": ("UPDATE OF name, home_url", "DELETE"),
    }
    for table, events in watched.items():
        for event in events:
            name = f"catalogue_version_{table}_{event.split()[0].lower()}"
            db.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN {bump} END")


@migrations()
def m030_zh_pairs(db: Database) -> None:
    """`chapter_pairs`: each run of Chinese characters in chapter text indexed as its overlapping pairs, so a
    Chinese phrase is a few short lists instead of the position lists of its common characters
    (search_pairs.py). Filling it reads every chapter through the pairs function once: minutes at 150,000
    books (docs/scaling.md)."""
    from .. import search, search_pairs

    search.register_functions(db.conn)
    search_pairs.create(db, f"((book_id << {search.CHAPTER_BITS}) + position)")
    db.execute(f"INSERT INTO {search_pairs.TABLE} ({search_pairs.TABLE}) VALUES ('rebuild')")
    search.optimize_indexes(db)  # every index in one segment: each term looked up once, not once a segment


@migrations()
def m031_chapter_marks(db: Database) -> None:
    """`chapter_marks`: each chapter's reading-page content, fitted and with its sentences marked, kept so
    the chapter page does not redo that work (two thirds of its CPU) on every visit (chapter_marks.py).
    A row is used only while its `key` (a digest of everything the marks depend on) matches the chapter;
    a stale or missing row is computed as before. Empty here: `accessible-lib fill-marks` fills it, and
    imports and rebuilds fill their own books. A deleted chapter takes its row with it."""
    db.execute(
        """CREATE TABLE chapter_marks (
               book_id INTEGER NOT NULL,
               position INTEGER NOT NULL,
               key TEXT NOT NULL,
               html TEXT NOT NULL,
               title_html TEXT NOT NULL,
               sentences INTEGER NOT NULL,
               PRIMARY KEY (book_id, position)
           )"""
    )
    db.execute(
        "CREATE TRIGGER chapter_marks_chapter_delete AFTER DELETE ON chapters BEGIN "
        "DELETE FROM chapter_marks WHERE book_id = old.book_id AND position = old.position; END"
    )


@migrations()
def m032_search(db: Database) -> None:
    """`book_pairs`: the Chinese character pairs of every record, as `chapter_pairs` holds those of chapters,
    so a Chinese phrase finds records through short lists (search_pairs.py). Filled from `book_fts`: records
    are small, seconds at 150,000 books."""
    from .. import search, search_pairs

    search.register_functions(db.conn)
    search_pairs.create_book_table(db)
    search_pairs.rebuild_records(db)
    db.execute(f"INSERT INTO {search_pairs.BOOK_TABLE} ({search_pairs.BOOK_TABLE}) VALUES ('optimize')")
