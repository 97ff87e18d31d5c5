"""The rights pages in a real browser, in both interface languages: the book page of a restricted book,
the 403 page a content route answers with, and the staff CSV page with and without its error summary.

The reader crawl (test_browser_axe.py) walks a library of public books, so these pages are not in it; they
get the same checks here: axe (light and dark), one h1, one main landmark, the skip link, reflow at 320 px.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe

from accessible_lib import access, auth, rights
from accessible_lib.db import open_database
from accessible_lib.i18n import BY_CODE

from .browser_conftest import (  # noqa: F401 (fixtures)
    LOCALES,
    chromium,
    focus_indicator_problem,
    focused,
    new_context,
)
from .live_server import LiveServer, live_server
from .test_browser_axe import (
    AXE_DARK_OPTIONS,
    AXE_OPTIONS,
    PAGE_FACTS_JS,
    Crawl,
    axe_problems,
    check_page,
    reflow_problems,
    skip_link_problems,
)
from .test_staff import PASSWORD, USERNAME

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FILES = ("text/zh/zh-chibifu-su-shi.txt", "epub/en/pg17192-poe-the-raven-epub2.epub")
HEADINGS = {"en": "This book is for eligible readers only", "zh_Hans": "本书仅限合格读者"}


@pytest.fixture(scope="module")
def rights_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, int]]:
    """A live library whose English book is for eligible readers only, and a staff account."""
    with live_server(tmp_path_factory.mktemp("rights") / "data", files=FILES) as (server, books):
        db = open_database(server.settings.database_path)
        try:
            auth.create_staff(db, USERNAME, PASSWORD)
            with db.conn:
                rights.set_rights(db, books[FILES[1]], rights.Rights(access.ELIGIBLE_ONLY))
        finally:
            db.close()
        yield server, books[FILES[1]]


def _refused_page_problems(axe: Axe, page, url: str, locale: str) -> list[str]:
    """check_page's checks for a page whose status is 403 by design."""
    response = page.goto(url, wait_until="load")
    problems = [] if response and response.status == 403 else [f"{url}: not 403"]
    facts = page.evaluate(PAGE_FACTS_JS)
    if facts["lang"] != BY_CODE[locale].lang:
        problems.append(f"{url}: <html lang={facts['lang']!r}>")
    if facts["h1"] != [HEADINGS[locale]]:
        problems.append(f"{url}: h1 {facts['h1']}")
    if facts["mains"] != 1:
        problems.append(f"{url}: {facts['mains']} main landmarks")
    problems += skip_link_problems(page, url)
    problems += axe_problems(axe, page, url, AXE_OPTIONS)
    page.emulate_media(color_scheme="dark")
    problems += axe_problems(axe, page, url, AXE_DARK_OPTIONS, " (dark colour scheme)")
    page.emulate_media(color_scheme="light")
    problems += reflow_problems(page, url)
    return problems


@pytest.mark.parametrize("locale", LOCALES)
def test_the_rights_pages_pass_axe_and_the_page_checks(chromium, rights_live, locale):  # noqa: F811
    server, book_id = rights_live
    crawl = Crawl(locale)
    axe = Axe()
    context = new_context(chromium, server, locale, color_scheme="light")
    try:
        page = context.new_page()
        check_page(axe, page, f"{server.url}/books/{book_id}", crawl)
        assert page.locator("section.eligibility h2").inner_text() == HEADINGS[locale]
        for path in (f"/books/{book_id}/read/1", f"/books/{book_id}/read/1/braille"):
            crawl.problems += _refused_page_problems(axe, page, server.url + path, locale)

        page.goto(server.url + "/staff/login")
        page.fill("#username", USERNAME)
        page.fill("#password", PASSWORD)
        page.locator("form[action='/staff/login'] button[type=submit]").click()
        page.wait_for_url(server.url + "/staff")
        check_page(axe, page, server.url + "/staff/rights", crawl)
        # A CSV with a wrong row, sent from the keyboard: the error summary comes back focused.
        page.set_input_files("#csv_file", files=[{"name": "r.csv", "mimeType": "text/csv",
                                                  "buffer": b"book_id,status\n999,withdrawn\n"}])  # fmt: skip
        page.locator("form[action='/staff/rights'] button[type=submit]").focus()
        page.keyboard.press("Enter")
        page.wait_for_selector("[role=alert]")
        # The summary is focused by the page's script once it has loaded: wait for it on a busy machine.
        page.wait_for_function(
            "() => document.activeElement && document.activeElement.id === 'error-summary'"
        )
        assert page.evaluate("() => document.activeElement.id") == "error-summary"
        assert page.locator("[role=alert] a").get_attribute("href") == "#csv_file"
        crawl.problems += axe_problems(axe, page, "/staff/rights (errors)", AXE_OPTIONS)
    finally:
        context.close()
    assert not crawl.problems, "\n".join(crawl.problems)
