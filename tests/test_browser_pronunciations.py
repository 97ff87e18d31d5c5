"""The pronunciation dictionary's staff pages in a real browser, in both interface languages: the list, the
add form, an edit form, and the add form with its error summary after a keyboard-only submission. The same
checks as the reader crawl (test_browser_axe.py): axe (light and dark), one h1, one main, the skip link,
reflow at 320 px."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe

from accessible_lib import auth
from accessible_lib.db import open_database

from .browser_conftest import LOCALES, chromium, new_context  # noqa: F401 (fixtures)
from .live_server import LiveServer, live_server
from .test_browser_axe import AXE_OPTIONS, Crawl, axe_problems, check_page
from .test_staff import PASSWORD, USERNAME

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FILES = ("text/zh/zh-chibifu-su-shi.txt",)


@pytest.fixture(scope="module")
def pronounce_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("pronounce") / "data", files=FILES) as (server, _books):
        db = open_database(server.settings.database_path)
        try:
            auth.create_staff(db, USERNAME, PASSWORD)
        finally:
            db.close()
        yield server


@pytest.mark.parametrize("locale", LOCALES)
def test_the_pronunciation_pages_pass_axe_and_the_page_checks(chromium, pronounce_live, locale):  # noqa: F811
    server = pronounce_live
    crawl = Crawl(locale)
    axe = Axe()
    context = new_context(chromium, server, locale, color_scheme="light")
    try:
        page = context.new_page()
        page.goto(server.url + "/staff/login")
        page.fill("#username", USERNAME)
        page.fill("#password", PASSWORD)
        page.locator("form[action='/staff/login'] button[type=submit]").click()
        page.wait_for_url(server.url + "/staff")
        for path in ("/staff/pronunciations", "/staff/pronunciations/1", "/staff/pronunciations/new"):
            check_page(axe, page, server.url + path, crawl)
        # A wrong reading, sent from the keyboard: the error summary comes back focused, linked to the field.
        page.fill("#written", "何曾")
        page.fill("#reading", "he9")
        page.locator("#reading").press("Enter")
        page.wait_for_selector("[role=alert]")
        page.wait_for_function(
            "() => document.activeElement && document.activeElement.id === 'error-summary'"
        )
        assert page.locator("[role=alert] a").get_attribute("href") == "#reading"
        assert page.locator("#reading").get_attribute("aria-invalid") == "true"
        crawl.problems += axe_problems(axe, page, "/staff/pronunciations/new (errors)", AXE_OPTIONS)
        # The reading put right and heard before saving: the form comes back with the sentence focused and
        # the player next.
        page.fill("#reading", "he2 ceng2")
        page.get_by_role("button", name=page.locator("button[formaction]").inner_text()).click()
        page.wait_for_selector("audio[aria-labelledby=sample-heading]")
        page.wait_for_function("() => document.activeElement?.id === 'sample-notice'")
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.tagName") == "AUDIO"
        assert page.locator("#reading").input_value() == "he2 ceng2"
        crawl.problems += axe_problems(axe, page, "/staff/pronunciations/listen (sample)", AXE_OPTIONS)
    finally:
        context.close()
    assert not crawl.problems, "\n".join(crawl.problems)
