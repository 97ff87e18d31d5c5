"""The worker's daily part in the statistics (stats.py, rollup.py): forget the past days' active-reader
digests, and send the parent library the days it has not accepted yet.

It runs every hour (at seven past), but does something only once a day: after midnight UTC there is a new
finished day to send; until the parent accepts it, each run after the backoff tries again (rollup.send
keeps the state). Only a worker with the catalogue runs it: one that reports over HTTP (report_url) has no
catalogue to read, and the web machine's own worker, or `accessible-lib stats send` from cron, does it.
"""

from __future__ import annotations

import logging

from huey import Huey, crontab

from ..settings import Settings

log = logging.getLogger(__name__)


def daily_statistics(settings: Settings) -> dict:
    from .. import rollup, stats
    from ..db import open_database

    if settings.report_url:
        return {"skipped": "no catalogue here"}
    db = open_database(settings.database_path)
    try:
        stats.forget_past_days(db)
        if not settings.parent_url:
            return {"sent": False}
        result = rollup.send(db, settings)
    finally:
        db.close()
    if result.error:
        log.warning("statistics not sent to the parent library: %s", result.error)
    return {"sent": result.sent, "accepted_through": result.accepted_through, "error": result.error}


def register_stats_task(huey: Huey, settings: Settings):
    @huey.periodic_task(crontab(minute="7"), name="daily_statistics")
    def send_statistics() -> dict:
        return daily_statistics(settings)

    return send_statistics
