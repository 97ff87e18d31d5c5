"""The spoken book: what the MP3, DAISY and EPUB 3 builders need to know, and nothing of the audio itself.

A book of sixty hours cannot be held in memory as PCM, so the audio goes straight to one MP3 per chapter while
this model keeps only text and sample offsets. Offsets are counted from the PCM handed to the encoder, never
measured from the MP3: the encoder pads its output, so decoding it would shift every sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

# An XML NCName, close enough for ids we generate and ids callers hand us (no colon, no leading digit).
_NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def check_id(value: str) -> str:
    """Reject an id that would make the XHTML or SMIL invalid; better to fail before an hour of synthesis."""
    if not _NCNAME.match(value):
        raise ValueError(f"not a valid XML id: {value!r}")
    return value


@dataclass(frozen=True)
class Clip:
    """One sentence (or heading) and where it lies in its chapter's audio, in samples."""

    sentence_id: str
    text: str
    start_sample: int
    end_sample: int
    paragraph: int = 0  # sentences with the same number are rendered in one <p> (or <hN>, see depth)
    heading: bool = False  # part of the chapter heading rather than of a paragraph
    depth: int = 0  # a sub-heading inside the chapter: 1 = one level below the chapter heading; 0 = text

    def __post_init__(self) -> None:
        check_id(self.sentence_id)
        if not 0 <= self.depth <= 5:
            raise ValueError(f"clip {self.sentence_id}: sub-heading depth {self.depth} is not 0-5")
        if not 0 <= self.start_sample <= self.end_sample:
            raise ValueError(f"clip {self.sentence_id} has start {self.start_sample} > end {self.end_sample}")


@dataclass
class SpokenChapter:
    """A chapter's text, split into clips, and the length of its audio once it has been encoded."""

    title: str
    level: int = 1  # 1 = top of the table of contents; DAISY maps it to h1..h6
    lang: str | None = None  # BCP 47, only when it differs from the book's language
    clips: list[Clip] = field(default_factory=list)
    total_samples: int = 0  # samples written to this chapter's MP3, silences included

    def duration(self, sample_rate: int) -> float:
        return self.total_samples / sample_rate

    @property
    def heading_clips(self) -> list[Clip]:
        return [clip for clip in self.clips if clip.heading]

    def summary(self) -> SpokenChapter:
        """What a builder keeps once the chapter's files are written: only the sentences a table of contents
        links to (the heading's first, and each sub-heading's first), so a long book's text is not held."""
        target = (self.heading_clips or self.clips)[:1]
        target += [group[0] for group in self.paragraphs() if group[0].depth]
        return SpokenChapter(self.title, self.level, self.lang, target, self.total_samples)

    def subheadings(self) -> list[tuple[Clip, int, str]]:
        """(first clip, depth, whole text) of each sub-heading, in reading order."""
        return [
            (group[0], group[0].depth, " ".join(clip.text for clip in group))
            for group in self.paragraphs()
            if group[0].depth
        ]

    def paragraphs(self) -> list[list[Clip]]:
        """Body clips grouped by paragraph number, in reading order."""
        groups: list[list[Clip]] = []
        last: int | None = None
        for clip in self.clips:
            if clip.heading:
                continue
            if not groups or clip.paragraph != last:
                groups.append([])
                last = clip.paragraph
            groups[-1].append(clip)
        return groups


@dataclass
class SpokenBook:
    """Bibliographic facts and the audio format; chapters are handed to a builder one at a time."""

    title: str
    authors: list[str]
    language: str  # BCP 47 of the book: "en", "zh-Hans"...
    identifier: str  # this edition's, stable and unique: "urn:uuid:..." or "urn:isbn:..."
    source: str | None = None  # the identifier of the book it is made from (dc:source), when it has its own
    sample_rate: int = 22050
    publisher: str | None = None
    date: str | None = None  # YYYY or YYYY-MM-DD of the source edition
    narrator: str = "espeak-ng synthetic speech"
    generator: str = "accessible-lib voices"

    def title_announcement(self) -> str:
        """What to speak for the title section DAISY requires first in the ncc (h1 class="title")."""
        if self.authors:
            return f"{self.title}. {', '.join(self.authors)}."
        return f"{self.title}."


# Characters XML 1.0 forbids; a stray form feed in a plain-text book must not abort a long build at the end.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(text: str) -> str:
    return _NOT_XML.sub(" ", text)


def seconds(samples: int, sample_rate: int) -> float:
    """Sample offset to seconds, rounded to the millisecond the SMIL files carry."""
    return round(samples / sample_rate, 3)


def clock(value: float, *, fraction: bool = True) -> str:
    """A SMIL full clock value, hh:mm:ss.fff (or hh:mm:ss rounded to the second, as DAISY's ncc:totalTime)."""
    if not fraction:
        whole = int(round(value))
        return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}"
    millis = int(round(value * 1000))
    whole, ms = divmod(millis, 1000)
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}.{ms:03d}"


def xml_bytes(root: etree._Element, doctype: str | None = None) -> bytes:
    """Serialise an lxml tree with the double-quoted UTF-8 declaration older DAISY players expect."""
    body = etree.tostring(root, encoding="unicode", doctype=doctype, pretty_print=True)
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body).encode("utf-8")


def nested_level(level: int, previous: int | None, *, deepest: int = 6) -> int:
    """The level a heading can take after `previous` without skipping one (h1 then h3 is invalid in DAISY).

    The first heading is level 1; levels deeper than `deepest` are folded into it.
    """
    if previous is None:
        return 1
    return max(1, min(level, previous + 1, deepest))


XHTML_NS = "http://www.w3.org/1999/xhtml"


def xhtml(tag: str) -> str:
    """An element name in the XHTML namespace, as lxml spells it."""
    return f"{{{XHTML_NS}}}{tag}"


def block_tag(group: list[Clip], chapter_level: int) -> str:
    """The XHTML element for a paragraph group: <p>, or the heading a sub-heading takes below its chapter's
    (never deeper than h6)."""
    depth = group[0].depth if group else 0
    return f"h{min(chapter_level + depth, 6)}" if depth else "p"


def add_sentence_spans(parent, clips: list[Clip]) -> None:
    """One XHTML span per sentence (its id is what a SMIL par points at), separated by spaces so the text
    still reads as prose. Shared by the DAISY and EPUB 3 builders."""
    previous = None
    for clip in clips:
        if previous is not None:
            previous.tail = " "
        span = etree.SubElement(parent, xhtml("span"), id=clip.sentence_id)
        span.text = xml_text(clip.text)
        previous = span
