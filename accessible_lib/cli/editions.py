"""`accessible-lib convert` and `accessible-lib jobs`: editions from the command line.

`convert` runs the same converters as the queue, in this process, for a batch of books or files: no queue,
no edition rows, the output written where the librarian says. Like `import`, it reports to a person (a
progress bar on stderr, then one line per book) and to scripts (exit status 1 when any book failed, 2 for a
mistake in the command itself).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import click
from tqdm import tqdm

from ..caches import use_data_dir
from ..editions import formats, store
from ..editions.runner import run_conversion
from ..i18n import gettext, ngettext
from ..ingest.errors import N_, IngestError
from ..settings import Settings
from . import main

_MAX_NAME_BYTES = 200


class _NotFound(Exception):
    """A book id or path that names nothing; the message says so in words."""


@dataclass
class Outcome:
    source: str
    output: Path | None = None
    reason: str | None = None


@main.command(
    "convert",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": True},
)
@click.argument("arguments", nargs=-1, required=True, metavar="BOOK_ID_OR_FILE... [--OPTION VALUE]...")
@click.option("--format", "format_name", required=True, help="Edition format, for example html or txt.")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the converted files (made when missing).",
)
def convert_command(arguments: tuple[str, ...], format_name: str, out: Path) -> None:
    """Convert books now, without the queue: catalogue book ids (numbers) or EPUB/text files.

    Format options follow as --name value (for example --voice en-us). A file whose name is only digits is
    taken for a book id; give it as ./123 to convert the file.
    """
    sources, raw_options = _split_arguments(arguments)
    try:
        fmt = formats.get_format(format_name)
    except KeyError:
        raise click.UsageError(
            gettext(
                "There is no format %(name)s; the formats are: %(known)s.",
                name=format_name,
                known=", ".join(sorted(formats.FORMATS)),
            )
        ) from None
    try:
        options = formats.normalise_options(fmt, raw_options)
    except formats.OptionError as error:
        raise click.UsageError(error.translated()) from None
    if not sources:
        raise click.UsageError(gettext("Name at least one book id or file to convert."))
    settings = Settings.from_env()
    use_data_dir(settings)
    out.mkdir(parents=True, exist_ok=True)
    outcomes = []
    catalogue_db = None
    bar = tqdm(total=len(sources) * 100, file=sys.stderr, leave=False, bar_format="{l_bar}{bar}|{postfix}")
    try:
        for number, source in enumerate(sources):
            bar.set_description_str(source if len(source) < 30 else "…" + source[-29:], refresh=False)
            if source.isdigit() and catalogue_db is None:
                from ..db import open_database

                catalogue_db = open_database(settings.database_path)
            outcomes.append(
                _convert_one(source, fmt, options, out, settings, catalogue_db, _ProgressBar(bar, number))
            )
            bar.n = (number + 1) * 100
            bar.refresh()
    finally:
        bar.close()
        if catalogue_db is not None:
            catalogue_db.close()
    failed = [o for o in outcomes if o.reason]
    parts = [
        ngettext("%(num)d converted", "%(num)d converted", len(outcomes) - len(failed)),
        ngettext("%(num)d failed", "%(num)d failed", len(failed)),
    ]
    click.echo(", ".join(parts))
    for outcome in outcomes:
        if outcome.reason:
            click.echo(f"{outcome.source}: {outcome.reason}")
        else:
            click.echo(f"{outcome.source}: " + gettext("ok, %(path)s", path=str(outcome.output)))
    if failed:
        sys.exit(1)


def _split_arguments(arguments: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    """Books and files, and the format's --name value pairs that click passed through untouched."""
    sources: list[str] = []
    options: dict[str, str] = {}
    tokens = iter(arguments)
    for token in tokens:
        if token.startswith("--") and len(token) > 2:
            name, has_value, value = token[2:].partition("=")
            if not has_value:
                value = next(tokens, None)
                if value is None:
                    raise click.UsageError(gettext("The option --%(name)s needs a value.", name=name))
            options[name.replace("-", "_")] = value
        else:
            sources.append(token)
    return sources, options


class _ProgressBar:
    """One book's share of the bar; the step ("Chapter 3 of 24") shows after it."""

    def __init__(self, bar: tqdm, number: int):
        self.bar = bar
        self.base = number * 100

    def __call__(self, fraction: float, step: str) -> None:
        self.bar.n = self.base + int(fraction * 100)
        self.bar.set_postfix_str(step, refresh=False)
        self.bar.refresh()


def _convert_one(
    source: str, fmt, options: dict, out: Path, settings: Settings, catalogue_db, progress
) -> Outcome:
    """Never raises for a bad book: the outcome says why it failed, and the batch goes on."""
    try:
        book, ident = _load(source, settings, catalogue_db)
    except IngestError as error:
        return Outcome(source, reason=error.translated())
    except _NotFound as error:
        return Outcome(source, reason=str(error))
    except Exception as error:  # a parser bug must not stop the batch
        return Outcome(source, reason=_unexpected(error))
    workspace = Path(tempfile.mkdtemp(prefix=".convert-", dir=out))
    try:
        files = run_conversion(book, fmt.name, options, workspace, progress)
        # Files for the web player (one MP3 per chapter) duplicate what the download holds: not written here.
        files = [f for f in files if f.get("role") != "listen"]
        target = out / output_name(ident, book["title"], fmt.extension if len(files) == 1 else "")
        if len(files) == 1:
            os.replace(workspace / files[0]["name"], target)
        else:
            if target.exists():
                shutil.rmtree(target)
            os.rename(workspace, target)
        return Outcome(source, output=target)
    except Exception as error:
        return Outcome(source, reason=_unexpected(error))
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


def _unexpected(error: Exception) -> str:
    return gettext(
        N_("The conversion failed: %(detail)s"), detail=f"{type(error).__name__}: {error}".rstrip(": ")
    )


def _load(source: str, settings: Settings, catalogue_db) -> tuple[dict, str]:
    """The exported book for a book id or a file, and what its output name starts with."""
    from ..editions.export import export_book, export_ingested

    if source.isdigit():
        try:
            return export_book(catalogue_db, int(source)), source
        except KeyError:
            raise _NotFound(gettext("There is no book %(id)s in the catalogue.", id=source)) from None
    path = Path(source)
    if not path.is_file():
        raise _NotFound(gettext(N_("There is no file at this path.")))
    from ..ingest import ingest_file

    return export_ingested(ingest_file(path, settings)), path.stem


def output_name(ident: str, title: str, extension: str) -> str:
    """`<id or stem>-<title>.ext`, safe on any file system: Chinese kept, separators and controls dropped,
    short enough in bytes for every common file system."""
    parts = [_slug(ident), _slug(title)]
    stem = "-".join(p for p in parts if p) or "book"
    while len((stem + extension).encode("utf-8")) > _MAX_NAME_BYTES:
        stem = stem[:-1].rstrip("-")
    return stem + extension


def _slug(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = re.sub(r"[^\w]+", "-", text)  # \w keeps letters and digits of every script
    return text.strip("-_.")


@main.command("jobs")
@click.option(
    "--status", type=click.Choice(store.STATUSES), default=None, help="Only editions in this state."
)
@click.option("--limit", type=click.IntRange(1), default=200, show_default=True, help="Most editions shown.")
def jobs_command(status: str | None, limit: int) -> None:
    """Editions and their state: running and queued first, then failed, then done."""
    from ..db import open_database

    settings = Settings.from_env()
    catalogue_db = open_database(settings.database_path)
    try:
        jobs = store.list_jobs(catalogue_db, status=status, limit=limit)
    finally:
        catalogue_db.close()
    if not jobs:
        click.echo(gettext("No editions."))
        return
    header = [
        gettext("ID"),
        gettext("Book"),
        gettext("Format"),
        gettext("Status"),
        gettext("Progress"),
        gettext("Step"),
        gettext("Attempts"),
        gettext("Error"),
    ]
    rows = [
        [
            str(job["id"]),
            job["book_title"] or "",
            job["format"],
            store.status_text(job),
            f"{job['progress'] or 0}%",
            job["step"] or "",
            str(job["attempts"] or 0),
            " ".join((job["error"] or "").split()),
        ]
        for job in jobs
    ]
    for line in _table([header, *rows]):
        click.echo(line)


def _width(text: str) -> int:
    """Columns a terminal gives `text`: wide (Chinese) characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row)).rstrip()
        for row in rows
    ]
