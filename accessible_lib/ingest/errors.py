"""Why a file was rejected, in words a librarian can act on, translatable at the point of display."""

from __future__ import annotations

from ..i18n import TranslatableError


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated later, when shown."""
    return message


class IngestError(TranslatableError):
    """A file that cannot be imported. Raised before anything is written: the catalogue stays unchanged.

    `message` is an English msgid with %(name)s placeholders; `translated()` gives it in the current
    interface language.
    """
