"""`accessible-lib pronounce add|list|remove|import|export`: the pronunciation dictionary from a terminal.

The same checks as the staff pages (accessible_lib/pronunciations.py); a CSV import changes nothing when
any row is wrong and exits with status 1, so a script notices.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import db as database
from .. import pronunciations
from ..i18n import gettext, ngettext
from ..settings import Settings
from . import main

STAFF = "command line"


def _open():
    return database.open_database(Settings.from_env().database_path)


@main.group("pronounce")
def pronounce_group() -> None:
    """The pronunciation dictionary: how speech and Chinese braille read a word."""


@pronounce_group.command("add")
@click.argument("lang")
@click.argument("written")
@click.argument("reading")
@click.option(
    "--kind",
    type=click.Choice(["pinyin", "respelling", "phonemes"]),
    default=None,
    help="pinyin (Chinese, the default there), respelling (the default elsewhere) or phonemes.",
)
@click.option("--part-of-word", is_flag=True, help="Match inside longer words too.")
@click.option("--case-sensitive", is_flag=True, help="Match only this exact capitalisation.")
@click.option("--book", "book_id", type=int, default=None, help="Only in this book (default: every book).")
@click.option("--note", default="", help="A note for staff.")
def add_command(
    lang: str, written: str, reading: str, kind: str | None, part_of_word: bool, case_sensitive: bool,
    book_id: int | None, note: str,
) -> None:  # fmt: skip
    """Add an entry, e.g. `pronounce add zh 何曾 "he2 ceng2"` or `pronounce add en Tomato "tuh-MAH-toh"`."""
    if kind is None:
        kind = "pinyin" if pronunciations.is_chinese(lang) else "respelling"
    values = {
        "lang": lang, "written": written, "reading": reading, "kind": kind, "note": note,
        "whole_word": "no" if part_of_word else "yes", "case_sensitive": "yes" if case_sensitive else "no",
        "book_id": str(book_id) if book_id is not None else "",
    }  # fmt: skip
    db = _open()
    try:
        entry_id, errors = pronunciations.save(db, values, by=STAFF)
    finally:
        db.close()
    if entry_id is None:
        for message in errors.values():
            click.echo(message, err=True)
        sys.exit(1)
    click.echo(gettext("Entry %(id)d added.", id=entry_id))


@pronounce_group.command("list")
@click.option("--lang", default="", help="Only this language.")
@click.option("--book", "book_id", type=int, default=None, help="Only the entries that apply to this book.")
def list_command(lang: str, book_id: int | None) -> None:
    """Every entry: id, language, written form, reading, kind and scope, one a line."""
    db = _open()
    try:
        rows = pronunciations.entries(db, lang=lang, book_id=book_id)
    finally:
        db.close()
    for row in rows:
        scope = gettext("book %(id)d", id=row["book_id"]) if row["book_id"] else gettext("all books")
        click.echo(f"{row['id']}\t{row['lang']}\t{row['written']}\t{row['reading']}\t{row['kind']}\t{scope}")


@pronounce_group.command("remove")
@click.argument("entry_id", type=int)
def remove_command(entry_id: int) -> None:
    """Remove one entry by its id (see `pronounce list`)."""
    db = _open()
    try:
        found = pronunciations.remove(db, entry_id)
    finally:
        db.close()
    if not found:
        click.echo(gettext("There is no entry %(id)d.", id=entry_id), err=True)
        sys.exit(1)
    click.echo(gettext("Entry %(id)d removed.", id=entry_id))


@pronounce_group.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(csv_file: Path) -> None:
    """Add or replace entries from a CSV file with the columns lang, written, reading, kind, whole_word,
    case_sensitive, book_id and note (the first line names them; the first four are required)."""
    data = csv_file.read_bytes()[: pronunciations.MAX_CSV_BYTES + 1]
    db = _open()
    try:
        count, errors = pronunciations.import_csv(db, data, by=STAFF)
    finally:
        db.close()
    if errors:
        click.echo(gettext("Nothing was changed, because:"), err=True)
        for error in errors:
            click.echo(str(error), err=True)
        sys.exit(1)
    click.echo(ngettext("%(num)d entry was imported.", "%(num)d entries were imported.", count))


@pronounce_group.command("export")
@click.option("--lang", default="", help="Only this language.")
@click.option("--book", "book_id", type=int, default=None, help="Only the entries that apply to this book.")
def export_command(lang: str, book_id: int | None) -> None:
    """The entries as CSV on standard output, in the form `pronounce import` reads."""
    db = _open()
    try:
        click.echo(pronunciations.export_csv(db, lang=lang, book_id=book_id), nl=False)
    finally:
        db.close()
