"""Rebuild an audio edition's zip by appending what changed to the previous one, not by writing it anew.

A long book's zip is mostly chapter MP3s (War and Peace: 1.5 GB); after a pronunciation entry changes a few
chapters, writing the whole archive again costs more than everything else in the rebuild (this machine's
disk writes ~180 MB/s, so ~8 s). A zip is read from its central directory at the end, which says where each
member starts, so the new archive is the previous file (a hard link: the same bytes, not a copy) with the
changed members and a new central directory appended after the old end. No byte of the previous archive
changes: a download of the previous edition that is under way still reads its complete, valid archive, and
the file as a whole is then a complete new one.

Because the previous publication's file grows in place, the append is undone if the build does not publish
(`undo`, called when a workspace is discarded), appends to one file are serialised with a lock (a build whose
lease was lost may still be running beside its retry), and when more than half of the file would be dead
bytes (replaced members) the archive is written anew instead, which compacts it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path

MARKER = ".appended.json"  # in the workspace: which published file grew, from what size, so it can be undone
MAX_DEAD = 0.5


def _crc(path: Path) -> int:
    crc = 0
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


def _local_size(info: zipfile.ZipInfo) -> int:
    return 30 + len(info.filename.encode("utf-8")) + len(info.extra) + info.compress_size


def append_zip(
    previous: Path,
    zip_path: Path,
    root: Path,
    names: Iterable[str],
    *,
    stored: Iterable[str] = (),
    same: Iterable[str] = (),
) -> bool:
    """Make `zip_path` the archive of `names` (files under `root`) by appending to `previous`; False (and
    nothing done) when that is not possible or not worth it, so the caller writes the archive anew.

    `same`: names the caller knows hold the very bytes of `previous`'s member (the same file, hard-linked);
    their size is still compared, but they are not read for their checksum, which for a long book's
    unchanged chapters would mean reading the whole archive again (War and Peace: 1.5 GB)."""
    names = list(names)
    keep_stored = set(stored)
    known = set(same)
    try:
        lock = open(previous, "rb")  # noqa: SIM115 - closed below
    except OSError:
        return False
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with zipfile.ZipFile(previous) as old:
                infos = {info.filename: info for info in old.infolist()}
            status = os.fstat(lock.fileno())
            old_size = status.st_size
        except (OSError, zipfile.BadZipFile):
            return False
        if sorted(infos) != sorted(names) or len(infos) != len(names):
            return False
        changed = [
            name
            for name in names
            if (root / name).stat().st_size != infos[name].file_size
            or (name not in known and _crc(root / name) != infos[name].CRC)
        ]
        live = sum(_local_size(infos[name]) for name in names if name not in changed)
        added = sum((root / name).stat().st_size for name in changed)
        if old_size - live > MAX_DEAD * (live + added):
            return False
        os.link(previous, zip_path)
        if not changed:
            return True
        marker = zip_path.parent / MARKER
        state = {"name": zip_path.name, "from": old_size, "to": None, "mtime_ns": status.st_mtime_ns}
        marker.write_text(json.dumps(state))
        try:
            with zipfile.ZipFile(zip_path, "a") as archive:
                archive.start_dir = (
                    old_size  # after the old end record: nothing of the old archive is touched
                )
                archive.fp.seek(old_size)
                for name in changed:
                    archive.filelist.remove(archive.NameToInfo.pop(name))
                    compress = (
                        zipfile.ZIP_STORED
                        if name in keep_stored or name.endswith(".mp3")
                        else zipfile.ZIP_DEFLATED
                    )
                    archive.write(root / name, name, compress_type=compress)
                order = {name: number for number, name in enumerate(names)}
                archive.filelist.sort(key=lambda info: order[info.filename])
            grown = zip_path.stat().st_size
            marker.write_text(json.dumps({**state, "to": grown}))
        except BaseException:
            os.truncate(previous, old_size)
            zip_path.unlink(missing_ok=True)
            marker.unlink(missing_ok=True)
            raise
        return True
    finally:
        lock.close()


def undo(workspace: Path) -> None:
    """Give the published file its previous size back when the build that grew it is not published: only if
    nothing was appended after (its size is still the one this build left)."""
    marker = Path(workspace) / MARKER
    try:
        record = json.loads(marker.read_text())
    except (OSError, ValueError):
        return
    path = Path(workspace) / record["name"]
    try:
        with open(path, "rb") as file:
            fcntl.flock(file, fcntl.LOCK_EX)
            if record["to"] is not None and os.fstat(file.fileno()).st_size == record["to"]:
                os.truncate(path, record["from"])
    except OSError:
        pass
    marker.unlink(missing_ok=True)


def forget(workspace: Path) -> None:
    """The build is published: its appended archive is the edition now."""
    (Path(workspace) / MARKER).unlink(missing_ok=True)


class PrefixDigest:
    """The SHA-256 of the previous archive, started in a thread as the build starts, so that the appended
    archive's checksum needs only its new bytes at the end (War and Peace: 1.5 GB otherwise read and hashed
    after every chapter is done, alone on one core).

    The prefix is hashed under a shared lock (no append or undo is half done) with the file's size and
    modification time; `hexdigest` uses it only when the archive this build made is that very state plus
    bytes appended after it (the append's marker names the size and time it started from), else None and
    the caller hashes the whole file.
    """

    def __init__(self, previous: Path) -> None:
        self.previous = Path(previous)
        self._state: tuple[int, int, int, hashlib._Hash] | None = None  # inode, size, mtime_ns, digest
        self._thread = threading.Thread(target=self._run, name="zip-prefix-digest", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with open(self.previous, "rb") as file:
                fcntl.flock(file, fcntl.LOCK_SH)
                status = os.fstat(file.fileno())
                digest = hashlib.sha256()
                left = status.st_size
                while left and (chunk := file.read(min(1 << 20, left))):
                    digest.update(chunk)
                    left -= len(chunk)
                if not left:
                    self._state = (status.st_ino, status.st_size, status.st_mtime_ns, digest)
        except OSError:
            self._state = None

    def wait(self) -> None:
        """Until the prefix is hashed: an append started earlier may change the file first, and the
        checksum then falls back to the whole file (correct, only slower), which a test of the fast path
        must not leave to the scheduler."""
        self._thread.join()

    def hexdigest(self, archive: Path) -> str | None:
        """The checksum of `archive` (this build's, in its workspace beside the append's marker), or None."""
        self._thread.join()
        if self._state is None:
            return None
        inode, size, mtime_ns, digest = self._state
        archive = Path(archive)
        try:
            status = archive.stat()
            marker = archive.parent / MARKER
            if marker.exists():
                record = json.loads(marker.read_text())
                if (record.get("from"), record.get("mtime_ns")) != (size, mtime_ns):
                    return None
            elif (status.st_size, status.st_mtime_ns) != (size, mtime_ns):
                return None
            if status.st_ino != inode:
                return None
            digest = digest.copy()
            with open(archive, "rb") as file:
                file.seek(size)
                while chunk := file.read(1 << 20):
                    digest.update(chunk)
        except (OSError, ValueError):
            return None
        return digest.hexdigest()
