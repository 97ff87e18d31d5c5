"""PEF 2008-1 (Portable Embosser Format): the same pages as the BRF, as volumes, sections, pages and rows of
Unicode braille, with Dublin Core metadata. Written as a stream, a page at a time."""

from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO

from .layout import BLANK, Page, check_braille


def escape(text: str) -> str:
    """XML text content (what xml.sax.saxutils.escape does, without its import of urllib.request, http
    and email: 15 ms of every PEF edition)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


PEF_NS = "http://www.daisy.org/ns/2008/pef"
DC_NS = "http://purl.org/dc/elements/1.1/"
PAGES_PER_VOLUME = 70  # single-sided pages; a volume a reader can hold


def write_pef(
    pages: Iterable[Page | bytes],
    out: BinaryIO,
    *,
    cells: int,
    lines: int,
    title: str,
    identifier: str,
    language: str,
    source: str | None = None,
    creators: Iterable[str] = (),
    date: str | None = None,
    pages_per_volume: int = PAGES_PER_VOLUME,
) -> int:
    """Write a PEF document in UTF-8; return the number of pages. Each page is a Page or already
    `page_bytes`. Metadata is plain text (escaped here)."""
    head = []
    head.append('<?xml version="1.0" encoding="UTF-8"?>\n')
    head.append(f'<pef version="2008-1" xmlns="{PEF_NS}">\n<head>\n<meta xmlns:dc="{DC_NS}">\n')
    head.append("<dc:format>application/x-pef+xml</dc:format>\n")
    head.append(
        f"<dc:identifier>{escape(identifier)}</dc:identifier>\n<dc:title>{escape(title)}</dc:title>\n"
    )
    for creator in creators:
        head.append(f"<dc:creator>{escape(creator)}</dc:creator>\n")
    head.append(f"<dc:language>{escape(language)}</dc:language>\n")
    if source:  # the identifier of the book this edition is made from
        head.append(f"<dc:source>{escape(source)}</dc:source>\n")
    if date:
        head.append(f"<dc:date>{escape(date)}</dc:date>\n")
    head.append("</meta>\n</head>\n<body>\n")
    out.write("".join(head).encode("utf-8"))
    volume_open = f'<volume cols="{cells}" rows="{lines}" rowgap="0" duplex="false">\n<section>\n'.encode()
    count = 0
    for page in pages:
        if count % pages_per_volume == 0:
            if count:
                out.write(b"</section>\n</volume>\n")
            out.write(volume_open)
        out.write(page if isinstance(page, bytes) else page_bytes(page))
        count += 1
    if not count:
        out.write(volume_open + b"<page/>\n")
    out.write(b"</section>\n</volume>\n</body>\n</pef>\n")
    return count


def page_bytes(page: Page, *, checked: bool = False) -> bytes:
    """One page as PEF XML in UTF-8; rows lose their trailing blanks, and an empty row is `<row/>`.
    `checked`: every row is known to be 6-dot braille (braille.layout's pages): not searched again."""
    if not checked:
        check_braille("".join(page.rows))
    rows = [row.rstrip(BLANK) for row in page.rows]
    xml = "".join(f"<row>{row}</row>\n" if row else "<row/>\n" for row in rows)
    return f"<page>\n{xml}</page>\n".encode()
