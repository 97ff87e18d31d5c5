"""The kept pages shared by the web processes of one machine: a page one process rendered, the others
serve without rendering it again.

Why: with one process per core, each process kept its own pages (page_cache.py), so each rendered every
book page once. At 150,000 books the first views of book pages are what sets their p99 under load; shared,
a page is rendered once for all the processes.

A small SQLite file beside the catalogue (`page_cache-<code>.db` in the data directory), never the
catalogue itself: its writes must not wait for the catalogue's writer lock, nor the catalogue's for them.
It is only a cache: it is read and written from the event loop without waiting (busy timeout 0; a page
that cannot be written because another process is writing is simply not shared), commits without syncing
(a crash may lose or, at worst, spoil it: an unreadable file is replaced), and `<code>` is a fingerprint of
the code, templates, translations and settings, so pages made by an older deploy are never served by a
newer one; `accessible-lib serve` also empties it as it starts (`forget_all`).
Each row keeps the catalogue version it was made at, read and checked as in page_cache.py.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from pathlib import Path

from ..settings import SETTINGS, Settings

log = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parents[1]
TEMPLATES = PACKAGE.parent / "templates"
TRIM_EVERY = 500  # writes between two trims of the file to its bound


def code_fingerprint(settings: Settings) -> str:
    """Names, sizes and times of every file a page is made from, and the settings (but the secret ones):
    any change of code, template, translation or setting (a page size, the site's address) gives a new
    fingerprint."""
    digest = hashlib.sha256()
    for setting in SETTINGS:
        if not setting.secret:
            digest.update(f"{setting.name}={getattr(settings, setting.name)!r}\n".encode())
    for root, patterns in ((PACKAGE, ("*.py", "*.mo", "*.po")), (TEMPLATES, ("*.html",))):
        for pattern in patterns:
            for path in sorted(root.rglob(pattern)):
                stat = path.stat()
                digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def forget_all(data_dir: Path) -> None:
    """Every shared page gone: `serve` calls it before its processes start, and the scale bench before each
    run, so that no run's figures are carried by the pages of the run before."""
    for path in data_dir.glob("page_cache-*.db*"):
        path.unlink(missing_ok=True)


class SharedPages:
    """Pages by key in one SQLite file; `get` and `put` never wait and never raise."""

    def __init__(self, settings: Settings, max_rows: int):
        self.path = settings.data_dir / f"page_cache-{code_fingerprint(settings)}.db"
        self.max_rows = max(100, max_rows)
        self._db: sqlite3.Connection | None = None
        self._writes = 0
        self._broken = False

    def _connection(self) -> sqlite3.Connection | None:
        if self._db is None and not self._broken:
            try:
                self._db = self._open()
            except sqlite3.Error:
                log.warning("the shared page cache %s could not be opened; replacing it", self.path)
                self.path.unlink(missing_ok=True)
                try:
                    self._db = self._open()
                except sqlite3.Error:
                    log.exception("no shared page cache: each process keeps its own pages")
                    self._broken = True
        return self._db

    def _open(self) -> sqlite3.Connection:
        for old in self.path.parent.glob("page_cache-*.db*"):  # an older deploy's pages
            if not old.name.startswith(self.path.name):
                old.unlink(missing_ok=True)
        db = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = OFF")
        db.execute(
            "CREATE TABLE IF NOT EXISTS pages (key TEXT PRIMARY KEY, version INTEGER NOT NULL, "
            "status INTEGER NOT NULL, headers TEXT NOT NULL, body BLOB NOT NULL, has_token INTEGER NOT NULL)"
        )
        return db

    def get(self, key: str, version: int) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool] | None:
        db = self._connection()
        if db is None:
            return None
        try:
            row = db.execute(
                "SELECT status, headers, body, has_token FROM pages WHERE key = ? AND version = ?",
                [key, version],
            ).fetchone()
        except sqlite3.Error:
            return None  # busy or spoilt: render instead
        if row is None:
            return None
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in json.loads(row[1])]
        return row[0], headers, row[2], bool(row[3])

    def put(self, key: str, version: int, status: int, headers, body: bytes, has_token: bool) -> None:
        db = self._connection()
        if db is None:
            return
        encoded = json.dumps([(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers])
        try:
            db.execute(
                "INSERT OR REPLACE INTO pages (key, version, status, headers, body, has_token) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [key, version, status, encoded, body, int(has_token)],
            )
            self._writes += 1
            if self._writes % TRIM_EVERY == 0:
                self._trim(version)
        except sqlite3.Error:
            pass  # another process is writing: this page is simply not shared

    def _trim(self, version: int) -> None:
        """Pages of older catalogue versions go, then the oldest written past the bound."""
        assert self._db is not None
        self._db.execute("DELETE FROM pages WHERE version != ?", [version])
        self._db.execute(
            "DELETE FROM pages WHERE rowid <= (SELECT max(rowid) FROM pages) - ?", [self.max_rows]
        )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
