"""`accessible-lib harvest URL [--name NAME]`: another library's records into this catalogue.

Run it again (by hand or from cron) to bring in what changed: an OAI-PMH source is asked only for records
changed since its last complete harvest. A harvest that fails says why in one sentence, exits with status
1, and leaves the catalogue as it was; staff see the same message on /staff/sources.
"""

from __future__ import annotations

import json
import sys

import click

from .. import db as database
from ..harvest import HarvestError, harvest
from ..i18n import gettext, ngettext
from ..settings import Settings
from . import main


@main.command("harvest")
@click.argument("url")
@click.option("--name", default=None, help='The library\'s name as readers see it ("Held by NAME").')
@click.option(
    "--full", is_flag=True, help="Fetch every record again, not only those changed since last time."
)
@click.option("--json", "as_json", is_flag=True, help="The result as one JSON object on stdout.")
def harvest_command(url: str, name: str | None, full: bool, as_json: bool) -> None:
    """Harvest the records of another library's OAI-PMH repository or OPDS 2.0 catalogue at URL."""
    settings = Settings.from_env()
    catalogue_db = database.open_database(settings.database_path)
    try:
        result = harvest(catalogue_db, settings, url, name, full=full)
    except HarvestError as error:
        if as_json:
            click.echo(json.dumps({"url": url, "error": error.message}, ensure_ascii=False))
        click.echo(gettext("Harvest failed: %(reason)s", reason=error.message), err=True)
        sys.exit(1)
    finally:
        catalogue_db.close()
    if as_json:
        click.echo(json.dumps(result.__dict__, ensure_ascii=False))
        return
    if result.incremental_from:
        click.echo(
            gettext(
                "%(name)s: records changed since %(date)s", name=result.name, date=result.incremental_from
            )
        )
    else:
        click.echo(gettext("%(name)s: every record", name=result.name))
    counts = result.counts
    click.echo(
        ", ".join(
            [
                ngettext("%(num)d added", "%(num)d added", counts["added"]),
                ngettext("%(num)d updated", "%(num)d updated", counts["updated"]),
                ngettext("%(num)d unchanged", "%(num)d unchanged", counts["unchanged"]),
                ngettext("%(num)d withdrawn", "%(num)d withdrawn", counts["deleted"]),
            ]
        )
    )
