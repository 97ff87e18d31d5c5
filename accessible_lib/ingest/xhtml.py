"""Reading a book's own XHTML: parsing it safely, and asking it what its EPUB markup means.

Everything here looks at the source documents only (their namespaces, `epub:type`, languages, links, notes
and print page markers); building our own HTML from them is `sanitize`'s job, and reading the table of
contents is `toc`'s. Keeping the questions in one place lets all three agree on what, say, a note is.
"""

from __future__ import annotations

import html
import posixpath
import re
from dataclasses import dataclass, field
from html.entities import html5
from urllib.parse import unquote, urlsplit

from lxml import etree
from lxml import html as lxml_html

XHTML = "http://www.w3.org/1999/xhtml"
OPS = "http://www.idpf.org/2007/ops"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
NOTE_TYPES = {"footnote", "endnote", "rearnote", "note"}
NOTE_ROLES = {"doc-footnote", "doc-endnote"}
# Classes publishers give print page markers (Project Gutenberg's ebookmaker and its older HTML books).
PAGE_CLASSES = {"x-ebookmaker-pageno", "pageno", "pagenum", "page-number", "pagenumber"}
_NOTEREF_TEXT = re.compile(r"^\s*[\[(]?\s*(\d{1,4}|[*†‡§¶]+|[ivxlc]{1,6})\s*[\])]?\s*$", re.IGNORECASE)
_PAGE_NUMBER = re.compile(r"^(?:(?:page|pg|p)\.?\s*)?(\d{1,6}|[ivxlcdm]{1,12})$", re.IGNORECASE)
_MAX_PAGE_LABEL = 16
_SPACE = re.compile(r"\s+")
_ENTITY_REF = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
_XML_ENTITIES = {"amp", "lt", "gt", "quot", "apos"}


def safe_xml_parser(*, recover: bool = True) -> etree.XMLParser:
    """An XML parser that never loads DTDs, expands entities or touches the network."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        recover=recover,
        remove_comments=True,
    )


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
    char = html5.get(name + ";")
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


def element_text(element: etree._Element) -> str:
    """The words inside an element, on one line, as a title or label wants them."""
    return normalise_space("".join(element.itertext()))


def normalise_space(value: str | None) -> str:
    return _SPACE.sub(" ", value or "").strip()


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


def page_label(element: etree._Element) -> str | None:
    """The print page number an element marks ("26", "xii"), or None if it is no page marker.

    Declared markers (`epub:type="pagebreak"`, `role="doc-pagebreak"`) may carry any short label. Markers
    recognised by their looks (a page-number class, or Project Gutenberg's `<a id="Page_26"
    title="[26]">`) must hold a plain number, so that an ordinary element is never taken for one.
    """
    declared = "pagebreak" in epub_types(element) or element.get("role") == "doc-pagebreak"
    if not declared:
        classes = set((element.get("class") or "").lower().split())
        anchor = local_name(element) == "a" and not element.get("href")
        if not (classes & PAGE_CLASSES or (anchor and (element.get("id") or "").lower().startswith("page"))):
            return None
    for candidate in (element.get("aria-label"), element.get("title")):
        label = _page_number(candidate, declared=declared)
        if label:
            return label
    return _page_number(element_text(element), declared=declared)


def _page_number(value: str | None, *, declared: bool) -> str | None:
    label = normalise_space(value)
    while len(label) >= 2 and label[0] in "[(" and label[-1] in "])":
        label = label[1:-1].strip()
    match = _PAGE_NUMBER.match(label)
    if match:
        return match.group(1)
    if declared and 0 < len(label) <= _MAX_PAGE_LABEL:
        return label
    return None


@dataclass
class LinkRecord:
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
    links: list[LinkRecord] = field(default_factory=list)

    def is_noteref(self, record: LinkRecord) -> bool:
        if record.explicit:
            return True
        return record.sup_number and record.fragment in self.notes.get(record.target, set())

    def finish(self) -> None:
        counters: dict[tuple[str, str], int] = {}
        for record in self.links:
            if not self.is_noteref(record):
                continue
            ref_id = record.element_id or generated_ref_id(record.path, record.fragment, counters)
            self.backrefs.setdefault((record.target, record.fragment), (record.path, ref_id))
        self.links.clear()


def scan_document(root: etree._Element, path: str, index: NoteIndex) -> None:
    """Record this file's note bodies, link targets and links into `index`."""
    for element in body_of(root).iter():
        if not isinstance(element.tag, str):
            continue
        if is_note(element) and element.get("id"):
            index.notes.setdefault(path, set()).add(element.get("id"))
        record = link_record(element, path)
        if record is not None:
            index.targets.setdefault(record.target, set()).add(record.fragment)
            index.links.append(record)


def link_record(element: etree._Element, path: str) -> LinkRecord | None:
    """What a link inside the book tells about notes; None for anything that is not such a link."""
    if local_name(element) != "a" or not element.get("href"):
        return None
    target, fragment = resolve_href(element.get("href"), path)
    if target == "" or not fragment:
        return None
    parent = element.getparent()
    in_sup = parent is not None and local_name(parent) == "sup"
    has_sup = any(local_name(child) == "sup" for child in element)
    return LinkRecord(
        path=path,
        element_id=element.get("id") or None,
        target=target or path,
        fragment=fragment,
        explicit="noteref" in epub_types(element) or element.get("role") == "doc-noteref",
        sup_number=(in_sup or has_sup) and bool(_NOTEREF_TEXT.match("".join(element.itertext()))),
    )


def generated_ref_id(path: str, fragment: str, counters: dict[tuple[str, str], int]) -> str:
    """An id for a note reference that has none; the same in the scan and in the conversion."""
    count = counters.get((path, fragment), 0)
    counters[(path, fragment)] = count + 1
    return f"noteref-{fragment}" + (f"-{count}" if count else "")
