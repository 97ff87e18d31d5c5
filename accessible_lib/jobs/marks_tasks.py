"""The worker fills in the chapter marks a catalogue lacks (chapter_marks.py), a little at a time when idle.

Imports and rebuilds keep their own chapters' marks, but a catalogue upgraded to m031, or a chapter some
path missed, has none: its page is computed on every visit, correct but slow. `accessible-lib fill-marks`
fills them at once; this fills them without anyone running it, where a maintainer already has a process
for background work: the worker that `make run` starts beside the web app.

How it stays out of the way:
- Every minute (a periodic task) it looks for chapters with no row (an index-only join, no html read)
  and marks them a few books at a time, each batch its own short write transaction, so the web
  processes keep reading (WAL) and a writer waits at most one batch's inserts.
- It runs only while the queue is empty (an edition waiting is the worker's real job), for at most
  FILL_SECONDS a run, so an edition asked for meanwhile waits at most that long.
- Its thread runs at the lowest CPU priority (nice 19, per thread on Linux), so the web processes and
  edition builds get the CPU first.
- It is resumable by construction: it keeps no cursor, it asks the catalogue what is still missing, so an
  interruption loses at most one batch. Several workers with the catalogue (it is one SQLite file, so on
  one machine or its file system) take a lock on a file beside it (flock): one fills at a time, the
  others skip, and a killed worker's lock goes with it (a lock in the queue's storage would outlive it).
- A worker that reports over HTTP (report_url) has no catalogue, and skips.

Rows made by an older MARKS_VERSION are not "missing": the pages compute such chapters until
`accessible-lib fill-marks` is run after an upgrade that moved the version (README, docs/scaling.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sys
import threading
import time
from collections.abc import Callable

from huey import Huey, crontab
from sqlite_utils import Database

from .. import chapter_marks
from ..settings import Settings

log = logging.getLogger(__name__)

FILL_SECONDS = 20  # longest one run holds a worker process (an edition asked for meanwhile waits this long)
FILL_BOOKS = 20  # books per transaction: about 80 chapters, 0.15 s of marking


def books_missing_marks(db: Database, after: int, limit: int) -> list[int]:
    """Books after `after` with a chapter that has no row; from the two (book_id, position) indexes alone:
    reading `html` (even to test it for NULL) would visit the table's rows, most of the catalogue's pages."""
    rows = db.execute(
        "SELECT DISTINCT c.book_id FROM chapters c WHERE c.book_id > ? "
        "AND NOT EXISTS (SELECT 1 FROM chapter_marks m WHERE m.book_id = c.book_id "
        "AND m.position = c.position) ORDER BY c.book_id LIMIT ?",
        [after, limit],
    )
    return [row[0] for row in rows]


def fill_missing_marks(
    db: Database,
    *,
    seconds: float = FILL_SECONDS,
    books: int = FILL_BOOKS,
    busy: Callable[[], bool] = lambda: False,
) -> int:
    """Mark the chapters that have no row, `books` books a transaction, until none is left, `seconds`
    have passed or `busy()` says other work waits; returns how many chapters were written. A chapter that
    cannot be kept (or fails) is passed over: the scan goes on after its book."""
    deadline, after, written = time.monotonic() + seconds, 0, 0
    while time.monotonic() < deadline and not busy():
        ids = books_missing_marks(db, after, books)
        if not ids:
            break
        written += chapter_marks.store_books(db, ids)
        after = ids[-1]
    return written


@contextlib.contextmanager
def _only_filler(settings: Settings):
    """True while this process holds the fill's lock, False when another does."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.data_dir / "chapter-marks-fill.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def fill_in_background(settings: Settings, busy: Callable[[], bool]) -> dict:
    """One run of the periodic task: in a thread of the lowest priority, which the task waits for."""
    if settings.report_url:
        return {"skipped": "no catalogue here"}
    with _only_filler(settings) as alone:
        if not alone:
            return {"skipped": "another worker is filling"}
        return _fill_in_a_low_thread(settings, busy)


def _fill_in_a_low_thread(settings: Settings, busy: Callable[[], bool]) -> dict:
    outcome: dict = {}

    def run() -> None:
        if sys.platform == "linux":  # nice is per thread there; elsewhere it would be the whole worker's
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        from ..db import open_database

        db = open_database(settings.database_path)
        try:
            outcome["written"] = fill_missing_marks(db, busy=busy)
        except Exception:  # noqa: BLE001 - logged; the next run tries again
            log.exception("filling chapter marks failed")
        finally:
            db.close()

    # A daemon: a worker told to stop does not wait for the run; a batch cut off is rolled back.
    thread = threading.Thread(target=run, name="fill-chapter-marks", daemon=True)
    thread.start()
    thread.join()
    if outcome.get("written"):
        log.info("chapter marks: %d chapters filled", outcome["written"])
    return outcome


def register_marks_task(huey: Huey, settings: Settings):
    @huey.periodic_task(crontab(minute="*"), name="fill_chapter_marks")
    def fill_chapter_marks() -> dict:
        """Every minute: chapters without marks, filled while no edition waits (module docstring)."""
        return fill_in_background(settings, busy=lambda: huey.pending_count() > 0)

    return fill_chapter_marks
