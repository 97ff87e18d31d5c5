"""A reader who cannot use a mouse: from the home page to a book's second chapter with Tab, typing and Enter.

Only the first page is opened by URL; everything after is keys, as a keyboard or switch user would press
them. At every Tab stop the focus must be visible (an outline or a box shadow, on screen), because a
keyboard user who cannot see the focus is lost.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page

from accessible_lib import catalogue
from accessible_lib.db import open_database

from .browser_conftest import (  # noqa: F401 (fixtures)
    chromium,
    focus_indicator_problem,
    focused,
    live,
    live_library,
    new_context,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BOOK = "epub/en/pg17192-poe-the-raven-epub2.epub"
MAX_TABS = 80  # more stops than this before the target would itself be a keyboard problem


def tab_to(page: Page, wanted, what: str) -> dict:
    """Press Tab until `wanted(focused element)` holds; every stop on the way must show its focus."""
    stops = []
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        info = focused(page)
        if info is None:
            raise AssertionError(
                f"{what} not reached: Tab left the page {page.url} (h1 {h1_text(page)!r}) after "
                f"{len(stops)} stops: {stops}"
            )
        problem = focus_indicator_problem(info)
        assert problem is None, f"{page.url}, Tab stop {len(stops) + 1}: {problem}"
        stops.append(info["html"][:80])
        if wanted(info):
            return info
    raise AssertionError(f"{what} not reached in {MAX_TABS} Tab presses on {page.url}; stops: {stops}")


def press_enter_and_wait(page: Page) -> None:
    with page.expect_navigation(wait_until="load"):
        page.keyboard.press("Enter")


def path_of(href: str | None) -> str:
    return urlsplit(href or "").path


def h1_text(page: Page) -> str:
    return page.evaluate("[...document.querySelectorAll('h1')].map((h) => h.innerText.trim()).join('|')")


@pytest.fixture
def keyboard_page(chromium, live):  # noqa: F811
    context = new_context(chromium, live, "en")
    try:
        yield context.new_page()
    finally:
        context.close()


def test_find_a_book_by_search_and_open_its_second_chapter_with_the_keyboard(keyboard_page, live_library):  # noqa: F811
    server, books = live_library
    book_id = books[BOOK]
    db = open_database(server.settings.database_path)
    try:
        book = catalogue.get_book(db, book_id)
    finally:
        db.close()
    assert len(book["chapters"]) >= 2
    second = book["chapters"][1]
    page = keyboard_page

    page.goto(server.url + "/")
    field = tab_to(page, lambda el: el["tag"] == "input" and el["id"] == "home-search", "the search field")
    assert field["inViewport"]
    page.keyboard.type(book["title"])
    press_enter_and_wait(page)
    assert path_of(page.url) == "/search"

    tab_to(
        page,
        lambda el: el["tag"] == "a" and path_of(el["href"]) == f"/books/{book_id}",
        f"the search result for {book['title']!r}",
    )
    press_enter_and_wait(page)
    assert path_of(page.url) == f"/books/{book_id}"
    assert h1_text(page) == book["title"]

    tab_to(
        page,
        lambda el: el["tag"] == "a" and path_of(el["href"]) == f"/books/{book_id}/read/2",
        "a link to the second chapter",
    )
    press_enter_and_wait(page)
    assert path_of(page.url) == f"/books/{book_id}/read/2"
    assert h1_text(page) == second["title"]


def test_skip_link_moves_the_focus_into_the_main_content(keyboard_page, live_library):  # noqa: F811
    server, books = live_library
    page = keyboard_page
    page.goto(f"{server.url}/books/{books[BOOK]}/read/1")
    skip = tab_to(page, lambda el: True, "the first Tab stop")
    assert skip["tag"] == "a" and skip["href"] == "#main", skip["html"]
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    # <main> is not focusable (with tabindex=-1, Orca moved the focus to it whenever the reader moved by
    # heading, and the next Tab went back to the top of the page's content): following the link moves where
    # Tab starts from, so the next Tab continues inside the main content, not back in the header.
    after = tab_to(page, lambda el: True, "the stop after the skip link")
    inside = page.evaluate("!!document.activeElement.closest('main')")
    assert inside, f"after the skip link, Tab went to {after['html']} outside <main>"
