"""`accessible-lib stats [--from DAY] [--to DAY] [--csv]`: the staff statistics page's figures at a terminal
or as CSV for a spreadsheet; `accessible-lib stats send`: send the daily figures to the parent library now,
without waiting for the worker's daily run (rollup.py)."""

from __future__ import annotations

import sys

import click

from .. import db as database
from .. import rollup, stats, stats_report
from ..i18n import gettext
from ..settings import Settings
from ..web.staff_stats import parse_range
from . import main


@main.group("stats", invoke_without_command=True)
@click.option("--from", "first", default="", help="First day, YYYY-MM-DD (default: 29 days before --to).")
@click.option("--to", "last", default="", help="Last day, YYYY-MM-DD (default: today, UTC).")
@click.option(
    "--csv", "as_csv", is_flag=True, help="Every figure as CSV on stdout: library, day, metric, key, value."
)
@click.pass_context
def stats_group(context: click.Context, first: str, last: str, as_csv: bool) -> None:
    """Daily statistics: searches, reads, listens, downloads, readers, eligibility and editions."""
    if context.invoked_subcommand is not None:
        return
    start, end, errors = parse_range(first.strip(), last.strip())
    if errors:
        for error in errors:
            click.echo(error["message"], err=True)
        sys.exit(2)
    settings = Settings.from_env()
    catalogue_db = database.open_database(settings.database_path)
    try:
        report = stats_report.build_report(
            catalogue_db,
            start,
            end,
            library=rollup.library_name(settings),
            editions_dir=settings.editions_dir,
        )
    finally:
        catalogue_db.close()
    if as_csv:
        stats_report.write_csv(report, sys.stdout, gettext("This library"))
        return
    _print(report)


def _print(report: stats_report.Report) -> None:
    days = report.days
    columns = report.columns(gettext("This library"), gettext("Total"))
    click.echo(gettext("From %(first)s to %(last)s", first=days[0], last=days[-1]))
    names = [name for name, _ in columns]
    labels = [gettext(stats.LABELS[m]) for m in stats.SUMMARY]
    width = max(len(label) for label in labels)
    click.echo(" " * width + "  " + "  ".join(names))
    for metric, label in zip(stats.SUMMARY, labels, strict=True):
        values = [
            stats_report.number(stats_report.shown_total(figures, metric, days)).rjust(len(n))
            for n, (_, figures) in zip(names, columns, strict=True)
        ]
        click.echo(label.ljust(width) + "  " + "  ".join(values))
    total = report.total
    for metric, heading in (
        (stats.SEARCH_QUERY, gettext("Most searched for")),
        (stats.SEARCH_EMPTY, gettext("Searches that found nothing: what the collection lacks")),
    ):
        ranked = stats_report.by_key(total, metric, 20)
        if ranked:
            click.echo("")
            click.echo(heading)
            for key, value in ranked:
                click.echo(f"{stats_report.number(value):>6}  {key}")


@stats_group.command("send")
@click.option("--today", is_flag=True, help="Send today's figures so far too (sent again, whole, tomorrow).")
def send_command(today: bool) -> None:
    """Send the days the parent library has not yet accepted, now."""
    settings = Settings.from_env()
    if not settings.parent_url or not settings.parent_key:
        click.echo(
            gettext("No parent library is set: set ACCESSIBLE_LIB_PARENT_URL and ACCESSIBLE_LIB_PARENT_KEY."),
            err=True,
        )
        sys.exit(2)
    catalogue_db = database.open_database(settings.database_path)
    try:
        result = rollup.send(catalogue_db, settings, include_today=today, force=True)
    finally:
        catalogue_db.close()
    if result.error:
        click.echo(
            gettext("The parent library did not accept the figures: %(reason)s", reason=result.error),
            err=True,
        )
        sys.exit(1)
    if not result.sent:
        click.echo(gettext("Nothing to send: the parent library has every day up to yesterday."))
        return
    click.echo(
        gettext(
            "Sent %(days)d days; the parent library has every day up to %(day)s.",
            days=result.days,
            day=result.accepted_through,
        )
    )
