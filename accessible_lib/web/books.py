"""The book page: what the book is, its contents, and the ways to read or download it."""

from __future__ import annotations

from starlette.requests import Request

from .. import catalogue
from .helpers import db_for, not_found
from .render import render


def book_page(request: Request):
    book = catalogue.get_book(db_for(request), request.path_params["book_id"])
    if book is None:
        raise not_found()
    return render(request, "book.html", {"book": book, "toc": nest_toc(book)})


def nest_toc(book: dict) -> list[dict]:
    """The contents as a tree for nested lists; falls back to the chapter list when the book has none."""
    entries = book["toc"] or [
        {"level": c["level"], "title": c["title"], "chapter_position": c["position"], "fragment": None}
        for c in book["chapters"]
    ]
    root: list[dict] = []
    stack: list[tuple[int, list[dict]]] = [(0, root)]
    for entry in entries:
        node = {**entry, "children": []}
        level = max(1, entry["level"] or 1)
        while len(stack) > 1 and stack[-1][0] >= level:
            stack.pop()
        stack[-1][1].append(node)
        stack.append((level, node["children"]))
    return root
