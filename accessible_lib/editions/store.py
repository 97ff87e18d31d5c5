"""Edition rows in the catalogue: requesting, claiming with a lease, progress, completion, failure.

Every state change is one short transaction guarded by the lease token, so a worker that lost its lease (it
was presumed dead and the edition was requeued) can no longer overwrite the state of the new attempt.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlite_utils import Database

from .. import identifiers
from ..i18n import gettext
from ..ingest.errors import N_

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
STATUSES = (QUEUED, RUNNING, DONE, FAILED)
STATUS_TEXT = {
    QUEUED: N_("Waiting to start"),
    RUNNING: N_("Running"),
    DONE: N_("Finished"),
    FAILED: N_("Failed"),
}


def status_text(edition: dict) -> str:
    """What a person reads for an edition's state, on the job pages and in `accessible-lib jobs`."""
    if edition["status"] == QUEUED and edition.get("attempts") and edition.get("error"):
        return gettext("Waiting to try again")
    return gettext(STATUS_TEXT.get(edition["status"], edition["status"]))


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def options_key(options: dict) -> str:
    """Canonical JSON: the same options always give the same key, whatever their order."""
    return json.dumps(options, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_edition(
    db: Database, book_id: int, format: str, options: dict, *, requested_by: str | None = None
) -> tuple[int, bool]:
    """The edition for (book, format, options): an existing one is reused; a failed one is queued again.

    Returns (edition id, whether it must be queued now).
    """
    key = options_key(options)
    with db.conn:
        row = db.execute(
            "SELECT id, status, outdated_at FROM editions "
            "WHERE book_id = ? AND format = ? AND options_key = ?",
            [book_id, format, key],
        ).fetchone()
        if row is not None:
            edition_id, status, outdated_at = row
            # A finished edition made from chapters since rebuilt is made again; any other is reused.
            if status != FAILED and not (status == DONE and outdated_at):
                return edition_id, False
            db.execute(
                "UPDATE editions SET status = ?, progress = 0, step = NULL, eta_seconds = NULL, "
                "error = NULL, attempts = 0, lease_token = NULL, lease_expires_at = NULL, retry_at = NULL, "
                "outdated_at = NULL, queued_at = ?, "
                "updated_at = ?, requested_by = coalesce(?, requested_by) WHERE id = ?",
                [QUEUED, _now_iso(), _now_iso(), requested_by, edition_id],
            )
            return edition_id, True
        identifier = identifiers.for_new_edition(db, book_id, format, options)
        cursor = db.execute(
            "INSERT INTO editions (book_id, format, options, options_key, status, progress, attempts, "
            "requested_by, created_at, updated_at, queued_at, identifier) "
            "VALUES (?, ?, ?, ?, ?, 0, 0, ?, ?, ?, ?, ?)",
            [book_id, format, key, key, QUEUED, requested_by, _now_iso(), _now_iso(), _now_iso(), identifier],
        )
        return cursor.lastrowid, True


def _rows(db: Database, sql: str, params: list) -> list[dict]:
    cursor = db.execute(sql, params)
    columns = [c[0] for c in cursor.description]
    rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:
        if "options" in row:
            row["options"] = json.loads(row["options"] or "{}")
    return rows


_EDITION_COLUMNS = (
    "e.id, e.book_id, e.format, e.options, e.status, e.progress, e.step, e.eta_seconds, e.error, e.attempts, "
    "e.lease_expires_at, e.retry_at, e.requested_by, e.created_at, e.queued_at, e.started_at, e.finished_at, "
    "e.updated_at, e.storage_key, e.total_bytes, e.outdated_at, e.identifier, b.title AS book_title, "
    "b.language AS book_language"
)


@contextmanager
def _one_snapshot(db: Database) -> Iterator[None]:
    """Several SELECTs read one state of the database: an edition and its files are written in one
    transaction (complete), and a reader between two statements once saw a finished edition without its
    files (tests/test_sigkill.py, 1 run in 4). Inside a caller's own transaction, that one already holds."""
    if db.conn.in_transaction:
        yield
        return
    db.conn.execute("BEGIN")
    try:
        yield
    finally:
        db.conn.rollback()  # nothing was written: ends the read transaction


def get_edition(db: Database, edition_id: int) -> dict | None:
    with _one_snapshot(db):
        rows = _rows(
            db,
            f"SELECT {_EDITION_COLUMNS} FROM editions e JOIN books b ON b.id = e.book_id WHERE e.id = ?",
            [edition_id],
        )
        if not rows:
            return None
        edition = rows[0]
        edition["files"] = files_of(db, edition_id)
        return edition


def files_of(db: Database, edition_id: int) -> list[dict]:
    return _rows(
        db,
        "SELECT name, media_type, size, sha256, role, chapter, title, seconds FROM edition_files"
        " WHERE edition_id = ? ORDER BY position",
        [edition_id],
    )


def editions_for_book(db: Database, book_id: int, *, status: str | None = None) -> list[dict]:
    sql = f"SELECT {_EDITION_COLUMNS} FROM editions e JOIN books b ON b.id = e.book_id WHERE e.book_id = ?"
    params: list = [book_id]
    if status:
        sql += " AND e.status = ?"
        params.append(status)
    with _one_snapshot(db):
        editions = _rows(db, sql + " ORDER BY e.format, e.id", params)
        for edition in editions:
            edition["files"] = files_of(db, edition["id"])
    return editions


def list_jobs(
    db: Database, *, status: str | None = None, outdated: bool = False, limit: int = 200
) -> list[dict]:
    """Newest first; running and queued work before finished work. `outdated`: only finished editions made
    before their book's chapters were rebuilt, the ones staff have to make again."""
    sql = f"SELECT {_EDITION_COLUMNS} FROM editions e JOIN books b ON b.id = e.book_id"
    params: list = []
    if outdated:
        sql += " WHERE e.status = ? AND e.outdated_at IS NOT NULL"
        params.append(DONE)
    elif status:
        sql += " WHERE e.status = ?"
        params.append(status)
    sql += (
        " ORDER BY CASE e.status WHEN 'running' THEN 0 WHEN 'queued' THEN 1 WHEN 'failed' THEN 2 ELSE 3 END,"
        " e.updated_at DESC, e.id DESC LIMIT ?"
    )
    return _rows(db, sql, [*params, limit])


def claim(db: Database, edition_id: int, *, lease_seconds: float, now: float | None = None) -> str | None:
    """Start an attempt: returns its lease token, or None when the edition is done or held by a live lease."""
    now = time.time() if now is None else now
    token = secrets.token_hex(16)
    with db.conn:
        cursor = db.execute(
            "UPDATE editions SET status = ?, lease_token = ?, lease_expires_at = ?, attempts = attempts + 1, "
            "started_at = ?, updated_at = ?, progress = 0, step = NULL, eta_seconds = NULL, error = NULL "
            "WHERE id = ? AND (status = ? OR (status = ? AND lease_expires_at < ?))",
            [RUNNING, token, now + lease_seconds, _now_iso(), _now_iso(), edition_id, QUEUED, RUNNING, now],
        )
    return token if cursor.rowcount == 1 else None


def renew(
    db: Database,
    edition_id: int,
    token: str,
    *,
    lease_seconds: float,
    progress: int | None = None,
    step: str | None = None,
    eta_seconds: int | None = None,
) -> bool:
    """Extend the lease and record progress; False means the lease was lost and the worker must stop."""
    with db.conn:
        cursor = db.execute(
            "UPDATE editions SET lease_expires_at = ?, progress = coalesce(?, progress), "
            "step = coalesce(?, step), eta_seconds = ?, updated_at = ? "
            "WHERE id = ? AND lease_token = ? AND status = ?",
            [
                time.time() + lease_seconds,
                progress,
                step,
                eta_seconds,
                _now_iso(),
                edition_id,
                token,
                RUNNING,
            ],
        )
    return cursor.rowcount == 1


def complete(db: Database, edition_id: int, token: str, *, storage_key: str, files: list[dict]) -> bool:
    """Record the published files; `files` are dicts with name, media_type, size, sha256.

    One explicit transaction: sqlite-utils commits each write statement made outside one at once, so under
    `with db.conn` alone a reader could see the edition done before its files were listed."""
    with db.conn:
        if not db.conn.in_transaction:
            db.conn.execute("BEGIN IMMEDIATE")
        cursor = db.execute(
            "UPDATE editions SET status = ?, progress = 100, step = NULL, eta_seconds = 0, error = NULL, "
            "lease_token = NULL, lease_expires_at = NULL, finished_at = ?, updated_at = ?, storage_key = ?, "
            "total_bytes = ? WHERE id = ? AND lease_token = ? AND status = ?",
            [
                DONE,
                _now_iso(),
                _now_iso(),
                storage_key,
                sum(f["size"] for f in files),
                edition_id,
                token,
                RUNNING,
            ],
        )
        if cursor.rowcount != 1:
            return False
        db.execute("DELETE FROM edition_files WHERE edition_id = ?", [edition_id])
        db.conn.executemany(
            "INSERT INTO edition_files (edition_id, position, name, media_type, size, sha256, role, chapter,"
            " title, seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    edition_id,
                    i,
                    f["name"],
                    f["media_type"],
                    f["size"],
                    f["sha256"],
                    f.get("role"),
                    f.get("chapter"),
                    f.get("title"),
                    f.get("seconds"),
                )  # fmt: skip
                for i, f in enumerate(files)
            ],
        )
    return True


def fail(db: Database, edition_id: int, token: str, *, error: str, retry_at: float | None) -> bool:
    """End an attempt that raised: queued again for `retry_at`, or failed for good when it is None."""
    with db.conn:
        cursor = db.execute(
            "UPDATE editions SET status = ?, error = ?, retry_at = ?, lease_token = NULL, "
            "lease_expires_at = NULL, step = NULL, eta_seconds = NULL, updated_at = ?, finished_at = ? "
            "WHERE id = ? AND lease_token = ? AND status = ?",
            [
                QUEUED if retry_at is not None else FAILED,
                error,
                retry_at,
                _now_iso(),
                None if retry_at is not None else _now_iso(),
                edition_id,
                token,
                RUNNING,
            ],
        )
    return cursor.rowcount == 1


def expired_leases(db: Database, *, now: float | None = None) -> list[int]:
    """Running editions whose worker stopped renewing: presumed dead, to be queued again."""
    now = time.time() if now is None else now
    return [
        row[0]
        for row in db.execute(
            "SELECT id FROM editions WHERE status = ? AND lease_expires_at < ? ORDER BY id", [RUNNING, now]
        )
    ]


def release_expired(db: Database, edition_id: int, *, now: float | None = None) -> bool:
    """Put a presumed-dead attempt back in the queue (only if its lease is still expired)."""
    now = time.time() if now is None else now
    with db.conn:
        cursor = db.execute(
            "UPDATE editions SET status = ?, lease_token = NULL, lease_expires_at = NULL, step = NULL, "
            "updated_at = ? WHERE id = ? AND status = ? AND lease_expires_at < ?",
            [QUEUED, _now_iso(), edition_id, RUNNING, now],
        )
    return cursor.rowcount == 1


def queued_due(db: Database, *, now: float | None = None) -> list[int]:
    """Queued editions whose retry time has come (or that never had one)."""
    now = time.time() if now is None else now
    return [
        row[0]
        for row in db.execute(
            "SELECT id FROM editions WHERE status = ? AND (retry_at IS NULL OR retry_at <= ?) ORDER BY id",
            [QUEUED, now],
        )
    ]
