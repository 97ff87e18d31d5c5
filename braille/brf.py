"""BRF: pages of North American ASCII braille, as embossers and braille notetakers read them.

Each 6-dot cell maps to one of the 64 characters of North American ASCII braille (the standard order of
U+2800-U+283F); rows end with CR LF, and a form feed separates pages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import BinaryIO

from .layout import BLANK, Page

# The 64 ASCII braille characters, indexed by dot pattern (bit 0 = dot 1 ... bit 5 = dot 6).
ASCII_BRAILLE = " A1B'K2L@CIF/MSP\"E3H9O6R^DJG>NTQ,*5<-U8V.%[$+X!&;:4\\0Z7(_?W]#Y)="
_TO_ASCII = str.maketrans({chr(0x2800 + dots): char for dots, char in enumerate(ASCII_BRAILLE)})
VALID = frozenset(ASCII_BRAILLE)


def to_ascii(braille: str) -> str:
    """6-dot Unicode braille as ASCII braille; anything else is a caller's bug and raises."""
    text = braille.translate(_TO_ASCII)
    bad = set(text) - VALID
    if bad:
        raise ValueError(f"not 6-dot braille: {''.join(sorted(bad))!r}")
    return text


def write_brf(pages: Iterable[Page | bytes], out: BinaryIO) -> int:
    """Write the pages, each a Page or already `page_bytes`; return how many."""
    count = 0
    for page in pages:
        if count:
            out.write(b"\f")
        out.write(page if isinstance(page, bytes) else page_bytes(page))
        count += 1
    return count


def page_bytes(page: Page, *, checked: bool = False) -> bytes:
    """One page as BRF, without the form feed between pages. Trailing blanks are dropped from each row, as
    in every BRF (row by row: a regular expression for blanks before each line end tried every blank of
    the page, two thirds of the time of writing War and Peace).

    `checked`: every row is known to be 6-dot braille, as on the pages of braille.layout, which checks
    every block it is given and adds only cells of its own; the page is then not searched again (a tenth
    of the layout's instructions on War and Peace)."""
    return _page_bytes([row.rstrip(BLANK) for row in page.rows], checked).replace(b"\n", b"\r\n")


def _page_bytes(rows: list[str], checked: bool = False) -> bytes:
    """A page's rows in ASCII braille, each ending in a newline, converted at once: a cell's code point is
    U+2800 plus its dots, so the low bytes of its UTF-16 are the dots, and one byte table maps them. Row by
    row through `str.translate`, this was a third of the time of writing War and Peace's BRF; the page at
    once, a tenth of that. Rows are joined with U+00FF, whose low byte no cell has, for the newline."""
    text = _ROW_END.join(rows) + _ROW_END
    bad = None if checked else _NOT_CELL_OR_ROW_END.search(text)
    if bad:
        raise ValueError(f"not 6-dot braille: {bad.group()!r}")
    return text.encode("utf-16-le")[::2].translate(_DOTS_TO_ASCII)


_ROW_END = "\u00ff"
_NOT_CELL_OR_ROW_END = re.compile("[^\u2800-\u283f\u00ff]")
_DOTS_TO_ASCII = bytes.maketrans(bytes(range(64)) + b"\xff", ASCII_BRAILLE.encode("ascii") + b"\n")
