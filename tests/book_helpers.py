"""Helpers for tests that convert whole books: keep every chapter and its structure, but little text."""

from __future__ import annotations

from pathlib import Path

from lxml import etree
from lxml import html as lxml_html

CORPUS = Path(__file__).parent / "corpus"
WAR_AND_PEACE = CORPUS / "text" / "en" / "war-and-peace.txt"
LONG_BOOKS = {WAR_AND_PEACE.name}  # converted whole through a real worker (test_long_book_editions.py)


def corpus_books() -> list[Path]:
    """The corpus books the whole-corpus tests convert: every EPUB and text but the long ones."""
    return sorted(
        p
        for kind in ("epub", "text")
        for p in (CORPUS / kind).glob("*/*")
        if p.suffix in {".epub", ".txt"} and p.name not in LONG_BOOKS
    )


def cap(book: dict, characters: int = 80) -> dict:
    """Each chapter cut to about `characters` of text, keeping every element (notes, images, headings)."""
    book = dict(book, chapters=[dict(chapter) for chapter in book["chapters"]])
    for chapter in book["chapters"]:
        if not (chapter.get("html") or "").strip():
            continue
        root = lxml_html.fragment_fromstring(chapter["html"], create_parent="div")
        budget = characters
        for element in root.iter():
            for attribute in ("text", "tail"):
                value = getattr(element, attribute) or ""
                if value.strip():
                    setattr(element, attribute, value[: max(budget, 1)] if budget > 0 else " ")
                    budget -= len(value.strip())
        chapter["html"] = etree.tostring(root, encoding="unicode", method="html")
        chapter["text"] = " ".join(root.text_content().split())
    return book
