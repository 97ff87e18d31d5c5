"""The book page: what the book is, its contents, and the ways to read, listen to or download it."""

from __future__ import annotations

from babel.numbers import format_decimal
from starlette.requests import Request

from braille.tables import default_table

from .. import catalogue
from ..editions import formats, store
from ..i18n import gettext
from ..ingest.errors import N_
from . import csrf
from .braille import table_choices
from .helpers import db_for, not_found
from .listen import LISTEN, listening
from .render import render

# Identifier schemes as readers know them. The rest ("uuid", "other", a publisher's own scheme) identify a
# file, not a book a reader could look up, and a scheme name read aloud ("uri", "other") means nothing:
# they stay in the catalogue for staff and are not shown here.
IDENTIFIER_LABELS = {
    "isbn": N_("ISBN"),
    "issn": N_("ISSN"),
    "doi": N_("DOI"),
    "gutenberg": N_("Project Gutenberg ebook number"),
    "uri": N_("Web address"),
    "url": N_("Web address"),
}


def reader_identifiers(identifiers: list[dict]) -> list[dict]:
    shown = []
    for identifier in identifiers:
        label = IDENTIFIER_LABELS.get(identifier["scheme"])
        value = identifier["value"]
        if label is None or not value:
            continue
        link = value if value.lower().startswith(("http://", "https://")) else None
        shown.append({"label": gettext(label), "value": value, "href": link})
    return shown


def book_page(request: Request):
    db = db_for(request)
    book = catalogue.get_book(db, request.path_params["book_id"])
    if book is None:
        raise not_found()
    locale = request.scope.get("locale", "en")
    editions = store.editions_for_book(db, book["id"], status=store.DONE)
    downloads = [_download_entry(edition, locale) for edition in editions]
    context = {
        "book": book,
        "toc": nest_toc(book),
        "identifiers": reader_identifiers(book["identifiers"]),
        "downloads": downloads,
        "listen": listening(editions),
        "braille_tables": table_choices(book["language"], default_table(book["language"])),
        "csrf_token": csrf.token(request),  # the braille form is a POST
    }
    return render(request, "book.html", context)


def _download_entry(edition: dict, locale: str) -> dict:
    fmt = formats.FORMATS.get(edition["format"])
    return {
        "label": gettext(fmt.label) if fmt else edition["format"],
        "purpose": gettext(fmt.purpose) if fmt else "",
        "files": [
            {
                "name": f["name"],
                "kind": f["name"].rsplit(".", 1)[-1].upper() if "." in f["name"] else "",
                "href": f"/editions/{edition['id']}/files/{f['name']}",
                "size": human_size(f["size"], locale),
            }
            for f in edition["files"]
            if f.get("role") != LISTEN  # the player's chapter files are listed in the Listen section
        ],
    }


def human_size(size: int, locale: str) -> str:
    """Sizes as people say them, with the locale's digits and separators ("1.4 MB")."""
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            number = format_decimal(size / factor, format="#,##0.#", locale=locale)
            return f"{number} {unit}"
    return gettext("%(number)s bytes", number=format_decimal(size, locale=locale))


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
