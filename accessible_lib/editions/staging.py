"""Where a remote worker's upload waits until the web app has checked all of it, then becomes the edition.

A worker on another machine has no access to the editions directory, so it sends its files here over HTTP
(web/worker_uploads.py) in chunks. Each attempt (its lease token) gets its own staging area, a workspace of
`LocalStorage` (`.work-upload-EDITION-TOKEN`), so that publishing it is the same atomic rename as a local
worker's: until then no key points to it and no reader can reach a byte of it. A chunk is written at the
offset it names, the file cut there first, so a retried or resumed chunk is harmless; only when every listed
file has arrived with its size and sha256 does the web app publish the area. Areas of attempts that no
longer hold their edition (killed, superseded) are swept by the periodic recovery.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
from pathlib import Path

from sqlite_utils import Database

from . import store
from .storage import WORK_PREFIX

UPLOAD_PREFIX = WORK_PREFIX + "upload-"
_TOKEN = re.compile(r"\A[0-9a-f]{32}\Z")
_AREA = re.compile(r"\A" + re.escape(UPLOAD_PREFIX) + r"([0-9]{1,18})-([0-9a-f]{32})\Z")
MAX_NAME_BYTES = 200


class BadUpload(ValueError):
    """An upload that cannot be taken as it is; the message says why, for the worker's log."""


def check_name(name: object) -> str:
    """A file name an edition may hold: one plain name, never a path, a hidden file or a device."""
    if not (
        isinstance(name, str)
        and name
        and not name.startswith(".")
        and len(name.encode()) <= MAX_NAME_BYTES
        and not any(c in name for c in "/\\\x00")
        and name.isprintable()
        and Path(name).name == name
    ):
        raise BadUpload(f"not a plain file name: {name!r}")
    return name


def check_token(token: object) -> str:
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise BadUpload("not a lease token")
    return token


def area(root: Path, edition_id: int, token: str) -> Path:
    return Path(root) / f"{UPLOAD_PREFIX}{int(edition_id)}-{check_token(token)}"


def holds_lease(db: Database, edition_id: int, token: str) -> bool:
    """The attempt is the edition's current one: only its uploads are taken."""
    row = db.execute(
        "SELECT 1 FROM editions WHERE id = ? AND status = ? AND lease_token = ?",
        [edition_id, store.RUNNING, token],
    ).fetchone()
    return row is not None


def staged_size(staging: Path, name: str) -> int:
    try:
        return (staging / check_name(name)).stat().st_size
    except FileNotFoundError:
        return 0


class GapError(BadUpload):
    def __init__(self, size: int):
        super().__init__(f"the file has only {size} bytes here; send from there")
        self.size = size


def write_chunk(staging: Path, name: str, start: int, data: bytes) -> int:
    """Write `data` at `start` (at most the size already there), cutting the file there first; return the
    file's new size. Locked, so that two web processes given the same chunk twice (a worker's retry) take
    turns; raises BadUpload with the present size when `start` would leave a hole."""
    staging.parent.mkdir(parents=True, exist_ok=True)
    staging.mkdir(mode=0o700, exist_ok=True)
    path = staging / check_name(name)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if start > size:
            raise GapError(size)
        os.ftruncate(fd, start)
        view = memoryview(data)
        offset = start
        while view:
            written = os.pwrite(fd, view, offset)
            view = view[written:]
            offset += written
        return offset
    finally:
        os.close(fd)


def problems(staging: Path, files: list[dict]) -> list[str]:
    """What keeps the staged files from being the edition `files` describes; empty when every listed file is
    there whole, with its size and sha256, and nothing else is. Each file is flushed to disk as it is read,
    so that publishing it right after has nothing left to write."""
    found = []
    listed = {record["name"] for record in files}
    present = {p.name for p in staging.iterdir()} if staging.is_dir() else set()
    for extra in sorted(present - listed):
        found.append(f"{extra}: sent but not in the edition's file list")
    for record in files:
        path = staging / record["name"]
        if record["name"] not in present:
            found.append(f"{record['name']}: never arrived")
            continue
        size, digest = _digest(path)
        if size != record["size"]:
            found.append(f"{record['name']}: {size} bytes arrived, {record['size']} expected")
        elif digest != record["sha256"]:
            found.append(f"{record['name']}: its sha256 does not match")
    return found


def _digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
        os.fsync(file.fileno())
    return size, digest.hexdigest()


def sweep_dead(db: Database, root: Path) -> int:
    """Remove the staging areas of attempts that no longer hold their edition; return how many.

    A token is never given twice, so an area whose token lost its lease can never be published: there is
    nothing to wait for, and a killed worker's gigabytes go at the next recovery, not a day later."""
    root = Path(root)
    if not root.is_dir():
        return 0
    removed = 0
    for candidate in root.iterdir():
        match = _AREA.match(candidate.name)
        if match and not holds_lease(db, int(match.group(1)), match.group(2)):
            shutil.rmtree(candidate, ignore_errors=True)
            removed += 1
    return removed
