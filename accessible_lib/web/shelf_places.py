"""What the reading pages show a signed-in reader of their shelf: "Continue reading" and "Continue
listening" (home and book page), the favourite button, and on a chapter page its bookmarks and the links
that add one. A visit to a chapter page is where the reader is now: without JavaScript, that is how the
server learns the reading position.

Nothing here is shown to a visitor who has not signed in, and every query is bound to the signed-in reader.
"""

from __future__ import annotations

from urllib.parse import urlencode

from markupsafe import Markup
from starlette.requests import Request

from .. import access, shelf
from ..editions import store
from ..i18n import BY_CODE, gettext
from ..ingest.errors import N_
from . import paragraphs
from .helpers import db_for
from .listen import clock, listening

NOTICES = {
    "favourite-added": N_("Added to your favourites."),
    "favourite-removed": N_("Removed from your favourites."),
    "bookmark-added": N_("Bookmark saved."),
    "bookmark-deleted": N_("Bookmark deleted."),
    "history-forgotten": N_("Your reading history is cleared."),
    "book-forgotten": N_("The book is no longer in your reading history."),
    "downloads-forgotten": N_("Your download history is cleared."),
}


def notice(request: Request) -> str:
    """The translated confirmation of the action that redirected here (`?shelf=...`), or ""."""
    key = request.query_params.get("shelf", "")
    return gettext(NOTICES[key]) if key in NOTICES else ""


def with_notice(path: str, key: str) -> str:
    """`path` (a local path, perhaps with a fragment) with `?shelf=key` for the confirmation."""
    base, hash_mark, fragment = path.partition("#")
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}{urlencode({'shelf': key})}{hash_mark}{fragment}"


def reading_link(position: dict) -> str:
    anchor = f"#{paragraphs.ANCHOR_PREFIX}{position['paragraph']}" if position.get("paragraph") else ""
    return f"/books/{position['book_id']}/read/{position['chapter']}{anchor}"


def _listening_place(position: dict, listen: dict | None) -> dict:
    """The chapter and time to continue at; the link plays the chapter's MP3 from there (a media fragment,
    which browsers honour without any script)."""
    place = dict(position, time=clock(position["seconds"]), chapter_title=None, href=None)
    if listen and 1 <= position["chapter"] <= len(listen["chapters"]):
        chapter = listen["chapters"][position["chapter"] - 1]
        place["chapter_title"] = chapter["title"]
        place["href"] = f"{chapter['href']}#t={int(position['seconds'])}"
    return place


def book_places(request: Request, book: dict, listen: dict | None, *, readable: bool = True) -> dict | None:
    """The book page's shelf: the place to continue reading and listening, and whether it is a favourite.
    A reader who may not read the book (yet) may still keep it among their favourites, nothing more."""
    reader = access.current_reader(request)
    if reader is None:
        return None
    db = db_for(request)
    reading = shelf.reading_position(db, reader.id, book["id"]) if readable else None
    heard = shelf.listening_position(db, reader.id, book["id"]) if readable else None
    return {
        "favourite": shelf.is_favourite(db, reader.id, book["id"]),
        "reading": dict(reading, href=reading_link(reading)) if reading else None,
        "listening": _listening_place(heard, listen) if heard and listen else None,
        "next": f"/books/{book['id']}",
        "notice": notice(request),
    }


def home_places(request: Request, limit: int = 3) -> dict | None:
    """The home page's "Continue reading" and "Continue listening": the reader's latest books."""
    reader = access.current_reader(request)
    if reader is None:
        return None
    db = db_for(request)
    reading = [dict(p, href=reading_link(p)) for p in shelf.reading_history(db, reader.id, limit=limit)]
    heard = []
    for position in shelf.recent_listening(db, reader.id, limit=limit):
        listen = listening(store.editions_for_book(db, position["book_id"], status=store.DONE))
        if listen:
            heard.append(_listening_place(position, listen))
    return {"reading": reading, "listening": heard}


def chapter_places(request: Request, book: dict, chapter: dict, content: Markup) -> dict | None:
    """Records the visit, and gives the chapter's content with its paragraphs anchored, the reader's
    bookmarks shown after their paragraphs and, when asked for (`?mark=1`), a link after every paragraph
    to bookmark it."""
    reader = access.current_reader(request)
    if reader is None:
        return None
    db = db_for(request)
    position = chapter["position"]
    shelf.record_visit(db, reader.id, book["id"], position)
    marks = {}
    chapter_marks = []
    for bookmark in shelf.chapter_bookmarks(db, reader.id, book["id"], position):
        if bookmark["paragraph"]:
            note = bookmark["note"]
            marks[bookmark["paragraph"]] = (
                gettext("Your bookmark: %(note)s", note=note) if note else gettext("Your bookmark.")
            )
        else:
            chapter_marks.append(bookmark)
    marking = request.query_params.get("mark") == "1"
    base = f"/books/{book['id']}/read/{position}"

    def link(number: int) -> tuple[str, str]:
        return f"{base}/bookmark?paragraph={number}", gettext("Bookmark paragraph %(number)d", number=number)

    lang = BY_CODE[request.scope.get("locale") or "en"].lang
    marked = paragraphs.mark_paragraphs(str(content), lang=lang, marks=marks, link=link if marking else None)
    return {
        "content": marked,
        "marking": marking,
        "mark_href": f"{base}?mark=1#{paragraphs.ANCHOR_PREFIX}1" if not marking else base,
        "chapter_bookmarks": chapter_marks,
        "bookmark_href": f"{base}/bookmark",
        "favourite": shelf.is_favourite(db, reader.id, book["id"]),
        "next": base,
        "notice": notice(request),
    }
