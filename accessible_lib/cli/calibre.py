"""`accessible-lib import-calibre PATH`: a Calibre library into the catalogue, as often as it changes.

The summary counts what happened to each record (imported, updated, unchanged, metadata-only, rejected),
then lists every record with something to say: a rejected file, a refused ISBN. A path that is not a
Calibre library, or a metadata.db that cannot be read, is one clear sentence and exit status 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from tqdm import tqdm

from .. import db as database
from .. import search_index
from ..calibre.library import CalibreError, read_library
from ..calibre.sync import (
    FAILED,
    IMPORTED,
    METADATA_ONLY,
    REJECTED,
    STATUSES,
    UNCHANGED,
    UPDATED,
    sync_records,
)
from ..i18n import gettext, ngettext
from ..importer import RIGHTS
from ..ingest.errors import N_
from ..settings import Settings
from . import main

# What happened to each book, as the per-book lines say it; the summary's counts say it with plurals.
STATUS_NAMES = {
    IMPORTED: N_("imported"),
    UPDATED: N_("updated"),
    METADATA_ONLY: N_("metadata only"),
    REJECTED: N_("file rejected, record kept"),
    FAILED: N_("not imported, nothing of it changed"),
}


@main.command("import-calibre")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per Calibre book on stdout.")
@click.option(
    "--rights",
    type=click.Choice(RIGHTS),
    default="public-domain",
    show_default=True,
    help="Rights of books new to the catalogue: restricted books are only lent to registered readers.",
)
def import_calibre_command(path: Path, as_json: bool, rights: str) -> None:
    """Import a Calibre library (the folder holding metadata.db); run it again to bring in its changes.

    The library is only read, never changed."""
    try:
        library = read_library(path)
    except CalibreError as error:
        click.echo(error.translated(), err=True)
        sys.exit(1)
    settings = Settings.from_env()
    catalogue_db = database.open_database(settings.database_path)
    counts = dict.fromkeys(STATUSES, 0)
    noted = []
    records = library.records
    progress = tqdm(
        total=len(records), file=sys.stderr, unit="book", disable=as_json or not records, leave=False
    )
    try:
        for result in sync_records(catalogue_db, settings, library, rights=rights):
            progress.update()
            counts[result.status] += 1
            if as_json:
                click.echo(json.dumps(result.__dict__, ensure_ascii=False))
            elif result.status != UNCHANGED or result.reasons:
                noted.append(result)
        changed = counts[IMPORTED] + counts[UPDATED] + counts[METADATA_ONLY] + counts[REJECTED]
        search_index.merge_after(catalogue_db, changed, settings.index_merge_records)
    finally:
        progress.close()
        catalogue_db.close()
    if not as_json:
        click.echo(
            ", ".join(
                [
                    ngettext("%(num)d imported", "%(num)d imported", counts[IMPORTED]),
                    ngettext("%(num)d updated", "%(num)d updated", counts[UPDATED]),
                    ngettext("%(num)d unchanged", "%(num)d unchanged", counts[UNCHANGED]),
                    ngettext("%(num)d metadata only", "%(num)d metadata only", counts[METADATA_ONLY]),
                    ngettext("%(num)d rejected", "%(num)d rejected", counts[REJECTED]),
                ]
                + ([ngettext("%(num)d failed", "%(num)d failed", counts[FAILED])] if counts[FAILED] else [])
            )
        )
        for result in noted:
            if result.status != UNCHANGED and result.book_id is None:  # failed before it had a book
                status = gettext(STATUS_NAMES[result.status])
                click.echo(gettext("%(status)s: “%(title)s”", status=status, title=result.title))
            elif result.status != UNCHANGED:
                status = gettext(STATUS_NAMES[result.status])
                click.echo(gettext("%(status)s: “%(title)s” (book %(id)s)", status=status, title=result.title,
                                   id=result.book_id))  # fmt: skip
            for reason in result.reasons:
                click.echo(gettext("“%(title)s”: %(reason)s", title=result.title, reason=reason))
    if counts[REJECTED] or counts[FAILED]:
        sys.exit(1)
