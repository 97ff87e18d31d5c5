"""Paragraphs of a chapter page as places a reader can come back to: numbered, with an anchor each.

Why numbers and not the text: a bookmark or a reading position must survive staff editing the record and
must not copy the book's text into the shelf. Paragraph N is the N-th `<p>` of the chapter as stored, so the
same chapter always numbers the same way; its anchor is always `para-N` (an id the paragraph had, a note's
target, moves to an empty span at its start, so links to it still land there).

Only signed-in readers get these pages: anonymous reading pages stay as they were.
"""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree
from lxml import html as lxml_html
from markupsafe import Markup

ANCHOR_PREFIX = "para-"
EXCERPT_CHARS = 200


def _parse(html: str):
    return lxml_html.fragment_fromstring(str(html) or "<p></p>", create_parent="div")


def _paragraphs(root) -> list:
    return list(root.iter("p"))


def anchor_for(number: int) -> str:
    return f"{ANCHOR_PREFIX}{number}"


def paragraph_count(html: str) -> int:
    return len(_paragraphs(_parse(html)))


def anchors(html: str) -> list[str]:
    """The anchor of each paragraph, paragraph 1 first."""
    return [anchor_for(n) for n in range(1, paragraph_count(html) + 1)]


def excerpt(html: str, number: int, limit: int = EXCERPT_CHARS) -> str | None:
    """The first words of paragraph `number`, to show a reader which one they are bookmarking."""
    found = _paragraphs(_parse(html))
    if not 1 <= number <= len(found):
        return None
    text = " ".join(found[number - 1].text_content().split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    return (cut[: cut.rfind(" ")] if cut.rfind(" ") > limit // 2 else cut).rstrip() + "…"


def _note(text: str, lang: str, css: str):
    element = etree.Element("p", {"class": css, "lang": lang})
    element.text = text
    return element


def mark_paragraphs(
    html: str,
    *,
    lang: str,
    marks: dict[int, str],
    link: Callable[[int], tuple[str, str]] | None = None,
) -> Markup:
    """The chapter with an anchor on every paragraph. `marks` maps a paragraph number to what to say after
    it (the reader's bookmark there); `link`, when given, puts after every paragraph a link (href, text)
    to bookmark it. What is added is in the interface language `lang`, inside the book's text."""
    root = _parse(html)
    for number, paragraph in enumerate(_paragraphs(root), start=1):
        own = paragraph.get("id")
        if own and own != anchor_for(number):
            marker = etree.Element("span", {"id": own})
            marker.tail, paragraph.text = paragraph.text, None
            paragraph.insert(0, marker)
        paragraph.set("id", anchor_for(number))
        after = []
        if number in marks:
            after.append(_note(marks[number], lang, "bookmark-mark"))
        if link is not None:
            href, text = link(number)
            holder = etree.Element("p", {"class": "bookmark-this", "lang": lang})
            etree.SubElement(holder, "a", {"href": href}).text = text
            after.append(holder)
        for element in reversed(after):
            element.tail = paragraph.tail
            paragraph.tail = None
            paragraph.addnext(element)
    parts = [root.text or ""] if root.text else []
    parts += [etree.tostring(child, encoding="unicode", method="html") for child in root]
    return Markup("".join(parts))
