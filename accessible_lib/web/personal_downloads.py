"""Personalised downloads of restricted books: a download id for the reader, then the stamped file by ranges.

A reader who asks for a file of an `eligible-only` book gets a new download id, logged, and is sent on (303)
to the same address with `?dl=ID`. That link is the whole state of the download: every request to it makes
the same stamped bytes again from the log row (editions/personal_copy), so a download that breaks off
resumes with a Range request like any other. Ranges, multiple ranges, If-Range, HEAD and 416 are served by
Starlette's FileResponse, reading the stamped layout instead of the file; the ETag is made from the
download id and the original file's checksum. The link works only for the reader it was given to.

When the stamped file has been sent whole, its sha256 goes into the log row: staff can then tell whether a
file found elsewhere is exactly what was served.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlencode

import anyio
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from .. import access
from ..editions import download_log
from ..editions.byte_layout import Layout
from ..editions.personal_copy import NotStampable, layout_for, stamp_for
from ..editions.stamps import Stamp
from ..errors import UserError
from ..i18n import gettext
from .helpers import db_for, not_found

PARAM = "dl"  # the query parameter carrying the download id


def needs_stamp(db, edition: dict) -> bool:
    """Whether files of this edition's book are served only as personal copies."""
    cursor = db.execute("SELECT * FROM books WHERE id = ?", [edition["book_id"]])
    row = cursor.fetchone()
    book = dict(zip([c[0] for c in cursor.description], row, strict=True)) if row else {}
    return access.rights_status(book) == access.ELIGIBLE_ONLY


def personal_download(request: Request, edition: dict, record: dict, path: Path, headers: dict) -> Response:
    """The response for a file of a restricted book: a new download id, or the stamped file it names."""
    db = db_for(request)
    reader = access.current_reader(request)
    if (
        reader is None or not reader.eligible
    ):  # may_read stops them first; this never serves an unstamped copy
        raise UserError(
            gettext("This book is lent only to readers approved as print-disabled."),
            title=gettext("This book is for eligible readers"),
            status=403,
        )
    wanted = request.query_params.get(PARAM)
    if wanted is None:
        row = download_log.record_download(
            db,
            reader_id=reader.id,
            reader_name=reader.name,
            edition_id=edition["id"],
            file_name=record["name"],
        )
        params = [(k, v) for k, v in request.query_params.multi_items() if k != PARAM] + [(PARAM, row["id"])]
        return RedirectResponse(f"{request.url.path}?{urlencode(params)}", status_code=303)
    row = download_log.get_download(db, wanted)
    if (
        row is None
        or row["reader_id"] != reader.id
        or row["edition_id"] != edition["id"]
        or row["file_name"] != record["name"]
    ):
        raise not_found()
    stamp = stamp_for(row, edition)
    try:
        layout = cached_layout(path, edition, record["name"], stamp)
    except (NotStampable, ValueError, OSError) as error:
        raise UserError(
            gettext("This file cannot be made into a personal copy yet. Please tell the library."),
            title=gettext("This file cannot be downloaded"),
            status=503,
        ) from error

    def served(sha256: str, size: int) -> None:
        download_log.record_served(db_for(request), row["id"], sha256, size)

    etag = f'"{row["id"]}-{(record.get("sha256") or "")[:16]}"'
    headers = {**headers, "Cache-Control": "private, max-age=3600"}
    response = LayoutResponse(
        layout, media_type=record["media_type"], headers=headers, etag=etag, on_whole=served
    )
    from .downloads import _not_modified

    if _not_modified(request, response):
        kept = {k: v for k, v in response.headers.items() if k in {"etag", "last-modified", "cache-control"}}
        return Response(status_code=304, headers=kept)
    return response


_CACHE: OrderedDict[tuple, Layout] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 32


def cached_layout(path: Path, edition: dict, name: str, stamp: Stamp) -> Layout:
    """The layout of a stamped file; a resumed download asks for it again, so the last few are kept (they
    are small: headers, tags and title pages; the audio stays in the file)."""
    info = os.stat(path)
    key = (str(path), info.st_mtime_ns, info.st_size, edition["format"], repr(edition.get("options")), stamp)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    layout = layout_for(path, edition, name, stamp)
    with _CACHE_LOCK:
        _CACHE[key] = layout
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return layout


class LayoutResponse(FileResponse):
    """FileResponse's headers, ranges and validators over a layout rather than a file on disk."""

    chunk_size = 256 * 1024

    def __init__(
        self,
        layout: Layout,
        *,
        media_type: str,
        headers: dict,
        etag: str,
        on_whole: Callable[[str, int], None] | None = None,
    ) -> None:
        self.layout = layout
        self.on_whole = on_whole
        mtime = int(layout.source.stat().st_mtime)
        fake = os.stat_result((stat.S_IFREG | 0o644, 0, 0, 1, 0, 0, layout.size, mtime, mtime, mtime))
        super().__init__(
            layout.source, media_type=media_type, headers={**headers, "etag": etag}, stat_result=fake
        )

    @asynccontextmanager
    async def _open_file(self):
        reader = _AsyncLayoutReader(self.layout, self.on_whole)
        try:
            yield reader
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(reader.close)

    async def _handle_simple(self, send, send_header_only: bool, send_pathsend: bool) -> None:
        # never "pathsend": the bytes are the layout's, not the original file's
        await super()._handle_simple(send, send_header_only, False)


class _AsyncLayoutReader:
    """What FileResponse reads from; hashes what it sends from the first byte on, so a whole download
    leaves its sha256 in the log."""

    def __init__(self, layout: Layout, on_whole: Callable[[str, int], None] | None):
        self._reader = layout.open()
        self._size = layout.size
        self._on_whole = on_whole
        self._hash = hashlib.sha256()
        self._hashed = 0

    async def seek(self, position: int) -> None:
        self._reader.seek(position)

    async def read(self, size: int) -> bytes:
        return await anyio.to_thread.run_sync(self._read, size)

    def _read(self, size: int) -> bytes:
        start = self._reader.position
        data = self._reader.read(size)
        if self._hash is not None and start == self._hashed:
            self._hash.update(data)
            self._hashed += len(data)
            if self._hashed == self._size:
                digest, self._hash = self._hash.hexdigest(), None
                if self._on_whole is not None:
                    self._on_whole(digest, self._size)
        return data

    def close(self) -> None:
        self._reader.close()
