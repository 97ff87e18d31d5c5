"""`accessible-lib downloads lookup ID`: who a personal copy of a restricted book was made for.

For staff holding a copy found elsewhere: its download id (title page, metadata) gives the reader, the
time, the edition and file, and the sha256 of what was served. `--hash` makes the stamped file again from
the log row to compute that checksum when the copy was never sent whole (a download resumed in pieces).
"""

from __future__ import annotations

import json
import sys

import click

from .. import db as database
from ..editions import download_log
from ..editions.personal_copy import NotStampable, layout_for_download, layout_sha256
from ..i18n import gettext
from ..settings import Settings
from . import main


@main.group("downloads")
def downloads_group() -> None:
    """Personalised downloads of restricted books."""


@downloads_group.command("lookup")
@click.argument("download_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.option("--hash", "compute", is_flag=True, help="Compute the sha256 of the stamped file if not known.")
def lookup_command(download_id: str, as_json: bool, compute: bool) -> None:
    """Show the download with this id (as printed on the copy: 12 digits)."""
    if download_log.normalise_id(download_id) is None:
        click.echo(gettext("A download id is 12 digits, such as 4821-9930-1174."), err=True)
        sys.exit(2)
    settings = Settings.from_env()
    catalogue_db = database.open_database(settings.database_path)
    try:
        row = download_log.lookup(catalogue_db, download_id)
        if row is None:
            click.echo(gettext("No download has this id."), err=True)
            sys.exit(1)
        if compute and not row.get("sha256"):
            try:
                layout = layout_for_download(catalogue_db, settings, row)
            except (NotStampable, OSError, ValueError) as error:
                click.echo(gettext("The file cannot be made again: %(reason)s", reason=str(error)), err=True)
                sys.exit(1)
            download_log.record_served(catalogue_db, row["id"], layout_sha256(layout), layout.size)
            row = download_log.lookup(catalogue_db, download_id)
    finally:
        catalogue_db.close()
    if as_json:
        click.echo(json.dumps(row, ensure_ascii=False, sort_keys=True))
        return
    lines = [
        (gettext("Download id"), row["id"]),
        (gettext("Reader"), f"{row['reader_name']} ({row['reader_id']})"),
        (gettext("Book"), f"{row.get('book_title') or ''} ({row.get('book_id') or ''})"),
        (gettext("Edition"), f"{row['edition_id']} ({row.get('format') or ''})"),
        (gettext("File"), row["file_name"]),
        (gettext("Given"), row["created_at"]),
        (gettext("SHA-256 of the file served"), row.get("sha256") or gettext("not known yet")),
    ]
    for label, value in lines:
        click.echo(f"{label}: {value}")
