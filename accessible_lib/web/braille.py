"""Braille online: a chapter in Unicode braille, staff's translation of pasted text, and braille downloads.

The chapter view is for braille-display users and sighted transcribers: one element per paragraph or
heading, as in the print view, so a display's paragraph and heading navigation works. Each element's `lang`
is the text's language with the Braille script subtag (en-Brai, zh-Brai, BCP 47 / ISO 15924): the content
is braille, not English or Chinese print, and a screen reader should not try to read the cells as words.

Braille downloads are made on request: the book page's form (a POST with its CSRF token) names one of the
tables and page sizes it offers; an edition with those options is reused when it exists (a finished one is
served at once), otherwise it is queued, within the reader's and the address's hourly budget, and the
reader waits on its status page (braille_status.py). Every new edition is a job for a worker, so nobody may
make jobs the form does not offer, or many in a row.
"""

from __future__ import annotations

import math

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from braille.layout import check_size
from braille.tables import TABLES, BrailleError, default_table, resolve_table
from braille.translate import translate

from .. import access, catalogue
from ..access import current_reader
from ..editions import formats, store
from ..editions.braille_edition import chapter_blocks
from ..errors import UserError
from ..i18n import gettext, ngettext
from ..ingest.errors import N_
from ..throttle import Limiter
from . import csrf
from .helpers import book_and_chapter, db_for, not_found
from .render import render, render_error
from .staff_session import StaffContext, staff_page

MAX_PASTE = 20_000  # characters staff may translate at once
TABLE_LABELS = {
    "en-ueb-g2": N_("English, Unified English Braille, grade 2 (contracted)"),
    "en-ueb-g1": N_("English, Unified English Braille, grade 1 (uncontracted)"),
    "en-us-g2": N_("English, US EBAE grade 2 (contracted)"),
    "zhcn-cbs": N_("Chinese, national common braille (GF 0019-2018)"),
    "zhcn-g1": N_("Chinese, current braille with tones"),
    "zh-chn": N_("Chinese, current braille without tones"),
}


def braille_lang(lang: str | None) -> str:
    return f"{(lang or 'en').split('-')[0]}-Brai"


def table_choices(lang: str | None, chosen: str) -> list[dict]:
    """Our tables, the language's default first, then the chosen one if it is another installed table."""
    default = default_table(lang)
    names = [default] + [name for name in TABLES if name != default]
    if chosen and chosen not in names:
        names.append(chosen)
    return [
        {"name": name, "label": gettext(TABLE_LABELS.get(name, name)), "selected": name == chosen}
        for name in names
    ]


def _table(request: Request, lang: str | None) -> str:
    chosen = (request.query_params.get("table") or "").strip() or default_table(lang)
    try:
        resolve_table(chosen)
    except BrailleError:
        raise UserError(gettext("There is no braille table called %(name)s.", name=chosen[:60])) from None
    return chosen


def chapter_page(request: Request):
    db = db_for(request)
    book, chapter = book_and_chapter(request, db)
    position = request.path_params["position"]
    lang = chapter["lang"] or book["language"]
    table = _table(request, lang)
    blocks = []
    placeholders = 0
    previous = 1  # the page's h1 is the chapter title in print
    for kind, text, level, _ in chapter_blocks(chapter["html"] or "", lang):
        result = translate(text, table)
        placeholders += result.placeholders
        if kind == "heading":  # below the h1, never skipping a level
            level = previous = max(2, min(level, previous + 1, 6))
        blocks.append({"kind": kind, "braille": result.braille, "level": level})
    count = len(book["chapters"])
    context = {
        "book": book,
        "chapter": chapter,
        "blocks": blocks,
        "braille_lang": braille_lang(lang),
        "table": table,
        "tables": table_choices(lang, table),
        "placeholders": placeholders,
        "previous": book["chapters"][position - 2] if position > 1 else None,
        "next": book["chapters"][position] if position < count else None,
        "count": count,
    }
    return render(request, "braille_chapter.html", context)


def translate_text(request: Request, staff: StaffContext) -> Response:
    """Staff paste text and see it in braille with a chosen table (no JavaScript; a POST with CSRF)."""
    form = staff.form
    text, table, errors, result = "", "", [], None
    spacing = True
    if form is not None:
        text = str(form.get("text") or "")
        table = str(form.get("table") or "").strip()
        spacing = form.get("word_spacing") == "on"
        if not text.strip():
            errors.append({"field_id": "text", "message": gettext("Enter the text to translate.")})
        elif len(text) > MAX_PASTE:
            errors.append(
                {
                    "field_id": "text",
                    "message": gettext(
                        "The text is %(size)d characters long; translate at most %(limit)d at a time.",
                        size=len(text),
                        limit=MAX_PASTE,
                    ),
                }
            )
        try:
            resolve_table(table)
        except BrailleError:
            errors.append({"field_id": "table", "message": gettext("Choose a braille table.")})
        if not errors:
            lines = [
                translate(line, table, segment_words=spacing) for line in text.splitlines() if line.strip()
            ]
            result = {
                "lines": [line.braille for line in lines],
                "placeholders": sum(line.placeholders for line in lines),
                "lang": braille_lang(TABLES[table].language if table in TABLES else None),
            }
    context = staff.page(
        text=text,
        table=table or "en-ueb-g2",
        tables=table_choices("en", table or "en-ueb-g2"),
        word_spacing=spacing,
        errors=errors,
        result=result,
        limit=MAX_PASTE,
    )
    return render(request, "staff_braille.html", context, status=400 if errors else 200)


translate_page = staff_page(translate_text)


BUDGET_WINDOW = 3600  # seconds: `braille_jobs_per_hour` new editions per reader and per address


def _offered_options(book: dict, form) -> tuple[str, dict]:
    """The format and options from the book page's form, only as that form offers them (its tables, its
    ranges): anything else is a clear 400, so no request can make a job the page would not."""
    format_name = str(form.get("format") or "brf")
    if format_name not in ("brf", "pef"):
        raise UserError(gettext("Choose BRF or PEF."), title=gettext("These braille options are not offered"))
    try:
        cells, lines = int(str(form.get("cells") or "40")), int(str(form.get("lines") or "25"))
        check_size(cells, lines)
    except ValueError:
        raise UserError(
            gettext("Choose 20 to 60 cells per line and 10 to 50 lines per page."),
            title=gettext("These braille options are not offered"),
        ) from None
    table = str(form.get("table") or "").strip() or default_table(book["language"])
    offered = {choice["name"] for choice in table_choices(book["language"], default_table(book["language"]))}
    if table not in offered:
        raise UserError(
            gettext(
                "Braille editions can be made with the tables listed on the book’s page; "
                "%(name)s is not one of them. Choose a table from the list.",
                name=table[:60],
            ),
            title=gettext("These braille options are not offered"),
            links=[{"href": f"/books/{book['id']}#braille-heading", "text": gettext("Braille to download")}],
        )
    options = formats.normalise_options(
        formats.get_format(format_name), {"table": table, "cells": cells, "lines": lines}
    )
    return format_name, options


def _budget_keys(request: Request) -> list[tuple[str, str]]:
    """Who pays for a new edition: the network address always, and the reader when one is signed in."""
    keys = [("braille-address", request.client.host if request.client else "")]
    reader = current_reader(request)
    if reader is not None:
        keys.append(("braille-reader", str(reader.id)))
    return keys


def _limiter(request: Request) -> Limiter:
    state = request.app.state
    limiter = getattr(state, "braille_limiter", None)
    if limiter is None:
        limiter = state.braille_limiter = Limiter(request.state.connections.get)
    return limiter


def _over_budget(request: Request, book: dict, wait: float) -> Response:
    minutes = max(1, math.ceil(wait / 60))
    message = ngettext(
        "You have asked for many new braille editions in the last hour. Try again in %(num)d minute; "
        "braille editions already made can be downloaded meanwhile.",
        "You have asked for many new braille editions in the last hour. Try again in %(num)d minutes; "
        "braille editions already made can be downloaded meanwhile.",
        minutes,
    )
    return render_error(
        request,
        429,
        title=gettext("Please wait before asking for another braille edition"),
        message=message,
        links=[{"href": f"/books/{book['id']}", "text": book["title"], "lang": book["language"]}],
        headers={"Retry-After": str(math.ceil(wait))},
    )


def _request_edition(request: Request, book: dict, format_name: str, options: dict) -> Response:
    db = db_for(request)
    key = store.options_key(options)
    existing = db.execute(
        "SELECT status, outdated_at FROM editions WHERE book_id = ? AND format = ? AND options_key = ?",
        [book["id"], format_name, key],
    ).fetchone()
    costs = existing is None or existing[0] == store.FAILED or (existing[0] == store.DONE and existing[1])
    limiter = _limiter(request)
    if costs:  # a new job: within the reader's and the address's budget only
        limit = request.state.settings.braille_jobs_per_hour
        wait = max(
            limiter.wait_seconds(bucket, who, limit=limit, window=BUDGET_WINDOW)
            for bucket, who in _budget_keys(request)
        )
        if wait:
            return _over_budget(request, book, wait)
    queue = getattr(request.state, "queue", None)
    if queue is not None:
        from ..jobs.queue import request as request_and_queue

        edition_id, queued = request_and_queue(
            db, queue, book["id"], format_name, options, requested_by="reader"
        )
    else:  # no queue in this app: the row is made, and a worker's periodic check finds it
        edition_id, queued = store.request_edition(
            db, book["id"], format_name, options, requested_by="reader"
        )
    if queued:
        for bucket, who in _budget_keys(request):
            limiter.hit(bucket, who, window=BUDGET_WINDOW)
    edition = store.get_edition(db, edition_id)
    if edition is not None and edition["status"] == store.DONE and edition["files"]:
        name = edition["files"][0]["name"]
        return RedirectResponse(f"/editions/{edition_id}/files/{name}", status_code=303)
    return RedirectResponse(f"/books/{book['id']}/braille/{edition_id}", status_code=303)


async def request_download(request: Request) -> Response:
    """POST from the book page's form (and the status page's "Try again"), with the visitor's CSRF token:
    serve the finished edition, or queue it (again, when it failed) and show its status. A new job costs
    one of the reader's and the address's `braille_jobs_per_hour`. A GET (an old link or bookmark to the
    form's old address) changes nothing: it goes to the form on the book's page."""
    book_id = request.path_params["book_id"]
    if request.method != "POST":
        book = await run_in_threadpool(catalogue.get_book, db_for(request), book_id)
        access.require_read(request, book)  # one who may not read it is told why, not sent to a form
        return RedirectResponse(f"/books/{book_id}#braille-heading", status_code=303)
    form = await csrf.checked_form(request, max_fields=20)
    book = await run_in_threadpool(catalogue.get_book, db_for(request), book_id)
    # Nothing is queued for a book the requester may not read: the edition would be theirs to download.
    access.require_read(request, book)
    if not book["chapters"]:  # a record without text (metadata-only, or another library's): nothing to emboss
        raise not_found()
    format_name, options = _offered_options(book, form)
    return await run_in_threadpool(_request_edition, request, book, format_name, options)
