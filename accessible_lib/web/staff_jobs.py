"""The job list and each job's status page, and the JSON that progress.js polls.

Progress has to be perceivable without sight and without JavaScript: everything is said in words (status,
"40%", the step, "about 2 minutes left"), colour and the bar only repeat it. Without JavaScript the page
says when it was last updated and offers a plain link to update it (a meta refresh would move a screen
reader's reading position away every few seconds: axe's `meta-refresh` rule, WCAG 2.2.1). With JavaScript
the page updates itself and announces, politely, each 10% step and the end: every text the script shows
comes translated in the JSON, so the script needs no catalogue of its own.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from babel.dates import format_time, format_timedelta
from babel.numbers import format_percent
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..editions import formats, store
from ..i18n import gettext
from ..ingest.errors import N_
from .helpers import db_for, not_found
from .render import render
from .staff_session import StaffContext, staff_page

STATUS_TEXT = store.STATUS_TEXT
OUTDATED = "outdated"  # not a status: finished editions made from chapters since rebuilt
FILTERS = (store.RUNNING, store.QUEUED, store.FAILED, store.DONE, OUTDATED)
FILTER_TEXT = {
    store.QUEUED: N_("Waiting"),
    store.RUNNING: N_("Running"),
    store.DONE: N_("Finished"),
    store.FAILED: N_("Failed"),
    OUTDATED: N_("Outdated"),
}


def eta_text(edition: dict, locale: str) -> str:
    status = edition["status"]
    if status == store.DONE:
        return gettext("It has finished")
    if status == store.FAILED:
        return gettext("It has stopped")
    if status == store.QUEUED:
        return gettext("Not started yet")
    seconds = edition.get("eta_seconds")
    if seconds is None:
        return gettext("Not known yet")
    if seconds < 60:
        return gettext("Less than a minute")
    amount = format_timedelta(timedelta(seconds=seconds), threshold=1.5, locale=locale)
    return gettext("About %(time)s left", time=amount)


status_text = store.status_text


def step_text(edition: dict) -> str:
    """The step in words whatever the state: an empty cell is read as "blank", and a missing value must
    never reach the page as "None"."""
    step = edition.get("step")
    if step:
        return gettext(step)
    return gettext(
        {
            store.QUEUED: N_("Not started yet"),
            store.RUNNING: N_("Getting started"),
            store.DONE: N_("All steps done"),
            store.FAILED: N_("Stopped"),
        }.get(edition["status"], N_("Not known yet"))
    )


def milestone(progress: int) -> int:
    """The 10% step reached: what the live region announces, and nothing in between."""
    return max(0, min(100, int(progress))) // 10 * 10


def describe_job(edition: dict, locale: str) -> dict:
    """An edition as the staff pages and the JSON show it: every value also in words."""
    fmt = formats.FORMATS.get(edition["format"])
    progress = max(0, min(100, int(edition.get("progress") or 0)))
    finished = edition["status"] in (store.DONE, store.FAILED)
    step = edition.get("step")
    if edition["status"] == store.DONE:
        final = gettext("Finished: the edition is ready.")
    elif edition["status"] == store.FAILED:
        final = gettext("Failed: %(error)s", error=edition.get("error") or gettext("no reason was recorded."))
    else:
        final = ""
    return {
        "id": edition["id"],
        "book_id": edition["book_id"],
        "book_title": edition.get("book_title"),
        "book_language": edition.get("book_language"),
        "format": edition["format"],
        "format_label": gettext(fmt.label) if fmt else edition["format"],
        "status": edition["status"],
        "status_text": status_text(edition),
        "outdated": edition["status"] == store.DONE and bool(edition.get("outdated_at")),
        "progress": progress,
        "progress_text": format_percent(progress / 100, locale=locale),
        "milestone": milestone(progress),
        "milestone_text": gettext(
            "%(percent)s done", percent=format_percent(milestone(progress) / 100, locale=locale)
        ),
        "step": gettext(step) if step else "",
        "step_text": step_text(edition),
        "eta_text": eta_text(edition, locale),
        "error": edition.get("error") or "",
        "error_text": edition.get("error") or gettext("No problem so far"),
        "attempts": edition.get("attempts") or 0,
        "finished": finished,
        "final_text": final,
        "requested_by": edition.get("requested_by") or "",
        "url": f"/staff/jobs/{edition['id']}",
        "json_url": f"/staff/jobs/{edition['id']}.json",
    }


def checked_text(locale: str) -> str:
    return gettext("Status as of %(time)s.", time=format_time(datetime.now(), format="medium", locale=locale))


def job_list(request: Request, staff: StaffContext) -> Response:
    locale = request.scope.get("locale", "en")
    wanted = request.query_params.get("status")
    status = wanted if wanted in FILTERS else None
    jobs = [
        describe_job(edition, locale)
        for edition in store.list_jobs(
            db_for(request), status=status if status != OUTDATED else None, outdated=status == OUTDATED
        )
    ]
    filters = [{"status": None, "label": gettext("All"), "current": status is None}] + [
        {"status": name, "label": gettext(FILTER_TEXT[name]), "current": status == name} for name in FILTERS
    ]
    context = staff.page(
        jobs=jobs,
        filters=filters,
        status=status,
        status_label=gettext(FILTER_TEXT[status]) if status else None,
        checked_text=checked_text(locale),
    )
    return render(request, "staff_jobs.html", context)


job_list_page = staff_page(job_list)


def _edition(request: Request) -> dict:
    edition = store.get_edition(db_for(request), request.path_params["edition_id"])
    if edition is None:
        raise not_found()
    return edition


def job_status(request: Request, staff: StaffContext) -> Response:
    locale = request.scope.get("locale", "en")
    edition = _edition(request)
    context = staff.page(job=describe_job(edition, locale), checked_text=checked_text(locale))
    return render(request, "staff_job.html", context)


job_status_page = staff_page(job_status)


def job_json(request: Request, staff: StaffContext) -> Response:
    locale = request.scope.get("locale", "en")
    job = describe_job(_edition(request), locale)
    job["checked_text"] = checked_text(locale)
    return JSONResponse(job, headers={"Cache-Control": "no-store"})


job_json_page = staff_page(job_json)
