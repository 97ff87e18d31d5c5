"""Opening the catalogue: one place that sets WAL, foreign keys and runs pending migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database

from . import search
from .migrations import migrations


def open_database(path: Path, *, migrate: bool = True) -> Database:
    """Open (creating when needed) the catalogue at `path`.

    WAL lets readers go on while the single writer imports; `busy_timeout` makes a second writer wait
    instead of failing at once.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
    search.register_functions(conn)  # the chapter search index reads its text through this function
    db = Database(conn)
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA busy_timeout = 30000")
    if db.journal_mode != "wal":
        db.enable_wal()
    if migrate:
        migrations.apply(db)
    return db


def sqlite_uri(path: Path, mode: str) -> str:
    """A `file:` URI for sqlite3.connect(uri=True): `mode=ro` or `rw` never creates a missing file, which a
    check or a copy must not do. The path is quoted: `?` or `#` in a directory name would end it."""
    from urllib.parse import quote

    return f"file:{quote(str(path))}?mode={mode}"
