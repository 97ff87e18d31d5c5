"""`accessible-lib fill-marks`: keep every chapter's reading-page content fitted and sentence-marked
(chapter_marks.py), for a catalogue imported before m031_chapter_marks or after MARKS_VERSION moved.

Until it has run the chapter pages still work: each computes its content on every visit, as before. It
goes in batches of books by id, each batch its own short transaction, so the site keeps serving while it
runs and an interruption loses at most one batch; run again, it skips chapters whose row is current (or
starts after `--after`, the last book id it printed). Imports and rebuilds keep their own books' marks.
"""

from __future__ import annotations

import time

import click

from .. import chapter_marks
from .. import db as database
from ..i18n import gettext
from ..settings import Settings
from . import main


@main.command("fill-marks")
@click.argument("book_ids", nargs=-1, type=int)
@click.option("--after", type=int, default=0, help="Start after this book id (to go on).")
@click.option("--batch", type=int, default=200, show_default=True, help="Books per transaction.")
def fill_marks_command(book_ids: tuple[int, ...], after: int, batch: int) -> None:
    """Keep the marked reading-page content of every chapter (or of the given books)."""
    settings = Settings.from_env()
    db = database.open_database(settings.database_path)
    started, written, books = time.monotonic(), 0, 0
    try:
        for ids in _batches(db, list(book_ids), after, max(1, batch)):
            written += chapter_marks.store_chapters(db, chapter_marks.chapters_of(db, ids))
            books += len(ids)
            click.echo(
                gettext(
                    "%(books)d books, %(chapters)d chapters marked, last book %(last)d, %(seconds).0f s",
                    books=books,
                    chapters=written,
                    last=ids[-1],
                    seconds=time.monotonic() - started,
                )
            )
    finally:
        db.close()


def _batches(db, book_ids: list[int], after: int, size: int):
    """Book ids in increasing order, `size` at a time: the given ones, else every book after `after`."""
    if book_ids:
        chosen = sorted(set(book_ids))
        for start in range(0, len(chosen), size):
            yield chosen[start : start + size]
        return
    last = after
    while True:
        rows = db.execute("SELECT id FROM books WHERE id > ? ORDER BY id LIMIT ?", [last, size])
        ids = [row[0] for row in rows]
        if not ids:
            return
        yield ids
        last = ids[-1]
