"""The two small JSON endpoints the pages' scripts report positions to, for a signed-in reader.

Why JSON and not a form: the player saves where it is every few seconds and when the page is left
(`fetch` with `keepalive`), without reloading anything. The CSRF token of the session travels in the body,
as in the forms; a page from another site cannot read it, so it cannot report positions for the reader.
Without JavaScript nothing is lost: opening a chapter page records the reading position, and the player's
chapter links still play.
"""

from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import access, catalogue, shelf
from ..editions import store
from . import csrf
from .helpers import db_for

MAX_BODY = 4096


class _Refused(Exception):
    def __init__(self, status: int, error: str):
        self.status, self.error = status, error


async def _report(request: Request) -> tuple[int, dict]:
    """(reader id, the reported fields): signed in, a small JSON object, the session's CSRF token."""
    reader = access.current_reader(request)
    if reader is None:
        raise _Refused(401, "sign in first")
    declared = request.headers.get("content-length", "")
    if declared and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise _Refused(413, "too large")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise _Refused(413, "too large")
    try:
        data = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise _Refused(400, "not JSON") from None
    if not isinstance(data, dict):
        raise _Refused(400, "not an object")
    if not csrf.matches(request, data.get(csrf.FIELD)):
        raise _Refused(403, "bad token")
    return reader.id, data


def _int(value: object, *, low: int = 1, high: int = 1_000_000) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _Refused(400, "bad number")
    return value


def _answer(handler):
    async def endpoint(request: Request) -> Response:
        try:
            reader_id, data = await _report(request)
            await run_in_threadpool(handler, db_for(request), reader_id, data)
        except _Refused as refused:
            return JSONResponse({"error": refused.error}, status_code=refused.status)
        return Response(status_code=204)

    return endpoint


def _save_listening(db, reader_id: int, data: dict) -> None:
    book_id = _int(data.get("book"))
    if catalogue.get_book(db, book_id) is None:
        raise _Refused(404, "no such book")
    edition_id = data.get("edition")
    if edition_id is not None:
        edition = store.get_edition(db, _int(edition_id))
        if edition is None or edition["book_id"] != book_id:
            raise _Refused(400, "not an edition of this book")
    try:
        chapter, seconds, rate = shelf.check_listening(
            data.get("chapter"), data.get("seconds"), data.get("rate", 1)
        )
    except ValueError as error:
        raise _Refused(400, f"bad {error}") from None
    shelf.record_listening(db, reader_id, book_id, edition_id, chapter, seconds, rate)


def _save_reading(db, reader_id: int, data: dict) -> None:
    book_id = _int(data.get("book"))
    chapter = _int(data.get("chapter"))
    if catalogue.get_chapter(db, book_id, chapter) is None:
        raise _Refused(404, "no such chapter")
    paragraph = data.get("paragraph")
    shelf.record_reading(
        db, reader_id, book_id, chapter, None if paragraph is None else _int(paragraph, high=100_000)
    )


listening = _answer(_save_listening)
reading = _answer(_save_reading)
