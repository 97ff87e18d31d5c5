"""No page prints Python's None, and no table cell is empty: a screen reader reads them out as "None" and
"blank", and neither tells the listener anything.

The crawl follows every link from the home page as a reader, then from the staff dashboard as a librarian,
with edition jobs in every state a job page can show: waiting, running, waiting to try again after a
failed attempt, failed, and finished. The reader's braille status page is visited in the same states.
Pages are fetched through the app itself (the `client` fixture), so the crawl is quick; the rendering is
what the browser tests and Orca hear.
"""

from __future__ import annotations

import time
from urllib.parse import urldefrag, urlsplit

from bs4 import BeautifulSoup, Comment

from accessible_lib import auth
from accessible_lib.editions import store

PASSWORD = "a long enough password"
MAX_PAGES = 250


def jobs_in_every_state(db, book_id: int) -> dict[str, int]:
    """Braille editions of one book in each state (braille, so the reader's status page shows them too)."""
    ids = {}

    def edition(cells: int) -> int:
        return store.request_edition(db, book_id, "brf", {"table": "en-ueb-g1", "cells": cells, "lines": 25})[
            0
        ]

    ids["queued"] = edition(30)
    ids["running"] = edition(31)
    token = store.claim(db, ids["running"], lease_seconds=3600)
    store.renew(db, ids["running"], token, lease_seconds=3600, progress=0)  # no step and no estimate yet
    ids["retrying"] = edition(32)
    token = store.claim(db, ids["retrying"], lease_seconds=60)
    store.fail(db, ids["retrying"], token, error="The disk is full.", retry_at=time.time() + 3600)
    ids["failed"] = edition(33)
    token = store.claim(db, ids["failed"], lease_seconds=60)
    store.fail(db, ids["failed"], token, error="The disk is full.", retry_at=None)
    ids["done"] = edition(34)
    token = store.claim(db, ids["done"], lease_seconds=60)
    files = [{"name": "book.brf", "media_type": "text/plain", "size": 3, "sha256": "0" * 64}]
    store.complete(db, ids["done"], token, storage_key=str(ids["done"]), files=files)
    for state, edition_id in ids.items():
        assert store.get_edition(db, edition_id)["status"] == (
            store.QUEUED if state == "retrying" else state
        ), state
    return ids


def problems_on(path: str, html: str) -> list[str]:
    soup = BeautifulSoup(html, "html.parser")
    found = []
    for text in soup.find_all(string=True):
        if isinstance(text, Comment) or text.parent.name in ("script", "style"):
            continue
        words = text.strip()
        if words == "None" or words.startswith("None:") or words.startswith("None "):
            found.append(f"{path}: the text {words!r} in <{text.parent.name}>")
    for element in soup.find_all(True):
        for name, value in element.attrs.items():
            if value == "None":
                found.append(f'{path}: <{element.name} {name}="None">')
    for cell in soup.find_all(["td", "th", "dd"]):
        if not cell.get_text(strip=True) and not cell.find(["img", "input", "select", "button"]):
            found.append(f"{path}: an empty <{cell.name}>: {str(cell)[:120]}")
    return found


def crawl(client, starts: list[str], prefix: str) -> tuple[list[str], list[str]]:
    queue, seen, problems = list(starts), set(starts), []
    while queue and len(seen) < MAX_PAGES:
        path = queue.pop(0)
        response = client.get(path)
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        problems.extend(problems_on(path, response.text))
        for link in BeautifulSoup(response.text, "html.parser").find_all("a", href=True):
            target = urldefrag(link["href"])[0]
            parts = urlsplit(target)
            if parts.netloc or not parts.path.startswith(prefix) or target in seen:
                continue
            if parts.path.startswith(("/language/", "/editions/", "/staff/logout")):
                continue
            if parts.path.endswith("/audio"):  # a chapter's audio, spoken at once: not a page
                continue
            seen.add(target)
            queue.append(target)
    return sorted(seen), problems


def test_no_page_says_none_or_leaves_a_cell_blank(client, db, sample_library) -> None:
    book_id = sample_library["en"]
    jobs = jobs_in_every_state(db, book_id)
    reader_starts = ["/", "/search?q=whale", f"/books/{book_id}/read/99"]
    reader_starts += [f"/books/{book_id}/braille/{edition_id}" for edition_id in jobs.values()]
    seen, problems = crawl(client, reader_starts, "/")
    assert f"/books/{book_id}" in seen and f"/books/{book_id}/read/1" in seen

    auth.create_staff(db, "librarian", PASSWORD)
    login = BeautifulSoup(client.get("/staff/login").text, "html.parser")
    token = login.find("input", attrs={"name": "csrf_token"})["value"]
    signed = client.post(
        "/staff/login",
        data={"csrf_token": token, "username": "librarian", "password": PASSWORD, "next": "/staff"},
    )
    assert signed.status_code == 200
    staff_starts = ["/staff", "/staff/jobs"] + [f"/staff/jobs/{edition_id}" for edition_id in jobs.values()]
    staff_seen, staff_problems = crawl(client, staff_starts, "/staff")
    for filtered in ("queued", "running", "failed", "done"):
        assert f"/staff/jobs?status={filtered}" in staff_seen
    assert f"/staff/books/{book_id}/edit" in staff_seen

    every = problems + staff_problems
    assert not every, f"{len(every)} problems:\n" + "\n".join(every)
