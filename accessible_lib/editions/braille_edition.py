"""The braille editions: an exported book as formatted BRF or PEF, through braille/ (liblouis).

Each chapter's HTML is walked into what braille transcribers lay out: headings with their level, paragraphs,
list items, image descriptions, footnotes (after their chapter, as in the audio editions), and the print
page markers ingest kept (role="doc-pagebreak", the page number in `title`). Every block is translated with
the chapter's language and the edition's table; the title page and contents words are in the book's
language. Pages stream through braille.layout, so War and Peace never sits in memory as braille.
Characters no table has are counted and said in the edition's last step, which the job page shows.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import re
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from lxml import etree
from lxml import html as lxml_html

from braille import chinese
from braille.brf import write_brf
from braille.layout import Block, BookLayout, braille_number
from braille.pef import write_pef
from braille.tables import TABLES, default_table, resolve_table
from braille.translate import translate
from voices.text import image_words

from ..i18n import book_gettext, gettext
from .runner import Progress

_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_ITEMS = {"li", "dt", "dd"}
_BLOCKS = _HEADINGS | _ITEMS | {
    "address", "article", "aside", "blockquote", "caption", "details", "div", "dl", "figcaption", "figure",
    "footer", "header", "hr", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody",
    "td", "tfoot", "th", "thead", "tr", "ul",
}  # fmt: skip
_SKIP = {"script", "style", "template", "head", "title", "noscript"}
_NOTES = {"doc-footnote", "doc-endnote", "doc-endnotes"}


def chapter_blocks(fragment: str, lang: str) -> Iterator[tuple[str, str, int, str | None]]:
    """(kind, text, level, print page) in reading order; footnotes after the chapter's text."""
    if not fragment.strip():
        return
    root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    walker = _Walker(lang)
    walker.visit(root)
    walker.flush()
    yield from walker.blocks
    yield from walker.notes


class _Walker:
    def __init__(self, lang: str):
        self.lang = lang
        self.blocks: list[tuple[str, str, int, str | None]] = []
        self.notes: list[tuple[str, str, int, str | None]] = []
        self._target = self.blocks
        self._parts: list[str] = []
        self._page: str | None = None

    def flush(self, kind: str = "paragraph", level: int = 0) -> None:
        text = " ".join("".join(self._parts).split())
        self._parts = []
        if text:
            self._target.append((kind, text, level, self._page))
            self._page = None

    def visit(self, element: etree._Element) -> None:
        if not isinstance(element.tag, str):
            return
        tag = element.tag.rsplit("}", 1)[-1].lower()
        role = (element.get("role") or "").strip()
        if tag in _SKIP or element.get("hidden") is not None or role == "doc-backlink":
            return
        if role == "doc-pagebreak":
            label = (
                element.get("title") or element.get("aria-label") or element.text_content() or ""
            ).strip()
            if label:
                self.flush()
                self._page = label[:20]
            return
        if role in _NOTES:
            self.flush()
            target, self._target = self._target, self.notes
            self._children(element)
            self.flush()
            self._target = target
            return
        if tag == "img":
            alt = " ".join((element.get("alt") or "").split())
            if alt:
                self.flush()
                self._target.append(("paragraph", image_words(self.lang, alt), 0, self._page))
                self._page = None
            return
        if tag == "br":
            self._parts.append(" ")
            return
        if tag in _BLOCKS:
            self.flush()
            self._children(element)
            if tag in _HEADINGS:
                self.flush("heading", int(tag[1]))
            else:
                self.flush("item" if tag in _ITEMS else "paragraph")
            return
        self._children(element)

    def _children(self, element: etree._Element) -> None:
        if element.text:
            self._parts.append(element.text)
        for child in element:
            self.visit(child)
            if child.tail:
                self._parts.append(child.tail)


class _Translator:
    """The edition's table for the book's language; a Chinese chapter in an English book gets the Chinese
    default (and the other way round) unless the staff chose a table."""

    def __init__(self, chosen: str, book_lang: str, segment: bool):
        self.chosen = (chosen or "").strip()
        if self.chosen:
            resolve_table(self.chosen)  # refuse an unknown table before any work
        self.book_lang = book_lang or "en"
        self.segment = segment
        self.placeholders = 0

    def table(self, lang: str | None) -> str:
        return self.chosen or default_table(lang or self.book_lang)

    def __call__(self, text: str, lang: str | None = None) -> str:
        result = translate(text, self.table(lang), segment_words=self.segment)
        self.placeholders += result.placeholders
        return result.braille


def _print_page(label: str, braille: _Translator, lang: str) -> str:
    return braille_number(label) if label.isdigit() else braille(label, lang)


def chapter_braille(job: tuple[dict, str, str, bool]) -> tuple[list[Block], int]:
    """One chapter's blocks in braille, and the characters no table had. A top-level function of plain
    arguments, so worker processes can run it."""
    chapter, book_lang, chosen, segment = job
    braille = _Translator(chosen, book_lang, segment)
    chapter_lang = chapter.get("lang") or braille.book_lang
    title = " ".join((chapter.get("title") or "").split())
    blocks = list(chapter_blocks(chapter.get("html") or "", chapter_lang))
    if title and not (blocks and blocks[0][0] == "heading" and _same(blocks[0][1], title)):
        blocks.insert(0, ("heading", title, 1, None))
    level = max(1, int(chapter.get("level") or 1))
    out = []
    first_heading = True
    for kind, text, block_level, page in blocks:
        if kind == "heading":
            # the chapter's own heading at its contents level; headings inside it below that
            block_level = level if first_heading else max(level + 1, min(block_level, 6))
            first_heading = False
        printed = _print_page(page, braille, chapter_lang) if page else None
        out.append(Block(kind, braille(text, chapter_lang), block_level, printed))
    return out, braille.placeholders


def _translated(jobs: list, processes: int) -> Iterator[tuple[list[Block], int]]:
    """Chapters in braille, in order: in this process for a short book; for a long one in worker processes
    (liblouis is not thread-safe, and translation is most of the work: two cores halve it)."""
    if processes <= 1:
        yield from map(chapter_braille, jobs)
        return
    pool = ProcessPoolExecutor(
        max_workers=processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=chinese.set_cache_dir,  # jieba's cache where this process keeps it, not in /tmp
        initargs=(chinese.cache_dir(),),
    )
    try:
        yield from pool.map(chapter_braille, jobs, chunksize=2)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


PARALLEL_CHARACTERS = 200_000  # below this, starting worker processes costs more than it saves


def _layout(
    book: dict, options: dict, workspace: Path, progress: Progress
) -> tuple[BookLayout, _Translator, list[str], str]:
    segment = bool(options.get("word_spacing", True))
    braille = _Translator(options.get("table") or "", book.get("language") or "en", segment)
    lang = braille.book_lang
    has_pages = any('role="doc-pagebreak"' in (c.get("html") or "") for c in book["chapters"])
    layout = BookLayout(
        cells=int(options["cells"]), lines=int(options["lines"]), print_pages=has_pages, spool_dir=workspace
    )
    chapters = book["chapters"]
    total = len(chapters)
    size = sum(len(c.get("text") or "") for c in chapters)
    processes = min(os.cpu_count() or 1, total) if size >= PARALLEL_CHARACTERS else 1
    jobs = [(chapter, lang, braille.chosen, segment) for chapter in chapters]
    try:
        for index, (blocks, placeholders) in enumerate(_translated(jobs, processes)):
            progress(
                0.9 * index / max(total, 1),
                gettext("Chapter %(number)d of %(total)d", number=index + 1, total=total),
            )
            braille.placeholders += placeholders
            layout.add_chapter(blocks)
    except BaseException:
        layout.close()
        raise
    title_lines = [braille(book["title"], lang)]
    if book.get("authors"):
        title_lines.append(braille(", ".join(book["authors"]), lang))
    title_lines.append(braille(edition_words(braille.table(lang), lang), lang))
    return layout, braille, title_lines, braille(book_gettext(lang, "Contents"), lang)


def edition_words(table: str, lang: str) -> str:
    """The title page's line naming the braille code, in the book's language ("盲文版：中文，国家通用盲文"),
    not a liblouis file name, which Chinese braille would spell letter by letter. An installed table of
    no known name is named by its file."""
    known = TABLES.get(table)
    name = book_gettext(lang, known.label) if known else table
    return book_gettext(lang, "Braille edition: %(table)s", table=name)


def _same(a: str, b: str) -> bool:
    return re.sub(r"\W+", "", a).lower() == re.sub(r"\W+", "", b).lower()


def _finish(path: Path, media_type: str, braille: _Translator, progress: Progress) -> list[dict]:
    path.chmod(0o644)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    record = {"name": path.name, "media_type": media_type, "size": path.stat().st_size, "sha256": digest}
    if braille.placeholders:
        progress(
            1.0,
            gettext(
                "Finished; %(count)d characters had no braille in any table and are shown as ⠿⠿",
                count=braille.placeholders,
            ),
        )
    else:
        progress(1.0, gettext("Finished"))
    return [record]


def convert_brf(book: dict, options: dict, workspace: Path, progress: Progress) -> list[dict]:
    """Formatted braille for embossers and notetakers: title page, contents, numbered pages."""
    layout, braille, title, contents = _layout(book, options, workspace, progress)
    progress(0.92, gettext("Writing the pages"))
    path = Path(workspace) / "book.brf"
    with layout, path.open("wb") as out:
        write_brf(layout.pages(title, contents), out)
    return _finish(path, "application/x-brf", braille, progress)


def convert_pef(book: dict, options: dict, workspace: Path, progress: Progress) -> list[dict]:
    """The same pages as PEF (Portable Embosser Format), with Dublin Core metadata."""
    from .audio import _identifier

    layout, braille, title, contents = _layout(book, options, workspace, progress)
    progress(0.92, gettext("Writing the pages"))
    path = Path(workspace) / "book.pef"
    date = book.get("date") if re.fullmatch(r"\d{4}-\d\d-\d\d", book.get("date") or "") else None
    with layout, path.open("w", encoding="utf-8") as out:
        write_pef(
            layout.pages(title, contents),
            out,
            cells=layout.cells,
            lines=layout.lines,
            title=book["title"],
            identifier=_identifier(book),
            language=book.get("language") or "en",
            creators=book.get("authors") or [],
            date=date,
        )
    return _finish(path, "application/x-pef+xml", braille, progress)
