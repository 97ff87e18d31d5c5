"""The one error type a user ever sees.

Anything raised as `UserError` is rendered as a page whose `<h1>` is `title` and whose text is `message`;
both are already translated by the code that raises it. Every other exception becomes the generic 500 page.
"""

from __future__ import annotations


class UserError(Exception):
    def __init__(self, message: str, *, title: str | None = None, status: int = 400):
        super().__init__(message)
        self.message = message
        self.title = title
        self.status = status
