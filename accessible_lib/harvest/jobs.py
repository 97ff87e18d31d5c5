"""A harvest as a job: asked for by staff on /staff/sources, run by a worker from the queue.

A harvest of a big library takes minutes to hours of fetching and writing; in the web process it would hold
one of its few workers and die with it at the next restart. So the web page only asks (`request`), and the
queue's worker runs it (`run`). The source's own row says where the job is (`job_status`: queued, running,
none), because that is what staff see and what stops a second harvest of the same library: asking is one
conditional UPDATE, claiming another, so neither two clicks nor a duplicate task run it twice. A job whose
worker was killed is never finished by anyone; once it is older than the harvest time limit (which stops
every harvest anyway) it no longer counts, and staff may ask again.

Errors are the harvest's own translated messages, kept on the source and its run. The worker has no
request to choose a language from, so the job carries the language of the staff member who asked for it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlite_utils import Database

from .. import i18n
from ..db import open_database
from ..settings import Settings
from . import HarvestError, harvest_source, store

log = logging.getLogger(__name__)

QUEUED, RUNNING = "queued", "running"
STARTED, ALREADY, GONE, SKIPPED, DONE, FAILED = "started", "already", "gone", "skipped", "done", "failed"


def _stale_before(settings: Settings) -> str:
    limit = timedelta(seconds=settings.harvest_time_limit_seconds + 60)
    return (datetime.now(UTC) - limit).isoformat(timespec="seconds")


def live_job(source: dict, settings: Settings) -> str | None:
    """QUEUED or RUNNING when the source has a job that still counts; None otherwise."""
    status = source.get("job_status")
    if status in (QUEUED, RUNNING) and (source.get("job_since") or "") >= _stale_before(settings):
        return status
    return None


def request(db: Database, settings: Settings, source_id: int) -> str:
    """Mark a harvest of the source as asked for: STARTED, ALREADY (one is queued or running), or GONE."""
    with db.conn:
        changed = db.execute(
            "UPDATE harvest_sources SET job_status = ?, job_since = ? WHERE id = ? "
            "AND (job_status IS NULL OR job_since IS NULL OR job_since < ?)",
            [QUEUED, store.now(), source_id, _stale_before(settings)],
        ).rowcount
    if changed:
        return STARTED
    return ALREADY if store.source(db, source_id) is not None else GONE


def withdraw(db: Database, source_id: int) -> None:
    """Forget a request whose task never reached the queue (the queue could not be reached)."""
    with db.conn:
        db.execute(
            "UPDATE harvest_sources SET job_status = NULL, job_since = NULL WHERE id = ? AND job_status = ?",
            [source_id, QUEUED],
        )


def _claim(db: Database, source_id: int) -> bool:
    with db.conn:
        return bool(
            db.execute(
                "UPDATE harvest_sources SET job_status = ?, job_since = ? WHERE id = ? AND job_status = ?",
                [RUNNING, store.now(), source_id, QUEUED],
            ).rowcount
        )


def _finish(db: Database, source_id: int) -> None:
    with db.conn:
        db.execute("UPDATE harvest_sources SET job_status = NULL, job_since = NULL WHERE id = ?", [source_id])


def run(settings: Settings, source_id: int, locale: str = "en") -> str:
    """The worker's side: claim the job, harvest, and free the source; DONE, FAILED or SKIPPED."""
    catalogues = i18n._all_catalogues()
    token = i18n.activate(catalogues.get(locale) or catalogues.get(settings.default_locale) or i18n.current())
    db = open_database(settings.database_path)
    try:
        if not _claim(db, source_id):
            return SKIPPED  # a duplicate task, or the request was withdrawn: nothing asked for now
        try:
            harvest_source(db, settings, source_id)
        except HarvestError as error:  # kept on the source and its run: staff read it on the page
            log.warning("harvest of source %s failed: %s", source_id, error.message)
            return FAILED
        except Exception:  # harvest_source kept a plain message for staff; the details go to the log
            log.exception("harvest of source %s stopped on an unexpected error", source_id)
            return FAILED
        finally:
            _finish(db, source_id)
        return DONE
    finally:
        db.close()
        i18n._current.reset(token)
