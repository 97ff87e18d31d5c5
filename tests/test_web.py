"""Every page's structure: one h1, landmarks, lang, titles, links that work, errors that say what happened."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup


def soup_of(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def check_page_structure(response) -> BeautifulSoup:
    soup = soup_of(response)
    assert soup.html.get("lang") in {"en", "zh-Hans"}
    assert len(soup.find_all("h1")) == 1
    assert soup.find("main", id="main") is not None
    skip = soup.find("a")
    assert skip.get("href") == "#main", "the skip link must come first"
    assert soup.find("header") and soup.find("footer")
    assert soup.title.string.strip()
    levels = [int(h.name[1]) for h in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6"])]
    assert levels[0] == 1
    for before, after in zip(levels, levels[1:], strict=False):
        assert after <= before + 1, f"heading level jumps from h{before} to h{after}"
    for field in soup.find_all("input"):
        if field.get("type") != "hidden":
            assert soup.find("label", attrs={"for": field.get("id")}), f"unlabelled field {field}"
    return soup


def test_home_lists_new_arrivals_and_browse_entry_points(client, sample_library):
    response = client.get("/")
    assert response.status_code == 200
    soup = check_page_structure(response)
    titles = [a.get_text() for a in soup.select(".book-list .book-title a")]
    assert titles == ["红楼梦", "Moby-Dick"]  # newest first
    chinese_link = soup.find("a", string="红楼梦")
    assert chinese_link["lang"] == "zh-Hans"
    assert soup.find("form", attrs={"role": "search"})
    browse_links = {a["href"] for a in soup.find_all("a", href=True) if a["href"].startswith("/browse/")}
    assert browse_links == {f"/browse/{f}" for f in ("subjects", "authors", "languages", "formats")}


def test_book_page_shows_metadata_and_contents(client, sample_library):
    response = client.get(f"/books/{sample_library['en']}")
    soup = check_page_structure(response)
    assert soup.h1.get_text() == "Moby-Dick"
    assert soup.h1["lang"] == "en"
    contents = soup.find("h2", id="contents").find_next("ol")
    links = [a["href"] for a in contents.find_all("a")]
    assert links == [f"/books/{sample_library['en']}/read/{n}" for n in (1, 2, 3)]
    facts = soup.find("dl", class_="facts")
    assert "Whaling" in facts.get_text()
    assert "Herman Melville" in soup.find(class_="byline").get_text()


def test_nested_contents_become_nested_lists(client, db):
    from accessible_lib import catalogue
    from accessible_lib.ingest.model import TocEntry

    from .conftest import make_book

    book = make_book("Nested", [("One", "a"), ("Two", "b"), ("Three", "c")], language="en")
    book.toc = [
        TocEntry("Part One", 1, 0),
        TocEntry("Chapter 1", 2, 0, "x-c1"),
        TocEntry("Section 1.1", 3, 1),
        TocEntry("Part Two", 1, 2),
    ]
    book_id = catalogue.add_book(db, book)
    soup = soup_of(client.get(f"/books/{book_id}"))
    toc = soup.find("h2", id="contents").find_next("ol")
    top = toc.find_all("li", recursive=False)
    assert [li.a.get_text() for li in top] == ["Part One", "Part Two"]
    inner = top[0].find("ol").find("li")
    assert inner.a["href"].endswith("/read/1#x-c1")
    assert inner.find("ol").li.a.get_text() == "Section 1.1"


def test_chapter_page_navigation_and_language(client, sample_library):
    book = sample_library["zh"]
    response = client.get(f"/books/{book}/read/1")
    soup = check_page_structure(response)
    assert soup.h1.get_text() == "第一回 甄士隐梦幻识通灵"
    article = soup.find("article")
    assert article["lang"] == "zh-Hans"
    assert "此开卷第一回也" in article.get_text()
    nav = soup.find("nav", class_="chapter-nav")
    assert nav.find("a", rel="next")["href"] == f"/books/{book}/read/2"
    assert nav.find("a", rel="prev") is None
    last = soup_of(client.get(f"/books/{book}/read/2")).find("nav", class_="chapter-nav")
    assert last.find("a", rel="next") is None
    assert last.find("a", rel="prev")["href"] == f"/books/{book}/read/1"


def test_chapter_headings_are_shifted_below_the_page_h1(client, db):
    from accessible_lib import catalogue

    from .conftest import make_book

    book = make_book("Headings", [("Loomings", "x")], language="en")
    book.chapters[0].html = (
        "<h1>Loomings</h1><p>Call me Ishmael.</p><h1>A part</h1><h2>A section</h2>"
        '<p><img src="resource:img-1.png" alt="A whale"><a href="chapter:0#x-n1">note</a></p>'
    )
    book_id = catalogue.add_book(db, book)
    soup = soup_of(client.get(f"/books/{book_id}/read/1"))
    article = soup.find("article")
    assert [h.name for h in article.find_all(["h1", "h2", "h3"])] == ["h2", "h3"]
    assert article.find("h2").get_text() == "A part"
    assert article.img["src"] == f"/books/{book_id}/resources/img-1.png"
    assert article.a["href"] == f"/books/{book_id}/read/1#x-n1"


@pytest.mark.parametrize("facet", ["subjects", "authors", "languages", "formats"])
def test_browse_three_levels(client, sample_library, facet):
    soup = check_page_structure(client.get("/browse"))
    assert soup.find("a", href=f"/browse/{facet}")
    values = check_page_structure(client.get(f"/browse/{facet}"))
    links = [a["href"] for a in values.select(".facet-list a")]
    assert links
    books = check_page_structure(client.get(links[0]))
    assert books.select(".book-list .book-title a")


def test_browse_by_language_names_languages_in_the_interface_language(client, sample_library):
    english = soup_of(client.get("/browse/languages"))
    assert {a.get_text() for a in english.select(".facet-list a")} == {"English", "Chinese (Simplified)"}
    chinese = soup_of(client.get("/browse/languages", headers={"cookie": "locale=zh_Hans"}))
    assert {a.get_text() for a in chinese.select(".facet-list a")} == {"英语", "中文 (简体)"}


def test_browse_lists_are_paginated(client, db, settings):
    from accessible_lib import catalogue

    from .conftest import make_book

    for n in range(settings.page_size + 5):
        catalogue.add_book(db, make_book(f"Book {n:02}", [("One", "text")], subjects=["Many"]))
    first = check_page_structure(client.get("/browse/subjects/Many"))
    assert len(first.select(".book-list li")) == settings.page_size
    pages = first.find("nav", attrs={"aria-label": "Pages"})
    assert pages.find("a", attrs={"aria-current": "page"}).get_text() == "1"
    second_url = pages.find("a", rel="next")["href"]
    second = check_page_structure(client.get(second_url))
    assert len(second.select(".book-list li")) == 5
    assert "page 2" in second.title.get_text()


def test_unknown_pages_get_a_clear_404(client, sample_library):
    for url in [
        "/nowhere",
        "/books/999999",
        "/browse/colours",
        "/browse/subjects/Nothing",
        "/books/1/resources/missing.png",
    ]:
        response = client.get(url)
        assert response.status_code == 404, url
        soup = check_page_structure(response)
        assert soup.h1.get_text() == "Page not found"
        assert "Traceback" not in response.text


@pytest.mark.parametrize("reading", ["read/{n}", "read/{n}/braille"])
def test_a_chapter_past_the_end_leads_back_to_the_book(client, sample_library, reading):
    """An old bookmark or a mistyped number names a book that exists: the page says how many chapters it
    has and links to it, its contents and its last chapter, not only to the home page."""
    book = sample_library["en"]
    response = client.get(f"/books/{book}/" + reading.format(n=99))
    assert response.status_code == 404
    soup = check_page_structure(response)
    assert soup.h1.get_text() == "There is no chapter 99"
    assert soup.h1.find_next("p").get_text() == "This book has 3 chapters."
    links = [(a["href"], a.get_text(), a.get("lang")) for a in soup.find("main").find_all("a")]
    assert links == [
        (f"/books/{book}", "Moby-Dick", "en"),
        (f"/books/{book}#contents", "The book’s contents", None),
        (f"/books/{book}/read/3", "Read the last chapter, chapter 3", None),
        ("/", "Go to the home page", None),
    ]
    assert soup_of(client.get(f"/books/{book}")).find(id="contents") is not None


def test_book_page_names_identifiers_for_people(client, db):
    """A reader hears "Project Gutenberg ebook number", not "gutenberg"; a file's own identifiers (uuid,
    "other") are for staff and stay off the reader's page."""
    from accessible_lib import catalogue

    from .conftest import make_book

    identifiers = [
        ("gutenberg", "2701"),
        ("uri", "https://www.gutenberg.org/ebooks/2701"),
        ("isbn", "9780141439518"),
        ("uuid", "12345678-1234-1234-1234-1234567890ab"),
        ("other", "edu.nyu.itp.alice"),
    ]
    book_id = catalogue.add_book(db, make_book("Named", [("One", "x")], identifiers=identifiers))
    facts = soup_of(client.get(f"/books/{book_id}")).find("dl", class_="facts")
    shown = {dt.get_text(): dt.find_next_sibling("dd") for dt in facts.find_all("dt")}
    assert shown["Project Gutenberg ebook number"].get_text() == "2701"
    assert shown["ISBN"].get_text() == "9780141439518"
    web = shown["Web address"].find("a")
    assert web["href"] == web.get_text() == "https://www.gutenberg.org/ebooks/2701"
    terms = set(shown)
    assert not terms & {"uri", "gutenberg", "other", "uuid", "UUID", "OTHER", "URI"}, terms
    assert "edu.nyu.itp.alice" not in facts.get_text()


def test_server_errors_show_a_page_without_a_traceback(settings, tmp_path):
    from starlette.testclient import TestClient

    from accessible_lib import create_app

    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        # A catalogue whose schema is broken behind the app's back: a real failure, not a mock.
        client.app_state["connections"].get().execute("ALTER TABLE books RENAME TO books_gone")
        # A book page reads the books table on every request (the home page's lists are kept in memory).
        response = client.get("/books/1")
    assert response.status_code == 500
    soup = check_page_structure(response)
    assert soup.h1.get_text() == "Something went wrong"
    assert "Traceback" not in response.text and "sqlite3" not in response.text


def test_images_are_served_only_as_safe_types(client, db):
    from accessible_lib import catalogue
    from accessible_lib.ingest.model import Resource

    from .conftest import make_book

    book = make_book("Pictures", [("One", "x")])
    book.resources = [
        Resource("img-1.png", "image/png", b"\x89PNG\r\n\x1a\n"),
        Resource("img-2.svg", "image/svg+xml", b"<svg onload='alert(1)'/>"),
    ]
    book_id = catalogue.add_book(db, book)
    png = client.get(f"/books/{book_id}/resources/img-1.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.headers["x-content-type-options"] == "nosniff"
    assert client.get(f"/books/{book_id}/resources/img-2.svg").status_code == 404


@pytest.mark.slow
def test_every_book_of_the_default_library_renders(client, db, settings):
    """Real books through the real importer: every book page and chapter keeps one h1 and a sane outline."""
    from pathlib import Path

    from accessible_lib.importer import import_paths

    content = Path(__file__).resolve().parent.parent / "content"
    results = list(import_paths(db, settings, [content]))
    assert results and all(r.status == "imported" for r in results), [r.as_dict() for r in results]
    for result in results:
        book = check_page_structure(client.get(f"/books/{result.book_id}"))
        chapter_links = [a["href"] for a in book.select("ol.toc a")]
        assert chapter_links
        for n in range(1, result.chapter_count + 1)[:8]:
            response = client.get(f"/books/{result.book_id}/read/{n}")
            assert response.status_code == 200
            soup = check_page_structure(response)
            assert soup.find("article")["lang"] == (result.language or soup.find("article")["lang"])


def test_search_page_announces_the_count_in_the_h1(client, sample_library):
    soup = check_page_structure(client.get("/search", params={"q": "whale"}))
    assert soup.h1.get_text() == "1 book found for whale"
    assert soup.title.get_text().startswith("1 book found for whale – ")
    hit = soup.select_one("ol.results > li")
    assert hit.h2.a["href"] == f"/books/{sample_library['en']}"
    assert hit.find("mark").get_text().lower() == "whale"
    assert hit.find("a", string=lambda s: s and s.startswith("Found in:"))["href"].endswith("/read/1")


def test_chinese_search_without_spaces_and_in_the_chinese_interface(client, sample_library):
    client.cookies.set("locale", "zh_Hans")
    soup = check_page_structure(client.get("/search", params={"q": "红楼"}))
    assert soup.h1.get_text() == "找到 1 本书：红楼"
    assert soup.select_one("ol.results h2 a")["lang"] == "zh-Hans"


def test_a_long_query_is_echoed_short_after_the_count(client, sample_library):
    """A pasted paragraph was read out twice, title and heading, before the count: now the count comes
    first and the query is cut near 60 characters at a word, while the field keeps all of it."""
    query = " ".join(["whale"] * 400)  # 2,399 characters; the search itself takes the first 500
    soup = check_page_structure(client.get("/search", params={"q": query}))
    heading = soup.h1.get_text()
    assert heading.startswith("1 book found for whale whale ") and heading.endswith("whale…"), heading
    assert len(heading) <= len("1 book found for ") + 61
    title = soup.title.get_text()
    assert title.startswith(heading) and len(title) < 120, title
    assert soup.find("input", attrs={"name": "q"})["value"] == query[:500].strip()


def test_search_filters_are_links_and_can_be_removed(client, sample_library):
    everything = check_page_structure(client.get("/search", params={"q": "the"}))
    links = {a.get_text(): a["href"] for a in everything.select("h3 + ul a")}
    assert "English" in links
    filtered = check_page_structure(client.get(links["English"]))
    assert "language=en" in links["English"]
    removal = filtered.find("a", string=lambda s: s and s.startswith("Remove filter"))
    assert "language" not in removal["href"]


@pytest.mark.parametrize("query", ['"', "NEAR(", "a OR", "*", "^", "-", "x" * 5000, '红楼"梦'])
def test_hostile_queries_never_break_the_page(client, sample_library, query):
    response = client.get("/search", params={"q": query})
    assert response.status_code == 200
    check_page_structure(response)


def test_search_with_no_match_says_so(client, sample_library):
    soup = check_page_structure(client.get("/search", params={"q": "zyxwvut"}))
    assert soup.h1.get_text() == "0 books found for zyxwvut"
    assert soup.find("ol", class_="results") is None


def test_removing_the_repeated_title_keeps_link_targets(client, db):
    from accessible_lib import catalogue

    from .conftest import make_book

    book = make_book("Targets", [("Loomings", "x")], language="en")
    book.chapters[0].html = '<h1 id="x-ch1"><a id="x-top"></a>Loomings</h1> tail text<p>Call me Ishmael.</p>'
    book_id = catalogue.add_book(db, book)
    article = soup_of(client.get(f"/books/{book_id}/read/1")).find("article")
    assert article.find(["h1", "h2"]) is None
    assert article.find(id="x-ch1") and article.find(id="x-top")
    assert "tail text" in article.get_text()


def test_chapter_positions_count_real_chapters_and_name_back_matter(client, db, settings):
    from accessible_lib.importer import import_file

    from .conftest import CORPUS

    book_id = import_file(db, settings, CORPUS / "epub/en/pg17192-poe-the-raven-epub2.epub").book_id
    book = soup_of(client.get(f"/books/{book_id}"))
    length = next(dt for dt in book.find_all("dt") if dt.get_text(strip=True) == "Length")
    assert length.find_next_sibling("dd").get_text(strip=True).startswith("8 chapters")
    first = check_page_structure(client.get(f"/books/{book_id}/read/1"))
    assert first.h1.get_text(strip=True) == "THE RAVEN"  # not the cover, not the Gutenberg header
    assert first.find("p", class_="position").get_text(strip=True) == "Chapter 1 of 8"
    licence = check_page_structure(client.get(f"/books/{book_id}/read/10"))
    assert licence.h1.get_text(strip=True) == "THE FULL PROJECT GUTENBERG LICENSE"
    assert licence.find("p", class_="position").get_text(strip=True) == "After the book: back matter"
    contents = [a.get_text(strip=True) for a in book.select("ol.toc a")]
    assert contents[0] == "THE RAVEN" and contents[-1] == "THE FULL PROJECT GUTENBERG LICENSE"
