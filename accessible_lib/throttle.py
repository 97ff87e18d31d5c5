"""Counting attempts in a sliding window, kept in SQLite: failed sign-ins, new braille jobs.

Why SQLite and not a dict: every attempt stays counted until it leaves its window, whatever else happens,
so no flood of made-up names or addresses can push an old count out (an in-memory table had to be cleared
when it grew too big, which reset every counter at once). Expired rows are deleted as new ones come, so
the table holds at most what arrived within one window; what arrives is itself limited, because callers
ask `wait_seconds` before they do the work and `hit` only after. Several web processes share one count.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable

from sqlite_utils import Database


def _memory_database() -> Database:
    from .migrations import m012_security

    db = Database(sqlite3.connect(":memory:", check_same_thread=False))
    m012_security(db)
    return db


class Limiter:
    """Sliding-window counters by (bucket, key). `connect` gives this thread's catalogue connection; without
    one the counts live in a private in-memory database (tests, or a throttle made outside the app)."""

    def __init__(self, connect: Callable[[], Database] | None = None):
        if connect is None:
            memory = _memory_database()
            connect = lambda: memory  # noqa: E731
        self._connect = connect
        self._lock = threading.Lock()  # an in-memory connection is shared by threads

    def wait_seconds(
        self, bucket: str, key: str, *, limit: int, window: float, now: float | None = None
    ) -> float:
        """0 while fewer than `limit` hits are within `window`; else the seconds until the oldest leaves."""
        now = time.time() if now is None else now
        with self._lock:
            rows = (
                self._connect()
                .execute(
                    "SELECT at FROM throttle_events WHERE bucket = ? AND key = ? AND at > ? "
                    "ORDER BY at DESC LIMIT ?",
                    [bucket, key, now - window, limit],
                )
                .fetchall()
            )
        if len(rows) < limit:
            return 0.0
        return max(0.0, rows[-1][0] + window - now)

    def hit(self, bucket: str, key: str, *, window: float, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._lock:
            db = self._connect()
            with db.conn:
                db.execute("DELETE FROM throttle_events WHERE expires_at < ?", [now])
                db.execute(
                    "INSERT INTO throttle_events (bucket, key, at, expires_at) VALUES (?, ?, ?, ?)",
                    [bucket, key, now, now + window],
                )

    def forget(self, bucket: str, key: str) -> None:
        with self._lock:
            db = self._connect()
            with db.conn:
                db.execute("DELETE FROM throttle_events WHERE bucket = ? AND key = ?", [bucket, key])

    def count(self) -> int:
        """Rows kept (for tests of the memory bound)."""
        with self._lock:
            return self._connect().execute("SELECT count(*) FROM throttle_events").fetchone()[0]
