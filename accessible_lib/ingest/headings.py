"""Recognising chapter headings in plain text, in English and Chinese.

A reader moves through a book by its headings, so a plain-text file is only as navigable as our guess at
where its chapters begin. Headings are lines that look like "CHAPTER IV", "Letter 2", "BOOK ONE: 1805",
"第一回 ...", "卷一" or "学而篇"; each gets a rank (book above chapter above section) that becomes its level.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNITS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen"
    "|seventeen|eighteen|nineteen"
)
_TENS = "twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety"
_ORDINALS = (
    "first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth"
    "|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|last"
)
_NUMBER = (
    rf"(?:\d+|[IVXLCDM]+|[ivxlcdm]+|(?:the\s+)?(?:(?:{_TENS})[-\s]?)?(?:{_ORDINALS})"
    rf"|(?:{_TENS})(?:[-\s](?:{_UNITS}))?|(?:{_UNITS})|hundred)"
)
# Keyword, its rank (smaller = higher in the book's outline).
_LATIN_KEYWORDS = {
    "volume": 0,
    "book": 1,
    "part": 1,
    "chapter": 2,
    "letter": 2,
    "stave": 2,
    "canto": 2,
    "act": 2,
    "section": 3,
    "scene": 3,
}
# Case-insensitive keyword and number, but what follows must start a new phrase: "Letter I wrote" is prose.
_LATIN_NUMBERED = re.compile(
    rf"^(?i:(?P<keyword>{'|'.join(_LATIN_KEYWORDS)})\s+(?P<number>{_NUMBER}))\b"
    r"(?P<rest>(?:\s*[.:,\u2014\u2013-].*|\s+[A-Z0-9\u201c\"'(\[].*)?)$"
)
_LATIN_SPECIAL = re.compile(
    r"^(?i:(?:(?:first|second|third|fourth)\s+)?(?:preface|introduction|prologue|epilogue|conclusion"
    r"|afterword|foreword|postscript|appendix))\b(?:\s*[.:,\u2014\u2013-].*|\s+[A-Z0-9].*)?$"
)
_HAN_NUMBER = r"[〇零一二三四五六七八九十百千两壹贰叁肆伍陆柒捌玖拾\d０-９]+"
_CJK_RANKS = {
    "部": 1, "卷": 1, "册": 1, "冊": 1, "集": 1, "编": 1, "編": 1,
    "回": 2, "章": 2, "篇": 2, "折": 2, "幕": 2,
    "节": 3, "節": 3,
}  # fmt: skip
_CJK_NUMBERED = re.compile(
    rf"^第{_HAN_NUMBER}(?P<unit>[{''.join(_CJK_RANKS)}])(?:$|[\s　：:、．.・·]+\S.*$|\S.*$)"
)
_CJK_VOLUME = re.compile(rf"^卷{_HAN_NUMBER}(?:$|[\s　：:、．.・·].*$)")
_CJK_SPECIAL = re.compile(r"^(?:楔子|序|序言|自序|前言|引子|引言|后记|後記|跋|尾声|尾聲|附录|附錄)$")
_CJK_PIAN = re.compile(r"^[\u4e00-\u9fff]{1,6}篇$")  # 《论语》: 学而篇, 为政篇
_SENTENCE_END = re.compile(r"[。！？；，]$")
_CJK_HEADING_START = re.compile(r"^[\u4e00-\u9fff]")  # Chinese headings need no blank line before them

SPECIAL = -1  # ranks of prefaces and epilogues: "as high as the highest numbered heading"
MAX_LATIN = 100
MAX_CJK = 40
_ROMAN = re.compile(r"^[IVXLCDM]+[.:]?$")


@dataclass
class Heading:
    line: int  # index into the list of lines
    title: str
    rank: int
    key: str  # for recognising the same heading twice (a table of contents, then the chapter)


def classify_heading(line: str) -> int | None:
    """The rank of `line` if it reads as a heading, else None."""
    line = line.strip()
    if not line:
        return None
    if _CJK_NUMBERED.match(line):
        if len(line) > MAX_CJK or _SENTENCE_END.search(line):
            return None
        return _CJK_RANKS[_CJK_NUMBERED.match(line).group("unit")]
    if _CJK_VOLUME.match(line) and len(line) <= MAX_CJK:
        return 1
    if _CJK_SPECIAL.match(line):
        return SPECIAL
    if _CJK_PIAN.match(line):
        return 2
    if len(line) > MAX_LATIN or not line[0].isupper():
        return None
    match = _LATIN_NUMBERED.match(line)
    if match:
        return _LATIN_KEYWORDS[match.group("keyword").lower()]
    if _LATIN_SPECIAL.match(line) and len(line) <= 60 and not line.endswith(("?", "!", ",")):
        return SPECIAL
    return None


def tidy_heading(line: str) -> str:
    """ "CHAPTER I." becomes "Chapter I": shouting capitals make some screen readers spell words out."""
    title = " ".join(line.replace("\u3000", " ").split())
    if re.search(r"[a-z]", title) is None and re.search(r"[A-Z]", title):
        words = []
        for position, word in enumerate(title.split(" ")):
            if _ROMAN.match(word):
                words.append(word)
            elif position and word.lower() in {"the", "of", "and", "a", "an", "in", "to"}:
                words.append(word.lower())
            else:
                words.append(word.capitalize())
        title = " ".join(words)
    title = title.rstrip(".")
    return title or line.strip()


def heading_key(title: str) -> str:
    return re.sub(r"[\W_]+", " ", title.casefold()).strip()


def find_headings(lines: list[str], *, line_mode: bool) -> list[Heading]:
    """Heading lines, each standing on its own (after a blank line, unless the text has none)."""
    found = []
    weak = []
    for index, line in enumerate(lines):
        rank = classify_heading(line)
        if rank is None:
            continue
        cjk = _CJK_HEADING_START.match(line.strip()) is not None
        if not (line_mode or cjk) and index > 0 and lines[index - 1].strip():
            continue  # inside a paragraph: "Chapter 3 of the report" wrapped onto a new line
        heading = Heading(index, tidy_heading(line), rank, heading_key(line))
        found.append(heading)
        if _CJK_PIAN.match(line.strip()):
            weak.append(heading)
    if len(weak) < 3:
        # "学而篇" is a heading when the book is made of such 篇; one lone "親政篇" is a work's title.
        found = [heading for heading in found if heading not in weak]
    return found


def drop_table_of_contents(headings: list[Heading], has_content: list[bool]) -> list[Heading]:
    """Keep the headings that start real text.

    A table of contents is a run of headings with nothing between them. A heading with nothing after it is
    kept only when the next kept heading is one of its children ("BOOK ONE" then "CHAPTER I"). The last
    entry of a contents list is followed by text, so it is recognised instead by coming straight after
    dropped entries and recurring later in the book.
    """
    count = len(headings)
    kept = [False] * count
    for i in range(count - 1, -1, -1):
        if has_content[i]:
            kept[i] = True
        elif i + 1 < count and kept[i + 1] and _deeper(headings[i + 1].rank, headings[i].rank):
            kept[i] = True
    later_keys: dict[str, int] = {}
    for i, heading in enumerate(headings):
        later_keys[heading.key] = i  # last occurrence
    for i in range(count):
        if kept[i] and i > 0 and not kept[i - 1] and later_keys[headings[i].key] > i:
            kept[i] = False
    return [heading for heading, keep in zip(headings, kept, strict=True) if keep]


def _deeper(child: int, parent: int) -> bool:
    return child != SPECIAL and (parent == SPECIAL or child > parent)


def assign_levels(headings: list[Heading]) -> list[int]:
    """Levels 1, 2, 3 from ranks, skipping ranks the book does not use."""
    numbered = sorted({h.rank for h in headings if h.rank != SPECIAL})
    top = numbered[0] if numbered else 0
    levels = {rank: position + 1 for position, rank in enumerate(numbered)}
    return [levels.get(top if h.rank == SPECIAL else h.rank, 1) for h in headings]
