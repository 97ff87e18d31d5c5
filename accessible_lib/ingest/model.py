"""What ingestion produces: a whole book in memory, ready to be written to the catalogue in one transaction.

Ingesters (EPUB, plain text) fill these; `catalogue.add_book` stores them. Nothing here touches the database,
so an ingester can be tested, and a hostile file rejected, without any catalogue at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Chapter:
    title: str
    html: str  # sanitised semantic HTML (no <html>/<body>), headings start at whatever level the source had
    text: str  # plain text, paragraphs separated by a blank line
    level: int = 1  # nesting level from the table of contents, 1 = top
    lang: str | None = None  # BCP 47, only when it differs from the book's language
    kind: str = "body"  # or "back": Project Gutenberg's header and licence, kept but listed last


@dataclass
class TocEntry:
    title: str
    level: int  # 1 = top
    chapter_index: int  # 0-based index into IngestedBook.chapters
    fragment: str | None = None  # element id inside the chapter's html, without '#'


@dataclass
class Resource:
    """An image (or other file) that a chapter's html refers to as `resource:NAME`."""

    name: str
    media_type: str
    data: bytes


@dataclass
class IngestedBook:
    title: str
    source_format: str  # "epub" or "txt"
    checksum: str  # sha256 hex of the source file
    source_name: str
    subtitle: str | None = None
    authors: list[str] = field(default_factory=list)
    language: str | None = None  # BCP 47: "en", "zh-Hans", "zh-Hant"...
    subjects: list[str] = field(default_factory=list)
    description: str | None = None
    publisher: str | None = None
    date: str | None = None
    identifiers: list[tuple[str, str]] = field(default_factory=list)  # (scheme, value): ("isbn", "978...")
    rights: str = "public-domain"  # a status from access.RIGHTS_STATUSES (or "restricted", eligible-only)
    rights_statement: str | None = None
    chapters: list[Chapter] = field(default_factory=list)
    toc: list[TocEntry] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
