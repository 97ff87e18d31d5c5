"""A reader's braille edition page in a real browser: it follows the edition to the end, says what a screen
reader must hear (each 10%, a retry, the end) and nothing else, and shows what to do next; axe in every state.

The edition row is driven through `editions.store` while the page polls, and every text the live region is
given is recorded with a MutationObserver, as in tests/test_browser_staff.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from accessible_lib.db import open_database
from accessible_lib.editions import store
from accessible_lib.web.braille_status import ADVICE, RETRYING

from .browser_conftest import LOCALES, chromium, new_context  # noqa: F401 (fixtures)
from .live_server import LiveServer, live_server
from .test_browser_axe import AXE_OPTIONS, axe_problems
from .test_browser_staff import RECORD_ANNOUNCEMENTS_JS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FILES = ("epub/en/idpf-wasteland.epub", "epub/en/pg17192-poe-the-raven-epub2.epub")
FILE = {"name": "book.brf", "media_type": "text/plain", "size": 3, "sha256": "0" * 64}


@pytest.fixture(scope="module")
def reader_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, int]]:
    with live_server(tmp_path_factory.mktemp("braille-status") / "data", files=FILES) as (server, books):
        yield server, books[FILES[1]]


def ask(page: Page, server: LiveServer, book_id: int, cells: int) -> int:
    """The book page's braille form, filled in and sent as a reader does: lands on the edition's status
    page. (A POST with the page's CSRF token; the old GET address only leads back to the form.)"""
    page.goto(f"{server.url}/books/{book_id}")
    page.select_option("#download-table", "en-ueb-g1")
    page.fill("#braille-cells", str(cells))
    page.fill("#braille-lines", "25")
    page.check("#braille-brf")
    page.locator("form[action$='/braille'] button[type=submit]").click()
    page.wait_for_url(f"**/books/{book_id}/braille/*")
    return int(page.url.rsplit("/", 1)[1])


def field(page: Page, name: str) -> str:
    return page.locator(f"[data-field={name}]").inner_text()


def test_the_page_follows_the_edition_and_says_when_it_is_ready(chromium, reader_live):  # noqa: F811
    server, book_id = reader_live
    db = open_database(server.settings.database_path)
    context = new_context(chromium, server, "en")
    try:
        page = context.new_page()
        edition_id = ask(page, server, book_id, 31)
        assert field(page, "status_text") == "Waiting to start"
        page.evaluate(RECORD_ANNOUNCEMENTS_JS)
        token = store.claim(db, edition_id, lease_seconds=3600)
        for progress in (4, 15, 47):
            assert store.renew(db, edition_id, token, lease_seconds=3600, progress=progress)
            page.wait_for_function(
                "(t) => document.querySelector('[data-field=progress_text]').textContent === t",
                arg=f"{progress}%",
            )
        assert field(page, "status_text") == "Being made"
        # An attempt fails and is retried: the reader hears that, not "Failed", and need do nothing.
        assert store.fail(db, edition_id, token, error="The disk is full.", retry_at=time.time() + 5)
        page.wait_for_function("() => window.__announced.length === 3")
        assert field(page, "status_text") == "Waiting to try again"
        token = store.claim(db, edition_id, lease_seconds=3600)
        assert store.renew(db, edition_id, token, lease_seconds=3600, progress=25)
        page.wait_for_function(
            "() => document.querySelector('[data-field=progress_text]').textContent === '25%'"
        )
        assert store.complete(db, edition_id, token, storage_key=str(edition_id), files=[FILE])
        page.wait_for_selector(".job-done", state="visible")
        page.wait_for_timeout(2500)  # one more poll interval: nothing else may be said
        assert page.evaluate("window.__announced") == [
            "10% done",
            "40% done",
            ADVICE[RETRYING],
            "20% done",
            "Your braille edition is ready. The download link follows.",
        ]
        assert (field(page, "status_text"), field(page, "progress_text")) == ("Ready", "100%")
        link = page.get_by_role("link", name="Download your braille edition")
        assert link.get_attribute("href") == f"/editions/{edition_id}/files/book.brf"
        assert not page.locator("[data-refresh]").is_visible()
        assert not page.locator(".job-failed").is_visible()
    finally:
        context.close()
        db.close()


def test_a_failure_says_so_and_offers_to_try_again(chromium, reader_live):  # noqa: F811
    server, book_id = reader_live
    db = open_database(server.settings.database_path)
    context = new_context(chromium, server, "en")
    try:
        page = context.new_page()
        edition_id = ask(page, server, book_id, 32)
        page.evaluate(RECORD_ANNOUNCEMENTS_JS)
        token = store.claim(db, edition_id, lease_seconds=3600)
        assert store.fail(db, edition_id, token, error="The disk is full.", retry_at=None)
        page.wait_for_selector(".job-failed", state="visible")
        page.wait_for_timeout(2500)
        assert page.evaluate("window.__announced") == [
            "Your braille edition could not be made. You can try again."
        ]
        assert field(page, "status_text") == "Could not be made"
        assert "disk" not in page.locator("main").inner_text()
        page.get_by_role("button", name="Try again").click()
        page.wait_for_url(f"**/books/{book_id}/braille/{edition_id}")
        assert field(page, "status_text") == "Waiting to start"
        assert store.get_edition(db, edition_id)["status"] == store.QUEUED
    finally:
        context.close()
        db.close()


@pytest.mark.parametrize("locale", LOCALES)
def test_every_state_of_the_page_passes_axe(chromium, reader_live, locale):  # noqa: F811
    server, book_id = reader_live
    db = open_database(server.settings.database_path)
    context = new_context(chromium, server, locale)
    problems = []
    try:
        page = context.new_page()
        cells = 40 if locale == "en" else 41
        edition_id = ask(page, server, book_id, cells)
        problems += axe_problems(Axe(), page, page.url, AXE_OPTIONS, " (waiting)")
        token = store.claim(db, edition_id, lease_seconds=3600)
        store.renew(db, edition_id, token, lease_seconds=3600, progress=33)
        page.reload()
        problems += axe_problems(Axe(), page, page.url, AXE_OPTIONS, " (being made)")
        store.fail(db, edition_id, token, error="x", retry_at=time.time() + 3600)
        page.reload()
        problems += axe_problems(Axe(), page, page.url, AXE_OPTIONS, " (waiting to try again)")
        token = store.claim(db, edition_id, lease_seconds=3600)
        store.fail(db, edition_id, token, error="x", retry_at=None)
        page.reload()
        problems += axe_problems(Axe(), page, page.url, AXE_OPTIONS, " (failed)")
        ask(page, server, book_id, cells)  # "Try again"
        token = store.claim(db, edition_id, lease_seconds=3600)
        store.complete(db, edition_id, token, storage_key=str(edition_id), files=[FILE])
        page.goto(f"{server.url}/books/{book_id}/braille/{edition_id}")
        assert page.locator(".job-done").is_visible()
        problems += axe_problems(Axe(), page, page.url, AXE_OPTIONS, " (ready)")
    finally:
        context.close()
        db.close()
    assert not problems, "\n".join(problems)
