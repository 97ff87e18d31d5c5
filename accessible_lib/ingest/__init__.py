"""One entry point for every kind of source file, so callers need not know the formats."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..settings import Settings
from .errors import N_, IngestError
from .model import IngestedBook

TEXT_EXTENSIONS = {".txt", ".text"}
SUPPORTED_EXTENSIONS = {".epub"} | TEXT_EXTENSIONS
_CHUNK = 1024 * 1024
# Raised whenever ingestion would cut the same file into different chapters: books imported by an older
# version are rebuilt (keeping their ids) by the next import of their file or by `rebuild-chapters`.
# 1: one chapter per spine file. 2: chapters as the table of contents says, back matter last.
INGEST_VERSION = 2


def file_checksum(path: Path) -> str:
    """sha256 of the file, read in chunks so a large book never sits in memory twice."""
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_supported(path: Path, settings: Settings) -> None:
    """Reject by extension and size before anything reads the content."""
    extension = path.suffix.lower()
    if extension not in SUPPORTED_EXTENSIONS:
        raise IngestError(
            N_(
                "The file type %(ext)s is not supported: the library imports EPUB and plain text "
                "(.txt) files."
            ),
            ext=extension or path.name,
        )
    size = path.stat().st_size
    if size > settings.max_file_bytes:
        raise IngestError(
            N_("The file is %(size)d bytes; the largest accepted is %(limit)d bytes."),
            size=size,
            limit=settings.max_file_bytes,
        )


def ingest_file(
    path: Path,
    settings: Settings,
    *,
    source_name: str | None = None,
    checksum: str | None = None,
    language: str | None = None,
) -> IngestedBook:
    """Read `path` into an IngestedBook or raise IngestError; nothing is written anywhere.

    `language` is what a catalogue record already says (Calibre's): a plain-text file declares none, so it
    takes that instead of a guess from its text, which costs more than reading the rest of the file. An
    EPUB declares its own and ignores it."""
    check_supported(path, settings)
    checksum = checksum or file_checksum(path)
    source_name = source_name or path.name
    if path.suffix.lower() == ".epub":
        from .epub import read_epub  # imported here: EPUB support lives in its own, heavier module

        return read_epub(path, settings, checksum=checksum, source_name=source_name)
    from .text import read_text

    return read_text(path, settings, checksum=checksum, source_name=source_name, language=language)
