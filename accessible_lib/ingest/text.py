"""Plain-text books: decode, strip Project Gutenberg boilerplate, find chapters and paragraphs.

A .txt file has no markup, so everything a reader navigates by (title, chapters, paragraphs) is inferred
here from layout conventions. When in doubt we keep text rather than drop it: a title page too many is a
nuisance, a lost paragraph is a defect.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from ..settings import Settings
from .encoding import decode_text
from .errors import N_, IngestError
from .gutenberg import GutenbergText, split_gutenberg
from .headings import (
    Heading,
    assign_levels,
    classify_heading,
    drop_table_of_contents,
    find_headings,
)
from .language import detect_language, normalise_language_tag
from .model import Chapter, IngestedBook, TocEntry

SHORT_TEXT_CHARS = 15_000  # a text without headings up to this size is one chapter
SECTION_CHARS = 10_000  # longer ones are cut into sections of about this size
VERSE_LINE_CHARS = 40  # a Chinese line ending a sentence and longer than this is a paragraph
LINE_MODE_BLANK_RATIO = 0.1  # fewer blank lines than this per line of text: one paragraph per line

_CJK = re.compile(r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
_CJK_LINE_END = re.compile(r"[。！？；：…」』”）]\s*$")
_HAN_NAME = re.compile(r"^[\u4e00-\u9fff·・]{2,5}$")
_DYNASTY = re.compile(r"^[（(〔【\[][\u4e00-\u9fff]{1,3}[)）〕】\]]\s*")
_AUTHOR_PREFIX = re.compile(r"^(?:作者|著者|撰者)\s*[：:]\s*(.+)$")
_LATIN_BY = re.compile(r"^by\s+(.+)$", re.IGNORECASE)
_TITLE_BRACKETS = re.compile(r"^《(.+)》$")
_SENTENCE_END = re.compile(r"[.!?。！？，,;；]$")


@dataclass
class _Block:
    """Consecutive non-blank lines; `start` is the index of the first line in the whole text."""

    start: int
    lines: list[str]


def read_text(
    path: Path, settings: Settings, *, checksum: str, source_name: str, language: str | None = None
) -> IngestedBook:
    """Read a plain-text book from `path`; raise IngestError when it cannot be read as text."""
    size = path.stat().st_size
    if size > settings.max_file_bytes:
        raise IngestError(
            N_("The file is %(size)d bytes; the largest accepted is %(limit)d bytes."),
            size=size,
            limit=settings.max_file_bytes,
        )
    text, _encoding = decode_text(path.read_bytes())
    return parse_text(text, checksum=checksum, source_name=source_name, fallback_title=readable_stem(path),
                      language=language)  # fmt: skip


def readable_stem(path: Path) -> str:
    """ "moby_dick-1851" becomes "Moby dick 1851": better than nothing as a title."""
    words = re.sub(r"[_\-.]+", " ", path.stem).split()
    title = " ".join(words) or path.name
    return title[:1].upper() + title[1:]


def parse_text(
    text: str,
    *,
    checksum: str,
    source_name: str,
    fallback_title: str = "Untitled",
    language: str | None = None,
) -> IngestedBook:
    text = text.replace("\ufeff", "").replace("\r\n", "\n").replace("\r", "\n")
    book = IngestedBook(title=fallback_title, source_format="txt", checksum=checksum,
                        source_name=source_name)  # fmt: skip
    gutenberg = split_gutenberg(text)
    if gutenberg is not None:
        text = gutenberg.body
        book.title = gutenberg.title or book.title
        book.subtitle = gutenberg.subtitle
        book.authors = gutenberg.authors
        book.date = gutenberg.date
        book.language = normalise_language_tag(gutenberg.language)
        if gutenberg.ebook_number:
            book.identifiers.append(("gutenberg", gutenberg.ebook_number))

    lines = [line.rstrip() for line in text.split("\n")]
    nonblank = sum(1 for line in lines if line.strip())
    if nonblank == 0:
        raise IngestError(N_("The file holds no text."))
    blank_runs = sum(1 for i, line in enumerate(lines) if not line.strip() and i > 0 and lines[i - 1].strip())
    line_mode = blank_runs < LINE_MODE_BLANK_RATIO * nonblank

    if gutenberg is None:
        _take_title_and_author(lines, book)

    headings = _real_headings(lines, line_mode)
    chapters = _chapters_from_headings(lines, headings, line_mode, book.title)
    if not chapters:
        raise IngestError(N_("The file holds no text."))
    if gutenberg is not None:
        chapters += _back_matter(gutenberg)
    book.chapters = chapters
    book.toc = [
        TocEntry(title=chapter.title, level=chapter.level, chapter_index=index)
        for index, chapter in enumerate(chapters)
    ]
    if book.language is None:
        book.language = language
    if book.language is None:
        sample = "\n\n".join(chapter.text for chapter in chapters[:3] if chapter.kind == "body")
        book.language = detect_language(sample)
    return book


def _take_title_and_author(lines: list[str], book: IngestedBook) -> None:
    """Title (and author) from the first lines, removed from the text so they are not read twice.

    Only lines that look like a title page are taken: short, not a sentence, not a chapter heading.
    """
    first = _next_nonblank(lines, 0)
    if first is None:
        return
    candidate = lines[first].strip().replace("\u3000", " ").strip()
    is_cjk = bool(_CJK.search(candidate))
    limit = 30 if is_cjk else 80
    if len(candidate) > limit or _SENTENCE_END.search(candidate) or classify_heading(candidate) is not None:
        return
    following = _next_nonblank(lines, first + 1)
    if following is None:
        return  # a one-line file: that line is the text, not its title
    bracketed = _TITLE_BRACKETS.match(candidate)
    book.title = (bracketed.group(1) if bracketed else candidate).strip()
    lines[first] = ""
    author = _author_from_line(lines[following].strip())
    if author and _next_nonblank(lines, following + 1) is not None:
        book.authors = [author]
        lines[following] = ""


def _author_from_line(line: str) -> str | None:
    line = line.replace("\u3000", " ").strip()
    prefixed = _AUTHOR_PREFIX.match(line)
    if prefixed:
        return prefixed.group(1).strip()
    by = _LATIN_BY.match(line)
    if by and len(line) <= 80:
        return by.group(1).strip()
    if classify_heading(line) is not None:
        return None
    inner = line.strip("()（）〔〕[]【】 ")
    without_dynasty = _DYNASTY.sub("", line).strip("()（）〔〕[]【】 ")
    for name in (without_dynasty, inner):
        if _HAN_NAME.match(name):
            return name
    return None


def _next_nonblank(lines: list[str], start: int) -> int | None:
    for index in range(start, len(lines)):
        if lines[index].strip():
            return index
    return None


def _real_headings(lines: list[str], line_mode: bool) -> list[Heading]:
    candidates = find_headings(lines, line_mode=line_mode)
    if not candidates:
        return []
    has_content = []
    for i, heading in enumerate(candidates):
        end = candidates[i + 1].line if i + 1 < len(candidates) else len(lines)
        has_content.append(any(lines[j].strip() for j in range(heading.line + 1, end)))
    kept = drop_table_of_contents(candidates, has_content)
    kept_lines = {heading.line for heading in kept}
    for heading in candidates:
        if heading.line not in kept_lines:
            lines[heading.line] = ""  # a table of contents entry: the headings themselves carry it
    return kept


def _chapters_from_headings(
    lines: list[str], headings: list[Heading], line_mode: bool, book_title: str
) -> list[Chapter]:
    if not headings:
        paragraphs = _paragraphs(_blocks(lines, 0, len(lines)), line_mode)
        return _split_unheaded(paragraphs, book_title)
    chapters = []
    front = _paragraphs(_blocks(lines, 0, headings[0].line), line_mode)
    if _has_prose(front):
        chapters.append(_chapter(book_title, front, 1))
    levels = assign_levels(headings)
    for i, heading in enumerate(headings):
        end = headings[i + 1].line if i + 1 < len(headings) else len(lines)
        body = _paragraphs(_blocks(lines, heading.line + 1, end), line_mode)
        chapters.append(_chapter(heading.title, body, levels[i]))
    return chapters


def _back_matter(gutenberg: GutenbergText) -> list[Chapter]:
    """Project Gutenberg's header and licence, kept (the licence must travel with the text) but listed last,
    as for Gutenberg EPUBs, so that no reader and no audio edition starts with them."""
    chapters = []
    for title, text in (("Project Gutenberg header", gutenberg.header),
                        ("The Project Gutenberg licence", gutenberg.licence)):  # fmt: skip
        lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
        paragraphs = _paragraphs(_blocks(lines, 0, len(lines)), line_mode=False)
        if paragraphs:
            chapter = _chapter(title, paragraphs, 1)
            chapter.kind = "back"
            chapters.append(chapter)
    return chapters


def _has_prose(paragraphs: list[str]) -> bool:
    """Whether text before the first heading is worth a chapter: a title page is not, a preface is."""
    for paragraph in paragraphs:
        cjk = len(_CJK.findall(paragraph))
        if cjk >= 40:
            return True
        letters = [char for char in paragraph if char.isalpha()]
        lower = sum(1 for char in letters if char.islower())
        if len(paragraph) >= 120 and lower >= 0.6 * max(1, len(letters)):
            return True
    return False


def _blocks(lines: list[str], start: int, end: int) -> list[_Block]:
    blocks: list[_Block] = []
    current: list[str] = []
    for index in range(start, end):
        line = lines[index]
        if line.strip():
            if not current:
                blocks.append(_Block(index, current))
            current.append(line)
        else:
            current = []
    return blocks


def _paragraphs(blocks: list[_Block], line_mode: bool) -> list[str]:
    """Paragraphs from blocks of lines, re-joining lines that were only wrapped for width.

    Latin lines are joined with a space, Chinese ones with nothing. A Chinese line that ends a sentence,
    or a line indented with full-width spaces, starts a new line or paragraph: verse and one-paragraph-
    per-line files keep their shape.
    """
    paragraphs = []
    for block in blocks:
        if line_mode:
            paragraphs.extend(_clean(line) for line in block.lines)
            continue
        current: list[str] = []
        for line in block.lines:
            if current and (line.startswith("\u3000") or line.startswith("\t")):
                paragraphs.append(_join(current))
                current = []
            current.append(line)
        if current:
            paragraphs.append(_join(current))
    result = []
    for paragraph in paragraphs:
        lines = paragraph.split("\n")
        if len(lines) > 1 and max(len(line) for line in lines) > VERSE_LINE_CHARS:
            result.extend(lines)  # lines this long are prose paragraphs, not verse
        elif paragraph:
            result.append(paragraph)
    return result


def _clean(line: str) -> str:
    return line.strip().strip("\u3000").strip()


def _join(lines: list[str]) -> str:
    """Join wrapped lines; Chinese lines ending a sentence keep their line break (verse, dialogue)."""
    text = ""
    for line in lines:
        line = _clean(line)
        if not text:
            text = line
        elif _CJK_LINE_END.search(text) and _CJK.match(line):
            text += "\n" + line  # verse, or one paragraph per line (split in _paragraphs)
        elif _CJK.search(text[-1:]) or _CJK.match(line):
            text += line
        else:
            text += " " + line
    return text


def _chapter(title: str, paragraphs: list[str], level: int) -> Chapter:
    body = "\n".join(
        "<p>" + "<br>\n".join(html.escape(line, quote=False) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )
    return Chapter(title=title, html=body, text="\n\n".join(paragraphs), level=level)


def _split_unheaded(paragraphs: list[str], book_title: str) -> list[Chapter]:
    """A text without headings: one chapter if short, else sections of about SECTION_CHARS."""
    if not paragraphs:
        return []
    total = sum(len(p) for p in paragraphs)
    if total <= SHORT_TEXT_CHARS:
        return [_chapter(book_title, paragraphs, 1)]
    sections: list[list[str]] = [[]]
    size = 0
    for paragraph in paragraphs:
        if size >= SECTION_CHARS:
            sections.append([])
            size = 0
        sections[-1].append(paragraph)
        size += len(paragraph)
    if len(sections) > 1 and sum(len(p) for p in sections[-1]) < SECTION_CHARS // 4:
        sections[-2].extend(sections.pop())  # no tiny last section
    return [_chapter(_first_words(section[0]), section, 1) for section in sections]


def _first_words(paragraph: str) -> str:
    """A section title from its opening words, so a reader can tell sections apart in the contents."""
    paragraph = " ".join(paragraph.split())
    if _CJK.search(paragraph[:20]):
        return paragraph[:12] + ("…" if len(paragraph) > 12 else "")
    words = paragraph.split(" ")
    return " ".join(words[:6]) + ("…" if len(words) > 6 else "")
