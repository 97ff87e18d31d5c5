"""`accessible-lib readers add|list|approve|deny`: reader accounts and their eligibility, from a shell.

A librarian adds readers they already know (a school class, a reading group) without each one signing up:
the account is confirmed and ready to sign in. The password comes from standard input, never from an
argument, where it would end up in the shell history and the process list.

`approve` and `deny` decide the reader's latest pending eligibility application, as the staff review page
does, and mail the reader (links use the public_url setting, else the host and port settings). With no
pending application they decide directly, and a decided application of kind "staff" is recorded so the
reader's page says what happened.
"""

from __future__ import annotations

import sys
import unicodedata

import click

from .. import db as database
from .. import eligibility, eligibility_mail, readers
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
@click.option("--organisation", is_flag=True, help="An organisation account, which vouches for its members.")
def add_command(email: str, name: str, eligible: bool, organisation: bool) -> None:
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
            catalogue_db,
            email,
            name,
            password,
            role="organisation" if organisation else "eligible" if eligible else "reader",
            verified=True,
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


def _role_words(account: readers.ReaderAccount, state: eligibility.State | None = None) -> str:
    if account.role == "organisation":
        return gettext("organisation")
    if account.role == "eligible":
        if readers.is_eligible(account):
            if account.eligible_until:
                return gettext("eligible until %(date)s", date=account.eligible_until[:10])
            return gettext("eligible")
        return gettext("eligibility ended %(date)s", date=(account.eligible_until or "")[:10])
    if state is not None and state.kind == eligibility.PENDING:
        return gettext("reader, application pending")
    if state is not None and state.kind == eligibility.DENIED:
        return gettext("reader, application denied")
    return gettext("reader")


@readers_group.command("list")
def list_command() -> None:
    """Every reader: id, email, name, role and eligibility, whether the address is confirmed."""
    settings = Settings.from_env()
    catalogue_db = database.open_database(settings.database_path)
    try:
        accounts = readers.list_readers(catalogue_db)
        states = {account.id: eligibility.state_of(catalogue_db, account) for account in accounts}
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
            _role_words(account, states[account.id]),
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


def _decide(reader_id: int, *, approved: bool, until: str = "", reason: str = "") -> None:
    settings = Settings.from_env()
    catalogue_db = database.open_database(settings.database_path)
    try:
        account = readers.get_reader(catalogue_db, reader_id)
        if account is None:
            click.echo(gettext("There is no reader %(id)d.", id=reader_id), err=True)
            sys.exit(1)
        if account.role == "organisation":
            click.echo(gettext("Reader %(id)d is an organisation account.", id=reader_id), err=True)
            sys.exit(1)
        pending = eligibility.pending_application(catalogue_db, reader_id)
        if approved:
            end = eligibility.check_until(until)
            if pending is not None:
                decided = eligibility.approve(catalogue_db, pending.id, by="cli", until=end)
            else:
                decided = eligibility.decide_without_application(
                    catalogue_db, reader_id, approved=True, by="cli", until=end
                )
        elif pending is not None:
            decided = eligibility.deny(catalogue_db, pending.id, by="cli", reason=reason)
        else:
            decided = eligibility.decide_without_application(
                catalogue_db, reader_id, approved=False, by="cli", reason=reason
            )
        account = readers.get_reader(catalogue_db, reader_id)
    except eligibility.EligibilityError as error:
        click.echo(error.translated(), err=True)
        sys.exit(1)
    finally:
        catalogue_db.close()
    base_url = settings.public_url or f"http://{settings.host}:{settings.port}"
    if account is not None and not eligibility_mail.send_decision(
        settings, account, decided, base_url=base_url
    ):
        click.echo(gettext("The mail to the reader could not be sent; their account page says it."), err=True)
    which = (
        gettext("their application %(number)d", number=decided.id)
        if pending is not None
        else gettext("no application was pending")
    )
    if approved and decided.decided_until:
        click.echo(
            gettext(
                "Reader %(id)d is eligible until %(date)s (%(which)s).",
                id=reader_id,
                date=decided.decided_until[:10],
                which=which,
            )
        )
    elif approved:
        click.echo(
            gettext("Reader %(id)d is eligible, with no end date (%(which)s).", id=reader_id, which=which)
        )
    else:
        click.echo(gettext("Reader %(id)d is not eligible (%(which)s).", id=reader_id, which=which))


@readers_group.command("approve")
@click.argument("reader_id", type=int)
@click.option("--until", default="", help="The last day the approval holds (YYYY-MM-DD); none: no end.")
def approve_command(reader_id: int, until: str) -> None:
    """Approve the reader's pending eligibility application, or make them eligible if none is pending."""
    _decide(reader_id, approved=True, until=until)


@readers_group.command("deny")
@click.argument("reader_id", type=int)
@click.option("--reason", required=True, help="Why, in words the reader is shown on their account page.")
def deny_command(reader_id: int, reason: str) -> None:
    """Deny the reader's pending eligibility application, or end their eligibility if none is pending."""
    _decide(reader_id, approved=False, reason=reason)
