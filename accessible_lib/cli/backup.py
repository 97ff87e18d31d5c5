"""`accessible-lib backup DIR` and `accessible-lib restore DIR` (see accessible_lib/backup.py for how).

Backup runs beside the serving library (cron, a systemd timer); restore runs with the library stopped, into a
new or empty data directory. Either one that cannot go ahead says why in one sentence on stderr and exits
with status 1, having left the library as it was.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..backup import BackupError, backup, restore
from ..i18n import gettext, ngettext
from ..settings import Settings
from . import main


def _summary(report) -> str:
    return ", ".join(
        [
            ngettext("%(num)d file", "%(num)d files", report.files),
            ngettext("%(num)d edition", "%(num)d editions", report.editions),
            ngettext("%(num)d evidence file", "%(num)d evidence files", report.evidence),
            ngettext("%(num)d source file", "%(num)d source files", report.sources),
        ]
    )


@main.command("backup")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
def backup_command(directory: Path) -> None:
    """Back the library up into DIRECTORY (new or empty) while it serves: the catalogue, edition files,
    readers' evidence, kept source files and the session key, with a manifest of sha256 sums."""
    try:
        report = backup(Settings.from_env(), directory)
    except BackupError as error:
        click.echo(error.translated(), err=True)
        sys.exit(1)
    click.echo(
        gettext("Backed up into %(path)s: %(summary)s.", path=str(directory), summary=_summary(report))
    )
    if report.requeued:
        click.echo(
            ngettext(
                "%(num)d edition changed while backing up is restored as queued, to be made again.",
                "%(num)d editions changed while backing up are restored as queued, to be made again.",
                len(report.requeued),
            )
        )
    if report.dropped_evidence:
        click.echo(
            ngettext(
                "%(num)d evidence file deleted while backing up is left out.",
                "%(num)d evidence files deleted while backing up are left out.",
                report.dropped_evidence,
            )
        )


@main.command("restore")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
def restore_command(directory: Path) -> None:
    """Restore the backup in DIRECTORY into the data directory (ACCESSIBLE_LIB_DATA_DIR), which must be new
    or empty; every file is checked against the manifest first."""
    settings = Settings.from_env()
    try:
        report = restore(settings, directory)
    except BackupError as error:
        click.echo(error.translated(), err=True)
        sys.exit(1)
    click.echo(
        gettext("Restored into %(path)s: %(summary)s.", path=str(settings.data_dir), summary=_summary(report))
    )
