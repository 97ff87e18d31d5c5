"""Evidence files (a certifying professional's statement): what is accepted, and where it is kept.

Why like this: an uploaded file is sensitive personal data and, to the browser of whoever opens it, hostile
until proven otherwise. So its type is decided by its first bytes, never by its name or the type the
browser claimed (a PDF, JPEG or PNG, nothing a browser would run); it is written under the data directory
(never a served directory) by a random name, so nothing about the reader or their disability is in a file
name; and it is served only as an attachment with `nosniff`, so even a crafted file is saved, not shown.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

from .settings import Settings

# The first bytes of each accepted type, and the type that file is served as.
MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)
HEAD_BYTES = 8


def media_type_of(head: bytes) -> str | None:
    """The accepted type a file's first bytes show, or None."""
    for magic, media_type in MAGIC:
        if head.startswith(magic):
            return media_type
    return None


def directory(settings: Settings) -> Path:
    folder = settings.evidence_dir
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def new_name() -> str:
    """A random name: 128 bits, nothing that says whose it is or what it shows."""
    return secrets.token_hex(16)


def path_for(settings: Settings, stored_name: str) -> Path | None:
    """The file of a stored name, or None for a name this module could not have made."""
    if len(stored_name) != 32 or any(ch not in "0123456789abcdef" for ch in stored_name):
        return None
    return settings.evidence_dir / stored_name


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def remove(settings: Settings, stored_name: str) -> None:
    path = path_for(settings, stored_name)
    if path is not None:
        path.unlink(missing_ok=True)
