"""The plain text of a cleaned chapter, as search indexes it and speech reads it.

Blocks become paragraphs separated by blank lines, a `<br>` a line break, an image its alternative text;
back-links to notes are not read, since they only repeat the note's number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml import etree

from .allow_list import BLOCK

SPACE = re.compile(r"[ \t\r\n\f\u00a0]+")


def plain_text(container: etree._Element) -> str:
    """Text for search and speech: blocks separated by blank lines, spaces normalised."""
    pieces = list(_text_pieces(container))
    paragraphs: list[str] = []
    for block in "".join(pieces).split("\x00"):
        lines = [SPACE.sub(" ", line).strip() for line in block.split("\x01")]
        text = "\n".join(line for line in lines if line)
        if text:
            paragraphs.append(text)
    return "\n\n".join(paragraphs)


def _text_pieces(element: etree._Element) -> Iterator[str]:
    if element.text:
        yield element.text
    for child in element:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag == "br":
            yield "\x01"
        elif tag == "img" or child.get("role") == "img":
            alt = child.get("alt") if tag == "img" else child.get("aria-label")
            if alt:
                yield f" [Image: {alt}] "
        elif child.get("role") == "doc-backlink":
            pass
        elif tag in BLOCK or tag == "aside":
            yield "\x00"
            yield from _text_pieces(child)
            yield "\x00"
        elif tag in {"td", "th"}:
            yield " "
            yield from _text_pieces(child)
            yield " "
        else:
            yield from _text_pieces(child)
        if child.tail:
            yield child.tail
