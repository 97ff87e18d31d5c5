"""Who is asking, and may they read this book: the one seam between reader accounts and book rights.

Why a module of its own: every route that reveals a book's content asks `may_read(request, book)`, and the
accounts code decides who the reader is. Neither has to know how the other is built, so accounts, rights,
personalised downloads and the shelf can each change without touching the others.

`current_reader(request)` is filled in by the accounts code (the reader's server-side session); until a
reader has signed in it is None, and an anonymous visitor may read only books that are not restricted.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database
from starlette.exceptions import HTTPException
from starlette.requests import Request

from .errors import UserError
from .i18n import gettext
from .ingest.errors import N_

# Rights statuses (issue 11, part 3). A book without one is treated as public domain, as every book imported
# before rights existed came from the public-domain default library.
PUBLIC_DOMAIN = "public-domain"
OPEN_LICENCE = "open-licence"
ELIGIBLE_ONLY = "eligible-only"
WITHDRAWN = "withdrawn"
RIGHTS_STATUSES = (PUBLIC_DOMAIN, OPEN_LICENCE, ELIGIBLE_ONLY, WITHDRAWN)
# Before rights had four statuses a book was "public-domain" or "restricted" (the `books.rights` column, still
# written for older code and scripts); "restricted" is still accepted wherever a status is typed.
LEGACY_STATUSES = {"restricted": ELIGIBLE_ONLY}
# Statuses whose books readers never see (not in lists, search or any page); staff still see them.
HIDDEN_STATUSES = (WITHDRAWN,)
# The status in words, as the book page and the staff pages say it.
STATUS_LABELS = {
    PUBLIC_DOMAIN: N_("Public domain"),
    OPEN_LICENCE: N_("Open licence"),
    ELIGIBLE_ONLY: N_("For eligible readers only"),
    WITHDRAWN: N_("Withdrawn"),
}
SIGN_IN_URL = "/account/sign-in"
ELIGIBILITY_URL = "/account/eligibility"


@dataclass(frozen=True)
class Reader:
    """A signed-in reader as the rest of the app sees them; the accounts code builds it from its tables."""

    id: int
    name: str
    email: str
    role: str  # "reader", "eligible", "organisation"; staff sign in separately
    eligible: bool  # approved and not expired: may read `eligible-only` books


def current_reader(request: Request) -> Reader | None:
    """The signed-in reader, or None. Set on `request.state.reader` by the accounts code."""
    return getattr(request.state, "reader", None)


def rights_status(book: dict) -> str:
    return book.get("rights_status") or PUBLIC_DOMAIN


def parse_status(value: str | None) -> str | None:
    """A status as typed (CLI, CSV, forms), or None when it is not one; "restricted" is eligible-only."""
    value = (value or "").strip().lower()
    value = LEGACY_STATUSES.get(value, value)
    return value if value in RIGHTS_STATUSES else None


def legacy_rights(status: str) -> str:
    """The old two-valued `books.rights` for a status, kept in step with it."""
    return PUBLIC_DOMAIN if status in (PUBLIC_DOMAIN, OPEN_LICENCE) else "restricted"


def status_label(status: str) -> str:
    return gettext(STATUS_LABELS.get(status, STATUS_LABELS[PUBLIC_DOMAIN]))


def readable_statuses(request: Request) -> tuple[str, ...]:
    """The statuses whose books' content the requester may read: what search may show snippets of."""
    readable = [PUBLIC_DOMAIN, OPEN_LICENCE]
    reader = current_reader(request)
    if reader is not None and reader.eligible:
        readable.append(ELIGIBLE_ONLY)
    return tuple(readable)


def text_hidden_statuses(request: Request) -> tuple[str, ...]:
    """The statuses whose chapter text search must neither match nor quote for this requester."""
    readable = readable_statuses(request)
    return tuple(status for status in RIGHTS_STATUSES if status not in readable)


def book_rights(db: Database, book_id: int) -> dict | None:
    """Just what `may_read` needs of a book, for routes that do not load the whole record."""
    cursor = db.execute("SELECT id, title, language, rights_status FROM books WHERE id = ?", [book_id])
    row = cursor.fetchone()
    return dict(zip([c[0] for c in cursor.description], row, strict=True)) if row else None


def is_hidden(book: dict) -> bool:
    return rights_status(book) in HIDDEN_STATUSES


def visible_or_404(book: dict | None) -> dict:
    """The book, or a 404 when there is none or readers must not know it exists (withdrawn)."""
    if book is None or is_hidden(book):
        raise HTTPException(status_code=404)
    return book


def refusal(request: Request, book: dict) -> dict:
    """Why this requester may not read `book`, and how to become able to: a title, a message and links.

    The same words on the book page (instead of its read, listen and download links) and on the 403 page
    of every content route, so a reader who follows an old link learns exactly what the book page says.
    """
    reader = current_reader(request)
    why = gettext(
        "The library makes this accessible copy under the copyright exception for people with a print "
        "disability (the Marrakesh Treaty), so it may give it only to readers whose eligibility it has "
        "confirmed. Anyone may see its catalogue record."
    )
    links = []
    if reader is None:
        how = gettext(
            "If blindness, low vision or another disability makes reading print hard for you, sign in to "
            "your reader account (or create one) and apply to become an eligible reader. Once the library "
            "approves your application, you can read, listen to and download this book."
        )
        links.append(
            {"href": f"{SIGN_IN_URL}?next=/books/{book['id']}", "text": gettext("Sign in to your account")}
        )
    else:
        how = gettext(
            "You are signed in, but the library has not confirmed yet that you are an eligible reader. "
            "Apply, or see how your application is going; once it is approved, you can read, listen to "
            "and download this book."
        )
    links.append({"href": ELIGIBILITY_URL, "text": gettext("How to become an eligible reader")})
    return {
        "title": gettext("This book is for eligible readers only"),
        "message": f"{why} {how}",
        "links": links,
    }


def require_read(request: Request, book: dict | None) -> dict:
    """The one check every route that reveals a book's content makes before revealing any of it.

    No book, or a withdrawn one: 404, as if it did not exist. A book the requester may not read: a 403 page
    that says why and how to become eligible, with the catalogue record a link away. Otherwise the book.
    """
    book = visible_or_404(book)
    if not may_read(request, book):
        words = refusal(request, book)
        link = {"href": f"/books/{book['id']}", "text": book.get("title") or str(book["id"])}
        if book.get("language"):
            link["lang"] = book["language"]
        raise UserError(words["message"], title=words["title"], status=403, links=[*words["links"], link])
    return book


def may_read(request: Request, book: dict) -> bool:
    """May whoever sent `request` read the content of `book` (text, audio, braille, downloads)?"""
    status = rights_status(book)
    if status in (PUBLIC_DOMAIN, OPEN_LICENCE):
        return True
    if status == ELIGIBLE_ONLY:
        reader = current_reader(request)
        return reader is not None and reader.eligible
    return False  # withdrawn: staff see it through the staff pages only
