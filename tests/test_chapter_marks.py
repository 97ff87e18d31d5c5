"""The chapter page from stored marks (chapter_marks.py, m031_chapter_marks) is byte for byte the page
computed on the visit, for real imported books (an EPUB 3 with images and links, an EPUB 2, Chinese text)
and a chapter with a note, its back-link and links to another chapter, in English and Chinese; a row is
used only while it is current, and a signed-out or signed-in page reads it the same way."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from accessible_lib import catalogue, chapter_marks
from accessible_lib.importer import IMPORTED, import_file

from .conftest import make_book

ROOT = Path(__file__).resolve().parent.parent
REAL = [
    "en/alice-pg19033-nyu-epub3.epub",
    "en/pg17192-poe-the-raven-epub2.epub",
    "zh/zh-changhenge-bai-juyi.txt",
]
NOTES = (
    'Call me <em>Ishmael.</em> I sailed.<a role="doc-noteref" id="r1" href="#n1">1</a> '
    'See <a href="chapter:1#top">the next part</a> and <img src="resource:whale.png" alt="A whale.">'
    '\n\n<aside role="doc-footnote" id="n1"><p><a role="doc-backlink" href="#r1">↩</a> Whales. Big.</p>'
    "</aside>"
)


@pytest.fixture
def books(db, settings) -> list[int]:
    ids = []
    for name in REAL:
        result = import_file(db, settings, ROOT / "content" / name, rights="public-domain")
        assert result.status == IMPORTED, result.reason
        ids.append(result.book_id)
    notes = make_book("Notes", [("Loomings", NOTES), ("Two", "Dr. Smith came. 好。")], language="en")
    ids.append(catalogue.add_book(db, notes))
    return ids


def chapters(db, book_ids: list[int]) -> list[tuple[int, int]]:
    return [tuple(row) for row in db.execute(
        f"SELECT book_id, position FROM chapters WHERE book_id IN ({','.join('?' * len(book_ids))}) "
        "ORDER BY book_id, position", book_ids)]  # fmt: skip


def pages(client, places: list[tuple[int, int]], language: str) -> dict[tuple[int, int], bytes]:
    found = {}
    for book_id, position in places:
        response = client.get(f"/books/{book_id}/read/{position}", headers={"Accept-Language": language})
        assert response.status_code == 200
        found[(book_id, position)] = response.content
    return found


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_stored_page_is_the_computed_page_byte_for_byte(client, db, books, language) -> None:
    places = chapters(db, books)
    assert db.execute("SELECT count(*) FROM chapter_marks").fetchone()[0] == len(places) - 2  # imports keep
    db.execute("DELETE FROM chapter_marks")
    db.conn.commit()
    computed = pages(client, places, language)
    assert db.execute("SELECT count(*) FROM chapter_marks").fetchone()[0] == 0  # a visit never writes
    for book_id in books:
        chapter_marks.store_book(db, book_id)
    assert db.execute("SELECT count(*) FROM chapter_marks").fetchone()[0] == len(places)
    holding = "SELECT count(*) FROM chapter_marks WHERE html LIKE ?"
    assert db.execute(holding, [f"%{chapter_marks.PLACEHOLDER}%"]).fetchone()[0] >= 1  # a back-link
    stored = pages(client, places, language)
    for place in places:
        assert stored[place] == computed[place], place
    label = "Back to text" if language == "en" else "返回正文"
    assert f'aria-label="{label}"'.encode() in stored[(books[-1], 1)]


def test_the_page_reads_a_current_row_and_ignores_a_stale_one(client, db, books) -> None:
    book_id = books[-1]  # added without the importer: no rows yet
    original = client.get(f"/books/{book_id}/read/2").text
    assert chapter_marks.store_book(db, book_id) == 2
    db.execute("UPDATE chapter_marks SET html = '<p>kept</p>' WHERE book_id = ? AND position = 2", [book_id])
    db.conn.commit()
    assert "<p>kept</p>" in client.get(f"/books/{book_id}/read/2").text  # the row is what the page shows
    db.execute("UPDATE books SET language = 'zh-Hans' WHERE id = ?", [book_id])  # as a staff edit does
    db.conn.commit()
    changed = client.get(f"/books/{book_id}/read/2").text
    assert "<p>kept</p>" not in changed and 'lang="zh-Hans"' in changed
    db.execute("UPDATE books SET language = 'en' WHERE id = ?", [book_id])
    db.conn.commit()
    assert chapter_marks.store_book(db, book_id) == 0  # the key still matches the tampered row...
    db.execute("UPDATE chapter_marks SET key = 'old' WHERE book_id = ?", [book_id])
    db.conn.commit()
    assert chapter_marks.store_book(db, book_id) == 2  # ...a stale key is rebuilt
    assert client.get(f"/books/{book_id}/read/2").text == original


def test_a_rebuilt_chapter_drops_its_row(db, books) -> None:
    book_id = books[0]
    before = db.execute("SELECT count(*) FROM chapter_marks WHERE book_id = ?", [book_id]).fetchone()[0]
    assert before > 0
    with db.conn:
        db.execute("DELETE FROM chapters WHERE book_id = ? AND position = 1", [book_id])
    after = db.execute("SELECT count(*) FROM chapter_marks WHERE book_id = ?", [book_id]).fetchone()[0]
    assert after == before - 1


# The marks of the fixture chapters, as MARKS_VERSION promises them. When fitting or marking changes what
# it writes, this fails: bump MARKS_VERSION (so every stored row is rebuilt) and record the new digest.
DIGESTS = {1: "4377b66403bd199182e2c81a26dd4828f93bd1b3b6053729b9129838fc9b3b33"}


def test_marks_version_moves_with_the_marking_rules(db, books) -> None:
    digest = hashlib.sha256()
    for book_id, language, chapter in chapter_marks.chapters_of(db, books):
        marked = chapter_marks.compute(book_id, chapter, chapter["lang"] or language)
        digest.update(repr((chapter["position"], marked)).encode())
    assert DIGESTS[chapter_marks.MARKS_VERSION] == digest.hexdigest()


@pytest.mark.parametrize(("language", "label"), [("en", "Back to text"), ("zh", "返回正文")])
def test_a_chapter_holding_the_placeholder_is_marked_with_the_readers_label(client, db, language, label):
    """Such a chapter cannot be kept (its own text would be replaced on the way out): the page marks it on
    the visit through the same compute, with the label of the reader's language and its text intact."""
    odd = NOTES.replace("Big.", f"Big {chapter_marks.PLACEHOLDER}.")
    book_id = catalogue.add_book(db, make_book("Odd", [("Loomings", odd)], language="en"))
    assert chapter_marks.store_book(db, book_id) == 0
    page = client.get(f"/books/{book_id}/read/1", headers={"Accept-Language": language})
    assert page.status_code == 200
    assert f'aria-label="{label}"' in page.text and chapter_marks.PLACEHOLDER in page.text
    assert 'data-s="' in page.text  # sentence-marked as every other chapter
