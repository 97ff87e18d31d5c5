"""The chapter page's sentences marked for read-along: each piece of text the listening route speaks as
sentence K is wrapped in `<span data-s="K">`, so static/readalong.js can highlight what is being heard.

Why the marks come from the speech code and not from a split of their own: the highlight must follow the
audio, and the audio is made from `spoken_text.chapter_lines` (the split of the MP3, DAISY and EPUB 3
editions: title, paragraphs, image descriptions, footnotes last). The page's HTML is walked by the same
walker that makes the spoken blocks, recording which text node gave each character, and each block's
characters are given to the sentences spoken for it. Characters are matched without whitespace; when the
spoken text is not the shown text (a note read as "Note 1: ..."), the two are aligned (difflib) and what is
shown but not spoken goes with its neighbour.

A sentence that crosses inline markup (`<em>`, a note reference) becomes several spans with one number;
spans carry no role or attribute a screen reader exposes, so what it reads is unchanged. An image that is
described aloud carries the numbers of its sentences itself. When the page's blocks are not the spoken ones
one for one (the fitting dropped a title heading the speech keeps), they are aligned by their text and a
block without its match is left unmarked: read-along plays it without a highlight rather than a wrong one.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from itertools import groupby

from lxml import etree
from lxml import html as lxml_html
from markupsafe import Markup, escape

from voices.text import Sentence, split_sentences

from .chapter_markup import same_text
from .editions.spoken_text import (
    Block,
    Line,
    Walker,  # the one walker that makes spoken blocks; reused so the two can never disagree
    chapter_lines,
    fallback_title,
    reading_order,
    spoken_blocks,
)

ATTRIBUTE = "data-s"


class _RecordingWalker(Walker):
    """The speech walker, also noting which text (element, "text" or "tail") made each block."""

    def __init__(self, lang: str | None) -> None:
        super().__init__(lang)
        self.sources: dict[int, list[tuple[etree._Element, str]]] = {}  # id(block) -> its text nodes
        self.images: dict[int, etree._Element] = {}  # id(block) -> the described image
        self._segments: list[tuple[etree._Element, str]] = []

    def flush(self, heading: bool = False, level: int = 0) -> None:
        target, count = self._target, len(self._target)
        super().flush(heading, level)
        if len(target) > count:
            self.sources[id(target[-1])] = self._segments
        self._segments = []

    def visit(self, element: etree._Element) -> None:
        target, count = self._target, len(self._target)
        super().visit(element)
        if isinstance(element.tag, str) and element.tag.lower() == "img" and len(target) > count:
            self.images[id(target[-1])] = element

    def _children(self, element: etree._Element) -> None:
        self._note_text(element, "text")
        for child in element:
            self.visit(child)
            self._note_text(child, "tail")

    def _note_text(self, element: etree._Element, attribute: str) -> None:
        value = getattr(element, attribute)
        if value:
            self._segments.append((element, attribute))
            self.text(value)


def mark_sentences(content: str, chapter: dict, lang: str) -> tuple[Markup, Markup, int]:
    """The chapter's fitted HTML with its sentences marked, its title marked for the page's <h1>, and how
    many sentences the listening route speaks for it (numbered 0 to count - 1, the title first)."""
    html, title, count = _marked(str(content), chapter.get("html") or "", chapter.get("title") or "",
                                 int(chapter.get("position") or 1), lang)  # fmt: skip
    return Markup(html), Markup(title), count


@lru_cache(maxsize=64)
def _marked(content: str, source: str, raw_title: str, position: int, lang: str) -> tuple[str, str, int]:
    """Cached: a popular chapter is marked once, not on every visit."""
    title = " ".join(raw_title.split()) or fallback_title(position - 1)  # as the listening route's plan
    heard_blocks = spoken_blocks(source, lang)
    lines = chapter_lines({}, title, lang, sentences=_display_only, blocks=heard_blocks)
    by_paragraph: dict[int, list[tuple[int, Line]]] = {}
    for index, line in enumerate(lines):
        by_paragraph.setdefault(line.paragraph, []).append((index, line))
    title_html = _marked_title(raw_title, by_paragraph.get(0, []))
    if not content.strip():
        return content, title_html, len(lines)
    root = lxml_html.fragment_fromstring(content, create_parent="div")
    walker = _RecordingWalker(lang)
    walker.visit(root)
    walker.flush()
    shown = _in_reading_order(walker.blocks, walker.notes, title)
    heard = _in_reading_order(*heard_blocks, title)  # paragraph N of the lines is heard[N-1]
    for number, block in _pairs(shown, heard):
        sentences = by_paragraph.get(number + 1)
        if sentences:
            _mark_block(walker, block, sentences)
    parts = [str(escape(root.text))] if root.text else []
    parts += [etree.tostring(child, encoding="unicode", method="html") for child in root]
    return "".join(parts), title_html, len(lines)


def _display_only(text: str, lang: str) -> list[Sentence]:
    """The listening route's split of `text` into sentences (prepare_sentences), without their spoken
    forms: marks follow what is shown, and normalising every sentence for speech was two fifths of the
    chapter page's time."""
    return [Sentence(sentence, "") for sentence in split_sentences(text, lang)]


def _in_reading_order(body: list[Block], notes: list[Block], title: str) -> list[Block]:
    """The blocks as chapter_lines numbers them: without a first heading that repeats the title."""
    if body and body[0].heading and same_text(body[0].text, title):
        body = body[1:]
    return reading_order(body, notes)


def _pairs(shown: list[Block], heard: list[Block]) -> list[tuple[int, Block]]:
    """(index in `heard`, shown block) for each block the page shows that is also spoken. Usually the two
    lists match one for one; when the fitting for the page dropped or changed a block (a title heading
    after a cover image), the blocks are aligned by their text and only matching ones are paired."""
    if len(shown) == len(heard):
        return [(number, block) for number, block in enumerate(shown)]
    matcher = difflib.SequenceMatcher(
        None, [_bare(b.text) for b in shown], [_bare(b.text) for b in heard], autojunk=False
    )
    pairs = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            pairs += [(j1 + k, shown[i1 + k]) for k in range(i2 - i1)]
    return pairs


def _bare(text: str) -> str:
    return "".join(text.split())


def _marked_title(raw_title: str, sentences: list[tuple[int, Line]]) -> str:
    if not raw_title.strip() or not sentences:
        return str(escape(raw_title))
    holder = etree.Element("span")
    holder.text = raw_title
    _mark_segments([(holder, "text")], sentences)
    parts = [str(escape(holder.text or ""))]
    parts += [etree.tostring(child, encoding="unicode", method="html") for child in holder]
    return "".join(parts)


def _mark_block(walker: _RecordingWalker, block: Block, sentences: list[tuple[int, Line]]) -> None:
    image = walker.images.get(id(block))
    if image is not None:
        image.set(ATTRIBUTE, " ".join(str(index) for index, _ in sentences))
        return
    _mark_segments(walker.sources.get(id(block), []), sentences)


def _mark_segments(segments: list[tuple[etree._Element, str]], sentences: list[tuple[int, Line]]) -> None:
    values = [getattr(element, attribute) for element, attribute in segments]
    joined = "".join(values)
    shown = "".join(joined.split())  # str.split() splits on exactly the characters str.isspace() knows
    owners = _owners(shown, [line.sentence.display for _, line in sentences])
    numbers = [index for index, _ in sentences]
    labels = _labels(joined, [numbers[owner] for owner in owners])
    start = 0
    for (element, attribute), value in zip(segments, values, strict=True):
        _wrap(element, attribute, value, labels[start : start + len(value)])
        start += len(value)


def _owners(shown: str, sentences: list[str]) -> list[int]:
    """For each shown character (no whitespace), the number of the sentence (0-based, of `sentences`)
    that speaks it."""
    spoken, owner = [], []
    for number, sentence in enumerate(sentences):
        bare = "".join(sentence.split())
        spoken.append(bare)
        owner.extend([number] * len(bare))
    spoken_text = "".join(spoken)
    if spoken_text == shown:
        return owner
    found: list[int | None] = [None] * len(shown)
    matcher = difflib.SequenceMatcher(None, shown, spoken_text, autojunk=False)
    for a, b, size in matcher.get_matching_blocks():
        found[a : a + size] = owner[b : b + size]
    previous = next((n for n in found if n is not None), 0)
    result = []
    for n in found:
        previous = n if n is not None else previous
        result.append(previous)
    return result


_RUNS = re.compile(r"\s+|\S+")  # \s is what str.isspace() and str.split() take for whitespace


def _labels(joined: str, numbered: list[int]) -> list[int | None]:
    """The sentence number of each character of `joined`, given those of its non-space characters in
    order. Whitespace inside one sentence belongs to it (across the block: the space before an <em>
    inside a sentence is in it too); whitespace between two sentences, or at either end, is None. Made a
    run of characters at a time: this is the chapter page's busiest loop."""
    labels: list[int | None] = []
    at = 0
    gap: tuple[int, int] | None = None  # the whitespace run just before, as (start, length) in labels
    before: int | None = None  # the number of the last non-space character
    for run in _RUNS.findall(joined):
        if run[0].isspace():
            gap = (len(labels), len(run))
            labels.extend([None] * len(run))
            continue
        chunk = numbered[at : at + len(run)]
        at += len(run)
        if gap is not None and before is not None and before == chunk[0]:
            labels[gap[0] : gap[0] + gap[1]] = [before] * gap[1]
        gap = None
        labels.extend(chunk)
        before = chunk[-1]
    return labels


def _wrap(element: etree._Element, attribute: str, value: str, labels: list[int | None]) -> None:
    if len(value) != len(labels):
        raise ValueError("one label per character")
    runs: list[tuple[int | None, str]] = []
    start = 0
    for label, group in groupby(labels):  # runs of one label, cut from the value in one slice each
        end = start + sum(1 for _ in group)
        runs.append((label, value[start:end]))
        start = end
    leading = runs.pop(0)[1] if runs and runs[0][0] is None else ""
    spans = []
    for label, piece in runs:
        if label is None:
            spans[-1].tail = piece
        else:
            span = etree.Element("span", {ATTRIBUTE: str(label)})
            span.text = piece
            spans.append(span)
    setattr(element, attribute, leading or None)
    if attribute == "text":
        parent, first = element, 0
    else:
        parent = element.getparent()
        first = parent.index(element) + 1
    for offset, span in enumerate(spans):
        parent.insert(first + offset, span)
