"""The chapter page's "Listen to this chapter" player in a real Chromium: it plays a chapter that has no
audio edition, spoken while it streams, by keyboard; the status region says "Playing" and "Paused at";
and in Chinese as in English."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page

from .browser_conftest import chromium, new_context  # noqa: F401 (fixtures)
from .live_server import LiveServer, live_server
from .test_browser_axe import AXE_OPTIONS, axe_problems

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FILES = ("text/zh/zh-chibifu-su-shi.txt", "epub/en/pg17192-poe-the-raven-epub2.epub")
STATE = """() => { const a = document.querySelector('[data-listen-audio]');
  return { time: a.currentTime, paused: a.paused, error: a.error && a.error.code,
  status: document.querySelector('[data-listen-status]').textContent }; }"""


@pytest.fixture(scope="module")
def small_library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict[str, int]]]:
    with live_server(Path(tmp_path_factory.mktemp("listen")) / "data", files=FILES) as running:
        yield running


def wait_for(page: Page, condition: str) -> dict:
    page.wait_for_function(f"() => {{ const s = ({STATE})(); return {condition}; }}", timeout=60_000)
    return page.evaluate(STATE)


@pytest.mark.parametrize(
    ("corpus", "locale", "playing", "paused"),
    [(FILES[1], "en", "Playing", "Paused at "), (FILES[0], "zh_Hans", "正在播放", "已暂停，位置 ")],
)
def test_the_listen_control_plays_the_chapter_by_keyboard(
    chromium: Browser,  # noqa: F811
    small_library: tuple[LiveServer, dict[str, int]],
    corpus: str,
    locale: str,
    playing: str,
    paused: str,
) -> None:
    server, books = small_library
    context = new_context(chromium, server, locale)
    try:
        page = context.new_page()
        page.goto(f"{server.url}/books/{books[corpus]}/read/1")
        assert axe_problems(Axe(), page, page.url, AXE_OPTIONS) == []
        audio = page.locator("[data-listen-audio]")
        assert audio.get_attribute("src") == f"/books/{books[corpus]}/read/1/audio"
        audio.focus()
        page.keyboard.press("Space")  # Chromium's own media keys: Space plays and pauses a focused player
        started = wait_for(page, "!s.paused && s.time > 1")
        assert started["error"] is None and started["status"] == playing
        page.keyboard.press("Space")
        stopped = wait_for(page, f"s.paused && s.status.startsWith('{paused}')")
        whole = round(stopped["time"])
        assert stopped["status"] == f"{paused}{whole // 60}:{whole % 60:02d}"  # where it paused
    finally:
        context.close()


def test_a_busy_library_is_announced_with_when_to_try_again(
    chromium: Browser,  # noqa: F811
    small_library: tuple[LiveServer, dict[str, int]],
) -> None:
    server, books = small_library
    service = server.server.lifespan.state["listening"]
    context = new_context(chromium, server, "en")
    taken = []
    try:
        page = context.new_page()
        page.goto(f"{server.url}/books/{books[FILES[1]]}/read/2")
        while service.admit():  # every place taken, as by other listeners' streams
            taken.append(True)
        page.locator("[data-listen-audio]").focus()
        page.keyboard.press("Space")
        said = wait_for(page, "s.status.startsWith('The library is busy')")
        assert said["status"] == (
            "The library is busy reading other chapters aloud. Please try again in 10 seconds."
        )
    finally:
        for _ in taken:
            service.release()
        context.close()
