"""The Huey instance and the one way editions get into it.

SQLite (a file in the data directory) is the default: nothing to run beside the app. With a Redis URL the same
tasks go through Redis, so workers on other machines can take them. Either way a task carries everything its
worker needs (the exported book, the format and options), so a worker never has to open the catalogue.
"""

from __future__ import annotations

from collections.abc import Mapping

from huey import Huey, RedisHuey, SqliteHuey
from sqlite_utils import Database

from ..db import open_database
from ..editions import store
from ..editions.export import export_book
from ..editions.formats import get_format, normalise_options
from ..settings import Settings

HUEY_NAME = "accessible-lib"


def make_huey(settings: Settings, *, immediate: bool = False) -> Huey:
    """Results are not kept: the catalogue, not Huey, records what a job did. Payloads are compressed: a
    book with images is several megabytes of base64."""
    if settings.redis_url:
        return RedisHuey(
            HUEY_NAME, url=settings.redis_url, results=False, compression=True, immediate=immediate
        )
    settings.queue_path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(
        HUEY_NAME,
        filename=str(settings.queue_path),
        results=False,
        compression=True,
        immediate=immediate,
        timeout=30,
    )


def edition_payload(db: Database, edition_id: int) -> dict:
    """What a worker needs for one edition: a snapshot of the book, the format and its options."""
    edition = store.get_edition(db, edition_id)
    if edition is None:
        raise KeyError(edition_id)
    return {
        "edition_id": edition_id,
        "format": edition["format"],
        "options": edition["options"],
        "storage_key": str(edition_id),
        "book": {**export_book(db, edition["book_id"]), "edition_identifier": edition.get("identifier")},
    }


class EditionQueue:
    """The queue as the web app, the CLI and the worker see it: `enqueue(edition_id)` and `.huey`."""

    def __init__(self, settings: Settings, *, huey: Huey | None = None):
        from .tasks import register_tasks

        self.settings = settings
        self.huey = huey if huey is not None else make_huey(settings)
        self.tasks = register_tasks(self.huey, settings)

    def enqueue(self, edition_id: int, *, db: Database | None = None, delay: float | None = None) -> None:
        """Put one build task in the queue, with the book exported from the catalogue now."""
        own = db is None
        db = open_database(self.settings.database_path, migrate=False) if own else db
        try:
            payload = edition_payload(db, edition_id)
        finally:
            if own:
                db.close()
        self.submit(edition_id, payload, delay=delay)

    def submit(self, edition_id: int, payload: dict, *, delay: float | None = None) -> None:
        """Enqueue with a ready payload (a worker rescheduling its own retry has no catalogue)."""
        if delay and delay > 0:
            self.tasks.build_edition.schedule((edition_id, payload), delay=delay)
        else:
            self.tasks.build_edition(edition_id, payload)

    def enqueue_harvest(self, source_id: int, locale: str = "en") -> None:
        """Put a harvest of one source in the queue (harvest/jobs.py `request` marks it asked for first)."""
        self.tasks.harvest_source(source_id, locale)

    def edition_ids_in_queue(self) -> set[int]:
        """Editions with a build task waiting in the queue or its schedule (not the ones being run)."""
        ids = set()
        for task in [*self.huey.pending(), *self.huey.scheduled()]:
            if isinstance(task, self.tasks.build_edition.task_class) and task.args:
                ids.add(int(task.args[0]))
        return ids


def request(
    db: Database,
    queue: EditionQueue,
    book_id: int,
    format: str,
    options: Mapping[str, object],
    *,
    requested_by: str | None = None,
) -> tuple[int, bool]:
    """Request an edition as the staff button does: (edition id, whether a job was queued now).

    Options are normalised first (defaults applied), so the same request always finds the same edition.
    Raises KeyError for an unknown format and formats.OptionError (a ValueError) for bad options.
    """
    fmt = get_format(format)
    clean = normalise_options(fmt, options)
    edition_id, must_enqueue = store.request_edition(db, book_id, fmt.name, clean, requested_by=requested_by)
    if must_enqueue:
        # If this fails (Redis down), the edition stays queued and the periodic recovery enqueues it later.
        queue.enqueue(edition_id, db=db)
    return edition_id, must_enqueue


def request_and_enqueue(
    db: Database,
    queue: EditionQueue,
    book_id: int,
    format: str,
    options: Mapping[str, object],
    requested_by: str | None = None,
) -> int:
    """The agreed entry point for the web app: the edition id; a new job only when the edition needs one."""
    return request(db, queue, book_id, format, options, requested_by=requested_by)[0]
