"""Interface languages: gettext through Babel catalogues, chosen per request.

Catalogues live as `.po` files in `locales/`; they are compiled in memory when the app starts, so there is no
build step to forget and no binary `.mo` file in the repository.
"""

from __future__ import annotations

import contextvars
import functools
import io
from dataclasses import dataclass
from pathlib import Path

from babel import Locale, UnknownLocaleError, negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALES_DIR = Path(__file__).parent / "locales"
COOKIE = "locale"


@dataclass(frozen=True)
class InterfaceLanguage:
    code: str  # gettext catalogue name, also the value of the cookie
    lang: str  # BCP 47 for the `lang` attribute
    name: str  # its own name, shown in the language switch


LANGUAGES = [
    InterfaceLanguage("en", "en", "English"),
    InterfaceLanguage("zh_Hans", "zh-Hans", "简体中文"),
]
BY_CODE = {language.code: language for language in LANGUAGES}

_current: contextvars.ContextVar[NullTranslations | None] = contextvars.ContextVar(
    "translations", default=None
)
_NULL = NullTranslations()


def current() -> NullTranslations:
    return _current.get() or _NULL


def load_catalogues() -> dict[str, NullTranslations]:
    catalogues: dict[str, NullTranslations] = {"en": NullTranslations()}
    for language in LANGUAGES:
        po_path = LOCALES_DIR / language.code / "LC_MESSAGES" / "messages.po"
        if not po_path.exists():
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=language.code)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        catalogues[language.code] = Translations(fp=buffer)
    return catalogues


def choose_locale(cookie: str | None, accept_language: str | None, default: str) -> str:
    """A remembered choice wins; then the browser's preference; then the default.

    Babel's negotiation matches the browser's tags against ours, most wanted first; each tag is followed by
    its bare language, so any Chinese (zh-TW, zh-Hant-HK) gets the Simplified interface, the only Chinese
    one we have, and any English gets English.
    """
    if cookie in BY_CODE:
        return cookie
    wanted = []
    for tag in accepted_tags(accept_language or ""):
        wanted += [tag, tag.split("_")[0]]
    found = negotiate_locale(wanted, list(BY_CODE), sep="_", aliases={"zh": "zh_Hans"})
    if found:
        return next(code for code in BY_CODE if code.lower() == found.lower())
    return default if default in BY_CODE else "en"


def accepted_tags(header: str) -> list[str]:
    """The language tags of an Accept-Language header, most wanted first (RFC 9110 section 12.5.4).

    Tags are ordered by their q-value (1 when absent), in header order among equals; q=0 means "not this",
    and "*" names no language of its own. Tags come with underscores, as Babel writes them.
    """
    weighted = []
    for index, part in enumerate(header.split(",")):
        tag, *parameters = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, index, tag.replace("-", "_")))
    return [tag for _, _, tag in sorted(weighted)]


def terminal_locale(environ: dict[str, str]) -> str:
    """The interface language for a command run in a terminal, from the POSIX locale variables in their
    order of precedence (LANGUAGE, LC_ALL, LC_MESSAGES, LANG): zh_CN.UTF-8 gives Chinese, C gives English."""
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "").split(":")[0].split(".")[0].split("@")[0]
        if value and value not in {"C", "POSIX"}:
            return choose_locale(None, value.replace("_", "-"), "en")
    return "en"


def activate(translations: NullTranslations) -> contextvars.Token:
    return _current.set(translations)


def gettext(message: str, **variables: object) -> str:
    text = current().gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    text = current().ngettext(singular, plural, n)
    variables.setdefault("num", n)
    return text % variables


_ = gettext


@functools.cache
def _all_catalogues() -> dict[str, NullTranslations]:
    return load_catalogues()


def book_catalogue(book_lang: str | None) -> tuple[str, NullTranslations]:
    """(interface code, catalogue) for a book's language: its own when we have one, English otherwise."""
    primary = (book_lang or "en").split("-")[0].split("_")[0].lower()
    code = next((language.code for language in LANGUAGES if language.code.split("_")[0] == primary), "en")
    catalogues = _all_catalogues()
    return (code, catalogues[code]) if code in catalogues else ("en", catalogues["en"])


def book_gettext(book_lang: str | None, message: str, **variables: object) -> str:
    """`message` in the language of a book rather than of the interface.

    Words written into an edition ("Contents", "Image:") belong to the book: a Chinese book downloaded from
    the English interface still says 目录, or a braille or audio edition would switch language mid-book.
    """
    text = book_catalogue(book_lang)[1].gettext(message)
    return text % variables if variables else text


def language_name(tag: str | None, in_locale: str) -> str:
    """The name of a book's language in the interface language ("Chinese" / "中文")."""
    if not tag:
        return gettext("Unknown language")
    return _display_name(tag, in_locale)


@functools.lru_cache(maxsize=1024)
def _display_name(tag: str, in_locale: str) -> str:
    """Remembered: a search page names a language for each of its hits and facets, and babel parsed both
    locales each time (0.3 ms of a page's 10 ms of CPU). A tag babel does not know (a harvested record's
    `xx`) is shown as written rather than failing the page."""
    try:
        locale = Locale.parse(tag.replace("-", "_"))
        display = Locale.parse(in_locale)
        return locale.get_display_name(display) or tag
    except (ValueError, TypeError, LookupError, UnknownLocaleError):
        return tag


class TranslatableError(Exception):
    """An error whose message is shown to people: an English msgid with %(name)s placeholders, translated
    only when displayed (`translated()`), so it can be raised in one language and shown in another."""

    def __init__(self, message: str, **params: object):
        self.msgid = message
        self.params = params
        super().__init__(message % params if params else message)

    def translated(self) -> str:
        return gettext(self.msgid, **self.params)
