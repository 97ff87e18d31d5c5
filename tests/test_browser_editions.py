"""The whole path in a real browser: staff request an edition, a real worker builds it, the job page follows
it to the end without a reload, and a reader downloads it from the book page, resuming with a byte range."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from accessible_lib import auth
from accessible_lib.db import open_database
from accessible_lib.editions import store

from .browser_conftest import chromium, new_context  # noqa: F401
from .jobs_helpers import running_worker, worker_env
from .live_server import live_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

USERNAME, PASSWORD = "librarian", "a long enough passphrase"


def test_request_follow_and_download_an_edition(chromium, tmp_path: Path):  # noqa: F811
    data_dir = tmp_path / "data"
    # The live server gives the first book finished editions already; the second has none.
    files = ("text/zh/zh-lisao-qu-yuan.txt", "epub/en/pg17192-poe-the-raven-epub2.epub")
    with live_server(data_dir, files=files) as (server, books):
        db = open_database(server.settings.database_path)
        auth.create_staff(db, USERNAME, PASSWORD)
        book_id = books[files[1]]
        env = worker_env(data_dir, lease_seconds=30)
        with running_worker(env, tmp_path / "worker.log"):
            context = new_context(chromium, server, "en")
            page = context.new_page()
            try:
                page.goto(server.url + "/staff/login")
                page.fill("#username", USERNAME)
                page.fill("#password", PASSWORD)
                page.locator("form[action='/staff/login'] button[type=submit]").click()
                page.wait_for_url(server.url + "/staff")
                assert store.editions_for_book(db, book_id) == []  # so the worker must build it
                page.goto(server.url + f"/staff/books/{book_id}/edit")
                page.select_option("#format", "html")
                page.get_by_role("button", name="Request this edition").click()
                page.wait_for_url(re.compile(r".*/staff/jobs/\d+$"))
                edition_id = int(page.url.rsplit("/", 1)[1])
                # The page follows the job by itself (progress.js) until the worker finishes it.
                page.wait_for_function(
                    # A function, not a bare expression: Playwright evals those, which the CSP forbids.
                    "() => document.querySelector('[data-field=status_text]')"
                    ".textContent.startsWith('Finished')",
                    timeout=60_000,
                )
                edition = store.get_edition(db, edition_id)
                assert edition["status"] == store.DONE and edition["progress"] == 100

                page.goto(server.url + f"/books/{book_id}")
                link = page.get_by_role("link", name=re.compile(r"^Download ZIP file, "))
                href = link.get_attribute("href")
                whole = page.request.get(server.url + href)
                assert whole.status == 200
                assert hashlib.sha256(whole.body()).hexdigest() == edition["files"][0]["sha256"]
                resumed = page.request.get(server.url + href, headers={"Range": "bytes=100-"})
                assert resumed.status == 206 and resumed.body() == whole.body()[100:]
            finally:
                context.close()
                db.close()
