"""The book page's player in a real Chromium, by keyboard only: buttons, shortcuts, speed, skips, the next
chapter starting by itself, and the position remembered across a reload; and the page without JavaScript.

The live library's first book (Alice) has a finished MP3 edition whose chapters are a few seconds long
(tests/live_server.py), so the tests seek with the player's own controls rather than wait.
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from bs4 import BeautifulSoup
from playwright.sync_api import Browser, Page

from .browser_conftest import (  # noqa: F401 (fixtures)
    LOCALES,
    chromium,
    focused,
    live,
    live_library,
    new_context,
)
from .live_server import LiveServer
from .orca_harness import read_page
from .test_browser_axe import AXE_OPTIONS, NARROW, axe_problems, reflow_problems
from .test_keyboard import tab_to

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BOOK = "epub/en/alice-pg19033-nyu-epub3.epub"
STATE = """() => { const q = (s) => document.querySelector(s); const a = q('[data-audio]');
  return { src: a.getAttribute('src'), time: a.currentTime, duration: a.duration, paused: a.paused,
  rate: a.playbackRate,
  current: [...document.querySelectorAll('a[data-chapter]')].findIndex(l => l.getAttribute('aria-current')),
  status: q('[data-status]').textContent, speed: q('[data-speed]').value,
  play: q('[data-action=play]').textContent }; }"""
TO_NEAR_END = "() => { const a = document.querySelector('[data-audio]'); a.currentTime = a.duration - 0.3; }"


@pytest.fixture
def book_page(chromium: Browser, live_library: tuple[LiveServer, dict]) -> Iterator[Page]:  # noqa: F811
    server, books = live_library
    context = new_context(chromium, server, "en")
    page = context.new_page()
    page.goto(f"{server.url}/books/{books[BOOK]}")
    try:
        yield page
    finally:
        context.close()


def state(page: Page) -> dict:
    return page.evaluate(STATE)


def wait_for(page: Page, condition: str) -> dict:
    page.wait_for_function(f"() => {{ const s = ({STATE})(); return {condition}; }}", timeout=60_000)
    return state(page)


def test_player_appears_and_is_reached_by_tab(book_page: Page) -> None:
    page = book_page
    assert page.locator("[data-player]").is_visible()
    info = tab_to(page, lambda f: f["tag"] == "button" and f["text"] == "Play", "the Play button")
    assert info["text"] == "Play"
    page.keyboard.press("Enter")
    playing = wait_for(page, "!s.paused && s.time > 0")
    assert playing["current"] == 0 and playing["play"] == "Pause"
    page.keyboard.press("Enter")  # the same button pauses
    wait_for(page, "s.paused && s.play === 'Play'")


def link_names(page: Page) -> list[str]:
    """The links' names as Chromium computes them for screen readers (CSS generated text included)."""
    session = page.context.new_cdp_session(page)
    try:
        nodes = session.send("Accessibility.getFullAXTree")["nodes"]
    finally:
        session.detach()
    return [
        node["name"]["value"]
        for node in nodes
        if node.get("role", {}).get("value") == "link" and not node.get("ignored") and "name" in node
    ]


def test_the_current_chapter_is_marked_by_aria_current_not_named_by_a_symbol(book_page: Page) -> None:
    """The visible "▶" before the current chapter must not become part of its name ("▶ Cover"): a screen
    reader says "current" from aria-current instead."""
    page = book_page
    chapters = page.locator("ol.listen-chapters a[data-chapter]")
    titles = [title.strip() for title in chapters.all_text_contents()]
    for index in (0, 1):
        if index:
            page.keyboard.press("Alt+Shift+PageDown")
            wait_for(page, "s.current === 1")
        marked = [chapters.nth(i).get_attribute("aria-current") for i in range(len(titles))]
        assert marked == ["true" if i == index else None for i in range(len(titles))]
        names = link_names(page)
        assert titles[index] in names, names
        assert not [name for name in names if "▶" in name], names


def test_speed_by_button_shortcut_and_menu(book_page: Page) -> None:
    page = book_page
    tab_to(page, lambda f: f["tag"] == "button" and f["text"] == "Faster", "the Faster button")
    page.keyboard.press("Enter")
    wait_for(page, "s.rate === 1.25 && s.status === 'Speed 1.25×'")
    page.keyboard.press("Alt+Shift+Equal")
    page.keyboard.press("Alt+Shift+Equal")
    assert wait_for(page, "s.rate === 1.75")["speed"] == "1.75"
    page.keyboard.press("Alt+Shift+Minus")
    wait_for(page, "s.rate === 1.5 && s.status === 'Speed 1.5×'")
    for _ in range(8):
        page.keyboard.press("Alt+Shift+Equal")
    assert wait_for(page, "s.rate === 3")["speed"] == "3"  # never beyond 3x
    page.select_option("[data-speed]", "0.75")
    wait_for(page, "s.rate === 0.75 && s.status === 'Speed 0.75×'")
    page.focus("#site-search")  # typing: Option+Shift makes characters on a Mac, the field keeps them
    page.keyboard.press("Alt+Shift+Equal")
    page.keyboard.press("Alt+Shift+PageDown")
    assert state(page)["rate"] == 0.75 and state(page)["current"] == 0


def test_skips_and_chapters_by_shortcut(book_page: Page) -> None:
    page = book_page
    page.keyboard.press("Alt+Shift+PageDown")
    wait_for(
        page,
        "s.current === 1 && s.src.endsWith('chapter-002.mp3') && s.status.startsWith('Current chapter: ')",
    )
    page.keyboard.press("Alt+Shift+KeyS")
    wait_for(page, "!s.paused && s.duration > 1")
    page.keyboard.press("Alt+Shift+KeyS")
    wait_for(page, "s.paused")
    page.evaluate("() => { document.querySelector('[data-audio]').currentTime = 0.5; }")
    page.keyboard.press("Alt+Shift+Comma")
    wait_for(page, "s.time < 0.1 && s.status.startsWith('0:00 of')")  # where the skip landed is spoken
    page.keyboard.press("Alt+Shift+Period")  # 30 s on is past this short chapter's end: the next one, paused
    moved = wait_for(
        page, "s.current === 2 && s.paused && s.time < 0.5 && s.status.startsWith('Current chapter: ')"
    )
    assert moved["src"].endswith("chapter-003.mp3")
    page.keyboard.press("Alt+Shift+PageUp")  # at the start of chapter 3: back to chapter 2
    wait_for(page, "s.current === 1")
    page.keyboard.press("Alt+Shift+PageUp")
    assert wait_for(page, "s.current === 0")["src"].endswith("chapter-001.mp3")


def test_next_chapter_starts_by_itself(book_page: Page) -> None:
    page = book_page
    tab_to(page, lambda f: f["tag"] == "button" and f["text"] == "Play", "the Play button")
    page.keyboard.press("Enter")
    wait_for(page, "!s.paused && s.duration > 1")
    page.evaluate(
        "() => { const a = document.querySelector('[data-audio]'); a.currentTime = a.duration - 0.3; }"
    )
    after = wait_for(page, "s.current === 1 && !s.paused && s.time > 0")
    assert after["src"].endswith("chapter-002.mp3")


def test_position_is_remembered_and_offered_back(book_page: Page) -> None:
    page = book_page
    page.keyboard.press("Alt+Shift+PageDown")
    page.keyboard.press("Alt+Shift+PageDown")
    wait_for(page, "s.current === 2")
    page.keyboard.press("Alt+Shift+KeyS")
    wait_for(page, "!s.paused && s.time > 1")
    page.keyboard.press("Alt+Shift+KeyS")
    paused = wait_for(page, "s.paused")
    page.keyboard.press("Alt+Shift+Equal")
    page.reload()
    resume = page.locator("[data-action=resume]")
    assert resume.is_visible()
    title = page.locator("a[data-chapter='2']").text_content().strip()
    assert title in resume.text_content()
    assert state(page)["rate"] == 1.25  # the speed comes back at once
    tab_to(page, lambda f: f["tag"] == "button" and f["text"].startswith("Resume"), "the Resume button")
    page.keyboard.press("Enter")
    resumed = wait_for(page, "s.current === 2 && s.time > 0.5")
    assert abs(resumed["time"] - paused["time"]) < 1.5


def test_without_javascript_the_chapters_are_plain_links(chromium, live_library) -> None:  # noqa: F811
    server, books = live_library
    context = new_context(chromium, server, "en", java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{server.url}/books/{books[BOOK]}")
        assert not page.locator("[data-player]").is_visible()
        links = page.locator("ol.listen-chapters a[data-chapter]")
        assert links.count() > 1
        response = context.request.get(server.url + links.first.get_attribute("href"))
        assert response.headers["content-type"] == "audio/mpeg"
        assert response.headers["content-disposition"].startswith("inline;")
    finally:
        context.close()


@pytest.mark.parametrize("locale", LOCALES)
def test_player_in_use_passes_axe(chromium, live_library, locale) -> None:  # noqa: F811
    """The crawl sees the player as it loads; this checks what only using it shows: the shortcut list
    open, a Resume offer, a spoken status, the playing chapter marked, and the page at 320 px."""
    server, books = live_library
    context = new_context(chromium, server, locale)
    try:
        page = context.new_page()
        url = f"{server.url}/books/{books[BOOK]}"
        page.goto(url)
        assert page.locator("[data-player]").is_visible()
        page.keyboard.press("Alt+Shift+PageDown")
        page.keyboard.press("Alt+Shift+Equal")
        page.reload()  # the position saved by the keys above comes back as a Resume offer
        assert page.locator("[data-action=resume]").is_visible()
        page.keyboard.press("Alt+Shift+Equal")
        wait_for(page, "s.status !== ''")
        page.locator("details.shortcuts summary").click()
        assert page.locator("details.shortcuts dl").is_visible()
        problems = axe_problems(Axe(), page, url, AXE_OPTIONS, " (player in use)")
        page.set_viewport_size(NARROW)
        problems += reflow_problems(page, url)
        assert not problems, "\n".join(problems)
    finally:
        context.close()


def spoken(step: dict) -> list[str]:
    return [" ".join(u["text"].split()) for u in step["utterances"] if u["text"].strip()]


@pytest.mark.orca
def test_orca_hears_the_player_and_its_shortcuts_reach_it(live_library) -> None:  # noqa: F811
    """Under the real Orca, in browse mode (where a screen reader takes keys for itself), every shortcut
    must reach the player, and what the player announces must be spoken. The expected words come from the
    served page's own templates."""
    server, books = live_library
    url = f"{server.url}/books/{books[BOOK]}"
    with urllib.request.urlopen(url, timeout=60) as response:
        soup = BeautifulSoup(response.read().decode("utf-8"), "html.parser")
    root = soup.find(attrs={"data-player-root": True})
    titles = [" ".join(a.get_text().split()) for a in root.select("a[data-chapter]")]
    seconds = float(root.select("a[data-chapter]")[1]["data-seconds"])
    assert seconds < 28, "the second chapter must be shorter than a skip, so that it goes on to the third"

    def text(name: str, **values: str) -> str:
        return re.sub(r"%\((\w+)\)s", lambda m: values[m.group(1)], root[f"data-text-{name}"])

    keys = [
        "ctrl+Home",
        "alt+shift+Next",  # Page Down: next chapter
        "alt+shift+equal",  # faster
        "alt+shift+minus",  # slower
        "alt+shift+period",  # forward 30 s: past the end of this short chapter, so the next one
        "alt+shift+comma",  # back 30 s: the start of that chapter, where it already is
        "alt+shift+Prior",  # Page Up at a chapter's start: the previous chapter
        "alt+shift+s",  # play
        "sleep:1",
        "alt+shift+s",  # pause
    ]
    result = read_page(url, keys)
    assert result["ok"], f"Orca could not read {url}: {result.get('error')}"
    said = [spoken(step) for step in result["steps"]]
    assert said[1] == [text("now", title=titles[1])], said
    assert said[2] == [text("speed", rate="1.25")], said
    assert said[3] == [text("speed", rate="1")], said
    assert said[4] == [text("now", title=titles[2])], said  # 30 s on is past the end: the next chapter
    total = said[5][0].split(" of ")[-1] if said[5] else ""
    assert said[5] == [text("position", time="0:00", total=total)] and re.fullmatch(r"0:\d\d", total), said
    assert said[6] == [text("now", title=titles[1])], said
    # Nothing claimed to play before it did; then play and pause are both spoken, pause with the time.
    assert not [words for step in said[:7] for words in step if "Playing" in words], said
    assert said[7] == [text("playing")], said
    paused = said[9][0] if said[9] else ""
    assert said[9] == [paused] and re.fullmatch(text("paused", time=r"0:(0[1-9]|[12][0-9])"), paused), said
