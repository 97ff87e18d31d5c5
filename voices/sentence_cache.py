"""Spoken sentences kept on disk, so that no sentence is synthesised twice for the same voice and rate.

The instant listening route (a chapter streamed while it is spoken) and the MP3, DAISY and EPUB 3 builders
speak the same sentences (one split, voices.text), so they share one cache: a chapter heard at once makes
its edition faster, and a built edition makes its chapters start at once.

What is kept is each sentence's raw PCM, not MP3. MP3 frames of separately encoded sentences do not join
cleanly (each encoding adds its own encoder delay and pads its last frame, so a chapter would gain a click
and ~50 ms per sentence and its clip times would drift), while PCM joins exactly and every builder already
counts samples to time its clips. The duration is the PCM's length: 16-bit mono at `SAMPLE_RATE`.

The key is content-addressed (`cache_key`): engine, voice, rate, the pronunciation dictionary's version and
the sentence's speech text. A dictionary change gives its sentences new keys; the old entries age out.
Files are written to a temporary name and renamed, so several processes (web, workers) share the cache
safely; the least recently used files go when the cache outgrows its bound.

Which files are least recently used, and how many bytes the cache holds, is kept in a small SQLite index
beside them (`index.sqlite3`: each file's size and last use, and a running total kept by triggers), which
every process sharing the cache updates as it writes and reads. Eviction used to list and stat every file
each time a tenth of the bound had been written: with the default 2 GB bound a long book's edition (War and
Peace: ~10 GB of PCM and MP3 through the cache) rescanned tens of thousands of files some fifty times,
and its full build took 100 s longer than with a bound it never reached. Now a write that takes the total
past the bound removes only the oldest entries, found by an index on their last use. An index that is
new (a cache from before it, or one deleted) is filled by one scan of the files, in their modification
time order. The index is only bookkeeping: when it cannot be written (a full disk, a lock held too long)
the sentence is still kept and read.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

KEY_VERSION = "1"  # bump when what a key covers changes, so old entries are never read with a new meaning
_SUFFIX = ".pcm"
INDEX = "index.sqlite3"
_TOUCHES = 256  # uses kept in memory before they are written to the index (or with the next write)
_SCHEMA = (
    "CREATE TABLE files (name TEXT PRIMARY KEY, size INTEGER NOT NULL, used INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE INDEX files_by_use ON files (used)",
    "CREATE TABLE total (id INTEGER PRIMARY KEY CHECK (id = 0), bytes INTEGER NOT NULL)",
    "INSERT INTO total VALUES (0, 0)",
    "CREATE TRIGGER files_added AFTER INSERT ON files BEGIN "
    "UPDATE total SET bytes = bytes + new.size WHERE id = 0; END",
    "CREATE TRIGGER files_resized AFTER UPDATE OF size ON files BEGIN "
    "UPDATE total SET bytes = bytes + new.size - old.size WHERE id = 0; END",
    "CREATE TRIGGER files_removed AFTER DELETE ON files BEGIN "
    "UPDATE total SET bytes = bytes - old.size WHERE id = 0; END",
)
_UPSERT = (
    "INSERT INTO files (name, size, used) VALUES (?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET size = excluded.size, used = excluded.used"
)
_TOUCH = _UPSERT.replace("size = excluded.size, ", "")  # a use: the size stays as it was written


def cache_key(text: str, voice: str, rate: int, lexicon_version: str = "", *, engine: str = "") -> str:
    """The hex SHA-256 of everything that changes a sentence's audio.

    `voice` is what the reader chose, or, when they chose none, what picks the voice (the language); the
    pronunciation dictionary's `lexicon_version` is a string that changes whenever an entry that applies to
    this text changes (empty: no dictionary). Fields are joined with a unit separator, which none contains.
    """
    fields = (KEY_VERSION, engine, voice, str(int(rate)), lexicon_version, text)
    return hashlib.sha256("\x1f".join(fields).encode("utf-8")).hexdigest()


class SentenceCache:
    """PCM by key, under `root` (two-level fan-out by the key's first two hex digits), at most `max_bytes`."""

    def __init__(self, root: Path | str, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = max(0, int(max_bytes))
        self.hits = 0
        self.misses = 0
        self._lock = threading.RLock()  # one index connection per process, shared by its threads
        self._db: sqlite3.Connection | None = None
        self._pid = 0
        self._touched: dict[str, tuple[int, int, int]] = {}  # uses not yet in the index: name -> row

    def path(self, key: str, suffix: str = _SUFFIX) -> Path:
        return self.root / key[:2] / f"{key}{suffix}"

    def whole(self, key: str, suffix: str) -> Path | None:
        """A whole file kept beside the sentences (a chapter's MP3), refreshed as used; None if absent."""
        path = self.path(key, suffix)
        try:
            size = path.stat().st_size
        except OSError:
            return None
        self._used(path.name, size)
        with self._lock:
            self.hits += 1
        return path

    def keep(self, key: str, suffix: str, source: Path, *, link: bool = False) -> Path | None:
        """Move a finished file (on the same file system) into the cache under `key`; with `link`, add a hard
        link instead and leave `source` where it is (an edition's chapter MP3, kept without a copy)."""
        if not self.max_bytes:
            if not link:
                source.unlink(missing_ok=True)
            return None
        path = self.path(key, suffix)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            size = source.stat().st_size
            if link:
                temporary = path.with_name(f".part-{os.getpid()}-{threading.get_ident()}-{path.name}")
                temporary.unlink(missing_ok=True)
                os.link(source, temporary)
                os.replace(temporary, path)
            else:
                os.replace(source, path)
        except OSError:
            if not link:
                source.unlink(missing_ok=True)
            return None
        self._added(path.name, size)
        return path

    def get(self, key: str, suffix: str = _SUFFIX) -> bytes | None:
        path = self.path(key, suffix)
        try:
            data = path.read_bytes()
        except OSError:
            with self._lock:
                self.misses += 1
            return None
        self._used(path.name, len(data))  # recently used: the last to be evicted
        with self._lock:
            self.hits += 1
        return data

    def put(self, key: str, pcm: bytes, suffix: str = _SUFFIX) -> None:
        if not self.max_bytes:
            return
        path = self.path(key, suffix)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(prefix=".part-", dir=path.parent)
            with os.fdopen(fd, "wb") as file:
                file.write(pcm)
            os.replace(temporary, path)
        except OSError:  # a full disk must not stop a reader's listening or an edition: it is only a cache
            return
        self._added(path.name, len(pcm))

    def evict(self) -> int:
        """Remove the least recently used entries until the cache fits its bound; returns bytes removed."""
        return self._write(lambda db: self._evict(db)) or 0

    def size(self) -> int:
        """Bytes in the cache, as its index counts them."""
        return self._write(lambda db: db.execute("SELECT bytes FROM total").fetchone()[0], begin=False) or 0

    # -- the index ------------------------------------------------------------------------------------------
    def flush(self) -> None:
        """Write the uses not yet recorded (a rebuild reads hundreds of kept files: one transaction each
        would cost more than reading them)."""
        self._write(lambda db: None)

    def _added(self, name: str, size: int) -> None:
        def add(db: sqlite3.Connection) -> None:
            db.execute(_UPSERT, (name, size, time.time_ns()))
            self._evict(db)

        self._write(add)

    def _used(self, name: str, size: int) -> None:
        with self._lock:
            self._touched[name] = (name, size, time.time_ns())
            if len(self._touched) >= _TOUCHES:
                self.flush()

    def _evict(self, db: sqlite3.Connection) -> int:
        """Within a write transaction: remove the oldest entries while the total is over the bound."""
        removed = 0
        (total,) = db.execute("SELECT bytes FROM total").fetchone()
        while total > self.max_bytes:
            oldest = db.execute("SELECT name, size FROM files ORDER BY used LIMIT 64").fetchall()
            if not oldest:
                break
            for name, size in oldest:
                if total <= self.max_bytes:
                    break
                (self.root / name[:2] / name).unlink(missing_ok=True)
                db.execute("DELETE FROM files WHERE name = ?", (name,))
                total -= size
                removed += size
        return removed

    def _write(self, work, *, begin: bool = True):
        """Run `work(connection)` in one transaction (taken at once, so two processes never both evict the
        same bytes); None when the index cannot be used."""
        with self._lock:
            try:
                db = self._connection()
                if not begin:
                    return work(db)
                db.execute("BEGIN IMMEDIATE")
                try:
                    touched, self._touched = list(self._touched.values()), {}
                    db.executemany(_TOUCH, touched)
                    result = work(db)
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
                return result
            except (OSError, sqlite3.Error):
                return None

    def _connection(self) -> sqlite3.Connection:
        if self._db is not None and self._pid == os.getpid():
            return self._db
        self.root.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.root / INDEX, timeout=30, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("BEGIN IMMEDIATE")
        try:
            if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'files'").fetchone():
                for statement in _SCHEMA:
                    db.execute(statement)
                self._scan(db)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            db.close()
            raise
        self._db, self._pid = db, os.getpid()
        return db

    def _scan(self, db: sqlite3.Connection) -> None:
        """Fill a new index from the files already here, their modification time as their last use."""
        rows = []
        for path in self._files():
            try:
                stat = path.stat()
            except OSError:
                continue
            rows.append((path.name, stat.st_size, stat.st_mtime_ns))
        db.executemany(_UPSERT, rows)

    def _files(self):
        return (p for p in self.root.glob("*/*") if not p.name.startswith(".part-"))
