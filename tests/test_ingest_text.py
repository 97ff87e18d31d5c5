"""Plain-text books: encodings, Project Gutenberg boilerplate, chapters and paragraphs."""

from __future__ import annotations

import codecs
import hashlib
import re
from pathlib import Path

import pytest

from accessible_lib.ingest import ingest_file
from accessible_lib.ingest.encoding import decode_text
from accessible_lib.ingest.errors import IngestError
from accessible_lib.ingest.text import SECTION_CHARS, parse_text, read_text
from accessible_lib.settings import Settings

TEXT = Path(__file__).parent / "corpus" / "text"
ZH = sorted((TEXT / "zh").glob("*.txt"))
FRANKENSTEIN = TEXT / "en" / "pg84-frankenstein-with-pg-header.txt"


def _read(path: Path, settings: Settings):
    return read_text(path, settings, checksum="0" * 64, source_name=path.name)


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


# Encodings ----------------------------------------------------------------------------------------------


def _encodable(text: str, encoding: str) -> str:
    """The text without the few characters (such as ・) that a legacy encoding has no code for."""
    return "".join(char for char in text if char in "\n" or char.encode(encoding, "ignore"))


@pytest.mark.parametrize("path", ZH, ids=lambda p: p.stem)
@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("gb18030", b""),
        ("gbk", b""),
        ("utf-16-le", b""),
        ("utf-16-be", b""),
        ("utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-16-be", codecs.BOM_UTF16_BE),
        ("utf-32-le", codecs.BOM_UTF32_LE),
        ("utf-8", codecs.BOM_UTF8),
    ],
)
def test_chinese_texts_round_trip(path: Path, encoding: str, bom: bytes) -> None:
    text = _encodable(path.read_text(encoding="utf-8"), encoding)
    decoded, _ = decode_text(bom + text.encode(encoding))
    assert decoded == text


@pytest.mark.parametrize("encoding", ["big5", "cp950"])
def test_traditional_chinese_in_big5(encoding: str) -> None:
    text = _encodable((TEXT / "zh" / "zh-guwenguanzhi-traditional.txt").read_text("utf-8"), encoding)
    decoded, found = decode_text(text.encode(encoding))
    assert decoded == text
    assert found in {"big5", "cp950"}


def test_short_gbk_and_big5_snippets_are_told_apart() -> None:
    simplified = "汉皇重色思倾国，御宇多年求不得。杨家有女初长成，养在深闺人未识。"
    traditional = "漢皇重色思傾國，御宇多年求不得。楊家有女初長成，養在深閨人未識。"
    assert decode_text(simplified.encode("gbk"))[0] == simplified
    assert decode_text(traditional.encode("big5"))[0] == traditional


def test_western_legacy_text() -> None:
    text = "Il était une fois, à Paris, un garçon très naïf qui rêvait de crème brûlée.\n" * 5
    assert decode_text(text.encode("cp1252"))[0] == text


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(256)),
        b"plain words\x00 with a NUL\x00 byte in the middle of them.",
        b"",
        b"   \n\n  ",
    ],
    ids=["png", "nul", "empty", "blank"],
)
def test_binary_and_empty_files_are_rejected(data: bytes) -> None:
    with pytest.raises(IngestError):
        decode_text(data)


def test_bad_bytes_after_a_utf8_bom_are_rejected() -> None:
    with pytest.raises(IngestError, match="UTF-8"):
        decode_text(codecs.BOM_UTF8 + b"caf\xe9 \xff\xfe")


# Project Gutenberg --------------------------------------------------------------------------------------


def test_frankenstein_metadata_from_gutenberg_header(settings: Settings) -> None:
    book = _read(FRANKENSTEIN, settings)
    assert book.title == "Frankenstein"
    assert book.subtitle == "or, The Modern Prometheus"
    assert book.authors == ["Mary W. Shelley"]
    assert book.language == "en"
    assert book.date == "2013-03-13"
    assert ("gutenberg", "42324") in book.identifiers
    assert book.source_format == "txt"
    assert book.rights == "public-domain"


def test_frankenstein_chapters(settings: Settings) -> None:
    book = _read(FRANKENSTEIN, settings)
    titles = [chapter.title for chapter in book.chapters]
    letters = [t for t in titles if t.startswith("Letter")]
    chapters = [t for t in titles if t.startswith("Chapter")]
    assert titles[-2:] == ["Project Gutenberg header", "The Project Gutenberg licence"]
    assert letters == ["Letter I", "Letter II", "Letter III", "Letter IV"]
    assert len(chapters) == 24
    assert chapters[0] == "Chapter I" and chapters[-1] == "Chapter XXIV"
    assert titles.index("Letter IV") < titles.index("Chapter I")
    assert [entry.title for entry in book.toc] == titles
    assert book.chapters[titles.index("Letter I")].text.startswith("_To Mrs. Saville, England._")
    last_body = [chapter for chapter in book.chapters if chapter.kind == "body"][-1]
    assert "lost in darkness and distance." in last_body.text
    assert "End of the Project Gutenberg" not in last_body.text


def test_gutenberg_boilerplate_is_back_matter(settings: Settings) -> None:
    """The header and licence are kept (the licence must travel with the text) but never read as the book."""
    book = _read(FRANKENSTEIN, settings)
    kinds = [chapter.kind for chapter in book.chapters]
    assert kinds == ["body"] * (len(kinds) - 2) + ["back", "back"]
    body = "\n".join(chapter.text for chapter in book.chapters if chapter.kind == "body")
    assert "Project Gutenberg" not in body
    assert "Produced by" not in body
    assert "*** END OF" not in body
    header, licence = (chapter.text for chapter in book.chapters[-2:])
    assert header.startswith("Project Gutenberg's Frankenstein") or "Title: Frankenstein" in header
    assert "*** START OF" in header and "Produced by" in header
    assert licence.startswith("End of the Project Gutenberg") and "*** END OF" in licence
    assert "Project Gutenberg-tm" in licence


def test_old_style_small_print_header() -> None:
    text = (
        "The Project Gutenberg Etext of Old Book\n\nTitle: Old Book\n\nAuthor: A. Writer\n\n"
        "Lots of legal text here.\n\n*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*\n\n"
        "It was a fine morning when the story began.\n\nEnd of the Project Gutenberg Etext of Old Book\n"
    )
    book = parse_text(text, checksum="x", source_name="old.txt")
    assert book.title == "Old Book"
    assert book.authors == ["A. Writer"]
    assert [c.text for c in book.chapters if c.kind == "body"] == [
        "It was a fine morning when the story began."
    ]
    assert [c.title for c in book.chapters if c.kind == "back"] == [
        "Project Gutenberg header",
        "The Project Gutenberg licence",
    ]


# Chapters -----------------------------------------------------------------------------------------------

PROSE = (
    "It was a bright cold day in April, and the clocks were striking thirteen. The hallway smelt of "
    "boiled cabbage and old rag mats, and at one end of it a coloured poster had been tacked to the wall."
)


def test_table_of_contents_is_not_taken_for_chapters() -> None:
    contents = "\n\n".join(f"Chapter {n}" for n in range(1, 6))
    body = "\n\n".join(f"Chapter {n}\n\n{PROSE} ({n})" for n in range(1, 6))
    text = f"A Book\n\nCONTENTS\n\n{contents}\n\n\n{body}\n"
    book = parse_text(text, checksum="x", source_name="a.txt")
    assert [c.title for c in book.chapters] == [f"Chapter {n}" for n in range(1, 6)]
    assert all(c.text == f"{PROSE} ({n})" for n, c in enumerate(book.chapters, 1))


def test_books_and_chapters_nest() -> None:
    parts = []
    for book_number in ("ONE", "TWO"):
        parts.append(f"BOOK {book_number}: 1805")
        parts.extend(f"CHAPTER {roman}\n\n{PROSE}" for roman in ("I", "II", "III"))
    book = parse_text("\n\n".join(parts), checksum="x", source_name="w.txt")
    assert [(c.level, c.title) for c in book.chapters[:4]] == [
        (1, "Book One: 1805"),
        (2, "Chapter I"),
        (2, "Chapter II"),
        (2, "Chapter III"),
    ]
    assert len(book.chapters) == 8
    assert [e.level for e in book.toc] == [c.level for c in book.chapters]


def test_front_matter_with_prose_is_kept_and_title_page_dropped() -> None:
    kept = parse_text(f"{PROSE}\n\nChapter 1\n\n{PROSE}", checksum="x", source_name="a.txt")
    assert len(kept.chapters) == 2 and kept.chapters[0].text == PROSE
    dropped = parse_text(f"MY BOOK\n\nBY A. WRITER\n\nChapter 1\n\n{PROSE}", checksum="x", source_name="b")
    assert [c.title for c in dropped.chapters] == ["Chapter 1"]


def test_heading_words_inside_prose_are_not_headings() -> None:
    text = (
        "The Letter\n\nHe read the letter twice.\nChapter 3 of the report was missing.\n\n"
        "Letter I wrote yesterday never came, and the part of it that mattered was lost.\n\n" + PROSE
    )
    book = parse_text(text, checksum="x", source_name="a.txt")
    assert len(book.chapters) == 1


def _chinese_number(n: int) -> str:
    digits = "零一二三四五六七八九"
    tens, units = divmod(n, 10)
    if tens == 0:
        return digits[units]
    return ("" if tens == 1 else digits[tens]) + "十" + (digits[units] if units else "")


def test_chinese_hui_headings() -> None:
    prose = "话说宝玉听了这话，心中十分欢喜，便往贾母处来。众人都笑了。"
    text = "\n\n".join(f"第{_chinese_number(n)}回　回目{n}\n\n{prose}" for n in range(1, 81))
    book = parse_text(text, checksum="x", source_name="novel.txt")
    assert len(book.chapters) == 80
    assert book.chapters[0].title == "第一回 回目1"
    assert book.chapters[79].title == "第八十回 回目80"
    assert all(c.text == prose for c in book.chapters)


@pytest.mark.parametrize(
    ("heading", "level_of_next"), [("第一章", None), ("第十二节", None), ("卷一", 2), ("楔子", None)]
)
def test_other_chinese_headings(heading: str, level_of_next: int | None) -> None:
    prose = "子曰：学而时习之，不亦说乎？有朋自远方来，不亦乐乎？"
    following = "\n第一章\n" + prose if level_of_next else ""
    book = parse_text(f"{heading}\n{prose}{following}", checksum="x", source_name="a.txt")
    assert book.chapters[0].title == heading
    if level_of_next:
        assert book.chapters[1].level == level_of_next


def test_lunyu_has_twenty_books(settings: Settings) -> None:
    book = _read(TEXT / "zh" / "zh-lunyu-simplified.txt", settings)
    assert book.title == "论语"
    assert book.authors == []
    assert len(book.chapters) == 20
    assert book.chapters[0].title == "学而篇" and book.chapters[-1].title == "尧曰篇"
    assert book.chapters[0].text.startswith("子曰：“学而时习之")
    assert book.language == "zh-Hans"


def test_doueyuan_acts_and_author(settings: Settings) -> None:
    book = _read(TEXT / "zh" / "zh-doueyuan-guan-hanqing.txt", settings)
    assert book.title == "窦娥冤"
    assert book.authors == ["关汉卿"]
    assert [c.title for c in book.chapters] == ["楔子", "第一折", "第二折", "第三折", "第四折"]


@pytest.mark.parametrize(
    ("name", "title", "authors"),
    [
        ("zh-changhenge-bai-juyi.txt", "长恨歌", []),
        ("zh-chibifu-su-shi.txt", "赤壁赋", ["苏轼"]),
        ("zh-lisao-qu-yuan.txt", "离骚", []),
        ("zh-shiji-xiangyu-benji.txt", "史记•项羽本纪", []),
    ],
)
def test_short_chinese_works_are_one_chapter(
    settings: Settings, name: str, title: str, authors: list[str]
) -> None:
    book = _read(TEXT / "zh" / name, settings)
    assert book.title == title
    assert book.authors == authors
    assert [c.title for c in book.chapters] == [title]


def test_traditional_chinese_volumes(settings: Settings) -> None:
    book = _read(TEXT / "zh" / "zh-guwenguanzhi-traditional.txt", settings)
    assert book.language == "zh-Hant"
    volumes = [c.title for c in book.chapters if c.level == 1]
    assert volumes[0] == "卷一・周文" and volumes[-1] == "卷十二・明文"
    assert len(volumes) == 12


@pytest.mark.parametrize("path", ZH, ids=lambda p: p.stem)
def test_no_chinese_text_is_lost(settings: Settings, path: Path) -> None:
    book = _read(path, settings)
    rebuilt = book.title if book.title in path.read_text("utf-8") else ""
    rebuilt += "".join(book.authors)
    if len(book.chapters) > 1 or book.chapters[0].title != book.title:
        for chapter in book.chapters:
            section = _squeeze(chapter.text).startswith(_squeeze(chapter.title.rstrip("…")))
            rebuilt += ("" if section else chapter.title) + chapter.text
    else:
        rebuilt += book.chapters[0].text
    original = _squeeze(path.read_text("utf-8")).replace("《", "").replace("》", "").replace("(", "")
    rebuilt = _squeeze(rebuilt).replace("《", "").replace("》", "").replace("(", "")
    assert rebuilt.replace(")", "") == original.replace(")", "")


def test_long_text_without_headings_is_split_at_paragraphs(settings: Settings) -> None:
    book = _read(TEXT / "zh" / "zh-hongloumeng-ch001-080-commas-stripped.txt", settings)
    total = sum(len(c.text) for c in book.chapters)
    assert len(book.chapters) >= total // (SECTION_CHARS * 2)
    assert all(len(c.text) < SECTION_CHARS * 3 for c in book.chapters)
    assert book.chapters[0].title.startswith("此开卷第一回也")
    assert len({c.title for c in book.chapters}) == len(book.chapters)


def test_short_text_without_headings_is_one_chapter_named_after_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a_quiet-evening.txt"
    path.write_text(PROSE + "\n\n" + PROSE, encoding="utf-8")
    book = read_text(path, Settings(), checksum="x", source_name=path.name)
    assert book.title == "A quiet evening"
    assert [c.title for c in book.chapters] == ["A quiet evening"]


# Paragraphs ---------------------------------------------------------------------------------------------


def test_wrapped_lines_are_joined() -> None:
    text = "Chapter 1\n\nThe first line\nwraps onto the next.\n\nA second paragraph.\n"
    chapter = parse_text(text, checksum="x", source_name="a.txt").chapters[0]
    assert chapter.text == "The first line wraps onto the next.\n\nA second paragraph."
    assert chapter.html == "<p>The first line wraps onto the next.</p>\n<p>A second paragraph.</p>"


def test_wrapped_chinese_lines_are_joined_without_spaces() -> None:
    text = "第一章\n\n话说宝玉听了这话心中十分\n欢喜便往贾母处来\n\n次日一早众人都到了"
    chapter = parse_text(text, checksum="x", source_name="a.txt").chapters[0]
    assert chapter.text == "话说宝玉听了这话心中十分欢喜便往贾母处来\n\n次日一早众人都到了"


def test_one_paragraph_per_line_without_blank_lines() -> None:
    lines = [f"　　第{n}段：子曰学而时习之不亦说乎有朋自远方来不亦乐乎。" for n in range(1, 12)]
    chapter = parse_text("\n".join(lines), checksum="x", source_name="a.txt").chapters[0]
    assert chapter.text.split("\n\n") == [line.strip("\u3000") for line in lines]
    assert chapter.html.count("<p>") == 11


def test_chinese_verse_keeps_its_lines(settings: Settings) -> None:
    chapter = _read(TEXT / "zh" / "zh-changhenge-bai-juyi.txt", settings).chapters[0]
    first = chapter.text.split("\n\n")[0]
    assert first.split("\n")[:2] == [
        "汉皇重色思倾国，御宇多年求不得。杨家有女初长成，养在深闺人未识。",
        "天生丽质难自弃，一朝选在君王侧。回眸一笑百媚生，六宫粉黛无颜色。",
    ]
    assert "<br>" in chapter.html


def test_html_is_escaped() -> None:
    text = "Chapter 1\n\nFish & chips <script>alert(1)</script>\n"
    chapter = parse_text(text, checksum="x", source_name="a.txt").chapters[0]
    assert chapter.html == "<p>Fish &amp; chips &lt;script&gt;alert(1)&lt;/script&gt;</p>"
    assert "<h" not in chapter.html


# Dispatcher ---------------------------------------------------------------------------------------------


def test_ingest_file_checksums_and_dispatches(settings: Settings) -> None:
    book = ingest_file(FRANKENSTEIN, settings)
    assert book.checksum == hashlib.sha256(FRANKENSTEIN.read_bytes()).hexdigest()
    assert book.source_name == FRANKENSTEIN.name


def test_ingest_file_rejects_other_types(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "book.pdf"
    path.write_bytes(b"%PDF-1.4")
    with pytest.raises(IngestError) as caught:
        ingest_file(path, settings)
    assert caught.value.msgid.startswith("The file type %(ext)s is not supported")
    assert ".pdf" in str(caught.value)


def test_ingest_file_rejects_files_over_the_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text(PROSE * 10, encoding="utf-8")
    with pytest.raises(IngestError, match="largest accepted"):
        ingest_file(path, Settings.from_env({}, max_file_bytes=100))
