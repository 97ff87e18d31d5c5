"""`accessible-lib rights set BOOK_ID STATUS` and `rights import FILE.csv`: rights from a terminal.

The same checks as the staff pages (accessible_lib/rights.py): a CSV changes every book it lists or, when
any row is wrong, none, and each wrong row is reported with its number. The exit status is 1 when nothing
was changed because of an error, so a script notices.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import access, rights
from .. import db as database
from ..i18n import gettext, ngettext
from ..settings import Settings
from . import main


@main.group("rights")
def rights_group() -> None:
    """Who may read a book: its rights status, licence, rights holder and note."""


@rights_group.command("set")
@click.argument("book_id", type=int)
@click.argument("status")
@click.option("--licence-name", default="", help="The licence of an open-licence book, e.g. CC BY 4.0.")
@click.option("--licence-url", default="", help="The licence's web address.")
@click.option("--holder", default="", help="Who holds the rights.")
@click.option("--note", default="", help="A note for staff.")
def set_command(
    book_id: int, status: str, licence_name: str, licence_url: str, holder: str, note: str
) -> None:
    """Set one book's rights. STATUS: public-domain, open-licence, eligible-only or withdrawn."""
    checked, errors = rights.check(
        {
            "status": status,
            "licence_name": licence_name,
            "licence_url": licence_url,
            "rights_holder": holder,
            "rights_note": note,
        }
    )
    if checked is None:
        for message in errors.values():
            click.echo(message, err=True)
        sys.exit(1)
    db = database.open_database(Settings.from_env().database_path)
    try:
        with db.conn:
            found = rights.set_rights(db, book_id, checked)
    finally:
        db.close()
    if not found:
        click.echo(gettext("There is no book %(id)d.", id=book_id), err=True)
        sys.exit(1)
    click.echo(
        gettext(
            "Book %(id)d: %(status)s.",
            id=book_id,
            status=access.status_label(checked.status),
        )
    )


@rights_group.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(csv_file: Path) -> None:
    """Set the rights of many books from a CSV file with the columns book_id, status, licence_name,
    licence_url, rights_holder and rights_note (the first line names them)."""
    data = csv_file.read_bytes()[: rights.MAX_CSV_BYTES + 1]
    db = database.open_database(Settings.from_env().database_path)
    try:
        changed, errors = rights.import_csv(db, data)
    finally:
        db.close()
    if errors:
        click.echo(gettext("Nothing was changed, because:"), err=True)
        for error in errors:
            click.echo(str(error), err=True)
        sys.exit(1)
    click.echo(
        ngettext("The rights of %(num)d book were set.", "The rights of %(num)d books were set.", changed)
    )
