"""Project Gutenberg's header and licence in EPUBs made before its ebookmaker marked them.

Since about 2020 Gutenberg wraps them in `pg-header` and `pg-footer` sections, which `chapters` cuts out as
back matter. Thousands of older EPUBs (still what gutenberg.org serves for many books) put the same text in a
`<pre>` or plain paragraphs, found only by its "*** START OF THIS PROJECT GUTENBERG EBOOK" and "*** END
OF ..." lines, as in plain-text books. Without this, those books open their audio edition with the licence
preamble. The sections are marked here with the ids the new ebookmaker uses, so one cutting rule serves both.
"""

from __future__ import annotations

import re

from lxml import etree
from lxml import html as lxml_html

from .chapters import BOILERPLATE_IDS, Document, _parse, _serialise
from .gutenberg import _CREDITS, _END, _START
from .sanitize import ID_PREFIX

HEADER_ID, FOOTER_ID = (ID_PREFIX + name for name in BOILERPLATE_IDS)
_MARKED = re.compile(rf"""id=["'](?:{HEADER_ID}|{FOOTER_ID})["']""")


def mark_boilerplate(documents: list[Document]) -> list[Document]:
    """The documents with the header and licence wrapped in sections carrying the ebookmaker's ids.

    Nothing changes in a book that has the ids already or has no START line: a marker phrase quoted inside a
    novel is not a Gutenberg header unless the book has the START line before it.
    """
    if any(_MARKED.search(document.markup) for document in documents):
        return documents
    roots = [_parse(document.markup) for document in documents]
    start = _find(roots, _START, first=True)
    if start is None:
        return documents
    end = _find(roots[start[0] :], _END, first=False)
    changed = {start[0]}
    _wrap(start[1], HEADER_ID, before=True)
    if end is not None:
        doc = start[0] + end[0]
        if doc != start[0] or _follows(end[1], start[1]):
            _wrap(end[1], FOOTER_ID, before=False)
            changed.add(doc)
            for later in range(doc + 1, len(roots)):  # a licence in files of its own after the END line
                _wrap_all(roots[later], FOOTER_ID)
                changed.add(later)
    marked = []
    for index, document in enumerate(documents):
        if index in changed:
            markup, _text = _serialise(roots[index])
            document = Document(markup, document.lang, document.fallback_title, document.file_title)
        marked.append(document)
    return marked


def _find(roots: list[etree._Element], pattern: re.Pattern, *, first: bool):
    """(document index, innermost element) holding a line that matches; the first or the last one."""
    order = range(len(roots)) if first else reversed(range(len(roots)))
    for index in order:
        found = [
            element
            for element in roots[index].iter()
            if isinstance(element.tag, str)
            and element is not roots[index]
            and pattern.search("".join(element.itertext()))
            and not any(isinstance(c.tag, str) and pattern.search("".join(c.itertext())) for c in element)
        ]
        if found:
            return index, found[0] if first else found[-1]
    return None


def _follows(element: etree._Element, other: etree._Element) -> bool:
    """Whether `element` comes after `other` in their document and outside it."""
    for node in other.itersiblings():
        if node is element or element in node.iterdescendants():
            return True
    parent = other.getparent()
    return parent is not None and parent.getparent() is not None and _follows(element, parent)


def _wrap(element: etree._Element, section_id: str, *, before: bool) -> None:
    """Wrap `element` with everything before it (the header) or after it (the licence) among its siblings.

    The volunteers' credits ("Produced by ...") just after the START line go with the header, as in text.
    """
    parent = element.getparent()
    siblings = list(parent)
    at = siblings.index(element)
    if before:
        moving = siblings[: at + 1]
        following = element.getnext()
        if following is not None and _CREDITS.match("".join(following.itertext()).strip()):
            moving.append(following)
        leading, parent.text = parent.text, None
    else:
        moving = siblings[at:]
        leading = None
    section = lxml_html.Element("div", {"id": section_id})
    section.text = leading
    parent.insert(parent.index(moving[0]), section)
    section.tail, moving[-1].tail = moving[-1].tail, None  # text after the header belongs to the book
    for node in moving:
        section.append(node)


def _wrap_all(root: etree._Element, section_id: str) -> None:
    section = lxml_html.Element("div", {"id": section_id})
    section.text, root.text = root.text, None
    for child in list(root):
        section.append(child)
    root.append(section)
