"""Braille pages, BRF and PEF from real translated text: sizes, numbers, wrapping, headings, contents."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from lxml import etree

from braille import brf, pef
from braille.brf import ASCII_BRAILLE, to_ascii, write_brf
from braille.layout import (
    BLANK,
    HYPHEN,
    Block,
    BookLayout,
    LayoutError,
    Page,
    braille_number,
    wrap,
)
from braille.pef import PEF_NS, write_pef
from braille.translate import translate

from .pef_check import validate_pefs

CORPUS = Path(__file__).parent.parent / "corpus"


def en(text: str) -> str:
    return translate(text, "en-ueb-g2").braille


def zh(text: str) -> str:
    return translate(text, "zhcn-cbs").braille


def book(cells: int = 40, lines: int = 25) -> tuple[list[Page], BookLayout]:
    layout = laid_out(cells, lines)
    pages = list(layout.pages(TITLE, en("Contents")))
    return pages, layout


def laid_out(cells: int = 40, lines: int = 25, render=None) -> BookLayout:
    """Frankenstein's first letters, as chapters with headings, a sub-heading, items and print pages."""
    text = (CORPUS / "text" / "en" / "pg84-frankenstein-with-pg-header.txt").read_text(encoding="utf-8")
    letters = re.split(r"\n(LETTER [IV]+\.)\n", text[text.index("LETTER I.") - 1 :])[1:9]
    layout = BookLayout(cells=cells, lines=lines, print_pages=True, render=render)
    page = 1
    for heading, body in zip(letters[::2], letters[1::2], strict=True):
        blocks = [Block("heading", en(heading.title()), 1)]
        for number, paragraph in enumerate(p for p in body.split("\n\n") if p.strip()):
            if number % 3 == 0:
                page += 1
                blocks.append(Block("paragraph", en(paragraph), print_page=braille_number(page)))
            else:
                blocks.append(Block("paragraph", en(paragraph)))
        blocks.insert(2, Block("heading", en("From the ship"), 3))
        blocks.append(
            Block("item", en("A list item long enough to run over onto a second braille line here."))
        )
        layout.add_chapter(blocks)
    return layout


TITLE = [en("Frankenstein"), en("Mary Shelley")]


@pytest.mark.parametrize(("cells", "lines"), [(40, 25), (32, 20), (20, 10), (60, 50)])
def test_every_page_keeps_to_its_size_and_carries_its_number(cells: int, lines: int) -> None:
    pages, _ = book(cells, lines)
    prelims = [p for p in pages if p.number.startswith("p")]
    body = [p for p in pages if not p.number.startswith("p")]
    assert [p.number for p in prelims] == [f"p{i}" for i in range(1, len(prelims) + 1)]
    assert [p.number for p in body] == [str(i) for i in range(1, len(body) + 1)]
    for page in pages:
        assert len(page.rows) == lines, page.number
        assert all(len(row) <= cells for row in page.rows), page.number
        prefix = "\u280f" if page.number.startswith("p") else ""
        number = braille_number(page.number.lstrip("p"), prefix)
        assert page.rows[-1].endswith(number) and page.rows[-1].rstrip(BLANK).lstrip(BLANK) == number
        assert page.rows[-1].index(number) >= 3
        text_rows = page.rows[1:-1] if not page.number.startswith("p") else page.rows[:-1]
        assert text_rows[0] != "" or not any(text_rows), f"blank row at the top of page {page.number}"


def test_words_are_never_split_except_when_longer_than_a_row() -> None:
    paragraph = en("Short words then " + "x" * 95 + " and more words after it.")
    rows = wrap(paragraph, 40, 2, 0)
    assert all(len(row) <= 40 for row in rows)
    long_rows = [row for row in rows if row.endswith(HYPHEN)]
    assert len(long_rows) == 2 and all(len(row) == 40 for row in long_rows)
    words = paragraph.split(BLANK)
    rejoined = BLANK.join(rows).replace(HYPHEN + BLANK, "")
    assert [w for w in rejoined.split(BLANK) if w] == [w for w in words if w]
    assert rows[0].startswith(BLANK * 2) and not rows[1].startswith(
        BLANK
    )  # paragraph: cell 3, runover cell 1


def test_headings_are_centred_or_indented_and_start_pages() -> None:
    pages, layout = book()
    for entry in layout.contents:
        page = next(p for p in pages if p.number == entry.page)
        rows = [row.strip(BLANK) for row in page.rows]
        assert any(entry.braille.startswith(row) for row in rows if row), entry
        if entry.level == 1:
            text_rows = [r for r in page.rows[1:-1]]
            first = next(r for r in text_rows if r.strip(BLANK))
            left = len(first) - len(first.lstrip(BLANK))
            assert left >= 3 and abs((40 - len(first.rstrip(BLANK))) - left) <= 1  # centred
        else:
            row = next(r for r in page.rows if r.strip(BLANK) and entry.braille.startswith(r.strip(BLANK)))
            assert row.startswith(BLANK * 4) and not row.startswith(BLANK * 5)  # cell 5


def test_contents_give_each_headings_braille_page() -> None:
    pages, layout = book()
    contents = [p for p in pages if p.number.startswith("p")][1:]
    text = "".join("".join(p.rows) for p in contents)
    assert en("Contents") in text
    for entry in layout.contents:
        number = braille_number(entry.page)
        assert re.search(re.escape(entry.braille[:10]) + ".*?\u2810\u2810" + ".*?" + re.escape(number), text)


def test_print_page_numbers_are_shown() -> None:
    pages, _ = book()
    body = [p for p in pages if not p.number.startswith("p")]
    shown = [p.rows[0].strip(BLANK) for p in body if p.rows[0].strip(BLANK)]
    assert braille_number(3) in shown
    indicators = [row for p in body for row in p.rows if row.startswith(HYPHEN * 10)]
    assert indicators and all(re.fullmatch(f"{HYPHEN}+\u283c[\u2801-\u281b]+", row) for row in indicators)


def test_brf_is_north_american_ascii_braille_with_form_feeds(tmp_path: Path) -> None:
    pages, _ = book()
    out = io.BytesIO()
    assert write_brf(pages, out) == len(pages)
    data = out.getvalue()
    chunks = data.split(b"\f")
    assert len(chunks) == len(pages)
    for chunk, page in zip(chunks, pages, strict=True):
        lines = chunk.split(b"\r\n")
        assert lines[-1] == b"" and len(lines) - 1 == len(page.rows) == 25
        for line in lines:
            assert len(line) <= 40 and set(line.decode("ascii")) <= set(ASCII_BRAILLE)
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert to_ascii("\u2801\u2803\u2800\u283f") == "AB ="


def test_brf_refuses_eight_dot_cells() -> None:
    with pytest.raises(ValueError):
        to_ascii("\u2841")
    with BookLayout() as layout, pytest.raises(LayoutError):
        layout.add_chapter([Block("paragraph", "\u28ff")])


@pytest.mark.parametrize(("cells", "lines"), [(19, 25), (61, 25), (40, 9), (40, 51)])
def test_page_sizes_out_of_range_are_refused(cells: int, lines: int) -> None:
    with pytest.raises(LayoutError):
        BookLayout(cells=cells, lines=lines)


def _pef(pages: list[Page], path: Path, **extra) -> Path:
    with path.open("wb") as out:
        write_pef(
            pages, out, cells=40, lines=25, title="Frankenstein & <Mary>", identifier="urn:uuid:1234",
            language="en", creators=["Mary Shelley"], date="2026-11-25", **extra,
        )  # fmt: skip
    return path


@pytest.mark.parametrize("fmt", ["brf", "pef"])
def test_pages_rendered_as_they_are_laid_out_make_the_same_file(fmt: str, tmp_path: Path) -> None:
    """Editions spool body pages already as BRF or PEF (BookLayout's `render`) and write the preliminary
    pages before them: the file is byte for byte the one written from the pages, PEF volumes included."""
    module = {"brf": brf, "pef": pef}[fmt]
    pages, _ = book()

    def write(pages: list, path: Path) -> bytes:
        with path.open("wb") as out:
            if fmt == "brf":
                assert brf.write_brf(pages, out) == len(pages)
            else:
                pef.write_pef(
                    pages,
                    out,
                    cells=40,
                    lines=25,
                    title="F",
                    identifier="u",
                    language="en",
                    pages_per_volume=3,
                )
        return path.read_bytes()

    layout = laid_out(render=module.page_bytes)
    with pytest.raises(LayoutError):
        next(layout.pages(TITLE, en("Contents")))
    early = [*layout.preliminary_pages(TITLE, en("Contents")), *layout.rendered()]
    assert all(isinstance(page, bytes) for page in early[-layout.body_pages :])
    assert len(early) == len(pages) > 6
    assert write(early, tmp_path / "early") == write(pages, tmp_path / "late")


@pytest.mark.parametrize("fmt", ["brf", "pef"])
def test_checked_pages_render_the_same_and_unchecked_ones_are_still_searched(fmt: str) -> None:
    """Editions render the layout's pages with `checked=True` (the layout checked every block): the bytes
    are the same as when every page is searched again; a page from elsewhere is still refused."""
    module = {"brf": brf, "pef": pef}[fmt]
    pages, _ = book()
    assert [module.page_bytes(page, checked=True) for page in pages] == [
        module.page_bytes(page) for page in pages
    ]
    with pytest.raises(ValueError):  # LayoutError is a ValueError too
        module.page_bytes(Page("1", ["\u2801a\u2803"]))


def test_pef_has_the_same_pages_as_the_brf_and_validates(tmp_path: Path) -> None:
    pages, _ = book()
    small = _pef(pages, tmp_path / "book.pef", pages_per_volume=5)
    chinese = BookLayout()
    chinese.add_chapter(
        [
            Block("heading", zh("第一回"), 1),
            Block("paragraph", zh("草地上的花是风吹开的。银行行长第3次来。" * 20)),
        ]
    )
    zh_pef = _pef(list(chinese.pages([zh("红楼梦")], zh("目录"))), tmp_path / "zh.pef")
    broken = tmp_path / "broken.pef"
    broken.write_text(
        small.read_text(encoding="utf-8")
        .replace("<dc:format>", "<dc:fmt>")
        .replace("</dc:format>", "</dc:fmt>")
    )
    results = validate_pefs([small, zh_pef, broken])
    assert results[str(small)] == "VALID", results[str(small)]
    assert results[str(zh_pef)] == "VALID", results[str(zh_pef)]
    assert results[str(broken)] != "VALID"  # the validator does reject a bad file
    root = etree.parse(str(small)).getroot()
    volumes = root.findall(f".//{{{PEF_NS}}}volume")
    assert len(volumes) == -(-len(pages) // 5)
    pef_pages = root.findall(f".//{{{PEF_NS}}}page")
    assert len(pef_pages) == len(pages)
    for pef_page, page in zip(pef_pages, pages, strict=True):
        rows = [row.text or "" for row in pef_page.findall(f"{{{PEF_NS}}}row")]
        assert rows == [row.rstrip(BLANK) for row in page.rows]
    assert root.find(".//{http://purl.org/dc/elements/1.1/}title").text == "Frankenstein & <Mary>"
