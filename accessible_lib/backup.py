"""Backing the library up while it serves, and restoring a backup into an empty data directory.

What is kept: the catalogue (books, readers, staff, editions, shelves: everything in catalogue.db), the files
it names (each finished edition's files, readers' evidence, the kept originals of imported books) and the
session key. What is not: the job queue (the catalogue's edition rows are the truth about work, and a
restored library queues what is due again), jieba's cache, the spoken-sentence cache (made again as
chapters are heard or built) and uploads still arriving.

Why the catalogue first, then the files. SQLite's online backup copies the catalogue as one snapshot (one
read transaction; in WAL mode writers go on meanwhile). Everything the snapshot names existed when it was
taken: an edition is marked done only after its files are published, evidence is written before its row,
a source before its book. Copying the files afterwards therefore finds them, with two exceptions, both
handled so that the backup's catalogue names only files the backup holds:
- an edition made again after the snapshot: its link now points at the new files, but the old publication
  stays on disk for an hour (storage.LocalStorage's grace period), and the files are picked by the sha256
  the snapshot records, so the backup holds the edition the snapshot describes;
- a file deleted after the snapshot (a reader deleted their account; an edition past its grace period): the
  backup's catalogue forgets it (the evidence row is dropped, the edition is queued to be made again).
The other order (files, then the catalogue) would back up a catalogue naming editions finished in between,
whose files the backup lacks. An edition still running in the snapshot is restored as queued.

The manifest (manifest.json, written last: a backup without one is incomplete) lists every file copied with
its size and sha256, computed while copying. Restore checks every entry before writing anything, builds the
new data directory beside the target and renames it into place (inside it when it exists, empty, since it may
be a mount point), so a failed restore leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from . import evidence
from .db import open_database, sqlite_uri
from .editions import store
from .editions.storage import PUBLISHED_DIR, LocalStorage, check_key
from .i18n import TranslatableError
from .ingest.errors import N_
from .settings import Settings

MANIFEST = "manifest.json"
KIND = "accessible-lib backup"
VERSION = 1
DATABASE = "catalogue.db"
SECRET_KEY = "secret_key"
EDITIONS, EVIDENCE, SOURCES = "editions", "evidence", "sources"
BLOCK = 1 << 20
MISMATCH = N_(
    "%(file)s in the backup does not match its manifest (changed or damaged); nothing was restored."
)


class BackupError(TranslatableError):
    """A backup or restore that cannot go ahead; its message says why and what to do."""


@dataclass
class Report:
    """What a backup or restore did, for the command's summary."""

    files: int = 0
    bytes: int = 0
    editions: int = 0
    evidence: int = 0
    sources: int = 0
    requeued: list[int] = field(default_factory=list)  # editions whose files were gone: made again
    dropped_evidence: int = 0  # evidence deleted after the snapshot: its rows left out


@dataclass
class _Manifest:
    entries: list[dict] = field(default_factory=list)

    def add(self, root: Path, path: Path, size: int, digest: str) -> None:
        self.entries.append({"path": path.relative_to(root).as_posix(), "size": size, "sha256": digest})


def copy_hashed(source: Path, target: Path) -> tuple[int, str]:
    """Copy one file, returning its size and sha256 as read: the copy is what was hashed."""
    digest = hashlib.sha256()
    size = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open("rb") as reader, target.open("wb") as writer:
        for block in iter(lambda: reader.read(BLOCK), b""):
            digest.update(block)
            writer.write(block)
            size += len(block)
        writer.flush()
        os.fsync(writer.fileno())
    return size, digest.hexdigest()


def hash_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as reader:
        for block in iter(lambda: reader.read(BLOCK), b""):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


# ---------------------------------------------------------------------------------------------- backup


def backup(settings: Settings, target: Path) -> Report:
    """Back the library at `settings.data_dir` up into `target` (new or empty), while it serves."""
    target = Path(target)
    if target.exists() and not _is_empty_dir(target):
        raise BackupError(
            N_("The backup folder %(path)s is not empty: back up into a new or empty folder."),
            path=str(target),
        )
    if not settings.database_path.is_file():
        raise BackupError(
            N_("There is no library to back up at %(path)s: its catalogue.db is missing."),
            path=str(settings.data_dir),
        )
    # Readers' evidence and the session key are in it: only its owner may read it.
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(target, 0o700)
    report = Report()
    manifest = _Manifest()
    snapshot = target / DATABASE
    _snapshot_database(settings.database_path, snapshot)
    db = open_database(snapshot, migrate=False)
    try:
        _copy_editions(db, settings, target, manifest, report)
        _copy_evidence(db, settings, target, manifest, report)
        _copy_sources(db, settings, target, manifest, report)
        _requeue_running(db)
        db.conn.commit()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    _single_file(snapshot)
    manifest.add(target, snapshot, *hash_file(snapshot))
    secret = settings.data_dir / SECRET_KEY
    if secret.is_file():
        copied = target / SECRET_KEY
        manifest.add(target, copied, *copy_hashed(secret, copied))
        os.chmod(copied, 0o600)
    report.files = len(manifest.entries)
    report.bytes = sum(entry["size"] for entry in manifest.entries)
    _write_manifest(target, manifest, report)
    return report


def _snapshot_database(source: Path, target: Path) -> None:
    """SQLite's online backup in one step: one read transaction, so one consistent snapshot, and in WAL
    mode the library's writers are not held up. (Copying in several steps would start over each time a
    writer changed the catalogue in between, and under steady load might never finish.)"""
    src = sqlite3.connect(sqlite_uri(source, "rw"), uri=True, timeout=30)
    try:
        dst = sqlite3.connect(str(target))
        try:
            src.backup(dst, pages=-1)
        finally:
            dst.close()
    finally:
        src.close()


def _single_file(snapshot: Path) -> None:
    """Leave the snapshot as one self-contained file (no -wal or -shm beside it); the restored library
    switches it back to WAL when it opens it."""
    conn = sqlite3.connect(str(snapshot))
    try:
        conn.execute("PRAGMA journal_mode = DELETE")
    finally:
        conn.close()


def _candidates(root: Path, key: str) -> list[Path]:
    """Where the edition `key`'s files may be: the current publication first, then replaced ones still in
    their grace period, newest first."""
    found = []
    link = root / key
    if link.is_symlink() and link.is_dir():
        found.append(link.resolve())
    published = root / PUBLISHED_DIR
    if published.is_dir():
        others = [p for p in published.glob(f"{key}.*") if p.is_dir() and p.resolve() not in found]
        found += sorted(others, key=lambda p: p.stat().st_mtime, reverse=True)
    return found


def _copy_edition(files: list[dict], candidates: list[Path], folder: Path) -> list[tuple[Path, int, str]]:
    """Copy the files the snapshot lists from the first publication whose files all match them."""
    for candidate in candidates:
        if not all((candidate / f["name"]).is_file() for f in files):
            continue
        if any((candidate / f["name"]).stat().st_size != f["size"] for f in files):
            continue
        copied = []
        for f in files:
            target = folder / f["name"]
            size, digest = copy_hashed(candidate / f["name"], target)
            if size != f["size"] or (f["sha256"] and digest != f["sha256"]):
                break
            copied.append((target, size, digest))
        else:
            return copied
        shutil.rmtree(folder, ignore_errors=True)
    return []


def _copy_editions(db, settings: Settings, target: Path, manifest: _Manifest, report: Report) -> None:
    root = settings.editions_dir
    done = db.execute("SELECT id, storage_key FROM editions WHERE status = ? ORDER BY id", [store.DONE])
    for edition_id, storage_key in done.fetchall():
        key = check_key(storage_key or str(edition_id))
        files = store.files_of(db, edition_id)
        copied = _copy_edition(files, _candidates(root, key), target / EDITIONS / key) if files else []
        if files and not copied:
            _requeue(db, edition_id)
            report.requeued.append(edition_id)
            continue
        for path, size, digest in copied:
            manifest.add(target, path, size, digest)
        report.editions += 1


def _requeue(db, edition_id: int) -> None:
    """The backup lacks this edition's files: the restored library makes it again."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    db.execute("DELETE FROM edition_files WHERE edition_id = ?", [edition_id])
    db.execute(
        "UPDATE editions SET status = ?, progress = 0, step = NULL, eta_seconds = NULL, error = NULL, "
        "attempts = 0, lease_token = NULL, lease_expires_at = NULL, retry_at = NULL, storage_key = NULL, "
        "finished_at = NULL, queued_at = ?, updated_at = ? WHERE id = ?",
        [store.QUEUED, now, now, edition_id],
    )


def _requeue_running(db) -> None:
    """A job running at the snapshot has no worker in the restored library: it waits to be started again."""
    db.execute(
        "UPDATE editions SET status = ?, lease_token = NULL, lease_expires_at = NULL, step = NULL, "
        "progress = 0, eta_seconds = NULL WHERE status = ?",
        [store.QUEUED, store.RUNNING],
    )


def _copy_evidence(db, settings: Settings, target: Path, manifest: _Manifest, report: Report) -> None:
    rows = db.execute("SELECT id, stored_name, sha256 FROM eligibility_evidence ORDER BY id").fetchall()
    for row_id, stored_name, sha256 in rows:
        source = evidence.path_for(settings, stored_name)
        copied = target / EVIDENCE / stored_name
        size_digest = None
        if source is not None and source.is_file():
            size_digest = copy_hashed(source, copied)
        if size_digest is None or (sha256 and size_digest[1] != sha256):
            copied.unlink(missing_ok=True)
            db.execute("DELETE FROM eligibility_evidence WHERE id = ?", [row_id])
            report.dropped_evidence += 1
            continue
        os.chmod(copied, 0o600)
        manifest.add(target, copied, *size_digest)
        report.evidence += 1
    if (target / EVIDENCE).is_dir():
        os.chmod(target / EVIDENCE, 0o700)


def _copy_sources(db, settings: Settings, target: Path, manifest: _Manifest, report: Report) -> None:
    rows = db.execute("SELECT id, source_path FROM books WHERE source_path IS NOT NULL ORDER BY id")
    for book_id, relative in rows.fetchall():
        path = PurePosixPath(relative)
        source = settings.data_dir / path
        if path.is_absolute() or ".." in path.parts or path.parts[:1] != (SOURCES,) or not source.is_file():
            db.execute("UPDATE books SET source_path = NULL WHERE id = ?", [book_id])
            continue
        copied = target / path
        if copied.exists():
            continue  # two books from one file: copied once
        manifest.add(target, copied, *copy_hashed(source, copied))
        report.sources += 1


def _write_manifest(target: Path, manifest: _Manifest, report: Report) -> None:
    document = {
        "kind": KIND,
        "version": VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "requeued_editions": report.requeued,
        "dropped_evidence": report.dropped_evidence,
        "files": manifest.entries,
    }
    temporary = target / f".{MANIFEST}.partial"
    temporary.write_text(json.dumps(document, indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(temporary, target / MANIFEST)


# --------------------------------------------------------------------------------------------- restore


def read_manifest(source: Path) -> list[dict]:
    """The manifest's file entries, each checked for form; BackupError when there is no usable one."""
    path = Path(source) / MANIFEST
    if not path.is_file():
        raise BackupError(
            N_("%(path)s holds no manifest.json: it is not a backup, or the backup did not finish."),
            path=str(source),
        )
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("kind") != KIND or document.get("version") != VERSION:
            raise ValueError("not a manifest of this kind or version")
        entries = document["files"]
        for entry in entries:
            relative = PurePosixPath(entry["path"])
            if relative.is_absolute() or ".." in relative.parts or not relative.parts:
                raise ValueError(f"unsafe path {entry['path']!r}")
            if not isinstance(entry["size"], int) or not isinstance(entry["sha256"], str):
                raise ValueError("bad size or sha256")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise BackupError(
            N_("The manifest of %(path)s cannot be read; nothing was restored."), path=str(source)
        ) from None
    if DATABASE not in {entry["path"] for entry in entries}:
        raise BackupError(N_("The manifest of %(path)s lists no catalogue."), path=str(source))
    return entries


def verify(source: Path, entries: list[dict]) -> None:
    """Every file the manifest lists is there with its size and sha256; BackupError names the first that
    is not."""
    for entry in entries:
        path = Path(source) / entry["path"]
        if not path.is_file() or path.is_symlink():
            raise BackupError(
                N_("The backup lacks %(file)s, which its manifest lists; nothing was restored."),
                file=entry["path"],
            )
        if hash_file(path) != (entry["size"], entry["sha256"]):
            raise BackupError(
                MISMATCH,
                file=entry["path"],
            )


def restore(settings: Settings, source: Path) -> Report:
    """Restore the backup in `source` into `settings.data_dir`, which must be new or empty."""
    source = Path(source)
    entries = read_manifest(source)
    data_dir = settings.data_dir
    if data_dir.exists() and not _is_empty_dir(data_dir):
        raise BackupError(
            N_("The data directory %(path)s is not empty: restore only into a new or empty one."),
            path=str(data_dir),
        )
    verify(source, entries)
    if data_dir.exists():
        # Empty, perhaps a mount point, which a rename cannot replace: build inside it, then move up.
        staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=data_dir))
    else:
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{data_dir.name}.restore-", dir=data_dir.parent))
    try:
        report = _restore_into(source, entries, staging)
        # Brings a backup made by an older version up to date, and the catalogue back to WAL.
        open_database(staging / DATABASE).close()
        if staging.parent == data_dir:
            # The catalogue last: until it is in place the library has nothing to serve.
            for child in sorted(staging.iterdir(), key=lambda p: p.name.startswith(DATABASE)):
                os.rename(child, data_dir / child.name)
            staging.rmdir()
        else:
            os.rename(staging, data_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return report


def _restore_into(source: Path, entries: list[dict], staging: Path) -> Report:
    report = Report()
    editions: dict[str, list[dict]] = {}
    for entry in entries:
        parts = PurePosixPath(entry["path"]).parts
        if parts[0] == EDITIONS and len(parts) == 3:
            editions.setdefault(check_key(parts[1]), []).append(entry)
            continue
        target = staging / entry["path"]
        _copy_checked(source, entry, target)
        if parts[0] in (EVIDENCE, SECRET_KEY):
            os.chmod(target, 0o600)
            report.evidence += parts[0] == EVIDENCE
        report.sources += parts[0] == SOURCES
    if (staging / EVIDENCE).is_dir():
        os.chmod(staging / EVIDENCE, 0o700)
    storage = LocalStorage(staging / EDITIONS)
    for key, files in editions.items():
        workspace = storage.new_workspace()
        for entry in files:
            _copy_checked(source, entry, workspace / PurePosixPath(entry["path"]).name)
        storage.publish(workspace, key)
        report.editions += 1
    report.files = len(entries)
    report.bytes = sum(entry["size"] for entry in entries)
    return report


def _copy_checked(source: Path, entry: dict, target: Path) -> None:
    """Copy one file and check the copy against the manifest (the disk may fail while writing)."""
    if copy_hashed(source / entry["path"], target) != (entry["size"], entry["sha256"]):
        raise BackupError(
            MISMATCH,
            file=entry["path"],
        )
