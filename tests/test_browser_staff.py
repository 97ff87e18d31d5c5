"""The staff pages in a real browser: axe in both languages, keyboard alone, and what the live region says.

The live-region test drives a real edition row through `editions.store` (claim, renew, complete, fail) while
the page polls, and records every text the region is given with a MutationObserver: that list is exactly
what a screen reader would be handed to announce.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from accessible_lib import auth, staff_accounts, stats
from accessible_lib.db import open_database
from accessible_lib.editions import store

from .browser_conftest import (  # noqa: F401 (fixtures)
    LOCALES,
    chromium,
    focus_indicator_problem,
    focused,
    new_context,
)
from .live_server import CORPUS, LiveServer, live_server
from .test_browser_axe import AXE_OPTIONS, Crawl, axe_problems, check_page
from .test_staff import PASSWORD, USERNAME

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FILES = (
    "epub/en/idpf-wasteland.epub",
    "epub/en/pg17192-poe-the-raven-epub2.epub",
    "epub/zh/epubime-test3-tiny-zh.epub",
    "text/zh/zh-changhenge-bai-juyi.txt",
    "text/zh/zh-chibifu-su-shi.txt",
)
UPLOADS = (CORPUS / "text/zh/zh-pipaxing-bai-juyi.txt", CORPUS / "text/zh/zh-lisao-qu-yuan.txt")

RECORD_ANNOUNCEMENTS_JS = """() => {
  window.__announced = [];
  const region = document.getElementById("job-announcer");
  new MutationObserver(() => window.__announced.push(region.textContent))
    .observe(region, {childList: true, characterData: true, subtree: true});
}"""


@pytest.fixture(scope="module")
def staff_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict[str, int]]]:
    """A live server with the staff routes, a staff account, and a few books."""
    with live_server(tmp_path_factory.mktemp("staff") / "data", files=FILES) as (server, books):
        db = open_database(server.settings.database_path)
        try:
            auth.create_staff(db, USERNAME, PASSWORD)
        finally:
            db.close()
        yield server, books


def catalogue_db(server: LiveServer):
    return open_database(server.settings.database_path)


def sign_in(page: Page, server: LiveServer) -> None:
    page.goto(server.url + "/staff/login")
    page.fill("#username", USERNAME)
    page.fill("#password", PASSWORD)
    page.locator("form[action='/staff/login'] button[type=submit]").click()
    page.wait_for_url(server.url + "/staff")


def make_jobs(server: LiveServer, book_id: int) -> list[int]:
    """A running job part way through, a waiting one, and a failed one, for the job pages to show."""
    db = catalogue_db(server)
    try:
        running, _ = store.request_edition(db, book_id, "txt", {})
        token = store.claim(db, running, lease_seconds=3600)
        store.renew(
            db, running, token, lease_seconds=3600, progress=45, step="Writing chapters", eta_seconds=200
        )
        waiting, _ = store.request_edition(db, book_id, "html", {})
        failed, _ = store.request_edition(db, book_id, "txt", {"test": "failed"})
        token = store.claim(db, failed, lease_seconds=60)
        store.fail(db, failed, token, error="The converter stopped: disk full.", retry_at=None)
    finally:
        db.close()
    return [running, waiting, failed]


def count_some(server: LiveServer) -> None:
    """Figures for the statistics page's charts and tables: searches, a Chinese one among them."""
    db = catalogue_db(server)
    try:
        for query, total in (("whale", 2), ("长恨歌", 1), ("no such book", 0)):
            stats.record_search(db, query, total)
    finally:
        db.close()


def staff_links(page: Page, server: LiveServer) -> list[str]:
    links = page.evaluate(
        "() => [...document.querySelectorAll('a[href]')].map((a) => [a.href, a.getAttribute('type') || ''])"
    )
    found = []
    for link, media_type in links:
        parts = urlsplit(link)
        if f"{parts.scheme}://{parts.netloc}" == server.url and parts.path.startswith("/staff"):
            if parts.path.endswith((".json", ".csv")) or media_type.startswith("audio/"):
                continue  # files to save or hear (a pronunciation's "Listen"), not pages
            found.append(link.split("#")[0])
    return found


@pytest.mark.parametrize("locale", LOCALES)
def test_every_staff_page_passes_axe(chromium, staff_live, locale):  # noqa: F811
    server, books = staff_live
    book_id = books[FILES[0]]
    jobs = make_jobs(server, book_id)
    count_some(server)
    crawl = Crawl(locale)
    axe = Axe()
    context = new_context(chromium, server, locale, color_scheme="light")
    try:
        page = context.new_page()
        # Signed out: the sign-in page, plain and with its error summary.
        crawl.visited.append(server.url + "/staff/login")
        check_page(axe, page, server.url + "/staff/login", crawl)
        page.locator("form[action='/staff/login'] button[type=submit]").click()
        page.wait_for_selector("[role=alert]")
        crawl.problems.extend(axe_problems(axe, page, "/staff/login (errors)", AXE_OPTIONS))

        sign_in(page, server)
        queue = [server.url + path for path in ["/staff", f"/staff/books/{book_id}/edit"]]
        queue += [server.url + f"/staff/jobs/{job}" for job in jobs]
        seen = set(queue)
        while queue:
            url = queue.pop(0)
            crawl.visited.append(url)
            check_page(axe, page, url, crawl)
            for link in staff_links(page, server):
                if link not in seen:
                    seen.add(link)
                    queue.append(link)

        # The states a crawl cannot reach: a refused edit, a refused upload, an upload's results.
        page.goto(server.url + f"/staff/books/{book_id}/edit")
        page.fill("#title", "")
        page.fill("#date", "1851-13")
        page.locator("form[action$='/edit'] button[type=submit]").click()
        page.wait_for_selector("[role=alert]")
        page.wait_for_function("() => document.activeElement?.id === 'error-summary'")  # its script ran
        assert page.evaluate("document.activeElement.id") == "error-summary", "the summary takes the focus"
        crawl.problems.extend(axe_problems(axe, page, "edit (errors)", AXE_OPTIONS))
        page.goto(server.url + "/staff/upload")
        page.locator("form[action='/staff/upload'] button[type=submit]").click()
        page.wait_for_selector("[role=alert]")
        crawl.problems.extend(axe_problems(axe, page, "upload (errors)", AXE_OPTIONS))
        page.set_input_files(
            "#books", [CORPUS / FILES[1], CORPUS / "hostile/xml-entities/defusedxml-dtd.xml"]
        )
        page.locator("form[action='/staff/upload'] button[type=submit]").click()
        page.wait_for_selector(".upload-results")
        crawl.problems.extend(axe_problems(axe, page, "upload results", AXE_OPTIONS))
        page.goto(server.url + "/staff/stats?from=2026-02-30")  # a day that does not exist
        page.wait_for_selector("[role=alert]")
        crawl.problems.extend(axe_problems(axe, page, "statistics (errors)", AXE_OPTIONS))
        page.goto(server.url + "/staff/downloads?id=12")  # a download id that cannot be one
        page.wait_for_selector("[role=alert]")
        page.wait_for_function("() => document.activeElement?.id === 'error-summary'")  # its script ran
        assert page.evaluate("document.activeElement.id") == "error-summary", "the summary takes the focus"
        crawl.problems.extend(axe_problems(axe, page, "downloads (errors)", AXE_OPTIONS))
    finally:
        context.close()

    paths = {urlsplit(url).path + (f"?{urlsplit(url).query}" if urlsplit(url).query else "") for url in seen}
    for wanted in [
        "/staff",
        "/staff/upload",
        "/staff/jobs",
        "/staff/jobs?status=failed",
        f"/staff/jobs/{jobs[0]}",
        "/staff/downloads",
        "/staff/stats",
    ]:
        assert wanted in paths, f"the crawl did not reach {wanted}"
    titles: dict[str, list[str]] = {}
    for url, title in crawl.titles.items():
        titles.setdefault(title, []).append(url)
    crawl.problems.extend(
        f"{len(u)} pages share the title {t!r}: {u}" for t, u in titles.items() if len(u) > 1
    )
    report = "\n".join(crawl.problems)
    assert not crawl.problems, (
        f"{len(crawl.problems)} problems on {len(crawl.visited)} staff pages:\n{report}"
    )


def tab_to(page: Page, matches, what: str, limit: int = 80) -> dict:
    """Press Tab until the focused element matches; fail when it never does. The focus must be visible."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        info = focused(page)
        if info is not None and matches(info):
            problem = focus_indicator_problem(info)
            assert problem is None, f"{what}: {problem}"
            return info
    raise AssertionError(f"{what} was not reached with {limit} presses of Tab")


def test_upload_and_request_an_edition_by_keyboard_alone(chromium, staff_live):  # noqa: F811
    server, _ = staff_live
    context = new_context(chromium, server, "en")
    try:
        page = context.new_page()
        page.goto(server.url + "/staff/login")
        tab_to(page, lambda f: f["id"] == "username", "the username field")
        page.keyboard.type(USERNAME)
        page.keyboard.press("Tab")
        assert focused(page)["id"] == "password"
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(server.url + "/staff")

        tab_to(page, lambda f: f["href"] == "/staff/upload", "the upload link")
        page.keyboard.press("Enter")
        page.wait_for_url(server.url + "/staff/upload")
        tab_to(page, lambda f: f["id"] == "books", "the file input")
        page.set_input_files("#books", list(UPLOADS))
        tab_to(page, lambda f: f["tag"] == "button" and f["text"] == "Upload and import", "the upload button")
        page.keyboard.press("Enter")
        page.wait_for_selector(".upload-results")
        imported = page.locator(".upload-imported .file-name").all_inner_texts()
        assert imported == [path.name for path in UPLOADS]

        tab_to(page, lambda f: (f["href"] or "").endswith("/edit"), "the first edit link")
        page.keyboard.press("Enter")
        page.wait_for_url("**/edit")
        book_path = urlsplit(page.url).path
        tab_to(page, lambda f: f["id"] == "format", "the format choice")
        for _ in range(10):
            if page.evaluate("document.activeElement.value") == "txt":
                break
            page.keyboard.press("ArrowDown")
        assert page.evaluate("document.activeElement.value") == "txt"
        tab_to(
            page, lambda f: f["tag"] == "button" and f["text"] == "Request this edition", "the request button"
        )
        page.keyboard.press("Enter")
        page.wait_for_url("**/staff/jobs/*")
        assert page.locator("h1").inner_text().startswith("Edition job ")
        assert page.locator("[data-field=status_text]").inner_text() == "Waiting to start"
        book_id = int(book_path.split("/")[3])
        edition_id = int(urlsplit(page.url).path.rsplit("/", 1)[1])
        db = catalogue_db(server)
        try:
            edition = store.get_edition(db, edition_id)
        finally:
            db.close()
        assert (edition["book_id"], edition["format"], edition["requested_by"]) == (book_id, "txt", USERNAME)
        tab_to(page, lambda f: f["text"] == "Refresh status", "the refresh link")
        page.keyboard.press("Enter")
        page.wait_for_load_state("load")
        assert urlsplit(page.url).path == f"/staff/jobs/{edition_id}"
    finally:
        context.close()


def wait_for_progress(page: Page, text: str) -> None:
    page.wait_for_function(
        "(text) => document.querySelector('[data-field=progress_text]').textContent === text", arg=text
    )


def test_the_live_region_speaks_at_each_ten_percent_and_at_the_end_only(chromium, staff_live):  # noqa: F811
    server, books = staff_live
    book_id = books[FILES[2]]
    db = catalogue_db(server)
    context = new_context(chromium, server, "en")
    try:
        done_id, _ = store.request_edition(db, book_id, "txt", {})
        failing_id, _ = store.request_edition(db, book_id, "html", {})
        page = context.new_page()
        sign_in(page, server)
        page.goto(server.url + f"/staff/jobs/{done_id}")
        page.evaluate(RECORD_ANNOUNCEMENTS_JS)
        token = store.claim(db, done_id, lease_seconds=3600)
        for progress in (5, 12, 15, 19, 34, 38, 41, 99):
            assert store.renew(db, done_id, token, lease_seconds=3600, progress=progress, step="Working")
            wait_for_progress(page, f"{progress}%")
        assert store.complete(db, done_id, token, storage_key=str(done_id), files=[])
        page.wait_for_function("() => window.__announced.includes('Finished: the edition is ready.')")
        page.wait_for_timeout(2500)  # one more poll interval: nothing else may be said
        page.wait_for_selector(".job-done", state="visible")
        announced = page.evaluate("window.__announced")
        assert announced == [
            "10% done",
            "30% done",
            "40% done",
            "90% done",
            "Finished: the edition is ready.",
        ]
        assert page.locator("[data-field=status_text]").inner_text() == "Finished"

        page.goto(server.url + f"/staff/jobs/{failing_id}")
        page.evaluate(RECORD_ANNOUNCEMENTS_JS)
        token = store.claim(db, failing_id, lease_seconds=3600)
        store.renew(db, failing_id, token, lease_seconds=3600, progress=3)
        wait_for_progress(page, "3%")
        assert store.fail(db, failing_id, token, error="The voice is not installed.", retry_at=None)
        page.wait_for_function("() => window.__announced.length > 0")
        page.wait_for_timeout(2500)  # one more poll interval: nothing else may be said
        assert page.evaluate("window.__announced") == ["Failed: The voice is not installed."]
    finally:
        context.close()
        db.close()


def test_signed_out_browser_sees_no_staff_link(chromium, staff_live):  # noqa: F811
    server, _ = staff_live
    context = new_context(chromium, server, "en")
    try:
        page = context.new_page()
        page.goto(server.url + "/staff/upload")
        assert urlsplit(page.url).path == "/staff/login"
        assert page.locator("nav a[href='/staff']").count() == 0
    finally:
        context.close()


ADMIN = "chief"


@pytest.mark.parametrize("locale", LOCALES)
def test_the_administrator_pages_pass_axe(chromium, staff_live, locale):  # noqa: F811
    """/staff/accounts (plain and with its error summary), /staff/settings, and the 403 other staff get."""
    server, _ = staff_live
    db = catalogue_db(server)
    try:
        if staff_accounts.find(db, ADMIN) is None:
            staff_accounts.create(db, ADMIN, PASSWORD, admin=True)
    finally:
        db.close()
    crawl = Crawl(locale)
    axe = Axe()
    context = new_context(chromium, server, locale, color_scheme="light")
    try:
        page = context.new_page()
        sign_in(page, server)  # not an administrator
        page.goto(server.url + "/staff/accounts")
        assert page.locator("h1").count() == 1
        crawl.problems.extend(axe_problems(axe, page, "/staff/accounts (403)", AXE_OPTIONS))
    finally:
        context.close()
    context = new_context(chromium, server, locale, color_scheme="light")
    try:
        page = context.new_page()
        page.goto(server.url + "/staff/login")
        page.fill("#username", ADMIN)
        page.fill("#password", PASSWORD)
        page.locator("form[action='/staff/login'] button[type=submit]").click()
        page.wait_for_url(server.url + "/staff")
        for path in ("/staff/accounts", "/staff/settings"):
            assert page.locator(f"nav.staff-nav a[href='{path}']").count() == 1
            crawl.visited.append(server.url + path)
            check_page(axe, page, server.url + path, crawl)
        page.goto(server.url + "/staff/accounts")
        remove = page.locator("table a[href$='/remove']").first.get_attribute("href")
        crawl.visited.append(server.url + remove)
        check_page(axe, page, server.url + remove, crawl)  # the question before a removal
        page.goto(server.url + "/staff/accounts")
        page.locator("form[action='/staff/accounts'] button[type=submit]").click()
        page.wait_for_selector("[role=alert]")
        page.wait_for_function("() => document.activeElement?.id === 'error-summary'")  # its script ran
        assert page.evaluate("document.activeElement.id") == "error-summary", "the summary takes the focus"
        crawl.problems.extend(axe_problems(axe, page, "/staff/accounts (errors)", AXE_OPTIONS))
    finally:
        context.close()
    report = "\n".join(crawl.problems)
    assert not crawl.problems, f"{len(crawl.problems)} problems on the administrator pages:\n{report}"


def test_a_harvest_job_on_the_sources_page_is_announced_without_moving_focus(chromium, staff_live):  # noqa: F811
    """/staff/sources follows a harvest job as the job pages do: words in a polite live region, no focus
    taken, no axe violation, waiting or done. The job is asked for and run by the real code the button and
    the worker run (harvest/jobs.py), against a real OAI-PMH feed."""
    from accessible_lib.harvest import jobs, register

    from .test_harvest import FOUR_RECORDS, FeedServer, OaiRepository

    server, _ = staff_live
    feeds = FeedServer()
    feeds.routes["/oai"] = OaiRepository(list(FOUR_RECORDS))
    db = catalogue_db(server)
    context = new_context(chromium, server, "en")
    try:
        source = register(db, server.settings, feeds.url + "/oai", "Harbour")
        assert jobs.request(db, server.settings, source["id"]) == jobs.STARTED
        page = context.new_page()
        sign_in(page, server)
        page.goto(server.url + "/staff/sources")
        region = f"source-{source['id']}-announcer"
        page.evaluate(RECORD_ANNOUNCEMENTS_JS.replace("job-announcer", region))
        status = page.locator(f"#source-{source['id']} [data-field=status_text]")
        assert status.inner_text() == "Waiting for a worker to start it."
        assert not axe_problems(Axe(), page, "/staff/sources (waiting)", AXE_OPTIONS)
        assert page.evaluate("document.activeElement === document.body"), "nothing takes the focus"

        assert jobs.run(server.settings, source["id"]) == jobs.DONE
        final = "The harvest of Harbour has finished: it holds 4 records here."
        page.wait_for_function(f"() => window.__announced.includes({final!r})")
        page.wait_for_timeout(2500)  # one more poll interval: nothing else may be said
        assert page.evaluate("window.__announced") == [final]
        assert status.inner_text() == "No harvest is waiting or running."
        assert page.locator(f"#source-{source['id']} [data-field=record_count]").inner_text() == "4"
        assert page.locator("[data-refresh]").is_hidden()
        assert page.evaluate("document.activeElement === document.body"), "nothing takes the focus"
        page.reload()
        assert not axe_problems(Axe(), page, "/staff/sources (done)", AXE_OPTIONS)
    finally:
        context.close()
        db.close()
        feeds.stop()
