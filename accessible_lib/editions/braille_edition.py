"""The braille editions: an exported book as formatted BRF or PEF, through braille/ (liblouis).

Each chapter's HTML is walked into what braille transcribers lay out: headings with their level, paragraphs,
list items, image descriptions, footnotes (after their chapter, as in the audio editions), and the print
page markers ingest kept (role="doc-pagebreak", the page number in `title`). Every block is translated with
the chapter's language and the edition's table; the title page and contents words are in the book's
language. Pages stream through braille.layout, so War and Peace never sits in memory as braille.
Characters no table has are counted and said in the edition's last step, which the job page shows.
"""

from __future__ import annotations

import gc
import hashlib
import os
import re
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import closing
from functools import partial
from itertools import chain
from pathlib import Path

from lxml import etree
from lxml import html as lxml_html

from braille import brf, pef
from braille.layout import Block, BookLayout, Page, braille_number
from braille.pool import TranslationPool
from braille.tables import TABLES, default_table, resolve_table
from braille.translate import Translation, translate
from voices.text import image_words

from ..i18n import book_gettext, gettext
from .export import edition_identifier, source_identifier
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


class _Plan:
    """One chapter as blocks waiting for their braille: what to translate (a batch of (text, table) pairs,
    for this process or a child of braille.pool) and how the translations become layout blocks."""

    def __init__(self, chapter: dict, book_lang: str, braille: _Translator):
        chapter_lang = chapter.get("lang") or book_lang
        table = braille.table(chapter_lang)
        title = " ".join((chapter.get("title") or "").split())
        blocks = list(chapter_blocks(chapter.get("html") or "", chapter_lang))
        if title and not (blocks and blocks[0][0] == "heading" and _same(blocks[0][1], title)):
            blocks.insert(0, ("heading", title, 1, None))
        level = max(1, int(chapter.get("level") or 1))
        self.batch: list[tuple[str, str]] = []
        self.shapes: list[tuple[str, int, int, str | int | None]] = []
        first_heading = True
        for kind, text, block_level, page in blocks:
            if kind == "heading":
                # the chapter's own heading at its contents level; headings inside it below that
                block_level = level if first_heading else max(level + 1, min(block_level, 6))
                first_heading = False
            printed: str | int | None = None
            if page:  # a print page number in braille digits; a label such as "xii" translated as text
                printed = braille_number(page) if page.isdigit() else self._add(page, table)
            self.shapes.append((kind, block_level, self._add(text, table), printed))

    def _add(self, text: str, table: str) -> int:
        self.batch.append((text, table))
        return len(self.batch) - 1

    def blocks(self, translations: list[Translation]) -> tuple[list[Block], int]:
        out = []
        for kind, level, index, printed in self.shapes:
            page = translations[printed].braille if isinstance(printed, int) else printed
            out.append(Block(kind, translations[index].braille, level, page))
        return out, sum(t.placeholders for t in translations)


class _Front:
    """The title page's lines and the contents heading, in the book's language: translated first, with the
    chapters (by the children for a long book, so that this process never compiles a table: 0.14 G
    instructions, 4% of this process's work on War and Peace)."""

    def __init__(self, book: dict, braille: _Translator, lang: str):
        self._book, self._braille, self._lang = book, braille, lang
        self.title_lines: list[str] = []
        self.contents = ""

    @property
    def batch(self) -> list[tuple[str, str]]:
        """Made when asked for (once, by _translated), after the children were started: the words need the
        book's message catalogue (15 ms of loading), during which the children are starting."""
        table = self._braille.table(self._lang)
        texts = [self._book["title"]]
        if self._book.get("authors"):
            texts.append(", ".join(self._book["authors"]))
        texts += [edition_words(table, self._lang), book_gettext(self._lang, "Contents")]
        return [(text, table) for text in texts]

    def done(self, translations: list[Translation]) -> None:
        self._braille.placeholders += sum(t.placeholders for t in translations)
        *self.title_lines, self.contents = [t.braille for t in translations]


def _translated(
    front: _Front, plans: Iterator[_Plan], processes: int, segment: bool
) -> Iterator[tuple[list[Block], int]]:
    """The front words (given to `front`), then chapters in braille, in order: in this process for a short
    book; for a long one in one child process per core (braille.pool: liblouis is not thread-safe, and
    translation is most of the work)."""
    if processes <= 1:
        front.done([translate(text, table, segment_words=segment) for text, table in front.batch])
        for plan in plans:
            yield plan.blocks([translate(text, table, segment_words=segment) for text, table in plan.batch])
        return
    with TranslationPool(processes, segment_words=segment) as pool:
        waiting: deque[_Plan] = deque()

        def batches() -> Iterator[list[tuple[str, str]]]:
            yield front.batch
            for plan in plans:
                waiting.append(plan)
                yield plan.batch

        results = pool.map(batches())
        front.done(next(results))
        for translations in results:
            yield waiting.popleft().blocks(translations)


PARALLEL_CHARACTERS = 200_000  # below this, starting child processes costs more than it saves


def _layout(
    book: dict, options: dict, workspace: Path, progress: Progress, render: Callable[[Page], bytes]
) -> tuple[BookLayout, _Translator, list[str], str]:
    """The whole body laid out, and rendered by `render` as it goes (while the children still translate),
    so that writing the book afterwards is its title page, contents and a copy."""
    segment = bool(options.get("word_spacing", True))
    braille = _Translator(options.get("table") or "", book.get("language") or "en", segment)
    lang = braille.book_lang
    has_pages = any('role="doc-pagebreak"' in (c.get("html") or "") for c in book["chapters"])
    layout = BookLayout(
        cells=int(options["cells"]),
        lines=int(options["lines"]),
        print_pages=has_pages,
        spool_dir=workspace,
        render=render,
    )
    chapters = book["chapters"]
    total = len(chapters)
    size = sum(len(c.get("text") or "") for c in chapters)
    processes = min(os.cpu_count() or 1, total) if size >= PARALLEL_CHARACTERS else 1
    plans = (_Plan(chapter, lang, braille) for chapter in chapters)
    front = _Front(book, braille, lang)
    # The book (tens of thousands of dicts and lists) is here for the whole layout; the collector's full
    # passes walked all of it again and again while the layout made its short-lived rows (3% of this
    # process's instructions on War and Peace). Frozen, it is left out of those passes until the end.
    gc.freeze()
    try:
        with closing(_translated(front, plans, processes, segment)) as translated:  # the children end with it
            for index, (blocks, placeholders) in enumerate(translated):
                progress(
                    0.9 * index / max(total, 1),
                    gettext("Chapter %(number)d of %(total)d", number=index + 1, total=total),
                )
                braille.placeholders += placeholders
                layout.add_chapter(blocks)
    except BaseException:
        layout.close()
        raise
    finally:
        gc.unfreeze()
    return layout, braille, front.title_lines, front.contents


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


# Body pages come from braille.layout, which checks every block's braille: not searched again when rendered.
_BRF_PAGE = partial(brf.page_bytes, checked=True)
_PEF_PAGE = partial(pef.page_bytes, checked=True)


def convert_brf(book: dict, options: dict, workspace: Path, progress: Progress) -> list[dict]:
    """Formatted braille for embossers and notetakers: title page, contents, numbered pages."""
    layout, braille, title, contents = _layout(book, options, workspace, progress, _BRF_PAGE)
    progress(0.92, gettext("Writing the pages"))
    path = Path(workspace) / "book.brf"
    with layout, path.open("wb") as out:
        brf.write_brf(chain(layout.preliminary_pages(title, contents), layout.rendered()), out)
    return _finish(path, "application/x-brf", braille, progress)


def convert_pef(book: dict, options: dict, workspace: Path, progress: Progress) -> list[dict]:
    """The same pages as PEF (Portable Embosser Format), with Dublin Core metadata."""
    layout, braille, title, contents = _layout(book, options, workspace, progress, _PEF_PAGE)
    progress(0.92, gettext("Writing the pages"))
    path = Path(workspace) / "book.pef"
    date = book.get("date") if re.fullmatch(r"\d{4}-\d\d-\d\d", book.get("date") or "") else None
    with layout, path.open("wb") as out:
        pef.write_pef(
            chain(layout.preliminary_pages(title, contents), layout.rendered()),
            out,
            cells=layout.cells,
            lines=layout.lines,
            title=book["title"],
            identifier=edition_identifier(book),
            source=source_identifier(book),
            language=book.get("language") or "en",
            creators=book.get("authors") or [],
            date=date,
        )
    return _finish(path, "application/x-pef+xml", braille, progress)
