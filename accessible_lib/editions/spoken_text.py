"""What is read aloud of a chapter, and in what order: the text a sighted reader sees, walked out of its HTML.

Headings, paragraphs, list items, table cells and image descriptions ("Image: ...") become blocks; footnotes
are never read mid-sentence but at the end of the chapter (the default) or, with the `footnotes` option set
to "paragraph", right after the paragraph that refers to them, announced as a note. The audio editions speak
these lines and the chapter page marks the same sentences for read-along, so both take them from here.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree
from lxml import html as lxml_html

from voices.text import Sentence, image_words, prepare_sentences

from ..chapter_markup import same_text
from ..i18n import book_gettext, gettext

_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_BLOCKS = _HEADINGS | {
    "address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "div", "dl", "dt",
    "figcaption", "figure", "footer", "header", "hgroup", "hr", "li", "main", "nav", "ol", "p", "pre",
    "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}  # fmt: skip
_SKIP = {"script", "style", "template", "head", "title", "noscript"}
_NOTE_ROLES = {"doc-footnote", "doc-endnote", "doc-endnotes", "doc-rearnote", "doc-rearnotes"}
_NOTE_TYPES = {"footnote", "endnote", "endnotes", "rearnote", "rearnotes"}
_EPUB_TYPE = "{http://www.idpf.org/2007/ops}type"
FOOTNOTE_PLACES = ("chapter", "paragraph")
_SPACE = re.compile(r"\s+")
# A reference mark worth saying as the note's number: 1, [12], (a), iv, ③; not "*" or a word.
_MARK = re.compile(r"[\[(]?([0-9A-Za-z]{1,4}|[\u2460-\u2473])[\])]?")


@dataclass(frozen=True)
class Block:
    """A piece of text read as one paragraph; `heading` when it came from h1-h6."""

    text: str
    heading: bool = False
    level: int = 0  # 1-6 for a heading: its h-level in the source
    note: str | None = None  # the id of the footnote this block belongs to
    refs: tuple[str, ...] = ()  # ids of the footnotes this block refers to
    label: str | None = None  # a note's number as the reader sees it: its reference mark, or list number


def spoken_blocks(fragment: str, lang: str | None) -> tuple[list[Block], list[Block]]:
    """The chapter's text in reading order, and its footnotes to be read after it."""
    if not fragment.strip():
        return [], []
    root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    walker = Walker(lang)
    walker.visit(root)
    walker.flush()
    labels = {**walker.numbers, **walker.marks}  # the mark in the text wins over the list's numbering
    notes = [dataclasses.replace(note, label=labels.get(note.note)) for note in walker.notes]
    return walker.blocks, notes


class Walker:
    """Collects a chapter's spoken blocks and notes; the chapter page's read-along marks walk with it too, so
    the text seen and the text heard can never disagree."""

    def __init__(self, lang: str | None):
        self.lang = lang
        self.blocks: list[Block] = []
        self.notes: list[Block] = []
        self._target = self.blocks
        self._parts: list[str] = []
        self._refs: list[str] = []
        self._note: str | None = None
        self.marks: dict[str, str] = {}  # note id -> the text of the first reference to it ("1", "a")
        self.numbers: dict[str, str] = {}  # note id -> its number in an <ol> of notes

    def flush(self, heading: bool = False, level: int = 0) -> None:
        lines = (" ".join(line.split()) for line in "".join(self._parts).split("\n"))
        text = "\n".join(line for line in lines if line)
        if text:
            block = Block(
                text, heading, level=level if heading else 0, note=self._note, refs=tuple(self._refs)
            )
            self._target.append(block)
            self._refs = []
        self._parts = []

    def text(self, value: str | None) -> None:
        if value:
            self._parts.append(_SPACE.sub(" ", value))

    def visit(self, element: etree._Element) -> None:
        if not isinstance(element.tag, str):  # comments, processing instructions: only their tail is text
            return
        tag = element.tag.rsplit("}", 1)[-1].lower()
        role = (element.get("role") or "").strip()
        if tag in _SKIP or element.get("hidden") is not None or element.get("aria-hidden") == "true":
            return
        if role == "doc-backlink":  # "back to text" arrows mean nothing when listening
            return
        types = set((element.get(_EPUB_TYPE) or "").split())
        if role in _NOTE_ROLES or types & _NOTE_TYPES:
            self.flush()
            target, self._target = self._target, self.notes
            note, self._note = self._note, element.get("id") or self._note
            if element.get("id") and tag == "li":
                self._number(element)
            self._children(element)
            self.flush()
            self._target, self._note = target, note
            return
        if (role == "doc-noteref" or "noteref" in types) and (element.get("href") or "").startswith("#"):
            target = element.get("href")[1:]
            self._refs.append(target)
            mark = _MARK.fullmatch(" ".join(element.text_content().split()))
            if mark and target not in self.marks:
                self.marks[target] = mark.group(1)
        if tag == "img":
            alt = element.get("alt")
            if alt is None or alt.strip():  # alt="" marks a decorative image: nothing to say
                self.flush()
                self._target.append(Block(image_words(self.lang, " ".join((alt or "").split())).strip()))
            return
        if tag == "br":
            self._parts.append("\n")
            return
        if tag in _BLOCKS:
            self.flush()
            self._children(element)
            self.flush(heading=tag in _HEADINGS, level=int(tag[1]) if tag in _HEADINGS else 0)
            return
        self._children(element)

    def _number(self, item: etree._Element) -> None:
        parent = item.getparent()
        if parent is None or not isinstance(parent.tag, str) or parent.tag.rsplit("}", 1)[-1].lower() != "ol":
            return
        try:
            start = int(parent.get("start") or 1)
        except ValueError:
            start = 1
        items = [child for child in parent if isinstance(child.tag, str) and child.tag.endswith("li")]
        self.numbers[item.get("id")] = str(start + items.index(item))

    def _children(self, element: etree._Element) -> None:
        self.text(element.text)
        for child in element:
            self.visit(child)
            self.text(child.tail)


@dataclass(frozen=True)
class Line:
    """One sentence to speak, with the paragraph it belongs to."""

    sentence: Sentence
    paragraph: int
    heading: bool = False  # the chapter heading
    depth: int = 0  # a sub-heading inside the chapter: levels below the chapter heading (1-5)


def reading_order(body: list[Block], notes: list[Block], footnotes: str = "chapter") -> list[Block]:
    """The blocks in the order they are read: each note after the first paragraph referring to it
    ("paragraph"), or all notes after the body ("chapter"); notes nobody refers to always come last."""
    if footnotes not in FOOTNOTE_PLACES:
        raise ValueError(f"footnotes must be one of {FOOTNOTE_PLACES}, not {footnotes!r}")
    if footnotes == "chapter":
        return body + notes
    by_id: dict[str, list[Block]] = {}
    for note in notes:
        if note.note:
            by_id.setdefault(note.note, []).append(note)
    ordered, read = [], set()
    for block in body:
        ordered.append(block)
        for ref in block.refs:
            if ref in by_id and ref not in read:
                read.add(ref)
                ordered.extend(by_id[ref])
    return ordered + [note for note in notes if note.note not in read]


def chapter_lines(
    chapter: dict,
    title: str,
    lang: str,
    *,
    footnotes: str = "chapter",
    sentences: Callable[[str, str], list[Sentence]] = prepare_sentences,
    blocks: tuple[list[Block], list[Block]] | None = None,
) -> list[Line]:
    """What is read for a chapter: its title as the heading, its body (without a first heading that only
    repeats the title) with its footnotes where the option puts them. Paragraphs are numbered from 1; the
    heading is paragraph 0.

    `sentences` splits a text (prepare_sentences: each sentence's display and spoken forms); the chapter
    page's read-along marks need only the display forms, the same split, without the cost of the spoken
    ones. `blocks`: spoken_blocks of the chapter's html when the caller has them already."""
    lines = [Line(s, 0, heading=True) for s in sentences(title, lang)]
    body, notes = blocks if blocks is not None else spoken_blocks(chapter.get("html") or "", lang)
    if body and body[0].heading and same_text(body[0].text, title):
        body = body[1:]
    previous_note = None
    depths = subheading_depths(body)
    for number, block in enumerate(reading_order(body, notes, footnotes), start=1):
        text = block.text
        if block.note and block.note != previous_note:  # said once, at the start of each note
            if block.label:  # a note printed as "1 According to..." is not read "Note 1: 1 According to..."
                text = re.sub(rf"^[\[(]?{re.escape(block.label)}[\])]?[.:]?\s+", "", text) or text
                text = book_gettext(lang, "Note %(number)s: %(text)s", number=block.label, text=text)
            else:
                text = book_gettext(lang, "Note: %(text)s", text=text)
        previous_note = block.note
        depth = depths.get(id(block), 0)
        lines.extend(Line(s, number, depth=depth) for s in sentences(text, lang))
    return lines


def subheading_depths(body: list[Block]) -> dict[int, int]:
    """How far below the chapter heading each heading inside the chapter sits (keyed by id() of the block):
    the shallowest is one level down, and no heading skips a level, whatever h-levels the source used."""
    depths: dict[int, int] = {}
    headings = [block for block in body if block.heading and block.note is None]
    if not headings:
        return depths
    top = min(block.level for block in headings)
    previous = 0
    for block in headings:
        depth = max(1, min(block.level - top + 1, previous + 1, 5))
        depths[id(block)] = previous = depth
    return depths


def fallback_title(index: int) -> str:
    return gettext("Chapter %(number)d", number=index + 1)
