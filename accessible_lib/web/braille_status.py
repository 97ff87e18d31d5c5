"""A reader's braille edition being made: its status page, and the JSON that progress.js follows.

The reader asked for a braille download and waits here. The page must never be a stale snapshot (it once
said "Waiting to start, 0%" beside a finished download): with JavaScript it follows the edition as the
staff job page does (static/progress.js, announcing politely each 10% step, a retry, and the end), and
without it the page says when it was last checked and offers "Check again". Every state says in plain
words what is happening and what the reader can do: nothing while it is made or retried; download it when
it is ready; try again, choose other options or ask staff when it failed. The worker's error message is
for staff (the jobs page): it can name files and programs, so the reader is not shown it.
"""

from __future__ import annotations

from babel.numbers import format_percent
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import access
from ..editions import formats, store
from ..i18n import gettext
from ..ingest.errors import N_
from . import csrf
from .helpers import db_for, not_found
from .render import render
from .staff_jobs import checked_text, milestone

NO_STORE = {"Cache-Control": "no-store"}
RETRYING = "retrying"  # queued again after a failed attempt: a state of its own for the reader
STATUS_TEXT = {
    store.QUEUED: N_("Waiting to start"),
    RETRYING: N_("Waiting to try again"),
    store.RUNNING: N_("Being made"),
    store.DONE: N_("Ready"),
    store.FAILED: N_("Could not be made"),
}
ADVICE = {
    store.QUEUED: N_(
        "Your edition is waiting its turn. Braille editions take from a few seconds to a few minutes to make."
    ),
    RETRYING: N_(
        "The first attempt to make your edition did not work. The library tries again by itself in a "
        "moment; there is nothing you need to do."
    ),
    store.RUNNING: N_(
        "Your edition is being made. Braille editions take from a few seconds to a few minutes to make."
    ),
    store.DONE: N_("Your braille edition is ready to download."),
    store.FAILED: N_(
        "The edition could not be made. You can try again, choose other braille options on the book’s "
        "page, or ask the library’s staff, who can see what went wrong."
    ),
}


def reader_state(edition: dict) -> str:
    if edition["status"] == store.QUEUED and edition.get("attempts") and edition.get("error"):
        return RETRYING
    return edition["status"]


def describe(edition: dict, locale: str) -> dict:
    """The edition as the reader's page and its JSON show it, in the same fields as the staff job JSON."""
    state = reader_state(edition)
    done = edition["status"] == store.DONE and bool(edition["files"])
    if done:
        progress = 100
    elif state == RETRYING:
        progress = 0  # the next attempt starts from the beginning; the last one's 47% is not the reader's
    else:
        progress = max(0, min(100, int(edition.get("progress") or 0)))
    step = milestone(progress)
    base = f"/books/{edition['book_id']}/braille/{edition['id']}"
    if done:
        final = gettext("Your braille edition is ready. The download link follows.")
    elif edition["status"] == store.FAILED:
        final = gettext("Your braille edition could not be made. You can try again.")
    else:
        final = ""
    return {
        "id": edition["id"],
        "book_id": edition["book_id"],
        "status": edition["status"],
        "state": state,
        "status_text": gettext(STATUS_TEXT.get(state, STATUS_TEXT[store.QUEUED])),
        "advice": gettext(ADVICE.get(state, ADVICE[store.QUEUED])),
        "notice": gettext(ADVICE[RETRYING]) if state == RETRYING else "",
        "progress": progress,
        "progress_text": format_percent(progress / 100, locale=locale),
        "milestone": step,
        "milestone_text": gettext("%(percent)s done", percent=format_percent(step / 100, locale=locale)),
        "finished": edition["status"] in (store.DONE, store.FAILED),
        "final_text": final,
        "download_url": f"/editions/{edition['id']}/files/{edition['files'][0]['name']}" if done else "",
        "url": base,
        "json_url": base + ".json",
    }


def _edition(request: Request) -> dict:
    db = db_for(request)
    access.require_read(request, access.book_rights(db, request.path_params["book_id"]))
    edition = store.get_edition(db, request.path_params["edition_id"])
    if edition is None or edition["book_id"] != request.path_params["book_id"]:
        raise not_found()
    if edition["format"] not in ("brf", "pef"):
        raise not_found()
    return edition


def status_page(request: Request) -> Response:
    locale = request.scope.get("locale", "en")
    edition = _edition(request)
    options = edition["options"]
    context = {
        "edition": edition,
        "job": describe(edition, locale),
        "label": gettext(formats.get_format(edition["format"]).label),
        "checked_text": checked_text(locale),
        "csrf_token": csrf.token(request),
        # The same choices again, for "Try again" after a failure: asking again requeues a failed edition.
        "again": {
            "format": edition["format"],
            "table": options.get("table", ""),
            "cells": options.get("cells", 40),
            "lines": options.get("lines", 25),
        },
    }
    return render(request, "braille_status.html", context, headers=NO_STORE)


def status_json(request: Request) -> Response:
    locale = request.scope.get("locale", "en")
    job = describe(_edition(request), locale)
    job["checked_text"] = checked_text(locale)
    return JSONResponse(job, headers=NO_STORE)
