"""EPUB ingestion on the real books of the corpus and on small books built here for one point each."""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from html import unescape
from pathlib import Path

import pytest
from lxml import etree
from lxml import html as lxml_html

from accessible_lib.catalogue import add_book
from accessible_lib.db import open_database
from accessible_lib.ingest.epub import load_package, read_epub
from accessible_lib.ingest.errors import IngestError
from accessible_lib.ingest.safezip import read_checked_zip
from accessible_lib.ingest.sanitize import clean_chapter
from accessible_lib.settings import Settings

CORPUS = Path(__file__).parent / "corpus"
BOOKS = sorted((CORPUS / "epub").glob("*/*.epub"))
CONTAINER = """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>
</rootfiles></container>"""


def xhtml(body: str, *, lang: str = "en", head: str = "<title>t</title>") -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml" '
        f'xmlns:epub="http://www.idpf.org/2007/ops" xml:lang="{lang}" lang="{lang}">'
        f"<head>{head}</head><body>{body}</body></html>"
    )


def make_epub(
    path: Path,
    chapters: dict[str, str],
    *,
    metadata: str = "<dc:title>Test Book</dc:title><dc:language>en</dc:language>",
    nav: str | None = None,
    extra: dict[str, bytes] | None = None,
    manifest_extra: str = "",
    container: str | None = CONTAINER,
) -> Path:
    """A small EPUB 3: `chapters` maps file names (under OEBPS/) to XHTML, in spine order."""
    items = "".join(
        f'<item id="c{i}" href="{name}" media-type="application/xhtml+xml"/>'
        for i, name in enumerate(chapters)
    )
    spine = "".join(f'<itemref idref="c{i}"/>' for i in range(len(chapters)))
    if nav is not None:
        items += '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>'
    opf = (
        '<?xml version="1.0" encoding="utf-8"?>\n<package xmlns="http://www.idpf.org/2007/opf" '
        'version="3.0" unique-identifier="uid"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/" '
        f'xmlns:opf="http://www.idpf.org/2007/opf">{metadata}</metadata>'
        f"<manifest>{items}{manifest_extra}</manifest><spine>{spine}</spine></package>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        if container is not None:
            archive.writestr("META-INF/container.xml", container)
        archive.writestr("OEBPS/content.opf", opf)
        for name, content in chapters.items():
            archive.writestr(f"OEBPS/{name}", content)
        if nav is not None:
            archive.writestr("OEBPS/nav.xhtml", nav)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


def read(path: Path):
    return read_epub(path, Settings(), checksum="0" * 64, source_name=path.name)


# (file, words in the title, first author, language, fewest chapters)
EXPECTED = {
    "alice-pg19033-nyu-epub3.epub": ("Alice", "Lewis Carroll", "en-US", 12),
    "idpf-childrens-literature.epub": ("Children", "Charles Madison Curry", "en", 2),
    "idpf-georgia-pls-ssml.epub": ("Georgia", None, "en-US", 1),
    "idpf-moby-dick.epub": ("Moby-Dick", "Herman Melville", "en-US", 135),
    "idpf-wasteland.epub": ("Waste Land", "T.S. Eliot", "en-US", 1),
    "pg11-alice-epub2.epub": ("Alice", "Lewis Carroll", "en", 12),
    "pg17192-poe-the-raven-epub2.epub": ("Raven", "Edgar Allan Poe", "en", 2),
    "pg2701-moby-dick-epub2.epub": ("Moby Dick", "Herman Melville", "en", 20),
    "pg36034-white-nights.epub": ("White Nights", "Fyodor Dostoyevsky", "en", 5),
    "se-bierce-devils-dictionary.epub": ("Devil", "Ambrose Bierce", "en-US", 26),
    "se-whitman-leaves-of-grass.epub": ("Leaves of Grass", "Walt Whitman", "en-US", 40),
    "epubime-test3-tiny-zh.epub": ("测试", None, "zh-Hans", 1),
}


@pytest.mark.parametrize("path", BOOKS, ids=[p.name for p in BOOKS])
def test_every_corpus_book_imports(path: Path, tmp_path: Path) -> None:
    title, author, language, chapters = EXPECTED[path.name]
    book = read(path)
    assert title in book.title
    if author:
        assert book.authors[0] == author
    assert book.language == language
    assert len(book.chapters) >= chapters
    assert all(chapter.text.strip() or "<img" in chapter.html for chapter in book.chapters)
    assert all(chapter.title for chapter in book.chapters)
    assert all(0 <= entry.chapter_index < len(book.chapters) for entry in book.toc)
    for chapter in book.chapters:
        assert "<script" not in chapter.html and "<link" not in chapter.html
        assert "style=" not in chapter.html and "class=" not in chapter.html
        for name in re.findall(r'src="resource:([^"]+)"', chapter.html):
            assert name in {resource.name for resource in book.resources}
    db = open_database(tmp_path / "catalogue.db")
    book_id = add_book(db, book)
    assert db["chapters"].count_where("book_id = ?", [book_id]) == len(book.chapters)


def _nav_links(path: Path, nav_name: str) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        nav = archive.read(nav_name).decode()
    toc = nav[nav.index('epub:type="toc"') :]
    toc = toc[: toc.index("</nav>")]
    return [unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text))).strip()
            for text in re.findall(r"<a[^>]*>(.*?)</a>", toc, re.S)]  # fmt: skip


def test_leaves_of_grass_keeps_its_four_level_toc() -> None:
    path = CORPUS / "epub/en/se-whitman-leaves-of-grass.epub"
    book = read(path)
    links = _nav_links(path, "epub/toc.xhtml")
    assert len(links) > 700
    assert [entry.title for entry in book.toc] == links
    assert max(entry.level for entry in book.toc) == 4
    levels = [entry.level for entry in book.toc]
    assert all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False))


def test_alice_epub3_nav_gives_the_toc_in_order() -> None:
    path = CORPUS / "epub/en/alice-pg19033-nyu-epub3.epub"
    book = read(path)
    assert [entry.title for entry in book.toc] == _nav_links(path, "OPS/toc.xhtml")
    chapter_indexes = [entry.chapter_index for entry in book.toc]
    assert chapter_indexes == sorted(chapter_indexes)
    assert book.chapters[chapter_indexes[1]].title == "Down The Rabbit-Hole"


def _ncx_points(path: Path) -> list[tuple[str, int]]:
    """Title and depth of every navPoint in the NCX, read from the markup itself."""
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".ncx"))
        ncx = etree.fromstring(archive.read(name))
    return [
        (
            " ".join(point.findtext("{*}navLabel/{*}text").split()),
            len(list(point.iterancestors("{*}navPoint"))) + 1,
        )
        for point in ncx.iter("{*}navPoint")
    ]


@pytest.mark.parametrize("name", ["pg2701-moby-dick-epub2.epub", "pg17192-poe-the-raven-epub2.epub"])
def test_epub2_ncx_gives_a_nested_toc(name: str) -> None:
    path = CORPUS / "epub/en" / name
    book = read(path)
    points = _ncx_points(path)
    assert max(depth for _, depth in points) >= 2
    # In the NCX's order, except that Project Gutenberg's header and licence (back matter) come last.
    back = {e.title for e in book.toc if book.chapters[e.chapter_index].kind == "back"}
    assert back
    expected = [p for p in points if p[0] not in back] + [p for p in points if p[0] in back]
    # (Back matter the NCX leaves out is listed too, with its own title: not compared here.)
    titles = {title for title, _ in points}
    assert [(entry.title, entry.level) for entry in book.toc if entry.title in titles] == expected
    assert any(entry.fragment and entry.fragment.startswith("x-") for entry in book.toc)
    for entry in book.toc:
        if entry.fragment:
            assert f'id="{entry.fragment}"' in book.chapters[entry.chapter_index].html


def test_wasteland_notes_get_back_links() -> None:
    # The notes are their own chapter now (the nav points at them inside the poem's one file), so
    # references and back-links cross chapters.
    book = read(CORPUS / "epub/en/idpf-wasteland.epub")
    chapters = [chapter.html for chapter in book.chapters]
    notes = next(i for i, c in enumerate(book.chapters) if c.title.startswith("NOTES"))
    refs = [
        (i, int(target), note_id, ref_id)
        for i, html in enumerate(chapters)
        for target, note_id, ref_id in re.findall(
            r'<a href="chapter:(\d+)#(x-note-\d+)" role="doc-noteref" id="(x-[^"]+)"', html
        )
    ]
    assert len(refs) >= 40
    for chapter, target, note_id, ref_id in refs:
        assert target == notes
        assert f'id="{note_id}" role="doc-footnote"' in chapters[notes]
        backlink = f'<a href="chapter:{chapter}#{ref_id}" role="doc-backlink" aria-label="Back to text">↩</a>'
        assert backlink in chapters[notes]


def test_standard_ebooks_endnotes_link_back_across_chapters() -> None:
    book = read(CORPUS / "epub/en/se-whitman-leaves-of-grass.epub")
    titles = [chapter.title for chapter in book.chapters]
    endnotes = book.chapters[titles.index("Endnotes")].html
    backlinks = re.findall(r'<a href="chapter:(\d+)#(x-noteref-\d+)" role="doc-backlink"', endnotes)
    assert backlinks
    for chapter, ref_id in backlinks:
        assert f'id="{ref_id}"' in book.chapters[int(chapter)].html
        assert 'role="doc-noteref"' in book.chapters[int(chapter)].html


def test_scripts_forms_and_handlers_never_survive(tmp_path: Path) -> None:
    body = (
        '<h1 onclick="steal()" style="color:red" class="x">Heading</h1>'
        "<script>alert(1)</script><style>p{}</style>"
        '<form action="http://evil"><input name="q"/><button>Go</button><p>Kept words</p></form>'
        '<p onmouseover="x()"><a href="javascript:alert(1)">js</a> <a href="data:text/html,x">d</a>'
        ' <a href="https://example.org/">outside</a></p>'
        '<iframe src="http://evil/"></iframe><object data="x.swf"></object><embed src="x"/>'
        '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(2)</script></svg>'
    )
    book = read(make_epub(tmp_path / "s.epub", {"c.xhtml": xhtml(body)}))
    html = book.chapters[0].html
    forbidden_words = "script style onclick onmouseover form input button iframe object embed"
    for forbidden in [*forbidden_words.split(), "javascript", "data:", "http", "svg", "class"]:
        assert forbidden not in html
    assert "Heading" in html and "Kept words" in html and "outside" in html


def test_images_keep_alt_text_and_svg_is_dropped(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    body = (
        '<p><img src="images/a.png" alt="A white rabbit"/></p><p><img src="images/b.png"/></p>'
        '<p><img src="images/c.svg" alt="A map"/></p>'
    )
    extra = {"OEBPS/images/a.png": png, "OEBPS/images/b.png": png, "OEBPS/images/c.svg": svg}
    book = read(make_epub(tmp_path / "i.epub", {"c.xhtml": xhtml(body)}, extra=extra))
    html = book.chapters[0].html
    assert re.search(r'<img src="resource:img-\d+\.png" alt="A white rabbit">', html)
    assert re.search(r'<img src="resource:img-\d+\.png" alt="">', html)
    assert "svg" not in html and '<span role="img" aria-label="A map">A map</span>' in html
    assert {r.media_type for r in book.resources} == {"image/png"}
    assert len(book.resources) == 2
    assert "[Image: A white rabbit]" in book.chapters[0].text


def test_metadata_refinements_roles_identifiers_and_description(tmp_path: Path) -> None:
    metadata = (
        '<dc:title id="t1">Main Title</dc:title><dc:title id="t2">The Subtitle</dc:title>'
        '<meta refines="#t1" property="title-type">main</meta>'
        '<meta refines="#t2" property="title-type">subtitle</meta>'
        '<dc:creator id="a1">Second Author</dc:creator><dc:creator id="a2">First Author</dc:creator>'
        '<dc:creator id="e1">An Editor</dc:creator>'
        '<meta refines="#a1" property="display-seq">2</meta>'
        '<meta refines="#a2" property="display-seq">1</meta>'
        '<meta refines="#e1" property="role" scheme="marc:relators">edt</meta>'
        '<dc:identifier id="uid">urn:uuid:12345678-1234-1234-1234-1234567890AB</dc:identifier>'
        "<dc:identifier>urn:isbn:978-0-14-143951-8</dc:identifier>"
        "<dc:identifier>0141439513</dc:identifier>"
        "<dc:language>zh-TW</dc:language><dc:subject>Poetry</dc:subject>"
        "<dc:description>&lt;p&gt;A &lt;b&gt;fine&lt;/b&gt; book.&lt;/p&gt;</dc:description>"
        "<dc:publisher>Pub</dc:publisher><dc:date>1855</dc:date><dc:rights>Public domain</dc:rights>"
    )
    path = make_epub(tmp_path / "m.epub", {"c.xhtml": xhtml("<p>文字</p>")}, metadata=metadata)
    book = read(path)
    assert (book.title, book.subtitle) == ("Main Title", "The Subtitle")
    assert book.authors == ["First Author", "Second Author"]
    assert book.language == "zh-Hant"
    assert ("uuid", "12345678-1234-1234-1234-1234567890ab") in book.identifiers
    assert ("isbn", "9780141439518") in book.identifiers
    assert ("isbn", "0141439513") in book.identifiers
    assert book.description == "A fine book."
    assert (book.subjects, book.publisher, book.date) == (["Poetry"], "Pub", "1855")
    assert book.rights_statement == "Public domain"


def test_language_is_detected_when_missing_and_chapter_languages_kept(tmp_path: Path) -> None:
    chinese = "<p>" + "学而时习之，不亦说乎？有朋自远方来，不亦乐乎？" * 5 + "</p>"
    chapters = {
        "a.xhtml": xhtml(chinese, lang=""),
        "b.xhtml": xhtml("<p>This chapter is written in English for the test.</p>", lang="en"),
        "empty.xhtml": xhtml("<div> </div>"),
    }
    path = make_epub(tmp_path / "z.epub", chapters, metadata="<dc:title>书</dc:title>")
    book = read(path)
    assert book.language == "zh-Hans"
    assert len(book.chapters) == 2  # the empty document is not a chapter
    assert [chapter.lang for chapter in book.chapters] == [None, "en"]


def test_toc_titles_levels_and_links_outside_the_spine(tmp_path: Path) -> None:
    nav = xhtml(
        '<nav epub:type="toc"><ol><li><span>Part One</span><ol>'
        '<li><a href="a.xhtml">Chapter A</a><ol><li><a href="a.xhtml#s1">Section</a></li></ol></li>'
        '<li><a href="http://example.org/">Elsewhere</a></li></ol></li>'
        '<li><a href="b.xhtml">Chapter B</a></li></ol></nav>'
    )
    chapters = {
        "a.xhtml": xhtml('<h2>Heading A</h2><p id="s1">x</p>'),
        "b.xhtml": xhtml("<h1>Heading B</h1><p>y</p>"),
        "c.xhtml": xhtml("<p>no heading</p>", head="<title>File title</title>"),
    }
    book = read(make_epub(tmp_path / "t.epub", chapters, nav=nav))
    assert [(e.title, e.level, e.chapter_index, e.fragment) for e in book.toc] == [
        ("Chapter A", 1, 0, None),
        ("Section", 2, 1, "x-s1"),
        ("Chapter B", 1, 2, None),
    ]
    # An entry that points inside a file is a chapter of its own; a file no entry names stays one.
    assert [c.title for c in book.chapters] == ["Chapter A", "Section", "Chapter B", "File title"]


def test_structural_failures_are_clear_rejections(tmp_path: Path) -> None:
    chapters = {"c.xhtml": xhtml("<p>x</p>")}
    with pytest.raises(IngestError, match="container.xml"):
        read(make_epub(tmp_path / "a.epub", chapters, container=None))
    missing = CONTAINER.replace("OEBPS/content.opf", "OEBPS/nothing.opf")
    with pytest.raises(IngestError, match="missing"):
        read(make_epub(tmp_path / "b.epub", chapters, container=missing))
    with pytest.raises(IngestError, match="no readable chapters"):
        read(make_epub(tmp_path / "c.epub", {"c.xhtml": xhtml("")}))


def test_a_nav_that_ebooklib_cannot_read_still_imports(tmp_path: Path) -> None:
    # ebooklib 0.20 raises IndexError on a nav document without a toc nav; we fall back.
    nav = xhtml('<nav epub:type="landmarks"><ol><li><a href="c.xhtml">Start</a></li></ol></nav>')
    book = read(make_epub(tmp_path / "n.epub", {"c.xhtml": xhtml("<p>x</p>")}, nav=nav))
    assert book.title == "Test Book" and book.language == "en"


PAGE_BREAK = re.compile(r'<span role="doc-pagebreak" id="x-([^"]+)" title="([^"]+)"></span>')


def test_raven_has_no_blank_paragraphs_and_keeps_its_print_pages() -> None:
    path = CORPUS / "epub/en/pg17192-poe-the-raven-epub2.epub"
    book = read(path)
    markers = []
    for chapter in book.chapters:
        root = lxml_html.fragment_fromstring(chapter.html, create_parent="div")
        blank = [
            p for p in root.iter("p") if not "".join(p.itertext()).strip() and not len(p.xpath(".//img"))
        ]
        assert blank == [], [etree.tostring(p) for p in blank]
        markers += PAGE_BREAK.findall(chapter.html)
    # The NCX page list names every print page and the element it starts at: all must be in the chapters.
    with zipfile.ZipFile(path) as archive:
        ncx = etree.fromstring(archive.read("OEBPS/toc.ncx"))
    page_list = [
        (target.find(".//{*}content").get("src").split("#")[1], "".join(target.itertext()).strip(" \n[]"))
        for target in ncx.iter("{*}pageTarget")
    ]
    assert len(page_list) > 100
    assert markers == page_list


def test_page_numbers_printed_in_the_text_leave_the_plain_text() -> None:
    path = CORPUS / "epub/en/idpf-georgia-pls-ssml.epub"
    book = read(path)
    with zipfile.ZipFile(path) as archive:
        sources = "".join(archive.read(n).decode() for n in archive.namelist() if n.endswith("html"))
    labels = [label for chapter in book.chapters for _, label in PAGE_BREAK.findall(chapter.html)]
    assert len(labels) >= 5
    for label in labels:
        assert re.search(rf'epub:type="pagebreak">{label}</(span|div)>', sources)  # printed in the source
        assert all(f" {label} " not in chapter.text for chapter in book.chapters)


# --- Chapters as the contents say (issue 10) ---


def test_moby_dick_has_each_chapter_of_its_ncx() -> None:
    path = CORPUS / "epub/en/pg2701-moby-dick-epub2.epub"
    book = read(path)
    titles = [chapter.title for chapter in book.chapters]
    ncx = [title for title, _ in _ncx_points(path)]
    numbered = [t for t in ncx if re.match(r"CHAPTER \d+\.", t)]
    assert len(numbered) == 135
    assert numbered[0] == "CHAPTER 1. Loomings." and numbered[-1] == "CHAPTER 135. The Chase.—Third Day."
    for number, title in enumerate([*numbered, "Epilogue"], start=1):
        assert titles.count(title) == 1, title
        chapter = book.chapters[titles.index(title)]
        assert chapter.text.startswith(title.split(".")[0]), title  # it opens with its own heading
        following = numbered[number] if number < len(numbered) else None
        if following:
            assert following.split(".")[0] + "." not in chapter.text  # and holds nothing of the next
    # Every NCX entry is a chapter of its own (none is a cover: the book has no "Cover" chapter).
    assert len(book.chapters) == len(ncx) == len({entry.chapter_index for entry in book.toc})
    assert "Cover" not in " ".join(titles)
    assert "<img" in book.chapters[0].html  # the cover is read with the first chapter
    assert book.chapters[0].title == "MOBY-DICK; or, THE WHALE."
    # The Gutenberg header and licence are kept, last, as back matter.
    assert [c.kind for c in book.chapters[-2:]] == ["back", "back"]
    assert book.chapters[-2].text.startswith("The Project Gutenberg eBook of Moby Dick")
    assert book.chapters[-1].title == "THE FULL PROJECT GUTENBERG LICENSE"
    assert "*** END OF THE PROJECT GUTENBERG EBOOK" in book.chapters[-1].text
    assert all(chapter.kind == "body" for chapter in book.chapters[:-2])
    assert not any("PROJECT GUTENBERG" in chapter.text for chapter in book.chapters[:-2])


@pytest.mark.parametrize(
    "name", ["pg11-alice-epub2.epub", "pg17192-poe-the-raven-epub2.epub", "pg36034-white-nights.epub"]
)
def test_gutenberg_epubs_split_where_their_ncx_says(name: str) -> None:
    path = CORPUS / "epub/en" / name
    book = read(path)
    ncx = _ncx_points(path)
    body = [c for c in book.chapters if c.kind == "body"]
    back = [c for c in book.chapters if c.kind == "back"]
    assert book.chapters == body + back and len(back) == 2
    assert back[0].text.startswith("The Project Gutenberg eBook of")
    assert back[1].title == "THE FULL PROJECT GUTENBERG LICENSE"
    body_ncx = [(title, depth) for title, depth in ncx if "PROJECT GUTENBERG" not in title.upper()]
    assert [(c.title, c.level) for c in body] == body_ncx
    assert len({entry.chapter_index for entry in book.toc}) == len(book.toc)  # one chapter per entry
    # Every chapter is in the contents, the back matter last (listed even where the NCX leaves it out).
    assert [entry.chapter_index for entry in book.toc] == list(range(len(book.chapters)))


def test_an_epub3_nav_pointing_inside_files_splits_them(tmp_path: Path) -> None:
    nav = xhtml(
        '<nav epub:type="toc"><ol><li><a href="one.xhtml#p1">Part One</a><ol>'
        '<li><a href="one.xhtml#c1">Chapter 1</a></li><li><a href="one.xhtml#c2">Chapter 2</a></li>'
        '</ol></li><li><a href="two.xhtml#c3">Chapter 3</a></li></ol></nav>'
    )
    chapters = {
        "cover.xhtml": xhtml('<div><img src="cover.png" alt="The cover"/></div>'),
        "one.xhtml": xhtml(
            '<section id="p1"><h1>Part One</h1><section id="s1"><h2><a id="c1"/>Chapter 1</h2>'
            '<p>First words, see <a href="#c2">the next</a>.</p></section>'
            '<section><h2 id="c2">Chapter 2</h2><p>Second words.</p></section></section>'
        ),
        "two.xhtml": xhtml('<p>Still chapter two.</p><h2 id="c3">Chapter 3</h2><p>Third words.</p>'),
    }
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
    book = read(make_epub(tmp_path / "n.epub", chapters, nav=nav, extra={"OEBPS/cover.png": png}))
    assert [(c.title, c.level) for c in book.chapters] == [
        ("Part One", 1),
        ("Chapter 1", 2),
        ("Chapter 2", 2),
        ("Chapter 3", 1),
    ]
    assert [(e.title, e.chapter_index) for e in book.toc] == [
        ("Part One", 0), ("Chapter 1", 1), ("Chapter 2", 2), ("Chapter 3", 3)
    ]  # fmt: skip
    part, first, second, third = (chapter.text for chapter in book.chapters)
    assert part == "[Image: The cover]\n\nPart One"  # the cover opens the first chapter
    assert first == "Chapter 1\n\nFirst words, see the next."
    assert second == "Chapter 2\n\nSecond words.\n\nStill chapter two."  # text before a file's first entry
    assert third == "Chapter 3\n\nThird words."
    assert 'href="chapter:2#x-c2"' in book.chapters[1].html  # links follow their target's new chapter
    assert 'id="x-c2"' in book.chapters[2].html


def _document_words(path: Path) -> Counter:
    """The words of every spine document, each sanitised whole: the book's text before any cutting."""
    entries = read_checked_zip(path, Settings()).entries
    spine = load_package(entries).spine
    href_map = {item.path: index for index, item in enumerate(spine)}
    words: Counter = Counter()
    for item in {item.path: item for item in spine if item.path in entries}.values():
        words.update(clean_chapter(entries[item.path], href_map=href_map, path=item.path)[1].split())
    return words


@pytest.mark.parametrize("path", BOOKS, ids=lambda p: p.name)
def test_chapters_hold_the_whole_text_once(path: Path) -> None:
    book = read(path)
    words = _document_words(path)
    assert sum(len(word) * count for word, count in words.items()) > 100
    assert Counter(word for chapter in book.chapters for word in chapter.text.split()) == words


def test_a_gutenberg_header_is_back_matter_even_when_an_entry_names_its_file(tmp_path: Path) -> None:
    nav = xhtml(
        '<nav epub:type="toc"><ol><li><a href="book.xhtml">Title Page</a></li>'
        '<li><a href="book.xhtml#c1">Chapter I</a></li>'
        '<li><a href="end.xhtml#lic">Licence</a></li></ol></nav>'
    )
    chapters = {
        "book.xhtml": xhtml(
            '<div id="pg-header"><h2>The Project Gutenberg eBook of Test</h2><p>Use it freely.</p>'
            "<p>*** START OF THE PROJECT GUTENBERG EBOOK TEST ***</p></div>"
            '<h1>TEST</h1><p>By Someone</p><h2 id="c1">Chapter I</h2><p>The story.</p>'
        ),
        "end.xhtml": xhtml(
            '<div id="pg-footer"><p>*** END OF THE PROJECT GUTENBERG EBOOK TEST ***</p>'
            '<h2 id="lic">Licence</h2><p>The terms.</p></div>'
        ),
    }
    book = read(make_epub(tmp_path / "pg.epub", chapters, nav=nav))
    assert [(c.title, c.kind, c.text) for c in book.chapters] == [
        ("Title Page", "body", "TEST\n\nBy Someone"),
        ("Chapter I", "body", "Chapter I\n\nThe story."),
        ("The Project Gutenberg eBook of Test", "back",
         "The Project Gutenberg eBook of Test\n\nUse it freely.\n\n"
         "*** START OF THE PROJECT GUTENBERG EBOOK TEST ***"),
        ("Licence", "back", "*** END OF THE PROJECT GUTENBERG EBOOK TEST ***\n\nLicence\n\nThe terms."),
    ]  # fmt: skip
    assert [(e.title, e.chapter_index) for e in book.toc] == [
        ("Title Page", 0), ("Chapter I", 1), ("The Project Gutenberg eBook of Test", 2), ("Licence", 3)
    ]  # fmt: skip


def test_text_before_the_first_entry_of_the_book_is_front_matter(tmp_path: Path) -> None:
    nav = xhtml('<nav epub:type="toc"><ol><li><a href="a.xhtml#c1">Chapter 1</a></li></ol></nav>')
    chapters = {
        "a.xhtml": xhtml(
            '<p>A word before.</p><h2 id="c1">Chapter 1</h2><p>Story.</p>', head="<title>Opening</title>"
        )
    }
    book = read(make_epub(tmp_path / "f.epub", chapters, nav=nav))
    assert [(c.title, c.text) for c in book.chapters] == [
        ("Opening", "A word before."),
        ("Chapter 1", "Chapter 1\n\nStory."),
    ]
    assert [(e.title, e.chapter_index) for e in book.toc] == [("Opening", 0), ("Chapter 1", 1)]


def test_an_older_gutenberg_epub_without_section_ids_gets_its_header_and_licence_as_back_matter(
    tmp_path: Path,
) -> None:
    # Before about 2020 ebookmaker put the header in a <pre> and the licence in the last file, with no ids:
    # only the START and END lines say where the book is.
    ncx_free_nav = xhtml(
        '<nav epub:type="toc"><ol><li><a href="head.xhtml">The Project Gutenberg EBook of Test</a></li>'
        '<li><a href="book.xhtml#c1">Chapter I</a></li><li><a href="book.xhtml#c2">Chapter II</a></li>'
        '<li><a href="licence.xhtml">Licence</a></li></ol></nav>'
    )
    chapters = {
        "head.xhtml": xhtml(
            "<pre>The Project Gutenberg EBook of Test, by Someone\n\nTitle: Test\n\n"
            "*** START OF THIS PROJECT GUTENBERG EBOOK TEST ***</pre>"
            "<p>Produced by Kind Volunteers</p><h1>TEST</h1><p>By Someone</p>"
        ),
        "book.xhtml": xhtml(
            '<h2 id="c1">Chapter I</h2><p>The story.</p><h2 id="c2">Chapter II</h2><p>The end.</p>'
            "<pre>End of the Project Gutenberg EBook of Test, by Someone\n\n"
            "*** END OF THIS PROJECT GUTENBERG EBOOK TEST ***</pre>"
        ),
        "licence.xhtml": xhtml("<h2>Licence</h2><p>The terms.</p>"),
    }
    book = read(make_epub(tmp_path / "old-pg.epub", chapters, nav=ncx_free_nav))
    assert [(c.title, c.kind, c.text) for c in book.chapters] == [
        ("The Project Gutenberg EBook of Test", "body", "TEST\n\nBy Someone"),
        ("Chapter I", "body", "Chapter I\n\nThe story."),
        ("Chapter II", "body", "Chapter II\n\nThe end."),
        ("Project Gutenberg header", "back",
         "The Project Gutenberg EBook of Test, by Someone Title: Test "
         "*** START OF THIS PROJECT GUTENBERG EBOOK TEST ***\n\nProduced by Kind Volunteers"),
        ("The Project Gutenberg licence", "back",
         "End of the Project Gutenberg EBook of Test, by Someone "
         "*** END OF THIS PROJECT GUTENBERG EBOOK TEST ***"),
        ("Licence", "back", "Licence\n\nThe terms."),
    ]  # fmt: skip
    # The contents list the body in order, then the back matter.
    assert [(e.title, e.chapter_index) for e in book.toc] == [
        ("The Project Gutenberg EBook of Test", 0), ("Chapter I", 1), ("Chapter II", 2),
        ("Project Gutenberg header", 3), ("The Project Gutenberg licence", 4), ("Licence", 5),
    ]  # fmt: skip


def test_a_start_line_quoted_in_a_book_without_it_at_the_head_changes_nothing(tmp_path: Path) -> None:
    chapters = {
        "a.xhtml": xhtml("<h1>One</h1><p>He wrote: End of the Project Gutenberg EBook, and smiled.</p>"),
        "b.xhtml": xhtml("<h1>Two</h1><p>More.</p>"),
    }
    book = read(make_epub(tmp_path / "plain.epub", chapters))
    assert [(c.title, c.kind) for c in book.chapters] == [("One", "body"), ("Two", "body")]
