"""Chapters as the book's own contents say, not one per file.

Publishers (Project Gutenberg above all) put several chapters in one XHTML file and point the table of
contents into the middle of it. A listener who asks for chapter 2 must get chapter 2, so every file a
contents entry points inside is cut at those points, after sanitising: each entry that starts somewhere new
becomes a chapter with its own title and level. Text before a file's first entry belongs to the chapter
before it. A document with only an image (a cover) joins the next chapter, and Project Gutenberg's header and
licence become back matter, listed last. Links between chapters are rewritten to the new chapter numbers.

Nothing is lost or read twice: the chapters' text, joined, holds the same words as the documents'.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from lxml import etree
from lxml import html as lxml_html

from .model import Chapter, TocEntry
from .plain_text import plain_text
from .sanitize import ID_PREFIX

# Project Gutenberg's ebookmaker wraps its header and licence in these; they are not the book.
BOILERPLATE_IDS = ("pg-header", "pg-footer")
# What to call them where no heading inside does (older EPUBs), as plain-text books do.
BOILERPLATE_TITLES = ("Project Gutenberg header", "The Project Gutenberg licence")
BODY = "body"
BACK = "back"
_SOURCE = "data-source-document"  # which document an id came from, while cutting
_CHAPTER_LINK = re.compile(r"^chapter:(\d+)(?:#(.*))?$")


@dataclass
class Document:
    """One sanitised spine document, as `sanitize.clean_chapter` gave it."""

    markup: str
    lang: str | None
    fallback_title: str  # the document's first heading or <title>, for a part no entry names
    file_title: str | None = None  # its <title>: for text before the first entry (a heading after it
    # would name a chapter that follows)


@dataclass
class _Part:
    root: etree._Element
    lang: str | None
    title: str
    level: int = 1
    kind: str = BODY
    lead: bool = False  # no entry names it: it is read at the start of the next chapter
    into: _Part | None = None  # the chapter it was folded into (a cover's), if any
    front: bool = False  # text before the book's first entry: listed in the contents too

    def final(self) -> _Part:
        part = self
        while part.into is not None:
            part = part.into
        return part


@dataclass
class _Point:
    node: etree._Element | None  # None: the start of the document
    entry: TocEntry | None
    kind: str = BODY
    lead: bool = False
    entries: list[TocEntry] = field(default_factory=list)  # every entry that starts here
    title: str | None = None  # for a Gutenberg section without a heading


def build_chapters(documents: list[Document], toc: list[TocEntry]) -> tuple[list[Chapter], list[TocEntry]]:
    """Chapters in reading order (back matter last) and the table of contents pointing at them.

    `toc` entries' `chapter_index` names a document; links in the markup (`chapter:N#id`) too.
    """
    parts: list[_Part] = []
    doc_start: dict[int, _Part] = {}
    entry_part: dict[int, _Part] = {}  # id(entry) -> the chapter it starts
    by_doc: dict[int, list[TocEntry]] = {}
    for entry in toc:
        by_doc.setdefault(entry.chapter_index, []).append(entry)
    previous_cut = False
    for index, document in enumerate(documents):
        root = _parse(document.markup)
        _absolute_links(root, index)
        for element in root.iter():
            if isinstance(element.tag, str) and element.get("id"):
                element.set(_SOURCE, str(index))
        entries = by_doc.get(index, [])
        points = _points(root, entries)
        if not points and not entries and previous_cut and parts[-1].kind == BODY:
            _merge(parts[-1], root, at_end=True)  # a file cut for size continues the chapter before it
            doc_start[index] = parts[-1]
            continue
        previous_cut = bool(points)
        if not points:
            first = entries[0] if entries else None
            title = first.title if first else document.fallback_title
            part = _Part(root, document.lang, title, first.level if first else 1)
            parts.append(part)
            doc_start[index] = part
            entry_part.update((id(entry), part) for entry in entries)
            continue
        pre, pieces = _split(root, [point.node for point in points])
        start = None
        if _has_content(pre):
            if parts:
                _merge(parts[-1], pre, at_end=True)
                start = parts[-1]
            else:  # front matter
                title = _first_heading(pre) or document.file_title or document.fallback_title
                start = _Part(pre, document.lang, title, front=True)
                parts.append(start)
        elif len(pre):
            _merge_front(pieces[0], pre)  # only anchors: they go where the text starts
        for point, piece in zip(points, pieces, strict=True):
            entry = point.entry
            title = entry.title if entry else _first_heading(piece) or point.title or document.fallback_title
            level = entry.level if entry else 1
            part = _Part(piece, document.lang, title, level, point.kind, point.lead and not entry)
            parts.append(part)
            entry_part.update((id(other), part) for other in point.entries)
        doc_start[index] = start or parts[-len(pieces)]
    parts = _fold_image_only(parts)
    parts = [p for p in parts if p.kind == BODY] + [p for p in parts if p.kind == BACK]
    position = {id(part): i for i, part in enumerate(parts)}
    ids: dict[tuple[int, str], int] = {}
    for i, part in enumerate(parts):
        for element in part.root.iter():
            source = element.get(_SOURCE) if isinstance(element.tag, str) else None
            if source is not None:
                ids.setdefault((int(source), element.get("id")), i)
                del element.attrib[_SOURCE]
    starts = {doc: position[id(part.final())] for doc, part in doc_start.items()}
    chapters = []
    for i, part in enumerate(parts):
        _relative_links(part.root, i, ids, starts)
        markup, text = _serialise(part.root)
        chapters.append(Chapter(part.title, markup, text, level=part.level, lang=part.lang, kind=part.kind))
    for entry in toc:
        key = (entry.chapter_index, entry.fragment or "")
        if key in ids:
            entry.chapter_index = ids[key]
        elif id(entry) in entry_part:
            entry.chapter_index = position[id(entry_part[id(entry)].final())]
        else:
            entry.chapter_index = starts[entry.chapter_index]
    listed = {entry.chapter_index for entry in toc}
    for i, part in reversed(list(enumerate(parts))):
        if part.front and i not in listed:
            at = next((n for n, entry in enumerate(toc) if entry.chapter_index > i), len(toc))
            toc.insert(at, TocEntry(part.title, 1, i))
    back = {i for i, part in enumerate(parts) if part.kind == BACK}
    unlisted = [TocEntry(parts[i].title, 1, i) for i in sorted(back - listed)]  # back matter is listed too
    back_entries = sorted(
        [e for e in toc if e.chapter_index in back] + unlisted, key=lambda e: e.chapter_index
    )
    return chapters, [e for e in toc if e.chapter_index not in back] + back_entries


def _parse(markup: str) -> etree._Element:
    if not markup.strip():
        return lxml_html.Element("div")
    return lxml_html.fragment_fromstring(markup, create_parent="div")


def _serialise(root: etree._Element) -> tuple[str, str]:
    markup = "".join(lxml_html.tostring(child, encoding="unicode", with_tail=True) for child in root)
    markup = html.escape(root.text or "", quote=False) + markup
    return markup.strip(), plain_text(root)


def _absolute_links(root: etree._Element, doc: int) -> None:
    """`#id` means "in this document"; once documents are cut and joined it must say which document."""
    for link in root.iter("a"):
        href = link.get("href") or ""
        if href.startswith("#"):
            link.set("href", f"chapter:{doc}{href}")


def _relative_links(
    root: etree._Element, here: int, ids: dict[tuple[int, str], int], starts: dict[int, int]
) -> None:
    for link in root.iter("a"):
        match = _CHAPTER_LINK.match(link.get("href") or "")
        if match is None:
            continue
        doc, fragment = int(match.group(1)), match.group(2)
        target = ids.get((doc, fragment)) if fragment else None
        if target is None:
            target = starts.get(doc)
        if target is None:
            del link.attrib["href"]
        elif target == here and fragment:
            link.set("href", f"#{fragment}")
        else:
            link.set("href", f"chapter:{target}" + (f"#{fragment}" if fragment else ""))


def _points(root: etree._Element, entries: list[TocEntry]) -> list[_Point]:
    """Where this document is cut: one point per place an entry (or a Gutenberg section) starts.

    Only documents an entry points inside are cut; one the contents name only as a whole stays whole.
    """
    ids = {e.get("id"): e for e in root.iter() if isinstance(e.tag, str) and e.get("id")}
    named = [
        (ids[ID_PREFIX + name], title)
        for name, title in zip(BOILERPLATE_IDS, BOILERPLATE_TITLES, strict=True)
        if ID_PREFIX + name in ids
    ]
    boilerplate = [section for section, _title in named]
    if not boilerplate and not any(entry.fragment and entry.fragment in ids for entry in entries):
        return []
    points: dict[etree._Element | None, _Point] = {}
    book_start = None  # where the book starts when a Gutenberg header opens the document
    for section, title in named:
        node = _lift(section, root)
        points[node] = _Point(node, None, BACK, title=title)
        after = section.getnext()
        while after is not None and not _has_content(after):
            after = after.getnext()
        if after is not None:
            following = _lift(after, root)
            points.setdefault(following, _Point(following, None, lead=True))
            if node is None:
                book_start = following
    for entry in entries:
        target = ids.get(entry.fragment) if entry.fragment else None
        inside = next((s for s in boilerplate if target is not None and _within(target, s)), None)
        node = _lift(inside if inside is not None else target, root) if target is not None else None
        if target is None and book_start is not None:
            node = book_start  # an entry for the whole file means its book, not its Gutenberg header
        point = points.setdefault(node, _Point(node, None))
        if point.entry is None:
            point.entry = entry
        point.entries.append(entry)
    order = {element: i for i, element in enumerate(root.iter())}
    return sorted(points.values(), key=lambda p: -1 if p.node is None else order[p.node])


def _within(element: etree._Element | None, ancestor: etree._Element) -> bool:
    while element is not None:
        if element is ancestor:
            return True
        element = element.getparent()
    return False


def _lift(node: etree._Element, root: etree._Element) -> etree._Element | None:
    """The outermost element that starts where `node` does; None when that is the document's start.

    A contents entry points at a heading's id or at an empty anchor inside it; the chapter starts before the
    heading, or the section wrapping it, not inside.
    """
    while True:
        parent = node.getparent()
        if parent is None or not _nothing_before(parent, node):
            return node
        if parent is root:
            return None
        node = parent


def _nothing_before(parent: etree._Element, node: etree._Element) -> bool:
    if (parent.text or "").strip():
        return False
    for sibling in parent:
        if sibling is node:
            return True
        if _has_content(sibling) or (sibling.tail or "").strip():
            return False
    return True


def _has_content(element: etree._Element | None) -> bool:
    """Words or a picture: what makes a piece of a document worth reading."""
    if element is None:
        return False
    if "".join(element.itertext()).strip():
        return True
    return any(e.tag == "img" or e.get("role") == "img" for e in element.iter() if isinstance(e.tag, str))


def _has_words(element: etree._Element) -> bool:
    """Words of its own, not counting what images say of themselves (a cover's alt text)."""
    texts = [element.text or ""]
    for node in element.iterdescendants():
        if not isinstance(node.tag, str):
            continue
        in_image = node.get("role") == "img" or any(a.get("role") == "img" for a in node.iterancestors())
        if not in_image:
            texts.append(node.text or "")
        texts.append(node.tail or "")
    return bool("".join(texts).strip())


def _split(root: etree._Element, nodes: list[etree._Element | None]) -> tuple[etree._Element, list]:
    """Cut `root` before each node (in document order): what comes before the first, and one piece each."""
    pieces = []
    for node in reversed(nodes):
        if node is None:
            pieces.append(root)
            root = lxml_html.Element("div")
        else:
            pieces.append(_cut(root, node))
    pieces.reverse()
    return root, pieces


def _cut(root: etree._Element, node: etree._Element) -> etree._Element:
    """Move `node` and everything after it into a new container, its ancestors repeated there (without ids,
    which stay where the element starts)."""
    ancestors = []
    parent = node.getparent()
    while parent is not root:
        ancestors.append(parent)
        parent = parent.getparent()
    ancestors.reverse()
    holders = [root, *ancestors]
    starts = [*ancestors, node]
    copies = [lxml_html.Element("div")]
    for ancestor in ancestors:
        attributes = {k: v for k, v in ancestor.attrib.items() if k not in ("id", _SOURCE)}
        copies.append(lxml_html.Element(ancestor.tag, attributes))
    for depth, (holder, start) in enumerate(zip(holders, starts, strict=True)):
        children = list(holder)
        at = children.index(start)
        if depth < len(ancestors):
            copy = copies[depth + 1]
            copy.tail, start.tail = start.tail, None
            copies[depth].append(copy)
            moving = children[at + 1 :]
        else:
            moving = children[at:]
        for child in moving:
            copies[depth].append(child)
    return copies[0]


def _merge(part: _Part, piece: etree._Element, *, at_end: bool) -> None:
    """Join a piece onto a chapter, kept apart as its own block so no two words run together."""
    if (piece.text or "").strip() or any((child.tail or "").strip() for child in piece):
        holder = lxml_html.Element("div")
        holder.text = piece.text
        for child in list(piece):
            holder.append(child)
        children = [holder]
    else:
        children = list(piece)
    if at_end:
        for child in children:
            part.root.append(child)
        return
    if (part.root.text or "").strip() and children:
        children[-1].tail = (children[-1].tail or "") + part.root.text
        part.root.text = None
    for position, child in enumerate(children):
        part.root.insert(position, child)


def _merge_front(piece: etree._Element, anchors: etree._Element) -> None:
    for position, child in enumerate(list(anchors)):
        piece.insert(position, child)


def _first_heading(root: etree._Element) -> str | None:
    for element in root.iter("h1", "h2", "h3", "h4", "h5", "h6"):
        text = " ".join("".join(element.itertext()).split())
        if text:
            return text
    return None


def _fold_image_only(parts: list[_Part]) -> list[_Part]:
    """A cover (or any page with only a picture) is read with the next chapter, not as one of its own; so is
    what stands between Project Gutenberg's header and the first chapter (a title page)."""
    kept: list[_Part] = []
    pending: list[_Part] = []
    for part in parts:
        if part.kind == BODY and (part.lead or not _has_words(part.root) and _has_content(part.root)):
            pending.append(part)
            continue
        if part.kind == BODY:
            for image in reversed(pending):
                _absorb(part, image, at_end=False)
            pending = []
        kept.append(part)
    if pending:
        body = [p for p in kept if p.kind == BODY]
        if not body:
            return parts  # nothing but pictures: they are the book
        for image in pending:
            _absorb(body[-1], image, at_end=True)
    return kept


def _absorb(part: _Part, image: _Part, *, at_end: bool) -> None:
    _merge(part, image.root, at_end=at_end)
    image.into = part
