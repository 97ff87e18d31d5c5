"""Statistics for staff as daily counts, never as a log of who did what.

Every figure is a row (day, metric, key, count) in `stats_daily`, added to by one UPSERT per event: a search
adds one to "searches" and one to "search_query" under its normalised text, a download one to "downloads"
under its format. Nothing names a reader, a session or an address, so the table can be shown, exported and
sent to a parent library as it is; a figure that cannot be counted without knowing who (active readers) is
counted as follows.

Active readers: the first request of a signed-in reader on a day adds one to "active_readers". To know
that it is the first without keeping who it was, the reader's id is hashed with a random salt made for
that day (`stats_salts`) and the digest goes into `stats_seen`. Both are deleted as soon as the day is over
(the next count after midnight UTC, and the daily roll-up task), so afterwards not even someone holding
the database and the secret key can tell whether a given reader came that day: only the number is left.
During the day the set says no more than the sessions table already does.

Search queries are kept only as keys of daily counts, folded (case, width, spaces) and cut to
`MAX_QUERY_CHARS`, so that "Moby Dick" and "moby  dick" are one line of the report. The queries that found
nothing are a metric of their own: they are the collection's gaps.

Some figures are not counted as they happen but read at report time from the tables that already hold
them (editions: made, failed, hours of audio, braille pages, queue depth and wait; eligibility
applications and decisions): stats_report.py reads every figure back. Days are UTC days. Counting never
breaks a page: a failure to count is logged and the page goes on.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import secrets
import threading
import unicodedata
from datetime import UTC, date, datetime

from sqlite_utils import Database

from .ingest.errors import N_

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 100

# Counted as they happen.
SEARCHES = "searches"
SEARCH_QUERY = "search_query"  # key: the normalised query
SEARCH_EMPTY = "search_empty"  # key: a normalised query that found nothing
READS = "reads"  # chapter pages read online
LISTEN_EDITION = "listen_edition"  # a chapter of an audio edition started in the player (or its link)
LISTEN_INSTANT = "listen_instant"  # a chapter started through instant listening (spoken on request)
DOWNLOADS = "downloads"  # key: the edition format
NEW_READERS = "new_readers"  # accounts whose address was confirmed
SIGN_INS = "sign_ins"
ACTIVE_READERS = "active_readers"  # distinct signed-in readers on the day (see the module docstring)
# Read at report time from the tables that hold them.
ELIGIBILITY_APPLICATIONS = "eligibility_applications"
ELIGIBILITY_DECISIONS = "eligibility_decisions"  # key: approved or denied
EDITIONS_MADE = "editions_made"  # key: format
EDITION_FAILURES = "edition_failures"  # key: format
AUDIO_SECONDS = "audio_seconds"
BRAILLE_PAGES = "braille_pages"
QUEUE_DEPTH = "queue_depth"  # editions waiting at the end of the day
EDITIONS_STARTED = "editions_started"
QUEUE_WAIT_SECONDS = "queue_wait_seconds"  # summed over the editions started that day

LABELS = {
    SEARCHES: N_("Searches"),
    SEARCH_EMPTY: N_("Searches that found nothing"),
    READS: N_("Chapters read"),
    LISTEN_EDITION: N_("Chapters listened to (audio editions)"),
    LISTEN_INSTANT: N_("Chapters listened to (instant speech)"),
    DOWNLOADS: N_("Downloads"),
    NEW_READERS: N_("New readers"),
    ACTIVE_READERS: N_("Active readers"),
    SIGN_INS: N_("Sign-ins"),
    ELIGIBILITY_APPLICATIONS: N_("Eligibility applications"),
    ELIGIBILITY_DECISIONS: N_("Eligibility decisions"),
    EDITIONS_MADE: N_("Editions made"),
    EDITION_FAILURES: N_("Editions failed"),
    AUDIO_SECONDS: N_("Hours of audio made"),
    BRAILLE_PAGES: N_("Braille pages made"),
    QUEUE_DEPTH: N_("Editions waiting at the end of the day"),
    EDITIONS_STARTED: N_("Editions started"),
    QUEUE_WAIT_SECONDS: N_("Average wait in the queue, in minutes"),
}
# The order of the summary table; the searched and empty queries are listed apart, by key.
SUMMARY = (
    SEARCHES,
    SEARCH_EMPTY,
    READS,
    LISTEN_EDITION,
    LISTEN_INSTANT,
    DOWNLOADS,
    NEW_READERS,
    ACTIVE_READERS,
    SIGN_INS,
    ELIGIBILITY_APPLICATIONS,
    ELIGIBILITY_DECISIONS,
    EDITIONS_MADE,
    EDITION_FAILURES,
    AUDIO_SECONDS,
    BRAILLE_PAGES,
    QUEUE_DEPTH,
    QUEUE_WAIT_SECONDS,
)
# Figures of one moment rather than of a day's events: a range shows the last day's, not a sum.
LEVELS = {QUEUE_DEPTH}


def today() -> date:
    return datetime.now(UTC).date()


def _day(day: date | str | None) -> str:
    if day is None:
        return today().isoformat()
    return day if isinstance(day, str) else day.isoformat()


@contextlib.contextmanager
def _counts_unsynced(db: Database):
    """Commit the day's counts with synchronous=NORMAL, then go back to what the connection had.

    Every chapter read and search commits a count; under load, with FULL, each waits for the disk
    behind the one writer lock. In WAL mode NORMAL never corrupts the catalogue and survives a crash of
    the process; a power cut may lose the last commits made this way, only counts. The next commit made
    with FULL (any catalogue change) syncs the log, these counts included.
    """
    before = db.execute("PRAGMA synchronous").fetchone()[0]
    wal = db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    if wal and not db.conn.in_transaction:
        db.execute("PRAGMA synchronous = NORMAL")
    try:
        yield
    finally:
        if wal and not db.conn.in_transaction:
            db.execute(f"PRAGMA synchronous = {int(before)}")


def count(db: Database, metric: str, key: str = "", n: int = 1, day: date | str | None = None) -> None:
    """Add `n` to the day's figure; logged, never raised, when the catalogue cannot take it."""
    count_all(db, [(metric, key)], n=n, day=day)


def count_all(db: Database, figures: list[tuple[str, str]], n: int = 1, day: date | str | None = None):
    """Add `n` to each (metric, key) figure of the day in one transaction: a search counts two or three
    figures, and under load each commit is a wait for the one writer's lock."""
    try:
        with _counts_unsynced(db), db.conn:
            for metric, key in figures:
                db.execute(
                    "INSERT INTO stats_daily (day, metric, key, count) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (day, metric, key) DO UPDATE SET count = count + excluded.count",
                    [_day(day), metric, key or "", int(n)],
                )
    except Exception:
        log.exception("could not count %s", ", ".join(metric for metric, _ in figures))


class PendingCounts:
    """Counts kept in the process's memory and added to the catalogue in one transaction now and then.

    Why: chapter pages and searches come from thousands of readers at once, and counting each as it happens
    is a commit behind the catalogue's one writer lock on every read page; under load the page waits for
    the lock and the disk. The web app keeps one of these per process (app.py), flushes it every
    `FLUSH_SECONDS` and when the process stops, so a read page writes nothing. A process killed outright
    loses at most the last few seconds of counts, which are only counts. Each count keeps its day, so a
    flush just after midnight UTC still adds yesterday's views to yesterday.
    """

    FLUSH_SECONDS = 5.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str, str], int] = {}

    def add(self, metric: str, key: str = "", n: int = 1, day: date | str | None = None) -> None:
        figure = (_day(day), metric, key or "")
        with self._lock:
            self._pending[figure] = self._pending.get(figure, 0) + int(n)

    def flush(self, db: Database) -> None:
        """Add every pending count to the catalogue; what cannot be written is logged and put back."""
        with self._lock:
            taken, self._pending = self._pending, {}
        if not taken:
            return
        try:
            with _counts_unsynced(db), db.conn:
                for (day, metric, key), n in taken.items():
                    db.execute(
                        "INSERT INTO stats_daily (day, metric, key, count) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (day, metric, key) DO UPDATE SET count = count + excluded.count",
                        [day, metric, key, n],
                    )
        except Exception:
            log.exception("could not add %d pending counts; kept for the next flush", len(taken))
            with self._lock:
                for figure, n in taken.items():
                    self._pending[figure] = self._pending.get(figure, 0) + n


def normalise_query(query: str) -> str:
    """The key a query is counted under: width and case folded, spaces collapsed, cut to a length."""
    folded = unicodedata.normalize("NFKC", query).casefold()
    return " ".join(folded.split())[:MAX_QUERY_CHARS].strip()


def search_figures(query: str, total: int) -> list[tuple[str, str]]:
    """What one search counts: a search, its query, and its query again when it found nothing."""
    key = normalise_query(query)
    if not key:
        return []
    figures = [(SEARCHES, ""), (SEARCH_QUERY, key)]
    if total == 0:
        figures.append((SEARCH_EMPTY, key))
    return figures


def record_search(db: Database, query: str, total: int) -> None:
    """Count a search at once (tests, imports of figures); the search page adds to PendingCounts instead."""
    figures = search_figures(query, total)
    if figures:
        count_all(db, figures)


def _salt(db: Database, day: str) -> bytes:
    db.execute("INSERT OR IGNORE INTO stats_salts (day, salt) VALUES (?, ?)", [day, secrets.token_hex(32)])
    return bytes.fromhex(db.execute("SELECT salt FROM stats_salts WHERE day = ?", [day]).fetchone()[0])


def forget_past_days(db: Database, before: date | None = None) -> None:
    """Delete the salts and digests of every day before `before` (today): only their counts stay."""
    cutoff = _day(before)
    with db.conn:
        db.execute("DELETE FROM stats_seen WHERE day < ?", [cutoff])
        db.execute("DELETE FROM stats_salts WHERE day < ?", [cutoff])


def _today_on(db: Database, day: str) -> tuple[str, bytes, set[str]]:
    """The day's salt and the digests this connection has already counted, kept on the connection's object
    (one per thread) so that a reader's later requests that day touch the catalogue not at all; a new day
    first deletes the past days' sets and salts."""
    today_on = getattr(db, "_stats_today", None)
    if today_on is None or today_on[0] != day:
        forget_past_days(db, date.fromisoformat(day))
        with db.conn:
            salt = _salt(db, day)
        today_on = (day, salt, set())
        db._stats_today = today_on  # type: ignore[attr-defined]
    return today_on


def reader_seen(db: Database, reader_id: int, day: date | str | None = None) -> None:
    """Count a signed-in reader once a day as active, without keeping who (see the module docstring)."""
    try:
        day, salt, counted_here = _today_on(db, _day(day))
        digest = hmac.new(salt, str(reader_id).encode(), hashlib.sha256).hexdigest()
        if digest in counted_here:
            return
        counted_here.add(digest)
        with db.conn:
            cursor = db.execute("INSERT OR IGNORE INTO stats_seen (day, digest) VALUES (?, ?)", [day, digest])
        if cursor.rowcount == 1:
            count(db, ACTIVE_READERS, day=day)
    except Exception:
        log.exception("could not count an active reader")
