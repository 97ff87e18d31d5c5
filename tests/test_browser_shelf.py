"""Bookmarks and resume across two devices, in a real Chromium: two browser contexts are two devices with
their own cookies and storage, signed in as the same reader through the real sign-in page.

On the first device the reader bookmarks a paragraph with a note, reads further down a chapter (the page's
script reports the paragraph) and listens to the second chapter of Alice with the player; on the second
device, which has never seen any of it, the home page offers to continue reading at that paragraph, the
chapter shows the bookmark after its paragraph, and the player offers to resume at the first device's place.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from accessible_lib import catalogue, readers, shelf
from accessible_lib.db import open_database

from .browser_conftest import chromium, live, live_library, new_context  # noqa: F401 (fixtures)
from .live_server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MOBY = "epub/en/pg2701-moby-dick-epub2.epub"
ALICE = "epub/en/alice-pg19033-nyu-epub3.epub"
EMAIL = "reader-on-two-devices@example.org"
PASSWORD = "two devices, one shelf"
# The paragraph the reading script reports: the first whose bottom is below the top of the window.
IN_VIEW_JS = """() => {
  const ps = [...document.querySelectorAll("article.chapter p:not(.bookmark-mark):not(.bookmark-this)")];
  const i = ps.findIndex((p) => p.getBoundingClientRect().bottom > 0);
  return i < 0 ? ps.length : i + 1;
}"""


def long_chapter(server: LiveServer, book_id: int) -> int:
    """A chapter with paragraphs enough to scroll through."""
    db = open_database(server.settings.database_path, migrate=False)
    try:
        for chapter in catalogue.get_book(db, book_id)["chapters"]:
            html = catalogue.get_chapter(db, book_id, chapter["position"])["html"]
            if html.count("<p") >= 12:
                return chapter["position"]
    finally:
        db.close()
    raise AssertionError("no chapter with a dozen paragraphs")


@pytest.fixture(scope="module")
def reader_id(live_library: tuple[LiveServer, dict]) -> int:  # noqa: F811
    server, _ = live_library
    db = open_database(server.settings.database_path)
    try:
        return readers.add_reader(db, EMAIL, "Two Devices", PASSWORD)
    finally:
        db.close()


def signed_in_device(browser: Browser, server: LiveServer) -> BrowserContext:
    context = new_context(browser, server, "en")
    page = context.new_page()
    page.goto(f"{server.url}/account/sign-in")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(f"{server.url}/account")
    page.close()
    return context


@pytest.fixture
def devices(chromium: Browser, live_library, reader_id) -> Iterator[tuple[Page, Page]]:  # noqa: F811
    server, _ = live_library
    first, second = signed_in_device(chromium, server), signed_in_device(chromium, server)
    try:
        yield first.new_page(), second.new_page()
    finally:
        first.close()
        second.close()


def wait_for_server(server: LiveServer, check, timeout: float = 20.0):
    """Poll the catalogue until `check(db)` gives something: the scripts report in the background."""
    deadline = time.monotonic() + timeout
    while True:
        db = open_database(server.settings.database_path, migrate=False)
        try:
            found = check(db)
        finally:
            db.close()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_bookmarks_and_resume_on_another_device(devices, live_library, reader_id) -> None:  # noqa: F811
    server, books = live_library
    phone, computer = devices
    moby, alice = books[MOBY], books[ALICE]

    chapter = long_chapter(server, moby)

    # First device: bookmark paragraph 2 with a note, by keyboard-reachable links and a real form.
    phone.goto(f"{server.url}/books/{moby}/read/{chapter}")
    phone.get_by_role("link", name="Bookmark a paragraph: show a link after each one").click()
    phone.get_by_role("link", name="Bookmark paragraph 2", exact=True).click()
    phone.get_by_label("Note (optional)").fill("Ishmael goes to sea")
    phone.get_by_role("button", name="Save bookmark").click()
    phone.wait_for_url(re.compile(rf"/books/{moby}/read/{chapter}\?shelf=bookmark-added#para-2$"))
    assert phone.locator("#para-2 + p.bookmark-mark").inner_text() == "Your bookmark: Ishmael goes to sea"

    # Read further: the paragraph at the top of the window is reported by the page's script.
    phone.locator("#para-8").evaluate("(el) => el.scrollIntoView({block: 'start'})")
    target = phone.evaluate(IN_VIEW_JS)
    assert target > 2, target
    position = wait_for_server(
        server,
        lambda db: (p := shelf.reading_position(db, reader_id, moby)) and p["paragraph"] == target and p,
    )
    assert position and position["chapter"] == chapter, position

    # Listen to the second chapter of Alice, pause a little way in: the player saves on pause.
    phone.goto(f"{server.url}/books/{alice}")
    phone.locator("a[data-chapter='1']").click()
    phone.wait_for_function("() => !document.querySelector('[data-audio]').paused")
    phone.evaluate("() => { const a = document.querySelector('[data-audio]'); a.currentTime = 1.5; }")
    phone.get_by_role("button", name="Pause").click()
    heard = wait_for_server(
        server,
        lambda db: (p := shelf.listening_position(db, reader_id, alice)) and p["seconds"] >= 1.0 and p,
    )
    assert heard and heard["chapter"] == 2 and heard["seconds"] <= 4.0, heard

    # Second device: continue reading where the first one stopped, and find the bookmark there.
    computer.goto(server.url + "/")
    continue_links = computer.locator("#continue-reading + ul a[lang]")
    href = continue_links.first.get_attribute("href")
    assert href == f"/books/{moby}/read/{chapter}#para-{target}"
    continue_links.first.click()
    computer.wait_for_url(re.compile(rf"/books/{moby}/read/{chapter}#para-{target}$"))
    box = computer.locator(f"#para-{target}").evaluate(
        "(el) => { const b = el.getBoundingClientRect(); return [b.top, b.bottom, innerHeight]; }"
    )
    assert box[1] > 0 and box[0] < box[2], f"the paragraph is not in the window: {box}"
    assert computer.locator("#para-2 + p.bookmark-mark").inner_text() == "Your bookmark: Ishmael goes to sea"

    # ...and the player offers the first device's place, though this browser's storage is empty.
    computer.goto(f"{server.url}/books/{alice}")
    resume = computer.locator("[data-action=resume]")
    resume.wait_for(state="visible")
    assert " at 0:0" in resume.inner_text(), resume.inner_text()  # "Resume “<chapter>” at 0:02"
    computer.get_by_role("link", name="Continue listening").click()
    computer.wait_for_function("() => document.querySelector('[data-audio]').currentTime >= 1.0")
    current = computer.evaluate(
        "() => [...document.querySelectorAll('a[data-chapter]')]"
        ".findIndex((l) => l.getAttribute('aria-current'))"
    )
    assert current == 1
