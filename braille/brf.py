"""BRF: pages of North American ASCII braille, as embossers and braille notetakers read them.

Each 6-dot cell maps to one of the 64 characters of North American ASCII braille (the standard order of
U+2800-U+283F); rows end with CR LF, and a form feed separates pages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import BinaryIO

from .layout import Page

# The 64 ASCII braille characters, indexed by dot pattern (bit 0 = dot 1 ... bit 5 = dot 6).
ASCII_BRAILLE = " A1B'K2L@CIF/MSP\"E3H9O6R^DJG>NTQ,*5<-U8V.%[$+X!&;:4\\0Z7(_?W]#Y)="
_TO_ASCII = str.maketrans({chr(0x2800 + dots): char for dots, char in enumerate(ASCII_BRAILLE)})
VALID = frozenset(ASCII_BRAILLE)


def to_ascii(braille: str) -> str:
    """6-dot Unicode braille as ASCII braille; anything else is a caller's bug and raises."""
    return _ascii(braille, _NOT_ASCII_BRAILLE)


def _ascii(braille: str, invalid: re.Pattern[str]) -> str:
    text = braille.translate(_TO_ASCII)
    if invalid.search(text):
        bad = set(invalid.findall(text))
        raise ValueError(f"not 6-dot braille: {''.join(sorted(bad))!r}")
    return text


_NOT_ASCII_BRAILLE = re.compile("[^ -_]")  # the 64 characters are U+0020-U+005F
_NOT_ASCII_ROWS = re.compile("[^ -_\n]")


def write_brf(pages: Iterable[Page], out: BinaryIO) -> int:
    """Write the pages; return how many. Trailing blanks are dropped from each row, as in every BRF."""
    count = 0
    for page in pages:
        if count:
            out.write(b"\f")
        # the page at once, not row by row: a third of the time of writing War and Peace went on rows
        text = _ascii("\n".join(page.rows), _NOT_ASCII_ROWS)
        out.write((_TRAILING.sub("\r\n", text + "\n")).encode("ascii"))
        count += 1
    return count


_TRAILING = re.compile(" *\n")
