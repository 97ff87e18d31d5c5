"""Every book of the test corpus, whole, through the real braille converters into BRF and PEF.

Every BRF page is checked for its size limits and its braille page number, every PEF against the PEF 2008-1
schema (one JVM for all), and PEF and BRF must hold the same pages.
"""

from __future__ import annotations

import json
import re
from difflib import SequenceMatcher
from pathlib import Path

import pytest
from lxml import etree

from accessible_lib.db import open_database
from accessible_lib.editions.export import export_book
from accessible_lib.editions.formats import OptionError, get_format, normalise_options
from accessible_lib.editions.runner import run_conversion
from accessible_lib.importer import IMPORTED, import_paths
from accessible_lib.settings import Settings
from braille.brf import ASCII_BRAILLE, to_ascii
from braille.layout import braille_number
from braille.pef import PEF_NS
from braille.translate import back_translate

from .book_helpers import corpus_books
from .braille.pef_check import validate_pefs

pytestmark = pytest.mark.slow

CORPUS = Path(__file__).parent / "corpus"

BOOKS = corpus_books()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    settings = Settings.from_env({}, data_dir=tmp_path_factory.mktemp("braille-corpus") / "data")
    db = open_database(settings.database_path)
    try:
        books = {}
        for path in BOOKS:
            [result] = list(import_paths(db, settings, [path]))
            assert result.status == IMPORTED, f"{path.name}: {result.reason}"
            books[path.name] = json.loads(json.dumps(export_book(db, result.book_id)))
        return books
    finally:
        db.close()


@pytest.fixture(scope="module")
def editions(
    corpus: dict, tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], tuple[Path, list]]:
    made = {}
    for name, book in corpus.items():
        for fmt in ("brf", "pef"):
            workspace = tmp_path_factory.mktemp(f"{Path(name).stem[:20]}-{fmt}")
            steps = _Steps()
            files = run_conversion(book, fmt, {}, workspace, steps.append_step)
            made[name, fmt] = (workspace / files[0]["name"], steps)
    return made


class _Steps(list):
    def append_step(self, fraction: float, step: str) -> None:
        self.append(step)


def brf_pages(path: Path) -> list[list[str]]:
    data = path.read_bytes().decode("ascii")
    return [chunk.split("\r\n")[:-1] for chunk in data.split("\f")]


@pytest.mark.parametrize("name", [p.name for p in BOOKS])
def test_every_brf_page_keeps_its_size_and_number(editions: dict, name: str) -> None:
    path, _ = editions[name, "brf"]
    pages = brf_pages(path)
    assert len(pages) >= 2  # a title page, at least one page of text
    prelims = body = 0
    for rows in pages:
        assert len(rows) == 25
        assert all(len(row) <= 40 and set(row) <= set(ASCII_BRAILLE) for row in rows)
        number = rows[-1].strip()
        if number.startswith("P"):
            prelims += 1
            assert number == to_ascii(braille_number(prelims, "\u280f"))
        else:
            body += 1
            assert number == to_ascii(braille_number(body)), (name, body, rows[-1])
        assert rows[-1].endswith(number) and rows[-1].index(number) >= 3


def test_pef_validates_and_has_the_brf_pages(editions: dict) -> None:
    pefs = [editions[p.name, "pef"][0] for p in BOOKS]
    results = validate_pefs(pefs)
    assert {Path(path).parent.name: report for path, report in results.items() if report != "VALID"} == {}
    for book in BOOKS[:4] + BOOKS[-4:]:
        root = etree.parse(str(editions[book.name, "pef"][0])).getroot()
        pef_rows = [
            [to_ascii(row.text or "").rstrip(" ") for row in page.iter(f"{{{PEF_NS}}}row")]
            for page in root.iter(f"{{{PEF_NS}}}page")
        ]
        assert pef_rows == brf_pages(editions[book.name, "brf"][0])


def test_chinese_books_are_in_chinese_braille(corpus: dict, editions: dict) -> None:
    path, _ = editions["zh-chibifu-su-shi.txt", "pef"]
    text = path.read_text(encoding="utf-8")
    assert "<dc:language>zh-Hans</dc:language>" in text
    assert "\u2840" not in text and "\\x" not in text
    # 赤壁赋 in the table's own words, as the contents would list it
    from braille.translate import translate

    assert translate("赤壁赋", "zhcn-cbs").braille in text


def test_braille_options_are_checked() -> None:
    fmt = get_format("brf")
    assert normalise_options(fmt, {}) == {"table": "", "cells": 40, "lines": 25, "word_spacing": True}
    assert normalise_options(fmt, {"table": "de-g2", "cells": "32", "lines": "28"})["cells"] == 32
    for bad in ({"table": "../../etc/passwd"}, {"cells": 80}, {"lines": 5}, {"table": "nope"}):
        with pytest.raises(OptionError):
            normalise_options(fmt, bad)


def test_page_size_options_reach_the_pages(corpus: dict, tmp_path: Path) -> None:
    book = corpus["zh-changhenge-bai-juyi.txt"]
    files = run_conversion(book, "brf", {"cells": 28, "lines": 14}, tmp_path, lambda fraction, step: None)
    pages = brf_pages(tmp_path / files[0]["name"])
    assert all(len(rows) == 14 and all(len(row) <= 28 for row in rows) for rows in pages)


FROM_ASCII = {char: chr(0x2800 + dots) for dots, char in enumerate(ASCII_BRAILLE)}


def _body_text(path: Path) -> str:
    """The body pages of a BRF back in Unicode braille, without page numbers, one row after another."""
    rows = []
    for page in brf_pages(path):
        if page[-1].strip().startswith("P"):  # title page and contents
            continue
        rows += [row for row in page[:-1] if row.strip()]
    return "\u2800".join("".join(FROM_ASCII[c] for c in row) for row in rows)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


@pytest.mark.parametrize(("table", "share"), [("en-ueb-g1", 1.0), ("en-ueb-g2", 0.95), ("en-us-g2", 0.95)])
def test_brf_back_translates_to_the_source_words(
    corpus: dict, tmp_path: Path, table: str, share: float
) -> None:
    """The BRF's body, back-translated with its own table, gives back the book's words: all of them in
    grade 1, at least 95% (in order) in grade 2, which is lossy by design."""
    book = dict(corpus["pg84-frankenstein-with-pg-header.txt"])
    book["chapters"] = book["chapters"][:4]
    files = run_conversion(book, "brf", {"table": table}, tmp_path, lambda fraction, step: None)
    back = _words(back_translate(_body_text(tmp_path / files[0]["name"]), table))
    source = _words(" ".join(f"{c['title']} {c['text']}" for c in book["chapters"]))
    same = sum(
        block.size for block in SequenceMatcher(None, source, back, autojunk=False).get_matching_blocks()
    )
    assert len(source) > 5000 and same / len(source) >= share, (
        f"{same / len(source):.2%} of {len(source)} words"
    )


def test_characters_without_braille_are_counted_in_the_edition(corpus: dict, tmp_path: Path) -> None:
    book = dict(corpus["zh-chibifu-su-shi.txt"])
    chapter = dict(book["chapters"][0], html="<p>赤壁 😀 🀄 之下。</p>", text="赤壁 😀 🀄 之下。")
    book["chapters"] = [chapter]
    steps = _Steps()
    run_conversion(book, "brf", {}, tmp_path, steps.append_step)
    assert "2 characters had no braille" in steps[-1]


def test_the_title_page_names_the_braille_code_in_the_books_language() -> None:
    from accessible_lib.editions.braille_edition import edition_words

    assert (
        edition_words("en-ueb-g2", "en")
        == "Braille edition: English, Unified English Braille, grade 2 (contracted)"
    )
    assert edition_words("zhcn-cbs", "zh-Hans") == "盲文版：中文，国家通用盲文（GF 0019-2018）"
    assert (
        edition_words("de-g2.ctb", "en") == "Braille edition: de-g2.ctb"
    )  # any installed table, by its file
