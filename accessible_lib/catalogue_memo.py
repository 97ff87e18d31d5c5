"""Counts over the whole catalogue, kept in each web process until the catalogue changes.

At 150,000 books the browse lists (every author with their number of books) and the home page's book
count are GROUP BY and count(*) over every book: hundreds of milliseconds each, seconds under load. Their
answers are the same for every reader (they leave out withdrawn books for everyone, and list records, not
text), so each process keeps the last answer beside the catalogue version it was computed at
(`catalogue_version`, migration m026_scale, bumped by triggers on every change from any writer or
process) and computes again only when the version has moved. Reading the version is one row.

Nothing that depends on who asks (signed in, eligible, staff) may be kept here.

Threads that ask at once for an answer not kept yet wait for the first one's computation (one lock per
key): under 50 clients, a process that has just started, or has just seen the catalogue change, would
otherwise run the authors' GROUP BY once per waiting request, all at once, on the same two cores.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from sqlite_utils import Database

T = TypeVar("T")

MAX_KEPT = 20_000
_lock = threading.Lock()
_memo: dict[tuple, tuple[int, object]] = {}
_computing: dict[tuple, threading.Lock] = {}  # one per key being computed: the others wait for it


def version(db: Database) -> int:
    row = db.execute("SELECT n FROM catalogue_version WHERE id = 1").fetchone()
    return row[0] if row else 0


def remembered(db: Database, key: tuple, compute: Callable[[], T]) -> T:
    """compute(), or its answer from an earlier call with the same key at the same catalogue version.

    The key holds the database file, so two catalogues in one process (tests) never share an answer.
    """
    if db.conn.in_transaction:  # its own uncommitted changes may yet be rolled back: nothing kept from them
        return compute()
    path = db.execute("PRAGMA database_list").fetchone()[2]
    full = (path, *key)
    now = version(db)
    with _lock:
        kept = _memo.get(full)
        computing = _computing.setdefault(full, threading.Lock()) if kept is None or kept[0] != now else None
    if computing is None:
        return kept[1]  # type: ignore[index, return-value]
    with computing:  # the first thread computes; the others find its answer when they get the lock
        with _lock:
            kept = _memo.get(full)
        if kept is not None and kept[0] == now:
            return kept[1]  # type: ignore[return-value]
        value = compute()
        with _lock:
            if len(_memo) >= MAX_KEPT:  # one count per author asked for: bounded, and rebuilt as asked again
                _memo.clear()
            _memo[full] = (now, value)
            _computing.pop(full, None)
        return value
