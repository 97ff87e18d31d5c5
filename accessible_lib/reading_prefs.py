"""A reader's reading preferences: text size, theme, spacing, line length and font.

Why a short fixed vocabulary instead of free numbers: every choice becomes a `data-` attribute on <html>
that static/reading.css turns into CSS custom properties (the Content-Security-Policy allows no inline
style), so only values the stylesheet knows can be applied, and each one has been checked in the browser
tests (contrast under axe, no sideways scrolling at 400%, WCAG 1.4.12 spacing without loss of text).

The same compact text, `text_size:200.theme:contrast` (characters a cookie holds unquoted), is kept in a
cookie for everyone and in the reader's account (`readers.reading_prefs`, migration m018) for a signed-in
reader; only the choices that differ from the default are written, so a reader who never changed anything
has no cookie at all. Reading a stored value is forgiving (an unknown or outdated choice is the default),
while a submitted form is strict (a value the form never offered is an error and nothing is saved).
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape
from sqlite_utils import Database

from .i18n import gettext
from .ingest.errors import N_

COOKIE = "reading_prefs"
MAX_AGE = 365 * 24 * 3600  # as the interface language: a year, renewed by every save
_MAX_STORED = 300  # longer than any real value: anything longer is not ours and is ignored


@dataclass(frozen=True)
class Preference:
    name: str  # form field, cookie key and the `data-` attribute's suffix
    choices: tuple[str, ...]  # the first is the default
    error: str  # N_() message: the form sent a value it never offered

    @property
    def default(self) -> str:
        return self.choices[0]

    @property
    def attribute(self) -> str:
        return "data-" + self.name.replace("_", "-")


PREFERENCES = (
    Preference(
        "text_size",
        ("100", "125", "150", "200", "250", "300", "400"),
        N_("Choose one of the text sizes on the list."),
    ),
    Preference(
        "theme",
        ("auto", "light", "dark", "contrast", "sepia"),
        N_("Choose one of the colour themes on the list."),
    ),
    Preference("font", ("sans", "dyslexic"), N_("Choose one of the fonts on the list.")),
    Preference("line_height", ("normal", "wide", "wider"), N_("Choose one of the line heights on the list.")),
    Preference(
        "letter_spacing", ("normal", "wide", "wider"), N_("Choose one of the letter spacings on the list.")
    ),
    Preference(
        "word_spacing", ("normal", "wide", "wider"), N_("Choose one of the word spacings on the list.")
    ),
    Preference("line_length", ("normal", "short", "full"), N_("Choose one of the line lengths on the list.")),
)
BY_NAME = {preference.name: preference for preference in PREFERENCES}
DEFAULTS = {preference.name: preference.default for preference in PREFERENCES}


def parse(stored: str | None) -> dict[str, str]:
    """The preferences in a cookie or account value; anything unknown or malformed is the default."""
    prefs = dict(DEFAULTS)
    if not stored or len(stored) > _MAX_STORED:
        return prefs
    for part in stored.split("."):
        name, _, value = part.partition(":")
        preference = BY_NAME.get(name)
        if preference is not None and value in preference.choices:
            prefs[name] = value
    return prefs


def encode(prefs: dict[str, str]) -> str:
    """The compact stored form: only what differs from the default, "" when nothing does."""
    return ".".join(
        f"{p.name}:{prefs[p.name]}" for p in PREFERENCES if prefs.get(p.name, p.default) != p.default
    )


def from_form(form) -> tuple[dict[str, str], list[dict]]:
    """(the submitted preferences, errors as {field_id, message}). A field left out keeps its default; a
    value the form never offered is an error, linked to the field's first choice."""
    prefs = dict(DEFAULTS)
    errors = []
    for preference in PREFERENCES:
        value = form.get(preference.name)
        if value is None:
            continue
        if value not in preference.choices:
            errors.append(
                {"field_id": f"{preference.name}-{preference.default}", "message": gettext(preference.error)}
            )
            continue
        prefs[preference.name] = value
    return prefs, errors


def html_attributes(prefs: dict[str, str]) -> Markup:
    """` data-theme="dark" ...` for the <html> element: only the choices that differ from the default."""
    return Markup("").join(
        Markup(' {}="{}"').format(p.attribute, escape(prefs[p.name]))
        for p in PREFERENCES
        if prefs.get(p.name, p.default) != p.default
    )


def for_reader(db: Database, reader_id: int) -> str | None:
    """What the account holds (the compact form), None when the reader never saved any."""
    row = db.execute("SELECT reading_prefs FROM readers WHERE id = ?", [reader_id]).fetchone()
    return row[0] if row else None


def save_for_reader(db: Database, reader_id: int, prefs: dict[str, str]) -> None:
    """Keep the preferences in the account; "" (not None) records that the reader chose the defaults."""
    with db.conn:
        db.execute("UPDATE readers SET reading_prefs = ? WHERE id = ?", [encode(prefs), reader_id])
