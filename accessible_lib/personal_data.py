"""A reader's personal data, all of it: exported as JSON, or deleted with the account.

Why the tables are found, not listed: every table that holds a reader's data has a `reader_id` column (or a
foreign key to `readers`), by the rule in `migrations/`. Finding them in the schema at run time means a
table added later (the shelf, the download log) is exported and deleted without anyone remembering to
change this module. Sessions name their account `account_id` with a `kind`, so they are handled by name.

Secrets are never exported: any column ending in `_hash` (password, session and link tokens) is left out.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlite_utils import Database

from . import evidence, sessions
from .settings import Settings

SECRET_SUFFIX = "_hash"


def reader_columns(db: Database) -> dict[str, list[str]]:
    """{table: [columns that name a reader]} for every table but `readers` itself."""
    found: dict[str, list[str]] = {}
    for table in db.table_names():
        if table == "readers" or table.startswith(("sqlite_", "_")) or "_fts" in table:
            continue
        columns = [row[1] for row in db.execute(f"PRAGMA table_info([{table}])")]
        names = {name for name in columns if name == "reader_id"}
        for row in db.execute(f"PRAGMA foreign_key_list([{table}])"):
            if row[2] == "readers":
                names.add(row[3])
        if names:
            found[table] = sorted(names)
    return found


def _rows(db: Database, table: str, where: str, params: list) -> list[dict]:
    cursor = db.execute(f"SELECT * FROM [{table}] WHERE {where} ORDER BY rowid", params)
    names = [d[0] for d in cursor.description]
    return [
        {name: value for name, value in zip(names, row, strict=True) if not name.endswith(SECRET_SUFFIX)}
        for row in cursor.fetchall()
    ]


def export(db: Database, reader_id: int) -> dict:
    """Everything the library holds about the reader, table by table."""
    account = _rows(db, "readers", "id = ?", [reader_id])
    tables: dict[str, list[dict]] = {}
    for table, columns in sorted(reader_columns(db).items()):
        where = " OR ".join(f"[{column}] = ?" for column in columns)
        rows = _rows(db, table, where, [reader_id] * len(columns))
        if rows:
            tables[table] = rows
    tables["sessions"] = _rows(db, "sessions", "kind = ? AND account_id = ?", [sessions.READER, reader_id])
    return {
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "account": account[0] if account else None,
        "tables": tables,
    }


def export_json(db: Database, reader_id: int) -> bytes:
    return json.dumps(export(db, reader_id), ensure_ascii=False, indent=2, default=str).encode("utf-8")


def delete_reader(db: Database, settings: Settings, reader_id: int) -> None:
    """Remove the account, every row that names it, its sessions and its evidence files.

    Foreign keys are checked at the end of the transaction (`defer_foreign_keys`), so the tables can be
    emptied in any order; the files go after the rows are gone, so a failure leaves no row without its file.
    """
    stored = [
        row[0]
        for row in db.execute("SELECT stored_name FROM eligibility_evidence WHERE reader_id = ?", [reader_id])
    ]
    tables = reader_columns(db)
    conn = db.conn
    if conn.in_transaction:
        conn.commit()
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("PRAGMA defer_foreign_keys = ON")  # for this transaction only
        for table, columns in tables.items():
            where = " OR ".join(f"[{column}] = ?" for column in columns)
            conn.execute(f"DELETE FROM [{table}] WHERE {where}", [reader_id] * len(columns))
        conn.execute("DELETE FROM sessions WHERE kind = ? AND account_id = ?", [sessions.READER, reader_id])
        conn.execute("DELETE FROM readers WHERE id = ?", [reader_id])
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    for name in stored:
        evidence.remove(settings, name)
