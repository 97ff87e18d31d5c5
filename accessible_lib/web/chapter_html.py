"""Fitting a stored chapter into its page.

The catalogue keeps chapters as the ingester cleaned them; on the way out, headings are shifted so the
page's own <h1> (the chapter title) stays the only h1 and the outline stays logical, and the catalogue's
internal link forms (`resource:NAME`, `chapter:N#id`) become URLs.
"""

from __future__ import annotations

import re

import lxml.html
from markupsafe import Markup

from ..i18n import gettext

_HEADING = re.compile(r"^h([1-6])$")


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def prepare_chapter_html(html: str, *, book_id: int, title: str) -> Markup:
    if not html.strip():
        return Markup("")
    container = lxml.html.fragment_fromstring(html, create_parent="div")
    headings = [el for el in container.iter() if isinstance(el.tag, str) and _HEADING.match(el.tag)]
    if headings:
        first = headings[0]
        # The page title already says this; a second copy right under it would be read twice.
        if _normalise(first.text_content()) == _normalise(title) and _is_leading(container, first):
            _remove_keeping_targets(first)
            headings = headings[1:]
    if headings:
        top = min(int(h.tag[1]) for h in headings)
        shift = 2 - top
        previous = 1  # the page's own h1
        for heading in headings:
            # Never skip a level (h2 straight to h5 leaves a screen reader user wondering what was missed).
            level = min(6, max(2, int(heading.tag[1]) + shift), previous + 1)
            heading.tag = f"h{level}"
            previous = level
    for link in container.xpath("//a[@role='doc-backlink']"):
        link.set("aria-label", gettext("Back to text"))
    for element in container.iter("a", "img"):
        attribute = "href" if element.tag == "a" else "src"
        value = element.get(attribute)
        if value:
            element.set(attribute, _url_for(value, book_id))
    inner = (container.text or "") and Markup.escape(container.text)
    parts = [str(inner)] if inner else []
    parts.extend(lxml.html.tostring(child, encoding="unicode") for child in container)
    return Markup("".join(parts))


def _remove_keeping_targets(element) -> None:
    """Remove `element` but keep its ids (links and the contents list point at them) and its tail text."""
    ids = [node.get("id") for node in element.iter() if isinstance(node.tag, str) and node.get("id")]
    anchors = [lxml.html.Element("span", id=id_) for id_ in ids]
    for anchor in anchors:
        element.addprevious(anchor)
    tail = element.tail
    element.tail = None
    if tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent = element.getparent()
            parent.text = (parent.text or "") + tail
    element.getparent().remove(element)


def _is_leading(container, element) -> bool:
    """True when no text comes before `element` in the chapter."""
    return not any(text.strip() for text in element.xpath("preceding::text()"))


def _url_for(value: str, book_id: int) -> str:
    if value.startswith("resource:"):
        return f"/books/{book_id}/resources/{value[len('resource:') :]}"
    if value.startswith("chapter:"):
        position, _, fragment = value[len("chapter:") :].partition("#")
        if position.isdigit():
            url = f"/books/{book_id}/read/{int(position) + 1}"
            return f"{url}#{fragment}" if fragment else url
        return "#"
    return value
