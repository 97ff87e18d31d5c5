"""Read-along in a real Chromium: "Read aloud" plays a short chapter spoken by the real espeak-ng, and at
several moments the highlighted sentence is the one whose time span holds the audio's position (the
timings route's spans, checked against the MP3 itself in test_readalong.py); the focus never leaves the
button; pause, next and previous sentence, faster, and reading from a selected sentence work by their
shortcuts, a click on a sentence reads from it;
axe finds nothing with read-along active; forced colours still show the highlight."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page

from accessible_lib import catalogue
from accessible_lib.db import open_database
from accessible_lib.settings import Settings

from .browser_conftest import chromium, new_context  # noqa: F401 (fixtures)
from .conftest import make_book
from .live_server import LiveServer, start_server
from .test_browser_axe import AXE_OPTIONS, axe_problems

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TEXTS = {
    "en": (
        "The lamp was lit at dusk. Nobody came to the door.\n\n"
        "Rain fell on the roof all night. The keeper wrote in his book.\n\n"
        "At dawn the sea was calm again. He slept."
    ),
    "zh-Hans": (
        "灯塔在黄昏点亮。没有人来敲门。\n\n雨整夜落在屋顶上。守塔人在本子上写字。\n\n天亮时海又平静了。他睡着了。"
    ),
}
# The audio's position, the highlighted sentence, the focus and the toggle's state, read in one go.
STATE = """() => {
  const audio = document.querySelector('[data-readalong-audio]');
  const now = [...document.querySelectorAll('.reading-now')].map(e => e.getAttribute('data-s'));
  const src = audio.currentSrc || '';
  return { time: audio.currentTime, paused: audio.paused, error: audio.error && audio.error.code,
    from: Number(new URL(src || location.href, location.href).searchParams.get('from') || 0),
    now: [...new Set(now)], focus: document.activeElement.getAttribute('data-readalong-action'),
    pressed: document.querySelector('[data-readalong-action=play]').getAttribute('aria-pressed') };
}"""


@pytest.fixture(scope="module")
def reading(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict[str, int]]]:
    settings = Settings.from_env({}, data_dir=Path(tmp_path_factory.mktemp("readalong")) / "data")
    settings.data_dir.mkdir(parents=True)
    db = open_database(settings.database_path)
    books = {
        lang: catalogue.add_book(db, make_book(f"The Keeper {lang}", [("Night", text)], language=lang))
        for lang, text in TEXTS.items()
    }
    db.close()
    live = start_server(settings)
    try:
        yield live, books
    finally:
        live.stop()


def state(page: Page) -> dict:
    return page.evaluate(STATE)


def timings(page: Page, book: int, start: int) -> dict[int, tuple[float, float]]:
    """Each sentence's span in the stream that starts at sentence `start`: from its start to the next's."""
    answer = page.evaluate(
        "async (url) => (await fetch(url)).json()", f"/books/{book}/read/1/timings?from={start}"
    )
    assert answer["complete"], answer
    spans = answer["sentences"]
    following = [s[1] for s in spans[1:]] + [spans[-1][2] + 0.5]
    return {number: (begin, after) for (number, begin, _), after in zip(spans, following, strict=True)}


def assert_in_step(page: Page, book: int) -> dict:
    now = state(page)
    spans = timings(page, book, now["from"])
    assert len(now["now"]) == 1, now
    begin, end = spans[int(now["now"][0])]
    assert begin - 0.3 <= now["time"] <= end + 0.3, (now, begin, end)  # a frame's lag at most
    return now


@pytest.mark.parametrize(
    ("lang", "locale", "label"), [("en", "en", "Read aloud"), ("zh-Hans", "zh_Hans", "朗读")]
)
def test_read_along_highlights_the_sentence_heard_and_never_moves_the_focus(
    chromium: Browser,  # noqa: F811
    reading: tuple[LiveServer, dict[str, int]],
    lang: str,
    locale: str,
    label: str,
) -> None:
    server, books = reading
    book = books[lang]
    context = new_context(chromium, server, locale, reduced_motion="reduce")
    try:
        page = context.new_page()
        page.goto(f"{server.url}/books/{book}/read/1")
        page.wait_for_selector("[data-readalong][data-enhanced]")
        toggle = page.locator("[data-readalong-action=play]")
        assert toggle.inner_text() == label and toggle.get_attribute("aria-pressed") == "false"
        toggle.focus()  # the reader Tabs to it; the script never focuses anything
        page.keyboard.press("Enter")
        page.wait_for_function(f"() => ({STATE})().time > 0.5")
        page.wait_for_function(
            "async (url) => (await (await fetch(url)).json()).complete", arg=f"/books/{book}/read/1/timings"
        )
        seen = set()
        for _ in range(6):  # several moments of the chapter, about 0.8 s apart
            now = assert_in_step(page, book)
            assert now["focus"] == "play" and now["pressed"] == "true" and not now["paused"], now
            seen.update(now["now"])
            time.sleep(0.8)
        assert len(seen) >= 2, seen  # the highlight moved on with the audio

        # Pause (the shortcut), then next and previous sentence.
        page.keyboard.press("Alt+Shift+S")
        page.wait_for_function(
            f"() => {{ const s = ({STATE})(); return s.paused && s.pressed === 'false'; }}"
        )
        paused = state(page)
        assert paused["pressed"] == "false" and paused["focus"] == "play"
        time.sleep(0.5)
        assert state(page)["time"] == paused["time"]  # it stays where it paused
        # axe with read-along active: the controls shown, a sentence highlighted (paused: a short chapter
        # must not end while axe looks).
        assert axe_problems(Axe(), page, page.url, AXE_OPTIONS) == []
        before = int(paused["now"][0])
        page.keyboard.press("Alt+Shift+Period")
        page.wait_for_function(f"() => {{ const s = ({STATE})(); return !s.paused && s.time > 0; }}")
        assert state(page)["now"] == [str(before + 1)]
        time.sleep(0.3)
        assert_in_step(page, book)
        page.keyboard.press("Alt+Shift+Comma")
        page.wait_for_function(f"() => ({STATE})().now[0] === '{before}'")
        time.sleep(0.3)
        after = assert_in_step(page, book)
        assert after["focus"] == "play" and after["now"] == [str(before)]

        # Forced colours: the highlight is still drawn, in the system's highlight colours.
        page.emulate_media(forced_colors="active")
        colours = page.evaluate(
            """() => {
              const now = document.querySelector('.reading-now');
              const other = document.querySelector('article [data-s]:not(.reading-now)');
              const style = (e) => { const s = getComputedStyle(e); return [s.backgroundColor, s.color]; };
              return { now: style(now), other: style(other) };
            }"""
        )
        assert colours["now"] != colours["other"], colours
        page.emulate_media(forced_colors="none")

        # Faster: the audio's own rate, said on the page (not in a live region).
        page.keyboard.press("Alt+Shift+Equal")
        assert page.evaluate("document.querySelector('[data-readalong-audio]').playbackRate") == 1.25
        assert "1.25" in page.locator("[data-readalong-speed]").inner_text()
        # The keyboard's way to start at a chosen place: select a sentence (or put the caret in it).
        page.evaluate("getSelection().selectAllChildren(document.querySelector(\"article [data-s='3']\"))")
        page.keyboard.press("Alt+Shift+J")
        page.wait_for_function(f"() => {{ const s = ({STATE})(); return s.now[0] === '3' && !s.paused; }}")
        time.sleep(0.3)
        assert assert_in_step(page, book)["focus"] == "play"
        assert page.evaluate("document.querySelector('[data-readalong-audio]').playbackRate") == 1.25
        page.evaluate("getSelection().removeAllRanges()")

        # A click on a sentence reads from it (a mouse or touch user's way; it is not a focus stop).
        page.locator("article [data-s='5']").first.click()
        page.wait_for_function(f"() => {{ const s = ({STATE})(); return s.now[0] === '5' && !s.paused; }}")
        time.sleep(0.3)
        assert_in_step(page, book)
        assert page.locator("article [data-s][tabindex]").count() == 0
    finally:
        context.close()
