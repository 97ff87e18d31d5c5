"""What /readyz checks: can this process serve readers and take work right now?

Each check opens what it checks afresh, with a short timeout, instead of reusing the app's connections: an
open SQLite handle keeps working on a file that was deleted or whose disk went away, and a pooled Redis
connection says nothing about a new one. Each answers "ok" or a short reason; the reason's details go to the
log, not to whoever asked (the endpoint is public, and an error can name hosts or paths).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
from collections.abc import Callable

from .db import sqlite_uri
from .settings import Settings

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 2.0


def check_database(settings: Settings) -> None:
    """The catalogue exists (never created here), opens, and its schema answers a query."""
    path = settings.database_path
    conn = sqlite3.connect(sqlite_uri(path, "rw"), uri=True, timeout=TIMEOUT_SECONDS)
    try:
        conn.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()
        conn.execute("SELECT id FROM books LIMIT 1").fetchall()
    finally:
        conn.close()


def check_queue(settings: Settings) -> None:
    """Redis answers PING when it is the queue; else Huey's SQLite file opens and its table answers."""
    if settings.redis_url:
        import redis

        client = redis.Redis.from_url(
            settings.redis_url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
        )
        try:
            if not client.ping():
                raise ConnectionError("Redis did not answer PING")
        finally:
            client.close()
        return
    conn = sqlite3.connect(sqlite_uri(settings.queue_path, "rw"), uri=True, timeout=TIMEOUT_SECONDS)
    try:
        conn.execute("SELECT count(*) FROM task").fetchone()
    finally:
        conn.close()


def check_storage(settings: Settings) -> None:
    """The data directory takes a new file (so uploads, editions and personal copies can be written), and the
    editions and evidence folders, where they exist, can be listed."""
    with tempfile.NamedTemporaryFile(dir=settings.data_dir, prefix=".readyz-"):
        pass
    for folder in (settings.editions_dir, settings.evidence_dir):
        if folder.exists():
            os.listdir(folder)


CHECKS: dict[str, Callable[[Settings], None]] = {
    "database": check_database,
    "queue": check_queue,
    "storage": check_storage,
}


def run_checks(settings: Settings) -> dict[str, str]:
    """Each check's outcome: "ok", or "unavailable" with the cause logged."""
    results = {}
    for name, check in CHECKS.items():
        try:
            check(settings)
        except Exception as exc:
            log.warning("readyz: %s unavailable: %s: %s", name, type(exc).__name__, exc)
            results[name] = "unavailable"
        else:
            results[name] = "ok"
    return results
