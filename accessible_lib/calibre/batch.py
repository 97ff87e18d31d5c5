"""Many Calibre books in one transaction, each book still all or nothing.

A commit costs a sync of the catalogue to disk, and so did the copy of each book's file: paid per book they
held `import-calibre` to 20 books a second, two hours for a national collection. Here a batch of books is one
transaction and each book a savepoint inside it: what fails in one book is rolled back to its savepoint (it
changes nothing, and its kept copy is removed) while the others of the batch go on. The copies of the
batch's files are written under temporary names and made durable together, with one sync of their
filesystem, before they take their final names and the transaction commits: a crash leaves either a whole
copy under its final name or none, as `importer._keep_source` promises for one file.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

from ..settings import Settings

BATCH_BOOKS = 200  # a few seconds of work: a crash loses at most that, and a re-run redoes it


def _sync_filesystem(folder: Path, files: list[Path]) -> None:
    """Make `files` durable: one syncfs(2) of their filesystem where Linux has it, else each fsync'd."""
    syncfs = getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None) if os.name == "posix" else None
    if syncfs is not None:
        fd = os.open(folder, os.O_RDONLY)
        try:
            if syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    for path in files:
        with path.open("rb") as handle:
            os.fsync(handle.fileno())


def _sync_folder(folder: Path) -> None:
    """The renames in `folder` made durable, where the platform can open a folder to sync it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Batch:
    """One transaction over several books: `book()` is one book's savepoint, `commit()` ends the batch."""

    def __init__(self, db: Database, settings: Settings):
        self.db, self.settings = db, settings
        self.books = 0
        self._pending: dict[Path, Path] = {}  # final copy -> its temporary file, this batch's
        self._mine: list[Path] = []  # the final names the current book asked for first
        self._open = False

    def _begin(self) -> None:
        if not self._open:
            if self.db.conn.in_transaction:
                raise RuntimeError("a batch needs the connection outside any transaction")
            self.db.execute("BEGIN")
            self._open = True

    @contextmanager
    def book(self):
        """One book's writes: all kept when the block ends normally, none when it raises (re-raised)."""
        self._begin()
        self.db.execute("SAVEPOINT calibre_book")
        self._mine = []
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK TO calibre_book")
            self.db.execute("RELEASE calibre_book")
            for target in self._mine:
                self._pending.pop(target).unlink(missing_ok=True)
            raise
        finally:
            self._mine = []
        self.db.execute("RELEASE calibre_book")
        self.books += 1

    def keep_source(self, path: Path, checksum: str, copy: Path | None = None) -> str:
        """`importer._keep_source` for a book of this batch: the copy takes its name at `commit()`.
        `copy` is one already made in the sources folder (prefetch.py): this batch's now, or removed."""
        sources = self.settings.sources_dir
        sources.mkdir(parents=True, exist_ok=True)
        target = sources / f"{checksum}{path.suffix.lower()}"
        relative = target.relative_to(self.settings.data_dir).as_posix()
        if target in self._pending or target.exists():
            if copy is not None:
                copy.unlink(missing_ok=True)
            return relative
        if copy is None:
            handle, temporary = tempfile.mkstemp(dir=sources, prefix=".import-")
            os.close(handle)
            copy = Path(temporary)
            try:
                shutil.copyfile(path, copy)  # the kernel copies (copy_file_range/sendfile), not Python
            except BaseException:
                copy.unlink(missing_ok=True)
                raise
        self._pending[target] = copy
        self._mine.append(target)
        return relative

    def commit(self) -> None:
        """The batch's copies made durable and named, then its transaction committed. When the commit
        fails, the copies it named are removed again and the error raised: nothing of the batch is kept."""
        named = []
        try:
            if self._pending:
                _sync_filesystem(self.settings.sources_dir, list(self._pending.values()))
                for target, temporary in self._pending.items():
                    os.replace(temporary, target)
                    named.append(target)
                self._pending = {}
                _sync_folder(self.settings.sources_dir)
            if self._open:
                self.db.conn.commit()
        except BaseException:
            self.rollback()
            for target in named:
                target.unlink(missing_ok=True)
            raise
        finally:
            self._open, self.books = False, 0

    def rollback(self) -> None:
        """Nothing of the open batch kept: its transaction rolled back, its temporary copies removed."""
        if self._open:
            self.db.conn.rollback()
        for temporary in self._pending.values():
            temporary.unlink(missing_ok=True)
        self._pending = {}
        self._open, self.books = False, 0
