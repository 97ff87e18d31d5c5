"""The reader's shelf page (`/account/shelf`) and the forms that change the shelf.

Every change is a POST form with the session's CSRF token, so everything works without JavaScript; each one
redirects back to where the reader was with a confirmation (`?shelf=...`, said in a status message). Only a
signed-in reader has a shelf: anyone else is sent to sign in first, and every query is bound to the reader.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .. import access, catalogue, shelf
from ..chapter_html import prepare_chapter_html
from ..errors import UserError
from ..i18n import gettext
from . import csrf, paragraphs
from .account_session import render_form
from .helpers import db_for, not_found
from .listen import clock
from .shelf_places import notice, reading_link, with_notice
from .staff_session import safe_next


def _sign_in_first(request: Request, back: str | None = None) -> RedirectResponse:
    here = back or (request.url.path if request.method == "GET" else "/account/shelf")
    return RedirectResponse(f"/account/sign-in?next={quote(here, safe='')}", status_code=303)


async def _posted(request: Request) -> FormData:
    form = await csrf.checked_form(request, max_fields=20, max_part_size=16 * 1024)
    return form


def _book_id(form: FormData) -> int:
    raw = str(form.get("book") or "")
    if not raw.isdigit() or len(raw) > 12:
        raise UserError(gettext("The form did not say which book."), status=400)
    return int(raw)


def _existing_book(db, book_id: int) -> dict:
    book = catalogue.get_book(db, book_id)
    if book is None:
        raise UserError(gettext("There is no such book."), status=404)
    return book


def _back(form: FormData, default: str) -> str:
    return safe_next(str(form.get("next") or ""), default)


async def favourite(request: Request) -> Response:
    reader = access.current_reader(request)
    if reader is None:
        return _sign_in_first(request)
    form = await _posted(request)
    book_id = _book_id(form)
    add = str(form.get("action") or "add") != "remove"
    db = db_for(request)
    await run_in_threadpool(_existing_book, db, book_id)
    await run_in_threadpool(shelf.set_favourite, db, reader.id, book_id, add)
    target = _back(form, f"/books/{book_id}")
    return RedirectResponse(with_notice(target, "favourite-added" if add else "favourite-removed"), 303)


def _paragraph_arg(value: object, count: int) -> int | None:
    raw = str(value or "")
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= max(count, 1):
        raise UserError(gettext("There is no such paragraph in this chapter."), status=400)
    return int(raw)


async def bookmark_page(request: Request) -> Response:
    """GET: the form to bookmark a paragraph (or the chapter) with an optional note; POST: save it."""
    book_id, position = request.path_params["book_id"], request.path_params["position"]
    db = db_for(request)
    # The rights first: a book the requester may not read is refused as its chapters are (access.py).
    book = access.require_read(request, await run_in_threadpool(catalogue.get_book, db, book_id))
    reader = access.current_reader(request)
    if reader is None:
        back = f"/books/{book_id}/read/{position}/bookmark"
        return _sign_in_first(
            request, back if request.method == "GET" else f"/books/{book_id}/read/{position}"
        )
    chapter = await run_in_threadpool(catalogue.get_chapter, db, book_id, position)
    if chapter is None:
        raise not_found()
    html = str(prepare_chapter_html(chapter["html"], book_id=book_id, title=chapter["title"]))
    count = paragraphs.paragraph_count(html)
    form = await _posted(request) if request.method == "POST" else request.query_params
    paragraph = _paragraph_arg(form.get("paragraph"), count)
    context = {
        "book": book,
        "chapter": chapter,
        "paragraph": paragraph,
        "excerpt": paragraphs.excerpt(html, paragraph) if paragraph else None,  # may_read was checked
        "note": "",
        "errors": [],
        "max_note": shelf.MAX_NOTE_CHARS,
    }
    if request.method == "GET":
        return render_form(request, "bookmark.html", context)
    note = str(form.get("note") or "")
    if len(note) > shelf.MAX_NOTE_CHARS:
        message = gettext("Keep the note to %(limit)d characters or fewer.", limit=shelf.MAX_NOTE_CHARS)
        context.update(note=note, errors=[{"field_id": "note", "message": message}])
        return render_form(request, "bookmark.html", context, status=400)
    if await run_in_threadpool(shelf.bookmark_count, db, reader.id, book_id) >= shelf.MAX_BOOKMARKS_PER_BOOK:
        raise UserError(
            gettext("You have %(count)d bookmarks in this book, the most it can keep. Delete some first.",
                    count=shelf.MAX_BOOKMARKS_PER_BOOK),
            status=400, links=[{"href": "/account/shelf#bookmarks", "text": gettext("Your bookmarks")}],
        )  # fmt: skip
    await run_in_threadpool(
        lambda: shelf.add_bookmark(db, reader.id, book_id, chapter=position, paragraph=paragraph, note=note)
    )
    anchor = paragraphs.anchors(html)[paragraph - 1] if paragraph else "main"
    return RedirectResponse(with_notice(f"/books/{book_id}/read/{position}#{anchor}", "bookmark-added"), 303)


async def listening_bookmark(request: Request) -> Response:
    """Bookmark the place the reader last listened to (kept by the player), without any script."""
    reader = access.current_reader(request)
    if reader is None:
        return _sign_in_first(request)
    form = await _posted(request)
    book_id = _book_id(form)
    db = db_for(request)
    position = await run_in_threadpool(shelf.listening_position, db, reader.id, book_id)
    if position is None:
        raise UserError(gettext("There is no listening position in this book to bookmark yet."), status=400)
    await run_in_threadpool(
        lambda: shelf.add_bookmark(
            db, reader.id, book_id, audio_chapter=position["chapter"], audio_seconds=position["seconds"]
        )
    )
    return RedirectResponse(with_notice(_back(form, f"/books/{book_id}"), "bookmark-added"), 303)


async def delete_bookmark(request: Request) -> Response:
    reader = access.current_reader(request)
    if reader is None:
        return _sign_in_first(request)
    form = await _posted(request)
    deleted = await run_in_threadpool(
        shelf.delete_bookmark, db_for(request), reader.id, request.path_params["bookmark_id"]
    )
    if not deleted:  # not theirs, or already gone: the same answer, so ids say nothing about others
        raise UserError(gettext("This bookmark is not on your shelf."), status=404)
    return RedirectResponse(with_notice(_back(form, "/account/shelf#bookmarks"), "bookmark-deleted"), 303)


async def forget_history(request: Request) -> Response:
    """Remove one book (`book`) or every book from the reading history, and their places to continue."""
    reader = access.current_reader(request)
    if reader is None:
        return _sign_in_first(request)
    form = await _posted(request)
    book_id = _book_id(form) if form.get("book") else None
    db = db_for(request)

    def forget() -> None:
        shelf.forget_reading(db, reader.id, book_id)
        shelf.forget_listening(db, reader.id, book_id)

    await run_in_threadpool(forget)
    key = "book-forgotten" if book_id else "history-forgotten"
    return RedirectResponse(with_notice("/account/shelf#history", key), 303)


async def forget_downloads(request: Request) -> Response:
    reader = access.current_reader(request)
    if reader is None:
        return _sign_in_first(request)
    await _posted(request)
    await run_in_threadpool(shelf.forget_downloads, db_for(request), reader.id)
    return RedirectResponse(with_notice("/account/shelf#downloads", "downloads-forgotten"), 303)


def _shelf(db, reader_id: int) -> dict:
    marks = shelf.bookmarks(db, reader_id)
    for mark in marks:
        if mark["audio_chapter"]:
            mark["time"] = clock(mark["audio_seconds"] or 0)
            mark["href"] = f"/books/{mark['book_id']}#listen"
        else:
            anchor = f"#{paragraphs.ANCHOR_PREFIX}{mark['paragraph']}" if mark["paragraph"] else ""
            mark["href"] = f"/books/{mark['book_id']}/read/{mark['chapter']}{anchor}"
    history = [dict(p, href=reading_link(p)) for p in shelf.reading_history(db, reader_id)]
    heard = [dict(p, time=clock(p["seconds"])) for p in shelf.recent_listening(db, reader_id)]
    return {
        "favourites": shelf.favourites(db, reader_id),
        "bookmarks": marks,
        "history": history,
        "listening": heard,
        "downloads": shelf.downloads(db, reader_id),
    }


async def shelf_page(request: Request) -> Response:
    reader = access.current_reader(request)
    if reader is None:
        return _sign_in_first(request)
    context = await run_in_threadpool(_shelf, db_for(request), reader.id)
    context["notice"] = notice(request)
    return render_form(request, "shelf.html", context)


def shelf_routes() -> list[Route]:
    from . import shelf_api

    return [
        Route("/account/shelf", shelf_page, name="shelf"),
        Route("/account/shelf/favourites", favourite, methods=["POST"], name="shelf_favourite"),
        Route("/account/shelf/bookmarks/listening", listening_bookmark, methods=["POST"]),
        Route("/account/shelf/bookmarks/{bookmark_id:int}/delete", delete_bookmark, methods=["POST"]),
        Route("/account/shelf/history/forget", forget_history, methods=["POST"]),
        Route("/account/shelf/downloads/forget", forget_downloads, methods=["POST"]),
        Route("/account/shelf/listening", shelf_api.listening, methods=["POST"], name="shelf_listening"),
        Route("/account/shelf/reading", shelf_api.reading, methods=["POST"], name="shelf_reading"),
        Route(
            "/books/{book_id:int}/read/{position:int}/bookmark",
            bookmark_page,
            methods=["GET", "POST"],
            name="bookmark",
        ),
    ]
