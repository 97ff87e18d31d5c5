"""CLI commands for the job queue: `accessible-lib worker` and `accessible-lib editions request`."""

from __future__ import annotations

import json

import click

from .. import catalogue
from .. import db as database
from ..editions import formats
from ..i18n import gettext
from ..jobs.config import load_plugins
from ..settings import Settings
from . import main


@main.command()
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default: the workers setting; 0 there means one per core).",
)
def worker(workers: int | None) -> None:
    """Run a worker that builds queued editions until stopped (Ctrl-C or SIGTERM)."""
    from ..jobs.worker import run_worker
    from ..logs import configure_logging

    settings = Settings.from_env()
    configure_logging(settings)
    run_worker(settings, workers=workers)


@main.group()
def editions() -> None:
    """Accessible editions of books."""


def _parse_options(raw: tuple[str, ...]) -> dict[str, str]:
    options = {}
    for item in raw:
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            raise click.BadParameter(gettext("Write each option as name=value."), param_hint="--option")
        options[name.strip()] = value
    return options


@editions.command("request")
@click.argument("book_id", type=int)
@click.option("--format", "format_name", required=True, help="Edition format, e.g. html or txt.")
@click.option(
    "--option", "raw_options", multiple=True, metavar="NAME=VALUE", help="A format option; repeatable."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: edition_id, reused.")
def request_command(book_id: int, format_name: str, raw_options: tuple[str, ...], as_json: bool) -> None:
    """Queue an edition of a book exactly as the staff button does (a finished one is reused)."""
    from ..jobs.queue import EditionQueue, request

    settings = Settings.from_env()
    load_plugins(settings)
    options = _parse_options(raw_options)
    if format_name not in formats.FORMATS:
        raise click.BadParameter(
            gettext(
                "There is no edition format %(name)s; the formats are: %(known)s.",
                name=format_name,
                known=", ".join(sorted(formats.FORMATS)),
            ),
            param_hint="--format",
        )
    db = database.open_database(settings.database_path)
    try:
        if catalogue.get_book(db, book_id) is None:
            raise click.BadParameter(gettext("There is no book %(id)s.", id=book_id), param_hint="BOOK_ID")
        try:
            edition_id, queued = request(db, EditionQueue(settings), book_id, format_name, options)
        except formats.OptionError as exc:
            raise click.BadParameter(exc.translated(), param_hint="--option") from None
    finally:
        db.close()
    if as_json:
        click.echo(json.dumps({"edition_id": edition_id, "reused": not queued}))
    elif queued:
        click.echo(gettext("Edition %(id)d queued.", id=edition_id))
    else:
        click.echo(gettext("Edition %(id)d reused: it was already requested.", id=edition_id))


@editions.command("rebuild")
@click.argument("edition_ids", nargs=-1, type=int)
@click.option("--outdated", is_flag=True, help="Every outdated edition, whatever its book.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: the ids queued.")
def rebuild_command(edition_ids: tuple[int, ...], outdated: bool, as_json: bool) -> None:
    """Queue outdated editions again with their own options, as the staff page's Rebuild button does.

    An edition is outdated when its book's chapters or a pronunciation entry it contains changed since it was
    made; the worker then re-speaks only the changed sentences and reuses every unchanged chapter's audio.
    """
    from ..editions import store
    from ..jobs.queue import EditionQueue, request

    if not edition_ids and not outdated:
        raise click.UsageError(gettext("Name the editions to rebuild, or give --outdated."))
    settings = Settings.from_env()
    load_plugins(settings)
    db = database.open_database(settings.database_path)
    queued = []
    try:
        wanted = list(edition_ids)
        if outdated:
            sql = "SELECT id FROM editions WHERE status = ? AND outdated_at IS NOT NULL ORDER BY id"
            wanted += [row[0] for row in db.execute(sql, [store.DONE]).fetchall()]
        queue = EditionQueue(settings)
        for edition_id in dict.fromkeys(wanted):
            row = store.get_edition(db, edition_id)
            if row is None:
                raise click.BadParameter(
                    gettext("There is no edition %(id)s.", id=edition_id), param_hint="EDITION_IDS"
                )
            _, again = request(db, queue, row["book_id"], row["format"], row["options"], requested_by=None)
            if again:
                queued.append(edition_id)
            if not as_json:
                message = (
                    gettext("Edition %(id)d queued.", id=edition_id)
                    if again
                    else gettext("Edition %(id)d is up to date: nothing to rebuild.", id=edition_id)
                )
                click.echo(message)
    finally:
        db.close()
    if as_json:
        click.echo(json.dumps({"queued": queued}))
