"""Checking an uploaded ZIP before any parser reads it.

An EPUB is a ZIP written by someone we do not know. Every limit here exists because a real attack or a
real broken file crosses it: bombs that expand to gigabytes, names that climb out of a directory, archives
whose headers lie about sizes, XML that declares entities. The whole archive is read into memory, in
bounded chunks, and only the checked bytes are handed on: nothing is ever extracted to disk, and no parser
(ebooklib included) ever sees the original file.
"""

from __future__ import annotations

import re
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from ..settings import Settings
from .errors import N_, IngestError

CHUNK = 64 * 1024
# Tiny entries cannot be bombs, and short runs of whitespace compress very well: the ratio limit only
# applies once an entry is big enough to hurt.
RATIO_FLOOR_BYTES = 256 * 1024
ALLOWED_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}
XML_SUFFIXES = (".xml", ".xhtml", ".xht", ".html", ".htm", ".opf", ".ncx", ".svg", ".smil", ".pls")
EPUB_MIMETYPE = b"application/epub+zip"
_DRIVE = re.compile(r"^[A-Za-z]:")
_ENTITY = re.compile(rb"<!\s*ENTITY", re.IGNORECASE)
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ENCODING_DECL = re.compile(r"""(<\?xml[^>]*?)\s+encoding\s*=\s*["'][^"']*["']""")


@dataclass
class CheckedArchive:
    """The files of an archive that passed every check, by name; `notes` are tolerated faults."""

    entries: dict[str, bytes]
    notes: list[str] = field(default_factory=list)


def read_checked_zip(path: Path, settings: Settings) -> CheckedArchive:
    """Read every file of the ZIP at `path` into memory, or raise IngestError saying why not."""
    try:
        size = path.stat().st_size
    except OSError as error:
        raise IngestError(N_("The file cannot be read: %(reason)s."), reason=error.strerror) from None
    if size == 0:
        raise IngestError(N_("The file is empty."))
    if size > settings.max_file_bytes:
        raise IngestError(
            N_("The file is %(size)d bytes, more than the limit of %(limit)d bytes."),
            size=size,
            limit=settings.max_file_bytes,
        )
    with path.open("rb") as handle:
        head = handle.read(4)
    if head in (b"PK\x07\x08", b"PK00"):
        raise IngestError(N_("The file is one part of a split ZIP archive; join the parts first."))
    try:
        archive = zipfile.ZipFile(path)
    except UnicodeDecodeError:
        raise IngestError(N_("A file name inside the archive is not valid UTF-8.")) from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, struct.error):
        raise IngestError(N_("The file is not a ZIP archive (an EPUB is a ZIP).")) from None
    except NotImplementedError:
        raise IngestError(N_("The ZIP archive uses a feature that is not supported.")) from None
    with archive:
        infos = _check_directory(archive, settings)
        entries: dict[str, bytes] = {}
        total = 0
        for info in infos:
            data = _read_entry(archive, info, settings, total)
            total += len(data)
            entries[info.filename] = data
    return _checked(entries)


def _check_directory(archive: zipfile.ZipFile, settings: Settings) -> list[zipfile.ZipInfo]:
    """Everything that can be decided from the central directory, before reading a byte of content."""
    infos = archive.infolist()
    if not infos:
        raise IngestError(N_("The ZIP archive is empty."))
    if len(infos) > settings.max_zip_entries:
        raise IngestError(
            N_("The archive holds %(count)d entries, more than the limit of %(limit)d."),
            count=len(infos),
            limit=settings.max_zip_entries,
        )
    files: list[zipfile.ZipInfo] = []
    seen: set[str] = set()
    total = 0
    for info in infos:
        _check_name(info)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise IngestError(
                N_("The archive holds a symbolic link (%(name)s); an EPUB never does."),
                name=info.filename,
            )
        if info.is_dir():
            continue  # nothing is extracted, so directory entries (even repeated ones) are harmless
        if info.filename in seen:
            raise IngestError(N_("The archive holds two entries named %(name)s."), name=info.filename)
        seen.add(info.filename)
        if info.flag_bits & 0x1:
            raise IngestError(
                N_("The entry %(name)s is encrypted, so it cannot be read."), name=info.filename
            )
        if info.compress_type not in ALLOWED_METHODS:
            raise IngestError(
                N_("The entry %(name)s uses a compression method EPUB does not allow."),
                name=info.filename,
            )
        total += info.file_size
        if total > settings.max_uncompressed_bytes:
            raise _too_big(settings)
        _check_ratio(info.filename, info.file_size, info.compress_size, settings)
        files.append(info)
    return files


def _check_name(info: zipfile.ZipInfo) -> None:
    """Names must be plain relative paths: nothing absolute, escaping, or ambiguous between systems."""
    name = info.filename
    if not info.flag_bits & 0x800 and not name.isascii():
        # zipfile decoded these bytes as cp437: the real encoding is unknown.
        raise IngestError(
            N_("A file name inside the archive is not valid UTF-8 (%(name)s)."),
            name=name.encode("cp437", "replace").decode("ascii", "replace"),
        )
    if "\\" in name or _DRIVE.match(name) or "\x00" in name:
        raise IngestError(N_("The entry name %(name)s is not a valid path in an EPUB."), name=name)
    if name.startswith("/"):
        raise IngestError(N_("The entry name %(name)s is an absolute path."), name=name)
    if ".." in name.split("/"):
        raise IngestError(
            N_("The entry name %(name)s would point outside the book (it contains '..')."),
            name=name,
        )


def _check_ratio(name: str, size: int, compressed: int, settings: Settings) -> None:
    if size > RATIO_FLOOR_BYTES and size > settings.max_compression_ratio * max(compressed, 1):
        raise IngestError(
            N_(
                "An entry would expand %(ratio)d times its compressed size, more than the limit of "
                "%(limit)d: the file looks like a zip bomb."
            ),
            ratio=size // max(compressed, 1),
            limit=settings.max_compression_ratio,
        )


def _too_big(settings: Settings) -> IngestError:
    return IngestError(
        N_("The archive would expand to more than %(limit)d bytes: the file looks like a zip bomb."),
        limit=settings.max_uncompressed_bytes,
    )


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, settings: Settings, done: int) -> bytes:
    """Read one entry in chunks, stopping as soon as it grows past what its header declared.

    Declared sizes are written by the attacker, so the checks above are repeated on the real output.
    """
    chunks: list[bytes] = []
    size = 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > info.file_size:
                    raise IngestError(
                        N_(
                            "The entry %(name)s is bigger than its header says: the file looks "
                            "like a zip bomb."
                        ),
                        name=info.filename,
                    )
                if done + size > settings.max_uncompressed_bytes:
                    raise _too_big(settings)
                _check_ratio(info.filename, size, info.compress_size, settings)
                chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, struct.error):
        raise IngestError(
            N_("The entry %(name)s is damaged and cannot be read."), name=info.filename
        ) from None
    except NotImplementedError:
        raise IngestError(
            N_("The entry %(name)s uses a compression method EPUB does not allow."),
            name=info.filename,
        ) from None
    return b"".join(chunks)


def _checked(entries: dict[str, bytes]) -> CheckedArchive:
    result = CheckedArchive(entries={})
    mimetype = entries.get("mimetype")
    if mimetype is None:
        result.notes.append("The archive has no mimetype entry.")
    elif mimetype.strip() != EPUB_MIMETYPE:
        result.notes.append("The mimetype entry is not application/epub+zip.")
    for name, data in entries.items():
        result.entries[name] = strip_doctype(data, name) if is_xml(name, data) else data
    return result


def is_xml(name: str, data: bytes) -> bool:
    if name.lower().endswith(XML_SUFFIXES):
        return True
    start = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return start.startswith(b"<?xml") or data[:2] in (b"\xff\xfe", b"\xfe\xff")


def strip_doctype(data: bytes, name: str = "") -> bytes:
    """Remove DOCTYPE declarations from an XML document's prolog; reject any that declares entities.

    Without a DOCTYPE no parser can load a DTD, expand an entity (billion laughs) or fetch an external
    one (a local file or a URL). UTF-16 documents are re-encoded as UTF-8 first so that one byte-level
    scan serves every document.
    """
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise IngestError(N_("The file %(name)s is not valid UTF-16 text."), name=name) from None
        data = _ENCODING_DECL.sub(r"\1", text, count=1).encode("utf-8")
    if not _DOCTYPE.search(data):
        return data
    position = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    length = len(data)
    while position < length:
        if data[position : position + 1] in (b" ", b"\t", b"\r", b"\n"):
            position += 1
        elif data.startswith(b"<?", position):
            end = data.find(b"?>", position + 2)
            position = length if end < 0 else end + 2
        elif data.startswith(b"<!--", position):
            end = data.find(b"-->", position + 4)
            position = length if end < 0 else end + 3
        elif data[position : position + 9].upper() == b"<!DOCTYPE":
            end = _doctype_end(data, position)
            if _ENTITY.search(data, position, end):
                raise IngestError(
                    N_(
                        "The file %(name)s declares XML entities, which can hide a denial-of-service "
                        "attack or read other files; it is refused."
                    ),
                    name=name,
                )
            data = data[:position] + data[end:]
            length = len(data)
        else:
            break
    return data


def _doctype_end(data: bytes, start: int) -> int:
    """Index just past the DOCTYPE that starts at `start`, skipping quoted strings and the subset."""
    depth = 0
    quote = 0
    for index in range(start + 9, len(data)):
        byte = data[index]
        if quote:
            if byte == quote:
                quote = 0
        elif byte in (0x22, 0x27):
            quote = byte
        elif byte == 0x5B:  # [
            depth += 1
        elif byte == 0x5D:  # ]
            depth = max(0, depth - 1)
        elif byte == 0x3E and depth == 0:  # >
            return index + 1
    return len(data)
