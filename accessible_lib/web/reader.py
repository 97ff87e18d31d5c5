"""Reading online: one chapter per page, with previous, next and contents links, in the book's language."""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.responses import Response

from .. import access, catalogue, stats
from ..chapter_marks import page_content
from .helpers import book_and_chapter, db_for, not_found
from .readalong import read_along_controls
from .render import render
from .shelf_places import chapter_places

# Images a browser shows without running anything; SVG could carry scripts, so it is never served.
OPEN = (access.PUBLIC_DOMAIN, access.OPEN_LICENCE)
_SAFE_IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}


async def chapter_page(request: Request):
    """The chapter page, made in a worker thread as a plain (sync) route would be, but at most
    `chapters_at_once` (a setting, default 4) at a time per web process instead of the 40 threads of the
    shared pool: the limiter is `request.state.chapter_turns`, made in the app's lifespan.

    Why: the page is the one no cache serves, and each one gives up the GIL for every query it makes.
    With 50 clients, 40 threads passed the GIL round among themselves, so every page waited behind
    dozens of others part-made: the slowest 1% took 110-140 ms at 150,000 books. With a few at once,
    each page is finished soon after it starts and the rest queue first come, first served: the same
    throughput or better, and in the scale bench a p99 of 74-90 ms instead of 133 (docs/scaling.md).
    Other routes keep the shared pool, so a slow search or a stream never holds a chapter's turn.

    A signed-in reader's page keeps the shared pool too: it writes the visit (shelf.record_visit), which
    may wait for another writer, and a few such waits must not hold every visitor's turn.
    """
    if access.current_reader(request) is not None:
        return await anyio.to_thread.run_sync(_chapter_page, request)
    return await anyio.to_thread.run_sync(_chapter_page, request, limiter=request.state.chapter_turns)


def _chapter_page(request: Request):
    db = db_for(request)
    book, chapter = book_and_chapter(request, db, light=True)  # the page shows only its row and chapters
    position = request.path_params["position"]
    count = len(book["chapters"])
    content_lang = chapter["lang"] or book["language"]
    # Fitted and sentence-marked: kept per chapter (chapter_marks.py), computed when not kept yet.
    content, title_html, sentences = page_content(db, book, chapter, content_lang)
    along = read_along_controls(book, chapter, sentences)
    places = chapter_places(request, book, chapter, content)  # a signed-in reader's bookmarks; the visit
    request.state.pending_counts.add(stats.READS)  # added to the catalogue every few seconds
    context = {
        "book": book,
        "chapter": chapter,
        "content": places["content"] if places else content,
        "shelf": places,
        "content_lang": content_lang,
        "title_html": title_html,
        "readalong": along,
        "previous": book["chapters"][position - 2] if position > 1 else None,
        "next": book["chapters"][position] if position < count else None,
        "count": book["chapter_count"],  # real chapters: back matter, listed after them, is not counted
    }
    return render(request, "chapter.html", context)


def resource(request: Request):
    db = db_for(request)
    book = access.require_read(request, access.book_rights(db, request.path_params["book_id"]))
    found = catalogue.get_resource(db, request.path_params["book_id"], request.path_params["name"])
    if found is None or found[0] not in _SAFE_IMAGE_TYPES:
        raise not_found()
    media_type, data = found
    # A shared cache must not hand an eligible reader's image of a restricted book to anyone else.
    scope = "public" if access.rights_status(book) in OPEN else "private"
    return Response(
        data,
        media_type=media_type,
        headers={
            "Cache-Control": f"{scope}, max-age=86400",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'",
        },
    )
