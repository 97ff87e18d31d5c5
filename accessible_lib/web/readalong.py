"""`GET /books/{id}/read/{n}/timings`: when each sentence of a chapter's spoken stream starts and ends, for
the chapter page's read-along (static/readalong.js highlights the sentence being heard).

Why from the sentence cache and not from a list made beforehand: the stream (`/audio?from=K`) is spoken as
it is sent, far ahead of the listener, and every sentence it speaks lands in the cache, whose PCM length
is that sentence's exact duration. This route reads only file sizes, never speaks, so it is cheap to ask
again while the audio plays; it answers the sentences known so far and whether that is all of them.

The same rights check as the chapter page and its audio, before anything; errors are JSON, translated.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..editions.listen_stream import BadOption, ListenService
from ..errors import UserError
from ..i18n import gettext
from .helpers import book_and_chapter, db_for
from .listen_audio import bad_option, plan_for

_HEADERS = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}


def chapter_timings(request: Request) -> Response:
    try:
        book, chapter = book_and_chapter(request, db_for(request))
    except UserError as refused:  # 403 (may not read) or 404 (no such chapter), with the page's words
        return _error(refused.status, refused.message)
    except HTTPException as missing:
        return _error(missing.status_code, gettext("There is no such book."))
    service: ListenService = request.state.listening
    try:
        plan = plan_for(request, service, book, chapter)
    except BadOption as bad:
        return _error(400, bad_option(bad))
    sentences, complete = service.timings(plan)
    body = {
        "from": plan.start,
        "count": plan.start + len(plan.lines),
        "complete": complete,
        "sentences": [list(sentence) for sentence in sentences],
    }
    return JSONResponse(body, headers=_HEADERS)


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=_HEADERS)
