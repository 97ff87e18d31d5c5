"""Reader accounts in the real Chromium: sign up, confirm and sign in by keyboard alone, and every account
page through axe-core in both interface languages, signed out, signed in, and showing its errors.

The server is the real app under uvicorn with a real SMTP server (aiosmtpd) behind it; the links are
followed from the mails it received, as a reader's mail program would open them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from accessible_lib import i18n, readers
from accessible_lib.db import open_database
from accessible_lib.settings import Settings

from .browser_conftest import LOCALES, chromium, focused, new_context  # noqa: F401 (fixtures)
from .live_server import LiveServer, start_server
from .mail_server import Mailbox, links_in, running_mailbox
from .test_browser_axe import (
    AXE_DARK_OPTIONS,
    AXE_OPTIONS,
    PAGE_FACTS_JS,
    Crawl,
    axe_problems,
    check_page,
    reflow_problems,
)
from .test_keyboard import h1_text, press_enter_and_wait, tab_to

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "a keyboard passphrase"
SIGNED_OUT_PAGES = [
    "/account/sign-in",
    "/account/sign-up",
    "/account/reset",
    "/account/check-email?for=reset",
]


@pytest.fixture(scope="module")
def accounts_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Mailbox]]:
    with running_mailbox() as box:
        data_dir: Path = tmp_path_factory.mktemp("accounts") / "data"
        settings = Settings.from_env({}, data_dir=data_dir, smtp_url=box.url)
        live = start_server(settings)
        try:
            yield live, box
        finally:
            live.stop()


def add_reader(live: LiveServer, email: str, name: str = "Axe Reader") -> int:
    db = open_database(live.settings.database_path)
    try:
        return readers.add_reader(db, email, name, PASSWORD)
    finally:
        db.close()


def path_of(page: Page) -> str:
    return urlsplit(page.url).path


def is_button(text: str):
    return lambda info: info["tag"] == "button" and info["text"] == text


def is_field(field_id: str):
    return lambda info: info["id"] == field_id


def test_sign_up_confirm_and_sign_in_by_keyboard_alone(chromium, accounts_server):  # noqa: F811
    live, mailbox = accounts_server
    email = "keyboard@example.org"
    context = new_context(chromium, live, "en")
    try:
        page = context.new_page()
        page.goto(live.url + "/account/sign-up")  # the only page opened by its address
        tab_to(page, is_field("name"), "the Name field")
        page.keyboard.type("Kim Keys")
        tab_to(page, is_field("email"), "the Email field")
        page.keyboard.type(email)
        tab_to(page, is_field("password"), "the Password field")
        page.keyboard.type(PASSWORD)
        # The show-password button: a real button, reached by Tab, toggled with Space.
        tab_to(page, is_button("Show password"), "the show-password button")
        page.keyboard.press("Space")
        assert page.get_attribute("#password", "type") == "text"
        assert page.get_attribute("button[data-show-password=password]", "aria-pressed") == "true"
        assert page.input_value("#password") == PASSWORD
        page.keyboard.press("Space")
        assert page.get_attribute("#password", "type") == "password"
        assert page.get_attribute("button[data-show-password=password]", "aria-pressed") == "false"
        tab_to(page, is_button("Create account"), "the Create account button")
        press_enter_and_wait(page)
        assert h1_text(page) == "Check your email"

        link = next(link for link in links_in(mailbox.last_to(email)) if "/account/verify/" in link)
        page.goto(link)  # opened from the mail
        assert path_of(page) == "/account/sign-in"
        assert "Your email address is confirmed" in page.inner_text(".notice")

        tab_to(page, is_field("email"), "the Email field")
        page.keyboard.type(email)
        tab_to(page, is_field("password"), "the Password field")
        page.keyboard.type(PASSWORD)
        tab_to(page, is_field("keep"), "the keep-me-signed-in box")
        page.keyboard.press("Space")
        assert page.is_checked("#keep")
        tab_to(page, is_button("Sign in"), "the Sign in button")
        press_enter_and_wait(page)
        assert path_of(page) == "/account"
        assert h1_text(page) == "Your account"
        assert "Kim Keys" in page.inner_text("dl.facts")
        kept = [c for c in context.cookies(live.url) if c["name"] == "reader_session"]
        assert kept and kept[0]["expires"] > 0 and kept[0]["httpOnly"]  # a dated cookie: kept 30 days

        tab_to(page, is_button("Sign out"), "the Sign out button")
        press_enter_and_wait(page)
        assert path_of(page) == "/account/sign-in"
        assert "You have signed out." in page.inner_text(".notice")
    finally:
        context.close()


def test_a_link_in_the_error_summary_puts_the_focus_in_its_field(chromium, accounts_server):  # noqa: F811
    live, _ = accounts_server
    context = new_context(chromium, live, "en")
    try:
        page = context.new_page()
        page.goto(live.url + "/account/sign-in")
        with page.expect_navigation(wait_until="load"):
            page.click("main button[type=submit]")
        # `autofocus` is applied at the browser's next rendering step, which may come after `load`: waited
        # for, up to 5 s (a page that never focuses the summary fails here).
        page.wait_for_function("document.activeElement && document.activeElement.id === 'error-summary'",
                               timeout=5000)  # fmt: skip
        info = focused(page)
        assert info is not None and info["id"] == "error-summary"  # the summary has the focus on load
        tab_to(page, lambda i: i["tag"] == "a" and i["href"] == "#password", "the summary's Password link")
        page.keyboard.press("Enter")
        assert focused(page)["id"] == "password"
    finally:
        context.close()


def check_here(axe: Axe, page: Page, label: str, crawl: Crawl) -> None:
    """check_page's checks for the page the browser is on (after a POST), without loading it again."""
    facts = page.evaluate(PAGE_FACTS_JS)
    want_lang = i18n.BY_CODE[crawl.locale].lang
    if facts["lang"] != want_lang:
        crawl.problems.append(f"{label}: <html lang={facts['lang']!r}>, expected {want_lang!r}")
    if len(facts["h1"]) != 1 or facts["mains"] != 1 or not facts["title"]:
        crawl.problems.append(f"{label}: h1 {facts['h1']}, {facts['mains']} main, title {facts['title']!r}")
    crawl.problems.extend(axe_problems(axe, page, label, AXE_OPTIONS))
    page.emulate_media(color_scheme="dark")
    crawl.problems.extend(axe_problems(axe, page, label, AXE_DARK_OPTIONS, " (dark colour scheme)"))
    page.emulate_media(color_scheme="light")
    crawl.problems.extend(reflow_problems(page, label))


def submit(page: Page) -> None:
    with page.expect_navigation(wait_until="load"):
        page.click("main form[method=post] button[type=submit]")


@pytest.mark.parametrize("locale", LOCALES)
def test_every_account_page_passes_axe(chromium, accounts_server, locale):  # noqa: F811
    live, mailbox = accounts_server
    email = f"axe-{locale.lower()}@example.org"
    add_reader(live, email)
    crawl = Crawl(locale)
    axe = Axe()
    context = new_context(chromium, live, locale, color_scheme="light")
    try:
        page = context.new_page()
        for path in SIGNED_OUT_PAGES:
            check_page(axe, page, live.url + path, crawl)
        # Each form with its errors: the error summary, the invalid fields and their messages.
        for path in ("/account/sign-in", "/account/sign-up", "/account/reset"):
            page.goto(live.url + path)
            submit(page)
            assert page.locator(".error-summary").count() == 1, path
            check_here(axe, page, f"{path} with errors", crawl)
        # The password-reset page, from its mail.
        page.goto(live.url + "/account/reset")
        page.fill("#email", email)
        submit(page)
        link = next(link for link in links_in(mailbox.last_to(email)) if "/account/reset/" in link)
        check_page(axe, page, link, crawl)
        # Signed in: the account's home and the pages that change it.
        page.goto(live.url + "/account/sign-in")
        page.fill("#email", email)
        page.fill("#password", PASSWORD)
        submit(page)
        assert path_of(page) == "/account"
        for path in ("/account", "/account/email", "/account/password"):
            check_page(axe, page, live.url + path, crawl)
        page.goto(live.url + "/account/password")
        submit(page)
        check_here(axe, page, "/account/password with errors", crawl)
    finally:
        context.close()
    assert not crawl.problems, "\n".join(crawl.problems)
