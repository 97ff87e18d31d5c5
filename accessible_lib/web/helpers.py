"""Small things several page modules need: the catalogue connection, page numbers, 404s."""

from __future__ import annotations

from sqlite_utils import Database
from starlette.exceptions import HTTPException
from starlette.requests import Request


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


def book_and_chapter(request: Request, db: Database) -> tuple[dict, dict]:
    """The book and chapter a /books/{book_id}/read/{position} URL names, or a 404 page."""
    from .. import catalogue

    book = catalogue.get_book(db, request.path_params["book_id"])
    if book is None:
        raise not_found()
    chapter = catalogue.get_chapter(db, book["id"], request.path_params["position"])
    if chapter is None:
        raise not_found()
    return book, chapter
