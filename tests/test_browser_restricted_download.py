"""Issue 11 end to end in the real Chromium: sign up, confirm by the mailed link, be refused a restricted
book, apply with a certificate number, be approved by a librarian, then download the book's DAISY edition
and find yourself stamped in it.

Every part is the real one: the book's rights are set with `accessible-lib rights set`, its DAISY 2.02
edition is queued with `accessible-lib editions request` and built by a real worker process (espeak-ng),
mail goes through a real SMTP server (aiosmtpd), and the download is a browser download, opened afterwards
as the reader's DAISY player would. Each page is reached by following what the previous one offers.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from lxml import etree
from playwright.sync_api import Page

from accessible_lib import access, auth, catalogue, readers
from accessible_lib.db import open_database
from accessible_lib.editions import store
from accessible_lib.settings import Settings

from .browser_conftest import chromium, new_context  # noqa: F401 (fixtures)
from .conftest import make_book
from .jobs_helpers import WAIT, edition, run_cli, running_worker, wait_for, worker_env
from .live_server import LiveServer, start_server
from .mail_server import Mailbox, body_of, links_in, running_mailbox

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TITLE = "Moby-Dick"
CHAPTERS = [
    ("Loomings", "Call me Ishmael. Some years ago I thought I would sail.\n\nThe whale was white."),
    ("The Carpet-Bag", "I stuffed a shirt or two into my old carpet-bag."),
]
READER_NAME, EMAIL, PASSWORD = "Zhou Meilin", "meilin@example.org", "a reader's passphrase"
STAFF, STAFF_PASSWORD = "reviewer", "a reviewer passphrase"
NUMBER = "11010519491231002X12"  # GB 11643's example citizen ID, category 1, grade 2 (as test_eligibility)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A live server and mailbox over one eligible-only book whose DAISY edition a real worker has built."""
    root = tmp_path_factory.mktemp("restricted-download")
    with running_mailbox() as box:
        env = worker_env(root / "data", lease_seconds=30, smtp_url=box.url)
        settings = Settings.from_env(env)
        db = open_database(settings.database_path)
        try:
            book_id = catalogue.add_book(
                db, make_book(TITLE, CHAPTERS, authors=["Herman Melville"], language="en")
            )
            auth.create_staff(db, STAFF, STAFF_PASSWORD)
        finally:
            db.close()
        restricted = run_cli(env, "rights", "set", str(book_id), access.ELIGIBLE_ONLY)
        assert restricted.returncode == 0, restricted.stderr
        log_path = root / "worker.log"
        with running_worker(env, log_path):
            requested = run_cli(
                env,
                "editions",
                "request",
                str(book_id),
                "--format",
                "daisy202",
                "--option",
                "engine=espeak",
                "--json",
            )
            assert requested.returncode == 0, requested.stderr
            edition_id = json.loads(requested.stdout)["edition_id"]

            def built():
                row = edition(settings, edition_id)
                assert row["status"] != store.FAILED, row["error"]
                return row if row["status"] == store.DONE else None

            daisy = wait_for(built, timeout=WAIT, what="the DAISY edition", log_path=log_path)
        live = start_server(settings)
        try:
            yield {"live": live, "mailbox": box, "book_id": book_id, "edition": daisy}
        finally:
            live.stop()


def path_of(page: Page) -> str:
    return urlsplit(page.url).path


def press_submit(page: Page, form: str = "main form[method=post]") -> None:
    """Submit a form from the keyboard: focus its button and press Enter."""
    button = page.locator(f"{form} button[type=submit]")
    button.focus()
    with page.expect_navigation(wait_until="load"):
        button.press("Enter")


def follow(page: Page, link) -> None:
    link.focus()
    with page.expect_navigation(wait_until="load"):
        link.press("Enter")


def with_db(live: LiveServer, work):
    db = open_database(live.settings.database_path)
    try:
        return work(db)
    finally:
        db.close()


def test_sign_up_apply_be_approved_and_download_a_stamped_daisy_book(chromium, library, tmp_path):  # noqa: F811
    live: LiveServer = library["live"]
    mailbox: Mailbox = library["mailbox"]
    book_url = f"{live.url}/books/{library['book_id']}"
    daisy = library["edition"]
    [daisy_file] = daisy["files"]
    file_url = f"{live.url}/editions/{daisy['id']}/files/{daisy_file['name']}"
    reader_context = new_context(chromium, live, "en")
    staff_context = new_context(chromium, live, "en")
    try:
        # Sign up, confirm by the mailed link, sign in.
        page = reader_context.new_page()
        page.goto(live.url + "/account/sign-up")
        page.fill("#name", READER_NAME)
        page.fill("#email", EMAIL)
        page.fill("#password", PASSWORD)
        press_submit(page)
        link = next(link for link in links_in(mailbox.last_to(EMAIL)) if "/account/verify/" in link)
        page.goto(link)
        assert path_of(page) == "/account/sign-in"
        page.fill("#email", EMAIL)
        page.fill("#password", PASSWORD)
        press_submit(page)
        assert path_of(page) == "/account"

        # The book page refuses the reader: it says why, links to the application, offers no download.
        page.goto(book_url)
        refusal = page.locator("section.eligibility")
        assert refusal.locator("h2").inner_text() == "This book is for eligible readers only"
        assert "has not confirmed yet that you are an eligible reader" in refusal.inner_text()
        apply_link = refusal.get_by_role("link", name="How to become an eligible reader")
        assert apply_link.get_attribute("href") == "/account/eligibility"
        assert page.locator("a[href*='/editions/']").count() == 0
        assert page.locator("#editions").count() == 0
        assert page.request.get(file_url, max_redirects=0).status == 403  # nor by its address
        assert with_db(live, lambda db: db.execute("SELECT count(*) FROM downloads").fetchone()[0]) == 0

        # Apply from there with a certificate number.
        follow(page, apply_link)
        assert path_of(page) == "/account/eligibility"
        page.check("#category")  # Blind
        page.check("#evidence-certificate")
        page.fill("#certificate_number", NUMBER)
        press_submit(page, "form[action='/account/eligibility']")
        assert "Your application is sent" in page.inner_text(".notice")

        # A librarian approves it in the review queue.
        staff = staff_context.new_page()
        staff.goto(live.url + "/staff/login")
        staff.fill("#username", STAFF)
        staff.fill("#password", STAFF_PASSWORD)
        press_submit(staff)
        assert path_of(staff) == "/staff"
        follow(staff, staff.locator(".staff-nav").get_by_role("link", name="Eligibility applications"))
        row = staff.locator("tbody tr", has_text=READER_NAME)
        assert NUMBER in row.inner_text()
        follow(staff, row.get_by_role("link", name="Review the application"))
        press_submit(staff, "form:has(input[value=approve])")
        assert "approved, and the reader was told by mail" in staff.inner_text(".notice")
        assert "is approved" in body_of(mailbox.last_to(EMAIL))

        # The reader reloads the book page: now the DAISY edition is offered, and downloaded.
        page.goto(book_url)
        assert page.locator("section.eligibility").count() == 0
        entry = page.locator("ul.editions > li", has_text="DAISY 2.02 audio book")
        download_link = entry.get_by_role("link", name=re.compile(r"^Download ZIP file, "))
        assert download_link.count() == 1
        download_link.focus()
        with page.expect_download() as started:
            download_link.press("Enter")
        download = started.value
        assert download.failure() is None
        saved = tmp_path / "book.zip"
        download.save_as(saved)
    finally:
        reader_context.close()
        staff_context.close()

    # The copy carries the reader's name and its download id, in the ncc's metadata and on the title page.
    data = saved.read_bytes()
    with zipfile.ZipFile(saved) as archive:
        assert archive.testzip() is None
        ncc = etree.fromstring(archive.read("ncc.html"))
        title_page = etree.fromstring(archive.read("c001.html"))
    download_id = ncc.find(".//{*}meta[@name='prod:personalCopy']").get("content")
    assert re.fullmatch(r"\d{4}-\d{4}-\d{4}", download_id)
    rights = ncc.find(".//{*}meta[@name='dc:rights']").get("content")
    assert READER_NAME in rights and download_id in rights
    heading = title_page.find(".//{*}h1")
    assert "".join(heading.itertext()) == f"{TITLE}. Herman Melville."  # the title section
    note = heading.getnext()
    assert note.get("class") == "personal-copy"
    assert READER_NAME in "".join(note.itertext()) and download_id in "".join(note.itertext())

    # The id is the one logged for this reader and file, and the log holds the checksum of these bytes.
    reader_id = with_db(live, lambda db: readers.find_reader(db, EMAIL).id)

    def logged():
        rows = with_db(
            live,
            lambda db: [
                dict(r) for r in db.query("SELECT * FROM downloads WHERE reader_id = ?", [reader_id])
            ],
        )
        return rows if rows and rows[0]["sha256"] else None

    [row] = wait_for(logged, timeout=30, what="the download's checksum in the log")
    assert row["id"] == download_id
    assert (row["reader_name"], row["edition_id"], row["file_name"]) == (
        READER_NAME,
        daisy["id"],
        daisy_file["name"],
    )
    assert row["sha256"] == hashlib.sha256(data).hexdigest() and row["size"] == len(data)
