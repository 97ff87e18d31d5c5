"""Which parts of each edition file carry the reader's stamp, and the stamped file's layout.

Nothing is rebuilt: a file is its original bytes with a few pieces replaced (byte_layout). In a zip, the
members that carry the stamp are rewritten (the title page, the package or ncc, the playlist) and each MP3
gets a new ID3 tag in front of its frames, which are copied byte for byte like every other member. A
plain-text or braille file gets a new title page in front of the rest of the file.

| format   | title page                               | metadata                                      |
| -------- | ---------------------------------------- | --------------------------------------------- |
| html     | index.html, under title and authors      | index.html: dcterms.rights, download-id metas |
| epub3-mo | a title page first in the spine (added)  | package.opf: dc:rights, dcterms:accessRights  |
| daisy202 | the title section's text (first .html)   | ncc.html: dc:rights, prod:personalCopy        |
| mp3      | playlist.m3u8 comment lines              | each MP3's ID3 tag: TOWN, TXXX, COMM          |
| txt      | after the title and authors              | (plain text has none)                         |
| brf      | foot of the title page (first page)      | (BRF has none)                                |
| pef      | foot of the title page (first page)      | dc:rights                                     |
"""

from __future__ import annotations

import hashlib
import posixpath
from pathlib import Path

from . import stamps
from .byte_layout import Added, Layout, Member, NewHead, Replace, prefixed, zip_layout
from .stamps import Stamp

HEAD_BYTES = 256 * 1024  # a title page is a few kilobytes: the head read from a text or braille file


class NotStampable(ValueError):
    """A file this code cannot stamp: it must not be served unstamped from a restricted book."""


def layout_for(path: Path, edition: dict, name: str, stamp: Stamp) -> Layout:
    """The stamped file `name` of `edition` (a dict from store.get_edition), whose original is at `path`."""
    path = Path(path)
    fmt = edition["format"]
    options = edition.get("options") or {}
    if name.endswith(".mp3"):  # a chapter published on its own for the player
        head = _head(path, 10)
        old = _head(path, stamps.id3_length(head)) if stamps.id3_length(head) else b""
        return prefixed(path, stamps.id3_tag(old, stamp), len(old))
    if fmt == "txt":
        new, old_length = stamps.text_head(_head(path, HEAD_BYTES), stamp)
        return prefixed(path, new, old_length)
    if fmt == "brf":
        new, old_length = stamps.brf_title_page(_head(path, HEAD_BYTES), stamp, options)
        return prefixed(path, new, old_length)
    if fmt == "pef":
        new, old_length = stamps.pef_head(_head(path, HEAD_BYTES), stamp, options)
        return prefixed(path, new, old_length)
    rewriters = {"html": _html, "mp3": _mp3_zip, "daisy202": _daisy, "epub3-mo": _epub}
    if fmt not in rewriters or not name.endswith((".zip", ".epub")):
        raise NotStampable(f"no stamp for {name} of a {fmt} edition")
    return zip_layout(path, rewriters[fmt](stamp))


def _head(path: Path, size: int) -> bytes:
    with open(path, "rb") as file:
        return file.read(size)


def _audio(member: Member, stamp: Stamp) -> NewHead | None:
    if not member.name.endswith(".mp3"):
        return None
    if not member.stored:  # every builder stores its MP3s; a deflated one would be inflated to stamp it
        data = member.read()
        length = stamps.id3_length(data)
        return Replace(stamps.id3_tag(data[:length], stamp) + data[length:])
    length = stamps.id3_length(member.head(10))
    if length > member.info.compress_size:
        raise NotStampable(f"{member.name}: its ID3 tag is longer than the file")
    old = member.head(length) if length else b""
    return NewHead(length, stamps.id3_tag(old, stamp))


def _html(stamp: Stamp):
    def rewrite(member: Member):
        if member.name == "index.html":
            return Replace(stamps.html_title_page(member.read(), stamp))
        return None

    return rewrite


def _mp3_zip(stamp: Stamp):
    def rewrite(member: Member):
        if member.name.endswith((".m3u8", ".m3u")):
            return Replace(stamps.m3u(member.read(), stamp))
        return _audio(member, stamp)

    return rewrite


def _daisy(stamp: Stamp):
    seen = {"title": False}

    def rewrite(member: Member):
        if member.name == "ncc.html":
            return Replace(stamps.daisy_ncc(member.read(), stamp))
        if member.name.endswith(".html") and not seen["title"]:  # c001.html: the title section's text
            seen["title"] = True
            return Replace(stamps.xhtml_title_text(member.read(), stamp))
        return _audio(member, stamp)

    return rewrite


def _epub(stamp: Stamp):
    def rewrite(member: Member):
        if member.name.endswith(".opf"):
            package, title, authors = stamps.epub_package(member.read(), stamp)
            page = posixpath.join(posixpath.dirname(member.name), stamps.EPUB_TITLE_PAGE)
            return [Replace(package), Added(page, stamps.epub_title_page(title, authors, stamp))]
        return _audio(member, stamp)

    return rewrite


def stamp_for(row: dict, edition: dict) -> Stamp:
    """The stamp a download log row gives: everything from the row, so the bytes never change."""
    return Stamp(
        download_id=row["id"],
        name=row["reader_name"],
        date=row["created_at"][:10],
        language=edition.get("book_language") or "en",
    )


def layout_for_download(db, settings, row: dict) -> Layout:
    """The stamped file a download id names, made again from its log row (for staff: its sha256)."""
    from . import store
    from .storage import storage_for

    edition = store.get_edition(db, row["edition_id"])
    if edition is None or not edition.get("storage_key"):
        raise NotStampable(f"edition {row['edition_id']} has no files any more")
    path = storage_for(settings).path(edition["storage_key"]) / row["file_name"]
    return layout_for(path, edition, row["file_name"], stamp_for(row, edition))


def layout_sha256(layout: Layout) -> str:
    digest = hashlib.sha256()
    with layout.open() as reader:
        while chunk := reader.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
