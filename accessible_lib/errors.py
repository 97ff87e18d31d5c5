"""The one error type a user ever sees.

Anything raised as `UserError` is rendered as a page whose `<h1>` is `title` and whose text is `message`;
both are already translated by the code that raises it. `links` are where the reader can go next, nearer
than the home page (the book a missing chapter belongs to, its contents): each a dict with `href`, `text`
and, for a text in the book's language, `lang`. Every other exception becomes the generic 500 page.
"""

from __future__ import annotations


class UserError(Exception):
    def __init__(
        self, message: str, *, title: str | None = None, status: int = 400, links: list[dict] | None = None
    ):
        super().__init__(message)
        self.message = message
        self.title = title
        self.status = status
        self.links = links or []
