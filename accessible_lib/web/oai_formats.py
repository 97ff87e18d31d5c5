"""The metadata formats the OAI-PMH endpoint disseminates: Dublin Core (`oai_dc`, which every OAI-PMH
repository must offer) and MARC 21 in MARCXML (`marc21`), which library systems import without a crosswalk.

Why both from one record dict (oai.load_records): a harvesting library should find the same title, authors,
subjects and rights whichever format its software asks for, and the same as the book page says.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from .. import access, identifiers
from ..editions import formats as edition_formats

XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
MARC = "http://www.loc.gov/MARC21/slim"
READ_ONLINE = "text/html"
# MARC 21 language codes (field 008/35-37, 041) of the languages the catalogue holds most; others "und".
MARC_LANGUAGES = {
    "en": "eng",
    "zh": "chi",
    "fr": "fre",
    "de": "ger",
    "es": "spa",
    "ja": "jpn",
    "ko": "kor",
    "ru": "rus",
    "it": "ita",
    "pt": "por",
    "la": "lat",
    "ar": "ara",
}


@dataclass(frozen=True)
class Context:
    """What a record needs from the request: the site's address for links, and the rights in words."""

    site: str  # the library's address, without a trailing slash


@dataclass(frozen=True)
class MetadataFormat:
    prefix: str
    schema: str
    namespace: str
    build: Callable[[dict, Context], etree._Element]


def book_url(context: Context, book: dict) -> str:
    return f"{context.site}/books/{book['id']}"


def media_types(book: dict) -> list[str]:
    """The media types the book can be had in: read online (HTML), then each finished edition's file."""
    found: list[str] = []
    for name in book["formats"]:
        if name == "html":
            kind = READ_ONLINE
        else:
            fmt = edition_formats.FORMATS.get(name)
            kind = fmt.media_type if fmt else None
        if kind and kind not in found:
            found.append(kind)
    return found


def identifier_values(context: Context, book: dict) -> list[str]:
    """dc:identifier values: the book page first (a harvester links to it), the persistent identifier,
    then the identifiers the file or the librarian gave (an ISBN as urn:isbn:, the rest as scheme:value)."""
    values = [book_url(context, book)]
    if book.get("identifier"):
        values.append(book["identifier"])
    for scheme, value in book["identifiers"]:
        text = identifiers.isbn_urn(value) if scheme == "isbn" else f"{scheme}:{value}"
        if text and text not in values:
            values.append(text)
    return values


def rights_values(book: dict) -> list[str]:
    """dc:rights: the source's own statement, the licence, and the rights status in words."""
    values = []
    for key in ("rights_statement", "licence_name", "licence_url", "rights_holder"):
        if book.get(key):
            values.append(book[key])
    values.append(access.status_label(access.rights_status(book)))
    return values


def _sub(parent: etree._Element, tag: str, text: str | None, lang: str | None = None) -> None:
    if text is None or not str(text).strip():
        return
    element = etree.SubElement(parent, tag)
    element.text = _clean(str(text))
    if lang:
        element.set(XML_LANG, lang)


def _clean(text: str) -> str:
    """Text XML 1.0 can carry: control characters other than tab and line breaks cannot be written."""
    return "".join(c for c in text if c in "\t\n\r" or ord(c) >= 0x20)


def oai_dc(book: dict, context: Context) -> etree._Element:
    root = etree.Element(f"{{{OAI_DC}}}dc", nsmap={"oai_dc": OAI_DC, "dc": DC, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", f"{OAI_DC} http://www.openarchives.org/OAI/2.0/oai_dc.xsd")
    lang = book.get("language") or None
    _sub(root, f"{{{DC}}}title", book["title"], lang)
    _sub(root, f"{{{DC}}}title", book.get("subtitle"), lang)
    for name in book["authors"]:
        _sub(root, f"{{{DC}}}creator", name)
    for subject in book["subjects"]:
        _sub(root, f"{{{DC}}}subject", subject)
    _sub(root, f"{{{DC}}}description", book.get("description"), lang)
    _sub(root, f"{{{DC}}}publisher", book.get("publisher"))
    _sub(root, f"{{{DC}}}date", book.get("date"))
    _sub(root, f"{{{DC}}}type", "Text")
    for kind in media_types(book):
        _sub(root, f"{{{DC}}}format", kind)
    for value in identifier_values(context, book):
        _sub(root, f"{{{DC}}}identifier", value)
    _sub(root, f"{{{DC}}}language", lang)
    for value in rights_values(book):
        _sub(root, f"{{{DC}}}rights", value)
    return root


def _marc_field(root, tag: str, subfields: list[tuple[str, str | None]], ind1=" ", ind2=" ") -> None:
    kept = [(code, _clean(str(value))) for code, value in subfields if value and str(value).strip()]
    if not kept:
        return
    field = etree.SubElement(root, f"{{{MARC}}}datafield", tag=tag, ind1=ind1, ind2=ind2)
    for code, value in kept:
        etree.SubElement(field, f"{{{MARC}}}subfield", code=code).text = value


def marc_language(tag: str | None) -> str:
    return MARC_LANGUAGES.get((tag or "").split("-")[0].lower(), "und")


def fixed_field(book: dict) -> str:
    """Field 008, 40 positions: when entered (yymmdd), a single date (its year, or unknown), no place,
    an online resource (23 "o"), the language, and "d": catalogued by someone other than a national agency."""
    added = (book.get("added_at") or "")[:10].replace("-", "")
    entered = added[2:8] if len(added) == 8 and added.isdigit() else "      "
    year = (book.get("date") or "")[:4]
    year = year if len(year) == 4 and year.isdigit() else "uuuu"
    language = marc_language(book.get("language"))
    fixed = f"{entered}s{year}{' ' * 4}xx {' ' * 4} o{' ' * 4} 000 u {language} d"
    assert len(fixed) == 40, fixed
    return fixed


def marc21(book: dict, context: Context) -> etree._Element:
    """A MARCXML bibliographic record: language material, monograph, in Unicode (leader/09 "a")."""
    root = etree.Element(f"{{{MARC}}}record", nsmap={"marc": MARC, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", f"{MARC} http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd")
    etree.SubElement(root, f"{{{MARC}}}leader").text = "00000nam a2200000uu 4500"
    etree.SubElement(root, f"{{{MARC}}}controlfield", tag="001").text = str(book["id"])
    etree.SubElement(root, f"{{{MARC}}}controlfield", tag="008").text = fixed_field(book)
    for scheme, value in book["identifiers"]:
        if scheme == "isbn" and (urn := identifiers.isbn_urn(value)):
            _marc_field(root, "020", [("a", urn.removeprefix(identifiers.URN_ISBN))])
    if book.get("identifier"):
        _marc_field(root, "024", [("a", book["identifier"]), ("2", "uri")], ind1="7")
    _marc_field(root, "041", [("a", marc_language(book.get("language")))], ind1="0")
    authors = book["authors"]
    if authors:
        _marc_field(root, "100", [("a", authors[0]), ("e", "author")], ind1="1")
    title_indicator = "1" if authors else "0"
    _marc_field(root, "245", [("a", book["title"]), ("b", book.get("subtitle"))], ind1=title_indicator)
    _marc_field(root, "264", [("b", book.get("publisher")), ("c", book.get("date"))], ind2="1")
    _marc_field(root, "520", [("a", book.get("description"))])
    _marc_field(root, "540", [("a", value) for value in rights_values(book)])
    for subject in book["subjects"]:
        _marc_field(root, "653", [("a", subject)])
    for name in authors[1:]:
        _marc_field(root, "700", [("a", name), ("e", "author")], ind1="1")
    _marc_field(root, "856", [("u", book_url(context, book)), ("q", READ_ONLINE)], ind1="4", ind2="0")
    return root


FORMATS = {
    "oai_dc": MetadataFormat("oai_dc", "http://www.openarchives.org/OAI/2.0/oai_dc.xsd", OAI_DC, oai_dc),
    "marc21": MetadataFormat(
        "marc21", "http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd", MARC, marc21
    ),
}
