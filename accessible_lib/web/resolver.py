"""`/id/{identifier}`: a persistent identifier as a web address that leads to what it names.

Why a redirect and not a page of its own: the identifier names the book (or one edition of it), not a web
page; "303 See Other" says so and sends the reader to the page that describes it, which may move while the
identifier never does. An identifier is accepted as people copy it: `urn:isbn:`, a bare ISBN-10 or -13 with
hyphens, a UUID in any case, with or without `urn:uuid:`.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse

from .. import identifiers
from ..editions import store
from ..errors import UserError
from ..i18n import gettext
from .helpers import db_for

MAX_LENGTH = 300  # far above any ISBN, UUID or URN this library gives


def permanent_link(request: Request, identifier: str) -> str:
    """The address that resolves `identifier`, absolute so that it can be copied into a citation: on the
    library's public address (the `public_url` setting) when it has one, else the one the request came to."""
    base = getattr(request.state.settings, "public_url", "") or str(request.base_url)
    return base.rstrip("/") + "/id/" + quote(identifier, safe=":")


def edition_anchor(edition_id: int) -> str:
    """The id of an edition's entry on its book page (templates/book.html)."""
    return f"edition-{edition_id}"


def resolve(request: Request):
    text = request.path_params["identifier"].strip()
    db = db_for(request)
    found = identifiers.resolve(db, text) if 0 < len(text) <= MAX_LENGTH else None
    if found is None:
        raise UserError(
            gettext(
                "This library has given no book or edition this identifier. Check that it was copied whole, "
                "or search the library for the book’s title or author."
            ),
            title=gettext("No book has this identifier"),
            status=404,
            links=[{"href": "/search", "text": gettext("Search the library")}],
        )
    book_page = f"/books/{found['book_id']}"
    if "edition_id" not in found:
        return RedirectResponse(book_page, status_code=303)
    if found["status"] == store.DONE:
        return RedirectResponse(f"{book_page}#{edition_anchor(found['edition_id'])}", status_code=303)
    return RedirectResponse(f"{book_page}#editions", status_code=303)  # not made (yet): the book's editions
