"""Fitting a stored chapter into its reading page (rules in chapter_markup.py); links become site URLs."""

from __future__ import annotations

from markupsafe import Markup

from .chapter_markup import fit_chapter
from .i18n import gettext


def prepare_chapter_html(html: str, *, book_id: int, title: str, backlink_label: str | None = None) -> Markup:
    """`backlink_label` is the note back-links' accessible name, by default in the reader's language;
    chapter_marks.py passes a placeholder so what it keeps serves every language."""
    return Markup(
        fit_chapter(
            html,
            title,
            link=lambda href: _url_for(href, book_id),
            image=lambda src: _url_for(src, book_id),
            backlink_label=gettext("Back to text") if backlink_label is None else backlink_label,
        )
    )


def _url_for(value: str, book_id: int) -> str:
    if value.startswith("resource:"):
        return f"/books/{book_id}/resources/{value[len('resource:') :]}"
    if value.startswith("chapter:"):
        position, _, fragment = value[len("chapter:") :].partition("#")
        if position.isdigit():
            url = f"/books/{book_id}/read/{int(position) + 1}"
            return f"{url}#{fragment}" if fragment else url
        return "#"
    return value
