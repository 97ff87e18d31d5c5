"""`GET /books/{id}/read/{n}/timings`: when each sentence of a chapter's spoken stream starts and ends, for
the chapter page's read-along (static/readalong.js highlights the sentence being heard).

Why from the sentence cache and not from a list made beforehand: the stream (`/audio?from=K`) is spoken as
it is sent, far ahead of the listener, and every sentence it speaks lands in the cache, whose PCM length
is that sentence's exact duration. This route reads only file sizes, never speaks, so it is cheap to ask
again while the audio plays; it answers the sentences known so far and whether that is all of them.

The same rights check as the chapter page and its audio, before anything; errors are JSON, translated.
"""

from __future__ import annotations

from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..editions.listen_stream import BadOption, ListenService
from ..errors import UserError
from ..i18n import gettext
from ..ingest.errors import N_
from ..sentence_marks import mark_sentences
from .helpers import book_and_chapter, db_for
from .listen import Control
from .listen_audio import bad_option, plan_for

_HEADERS = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}

# The read-along buttons and their Alt+Shift shortcuts: keys that Orca leaves alone (see listen.Control).
# The first is the toggle that starts and pauses; the others appear once reading has started.
CONTROLS = (
    Control("play", N_("Read aloud"), "KeyS", "S", "S", help=N_("Read aloud, pause, or go on")),
    Control("previous", N_("Previous sentence"), "Comma", ",", ","),
    Control("next", N_("Next sentence"), "Period", ".", "."),
    Control("slower", N_("Slower"), "Minus", "-", "-"),
    Control("faster", N_("Faster"), "Equal", "=", "="),
    Control(
        "here",
        N_("Read from the selection"),
        "KeyJ",
        "J",
        "J",
        help=N_("Read from the sentence you selected, or where the text cursor is (caret browsing, F7)"),
    ),
)
SPEEDS = (0.75, 1.0, 1.25, 1.5, 1.75, 2.0)


def read_along(book: dict, chapter: dict, content: Markup, lang: str) -> tuple[Markup, Markup, dict]:
    """The chapter page's content and title with their sentences marked, and what the read-along
    controls need: where the audio and timings are, how many sentences, the buttons."""
    content, title, count = mark_sentences(content, chapter, lang)
    return content, title, read_along_controls(book, chapter, count)


def read_along_controls(book: dict, chapter: dict, count: int) -> dict:
    """What the read-along controls need, given the chapter's sentence count (stored or just counted)."""
    base = f"/books/{book['id']}/read/{chapter['position']}"
    return {
        "audio": f"{base}/audio",
        "timings": f"{base}/timings",
        "count": count,
        "controls": CONTROLS,
        "speeds": SPEEDS,
    }


def chapter_timings(request: Request) -> Response:
    try:
        book, chapter = book_and_chapter(request, db_for(request))
    except UserError as refused:  # 403 (may not read) or 404 (no such chapter), with the page's words
        links = [{"href": link["href"], "text": link["text"]} for link in refused.links]
        return _error(refused.status, refused.message, title=refused.title, links=links)
    except HTTPException as missing:
        return _error(missing.status_code, gettext("There is no such book."))
    service: ListenService = request.state.listening
    try:
        plan = plan_for(request, service, book, chapter, recent=True)
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


def _error(status: int, message: str, **more: object) -> Response:
    """`{"error": ...}`, and for a refusal the error page's title and links (how to become eligible)."""
    body = {"error": message, **{name: value for name, value in more.items() if value}}
    return JSONResponse(body, status_code=status, headers=_HEADERS)
