"""Browsing by subject, author, language and format: facet list, its values, then the books (three levels)."""

from __future__ import annotations

from starlette.requests import Request

from .. import browsing
from .helpers import db_for, not_found, page_number
from .render import render


def browse_index(request: Request):
    db = db_for(request)
    counts = {facet: browsing.facet_values(db, facet, 1, 1).total for facet in browsing.FACETS}
    return render(request, "browse.html", {"facets": browsing.FACETS, "counts": counts})


def facet_page(request: Request):
    facet = request.path_params["facet"]
    if facet not in browsing.FACETS:
        raise not_found()
    settings = request.state.settings
    page = browsing.facet_values(db_for(request), facet, page_number(request), settings.page_size)
    return render(request, "browse_facet.html", {"facet": facet, "page": page})


def facet_books(request: Request):
    facet = request.path_params["facet"]
    value = request.path_params["value"]
    if facet not in browsing.FACETS:
        raise not_found()
    settings = request.state.settings
    page = browsing.books_for_facet(db_for(request), facet, value, page_number(request), settings.page_size)
    if page.total == 0:
        raise not_found()
    return render(request, "browse_books.html", {"facet": facet, "value": value, "page": page})
