"""Fitting a stored chapter under a page's own <h1>: one set of rules for the online reader and the HTML
edition, so a chapter reads the same wherever it is opened.

The catalogue keeps chapters as the ingester cleaned them. On the way out a leading heading that repeats the
chapter title is dropped (its ids kept: the contents list links to them), headings shift so the outline
starts at h2 and never skips a level (h2 straight to h5 leaves a screen reader user wondering what was
missed), and the catalogue's link forms (`chapter:N#id`, `resource:NAME`) are rewritten by the caller.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import lxml.html

_HEADING = re.compile(r"^h([1-6])$")


def same_text(a: str, b: str) -> bool:
    return re.sub(r"\s+", " ", a).strip().casefold() == re.sub(r"\s+", " ", b).strip().casefold()


def fit_chapter(
    fragment: str,
    title: str,
    *,
    link: Callable[[str], str | None],
    image: Callable[[str], str | None],
    backlink_label: str,
) -> str:
    """The chapter's html, fitted. `link(href)` and `image(src)` give the new value; None removes the link
    target (the text stays) or replaces the image by its alt text."""
    if not fragment.strip():
        return ""
    container = lxml.html.fragment_fromstring(fragment, create_parent="div")
    headings = [el for el in container.iter() if isinstance(el.tag, str) and _HEADING.match(el.tag)]
    if headings:
        first = headings[0]
        if same_text(first.text_content(), title) and not any(
            text.strip() for text in first.xpath("preceding::text()")
        ):
            remove_keeping_targets(first)
            headings = headings[1:]
    if headings:
        shift = 2 - min(int(h.tag[1]) for h in headings)
        previous = 1  # the page's own h1
        for heading in headings:
            level = min(6, max(2, int(heading.tag[1]) + shift), previous + 1)
            heading.tag = f"h{level}"
            previous = level
    for anchor in container.xpath("//a[@role='doc-backlink']"):
        anchor.set("aria-label", backlink_label)
    for anchor in list(container.iter("a")):
        href = anchor.get("href")
        if href:
            new = link(href)
            if new is None:
                del anchor.attrib["href"]
            else:
                anchor.set("href", new)
    for picture in list(container.iter("img")):
        new = image(picture.get("src") or "")
        if new is None:
            replace_with_alt(picture)
        else:
            picture.set("src", new)
    parts = [html.escape(container.text)] if container.text else []
    parts.extend(lxml.html.tostring(child, encoding="unicode") for child in container)
    return "".join(parts)


def remove_keeping_targets(element) -> None:
    """Remove `element` but keep its ids (links and the contents point at them) and its tail text."""
    ids = [node.get("id") for node in element.iter() if isinstance(node.tag, str) and node.get("id")]
    for id_ in ids:
        element.addprevious(lxml.html.Element("span", id=id_))
    drop_keeping_tail(element)


def replace_with_alt(image) -> None:
    alt = (image.get("alt") or "").strip()
    if alt:
        span = lxml.html.Element("span")
        span.text = f"[{alt}]"
        image.addprevious(span)
    drop_keeping_tail(image)


def drop_keeping_tail(element) -> None:
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
