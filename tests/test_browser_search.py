"""The search pages that only a typed query reaches (a typing error, a beginning of a word, pinyin, nothing
found), checked in a real browser with axe-core and the crawl's page checks, in both interface languages:
the crawl in test_browser_axe.py follows links, and no link leads to a misspelt search."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from axe_playwright_python.sync_playwright import Axe

from .browser_conftest import LOCALES, chromium, live, live_library, new_context  # noqa: F401 (fixtures)
from .test_browser_axe import Crawl, check_page

pytestmark = [pytest.mark.browser]

TYPED = ["alcie", "whal", "cbf", "zyxwvut", "赤壁賦"]


@pytest.mark.parametrize("locale", LOCALES)
def test_typed_searches_pass_axe_and_announce_their_status(chromium, live, locale):  # noqa: F811
    crawl = Crawl(locale)
    axe = Axe()
    context = new_context(chromium, live, locale, color_scheme="light")
    page = context.new_page()
    statuses = {}
    try:
        for query in TYPED:
            url = f"{live.url}/search?q={quote(query)}"
            check_page(axe, page, url, crawl)
            status = page.get_by_role("status")
            statuses[query] = status.inner_text().strip() if status.count() else None
            if query == "alcie":
                link = status.get_by_role("link")
                assert link.inner_text() == "alice"
                assert link.get_attribute("href") == "/search?q=alice"
            if query in ("cbf", "赤壁賦"):
                assert page.locator("ol.results h2 a").first.inner_text() == "赤壁赋"
    finally:
        context.close()
    assert not crawl.problems, "\n".join(crawl.problems)
    assert statuses["alcie"] and statuses["whal"]
    assert statuses["cbf"] is None and statuses["zyxwvut"] is None
