"""PEF 2008-1 (Portable Embosser Format): the same pages as the BRF, as volumes, sections, pages and rows of
Unicode braille, with Dublin Core metadata. Written as a stream, a page at a time."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TextIO
from xml.sax.saxutils import escape

from .layout import BLANK, Page, check_braille

PEF_NS = "http://www.daisy.org/ns/2008/pef"
DC_NS = "http://purl.org/dc/elements/1.1/"
PAGES_PER_VOLUME = 70  # single-sided pages; a volume a reader can hold


def write_pef(
    pages: Iterable[Page],
    out: TextIO,
    *,
    cells: int,
    lines: int,
    title: str,
    identifier: str,
    language: str,
    creators: Iterable[str] = (),
    date: str | None = None,
    pages_per_volume: int = PAGES_PER_VOLUME,
) -> int:
    """Write a PEF document; return the number of pages. Metadata is plain text (escaped here)."""
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(f'<pef version="2008-1" xmlns="{PEF_NS}">\n<head>\n<meta xmlns:dc="{DC_NS}">\n')
    out.write("<dc:format>application/x-pef+xml</dc:format>\n")
    out.write(f"<dc:identifier>{escape(identifier)}</dc:identifier>\n<dc:title>{escape(title)}</dc:title>\n")
    for creator in creators:
        out.write(f"<dc:creator>{escape(creator)}</dc:creator>\n")
    out.write(f"<dc:language>{escape(language)}</dc:language>\n")
    if date:
        out.write(f"<dc:date>{escape(date)}</dc:date>\n")
    out.write("</meta>\n</head>\n<body>\n")
    volume_open = f'<volume cols="{cells}" rows="{lines}" rowgap="0" duplex="false">\n<section>\n'
    count = 0
    for page in pages:
        if count % pages_per_volume == 0:
            if count:
                out.write("</section>\n</volume>\n")
            out.write(volume_open)
        out.write("<page>\n")
        for row in page.rows:
            text = check_braille(row).rstrip(BLANK)
            out.write(f"<row>{text}</row>\n" if text else "<row/>\n")
        out.write("</page>\n")
        count += 1
    if not count:
        out.write(volume_open + "<page/>\n")
    out.write("</section>\n</volume>\n</body>\n</pef>\n")
    return count
