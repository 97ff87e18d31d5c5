"""`accessible-lib create-staff USERNAME [--admin]`: the first staff account is made here, so none exists by
default; after that an administrator can add more at /staff/accounts. `accessible-lib staff admin USERNAME
--grant/--revoke` is the way back in when no administrator can sign in.

The password is asked for twice without echo, or read from standard input with `--password-stdin` for
scripts; never from an argument, where it would end up in the shell history and the process list.
"""

from __future__ import annotations

import sys

import click

from .. import auth, staff_accounts
from .. import db as database
from ..i18n import gettext
from ..settings import Settings
from . import main


@main.command("create-staff")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.option("--update", is_flag=True, help="Set a new password for an existing staff member.")
@click.option("--admin", is_flag=True, help="Make the account an administrator (manages staff accounts).")
def create_staff_command(username: str, password_stdin: bool, update: bool, admin: bool) -> None:
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
        staff_accounts.create(catalogue_db, username, password, admin=admin, replace=update)
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
    if admin:
        click.echo(gettext("%(name)s is an administrator.", name=name))


@main.group("staff")
def staff_group() -> None:
    """Manage staff accounts."""


@staff_group.command("admin")
@click.argument("username")
@click.option("--grant/--revoke", required=True, help="Make the account an administrator, or no longer one.")
def admin_command(username: str, grant: bool) -> None:
    """Grant or revoke administrator; revoking signs the account out everywhere."""
    settings = Settings.from_env()
    catalogue_db = database.open_database(settings.database_path)
    try:
        account = staff_accounts.find(catalogue_db, username)
        if account is None:
            raise click.UsageError(
                gettext("No staff member is called %(name)s.", name=auth.normalise_username(username))
            )
        staff_accounts.set_admin(catalogue_db, account.id, grant)
    except auth.StaffError as error:
        click.echo(error.translated(), err=True)
        sys.exit(1)
    finally:
        catalogue_db.close()
    if grant:
        click.echo(gettext("%(name)s is an administrator.", name=account.username))
    else:
        click.echo(gettext("%(name)s is no longer an administrator.", name=account.username))
