"""The pages a Calibre import adds, in a real browser with axe, in both interface languages: a metadata-only
book's page, a book in a series, and the staff edit page's upload that gives such a book its file (plain, with
its error summary, and after the file is attached)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe

from accessible_lib import auth
from accessible_lib.calibre.library import read_library
from accessible_lib.calibre.sync import sync_library
from accessible_lib.db import open_database

from .browser_conftest import LOCALES, chromium, new_context  # noqa: F401 (fixtures)
from .live_server import CORPUS, LiveServer, live_server
from .test_browser_axe import AXE_OPTIONS, Crawl, axe_problems, check_page
from .test_browser_staff import sign_in
from .test_staff import PASSWORD, USERNAME

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def calibre_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict[str, int]]]:
    """A live server whose catalogue is the corpus Calibre library, with a staff account."""
    root = tmp_path_factory.mktemp("calibre")
    library = shutil.copytree(CORPUS / "calibre-library", root / "library")
    with live_server(root / "data", files=("text/zh/zh-changhenge-bai-juyi.txt",)) as (server, _):
        db = open_database(server.settings.database_path)
        try:
            auth.create_staff(db, USERNAME, PASSWORD)
            sync_library(db, server.settings, read_library(library))
            ids = dict(db.execute("SELECT title, id FROM books").fetchall())
        finally:
            db.close()
        yield server, ids


@pytest.mark.parametrize("locale", LOCALES)
def test_calibre_pages_pass_axe(chromium, calibre_live, locale):  # noqa: F811
    server, ids = calibre_live
    lost, series = ids["The Lost Manuscript"], ids["后赤壁赋"]
    crawl = Crawl(locale)
    axe = Axe()
    context = new_context(chromium, server, locale, color_scheme="light")
    try:
        page = context.new_page()
        for path in [f"/books/{lost}", f"/books/{series}"]:
            check_page(axe, page, server.url + path, crawl)
        assert page.locator("dl.facts dd span[lang='zh-Hans']").inner_text() == "前后赤壁赋"
        sign_in(page, server)
        edit = server.url + f"/staff/books/{lost}/edit"
        check_page(axe, page, edit, crawl)
        page.locator(f"form[action='/staff/books/{lost}/file'] button[type=submit]").click()
        page.wait_for_selector("[role=alert]")
        page.wait_for_function("() => document.activeElement?.id === 'error-summary'")  # its script ran
        assert page.evaluate("document.activeElement.id") == "error-summary", "the summary takes the focus"
        assert page.locator("#books").get_attribute("aria-describedby") == "books-error"
        crawl.problems.extend(axe_problems(axe, page, "attach (errors)", AXE_OPTIONS))
    finally:
        context.close()
    assert crawl.problems == []
