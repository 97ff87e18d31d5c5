"""A file described as pieces (bytes made now, or slices of a file on disk), and zip archives so laid out.

A personalised download (editions/personal_copy.py) is the finished edition with a few members rewritten.
Rebuilding a 1.5 GB audio archive for each reader would cost minutes; streaming it through `zipfile` would
give no length before the end and no way to resume. So the stamped archive is laid out first: every local
header, every rewritten member and the central directory are made in memory (a few hundred kilobytes),
and everything else is a slice of the original file, copied byte for byte. The layout knows its length,
and any byte range of it can be read without making the bytes before it: Range requests resume a
personalised download like any other file.

Why not a streaming-zip library (zipstream-ng, stream-zip): both compress as they go and write CRCs in
data descriptors after each member, so they neither copy a member's compressed bytes from another
archive nor know the archive's length and every offset before the first byte is sent; serving a range
from the middle would mean generating everything before it. The zip records written here are the few
fixed structures of APPNOTE 4.3.7, 4.3.12 and 4.3.14-16; the stdlib `zipfile` reads every archive back
in the tests.
"""

from __future__ import annotations

import bisect
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# --- CRC-32 of joined pieces, without reading them ---------------------------------------------------------
# zlib's crc32_combine (the x2nmodp / multmodp form of zlib 1.2.12), which Python's zlib does not expose:
# a rewritten MP3 member is a new ID3 tag followed by the original frames, and its CRC comes from the
# original member's CRC (in the central directory) and the two tags alone, not from a pass over the audio.
_POLY = 0xEDB88320


def _multmodp(a: int, b: int) -> int:
    m = 1 << 31
    p = 0
    while True:
        if a & m:
            p ^= b
            if (a & (m - 1)) == 0:
                break
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1
    return p


def _x2n_table() -> list[int]:
    p = 1 << 30  # x^1
    table = [p]
    for _ in range(31):
        p = _multmodp(p, p)
        table.append(p)
    return table


_X2N = _x2n_table()


def _x2nmodp(n: int, k: int) -> int:
    p = 1 << 31  # x^0
    while n:
        if n & 1:
            p = _multmodp(_X2N[k & 31], p)
        n >>= 1
        k += 1
    return p


def crc32_shift(crc: int, length: int) -> int:
    """The CRC register `crc` advanced over `length` zero bytes, without the pre/post conditioning:
    crc32(A + B) == crc32_shift(crc32(A), len(B)) ^ crc32(B)."""
    return _multmodp(_x2nmodp(length, 3), crc)


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """crc32(A + B) from crc32(A), crc32(B) and len(B)."""
    return crc32_shift(crc1, length2) ^ crc2


def crc32_replace_head(whole_crc: int, old_head: bytes, new_head: bytes, tail_length: int) -> int:
    """crc32(new_head + tail) from crc32(old_head + tail): the tail's CRC cancels out."""
    return whole_crc ^ crc32_shift(zlib.crc32(old_head) ^ zlib.crc32(new_head), tail_length)


# --- A file as pieces --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slice:
    """`length` bytes of the source file from `offset`."""

    offset: int
    length: int


@dataclass
class Layout:
    """The bytes of a file to serve: made pieces (bytes) and slices of `source`, in order."""

    source: Path
    pieces: list[bytes | Slice] = field(default_factory=list)
    _starts: list[int] = field(default_factory=list)
    size: int = 0

    def add(self, piece: bytes | Slice) -> None:
        length = len(piece) if isinstance(piece, bytes) else piece.length
        if not length:
            return
        self._starts.append(self.size)
        self.pieces.append(piece)
        self.size += length

    def copy(self, offset: int, length: int) -> None:
        self.add(Slice(offset, length))

    def open(self) -> LayoutReader:
        return LayoutReader(self)


class LayoutReader:
    """Reads a layout like a file (seek, read), so the byte-range code that serves files serves it too."""

    def __init__(self, layout: Layout):
        self.layout = layout
        self.position = 0
        self._file = open(layout.source, "rb")

    def seek(self, position: int) -> None:
        self.position = max(0, min(position, self.layout.size))

    def read(self, size: int) -> bytes:
        layout = self.layout
        end = min(self.position + max(size, 0), layout.size)
        out = []
        index = bisect.bisect_right(layout._starts, self.position) - 1
        while self.position < end:
            start = layout._starts[index]
            piece = layout.pieces[index]
            inside = self.position - start
            if isinstance(piece, bytes):
                chunk = piece[inside : inside + end - self.position]
            else:
                want = min(piece.length - inside, end - self.position)
                self._file.seek(piece.offset + inside)
                chunk = self._file.read(want)
                if len(chunk) != want:
                    raise OSError(f"{layout.source} is shorter than its layout")
            out.append(chunk)
            self.position += len(chunk)
            index += 1
        return out[0] if len(out) == 1 else b"".join(out)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> LayoutReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def prefixed(source: Path, new_head: bytes, old_head_length: int) -> Layout:
    """A file whose first `old_head_length` bytes are replaced by `new_head` (a plain-text, braille or MP3
    file: its title page or ID3 tag), the rest copied."""
    layout = Layout(Path(source))
    layout.add(new_head)
    layout.copy(old_head_length, Path(source).stat().st_size - old_head_length)
    return layout


# --- Zip archives ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Replace:
    """The member's new content, stored (not deflated: the same bytes whatever zlib's version)."""

    data: bytes


@dataclass(frozen=True)
class NewHead:
    """A stored member whose first `old_length` bytes become `data` (an MP3's ID3 tag); the rest copied."""

    old_length: int
    data: bytes


@dataclass(frozen=True)
class Added:
    """A member not in the original, written (stored) after the member the rewriter was asked about."""

    name: str
    data: bytes


class Member:
    """One member of the original archive, as a rewriter sees it: its entry and ways to read it."""

    def __init__(self, archive: zipfile.ZipFile, file, info: zipfile.ZipInfo, data_offset: int):
        self.archive, self._file, self.info, self.data_offset = archive, file, info, data_offset

    @property
    def name(self) -> str:
        return self.info.filename

    @property
    def stored(self) -> bool:
        return self.info.compress_type == zipfile.ZIP_STORED

    def read(self) -> bytes:
        """The whole content (for the small text members that are rewritten)."""
        return self.archive.read(self.info)

    def head(self, size: int) -> bytes:
        """The first `size` bytes of a stored member, read straight from the file."""
        if not self.stored:
            raise ValueError(f"{self.name} is compressed")
        self._file.seek(self.data_offset)
        return self._file.read(min(size, self.info.compress_size))


Rewriter = Callable[[Member], "Replace | NewHead | list[Replace | NewHead | Added] | None"]
ZIP64_LIMIT = 0xFFFFFFFF  # sizes and offsets at or above it need the zip64 records (tests lower it)
_LOCAL = struct.Struct("<4s2B4HL2L2H")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_END = struct.Struct("<4s4H2LH")
_END64 = struct.Struct("<4sQ2H2L4Q")
_LOCATOR64 = struct.Struct("<4sLQL")


@dataclass
class _Entry:
    name: bytes
    flags: int
    method: int
    dostime: int
    dosdate: int
    crc: int
    csize: int
    usize: int
    offset: int
    external_attr: int
    create_system: int


def zip_layout(source: Path, rewrite: Rewriter) -> Layout:
    """The archive at `source` with the members `rewrite` changes (it returns None to copy a member),
    in the original order, with the original dates and attributes: the same source and rewriter always
    give the same bytes."""
    source = Path(source)
    layout = Layout(source)
    entries: list[_Entry] = []
    with open(source, "rb") as file, zipfile.ZipFile(file) as archive:
        infos = sorted(archive.infolist(), key=lambda info: info.header_offset)
        for info in infos:
            file.seek(info.header_offset)
            header = file.read(_LOCAL.size)
            fields = _LOCAL.unpack(header)
            if fields[0] != zipfile.stringFileHeader:
                raise zipfile.BadZipFile(f"bad local header for {info.filename}")
            data_offset = info.header_offset + _LOCAL.size + fields[10] + fields[11]
            member = Member(archive, file, info, data_offset)
            actions = rewrite(member)
            if actions is None:
                actions = []
            elif not isinstance(actions, list):
                actions = [actions]
            change = next((a for a in actions if not isinstance(a, Added)), None)
            if change is None:
                _write(layout, entries, info, info.compress_type, info.CRC, info.compress_size,
                       info.file_size, [Slice(data_offset, info.compress_size)])  # fmt: skip
            elif isinstance(change, Replace):
                data = change.data
                _write(
                    layout, entries, info, zipfile.ZIP_STORED, zlib.crc32(data), len(data), len(data), [data]
                )
            else:
                if not member.stored:
                    raise ValueError(f"{info.filename}: only a stored member can get a new head")
                old = member.head(change.old_length)
                tail = info.compress_size - change.old_length
                crc = crc32_replace_head(info.CRC, old, change.data, tail)
                size = len(change.data) + tail
                pieces = [change.data, Slice(data_offset + change.old_length, tail)]
                _write(layout, entries, info, zipfile.ZIP_STORED, crc, size, size, pieces)
            for added in (a for a in actions if isinstance(a, Added)):
                new = zipfile.ZipInfo(added.name, date_time=info.date_time)
                new.external_attr = info.external_attr
                new.create_system = info.create_system
                data = added.data
                _write(
                    layout, entries, new, zipfile.ZIP_STORED, zlib.crc32(data), len(data), len(data), [data]
                )
    _central_directory(layout, entries)
    return layout


def _dos(date_time: tuple) -> tuple[int, int]:
    year, month, day, hour, minute, second = date_time
    return hour << 11 | minute << 5 | second // 2, (year - 1980) << 9 | month << 5 | day


def _write(layout: Layout, entries: list[_Entry], info: zipfile.ZipInfo, method: int, crc: int,
           csize: int, usize: int, pieces: list) -> None:  # fmt: skip
    name = info.filename.encode("ascii") if info.filename.isascii() else info.filename.encode("utf-8")
    flags = 0 if info.filename.isascii() else 0x800  # no data descriptor: every size is known here
    dostime, dosdate = _dos(info.date_time)
    entry = _Entry(name, flags, method, dostime, dosdate, crc, csize, usize, layout.size,
                   info.external_attr, info.create_system)  # fmt: skip
    extra = b""
    sizes = (csize, usize)
    if max(sizes) >= ZIP64_LIMIT:
        extra = struct.pack("<HHQQ", 1, 16, usize, csize)
        sizes = (0xFFFFFFFF, 0xFFFFFFFF)
    version = 45 if extra else 20
    header = _LOCAL.pack(zipfile.stringFileHeader, version, 0, flags, method, dostime, dosdate, crc,
                         sizes[0], sizes[1], len(name), len(extra))  # fmt: skip
    layout.add(header + name + extra)
    for piece in pieces:
        layout.add(piece)
    entries.append(entry)


def _central_directory(layout: Layout, entries: list[_Entry]) -> None:
    start = layout.size
    records = []
    for e in entries:
        values = []
        usize, csize, offset = e.usize, e.csize, e.offset
        if usize >= ZIP64_LIMIT or csize >= ZIP64_LIMIT:
            values += [usize, csize]
            usize = csize = 0xFFFFFFFF
        if offset >= ZIP64_LIMIT:
            values.append(offset)
            offset = 0xFFFFFFFF
        extra = struct.pack(f"<HH{len(values)}Q", 1, 8 * len(values), *values) if values else b""
        version = 45 if extra else 20
        records.append(
            _CENTRAL.pack(
                zipfile.stringCentralDir,
                version,
                e.create_system,
                version,
                0,
                e.flags,
                e.method,
                e.dostime,
                e.dosdate,
                e.crc,
                csize,
                usize,
                len(e.name),
                len(extra),
                0,
                0,
                0,
                e.external_attr,
                offset,
            )  # fmt: skip
            + e.name
            + extra
        )
    directory = b"".join(records)
    size, count = len(directory), len(entries)
    tail = b""
    if start >= ZIP64_LIMIT or size >= ZIP64_LIMIT or count >= 0xFFFF:
        end64_offset = start + size
        tail += _END64.pack(
            zipfile.stringEndArchive64, _END64.size - 12, 45, 45, 0, 0, count, count, size, start
        )
        tail += _LOCATOR64.pack(zipfile.stringEndArchive64Locator, 0, end64_offset, 1)
        count16 = 0xFFFF if count >= 0xFFFF else count
        size32 = 0xFFFFFFFF if size >= ZIP64_LIMIT else size
        start32 = 0xFFFFFFFF if start >= ZIP64_LIMIT else start
    else:
        count16, size32, start32 = count, size, start
    tail += _END.pack(zipfile.stringEndArchive, 0, 0, count16, count16, size32, start32, 0)
    layout.add(directory + tail)
