"""Read-along on the chapter page: its sentence marks are the listening route's sentences, one for one and
in order (English and Chinese, with inline markup, a note and an image), and the audio `?from=K` and the
timings route that the script follows, with their rights checks and clear errors. Real espeak-ng, real
lameenc, the real sentence cache; the browser and Orca tests are test_browser_readalong.py and
test_orca_readalong.py."""

from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path

import mutagen.mp3
import pytest
from bs4 import BeautifulSoup
from starlette.testclient import TestClient

from accessible_lib import access, catalogue, create_app, i18n
from accessible_lib.chapter_html import prepare_chapter_html
from accessible_lib.db import open_database
from accessible_lib.editions.spoken_text import chapter_lines
from accessible_lib.rights import Rights, set_rights
from accessible_lib.sentence_marks import mark_sentences
from accessible_lib.settings import Settings
from accessible_lib.web.readalong import CONTROLS

from .conftest import make_book

ENGLISH = (
    "Call me <em>Ishmael. Some years</em> ago I sailed."
    '<a role="doc-noteref" href="#n1">1</a> Dr. Smith came with £5.'
    '\n\n<img src="https://example.org/whale.png" alt="A whale. It is white.">'
    '\n\n<aside role="doc-footnote" id="n1"><p>1. Whales are big. Really.</p></aside>'
)
CHINESE = (
    "此开卷第一回也。作者自云：<b>因曾历过</b>一番梦幻之后。"
    "\n\n诗云：<br>一局输赢料不真，<br>香销茶尽尚逡巡。"
)


@pytest.fixture
def books(db) -> dict[str, int]:
    english = make_book("Loomings", [("Loomings", ENGLISH), ("Short", "One.")], language="en")
    chinese = make_book("红楼梦", [("第一回 甄士隐梦幻识通灵", CHINESE)], language="zh-Hans")
    return {"en": catalogue.add_book(db, english), "zh": catalogue.add_book(db, chinese)}


def spoken(db, book_id: int, position: int = 1) -> list[str]:
    """What the listening route speaks for the chapter, shown form, in order (its plan's lines)."""
    book = catalogue.get_book(db, book_id)
    chapter = catalogue.get_chapter(db, book_id, position)
    lang = chapter["lang"] or book["language"]
    return [line.sentence.display for line in chapter_lines(chapter, chapter["title"], lang)]


def marked(page: BeautifulSoup) -> dict[int, str]:
    """Each marked sentence's text as the page shows it (its pieces joined), by number."""
    pieces: dict[int, list[str]] = defaultdict(list)
    for element in page.select("main [data-s]"):
        for number in element["data-s"].split():
            pieces[int(number)].append(element.get("alt") or element.get_text())
    return {number: "".join(text) for number, text in pieces.items()}


def bare(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_spoken_sentence_is_marked_once_in_the_order_it_is_spoken(client, db, books, language) -> None:
    response = client.get(f"/books/{books[language]}/read/1")
    assert response.status_code == 200
    page = BeautifulSoup(response.text, "html.parser")
    sentences = spoken(db, books[language])
    shown = marked(page)
    assert sorted(shown) == list(range(len(sentences)))
    assert page.select_one("[data-readalong]")["data-count"] == str(len(sentences))
    for number, sentence in enumerate(sentences):
        if page.select_one(f'main img[data-s~="{number}"]') is not None:
            continue  # an image's description is spoken; its alt text is what the marks carry
        if sentence.startswith("Note 1:"):
            assert bare(shown[number]) == bare("1. " + sentence.removeprefix("Note 1: "))
        else:
            assert bare(shown[number]) == bare(sentence), number
    # The marks add no role, label or focus stop, and the text reads as before.
    assert not page.select(
        "main span[data-s][role], main span[data-s][tabindex], main span[data-s][aria-label]"
    )
    assert (
        page.select_one("h1 [data-s='0']").get_text()
        == catalogue.get_chapter(db, books[language], 1)["title"]
    )


def test_a_sentence_across_inline_markup_is_marked_in_each_piece(client, books) -> None:
    page = BeautifulSoup(client.get(f"/books/{books['en']}/read/1").text, "html.parser")
    paragraph = page.select("article p")[0]
    assert [span["data-s"] for span in paragraph.select("span[data-s]")] == ["1", "1", "2", "2", "2", "2"]
    assert paragraph.select_one("em").get_text() == "Ishmael. Some years"  # the emphasis is unchanged
    assert paragraph.select_one("a[role=doc-noteref] span[data-s='2']").get_text() == "1"
    assert page.select_one("article img")["data-s"] == "3 4"  # "Image: A whale." and "It is white."


def test_the_timings_follow_the_stream_and_never_speak(client, books) -> None:
    book = books["en"]
    service = client.app_state["listening"]
    before = client.get(f"/books/{book}/read/1/timings")
    assert before.status_code == 200
    assert before.json() == {"from": 0, "count": 7, "complete": False, "sentences": []}
    assert service.stats["sentences_spoken"] == 0  # asking speaks nothing
    whole = client.get(f"/books/{book}/read/1/audio")
    answer = client.get(f"/books/{book}/read/1/timings").json()
    assert answer["complete"] is True and [s[0] for s in answer["sentences"]] == list(range(7))
    for (_, start, end), (_, following, _) in zip(answer["sentences"], answer["sentences"][1:], strict=False):
        assert start < end <= following  # in order, a paragraph's pause between some of them
    length = mutagen.mp3.MP3(io.BytesIO(whole.content)).info.length
    assert abs(length - (answer["sentences"][-1][2] + 0.4)) < 0.15  # the last paragraph's pause ends it
    # From sentence 5: a stream of its own, timed from its own start, spoken from the cache.
    spoken_before = service.stats["sentences_spoken"]
    part = client.get(f"/books/{book}/read/1/audio?from=5")
    assert part.status_code == 200 and service.stats["sentences_spoken"] == spoken_before
    later = client.get(f"/books/{book}/read/1/timings?from=5").json()
    assert later["from"] == 5 and later["complete"] is True
    assert [s[0] for s in later["sentences"]] == [5, 6] and later["sentences"][0][1] == 0
    offset = answer["sentences"][5][1]
    assert later["sentences"][-1][2] == pytest.approx(answer["sentences"][-1][2] - offset, abs=0.002)
    assert mutagen.mp3.MP3(io.BytesIO(part.content)).info.length < length - offset + 0.15


@pytest.mark.parametrize(
    ("query", "words"),
    [("from=9", "no sentence 9"), ("from=-1", "no sentence -1"), ("from=two", "no sentence two"),
     ("rate=9999", "from 80 to 450"), ("voice=nobody", "no voice called")],
)  # fmt: skip
def test_bad_parameters_get_a_clear_json_error(client, books, query, words) -> None:
    response = client.get(f"/books/{books['en']}/read/1/timings?{query}")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert words in response.json()["error"]
    audio = client.get(f"/books/{books['en']}/read/1/audio?{query}")
    assert audio.status_code == 400 and words in audio.text


def test_a_reader_who_may_not_read_the_book_gets_no_timings(client, db, books) -> None:
    with db.conn:
        set_rights(db, books["en"], Rights(access.ELIGIBLE_ONLY))
    refused = client.get(f"/books/{books['en']}/read/1/timings")
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/json"
    assert (
        refused.json()["title"] == "This book is for eligible readers only" and "Ishmael" not in refused.text
    )
    missing = client.get(f"/books/{books['zh']}/read/7/timings")
    assert missing.status_code == 404 and "error" in missing.json()
    assert client.get("/books/9999/read/1/timings").json() == {"error": "There is no such book."}


def test_the_chapter_page_offers_read_along_only_to_the_script(client, books) -> None:
    client.cookies.set(i18n.COOKIE, "zh_Hans")  # the interface in Chinese, as the language link sets it
    page = BeautifulSoup(client.get(f"/books/{books['zh']}/read/1").text, "html.parser")
    along = page.select_one("[data-readalong]")
    assert along.has_attr("hidden")  # shown by readalong.js; without it the native player reads the chapter
    buttons = along.select("button[data-readalong-action]")
    assert [b["data-readalong-action"] for b in buttons] == [
        "play",
        "previous",
        "next",
        "slower",
        "faster",
        "here",
    ]
    assert buttons[0].get_text() == "朗读" and buttons[0]["aria-pressed"] == "false"
    assert all(b["aria-keyshortcuts"].startswith("Alt+Shift+") for b in buttons)
    assert page.select_one("script[src='/static/readalong.js']") is not None
    assert not page.select("[data-readalong] [aria-live]")


def test_the_readme_tells_a_reader_how_to_follow_along() -> None:
    """The README's section names every shortcut the page offers, and says the focus is never moved."""
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Follow along as a chapter is read", 1)[1].split("\n## ", 1)[0]
    for control in CONTROLS:
        assert f"Alt+Shift+{control.shown}" in section, control
    assert "Read aloud" in section and "never moves" in section


def test_a_title_heading_the_page_drops_after_a_cover_leaves_the_rest_marked_in_step() -> None:
    """The page's fitting drops a heading that repeats the title after a cover image; the speech reads it.
    The blocks are aligned by their text: everything shown is still marked with its spoken number."""
    source = '<img src="resource:cover.png" alt="Cover"><h1>Night</h1><p>The lamp was lit. He slept.</p>'
    chapter = {"html": source, "title": "Night", "position": 1}
    content = prepare_chapter_html(source, book_id=1, title="Night")
    html, title, count = mark_sentences(content, chapter, "en")
    sentences = [line.sentence.display for line in chapter_lines(chapter, "Night", "en")]
    assert sentences == ["Night", "Image: Cover", "Night", "The lamp was lit.", "He slept."] and count == 5
    page = BeautifulSoup(f"<h1>{title}</h1>{html}", "html.parser")
    assert page.select_one("h1 span")["data-s"] == "0" and page.select_one("img")["data-s"] == "1"
    assert [(s["data-s"], s.get_text()) for s in page.select("p span")] == [
        ("3", "The lamp was lit."),
        ("4", "He slept."),
    ]


def test_without_a_sentence_cache_the_timings_say_at_once_that_none_will_come(tmp_path) -> None:
    """Nothing is kept, so nothing can be timed: `complete` with no sentences, and the page stops asking
    (it plays without a highlight) instead of asking forever."""
    settings = Settings.from_env({}, data_dir=tmp_path / "data", sentence_cache_mb=0)
    with TestClient(create_app(settings)) as client:
        db = open_database(settings.database_path)
        book = catalogue.add_book(db, make_book("Short", [("One", "One sentence.")], language="en"))
        db.close()
        assert client.get(f"/books/{book}/read/1/audio").status_code == 200
        answer = client.get(f"/books/{book}/read/1/timings").json()
    assert answer == {"from": 0, "count": 2, "complete": True, "sentences": []}
