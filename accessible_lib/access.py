"""Who is asking, and may they read this book: the one seam between reader accounts and book rights.

Why a module of its own: every route that reveals a book's content asks `may_read(request, book)`, and the
accounts code decides who the reader is. Neither has to know how the other is built, so accounts, rights,
personalised downloads and the shelf can each change without touching the others.

`current_reader(request)` is filled in by the accounts code (the reader's server-side session); until a
reader has signed in it is None, and an anonymous visitor may read only books that are not restricted.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

# Rights statuses (issue 11, part 3). A book without one is treated as public domain, as every book imported
# before rights existed came from the public-domain default library.
PUBLIC_DOMAIN = "public-domain"
OPEN_LICENCE = "open-licence"
ELIGIBLE_ONLY = "eligible-only"
WITHDRAWN = "withdrawn"
RIGHTS_STATUSES = (PUBLIC_DOMAIN, OPEN_LICENCE, ELIGIBLE_ONLY, WITHDRAWN)


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


def may_read(request: Request, book: dict) -> bool:
    """May whoever sent `request` read the content of `book` (text, audio, braille, downloads)?"""
    status = rights_status(book)
    if status in (PUBLIC_DOMAIN, OPEN_LICENCE):
        return True
    if status == ELIGIBLE_ONLY:
        reader = current_reader(request)
        return reader is not None and reader.eligible
    return False  # withdrawn: staff see it through the staff pages only
