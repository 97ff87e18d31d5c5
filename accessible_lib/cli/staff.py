"""`accessible-lib create-staff USERNAME`: the only way to make a staff account, so none exists by default.

The password is asked for twice without echo, or read from standard input with `--password-stdin` for
scripts; never from an argument, where it would end up in the shell history and the process list.
"""

from __future__ import annotations

import sys

import click

from .. import auth
from .. import db as database
from ..i18n import gettext
from ..settings import Settings
from . import main


@main.command("create-staff")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.option("--update", is_flag=True, help="Set a new password for an existing staff member.")
def create_staff_command(username: str, password_stdin: bool, update: bool) -> None:
    """Create a staff account that can upload books, edit them and request editions."""
    try:
        auth.check_username(username)
    except auth.StaffError as error:
        raise click.UsageError(error.translated()) from None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(
            gettext("Password (at least %(minimum)d characters)", minimum=auth.MIN_PASSWORD_CHARS),
            hide_input=True,
            confirmation_prompt=gettext("Repeat the password"),
        )
    settings = Settings.from_env()
    catalogue_db = database.open_database(settings.database_path)
    try:
        auth.create_staff(catalogue_db, username, password, replace=update)
    except auth.StaffError as error:
        click.echo(error.translated(), err=True)
        sys.exit(1)
    finally:
        catalogue_db.close()
    name = auth.normalise_username(username)
    if update:
        click.echo(gettext("The password of %(name)s was changed.", name=name))
    else:
        click.echo(gettext("Staff member %(name)s created. Sign in at /staff/login.", name=name))
