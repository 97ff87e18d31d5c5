"""`accessible-lib rebuild-chapters`: make the chapters of books already in the catalogue again.

When the ingester learns to cut books better (chapters from the table of contents, back matter last),
books imported before keep their old chapters until this runs. It re-reads the copy of each file kept in
the data directory, keeps the book's id and record (what staff edited stays), and marks its editions
outdated so staff can rebuild them. `accessible-lib import` does the same for a file it finds already
imported by an older version, so `make run` brings an existing library up to date by itself.
"""

from __future__ import annotations

import sys

import click

from .. import catalogue
from .. import db as database
from ..i18n import gettext, ngettext
from ..importer import REBUILT, rebuild_book
from ..settings import Settings
from . import main


@main.command("rebuild-chapters")
@click.argument("book_ids", nargs=-1, type=int)
@click.option("--all", "every", is_flag=True, help="Every book, not only those an older version made.")
def rebuild_chapters_command(book_ids: tuple[int, ...], every: bool) -> None:
    """Rebuild the chapters of the given books (by default: of books an older version imported)."""
    settings = Settings.from_env()
    catalogue_db = database.open_database(settings.database_path)
    try:
        if book_ids:
            ids = list(book_ids)
        elif every:
            ids = [row[0] for row in catalogue_db.execute("SELECT id FROM books ORDER BY id")]
        else:
            ids = catalogue.books_to_rebuild(catalogue_db)
        results = [rebuild_book(catalogue_db, settings, book_id) for book_id in ids]
    finally:
        catalogue_db.close()
    failed = [result for result in results if result.status != REBUILT]
    done = len(results) - len(failed)
    click.echo(ngettext("%(num)d book rebuilt", "%(num)d books rebuilt", done))
    for result in failed:
        click.echo(gettext("Book %(id)s: %(reason)s", id=result.book_id or result.path, reason=result.reason))
    if failed:
        sys.exit(1)
