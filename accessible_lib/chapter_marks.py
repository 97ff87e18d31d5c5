"""The chapter page's content kept ready: fitted (chapter_html.py) and sentence-marked (sentence_marks.py)
once per chapter, in the `chapter_marks` table (m031_chapter_marks), instead of on every visit. The two
steps were about two thirds of the chapter page's CPU at 150,000 books (docs/scaling.md).

Why a digest key and not invalidation by each writer: the marks depend on the chapter's html, title and
position, its language or the book's, the book's id (links and images become /books/{id}/... URLs) and
the rules of the code that makes them. The key is a digest of all of these, so a row made from anything
else (a rebuilt chapter, a book whose language staff changed, older marking code) is never shown: the
page computes the content as before. MARKS_VERSION is the code's part: bump it whenever fitting or
marking would give different HTML (chapter_markup.py, chapter_html.py, sentence_marks.py, the speech
walker and sentence split they reuse); test_chapter_marks.py fails until it is.

Why a placeholder for the back-link label: "Back to text" is translated per interface language and is
only the `aria-label` of note back-links, which the speech walker skips. The stored HTML holds a
placeholder there, replaced on the way out by the label as lxml would have written it, so one row serves
every language byte for byte.

Nothing here writes on a page visit: the chapter page only reads. Rows are written by imports and
rebuilds (importer.py) and by `accessible-lib fill-marks` (cli/fill_marks.py) for existing catalogues.

Why this module and the two it uses (chapter_html.py, sentence_marks.py) sit here and not under web/:
ingest writes the rows, so the rules that make them belong below both ingest and the pages; the page
reads them through page_content.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import lru_cache

from lxml import etree
from markupsafe import Markup
from sqlite_utils import Database

from .chapter_html import prepare_chapter_html
from .i18n import gettext
from .sentence_marks import mark_sentences

log = logging.getLogger(__name__)

MARKS_VERSION = 1
PLACEHOLDER = "\ue000back-to-text\ue001"  # private-use characters: never in a chapter of ours


@dataclass(frozen=True)
class Marked:
    html: str  # the fitted, sentence-marked content, with PLACEHOLDER for the back-link label
    title_html: str  # the title with its sentences marked, for the page's <h1>
    sentences: int  # how many sentences the listening route speaks for the chapter


def marks_key(book_id: int, chapter: dict, lang: str) -> str:
    """The digest of everything the chapter's marks depend on (`lang`: the chapter's, else the book's)."""
    parts = (MARKS_VERSION, book_id, chapter["position"], chapter["title"], lang)
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=16)
    digest.update(b"\0")
    digest.update((chapter["html"] or "").encode())
    return digest.hexdigest()


def storable(chapter: dict) -> bool:
    """Whether a chapter's content can be kept: not one that holds the placeholder itself."""
    return chapter["html"] is not None and PLACEHOLDER not in chapter["html"]


def compute(book_id: int, chapter: dict, lang: str, *, backlink_label: str = PLACEHOLDER) -> Marked:
    """The chapter's marks as the page has always computed them: the one path that fits and marks a
    chapter, for the rows kept and for the page. With the placeholder label (what is kept) by default;
    a chapter that cannot be kept is given the reader's own label instead."""
    content = prepare_chapter_html(
        chapter["html"], book_id=book_id, title=chapter["title"], backlink_label=backlink_label
    )
    html, title_html, count = mark_sentences(content, chapter, lang)
    return Marked(str(html), str(title_html), count)


def page_content(db: Database, book: dict, chapter: dict, lang: str) -> tuple[Markup, Markup, int]:
    """The chapter page's content, marked title and sentence count: from the stored row when it is
    current, else computed (and not stored: a page visit never writes)."""
    if not storable(chapter):  # its own html holds the placeholder: marked with the real label
        marked = compute(book["id"], chapter, lang, backlink_label=gettext("Back to text"))
        return Markup(marked.html), Markup(marked.title_html), marked.sentences
    key = marks_key(book["id"], chapter, lang)
    row = db.execute(
        "SELECT html, title_html, sentences FROM chapter_marks "
        "WHERE book_id = ? AND position = ? AND key = ?",
        [book["id"], chapter["position"], key],
    ).fetchone()
    marked = Marked(*row) if row else compute(book["id"], chapter, lang)
    return Markup(with_label(marked.html)), Markup(marked.title_html), marked.sentences


def with_label(html: str) -> str:
    """The stored content with the back-link label of the current interface language."""
    if PLACEHOLDER not in html:
        return html
    return html.replace(_serialized(PLACEHOLDER), _serialized(gettext("Back to text")))


@lru_cache(maxsize=16)
def _serialized(label: str) -> str:
    """`label` as lxml writes an attribute value in HTML (what fit_chapter's output holds)."""
    written = etree.tostring(etree.Element("a", {"aria-label": label}), method="html", encoding="unicode")
    return written[written.index('"') + 1 : written.rindex('"')]


def store_book(db: Database, book_id: int) -> int:
    """Compute and keep the marks of every chapter of one book whose row is missing or stale; returns
    how many were written. Called after an import or rebuild, in its own transaction."""
    return store_books(db, [book_id])


def store_books(db: Database, book_ids: list[int]) -> int:
    """`store_book` for several books in one transaction: a batch of a Calibre import, or of a fill."""
    return store_chapters(db, chapters_of(db, book_ids))


def store_chapters(db: Database, chapters: list[tuple[int, str | None, dict]]) -> int:
    """Keep the marks of (book id, book language, chapter) whose row is missing or stale, in one
    transaction; a chapter whose marking fails is logged and left to the page, which shows the error."""
    if not chapters:
        return 0
    keys = {}
    for book_id, language, chapter in chapters:
        if storable(chapter):
            keys[(book_id, chapter["position"])] = marks_key(book_id, chapter, chapter["lang"] or language)
    current = _current_keys(db, list(keys))
    rows = []
    for book_id, language, chapter in chapters:
        where = (book_id, chapter["position"])
        if where not in keys or current.get(where) == keys[where]:
            continue
        try:
            marked = compute(book_id, chapter, chapter["lang"] or language)
        except Exception:  # noqa: BLE001 - one odd chapter must not stop an import or a fill
            log.exception("could not mark chapter %s of book %s", chapter["position"], book_id)
            continue
        rows.append((*where, keys[where], marked.html, marked.title_html, marked.sentences))
    with db.conn:
        db.conn.executemany(
            "INSERT OR REPLACE INTO chapter_marks (book_id, position, key, html, title_html, sentences) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
    return len(rows)


def chapters_of(db: Database, book_ids: list[int]) -> list[tuple[int, str | None, dict]]:
    """(book id, book language, chapter) for every chapter of these books, as store_chapters takes them."""
    if not book_ids:
        return []
    marks = ",".join("?" * len(book_ids))
    languages = dict(db.execute(f"SELECT id, language FROM books WHERE id IN ({marks})", book_ids).fetchall())
    chapters = _chapters(db, f"book_id IN ({marks})", book_ids)
    return [(chapter["book_id"], languages.get(chapter["book_id"]), chapter) for chapter in chapters]


def _chapters(db: Database, where: str, params: list) -> list[dict]:
    cursor = db.execute(f"SELECT book_id, position, title, lang, html FROM chapters WHERE {where}", params)
    return [dict(zip(("book_id", "position", "title", "lang", "html"), row, strict=True)) for row in cursor]


def _current_keys(db: Database, places: list[tuple[int, int]]) -> dict[tuple[int, int], str]:
    book_ids = sorted({book_id for book_id, _ in places})
    found = {}
    for start in range(0, len(book_ids), 500):
        batch = book_ids[start : start + 500]
        marks = ",".join("?" * len(batch))
        for book_id, position, key in db.execute(
            f"SELECT book_id, position, key FROM chapter_marks WHERE book_id IN ({marks})", batch
        ):
            found[(book_id, position)] = key
    return found
