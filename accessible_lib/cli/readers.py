"""`accessible-lib readers add|list`: reader accounts from the command line.

A librarian adds readers they already know (a school class, a reading group) without each one signing up:
the account is confirmed and ready to sign in. The password comes from standard input, never from an
argument, where it would end up in the shell history and the process list.
"""

from __future__ import annotations

import sys
import unicodedata

import click

from .. import db as database
from .. import readers
from ..i18n import gettext
from ..settings import Settings
from . import main


@main.group("readers")
def readers_group() -> None:
    """Reader accounts: add readers, list them."""


@readers_group.command("add")
@click.argument("email")
@click.option("--name", required=True, help="The reader's name, as the library will address them.")
@click.option("--eligible", is_flag=True, help="The reader may read books only for print-disabled readers.")
def add_command(email: str, name: str, eligible: bool) -> None:
    """Add a confirmed reader; the password is the first line of standard input."""
    if sys.stdin.isatty():
        password = click.prompt(
            gettext("Password (at least %(minimum)d characters)", minimum=readers.MIN_PASSWORD_CHARS),
            hide_input=True,
            confirmation_prompt=gettext("Repeat the password"),
        )
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    settings = Settings.from_env()
    catalogue_db = database.open_database(settings.database_path)
    try:
        reader_id = readers.add_reader(
            catalogue_db, email, name, password, role="eligible" if eligible else "reader", verified=True
        )
    except readers.ReaderError as error:
        click.echo(error.translated(), err=True)
        sys.exit(1)
    finally:
        catalogue_db.close()
    click.echo(
        gettext(
            "Reader %(id)d (%(email)s) added. They can sign in at /account/sign-in.",
            id=reader_id,
            email=readers.normalise_email(email),
        )
    )


def _role_words(account: readers.ReaderAccount) -> str:
    if account.role == "organisation":
        return gettext("organisation")
    if account.role == "eligible":
        if readers.is_eligible(account):
            if account.eligible_until:
                return gettext("eligible until %(date)s", date=account.eligible_until[:10])
            return gettext("eligible")
        return gettext("eligibility ended %(date)s", date=(account.eligible_until or "")[:10])
    return gettext("reader")


@readers_group.command("list")
def list_command() -> None:
    """Every reader: id, email, name, role, whether the address is confirmed."""
    settings = Settings.from_env()
    catalogue_db = database.open_database(settings.database_path)
    try:
        accounts = readers.list_readers(catalogue_db)
    finally:
        catalogue_db.close()
    if not accounts:
        click.echo(gettext("No readers yet."))
        return
    header = [gettext("ID"), gettext("Email"), gettext("Name"), gettext("Role"), gettext("Confirmed")]
    rows = [
        [
            str(account.id),
            account.email,
            account.name,
            _role_words(account),
            gettext("yes") if account.verified else gettext("no"),
        ]
        for account in accounts
    ]
    widths = [max(_width(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(_pad(cell, width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _width(text: str) -> int:
    """Columns a terminal gives the text: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
