"""Where finished edition files live: one small interface, a local directory by default.

A converter writes into a private workspace; publishing makes the whole edition visible at once. Readers
(downloads) reach an edition only through its key, and a key only ever names a complete publication: in
`LocalStorage` the key is a symbolic link swapped by `rename(2)`, which replaces the old link atomically, so
a download sees the old edition or the new one, never a mix and never a half-written one. A replaced
edition is deleted only after a grace period, so a download that started on it is not cut off halfway. A
worker killed mid-job leaves only a workspace that no key points to; `sweep` removes such leftovers once they
are old.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Protocol

from voices import zip_append

from ..settings import Settings

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
WORK_PREFIX = ".work-"
PUBLISHED_DIR = ".published"


class Storage(Protocol):
    def new_workspace(self) -> Path: ...

    def publish(self, workspace: Path, key: str) -> None: ...

    def path(self, key: str) -> Path: ...

    def exists(self, key: str) -> bool: ...

    def discard(self, workspace: Path) -> None: ...


def check_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY.match(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


class LocalStorage:
    """Editions under `root`: `root/KEY` is a relative link to `root/.published/KEY.TOKEN/`."""

    def __init__(self, root: Path, *, grace_seconds: float = 3600):
        self.root = Path(root)
        self.grace_seconds = grace_seconds  # how long a replaced edition stays for readers already on it

    def new_workspace(self) -> Path:
        """A private, empty directory on the same file system as the publications (so publishing is a
        rename, never a copy)."""
        self.root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=WORK_PREFIX, dir=self.root))

    def publish(self, workspace: Path, key: str) -> None:
        """Make `workspace` the edition `key`, replacing any earlier publication in one atomic step."""
        check_key(key)
        workspace = Path(workspace)
        if workspace.parent.resolve() != self.root.resolve() or not workspace.name.startswith(WORK_PREFIX):
            raise ValueError(f"{workspace} is not a workspace of this storage")
        zip_append.forget(workspace)  # an archive appended to the previous one is this edition's now
        _sync_tree(workspace)
        # mkdtemp made it 0700; published files are world-readable (0644) so that a front server running as
        # its own user (nginx's www-data, README "Serving behind nginx") can send them itself
        os.chmod(workspace, 0o755)
        published = self.root / PUBLISHED_DIR
        published.mkdir(exist_ok=True)
        target = published / f"{key}.{secrets.token_hex(8)}"
        os.rename(workspace, target)
        os.utime(target)  # young again: `sweep` must not take it for a leftover before the link exists
        link = self.root / key
        previous = _link_target(link)
        temporary = self.root / f".link-{key}.{secrets.token_hex(8)}"
        os.symlink(os.path.join(PUBLISHED_DIR, target.name), temporary)
        try:
            os.replace(temporary, link)  # the one moment the edition changes
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        _sync_dir(self.root)
        if previous is not None and previous != target:
            try:
                os.utime(previous)  # replaced now: the grace period starts
            except FileNotFoundError:
                pass
        self._remove_replaced(older_than_seconds=self.grace_seconds)

    def path(self, key: str) -> Path:
        """The directory holding the edition's files (it may not exist: see `exists`)."""
        return self.root / check_key(key)

    def exists(self, key: str) -> bool:
        link = self.root / check_key(key)
        return link.is_symlink() and link.is_dir()

    def discard(self, workspace: Path) -> None:
        """Drop a workspace that will not be published (the job failed or was stopped)."""
        workspace = Path(workspace)
        if workspace.parent.resolve() == self.root.resolve() and workspace.name.startswith(WORK_PREFIX):
            zip_append.undo(workspace)  # the published archive it grew gets its previous size back
            shutil.rmtree(workspace, ignore_errors=True)

    def sweep(self, *, older_than_seconds: float = 24 * 3600) -> int:
        """Remove workspaces and unreferenced publications left by killed workers; return how many.

        Only old ones: a young workspace may belong to a job still running on another worker.
        """
        if not self.root.is_dir():
            return 0
        cutoff = time.time() - older_than_seconds
        candidates = [c for c in self.root.iterdir() if c.name.startswith((WORK_PREFIX, ".link-"))]
        return _remove_older(candidates, cutoff) + self._remove_replaced(
            older_than_seconds=older_than_seconds
        )

    def _remove_replaced(self, *, older_than_seconds: float) -> int:
        """Publications no key points to any more (replaced, or left by a crash between rename and link)."""
        published = self.root / PUBLISHED_DIR
        if not published.is_dir():
            return 0
        referenced = {_link_target(c) for c in self.root.iterdir() if c.is_symlink() and c.name[0] != "."}
        candidates = [c for c in published.iterdir() if c not in referenced]
        return _remove_older(candidates, time.time() - older_than_seconds)


def _remove_older(candidates: list[Path], cutoff: float) -> int:
    removed = 0
    for candidate in candidates:
        try:
            if candidate.lstat().st_mtime >= cutoff:
                continue
        except FileNotFoundError:
            continue
        if candidate.is_symlink() or candidate.is_file():
            candidate.unlink(missing_ok=True)
        else:
            shutil.rmtree(candidate, ignore_errors=True)
        removed += 1
    return removed


def storage_for(settings: Settings) -> Storage:
    return LocalStorage(settings.editions_dir)


def _link_target(link: Path) -> Path | None:
    try:
        return link.parent / os.readlink(link)
    except (FileNotFoundError, OSError):
        return None


def _sync_tree(directory: Path) -> None:
    """Flush files to disk before they become visible, so a power cut cannot publish empty files."""
    for path in directory.rglob("*"):
        if path.is_file() and not path.is_symlink():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _sync_dir(directory)


def _sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
