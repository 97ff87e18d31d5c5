"""DAISY 2.02 full text and full audio: what hardware DAISY players (Victor Reader, Plextalk) open.

Layout of the zip: `ncc.html` (the navigation centre: one heading per chapter, h1-h6 from its level,
linking to the chapter heading's SMIL `par`), and per chapter `cNNN.html` (XHTML 1.0 with an id on every
sentence), `cNNN.smil` (SMIL 1.0, one `par` per sentence pairing the text id with an MP3 clip) and `cNNN.mp3`.
A chapter's text and SMIL are written as soon as its audio is done; only the ncc waits for the end.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from lxml import etree

from voices.book import (
    XHTML_NS,
    Clip,
    SpokenChapter,
    add_sentence_spans,
    block_tag,
    clock,
    nested_level,
    seconds,
    xhtml,
    xml_bytes,
    xml_text,
)
from voices.mp3 import AudioBookBuilder

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
XHTML_DOCTYPE = (
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
    '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">'
)
SMIL_DOCTYPE = '<!DOCTYPE smil PUBLIC "-//W3C//DTD SMIL 1.0//EN" "http://www.w3.org/TR/REC-smil/SMIL10.dtd">'


def par_id(clip: Clip) -> str:
    return f"par_{clip.sentence_id}"


def _xhtml_document(title: str, lang: str) -> tuple[etree._Element, etree._Element]:
    html = etree.Element(xhtml("html"), nsmap={None: XHTML_NS})
    html.set(XML_LANG, lang)
    html.set("lang", lang)
    head = etree.SubElement(html, xhtml("head"))
    etree.SubElement(
        head, xhtml("meta"), {"http-equiv": "Content-Type", "content": "text/html; charset=utf-8"}
    )
    etree.SubElement(head, xhtml("title")).text = xml_text(title)
    body = etree.SubElement(html, xhtml("body"))
    return html, body


def _serialize(root: etree._Element, doctype: str) -> bytes:
    return xml_bytes(root, doctype)


def chapter_text(book_title: str, chapter: SpokenChapter, lang: str, level: int) -> bytes:
    """The chapter's XHTML: its heading, then a paragraph per group of sentences, an id on every sentence."""
    html, body = _xhtml_document(f"{chapter.title} - {book_title}", lang)
    heading = etree.SubElement(body, xhtml(f"h{level}"))
    if chapter.heading_clips:
        add_sentence_spans(heading, chapter.heading_clips)
    else:
        heading.text = xml_text(chapter.title)
    for group in chapter.paragraphs():
        add_sentence_spans(etree.SubElement(body, xhtml(block_tag(group, level))), group)
    return _serialize(html, XHTML_DOCTYPE)


def chapter_smil(
    *,
    book_title: str,
    identifier: str,
    generator: str,
    chapter: SpokenChapter,
    text_name: str,
    audio_name: str,
    sample_rate: int,
    elapsed_before: float,
) -> bytes:
    """SMIL 1.0 with a `par` per clip; times are npt seconds computed from sample offsets."""
    smil = etree.Element("smil")
    head = etree.SubElement(smil, "head")
    duration = chapter.duration(sample_rate)
    for name, content in (
        ("dc:format", "Daisy 2.02"),
        ("dc:title", book_title),
        ("dc:identifier", identifier),
        ("ncc:generator", generator),
        ("ncc:totalElapsedTime", clock(elapsed_before)),
        ("ncc:timeInThisSmil", clock(duration)),
        ("title", chapter.title),
    ):
        etree.SubElement(head, "meta", name=name, content=xml_text(content))
    layout = etree.SubElement(head, "layout")
    etree.SubElement(layout, "region", id="txtView")
    body = etree.SubElement(smil, "body")
    seq = etree.SubElement(body, "seq", dur=f"{seconds(chapter.total_samples, sample_rate):.3f}s")
    for clip in chapter.clips:
        par = etree.SubElement(seq, "par", endsync="last", id=par_id(clip))
        etree.SubElement(par, "text", src=f"{text_name}#{clip.sentence_id}", id=f"txt_{clip.sentence_id}")
        etree.SubElement(
            par,
            "audio",
            {
                "src": audio_name,
                "clip-begin": f"npt={seconds(clip.start_sample, sample_rate):.3f}s",
                "clip-end": f"npt={seconds(clip.end_sample, sample_rate):.3f}s",
                "id": f"aud_{clip.sentence_id}",
            },
        )
    return _serialize(smil, SMIL_DOCTYPE)


class DaisyBuilder(AudioBookBuilder):
    """Build a DAISY 2.02 zip chapter by chapter.

    DAISY requires the first ncc heading to be the book title (h1 class="title"): make the first chapter a
    title section (speak `SpokenBook.title_announcement()` as its heading), level 1.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.levels: list[int] = []  # h1..h6 of each chapter, never skipping a level

    def text_name(self, index: int) -> str:
        return f"c{index + 1:03d}.html"

    def smil_name(self, index: int) -> str:
        return f"c{index + 1:03d}.smil"

    def chapter_added(self, index: int, chapter: SpokenChapter) -> None:
        book = self.book
        elapsed = sum(c.total_samples for c in self.chapters[:index]) / book.sample_rate
        lang = chapter.lang or book.language
        level = nested_level(chapter.level, self.levels[-1] if self.levels else None)
        self.levels.append(level)
        text = chapter_text(book.title, chapter, lang, level)
        (self.work_dir / self.text_name(index)).write_bytes(text)
        smil = chapter_smil(
            book_title=book.title,
            identifier=book.identifier,
            generator=book.generator,
            chapter=chapter,
            text_name=self.text_name(index),
            audio_name=self.audio_files[index],
            sample_rate=book.sample_rate,
            elapsed_before=elapsed,
        )
        (self.work_dir / self.smil_name(index)).write_bytes(smil)

    def member_names(self) -> list[str]:
        names = ["ncc.html"]
        for index in range(len(self.chapters)):
            names += [self.text_name(index), self.smil_name(index), self.audio_files[index]]
        return names

    def ncc(self) -> bytes:
        book = self.book
        html, body = _xhtml_document(book.title, book.language)
        head = html[0]
        entries = [(level, 0) for level in self.levels]  # (h-level, depth below it) of every ncc heading
        entries += [
            (self.levels[index], depth)
            for index, chapter in enumerate(self.chapters)
            for _, depth, _ in chapter.subheadings()
        ]
        depth = max(min(level + below, 6) for level, below in entries)
        metadata = [
            ("dc:title", book.title),
            *(("dc:creator", author) for author in book.authors or ["Unknown"]),
            ("dc:date", book.date or dt.date.today().isoformat()),
            ("dc:format", "Daisy 2.02"),
            ("dc:identifier", book.identifier),
            *((("dc:source", book.source),) if book.source else ()),
            ("dc:language", book.language),
            ("dc:publisher", book.publisher or "Unknown"),
            ("ncc:charset", "utf-8"),
            ("ncc:generator", book.generator),
            ("ncc:narrator", book.narrator),
            ("ncc:multimediaType", "audioFullText"),
            ("ncc:totalTime", clock(self.total_seconds, fraction=False)),
            ("ncc:tocItems", str(len(entries))),
            ("ncc:depth", str(depth)),
            ("ncc:files", str(len(self.member_names()))),
            ("ncc:pageFront", "0"),
            ("ncc:pageNormal", "0"),
            ("ncc:pageSpecial", "0"),
            ("ncc:maxPageNormal", "0"),
            ("ncc:footnotes", "0"),
            ("ncc:prodNotes", "0"),
            ("ncc:sidebars", "0"),
            ("ncc:setInfo", "1 of 1"),
        ]
        for name, content in metadata:
            etree.SubElement(head, xhtml("meta"), name=name, content=xml_text(content))
        for index, chapter in enumerate(self.chapters):
            heading = etree.SubElement(body, xhtml(f"h{self.levels[index]}"), id=f"ncc_{index + 1:03d}")
            if index == 0:
                heading.set("class", "title")
            if chapter.lang and chapter.lang != book.language:
                heading.set(XML_LANG, chapter.lang)
                heading.set("lang", chapter.lang)
            target = (chapter.heading_clips or chapter.clips)[0]
            link = etree.SubElement(heading, xhtml("a"), href=f"{self.smil_name(index)}#{par_id(target)}")
            link.text = xml_text(chapter.title)
            # Sub-headings too: a DAISY player's heading navigation walks the ncc, level by level.
            for number, (clip, depth, text) in enumerate(chapter.subheadings(), start=1):
                level = min(self.levels[index] + depth, 6)
                sub = etree.SubElement(body, xhtml(f"h{level}"), id=f"ncc_{index + 1:03d}_{number}")
                if chapter.lang and chapter.lang != book.language:
                    sub.set(XML_LANG, chapter.lang)
                    sub.set("lang", chapter.lang)
                link = etree.SubElement(sub, xhtml("a"), href=f"{self.smil_name(index)}#{par_id(clip)}")
                link.text = xml_text(text)
        return _serialize(html, XHTML_DOCTYPE)

    def finish(self) -> list[str]:
        (self.work_dir / "ncc.html").write_bytes(self.ncc())
        return self.member_names()
