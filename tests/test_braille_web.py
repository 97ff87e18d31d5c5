"""Braille online: the chapter view, the staff translation page and the readers' download form."""

from __future__ import annotations

import json
import re

from bs4 import BeautifulSoup

from accessible_lib import auth
from accessible_lib.editions import store
from braille.translate import translate

from .form_helpers import ask_braille

PASSWORD = "a long enough password"
CELLS = re.compile("^[\u2800-\u283f]+$")


def soup_of(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def test_chapter_page_links_to_its_braille(client, sample_library) -> None:
    soup = soup_of(client.get(f"/books/{sample_library['en']}/read/1"))
    link = soup.find("a", href=f"/books/{sample_library['en']}/read/1/braille")
    assert link is not None and link.get_text() == "Read this chapter in braille"


def test_braille_chapter_has_one_element_per_paragraph_in_braille(client, sample_library) -> None:
    response = client.get(f"/books/{sample_library['en']}/read/1/braille")
    assert response.status_code == 200
    soup = soup_of(response)
    article = soup.find("article", class_="braille")
    assert article["lang"] == "en-Brai"
    paragraphs = article.find_all("p")
    assert [p.get_text() for p in paragraphs] == [
        translate("Call me Ishmael. Some years ago I thought I would sail.", "en-ueb-g2").braille,
        translate("The whale was white.", "en-ueb-g2").braille,
    ]
    assert soup.find("h1").get_text(" ", strip=True).startswith("Loomings")
    assert soup.find("select", attrs={"name": "table"}).find("option", selected=True)["value"] == "en-ueb-g2"
    nxt = soup.find("a", rel="next")
    assert nxt["href"] == f"/books/{sample_library['en']}/read/2/braille?table=en-ueb-g2"


def test_chinese_chapter_in_national_common_braille(client, sample_library) -> None:
    soup = soup_of(client.get(f"/books/{sample_library['zh']}/read/1/braille"))
    article = soup.find("article", class_="braille")
    assert article["lang"] == "zh-Brai"
    texts = [p.get_text() for p in article.find_all("p")]
    assert texts and all(CELLS.match(text) for text in texts)
    grade1 = soup_of(client.get(f"/books/{sample_library['zh']}/read/1/braille?table=zhcn-g1"))
    assert [p.get_text() for p in grade1.find("article").find_all("p")] != texts


def test_unknown_table_is_a_clear_error(client, sample_library) -> None:
    response = client.get(f"/books/{sample_library['en']}/read/1/braille?table=../../etc/passwd")
    assert response.status_code == 400
    assert "no braille table" in soup_of(response).find("main").get_text()
    assert client.get(f"/books/{sample_library['en']}/read/99/braille").status_code == 404


def test_download_form_queues_one_edition_per_choice(client, db, sample_library) -> None:
    book = sample_library["en"]
    soup = soup_of(client.get(f"/books/{book}"))
    form = soup.find("form", action=f"/books/{book}/braille")
    assert form is not None and form["method"] == "post"
    names = {field["name"] for field in form.find_all(["input", "select"])}
    assert names == {"csrf_token", "table", "cells", "lines", "format"}
    for field in form.find_all(["input", "select"]):
        if field.get("type") not in ("radio", "hidden"):
            assert form.find("label", attrs={"for": field["id"]}) is not None
    query = {"table": "en-ueb-g1", "cells": "32", "lines": "20", "format": "pef"}
    first = ask_braille(client, book, query)
    assert first.status_code == 303
    again = ask_braille(client, book, query)
    assert again.headers["location"] == first.headers["location"]  # the same edition, not a second one
    edition_id = int(first.headers["location"].rsplit("/", 1)[1])
    edition = store.get_edition(db, edition_id)
    options = edition["options"] if isinstance(edition["options"], dict) else json.loads(edition["options"])
    assert edition["format"] == "pef" and options["cells"] == 32
    status = soup_of(client.get(first.headers["location"]))
    assert status.find("h1").get_text() == "Your braille edition"
    assert status.find("a", href=first.headers["location"]) is not None  # checks again without JavaScript
    for bad in ({"cells": "90"}, {"format": "exe"}, {"table": "nope"}, {"lines": "x"}):
        response = ask_braille(client, book, {**query, **bad})
        assert response.status_code == 400


def soup_fields(form) -> dict:
    return {field["name"]: field["value"] for field in form.find_all("input")}


def _sign_in(client, db) -> None:
    auth.create_staff(db, "librarian", PASSWORD)
    page = soup_of(client.get("/staff/login"))
    token = page.find("input", attrs={"name": "csrf_token"})["value"]
    response = client.post(
        "/staff/login",
        data={
            "csrf_token": token,
            "username": "librarian",
            "password": "a long enough password",
            "next": "/staff",
        },
    )
    assert response.status_code == 200


def test_staff_translate_page(client, db) -> None:
    assert client.get("/staff/braille", follow_redirects=False).status_code in (302, 303)
    _sign_in(client, db)
    dashboard = soup_of(client.get("/staff"))
    assert dashboard.find("a", href="/staff/braille") is not None
    page = soup_of(client.get("/staff/braille"))
    token = page.find("input", attrs={"name": "csrf_token"})["value"]
    response = client.post(
        "/staff/braille",
        data={"csrf_token": token, "text": "银行行长\n第3次", "table": "zhcn-cbs", "word_spacing": "on"},
    )
    assert response.status_code == 200
    result = soup_of(response).find("div", class_="braille")
    assert result["lang"] == "zh-Brai"
    assert [p.get_text() for p in result.find_all("p")] == ["⠣⠂⠓⠦⠀⠓⠦⠌⠦⠄", "⠙⠊⠀⠼⠉⠀⠉⠆"]
    empty = client.post("/staff/braille", data={"csrf_token": token, "text": " ", "table": "nope"})
    assert empty.status_code == 400
    summary = soup_of(empty).find(id="error-summary")
    assert [a["href"] for a in summary.find_all("a")] == ["#text", "#table"]
    forged = client.post("/staff/braille", data={"csrf_token": "forged", "text": "x", "table": "en-ueb-g2"})
    assert forged.status_code in (400, 403)


def test_status_page_says_each_state_plainly_and_what_to_do(client, db, sample_library) -> None:
    """The reader's status page in every state: what is happening in words, and what the reader can do.
    A retry is not "being prepared", a failure offers "Try again", and a finished edition is a download,
    never "Waiting to start, 0%"."""
    import time

    book = sample_library["en"]
    query = {"table": "en-ueb-g1", "cells": "32", "lines": "20", "format": "brf"}
    location = ask_braille(client, book, query).headers["location"]
    edition_id = int(location.rsplit("/", 1)[1])

    def page():
        response = client.get(location)
        assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
        soup = soup_of(response)
        data = client.get(location + ".json").json()
        facts = soup.find("dl", class_="facts")
        status = facts.find("dd", attrs={"data-field": "status_text"}).get_text()
        assert status == data["status_text"]
        assert soup.find(attrs={"data-field": "advice"}).get_text() == data["advice"]
        return soup, status, data

    soup, status, data = page()
    assert status == "Waiting to start" and not data["finished"]
    follow = soup.find(attrs={"data-job-url": True})
    assert follow["data-job-url"] == location + ".json" and follow["data-announce"] == "job-announcer"
    assert soup.find(id="job-announcer")["aria-live"] == "polite"
    assert soup.find("script", src="/static/progress.js") is not None
    assert soup.find("a", attrs={"data-refresh": True})["href"] == location

    token = store.claim(db, edition_id, lease_seconds=60)
    store.fail(db, edition_id, token, error="The disk is full.", retry_at=time.time() + 3600)
    soup, status, data = page()
    assert status == "Waiting to try again"
    assert "tries again by itself" in data["advice"] and data["notice"] == data["advice"]
    assert "disk" not in soup.find("main").get_text(), "the worker's error is for staff"
    assert soup.find("form", class_="job-failed").has_attr("hidden")

    token = store.claim(db, edition_id, lease_seconds=60)
    store.fail(db, edition_id, token, error="The disk is full.", retry_at=None)
    soup, status, data = page()
    assert status == "Could not be made" and data["finished"]
    assert data["final_text"] == "Your braille edition could not be made. You can try again."
    assert soup.find(attrs={"data-job-url": True}) is None, "a finished edition is not followed"
    again = soup.find("form", class_="job-failed")
    assert not again.has_attr("hidden") and again["action"] == f"/books/{book}/braille"
    assert again["method"] == "post"
    fields = {field["name"]: field["value"] for field in again.find_all("input")}
    assert fields.pop("csrf_token") and fields == query
    assert again.find("button").get_text() == "Try again"
    retried = client.post(again["action"], data=soup_fields(again), follow_redirects=False)
    assert retried.headers["location"] == location
    assert store.get_edition(db, edition_id)["status"] == store.QUEUED  # asked again: queued again

    token = store.claim(db, edition_id, lease_seconds=60)
    files = [{"name": "book.brf", "media_type": "text/plain", "size": 3, "sha256": "0" * 64}]
    store.complete(db, edition_id, token, storage_key=str(edition_id), files=files)
    soup, status, data = page()
    assert (status, data["progress_text"]) == ("Ready", "100%")
    download = soup.find("a", attrs={"data-download": True})
    assert download["href"] == data["download_url"] == f"/editions/{edition_id}/files/book.brf"
    assert not download.find_parent("p").has_attr("hidden")
    # The book page's form for a finished edition serves the file at once.
    served = ask_braille(client, book, query)
    assert served.headers["location"] == data["download_url"]
    assert client.get(f"/books/{book}/braille/{edition_id + 99}.json").status_code == 404
