"""Braille pages as transcribers lay them out, from blocks of already-translated Unicode braille.

The rules, after BANA Braille Formats (2016), kept to what a reader relies on:
- A page is `lines` rows of at most `cells` cells. The last row carries the braille page number at the
  right (body pages 1, 2...; preliminary pages p1, p2...). When the book has print page numbers, the first
  row carries the current print page number at the right, and a print page change inside a page is shown
  by a row of dots 3-6 ending with the new number (the print page change indicator).
- Paragraphs start in cell 3, runovers in cell 1; list items start in cell 1, runovers in cell 3. Words are
  never split across rows, except a word longer than a row, which is cut with a hyphen (dots 3-6) at the end
  of each piece.
- Chapter headings (level 1) start a new page, centred, with a blank row after; level 2 centred with a
  blank row before; deeper headings start in cell 5 with runovers in cell 5. No blank row at the top of a
  page; a heading is never the last thing on a page (it moves to the next page with its first line).
- A title page and a table of contents come first (p1...), the contents giving each heading's braille page,
  right-aligned after guide dots (dots 5).
Body pages are laid out first into a temporary file, so the contents can name their pages without a
book's pages ever being held in memory.
"""

from __future__ import annotations

import functools
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

BLANK = "\u2800"
HYPHEN = "\u2824"  # dots 3-6
GUIDE = "\u2810"  # dots 5: guide dots in the contents
NUMBER_SIGN = "\u283c"
P = "\u280f"  # the letter p, for preliminary page numbers
_DIGITS = dict(zip("1234567890", "\u2801\u2803\u2809\u2819\u2811\u280b\u281b\u2813\u280a\u281a", strict=True))
MIN_CELLS, MAX_CELLS = 20, 60
MIN_LINES, MAX_LINES = 10, 50


class LayoutError(ValueError):
    """Page sizes out of range, or text that is not 6-dot Unicode braille."""


@dataclass(frozen=True)
class Block:
    kind: str  # "heading", "paragraph" or "item"
    braille: str  # 6-dot Unicode braille, U+2800 between words
    level: int = 0  # 1-6 for headings
    print_page: str | None = None  # braille of the print page number that begins just before this block


@dataclass
class Page:
    number: str  # braille page number as text: "p1", "1"
    rows: list[str] = field(default_factory=list)  # Unicode braille, `lines` rows, each at most `cells`
    print_page: str | None = None  # braille of the print page shown at the top, if any


def braille_number(number: int | str, prefix: str = "") -> str:
    """A page number in braille: the number sign and the digits as letters a-j (⠼⠁⠃ for 12)."""
    return prefix + NUMBER_SIGN + "".join(_DIGITS[d] for d in str(number))


_NOT_SIX_DOT = re.compile("[^\u2800-\u283f]")


def check_braille(text: str) -> str:
    bad = _NOT_SIX_DOT.search(text)
    if bad:
        raise LayoutError(f"not 6-dot Unicode braille: {bad.group()!r} (U+{ord(bad.group()):04X})")
    return text


def check_size(cells: int, lines: int) -> None:
    if not MIN_CELLS <= cells <= MAX_CELLS:
        raise LayoutError(f"cells per line must be {MIN_CELLS}-{MAX_CELLS}, not {cells}")
    if not MIN_LINES <= lines <= MAX_LINES:
        raise LayoutError(f"lines per page must be {MIN_LINES}-{MAX_LINES}, not {lines}")


def wrap(braille: str, width: int, first: int = 0, rest: int = 0) -> list[str]:
    """Rows of at most `width` cells: the first indented `first` cells, the others `rest` cells. Words are
    kept whole; a word longer than a row is cut with a hyphen at the end of each piece.

    When every word fits a row (nearly always), the rows are found by a regular expression: the longest
    run of whole words that fits, row after row. Word by word in Python, wrapping was a third of the
    layout's time on War and Peace (cProfile); the word-by-word loop stays for words that must be cut."""
    text = braille.strip(BLANK)
    if BLANK + BLANK in text:
        text = _BLANKS.sub(BLANK, text)
    if not text:
        return []
    head, tail = width - first, width - rest
    if head > 0 and tail > 0 and not _longer_than(min(head, tail)).search(text):
        match = _row(head).match(text)
        assert match is not None  # the first word fits, so a row does
        rows = [BLANK * first + match.group(1)]
        indent = BLANK * rest
        rows += [indent + row for row in _row(tail).findall(text, match.end())]
        return rows
    return _wrap_words(text, width, first, rest)


_BLANKS = re.compile(BLANK + "{2,}")
# Body pages are kept in memory up to this size, then in a file: a long novel (War and Peace: 8.8 MB of
# PEF) never touches the disk twice, and a book of any size never fills the memory.
SPOOL_IN_MEMORY = 64 * 1024 * 1024


@functools.lru_cache(maxsize=128)
def _row(room: int) -> re.Pattern[str]:
    """The longest run of whole words of at most `room` cells, and the blank after it. `wrap` leaves single
    blanks between words and none at the ends, so that is the longest run of cells followed by a blank or
    the end: a plain pattern, four times as fast as one that looks at every blank."""
    return re.compile(f"(.{{1,{room}}})(?:{BLANK}|\\Z)", re.DOTALL)


@functools.lru_cache(maxsize=128)
def _longer_than(room: int) -> re.Pattern[str]:
    return re.compile(f"[^{BLANK}]{{{room + 1},}}")


def _wrap_words(braille: str, width: int, first: int, rest: int) -> list[str]:
    rows: list[str] = []
    line = BLANK * first
    filled = first  # cells used in `line`, indentation included
    empty = True
    for word in braille.split(BLANK):
        if not word:
            continue
        indent = first if not rows else rest
        room = width - indent
        if len(word) > room:  # too long for any row: cut it, starting on a row of its own
            if not empty:
                rows.append(line)
                indent = rest
            while len(word) > width - indent:
                cut = width - indent - 1
                rows.append(BLANK * indent + word[:cut] + HYPHEN)
                word = word[cut:]
                indent = rest
            line, filled, empty = BLANK * indent + word, indent + len(word), False
            continue
        if empty:
            line, filled, empty = line + word, filled + len(word), False
        elif filled + 1 + len(word) <= width:
            line, filled = line + BLANK + word, filled + 1 + len(word)
        else:
            rows.append(line)
            line, filled = BLANK * rest + word, rest + len(word)
    if not empty:
        rows.append(line)
    return rows


def centred(braille: str, width: int) -> list[str]:
    """Centred rows, with at least three blanks each side so a centred heading never looks like text."""
    rows = wrap(braille, width - 6)
    return [BLANK * ((width - len(row)) // 2) + row for row in rows]


def _right(row: str, text: str, width: int) -> str:
    """`text` at the right end of `row`, at least three blanks after the row's own text."""
    row = row.rstrip(BLANK)
    if len(row) + 3 + len(text) > width:
        raise LayoutError("no room for the page number on this row")
    return row + BLANK * (width - len(row) - len(text)) + text


class _Pager:
    """Fills pages row by row; the page's last row is kept for its number, the first for the print page."""

    def __init__(self, cells: int, lines: int, *, numbered: str = "", print_pages: bool = False):
        self.cells, self.lines = cells, lines
        self.prefix = numbered
        self.print_pages = print_pages
        self.number = 0
        self.print_page: str | None = None
        self.rows: list[str] = []
        self.done: list[Page] = []
        self.open = False
        self.text_rows = lines - 1 - (1 if print_pages else 0)  # rows for text on a page

    @property
    def room(self) -> int:
        return self.text_rows - len(self.rows) if self.open else self.text_rows

    def _start(self) -> None:
        self.number += 1
        self.rows = []
        self.open = True
        self.page_print = self.print_page

    def new_page(self) -> None:
        if self.open:
            self.finish_page()

    def finish_page(self) -> None:
        if not self.open:
            return
        number = braille_number(self.number, P if self.prefix else "")
        rows = list(self.rows)
        if self.print_pages:
            rows.insert(0, _right("", self.page_print, self.cells) if self.page_print else "")
        rows += [""] * (self.lines - 1 - len(rows))
        rows.append(_right("", number, self.cells))
        label = f"{self.prefix}{self.number}"
        self.done.append(Page(label, rows, self.page_print))
        self.open = False

    def add(self, rows: list[str], *, keep_with_next: int = 0, blank_before: bool = False) -> None:
        """Rows that belong together; with `keep_with_next`, that many rows must fit after them too."""
        if not rows:
            return
        gap = 1 if blank_before and self.open and self.rows else 0
        if self.open and gap + len(rows) + keep_with_next > self.room:
            if len(rows) + keep_with_next <= self.text_rows:  # it fits on a page of its own: move it
                self.finish_page()
                gap = 0
        if gap:
            self.rows.append("")
        done = 0
        while done < len(rows):  # as much as fits on this page, then the next
            room = self.text_rows - len(self.rows) if self.open else 0
            if room <= 0:
                self.finish_page()
                self._start()
                room = self.text_rows
            self.rows.extend(rows[done : done + room])
            done += room

    def blank(self) -> None:
        """A blank row, never at the top or bottom of a page."""
        if self.open and self.rows and self.room > 1:
            self.rows.append("")

    def change_print_page(self, number: str) -> None:
        self.print_page = number
        if not self.print_pages:
            return
        if self.open and self.rows:
            indicator = HYPHEN * (self.cells - len(number)) + number
            self.add([indicator], keep_with_next=1)
        elif self.open:
            self.page_print = number

    def take(self) -> list[Page]:
        pages, self.done = self.done, []
        return pages


@dataclass(frozen=True)
class ContentsEntry:
    braille: str
    level: int
    page: str  # braille page number (digits only, without the number sign)


class BookLayout:
    """Lay out a book chapter by chapter, then read its pages: title page, contents, body."""

    def __init__(
        self,
        *,
        cells: int = 40,
        lines: int = 25,
        print_pages: bool = False,
        spool_dir: str | Path | None = None,
        render: Callable[[Page], bytes] | None = None,
    ):
        """`spool_dir` holds the laid-out body pages until they are read (an unnamed file, gone when the
        layout is closed); None means the system temporary directory.

        With `render` (braille.brf.page_bytes, braille.pef.page_bytes), each body page is spooled already in
        its output format as soon as it is laid out, while the rest of the book is still being translated:
        writing the book is then the title page, the contents and a copy (`rendered`). Body pages can be
        rendered early because nothing in them depends on the preliminary pages, which are numbered apart
        (p1, p2...). Without it, the spool keeps Page objects for `pages`."""
        check_size(cells, lines)
        self.cells, self.lines = cells, lines
        self._render = render or _page_record
        self.rendered_early = render is not None
        self._spool = tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY, "w+b", dir=spool_dir)
        self._sizes: list[int] = []
        self._body = _Pager(cells, lines, print_pages=print_pages)
        self.contents: list[ContentsEntry] = []
        self.body_pages = 0

    def add_chapter(self, blocks: Iterable[Block]) -> None:
        for block in blocks:
            self._add(block)
        self._flush(final=False)

    def _add(self, block: Block) -> None:
        width = self.cells
        text = check_braille(block.braille)
        if block.print_page is not None:
            self._body.change_print_page(check_braille(block.print_page))
        if block.kind == "heading":
            level = max(1, min(block.level or 1, 6))
            if level == 1:
                self._body.new_page()
                rows = centred(text, width)
            elif level == 2:
                rows = centred(text, width)
            else:
                rows = wrap(text, width, 4, 4)
            self._body.add(rows, keep_with_next=1 + (1 if level == 1 else 0), blank_before=level > 1)
            if rows:
                self.contents.append(ContentsEntry(text, level, str(self._body.number)))
            if level == 1:
                self._body.blank()
        elif block.kind == "item":
            self._body.add(wrap(text, width, 0, 2))
        else:
            self._body.add(wrap(text, width, 2, 0))
        self._flush(final=False)

    def _flush(self, *, final: bool) -> None:
        if final:
            self._body.finish_page()
        for page in self._body.take():
            data = self._render(page)
            self._spool.write(data)
            self._sizes.append(len(data))
            self.body_pages += 1

    def pages(self, title_lines: list[str], contents_heading: str) -> Iterator[Page]:
        """Every page in order: the title page (each of `title_lines` centred, a blank row between them),
        the contents (headed `contents_heading`), then the body. Can be read once; not with `render`."""
        if self.rendered_early:
            raise LayoutError("the body pages were rendered: read them with rendered()")
        yield from self.preliminary_pages(title_lines, contents_heading)
        for data in self.rendered():
            yield _read_page_record(data)

    def rendered(self) -> Iterator[bytes]:
        """The body pages as spooled (rendered by `render`), in order, after `preliminary_pages`."""
        self._flush(final=True)
        self._spool.seek(0)
        for size in self._sizes:
            yield self._spool.read(size)
        self._spool.close()

    def preliminary_pages(self, title_lines: list[str], contents_heading: str) -> list[Page]:
        """The title page (each of `title_lines` centred, a blank row between them) and the contents
        (headed `contents_heading`), once the whole body is laid out."""
        self._flush(final=True)
        prelims = _Pager(self.cells, self.lines, numbered="p")
        for line in title_lines:
            prelims.add(centred(check_braille(line), self.cells), blank_before=True)
        prelims.finish_page()
        if self.contents:
            prelims.add(centred(check_braille(contents_heading), self.cells), keep_with_next=1)
            prelims.blank()
            for entry in self.contents:
                prelims.add(self._contents_rows(entry))
            prelims.finish_page()
        return prelims.take()

    def _contents_rows(self, entry: ContentsEntry) -> list[str]:
        """The heading, indented two cells per level below 1, then guide dots to its page number."""
        number = braille_number(entry.page)
        indent = 2 * (entry.level - 1)
        width = self.cells - len(number) - 3  # room for at least " ⠐ " before the number
        rows = wrap(entry.braille, width, indent, indent + 2) or [BLANK * indent]
        last = rows[-1].rstrip(BLANK)
        dots = self.cells - len(last) - len(number) - 2
        rows[-1] = last + BLANK + (GUIDE * dots if dots >= 2 else BLANK * max(dots, 0)) + BLANK + number
        return rows

    def close(self) -> None:
        self._spool.close()

    def __enter__(self) -> BookLayout:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _page_record(page: Page) -> bytes:
    """A page as the spool keeps it when it is not rendered: number, print page, then the rows."""
    return "\n".join([page.number, page.print_page or "", *page.rows]).encode("utf-8")


def _read_page_record(data: bytes) -> Page:
    number, print_page, *rows = data.decode("utf-8").split("\n")
    return Page(number, rows, print_page or None)
