"""The home page: a search box first, then new arrivals and the ways to browse."""

from __future__ import annotations

from starlette.requests import Request

from .. import catalogue
from .helpers import db_for
from .render import render
from .shelf_places import home_places


def home(request: Request):
    db = db_for(request)
    return render(
        request,
        "home.html",
        {
            "recent": catalogue.recent_books(db, limit=10),
            "book_count": catalogue.book_count(db),
            "shelf": home_places(request),
        },
    )
