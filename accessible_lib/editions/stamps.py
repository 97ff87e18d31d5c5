"""The reader's stamp in each kind of file an edition is made of: title pages, metadata, ID3 tags, braille.

A book served under the accessible-format exception (Marrakesh Treaty; China's Copyright Law art. 24(12))
may go only to the print-disabled reader who asked for it, so every copy says whose it is, where a reader
meets it (the title page) and where software and staff look (the metadata), as NLS BARD and Bookshare do.
Each function here takes one finished member or file head and returns its stamped bytes; which members
that concerns, and how the rest of the file is copied untouched, is personal_copy's business.

The words are in the book's language (like "Contents" in the editions), with their own `lang` when the
library has no catalogue for it.
"""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass

from lxml import etree
from mutagen.id3 import COMM, ID3, TOWN, TXXX

from braille import brf, pef
from braille.layout import BLANK, Page, centred
from braille.tables import default_table
from braille.translate import translate
from voices.book import xhtml, xml_bytes

from ..i18n import BY_CODE, book_catalogue, book_gettext
from ..ingest.errors import N_

NAME_LINE = N_("Personal copy for %(name)s")
ID_LINE = N_("Download %(id)s, %(date)s")
RIGHTS = N_(
    "Accessible copy made for %(name)s (download %(id)s, %(date)s) under the exception for print-disabled "
    "readers (Marrakesh Treaty). Not to be shared."
)
ID3_DOWNLOAD = "Download ID"  # TXXX description, for software; not shown to readers
_XHTML_NS = "http://www.w3.org/1999/xhtml"
_OPF_NS = "http://www.idpf.org/2007/opf"
_DC_NS = "http://purl.org/dc/elements/1.1/"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_blank_text=False)


@dataclass(frozen=True)
class Stamp:
    """Who a copy is for: everything comes from the download log row, so the same id gives the same bytes."""

    download_id: str
    name: str
    date: str  # YYYY-MM-DD, UTC, when the download id was given
    language: str  # the book's

    @property
    def lang(self) -> str:
        """The language the stamp's words are in: the book's when the library speaks it, else English."""
        return BY_CODE[book_catalogue(self.language)[0]].lang

    def other_lang(self) -> str | None:
        """`lang` for the stamp when it differs from the book's, for a `lang` attribute."""
        same = self.lang.split("-")[0].lower() == (self.language or "en").split("-")[0].lower()
        return None if same else self.lang

    def name_line(self) -> str:
        return book_gettext(self.language, NAME_LINE, name=self.name)

    def id_line(self) -> str:
        return book_gettext(self.language, ID_LINE, id=self.download_id, date=self.date)

    def rights(self) -> str:
        return book_gettext(self.language, RIGHTS, name=self.name, id=self.download_id, date=self.date)


# --- Web pages (the html edition's index.html) -------------------------------------------------------------


def html_title_page(page: bytes, stamp: Stamp) -> bytes:
    """index.html with the stamp under the title and authors, and as metadata in its head."""
    text = page.decode("utf-8")
    lang = stamp.other_lang()
    attr = f' lang="{html.escape(lang)}"' if lang else ""
    note = (
        f'<p class="personal-copy"{attr}>{html.escape(stamp.name_line())}<br>\n'
        f"{html.escape(stamp.id_line())}</p>\n"
    )
    meta = (
        f'<meta name="dcterms.rights" content="{html.escape(stamp.rights())}">\n'
        f'<meta name="download-id" content="{html.escape(stamp.download_id)}">\n'
    )
    text = text.replace("</head>", meta + "</head>", 1)
    for anchor in ('<nav aria-labelledby="contents">', "</main>", "</body>"):
        if anchor in text:
            return text.replace(anchor, note + anchor, 1).encode("utf-8")
    return (text + note).encode("utf-8")


# --- EPUB 3: the package document, and a title page of its own ---------------------------------------------

EPUB_TITLE_PAGE = "text/personal-copy.xhtml"  # relative to the package document


def epub_package(opf: bytes, stamp: Stamp) -> tuple[bytes, str, list[str]]:
    """The package with dc:rights, dcterms:accessRights and the title page first in the spine; also the
    book's title and authors for that page."""
    root = etree.fromstring(opf, _PARSER)
    metadata = root.find(f"{{{_OPF_NS}}}metadata")
    title = metadata.findtext(f"{{{_DC_NS}}}title") or ""
    authors = [e.text or "" for e in metadata.findall(f"{{{_DC_NS}}}creator")]
    dcs = [
        child for child in metadata if isinstance(child.tag, str) and child.tag.startswith(f"{{{_DC_NS}}}")
    ]
    rights = etree.Element(f"{{{_DC_NS}}}rights")
    rights.text = stamp.rights()
    (dcs[-1].addnext(rights) if dcs else metadata.insert(0, rights))
    access = etree.SubElement(metadata, f"{{{_OPF_NS}}}meta", property="dcterms:accessRights")
    access.text = f"{stamp.name_line()}. {stamp.id_line()}"
    manifest = root.find(f"{{{_OPF_NS}}}manifest")
    etree.SubElement(
        manifest,
        f"{{{_OPF_NS}}}item",
        {"id": "personal-copy", "href": EPUB_TITLE_PAGE, "media-type": "application/xhtml+xml"},
    )
    spine = root.find(f"{{{_OPF_NS}}}spine")
    spine.insert(0, etree.Element(f"{{{_OPF_NS}}}itemref", idref="personal-copy"))
    return xml_bytes(root), title, authors


def epub_title_page(title: str, authors: list[str], stamp: Stamp) -> bytes:
    root = etree.Element(xhtml("html"), nsmap={None: _XHTML_NS})
    root.set(_XML_LANG, stamp.language or "en")
    root.set("lang", stamp.language or "en")
    head = etree.SubElement(root, xhtml("head"))
    etree.SubElement(head, xhtml("meta"), charset="utf-8")
    etree.SubElement(head, xhtml("title")).text = title or stamp.name_line()
    body = etree.SubElement(root, xhtml("body"))
    section = etree.SubElement(body, xhtml("section"))
    etree.SubElement(section, xhtml("h1")).text = title or stamp.name_line()
    if authors:
        etree.SubElement(section, xhtml("p")).text = ", ".join(authors)
    _stamp_paragraph(section, stamp)
    return xml_bytes(root, "<!DOCTYPE html>")


def _stamp_paragraph(parent: etree._Element, stamp: Stamp, *, after: etree._Element | None = None) -> None:
    note = etree.Element(xhtml("p"))
    note.set("class", "personal-copy")
    lang = stamp.other_lang()
    if lang:
        note.set(_XML_LANG, lang)
        note.set("lang", lang)
    note.text = stamp.name_line()
    etree.SubElement(note, xhtml("br")).tail = stamp.id_line()
    if after is not None:
        after.addnext(note)
    else:
        parent.append(note)


# --- DAISY 2.02: the ncc's metadata, and the title section's text ------------------------------------------
_DAISY_DOCTYPE = (
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
    '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">'
)


def daisy_ncc(ncc: bytes, stamp: Stamp) -> bytes:
    root = etree.fromstring(ncc, _PARSER)
    head = root.find(xhtml("head"))
    metas = head.findall(xhtml("meta"))
    anchor = metas[-1] if metas else head[-1]
    for name, content in (("prod:personalCopy", stamp.download_id), ("dc:rights", stamp.rights())):
        anchor.addnext(etree.Element(xhtml("meta"), name=name, content=content))
    return xml_bytes(root, _DAISY_DOCTYPE)


def xhtml_title_text(document: bytes, stamp: Stamp, doctype: str = _DAISY_DOCTYPE) -> bytes:
    """A text document with the stamp right after its first heading (DAISY's title section)."""
    root = etree.fromstring(document, _PARSER)
    body = root.find(xhtml("body"))
    heading = next(
        (e for e in body.iter() if isinstance(e.tag, str) and re.fullmatch(r".*}h\d", e.tag)), None
    )
    if heading is not None and heading.getparent() is not None:
        _stamp_paragraph(heading.getparent(), stamp, after=heading)
    else:
        _stamp_paragraph(body, stamp)
    return xml_bytes(root, doctype)


# --- MP3: the ID3 tag in front of the frames ---------------------------------------------------------------


def id3_length(head: bytes) -> int:
    """The length of the ID3v2 tag at the start of `head` (at least its first 10 bytes), 0 when none."""
    if len(head) < 10 or head[:3] != b"ID3":
        return 0
    size = 0
    for byte in head[6:10]:
        size = size << 7 | (byte & 0x7F)
    return 10 + size + (10 if head[5] & 0x10 else 0)


def id3_tag(old_tag: bytes, stamp: Stamp) -> bytes:
    """The tag with the reader added (TOWN, the file's licensee; TXXX with the download id; a comment with
    the whole statement); the frames it had are kept."""
    tags = ID3(io.BytesIO(old_tag)) if old_tag else ID3()
    tags.add(TOWN(encoding=3, text=[stamp.name]))
    tags.add(TXXX(encoding=3, desc=ID3_DOWNLOAD, text=[stamp.download_id]))
    language = "zho" if stamp.lang.startswith("zh") else "eng"
    tags.add(COMM(encoding=3, lang=language, desc="Personal copy", text=[stamp.rights()]))
    out = io.BytesIO()
    tags.save(out, padding=lambda info: 0)
    return out.getvalue()


# --- Playlists and plain text ------------------------------------------------------------------------------


def m3u(playlist: bytes, stamp: Stamp) -> bytes:
    """Comment lines under the playlist's title: players skip them, a person reading the file sees them."""
    lines = playlist.decode("utf-8").split("\n")
    at = 2 if len(lines) > 1 and lines[1].startswith("#PLAYLIST:") else 1
    lines[at:at] = [f"# {' '.join(stamp.name_line().split())}", f"# {stamp.id_line()}"]
    return "\n".join(lines).encode("utf-8")


def text_head(head: bytes, stamp: Stamp) -> tuple[bytes, int]:
    """(new head, length of the old head it replaces): the stamp after the title and authors."""
    end = head.find(b"\n\n")
    end = len(head.rstrip(b"\n")) if end < 0 else end
    note = f"\n\n{stamp.name_line()}\n{stamp.id_line()}".encode()
    return head[:end] + note, end


# --- Braille: the title page (and PEF's Dublin Core) -------------------------------------------------------


def braille_stamp_rows(stamp: Stamp, options: dict, cells: int) -> list[str]:
    """The stamp's two lines in the edition's braille table, each centred as the title page's lines are."""
    table = (options.get("table") or "").strip() or default_table(stamp.language)
    segment = bool(options.get("word_spacing", True))
    rows: list[str] = []
    for line in (stamp.name_line(), stamp.id_line()):
        rows += centred(translate(line, table, segment_words=segment).braille, cells)
    return rows


def place_rows(rows: list[str], stamp_rows: list[str]) -> list[str]:
    """The title page's rows with the stamp at the foot (above the page number row), after a blank row
    when there is room; on a page too full for it, it takes the last rows, as the stamp must be there."""
    body, number = list(rows[:-1]), rows[-1]
    used = max((i + 1 for i, row in enumerate(body) if row.strip(BLANK + " ")), default=0)
    stamp_rows = stamp_rows[: len(body)]
    free, need = len(body) - used, len(stamp_rows)
    start = used + 1 if free > need else used if free == need else len(body) - need
    body[start : start + len(stamp_rows)] = stamp_rows
    return body + [number]


def brf_title_page(head: bytes, stamp: Stamp, options: dict) -> tuple[bytes, int]:
    """(new first page, length of the old one): BRF rows are ASCII braille ending in CR LF."""
    end = head.find(b"\f")
    end = len(head) if end < 0 else end
    rows = head[:end].decode("ascii").split("\r\n")
    trailing = rows[-1] == ""
    if trailing:
        rows.pop()
    cells = int(options.get("cells") or 40)
    stamp_rows = [brf.to_ascii(row).rstrip(" ") for row in braille_stamp_rows(stamp, options, cells)]
    rows = [row.rstrip(" ") for row in place_rows(rows, stamp_rows)]
    page = "\r\n".join(rows) + ("\r\n" if trailing else "")
    return page.encode("ascii"), end


_PAGE = re.compile(rb"<page>\n(.*?)</page>\n", re.DOTALL)
_ROW = re.compile(r"<row>(.*?)</row>|<row/>")


def pef_head(head: bytes, stamp: Stamp, options: dict) -> tuple[bytes, int]:
    """(new start of the document, length of the old one): dc:rights in the metadata, and the stamp on the
    first page, the title page."""
    page = _PAGE.search(head)
    if page is None:
        raise ValueError("no page in the start of this PEF")
    meta_end = head.index(b"</meta>")
    rights = f"<dc:rights>{pef.escape(stamp.rights())}</dc:rights>\n".encode()
    rows = [m.group(1) or "" for m in _ROW.finditer(page.group(1).decode("utf-8"))]
    cells = int(options.get("cells") or 40)
    rows = place_rows(rows, braille_stamp_rows(stamp, options, cells))
    new_page = pef.page_bytes(Page("p1", rows))
    new = head[:meta_end] + rights + head[meta_end : page.start()] + new_page
    return new, page.end()
