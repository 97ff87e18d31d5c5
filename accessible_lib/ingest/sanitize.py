"""Turning a book's XHTML into the small, safe, semantic HTML our reader pages embed.

A chapter is shown inside our own page, so anything it could run, load or style is removed: only elements
that carry meaning for a screen reader survive (headings, lists, tables, notes, languages). The result is
built as a new tree from an allow-list, never by deleting bad parts from the original: what we did not
think of is dropped, not kept.
"""

from __future__ import annotations

import html
import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from lxml import etree
from lxml import html as lxml_html

XHTML = "http://www.w3.org/1999/xhtml"
OPS = "http://www.idpf.org/2007/ops"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
ID_PREFIX = "x-"
NOTE_TYPES = {"footnote", "endnote", "rearnote", "note"}
NOTE_ROLES = {"doc-footnote", "doc-endnote"}
_NOTEREF_TEXT = re.compile(r"^\s*[\[(]?\s*(\d{1,4}|[*†‡§¶]+|[ivxlc]{1,6})\s*[\])]?\s*$", re.IGNORECASE)
_SPACE = re.compile(r"[ \t\r\n\f\u00a0]+")
_ENTITY_REF = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
_XML_ENTITIES = {"amp", "lt", "gt", "quot", "apos"}

# Elements kept as they are (after their attributes are filtered).
KEEP = {
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "ul", "ol", "li", "dl", "dt", "dd",
    "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td", "blockquote", "pre",
    "code", "em", "strong", "i", "b", "u", "s", "sub", "sup", "small", "abbr", "cite", "q",
    "br", "hr", "figure", "figcaption", "img", "a", "section",
    # Also semantic, and needed for real books: ruby annotations in Chinese and Japanese text.
    "ruby", "rt", "rp", "rb", "dfn", "kbd", "samp", "var", "mark", "del", "ins", "bdi", "bdo",
}  # fmt: skip
AS_SECTION = {"article", "aside", "nav"}
# Dropped together with everything inside them.
DROP = {
    "script", "style", "link", "meta", "iframe", "object", "embed", "head", "title", "base",
    "input", "button", "select", "textarea", "option", "optgroup", "datalist", "output",
    "audio", "video", "source", "track", "template", "frame", "frameset", "applet", "param",
    "map", "area", "noembed", "noframes", "colgroup", "col", "math", "svg",
}  # fmt: skip
BLOCK = {
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "ul", "ol", "li", "dl", "dt", "dd", "table",
    "caption", "tr", "blockquote", "pre", "hr", "figure", "figcaption", "section", "div",
}  # fmt: skip
DIV_LIKE = {"div", "header", "footer", "main", "hgroup", "address", "center", "details", "summary"}
_SOURCE_BLOCK = BLOCK | DIV_LIKE | AS_SECTION | {"article", "table", "tbody", "thead", "tfoot"}
# Kept attributes beyond id/lang/dir, per element.
ATTRIBUTES = {
    "th": {"scope", "colspan", "rowspan", "headers"},
    "td": {"colspan", "rowspan", "headers"},
    "abbr": {"title"},
    "dfn": {"title"},
    "ol": {"start", "reversed"},
    "bdo": {"dir"},
}
_NUMERIC = {"colspan", "rowspan", "start"}


@dataclass
class _LinkRecord:
    path: str
    element_id: str | None
    target: str
    fragment: str
    explicit: bool  # epub:type noteref or role doc-noteref
    sup_number: bool  # a number or asterisk in superscript: a note reference by its looks


@dataclass
class NoteIndex:
    """What one pass over the whole book learned about its notes, for links that cross files.

    Fill it with `scan_document` for every file in reading order, then call `finish`. `notes` holds, per
    file, the ids of note bodies; `backrefs` maps (file, note id) to the file and id of the first
    reference to it, which the note's back-link points to; `targets` holds the ids links point to.
    """

    notes: dict[str, set[str]] = field(default_factory=dict)
    backrefs: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    targets: dict[str, set[str]] = field(default_factory=dict)
    links: list[_LinkRecord] = field(default_factory=list)

    def is_noteref(self, record: _LinkRecord) -> bool:
        if record.explicit:
            return True
        return record.sup_number and record.fragment in self.notes.get(record.target, set())

    def finish(self) -> None:
        counters: dict[tuple[str, str], int] = {}
        for record in self.links:
            if not self.is_noteref(record):
                continue
            ref_id = record.element_id or _generated_ref_id(record.path, record.fragment, counters)
            self.backrefs.setdefault((record.target, record.fragment), (record.path, ref_id))
        self.links.clear()


def parse_document(raw: bytes) -> etree._Element | None:
    """Parse XHTML strictly as XML when we can (self-closing tags matter), else leniently as HTML.

    DOCTYPEs were removed by safezip, so HTML named entities are turned into characters first. Neither
    parser loads DTDs, expands entities or touches the network.
    """
    text = _decode(raw)
    text = _ENTITY_REF.sub(_named_entity, text)
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=False
    )
    try:
        return etree.fromstring(text.encode("utf-8"), parser)
    except etree.XMLSyntaxError:
        pass
    html_parser = lxml_html.HTMLParser(no_network=True, huge_tree=False, remove_comments=True)
    try:
        return lxml_html.document_fromstring(text, parser=html_parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None


def _decode(raw: bytes) -> str:
    """Text of a document: UTF-8 unless it declares (and really uses) another encoding."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        match = re.search(rb"""(?:encoding|charset)\s*=\s*["']?([A-Za-z0-9_.:-]+)""", raw[:1024])
        encoding = match.group(1).decode("ascii") if match else "cp1252"
        try:
            text = raw.decode(encoding, "replace")
        except LookupError:
            text = raw.decode("cp1252", "replace")
    # An encoding declaration would contradict the bytes we hand lxml.
    return re.sub(r"^\s*<\?xml[^>]*\?>", "", text, count=1)


def _named_entity(match: re.Match[str]) -> str:
    name = match.group(1)
    if name in _XML_ENTITIES:
        return match.group(0)
    char = html.entities.html5.get(name + ";")
    return html.escape(char) if char else ""


def local_name(element: etree._Element) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].lower()


def epub_types(element: etree._Element) -> set[str]:
    value = element.get(f"{{{OPS}}}type") or element.get("epub:type") or ""
    return {part.split(":")[-1] for part in value.split()}


def element_lang(element: etree._Element) -> str | None:
    return element.get(XML_LANG) or element.get("lang") or element.get("xml:lang") or None


def is_note(element: etree._Element) -> bool:
    return bool(epub_types(element) & NOTE_TYPES or element.get("role") in NOTE_ROLES)


def body_of(root: etree._Element) -> etree._Element:
    for element in root.iter():
        if local_name(element) == "body":
            return element
    return root


def resolve_href(href: str, base: str) -> tuple[str | None, str | None]:
    """(zip path or None for this same file, fragment) for a relative link; ("", None) if external."""
    href = href.strip()
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or href.startswith(("/", "\\")):
        return "", None
    fragment = unquote(parts.fragment) or None
    if not parts.path:
        return None, fragment
    target = posixpath.normpath(posixpath.join(posixpath.dirname(base), unquote(parts.path)))
    if target.startswith("../") or target == "..":
        return "", None
    return target, fragment


def scan_document(root: etree._Element, path: str, index: NoteIndex) -> None:
    """Record this file's note bodies, link targets and links into `index`."""
    for element in body_of(root).iter():
        if not isinstance(element.tag, str):
            continue
        if is_note(element) and element.get("id"):
            index.notes.setdefault(path, set()).add(element.get("id"))
        record = _link_record(element, path)
        if record is not None:
            index.targets.setdefault(record.target, set()).add(record.fragment)
            index.links.append(record)


def _link_record(element: etree._Element, path: str) -> _LinkRecord | None:
    if local_name(element) != "a" or not element.get("href"):
        return None
    target, fragment = resolve_href(element.get("href"), path)
    if target == "" or not fragment:
        return None
    parent = element.getparent()
    in_sup = parent is not None and local_name(parent) == "sup"
    has_sup = any(local_name(child) == "sup" for child in element)
    return _LinkRecord(
        path=path,
        element_id=element.get("id") or None,
        target=target or path,
        fragment=fragment,
        explicit="noteref" in epub_types(element) or element.get("role") == "doc-noteref",
        sup_number=(in_sup or has_sup) and bool(_NOTEREF_TEXT.match("".join(element.itertext()))),
    )


def _generated_ref_id(path: str, fragment: str, counters: dict[tuple[str, str], int]) -> str:
    """An id for a note reference that has none; the same in the scan and in the conversion."""
    count = counters.get((path, fragment), 0)
    counters[(path, fragment)] = count + 1
    return f"noteref-{fragment}" + (f"-{count}" if count else "")


@dataclass
class _Context:
    path: str
    chapter_index: int
    href_map: Mapping[str, int]
    image_map: Mapping[str, str]
    index: NoteIndex
    backlink_label: str
    counters: dict[tuple[str, str], int] = field(default_factory=dict)


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
    lang = element_lang(body) or element_lang(root)
    container = etree.Element("div")
    container.text = None
    _convert_children(body, container, context)
    _trim(container)
    markup = "".join(
        lxml_html.tostring(child, encoding="unicode", method="html", with_tail=True) for child in container
    )
    markup = html.escape(container.text or "", quote=False) + markup
    return markup.strip(), plain_text(container), lang


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
    endnote = bool(epub_types(source) & {"endnote", "rearnote"}) or source.get("role") == "doc-endnote"
    element.set("role", "doc-endnote" if endnote else "doc-footnote")
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
    record = _link_record(source, context.path)
    if record is not None and context.index.is_noteref(record) and not source_id:
        # Generated for every reference, as in the scan, so that the counters agree.
        source_id = _generated_ref_id(context.path, record.fragment, context.counters)
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


def _trim(container: etree._Element) -> None:
    if container.text is not None and not container.text.strip():
        container.text = None


def plain_text(container: etree._Element) -> str:
    """Text for search and speech: blocks separated by blank lines, spaces normalised."""
    pieces = list(_text_pieces(container))
    paragraphs: list[str] = []
    for block in "".join(pieces).split("\x00"):
        lines = [_SPACE.sub(" ", line).strip() for line in block.split("\x01")]
        text = "\n".join(line for line in lines if line)
        if text:
            paragraphs.append(text)
    return "\n\n".join(paragraphs)


def _text_pieces(element: etree._Element) -> Iterator[str]:
    if element.text:
        yield element.text
    for child in element:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag == "br":
            yield "\x01"
        elif tag == "img" or child.get("role") == "img":
            alt = child.get("alt") if tag == "img" else child.get("aria-label")
            if alt:
                yield f" [Image: {alt}] "
        elif child.get("role") == "doc-backlink":
            pass
        elif tag in BLOCK or tag == "aside":
            yield "\x00"
            yield from _text_pieces(child)
            yield "\x00"
        elif tag in {"td", "th"}:
            yield " "
            yield from _text_pieces(child)
            yield " "
        else:
            yield from _text_pieces(child)
        if child.tail:
            yield child.tail
