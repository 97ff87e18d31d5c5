"""Project Gutenberg boilerplate: the licence header and footer are not the book, but the header's catalogue
fields (Title:, Author:, Language:, Release Date:) are better metadata than anything we could guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

_START = re.compile(
    r"^\s*(?:\*{3}\s*START OF (?:THE|THIS) PROJECT GUTENBERG E-?BOOK[^\n]*"
    r"|\*END\*\s*THE SMALL PRINT[^\n]*)$",
    re.IGNORECASE | re.MULTILINE,
)
_END = re.compile(
    r"^\s*(?:\*{3}\s*END OF (?:THE|THIS) PROJECT GUTENBERG E-?BOOK[^\n]*"
    r"|End of (?:the )?Project Gutenberg'?s?\b[^\n]*)$",
    re.IGNORECASE | re.MULTILINE,
)
_FIELD = re.compile(r"^(Title|Author|Language|Release Date|Translator|Editor):\s*(.*)$", re.IGNORECASE)
_EBOOK_NUMBER = re.compile(r"\[E(?:-?Book|Text) #(\d+)\]", re.IGNORECASE)
_CREDITS = re.compile(
    r"^(?:Produced by|E-?text prepared by|Transcribed from|This e-?text was produced)", re.IGNORECASE
)


@dataclass
class GutenbergText:
    body: str
    header: str = ""  # the header up to the START line and the volunteers' credits: kept as back matter
    licence: str = ""  # from the END line on: the licence, which must travel with the text
    title: str | None = None
    subtitle: str | None = None
    authors: list[str] = field(default_factory=list)
    language: str | None = None
    date: str | None = None
    ebook_number: str | None = None


def _header_fields(header: str) -> dict[str, list[str]]:
    """Each field with its continuation lines (indented lines that follow it)."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in header.split("\n"):
        match = _FIELD.match(line)
        if match:
            current = found.setdefault(match.group(1).lower(), [])
            current.append(match.group(2).strip())
        elif current is not None and line[:1].isspace() and line.strip():
            current.append(line.strip())
        else:
            current = None
    return found


def _iso_date(raw: str) -> str:
    raw = _EBOOK_NUMBER.sub("", raw).strip().rstrip(",")
    for pattern in ("%B %d, %Y", "%b %d, %Y", "%B %Y", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(raw, pattern)
        except ValueError:
            continue
        return parsed.strftime("%Y-%m" if pattern == "%B %Y" else "%Y-%m-%d")
    return raw


def _split_credits(body: str) -> tuple[str, str]:
    """The "Produced by ..." paragraph right after the header thanks volunteers; it is not the book.

    Returns (credits, book): nothing is dropped, the credits go with the header.
    """
    stripped = body.lstrip("\n")
    if _CREDITS.match(stripped):
        end = stripped.find("\n\n")
        return (stripped[:end], stripped[end:]) if end != -1 else (stripped, "")
    return "", body


def split_gutenberg(text: str) -> GutenbergText | None:
    """The book between the Gutenberg header and footer, with the header's fields; None if not a PG text."""
    start = _START.search(text)
    if start is None:
        return None
    header, rest = text[: start.start()], text[start.end() :]
    end = _END.search(rest)
    credits, body = _split_credits(rest[: end.start()] if end else rest)
    fields = _header_fields(header)
    result = GutenbergText(
        body=body,
        header="\n\n".join(part for part in (header, start.group(0), credits) if part.strip()),
        licence=rest[end.start() :] if end else "",
    )
    if "title" in fields:
        result.title = fields["title"][0] or None
        if len(fields["title"]) > 1:
            result.subtitle = " ".join(fields["title"][1:])
    for name in fields.get("author", []):
        result.authors.extend(part.strip() for part in re.split(r"\s+and\s+|;", name) if part.strip())
    if "language" in fields:
        result.language = fields["language"][0]
    if "release date" in fields:
        raw = " ".join(fields["release date"])
        number = _EBOOK_NUMBER.search(raw)
        result.ebook_number = number.group(1) if number else None
        result.date = _iso_date(raw) or None
    return result
