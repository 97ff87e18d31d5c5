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
safely; the least recently used files go when the cache outgrows its bound (a hit refreshes the file's
modification time).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from pathlib import Path

KEY_VERSION = "1"  # bump when what a key covers changes, so old entries are never read with a new meaning
_SUFFIX = ".pcm"


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
        self._lock = threading.Lock()
        self._added = 0  # bytes written since the last size check

    def path(self, key: str, suffix: str = _SUFFIX) -> Path:
        return self.root / key[:2] / f"{key}{suffix}"

    def whole(self, key: str, suffix: str) -> Path | None:
        """A whole file kept beside the sentences (a chapter's MP3), refreshed as used; None if absent."""
        path = self.path(key, suffix)
        try:
            os.utime(path)
        except OSError:
            return None
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
        self._count(size)
        return path

    def get(self, key: str, suffix: str = _SUFFIX) -> bytes | None:
        path = self.path(key, suffix)
        try:
            data = path.read_bytes()
        except OSError:
            with self._lock:
                self.misses += 1
            return None
        try:
            os.utime(path)  # recently used: the last to be evicted
        except OSError:
            pass
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
        self._count(len(pcm))

    def _count(self, size: int) -> None:
        with self._lock:
            self._added += size
            check = self._added > self.max_bytes // 10
            if check:
                self._added = 0
        if check:
            self.evict()

    def evict(self) -> int:
        """Remove the least recently used entries until the cache fits its bound; returns bytes removed."""
        entries = []
        total = 0
        for path in self._files():
            try:
                stat = path.stat()
            except OSError:
                continue
            entries.append((stat.st_mtime, stat.st_size, path))
            total += stat.st_size
        removed = 0
        for _, size, path in sorted(entries):
            if total - removed <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            removed += size
        return removed

    def size(self) -> int:
        return sum(p.stat().st_size for p in self._files())

    def _files(self):
        return (p for p in self.root.glob("*/*") if not p.name.startswith(".part-"))
