"""The union catalogue in a real browser: the staff sources page by keyboard alone, and axe on every state
of it and on the pages where readers meet harvested records, in both interface languages.

The library harvested is the small OAI-PMH repository of tests/test_harvest.py, served over real HTTP; the
harvest itself is a job on the queue that a real worker runs, as it does in production.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from accessible_lib import auth
from accessible_lib.db import open_database

from .browser_conftest import LOCALES, chromium, new_context  # noqa: F401 (fixtures)
from .jobs_helpers import running_worker, worker_env
from .live_server import LiveServer, live_server
from .test_browser_axe import AXE_OPTIONS, Crawl, axe_problems, check_page
from .test_browser_staff import sign_in, tab_to
from .test_harvest import BILLION_LAUGHS, FOUR_RECORDS, FeedServer, OaiRepository, send
from .test_staff import PASSWORD, USERNAME

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FILES = ("text/zh/zh-chibifu-su-shi.txt", "epub/en/pg17192-poe-the-raven-epub2.epub")
NAMES = {"en": "Harbour Town Library", "zh_Hans": "海港城盲人图书馆"}


@pytest.fixture(scope="module")
def harvest_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, FeedServer]]:
    feeds = FeedServer()
    with live_server(tmp_path_factory.mktemp("harvest") / "data", files=FILES) as (server, _):
        db = open_database(server.settings.database_path)
        try:
            auth.create_staff(db, USERNAME, PASSWORD)
        finally:
            db.close()
        log_path = tmp_path_factory.mktemp("harvest-worker") / "worker.log"
        with running_worker(worker_env(server.settings.data_dir), log_path):
            yield server, feeds
    feeds.stop()


def source_section(page: Page, name: str):
    return page.locator("section").filter(has=page.locator("h3", has_text=name))


def wait_for_status(page: Page, name: str, status: str, timeout: float = 30) -> None:
    """Reload until the source's last harvest says `status`: a worker harvests after the page answered."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if status in source_section(page, name).locator("dl").inner_text():
            return
        time.sleep(0.3)
        page.reload()
    raise AssertionError(f"the harvest of {name} did not end as {status!r}")


@pytest.mark.parametrize("locale", LOCALES)
def test_staff_add_and_harvest_a_library_by_keyboard_and_every_state_passes_axe(
    chromium,  # noqa: F811
    harvest_live,
    locale,
) -> None:
    server, feeds = harvest_live
    path = f"/oai-{locale}"
    feeds.routes[path] = OaiRepository(list(FOUR_RECORDS))
    name = NAMES[locale]
    finished, failed = ("Finished", "Failed") if locale == "en" else ("已完成", "失败")
    crawl = Crawl(locale)
    axe = Axe()
    context = new_context(chromium, server, locale, color_scheme="light")
    try:
        page = context.new_page()
        sign_in(page, server)
        check_page(axe, page, server.url + "/staff/sources", crawl)

        # A wrong address, sent from the keyboard: the error summary takes the focus and links to the field.
        tab_to(page, lambda info: info.get("id") == "url", "the address field")
        page.keyboard.type(feeds.url + "/not-here")
        page.keyboard.press("Enter")
        page.wait_for_selector("[role=alert]")
        page.wait_for_function("() => document.activeElement?.id === 'error-summary'")
        assert page.locator("#url").get_attribute("aria-invalid") == "true"
        crawl.problems.extend(axe_problems(axe, page, "/staff/sources (errors)", AXE_OPTIONS))

        # The right address and a name, by keyboard alone; the harvest runs after the page answers.
        page.locator("#url").fill("")
        page.locator("#url").focus()
        page.keyboard.type(feeds.url + path)
        tab_to(page, lambda info: info.get("id") == "name", "the name field")
        page.keyboard.type(name)
        add = tab_to(page, lambda info: info["tag"] == "button", "the add button")
        assert add["text"] in ("Add and harvest", "添加并采集")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/staff/sources\?started=\d+"))
        assert page.locator("[role=status]").count() == 1
        wait_for_status(page, name, finished)
        assert "4" in source_section(page, name).locator("dl").inner_text()
        crawl.problems.extend(axe_problems(axe, page, "/staff/sources (harvested)", AXE_OPTIONS))

        # The library turns hostile; "Harvest now" keeps its records and shows the error in words.
        feeds.routes[path] = send(BILLION_LAUGHS)
        source_section(page, name).locator("button").click()
        page.wait_for_url(re.compile(r"/staff/sources\?started=\d+"))
        wait_for_status(page, name, failed)
        assert source_section(page, name).locator("dd.field-error").count() == 1
        crawl.problems.extend(axe_problems(axe, page, "/staff/sources (failed)", AXE_OPTIONS))

        # Where readers meet the records: a search that finds one, and its page.
        check_page(axe, page, server.url + "/search?q=lighthouse", crawl)
        ours = page.locator("ol.results > li").filter(has=page.locator(".held-by", has_text=name))
        href = ours.locator(".book-title a", has_text="Quicksilver Lanterns").get_attribute("href")
        check_page(axe, page, server.url + href, crawl)
        see = page.locator(".held-by a.button")
        assert see.get_attribute("href") == "https://harbour.example.org/books/4"
    finally:
        context.close()
    report = "\n".join(crawl.problems)
    assert not crawl.problems, f"{len(crawl.problems)} problems:\n{report}"
