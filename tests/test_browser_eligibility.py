"""Eligibility in the real Chromium: a reader signs up, confirms by the mailed link, applies with a
certificate number, a librarian approves, and the reader's account says so; and every eligibility page
(the reader's, the organisation's, the staff's, each form with its errors) through axe-core in both
interface languages.

The server is the real app under uvicorn with a real SMTP server (aiosmtpd); links are followed from the
mails it received. The public crawl (tests/test_browser_axe.py) sees only what an anonymous visitor can
reach, so the signed-in pages are checked here with the same checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from accessible_lib import auth, eligibility, readers
from accessible_lib.db import open_database
from accessible_lib.settings import Settings

from .browser_conftest import LOCALES, chromium, new_context  # noqa: F401 (fixtures)
from .live_server import LiveServer, start_server
from .mail_server import Mailbox, body_of, links_in, running_mailbox
from .test_browser_accounts import check_here
from .test_browser_axe import Crawl, check_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "a browser passphrase"
STAFF = "reviewer"
STAFF_PASSWORD = "a reviewer passphrase"
NUMBER = "11010519491231002X12"  # GB 11643's example citizen ID, category 1, grade 2


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Mailbox]]:
    with running_mailbox() as box:
        data_dir: Path = tmp_path_factory.mktemp("eligibility") / "data"
        settings = Settings.from_env({}, data_dir=data_dir, smtp_url=box.url)
        live = start_server(settings)
        db = open_database(settings.database_path)
        try:
            auth.create_staff(db, STAFF, STAFF_PASSWORD)
        finally:
            db.close()
        try:
            yield live, box
        finally:
            live.stop()


def path_of(page: Page) -> str:
    return urlsplit(page.url).path


def submit(page: Page, form: str = "main form[method=post]") -> None:
    with page.expect_navigation(wait_until="load"):
        page.click(f"{form} button[type=submit]")


def reader_sign_in(page: Page, live: LiveServer, email: str) -> None:
    page.goto(live.url + "/account/sign-in")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    submit(page)
    assert path_of(page) == "/account"


def staff_sign_in(page: Page, live: LiveServer) -> None:
    page.goto(live.url + "/staff/login")
    page.fill("#username", STAFF)
    page.fill("#password", STAFF_PASSWORD)
    submit(page)
    assert path_of(page) == "/staff"


def with_db(live: LiveServer, work):
    db = open_database(live.settings.database_path)
    try:
        return work(db)
    finally:
        db.close()


def test_sign_up_confirm_apply_with_a_certificate_and_be_approved(chromium, server):  # noqa: F811
    live, mailbox = server
    email = "wen@example.org"
    reader_context = new_context(chromium, live, "en")
    staff_context = new_context(chromium, live, "en")
    try:
        page = reader_context.new_page()
        page.goto(live.url + "/account/sign-up")
        page.fill("#name", "Wen Li")
        page.fill("#email", email)
        page.fill("#password", PASSWORD)
        submit(page)
        link = next(link for link in links_in(mailbox.last_to(email)) if "/account/verify/" in link)
        page.goto(link)
        assert path_of(page) == "/account/sign-in"
        reader_sign_in(page, live, email)
        assert page.inner_text("#application-state") == "You have not applied."

        page.click("text=Apply to read books for print-disabled readers")
        page.wait_for_load_state("load")
        assert path_of(page) == "/account/eligibility"
        page.check("#category")  # Blind
        page.check("#evidence-certificate")
        page.fill("#certificate_number", NUMBER)
        submit(page, "form[action='/account/eligibility']")
        assert "Your application is sent" in page.inner_text(".notice")
        page.goto(live.url + "/account")
        assert "waiting for review" in page.inner_text("#application-state")

        staff = staff_context.new_page()
        staff_sign_in(staff, live)
        staff.click(".staff-nav >> text=Eligibility applications")
        staff.wait_for_load_state("load")
        row = staff.locator("tbody tr", has_text="Wen Li")
        assert NUMBER in row.inner_text()
        row.locator("a", has_text="Review the application").click()
        staff.wait_for_load_state("load")
        submit(staff, "form:has(input[value=approve])")
        assert "approved, and the reader was told by mail" in staff.inner_text(".notice")

        assert "is approved" in body_of(mailbox.last_to(email))
        page.reload()
        assert page.inner_text("#application-state") == "Approved, with no end date."
        account = with_db(live, lambda db: readers.find_reader(db, email))
        assert readers.as_reader(account).eligible
    finally:
        reader_context.close()
        staff_context.close()


@pytest.mark.parametrize("locale", LOCALES)
def test_every_eligibility_page_passes_axe(chromium, server, locale):  # noqa: F811
    live, _ = server
    suffix = locale.lower()
    reader_email, org_email = f"axe-{suffix}@example.org", f"org-{suffix}@example.org"

    def setup(db):
        reader_id = readers.add_reader(db, reader_email, "Axe Reader", PASSWORD, locale=locale)
        readers.add_reader(db, org_email, "Axe School", PASSWORD, role="organisation")
        return reader_id

    reader_id = with_db(live, setup)
    crawl = Crawl(locale)
    axe = Axe()
    context = new_context(chromium, live, locale, color_scheme="light")
    try:
        page = context.new_page()
        reader_sign_in(page, live, reader_email)
        check_page(axe, page, live.url + "/account", crawl)
        check_page(axe, page, live.url + "/account/eligibility", crawl)
        submit(page, "form[action='/account/eligibility']")  # nothing chosen: every error
        assert page.locator(".error-summary").count() == 1
        check_here(axe, page, "/account/eligibility with errors", crawl)
        check_page(axe, page, live.url + "/account/delete", crawl)
        submit(page, "form[action='/account/delete']")
        check_here(axe, page, "/account/delete with errors", crawl)
        page.goto(live.url + "/account/eligibility")
        page.check("#category-low-vision")
        page.check("#evidence-certificate")
        page.fill("#certificate_number", NUMBER)
        submit(page, "form[action='/account/eligibility']")
        check_here(axe, page, "/account/eligibility, applied", crawl)

        context.close()
        context = new_context(chromium, live, locale, color_scheme="light")
        page = context.new_page()
        reader_sign_in(page, live, org_email)
        check_page(axe, page, live.url + "/account/organisation", crawl)
        submit(page, "form[action='/account/organisation']")
        check_here(axe, page, "/account/organisation with errors", crawl)

        context.close()
        context = new_context(chromium, live, locale, color_scheme="light")
        page = context.new_page()
        staff_sign_in(page, live)
        application = with_db(live, lambda db: eligibility.pending_application(db, reader_id))
        for path in ("/staff/eligibility", f"/staff/eligibility/{application.id}", "/staff/eligibility/log"):
            check_page(axe, page, live.url + path, crawl)
        check_page(axe, page, live.url + "/staff/organisations", crawl)
        page.goto(live.url + f"/staff/eligibility/{application.id}")
        submit(page, "form:has(input[value=deny])")
        check_here(axe, page, "/staff/eligibility/ID with errors", crawl)
    finally:
        context.close()
    assert not crawl.problems, "\n".join(crawl.problems)
