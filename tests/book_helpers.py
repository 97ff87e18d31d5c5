"""Helpers for tests that convert whole books: keep every chapter and its structure, but little text."""

from __future__ import annotations

from lxml import etree
from lxml import html as lxml_html


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
