"""The book page: what the book is, its contents, and the ways to read, listen to or download it."""

from __future__ import annotations

from babel.numbers import format_decimal
from starlette.requests import Request

from braille.tables import default_table

from .. import access, catalogue
from ..editions import formats, store
from ..i18n import gettext
from ..ingest.errors import N_
from . import csrf
from .braille import table_choices
from .helpers import db_for
from .listen import LISTEN, listening
from .render import render
from .resolver import edition_anchor, permanent_link
from .shelf_places import book_places

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
    """Anyone may see a book's catalogue record; only a reader who may read it gets the ways to read it.

    For the others the read, listen, download and contents parts are not made at all (not merely hidden),
    and the page says why and how to become eligible. A withdrawn book is a 404, as if it did not exist.
    """
    db = db_for(request)
    book = access.visible_or_404(catalogue.get_book(db, request.path_params["book_id"]))
    context = {
        "book": book,
        "identifiers": reader_identifiers(book["identifiers"]),
        "permanent": _permanent(request, book),
        "rights": rights_in_words(book),
        "refusal": None,
        "toc": [],
        "downloads": [],
        "listen": None,
        "shelf": book_places(request, book, None, readable=False),
        "braille_tables": [],
        "series_number": lambda index: format_decimal(
            index, format="#,##0.##", locale=request.scope.get("locale", "en")
        ),
        "csrf_token": csrf.token(request),  # the braille form is a POST
        "held_by": held_by(db, book),
    }
    if context["held_by"]:  # another library's record: nothing to read here, a link to the book there
        return render(request, "book.html", context)
    if not access.may_read(request, book):
        context["refusal"] = access.refusal(request, book)
        return render(request, "book.html", context)
    locale = request.scope.get("locale", "en")
    editions = store.editions_for_book(db, book["id"], status=store.DONE)
    listen = listening(editions, book)
    context.update(
        toc=nest_toc(book),
        downloads=[_download_entry(edition, locale) for edition in editions],
        listen=listen,
        shelf=book_places(request, book, listen),
        braille_tables=table_choices(book["language"], default_table(book["language"])),
    )
    return render(request, "book.html", context)


def held_by(db, book: dict) -> dict | None:
    """For a record harvested from another library (issue 12, part 5): that library's name and site, and
    the record's own page there; None for our own books."""
    source_id = book.get("source_id")
    if not source_id:
        return None
    holder = catalogue.holders_for(db, [source_id]).get(source_id) or {"name": "", "home_url": None}
    return {**holder, "remote_url": book.get("remote_url") or holder["home_url"]}


def _permanent(request: Request, book: dict) -> dict | None:
    """The book's persistent identifier and the address that resolves it, for citing and sharing."""
    identifier = book.get("identifier")
    return {"identifier": identifier, "link": permanent_link(request, identifier)} if identifier else None


def rights_in_words(book: dict) -> dict:
    """The rights as the book page says them: the status, the licence with its link, the rights holder."""
    status = access.rights_status(book)
    licence_url = book.get("licence_url") or ""
    return {
        "status": status,
        "label": access.status_label(status),
        "licence_name": book.get("licence_name") if status == access.OPEN_LICENCE else None,
        "licence_url": licence_url if licence_url.startswith(("https://", "http://")) else None,
        "holder": book.get("rights_holder"),
    }


def _download_entry(edition: dict, locale: str) -> dict:
    fmt = formats.FORMATS.get(edition["format"])
    return {
        "anchor": edition_anchor(edition["id"]),
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
