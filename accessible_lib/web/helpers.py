"""Small things several page modules need: the catalogue connection, page numbers, 404s."""

from __future__ import annotations

import anyio
from sqlite_utils import Database
from starlette.exceptions import HTTPException
from starlette.requests import Request

from ..errors import UserError
from ..i18n import gettext, ngettext


def db_for(request: Request) -> Database:
    return request.state.connections.get()


def page_number(request: Request) -> int:
    """The `page` query parameter; anything that is not a positive number is page 1."""
    raw = request.query_params.get("page", "1")
    try:
        number = int(raw)
    except ValueError:
        return 1
    return number if 1 <= number <= 100_000 else 1


def not_found() -> HTTPException:
    return HTTPException(status_code=404)


def book_and_chapter(request: Request, db: Database, *, light: bool = False) -> tuple[dict, dict]:
    """The book and chapter a /books/{book_id}/read/{position} URL names, if the requester may read it; or
    a 404 page, or the 403 page of a book they may not read (access.require_read).

    `light`: the book as catalogue.get_reading_book gives it (its row and chapter list only), for a page
    that shows nothing else of it; the rights check reads the same row either way.

    A chapter past the end (an old bookmark, a mistyped number) is a known book: the page says how many
    chapters it has and links back to it, its contents and its last chapter, not only to the home page.
    """
    from .. import access, catalogue

    # Before anything of the chapter is read: a reader who may not read the book gets the 403 page that
    # says why, and nobody learns even how many chapters a withdrawn book has.
    load = catalogue.get_reading_book if light else catalogue.get_book
    book = access.require_read(request, load(db, request.path_params["book_id"]))
    position = request.path_params["position"]
    chapter = catalogue.get_chapter(db, book["id"], position)
    if chapter is None:
        count = len(book["chapters"])
        links = [
            {"href": f"/books/{book['id']}", "text": book["title"], "lang": book["language"]},
            {"href": f"/books/{book['id']}#contents", "text": gettext("The book’s contents")},
        ]
        if count:
            last = gettext("Read the last chapter, chapter %(number)d", number=count)
            links.append({"href": f"/books/{book['id']}/read/{count}", "text": last})
        raise UserError(
            ngettext(
                "This book has %(count)d chapter.",
                "This book has %(count)d chapters.",
                count,
                count=count,
            ),
            title=gettext("There is no chapter %(number)d", number=position),
            status=404,
            links=links,
        )
    return book, chapter


async def in_search_turn(request: Request, make_page):
    """`make_page(request)` in a worker thread, as a plain (sync) route would run, but at most
    `searches_at_once` (a setting, default 2) at a time per web process: the limiter is
    `request.state.search_turns`, made in the app's lifespan. For the search page and both OPDS search
    feeds.

    Why: searches already run one at a time in a process (search.py), yet each page waiting for its turn
    held one of the shared pool's 40 threads, and the pages around the search (the books' chapter counts,
    the template) ran in all of them at once, passing the GIL round with the search itself and with the
    SQL function that cuts its snippets. With 50 clients a process spent its cores on that hand-over and
    sat idle a tenth of the time. Waiting in the event loop instead, first come, first served (anyio's
    limiter is fair), the scale bench's search mix went from 194 to 255-264 searches a second and its
    p99 from 640 to 340 ms (docs/scaling.md).
    """
    return await anyio.to_thread.run_sync(make_page, request, limiter=request.state.search_turns)
