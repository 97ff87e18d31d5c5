"""What a blind reader hears: the real Orca screen reader over Chromium, headless, on the app's own pages.

On load Orca sums the page up ("Page has 5 landmarks, 13 headings, ..."), and a reader's first key is
often H, next heading: it must land on the page's h1 and say what the page is ("2 books found for whale
heading level 1."). The expected words are computed from the served HTML and from the catalogue
and search modules, never copied from a transcript. The harness (tests/orca_harness.py) needs Xvfb, Orca,
speech-dispatcher, xdotool and Chromium; when one is missing these tests fail with its error.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from bs4 import BeautifulSoup, Tag

from accessible_lib import catalogue, search
from accessible_lib.db import open_database
from accessible_lib.web.search import shown_query

from .live_server import LiveServer, live_server
from .orca_harness import read_page

pytestmark = [pytest.mark.orca, pytest.mark.slow]

WHALE_BOOK = "epub/en/pg2701-moby-dick-epub2.epub"
CHINESE_BOOK = "text/zh/zh-changhenge-bai-juyi.txt"
LANDMARK_ROLES = {"banner", "complementary", "contentinfo", "form", "main", "navigation", "region", "search"}
SECTIONING = ["article", "aside", "main", "nav", "section"]


@pytest.fixture(scope="module")
def orca_library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict[str, int]]]:
    with live_server(tmp_path_factory.mktemp("orca") / "data") as running:
        yield running


def fetch(url: str, status: int = 200) -> str:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            assert status == 200, f"{url} answered HTTP 200, not {status}"
            return response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        if error.code == status:
            return error.read().decode("utf-8")
        raise AssertionError(f"{url} answered HTTP {error.code}, not the page to listen to") from error


def _named(element: Tag) -> bool:
    return bool(element.get("aria-label") or element.get("aria-labelledby") or element.get("title"))


def landmark_count(soup: BeautifulSoup) -> int:
    """Landmarks as HTML-AAM maps elements to roles, which is what Chromium exposes to Orca."""
    count = 0
    for element in soup.body.find_all(True):
        role = element.get("role")
        if role:
            count += role in LANDMARK_ROLES
        elif element.name in ("main", "nav", "aside"):
            count += 1
        elif element.name in ("header", "footer"):
            count += element.find_parent(SECTIONING) is None
        elif element.name in ("form", "section"):
            count += _named(element)
    return count


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def expected_summary(html: str) -> tuple[str, str]:
    """Orca's load summary as it must start, and the link count it must mention."""
    soup = BeautifulSoup(html, "html.parser")
    headings = soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6"]) + soup.find_all(role="heading")
    links = soup.find_all("a", href=True)
    start = f"Page has {plural(landmark_count(soup), 'landmark')}, {plural(len(headings), 'heading')}"
    return start, f"{plural(len(links), 'unvisited link')}."


def the_one_h1(html: str) -> str:
    h1s = BeautifulSoup(html, "html.parser").find_all("h1")
    assert len(h1s) == 1, [h.get_text() for h in h1s]
    return " ".join(h1s[0].get_text().split())


def listen(url: str) -> tuple[list[str], list[dict]]:
    """Open `url` in Chromium under Orca, go to the top and press H once; what Orca said on load and on H."""
    result = read_page(url, ["ctrl+Home", "h"])
    assert result["ok"], f"Orca could not read {url}: {result.get('error')}"
    load = [utterance["text"] for utterance in result["startup"]]
    return load, result["steps"][1]["utterances"]


def check_page(url: str, h1: str, status: int = 200) -> list[dict]:
    """The checks every page shares; returns the utterances of the H key for page-specific checks."""
    html = fetch(url, status)
    assert the_one_h1(html) == h1, "the served page's h1 is not the one the test expects"
    load, on_h = listen(url)
    summary_start, links = expected_summary(html)
    summaries = [text for text in load if text.startswith("Page has ")]
    assert len(summaries) == 1, f"no page summary on load; Orca said {load}"
    assert summaries[0].startswith(summary_start + ","), (summaries[0], summary_start)
    assert summaries[0].endswith(links), (summaries[0], links)
    texts = [utterance["text"] for utterance in on_h]
    assert texts and texts[0] == f"{h1} heading level 1.", f"H on {url} said {texts}"
    return on_h


def test_home_page(orca_library):
    live, _ = orca_library
    check_page(live.url + "/", "Accessible Library")


def test_search_results_page(orca_library):
    """The count comes first, and a pasted paragraph is echoed short (it was read out twice, title and
    heading, about 550 characters each, before the count)."""
    live, _ = orca_library
    query = " ".join(["whale"] * 400)  # 2,399 characters; the search takes the first 500
    db = open_database(live.settings.database_path)
    try:
        total = search.search(db, query[:500].strip(), per_page=live.settings.page_size).total
    finally:
        db.close()
    assert total >= 2, "the library should hold several books about whales"
    heading = f"{plural(total, 'book')} found for {shown_query(query[:500].strip())}"
    assert len(heading) < 90 and heading.endswith("whale…")
    check_page(f"{live.url}/search?q={quote(query)}", heading)


def chapter(live: LiveServer, book_id: int, position: int) -> dict:
    db = open_database(live.settings.database_path)
    try:
        found = catalogue.get_chapter(db, book_id, position)
    finally:
        db.close()
    assert found is not None
    return found


def test_chapter_page(orca_library):
    live, books = orca_library
    # Chapters as the NCX says: title page, notes, etymology and its subentry, extracts (2), then Loomings.
    loomings = chapter(live, books[WHALE_BOOK], 7)
    assert loomings["title"] == "CHAPTER 1. Loomings."
    check_page(f"{live.url}/books/{books[WHALE_BOOK]}/read/7", loomings["title"])


def test_a_chapter_past_the_end_is_named_and_leads_back(orca_library):
    """Not a bare "Page not found": the reader hears which chapter is missing, and the page's links (in
    the load summary's count) lead back to the book, its contents and its last chapter."""
    live, books = orca_library
    url = f"{live.url}/books/{books[WHALE_BOOK]}/read/999"
    check_page(url, "There is no chapter 999", status=404)
    links = BeautifulSoup(fetch(url, 404), "html.parser").find("main").find_all("a")
    assert [a["href"] for a in links][:2] == [
        f"/books/{books[WHALE_BOOK]}",
        f"/books/{books[WHALE_BOOK]}#contents",
    ]


def test_chinese_chapter_heading_is_marked_as_chinese(orca_library):
    live, books = orca_library
    first = chapter(live, books[CHINESE_BOOK], 1)
    on_h = check_page(f"{live.url}/books/{books[CHINESE_BOOK]}/read/1", first["title"])
    # Orca 43 keeps its English voice, but it must see the language, so that a reader whose Orca
    # switches voices (or a braille display) gets Chinese.
    assert on_h[0]["content_lang"].startswith("zh"), on_h[0]


def test_harness_runs_from_the_command_line(tmp_path: Path):
    """The harness is also a tool to listen by hand: `python3 tests/orca_harness.py URL KEY...`."""
    import subprocess
    import sys

    page = tmp_path / "page.html"
    page.write_text(
        '<!doctype html><html lang="en"><head><title>Harness check</title></head>'
        "<body><main><h1>Heard through Orca</h1><p>One paragraph.</p></main></body></html>",
        encoding="utf-8",
    )
    run = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("orca_harness.py")), str(page), "ctrl+Home", "h"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "[h] Heard through Orca heading level 1." in run.stdout.splitlines(), run.stdout
