"""`GET /books/{id}/read/{n}/audio`: any chapter heard at once, with or without an audio edition.

`?from=K` starts at the chapter's sentence K (0 is the title), for read-along (web/readalong.py).

The chapter page's <audio> element (and the book page's player) point here. The reader's rights are
checked exactly as for the chapter page, before anything is read or spoken. A chapter already heard with
the same voice and rate is a plain file (seekable, with its length); any other is spoken and sent as it is
spoken (editions/listen_stream.py). Past the server's capacity the answer is 503 with Retry-After and a
translated "busy, try again in N seconds": an HTML page for a browser, plain text for a player.
"""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response, StreamingResponse

from .. import pronunciations, stats
from ..editions.listen_stream import RETRY_SECONDS, BadOption, ListenService, Plan
from ..i18n import gettext
from .helpers import book_and_chapter, db_for
from .render import render_error

MEDIA_TYPE = "audio/mpeg"
# Audio of a restricted book must never sit in a shared cache; every listener's request is checked here.
_HEADERS = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}


def chapter_audio(request: Request) -> Response:
    db = db_for(request)
    book, chapter = book_and_chapter(request, db)  # the 403 or 404 of the chapter page, before anything
    service: ListenService = request.state.listening
    try:
        plan = plan_for(request, service, book, chapter)
    except BadOption as bad:
        return _refuse(request, 400, gettext("This audio cannot be made"), bad_option(bad))
    finished = service.finished(plan)
    if finished is not None:
        _count(request, db, plan)
        return FileResponse(finished, media_type=MEDIA_TYPE, headers=_HEADERS, stat_result=finished.stat())
    if request.method == "HEAD":
        # Nothing is spoken for a HEAD: it says whether a GET would be served now (the chapter page's
        # script asks, after its player failed, to say why).
        if service.streaming >= service.capacity:
            return _busy(request)
        return Response(media_type=MEDIA_TYPE, headers={**_HEADERS, "Cache-Control": "private, no-store"})
    if not service.admit():
        return _busy(request)
    _count(request, db, plan)
    return _Stream(service, plan)


def plan_for(
    request: Request, service: ListenService, book: dict, chapter: dict, *, recent: bool = False
) -> Plan:
    """The plan the query asks for (`voice`, `rate`, `from`), or BadOption; `recent`: one made in the last
    minutes will do (ListenService.recent_plan)."""
    voice, rate = service.options(request.query_params.get("voice", ""), request.query_params.get("rate", ""))
    start = request.query_params.get("from", "").strip() or "0"
    if not start.isascii() or not start.isdigit() or len(start) > 9:
        raise BadOption("from", start)
    make = service.recent_plan if recent else service.plan
    entries = pronunciations.lexicon_for(db_for(request), book["id"])  # as the book's editions read it
    return make(book, chapter, voice, rate, int(start), entries)


def _count(request: Request, db, plan: Plan) -> None:
    """A chapter started is a listen for the statistics; the ranges that go on with it (a seek, a resumed
    player), re-checks, HEADs and read-along's jumps to another sentence (`from`) are not."""
    range_header = request.headers.get("range", "").replace(" ", "")
    conditional = "if-none-match" in request.headers or "if-modified-since" in request.headers
    if (
        request.method == "GET"
        and not plan.start
        and not conditional
        and (not range_header or range_header.startswith("bytes=0-"))
    ):
        stats.count(db, stats.LISTEN_INSTANT)


class _Stream(StreamingResponse):
    """The admission slot is given back however the response ends: the stream finished, the listener
    left mid-way, or gone before the first byte (when the body never starts, so its own `finally` never
    runs)."""

    def __init__(self, service: ListenService, plan: Plan) -> None:
        self._release = _Once(service.release)
        headers = {**_HEADERS, "Cache-Control": "private, no-store"}  # a partial stream is not worth keeping
        super().__init__(_body(service, plan, self._release), media_type=MEDIA_TYPE, headers=headers)

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


class _Once:
    def __init__(self, action) -> None:
        self._action = action
        self._done = False

    def __call__(self) -> None:
        if not self._done:
            self._done = True
            self._action()


async def _body(service: ListenService, plan: Plan, release: _Once):
    """The stream's bytes, each sentence spoken and encoded in a worker thread (the event loop never
    waits for speech)."""
    chunks = service.stream(plan)
    try:
        while True:
            chunk = await anyio.to_thread.run_sync(next, chunks, None)
            if chunk is None:
                break
            if chunk:
                yield chunk
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(chunks.close)
        release()


def _busy(request: Request) -> Response:
    message = gettext(
        "The library is busy reading other chapters aloud. Please try again in %(seconds)d seconds.",
        seconds=RETRY_SECONDS,
    )
    headers = {"Retry-After": str(RETRY_SECONDS)}
    return _refuse(request, 503, gettext("Busy: try again soon"), message, headers)


def bad_option(bad: BadOption) -> str:
    if bad.field == "from":
        return gettext(
            "This chapter has no sentence %(number)s: “from” must be a sentence number, 0 for the title.",
            number=bad.value,
        )
    if bad.field == "voice":
        return gettext(
            "There is no voice called “%(voice)s”. Leave the voice out to use the book’s language.",
            voice=bad.value,
        )
    return gettext("The speaking rate must be a number of words a minute from 80 to 450.")


def _refuse(request: Request, status: int, title: str, message: str, headers: dict | None = None) -> Response:
    """A browser gets the library's error page; a player or a script the same words as plain text."""
    if "text/html" in request.headers.get("accept", ""):
        return render_error(request, status, title=title, message=message, headers=headers)
    return PlainTextResponse(f"{title}\n{message}\n", status_code=status, headers=headers)
