"""Turning a book's XHTML into the small, safe, semantic HTML our reader pages embed.

A chapter is shown inside our own page, so anything it could run, load or style is removed: only elements
that carry meaning for a screen reader survive (headings, lists, tables, notes, languages). Two steps:
- our structural clean-up builds a new tree from the source, never by deleting bad parts from the
  original: what we did not think of is dropped, not kept. It rewrites what only the book knows (links
  between chapters, notes, images, page numbers) and makes print layout fit for listening (page numbers
  become labelled page-break markers, paragraphs with nothing to read go);
- nh3 (ammonia, a well-kept HTML sanitiser) then enforces the allow-list (`allow_list`) on our markup: the
  elements, the attributes of each, and the URL schemes of our own links (`chapter:`, `resource:`, `#`).
  A mistake in the first step cannot let a script, an event handler or an outside URL through.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from lxml import etree
from lxml import html as lxml_html

from .allow_list import AS_SECTION, ATTRIBUTES, BLOCK, DIV_LIKE, DROP, KEEP, allow_listed
from .plain_text import SPACE as _SPACE
from .plain_text import plain_text
from .xhtml import (
    NOTE_ROLES,
    NOTE_TYPES,
    OPS,
    XHTML,
    XML_LANG,
    NoteIndex,
    body_of,
    element_lang,
    epub_types,
    generated_ref_id,
    is_note,
    link_record,
    local_name,
    page_label,
    parse_document,
    resolve_href,
    scan_document,
)

# Callers have always found these here; they now live in `xhtml`, with the other questions about sources.
__all__ = [
    "NOTE_ROLES", "NOTE_TYPES", "OPS", "XHTML", "XML_LANG", "ID_PREFIX", "NoteIndex", "body_of",
    "clean_chapter", "element_lang", "epub_types", "is_note", "local_name", "parse_document",
    "plain_text", "resolve_href", "scan_document",
]  # fmt: skip

XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
ID_PREFIX = "x-"
_UNSAFE_ID = re.compile(r"[^\w.-]+")
_SOURCE_BLOCK = BLOCK | DIV_LIKE | AS_SECTION | {"article", "table", "tbody", "thead", "tfoot"}
_NUMERIC = {"colspan", "rowspan", "start"}


@dataclass
class _Context:
    path: str
    chapter_index: int
    href_map: Mapping[str, int]
    image_map: Mapping[str, str]
    index: NoteIndex
    backlink_label: str
    counters: dict[tuple[str, str], int] = field(default_factory=dict)
    ids: set[str] = field(default_factory=set)  # every id in the source, so generated ones never clash


def clean_chapter(
    raw: bytes,
    *,
    href_map: Mapping[str, int],
    path: str = "",
    chapter_index: int = 0,
    image_map: Mapping[str, str] | None = None,
    notes: NoteIndex | None = None,
    backlink_label: str = "Back to text",
) -> tuple[str, str, str | None]:
    """Sanitise one content document: (html, plain text, language of its html/body or None).

    `href_map` maps zip paths of spine documents to chapter indexes (0-based) and `image_map` zip paths of
    usable images to resource names; `path` is this document's own zip path, against which its relative
    links are resolved. A document that cannot be parsed at all gives empty results.
    """
    root = parse_document(raw)
    if root is None:
        return "", "", None
    if notes is None:
        notes = NoteIndex()
        scan_document(root, path, notes)
        notes.finish()
    context = _Context(path, chapter_index, href_map, image_map or {}, notes, backlink_label)
    body = body_of(root)
    context.ids = {element.get("id") for element in body.iter() if isinstance(element.tag, str)}
    lang = element_lang(body) or element_lang(root)
    container = etree.Element("div")
    container.text = None
    _convert_children(body, container, context)
    _drop_blank_paragraphs(container)
    _trim(container)
    markup = "".join(
        lxml_html.tostring(child, encoding="unicode", method="html", with_tail=True) for child in container
    )
    markup = html.escape(container.text or "", quote=False) + markup
    return allow_listed(markup).strip(), plain_text(container), lang


def _convert_children(source: etree._Element, target: etree._Element, context: _Context) -> None:
    _append_text(target, source.text)
    for child in source:
        if isinstance(child.tag, str):
            _convert(child, target, context)
        _append_text(target, child.tail)


def _append_text(target: etree._Element, text: str | None) -> None:
    if not text:
        return
    if len(target):
        last = target[-1]
        last.tail = (last.tail or "") + text
    else:
        target.text = (target.text or "") + text


def _convert(source: etree._Element, parent: etree._Element, context: _Context) -> None:
    name = local_name(source)
    if name == "svg":
        _convert_svg(source, parent, context)
        return
    if name in DROP or name == "":
        return
    label = page_label(source)
    if label is not None:
        _convert_page_break(source, label, parent, context)
        return
    if name == "img":
        _convert_img(source, parent, context)
        return
    if name == "a":
        _convert_link(source, parent, context)
        return
    source_id = source.get("id")
    targeted = bool(source_id) and source_id in context.index.targets.get(context.path, set())
    note = is_note(source)
    if name in KEEP:
        tag = name
    elif name in AS_SECTION:
        tag = "aside" if name == "aside" and note else "section"
    elif name in {"span", "div"} and (element_lang(source) or targeted or note):
        tag = name
    elif targeted or note:
        tag = "div" if name in {"header", "footer", "main", "hgroup", "address", "form"} else "span"
    elif name in DIV_LIKE and not _has_block(source) and "".join(source.itertext()).strip():
        tag = "p"  # a line of verse or a paragraph in a div: keep it apart from its neighbours
    else:
        tag = None  # unwrap: keep the content, lose the element
    if tag is None:
        _convert_children(source, parent, context)
        return
    element = etree.SubElement(parent, tag)
    _copy_attributes(source, element, tag)
    if note:
        _mark_note(source, element, context)
    else:
        _convert_children(source, element, context)


def _has_block(source: etree._Element) -> bool:
    return any(local_name(element) in _SOURCE_BLOCK for element in source.iterdescendants())


def _copy_attributes(source: etree._Element, element: etree._Element, tag: str) -> None:
    if source.get("id"):
        element.set("id", ID_PREFIX + source.get("id"))
    lang = element_lang(source)
    if lang:
        element.set("lang", lang)
    direction = (source.get("dir") or "").lower()
    if direction in {"ltr", "rtl", "auto"}:
        element.set("dir", direction)
    for attribute in ATTRIBUTES.get(tag, ()):
        value = source.get(attribute)
        if value is None:
            continue
        if attribute in _NUMERIC and not value.strip().isdigit():
            continue
        if attribute == "scope" and value not in {"row", "col", "rowgroup", "colgroup"}:
            continue
        if attribute == "headers":
            value = " ".join(ID_PREFIX + part for part in value.split())
        element.set(attribute, value.strip() if attribute in _NUMERIC else value)


def _mark_note(source: etree._Element, element: etree._Element, context: _Context) -> None:
    # DPUB-ARIA 1.1 deprecates doc-endnote; a note is a doc-footnote wherever it is printed.
    element.set("role", "doc-footnote")
    note_id = source.get("id")
    backref = context.index.backrefs.get((context.path, note_id)) if note_id else None
    has_backlink = False
    for descendant in source.iter():
        if local_name(descendant) != "a" or not descendant.get("href"):
            continue
        if "backlink" in epub_types(descendant) or descendant.get("role") == "doc-backlink":
            has_backlink = True
        elif backref is not None:
            target, fragment = resolve_href(descendant.get("href"), context.path)
            has_backlink |= ((target or context.path), fragment) == backref
    _convert_children(source, element, context)
    if backref is None or has_backlink:
        return
    ref_path, ref_id = backref
    href = _internal_href(ref_path, ref_id, context)
    if href is None:
        return  # the reference is in a document we did not keep
    link = etree.SubElement(_last_paragraph(element), "a")
    link.set("href", href)
    link.set("role", "doc-backlink")
    link.set("aria-label", context.backlink_label)
    link.text = "↩"
    _space_before(link)


def _last_paragraph(element: etree._Element) -> etree._Element:
    """Back-links go at the end of the note's last paragraph, where readers expect them."""
    if len(element) and element[-1].tag == "p" and not (element[-1].tail or "").strip():
        return element[-1]
    return element


def _space_before(link: etree._Element) -> None:
    previous = link.getprevious()
    parent = link.getparent()
    if previous is not None:
        previous.tail = (previous.tail or "").rstrip() + " "
    elif parent is not None:
        parent.text = (parent.text or "").rstrip() + " "


def _convert_link(source: etree._Element, parent: etree._Element, context: _Context) -> None:
    href = source.get("href")
    resolved = None
    if href:
        target, fragment = resolve_href(href, context.path)
        if target != "":
            resolved = _internal_href(target or context.path, fragment, context)
    source_id = source.get("id")
    record = link_record(source, context.path)
    if record is not None and context.index.is_noteref(record) and not source_id:
        # Generated for every reference, as in the scan, so that the counters agree.
        source_id = generated_ref_id(context.path, record.fragment, context.counters)
    if resolved is None:
        # External, unsafe or dangling: keep the words, never the destination.
        if source_id:
            element = etree.SubElement(parent, "span")
            element.set("id", ID_PREFIX + source_id)
            _convert_children(source, element, context)
        else:
            _convert_children(source, parent, context)
        return
    element = etree.SubElement(parent, "a")
    element.set("href", resolved)
    if record is not None and context.index.is_noteref(record):
        element.set("role", "doc-noteref")
    elif "backlink" in epub_types(source) or source.get("role") == "doc-backlink":
        element.set("role", "doc-backlink")
        element.set("aria-label", context.backlink_label)
    if source_id:
        element.set("id", ID_PREFIX + source_id)
    lang = element_lang(source)
    if lang:
        element.set("lang", lang)
    _convert_children(source, element, context)


def _internal_href(target: str, fragment: str | None, context: _Context) -> str | None:
    chapter = context.href_map.get(target)
    if chapter is None:
        return None
    anchor = f"#{ID_PREFIX}{fragment}" if fragment else ""
    if chapter == context.chapter_index and anchor:
        return anchor
    return f"chapter:{chapter}{anchor}"


def _convert_page_break(
    source: etree._Element, label: str, parent: etree._Element, context: _Context
) -> None:
    """A print page number becomes an empty, labelled landmark (as in DAISY and EPUB's guidelines).

    The number is kept out of the text, where it would interrupt a sentence, and out of the accessible
    name of a heading or link around it: there the marker goes just before that heading or link.
    The marker keeps the first id a link points to (or the first id, or a new one); other ids links
    point to stay as empty spans beside it.
    """
    ids = [
        element.get("id") for element in source.iter() if isinstance(element.tag, str) and element.get("id")
    ]
    linked = [id_ for id_ in ids if id_ in context.index.targets.get(context.path, set())]
    main = (linked or ids or [_new_id(f"page-{label}", context)])[0]
    marker = etree.Element("span")
    marker.set("role", "doc-pagebreak")
    marker.set("id", ID_PREFIX + main)
    # The page number is the marker's name through `title`: axe-core treats aria-label on a span as
    # prohibited even with a doc-pagebreak role, while browsers name the marker the same way from either.
    marker.set("title", label)
    anchors = [marker] + [_anchor(ID_PREFIX + id_) for id_ in dict.fromkeys(linked) if id_ != main]
    named = _outermost_named(parent)
    for anchor in anchors:
        if named is None:
            parent.append(anchor)
        else:
            named.addprevious(anchor)


def _new_id(wanted: str, context: _Context) -> str:
    base = _UNSAFE_ID.sub("-", wanted)
    candidate, count = base, 1
    while candidate in context.ids:
        count += 1
        candidate = f"{base}-{count}"
    context.ids.add(candidate)
    return candidate


def _anchor(element_id: str) -> etree._Element:
    anchor = etree.Element("span")
    anchor.set("id", element_id)
    return anchor


def _outermost_named(element: etree._Element | None) -> etree._Element | None:
    """The outermost heading or link around `element`: those take their accessible name from content."""
    found = None
    while element is not None:
        if element.tag in {"h1", "h2", "h3", "h4", "h5", "h6", "a"}:
            found = element
        element = element.getparent()
    return found


def _convert_img(source: etree._Element, parent: etree._Element, context: _Context) -> None:
    alt = _SPACE.sub(" ", source.get("alt") or "").strip()
    src = source.get("src") or source.get(XLINK_HREF) or source.get("href") or ""
    resource = None
    if src:
        target, _ = resolve_href(src, context.path)
        if target:
            resource = context.image_map.get(target)
    if resource is None:
        _alt_only(parent, alt)
        return
    element = etree.SubElement(parent, "img")
    element.set("src", f"resource:{resource}")
    element.set("alt", alt)
    if source.get("id"):
        element.set("id", ID_PREFIX + source.get("id"))


def _alt_only(parent: etree._Element, alt: str) -> None:
    """An image we do not serve still says what it showed."""
    if not alt:
        return
    element = etree.SubElement(parent, "span")
    element.set("role", "img")
    element.set("aria-label", alt)
    element.text = alt


def _convert_svg(source: etree._Element, parent: etree._Element, context: _Context) -> None:
    """Inline SVG can script; keep only a raster <image> it wraps (covers) or its title as alt text."""
    title = source.get("aria-label") or ""
    for child in source.iter():
        if local_name(child) == "title" and not title:
            title = "".join(child.itertext())
    title = _SPACE.sub(" ", title).strip()
    for child in source.iter():
        if local_name(child) == "image":
            substitute = etree.Element("img", src=child.get(XLINK_HREF) or child.get("href") or "")
            substitute.set("alt", title)
            _convert_img(substitute, parent, context)
            return
    _alt_only(parent, title)


def _drop_blank_paragraphs(container: etree._Element) -> None:
    """Remove paragraphs with nothing to read, which screen readers announce as "blank".

    Print layout leaves many (spacers, `<p><br/></p>`, paragraphs holding only an anchor or a page
    number). What links can reach inside one, its ids and page markers, moves to where it was. A `<br>`
    at either end of a paragraph only makes an empty line, so it goes too.
    """
    for paragraph in reversed(list(container.iter("p"))):
        while len(paragraph) and paragraph[0].tag == "br" and not (paragraph.text or "").strip():
            _remove_keeping_tail(paragraph[0])
        while len(paragraph) and paragraph[-1].tag == "br" and not (paragraph[-1].tail or "").strip():
            _remove_keeping_tail(paragraph[-1])
        if not _is_blank(paragraph):
            continue
        anchors = [_anchor(paragraph.get("id"))] if paragraph.get("id") else []
        for element in paragraph.iterdescendants():
            if element.get("role") == "doc-pagebreak":
                anchors.append(element)
            elif element.get("id"):
                anchors.append(_anchor(element.get("id")))
        for anchor in anchors:
            anchor.tail = None
            paragraph.addprevious(anchor)
        _remove_keeping_tail(paragraph)


def _is_blank(paragraph: etree._Element) -> bool:
    if "".join(paragraph.itertext()).strip():
        return False
    return not any(
        element.tag in {"img", "hr"} or (element.tag == "a" and element.get("href"))
        for element in paragraph.iterdescendants()
    )


def _remove_keeping_tail(element: etree._Element) -> None:
    parent = element.getparent()
    previous = element.getprevious()
    tail = element.tail or ""
    before = (previous.tail if previous is not None else parent.text) or ""
    if tail.strip() or not before[-1:].isspace():
        if previous is not None:
            previous.tail = before + tail
        else:
            parent.text = before + tail
    parent.remove(element)


def _trim(container: etree._Element) -> None:
    if container.text is not None and not container.text.strip():
        container.text = None
