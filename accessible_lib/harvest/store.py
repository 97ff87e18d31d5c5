"""Where harvests write: the sources, each run's staged records, and the catalogue rows they become.

A run stages each page as it is fetched (committed page by page, so a long harvest holds no long write
lock) and touches `books` only after the last page: a failed run deletes its staging and leaves the
catalogue as it was. Applying is done in batches (batch.py), each one transaction of whole, valid records;
were it cut short, the source's datestamp has not advanced, so the next run fetches the same records again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlite_utils import Database

from .. import access
from ..i18n import gettext
from . import batch
from .fetch import HarvestError
from .record import Record, fingerprint

OAI = "oai"
OPDS = "opds"
RUNNING, OK, FAILED = "running", "ok", "failed"
# Records applied per transaction. The catalogue has one writer at a time, and every search page writes its
# statistics: a batch holds that write lock for about a millisecond a record, so a search page served while
# a worker applies a big harvest waits for up to one batch. 100 keeps that wait near a tenth of a second.
BATCH = 100


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _row(db: Database, sql: str, params: list) -> dict | None:
    cursor = db.execute(sql, params)
    row = cursor.fetchone()
    return dict(zip([c[0] for c in cursor.description], row, strict=True)) if row else None


def source_by_url(db: Database, base_url: str) -> dict | None:
    return _row(db, "SELECT * FROM harvest_sources WHERE base_url = ?", [base_url])


def source(db: Database, source_id: int) -> dict | None:
    return _row(db, "SELECT * FROM harvest_sources WHERE id = ?", [source_id])


def sources(db: Database) -> list[dict]:
    cursor = db.execute("SELECT * FROM harvest_sources ORDER BY name COLLATE NOCASE, id")
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def recent_runs(db: Database, source_id: int, limit: int = 5) -> list[dict]:
    cursor = db.execute(
        "SELECT * FROM harvest_runs WHERE source_id = ? ORDER BY id DESC LIMIT ?", [source_id, limit]
    )
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def save_source(db: Database, base_url: str, protocol: str, name: str, home_url: str | None) -> dict:
    with db.conn:
        existing = source_by_url(db, base_url)
        if existing is None:
            db.execute(
                "INSERT INTO harvest_sources (name, base_url, protocol, home_url, added_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [name, base_url, protocol, home_url, now()],
            )
        else:
            db.execute("UPDATE harvest_sources SET name = ? WHERE id = ?", [name, existing["id"]])
    return source_by_url(db, base_url)


@dataclass
class Run:
    id: int
    source_id: int
    pages: int = 0
    staged: int = 0
    counts: dict = field(default_factory=lambda: {"added": 0, "updated": 0, "deleted": 0, "unchanged": 0})


def start_run(db: Database, source_id: int, since: str | None) -> Run:
    with db.conn:
        run_id = db.execute(
            "INSERT INTO harvest_runs (source_id, started_at, status, incremental_from) VALUES (?, ?, ?, ?)",
            [source_id, now(), RUNNING, since],
        ).lastrowid
        db.execute(
            "UPDATE harvest_sources SET last_run_at = ?, last_status = ? WHERE id = ?",
            [now(), RUNNING, source_id],
        )
    return Run(run_id, source_id)


def mark_running(db: Database, source_id: int) -> None:
    """Shown as running from the moment staff ask, before the run itself starts."""
    with db.conn:
        db.execute(
            "UPDATE harvest_sources SET last_run_at = ?, last_status = ? WHERE id = ?",
            [now(), RUNNING, source_id],
        )


def stage(db: Database, run: Run, records: list[Record]) -> None:
    with db.conn:
        db.conn.executemany(
            "INSERT INTO harvest_staging (run_id, seq, remote_id, deleted, record) VALUES (?, ?, ?, ?, ?)",
            [
                (run.id, run.staged + i, r.remote_id, int(r.deleted), r.to_json())
                for i, r in enumerate(records)
            ],
        )
    run.staged += len(records)
    run.pages += 1


def fail_run(db: Database, run: Run, message: str) -> None:
    with db.conn:
        db.execute("DELETE FROM harvest_staging WHERE run_id = ?", [run.id])
        db.execute(
            "UPDATE harvest_runs SET status = ?, finished_at = ?, pages = ?, error = ? WHERE id = ?",
            [FAILED, now(), run.pages, message, run.id],
        )
        db.execute(
            "UPDATE harvest_sources SET last_status = ?, last_error = ? WHERE id = ?",
            [FAILED, message, run.source_id],
        )


def apply_run(db: Database, run: Run, *, complete_listing: bool, next_datestamp: str | None) -> None:
    """Write the staged records into the catalogue, then close the run and advance the source.

    `complete_listing`: the run read the source's whole catalogue (OPDS), so a record of this source that
    it did not list has been deleted there and is withdrawn here. A complete listing with no record at all,
    from a source that has records here, is taken for a broken feed rather than an emptied library."""
    if complete_listing and run.staged == 0:
        held = db.execute(
            "SELECT count(*) FROM books WHERE source_id = ? AND harvest_deleted_at IS NULL", [run.source_id]
        ).fetchone()[0]
        if held:
            raise HarvestError(
                gettext(
                    "The source listed no records at all; the %(count)s records it has here are kept.",
                    count=held,
                )
            )
    last = -1
    while True:
        rows = db.execute(
            "SELECT seq, record FROM harvest_staging WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            [run.id, last, BATCH],
        ).fetchall()
        if not rows:
            break
        with db.conn:
            staged = [(Record.from_json(record), fingerprint(record)) for _, record in rows]
            batch.apply(db, run, staged, now())
        last = rows[-1][0]
    with db.conn:
        if complete_listing:
            run.counts["deleted"] += db.execute(
                "UPDATE books SET rights_status = ?, rights = 'restricted', harvest_deleted_at = ? "
                "WHERE source_id = ? AND harvest_deleted_at IS NULL AND remote_id NOT IN "
                "(SELECT remote_id FROM harvest_staging WHERE run_id = ?)",
                [access.WITHDRAWN, now(), run.source_id, run.id],
            ).rowcount
        db.execute("DELETE FROM harvest_staging WHERE run_id = ?", [run.id])
        count = db.execute(
            "SELECT count(*) FROM books WHERE source_id = ? AND harvest_deleted_at IS NULL", [run.source_id]
        ).fetchone()[0]
        db.execute(
            "UPDATE harvest_runs SET status = ?, finished_at = ?, pages = ?, added = ?, updated = ?, "
            "deleted = ? WHERE id = ?",
            [OK, now(), run.pages, run.counts["added"], run.counts["updated"], run.counts["deleted"], run.id],
        )
        db.execute(
            "UPDATE harvest_sources SET last_status = ?, last_error = NULL, last_success_at = ?, "
            "record_count = ?, last_datestamp = coalesce(?, last_datestamp) WHERE id = ?",
            [OK, now(), count, next_datestamp, run.source_id],
        )
