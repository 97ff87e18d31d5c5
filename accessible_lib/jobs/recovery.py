"""Bringing back work that Huey lost: the edition's own state in the catalogue is the truth.

Huey does not redeliver a task whose worker was killed (coleifer/huey#559). So every minute, and when a
worker starts, editions whose lease expired are queued again, and queued editions that are due but have no
task waiting get one. Enqueueing twice is harmless: a build task for an edition that is done or held by a
live lease just returns.
"""

from __future__ import annotations

import logging

from ..db import open_database
from ..editions import staging, store
from ..editions.storage import storage_for
from ..settings import Settings
from .queue import EditionQueue

log = logging.getLogger(__name__)


def recover(settings: Settings, queue: EditionQueue | None = None) -> dict[str, list[int]]:
    """Needs the catalogue: run by a worker that may open it, or by the web app for remote workers."""
    queue = queue or EditionQueue(settings)
    db = open_database(settings.database_path)
    try:
        requeued = [
            edition_id for edition_id in store.expired_leases(db) if store.release_expired(db, edition_id)
        ]
        waiting = queue.edition_ids_in_queue()
        enqueued = []
        for edition_id in store.queued_due(db):
            if edition_id not in waiting:
                queue.enqueue(edition_id, db=db)
                enqueued.append(edition_id)
        # What remote workers were uploading for attempts that are over (killed, superseded): gone now.
        try:
            staging.sweep_dead(db, settings.editions_dir)
        except Exception:
            log.exception("could not sweep the uploads of finished attempts")
    finally:
        db.close()
    # Workspaces and superseded publications left by killed workers, once they are a day old.
    # Housekeeping only: its failure must never keep work from coming back.
    sweep = getattr(storage_for(settings), "sweep", None)
    if sweep is not None:
        try:
            sweep()
        except Exception:
            log.exception("could not sweep leftover workspaces")
    return {"requeued": requeued, "enqueued": enqueued}
