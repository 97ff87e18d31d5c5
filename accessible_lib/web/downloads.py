"""Downloading finished editions: right type, a safe UTF-8 file name, validators and byte ranges.

Range requests matter here more than anywhere: audio streams and resumes over poor connections, and a DAISY
player downloading a 300 MB book must be able to pick up where it stopped. Starlette's FileResponse does the
ranges (single, multiple, invalid), ETag and Last-Modified, or nginx does when it is in front
(web/accel_redirect.py); this module decides what may be served and how it is named.
"""

from __future__ import annotations

import re
import unicodedata
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from .. import access, shelf, stats
from ..editions import store
from ..editions.storage import storage_for
from . import basic_auth
from .accel_redirect import accel_response
from .helpers import db_for, not_found

_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|;]+')


def download_name(title: str, extension: str, fallback: str) -> tuple[str, str]:
    """(UTF-8 name, ASCII name) for Content-Disposition: the title as readers know it, made safe for any disk.

    Old clients that ignore filename* get the ASCII name; it falls back to `fallback` when the title has no
    ASCII letters at all (a Chinese title).
    """
    clean = _UNSAFE.sub(" ", unicodedata.normalize("NFC", title)).strip(" .") or fallback
    clean = re.sub(r"\s+", " ", clean)[:100].rstrip(" .")
    ascii_name = re.sub(r"[^A-Za-z0-9._ -]+", "", unicodedata.normalize("NFKD", clean)).strip(" .-")
    ascii_name = re.sub(r"\s+", "-", ascii_name)[:80] or fallback
    return f"{clean}{extension}", f"{ascii_name}{extension}"


def download(request: Request):
    db = db_for(request)
    edition = store.get_edition(db, request.path_params["edition_id"])
    name = request.path_params["name"]
    if edition is None or edition["status"] != store.DONE or not edition["storage_key"]:
        raise not_found()
    book = access.book_rights(db, edition["book_id"])
    if book and access.current_reader(request) is None and basic_auth.wants_opds(request):
        if not access.may_read(request, access.visible_or_404(book)):
            return basic_auth.challenge(request)  # an app is told to sign in; a browser gets the 403 page
    access.require_read(request, book)  # rights: before any byte
    record = next((f for f in edition["files"] if f["name"] == name), None)
    if record is None:
        raise not_found()
    root = storage_for(request.state.settings).path(edition["storage_key"])
    path = (root / record["name"]).resolve()
    if root.resolve() not in path.parents or not path.is_file():
        raise not_found()
    suffix = Path(record["name"]).suffix
    title, fallback = edition["book_title"], f"book-{edition['book_id']}"
    # A chapter's MP3 for the player plays in the browser when its link is followed (no JavaScript needed);
    # ?download=1, the page's "save" link, asks for it as a file named after the book and the chapter.
    inline = record.get("role") == "listen" and request.query_params.get("download") != "1"
    _remember(request, edition, record, inline)
    _count(request, edition, inline)
    if record.get("chapter"):
        title = f"{title} {record['chapter']:03d} {record.get('title') or ''}".strip()
        fallback = f"{fallback}-{record['chapter']:03d}"
    utf8_name, ascii_name = download_name(title, suffix, fallback)
    kind = "inline" if inline else "attachment"
    disposition = f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(utf8_name, safe='')}"
    headers = {
        "Content-Disposition": disposition,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "public, max-age=3600",
    }
    personal = _personal_copy(request, edition, record, path, headers)
    if personal is not None:
        return personal
    # nginx in front: it sends the bytes (ranges, validators, 304) from its internal location
    handed_on = accel_response(request.state.settings, path, record["media_type"], headers)
    if handed_on is not None:
        return handed_on
    response = FileResponse(path, media_type=record["media_type"], headers=headers, stat_result=path.stat())
    if _not_modified(request, response):
        headers = {
            k: v for k, v in response.headers.items() if k in {"etag", "last-modified", "cache-control"}
        }
        return Response(status_code=304, headers=headers)
    return response


def _remember(request: Request, edition: dict, record: dict, inline: bool) -> None:
    """A signed-in reader's download history: a file asked for from its start, once per download (the
    ranges that resume it, a re-check of a file the reader has, and a chapter the player streams, are not
    new downloads). Recorded before the response is chosen, so a personal copy is recorded too."""
    reader = access.current_reader(request)
    range_header = request.headers.get("range", "").replace(" ", "")
    resumed = range_header and not range_header.startswith("bytes=0-")
    conditional = "if-none-match" in request.headers or "if-modified-since" in request.headers
    if reader is None or inline or resumed or conditional or request.method != "GET":
        return
    shelf.record_download(
        db_for(request), reader.id, edition["book_id"], edition["id"], edition["format"], record["name"]
    )


def _count(request: Request, edition: dict, inline: bool) -> None:
    """The statistics: a chapter the player starts is a listen, any other file asked for from its start a
    download; the ranges that go on with either, and re-checks, are neither."""
    range_header = request.headers.get("range", "").replace(" ", "")
    conditional = "if-none-match" in request.headers or "if-modified-since" in request.headers
    if request.method != "GET" or conditional or (range_header and not range_header.startswith("bytes=0-")):
        return
    if inline:
        stats.count(db_for(request), stats.LISTEN_EDITION)
    else:
        stats.count(db_for(request), stats.DOWNLOADS, edition["format"])


def _personal_copy(request: Request, edition: dict, record: dict, path: Path, headers: dict):
    """A restricted (`eligible-only`) book's files go out only as personal copies, stamped with the reader
    (web/personal_downloads.py); None for every other book, whose files are served as they are."""
    from . import personal_downloads

    if not personal_downloads.needs_stamp(db_for(request), edition):
        return None
    return personal_downloads.personal_download(request, edition, record, path, headers)


def _not_modified(request: Request, response: FileResponse) -> bool:
    """Conditional GET (RFC 9110 13.1): a player re-checking a file it has gets 304, not the file again."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or response.headers["etag"] in tags
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
            modified = parsedate_to_datetime(response.headers["last-modified"])
        except (TypeError, ValueError):
            return False
        return modified <= since
    return False
