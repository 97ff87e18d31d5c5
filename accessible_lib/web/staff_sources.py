"""Other libraries' catalogues, for staff: each source, its last harvest and its errors, and "harvest now".

A harvest can take minutes to hours, so the button only asks for one: the source is marked as waiting and a
task goes on the job queue, where a worker runs it (harvest/jobs.py), never the web process. The page says
where the job is in words; with JavaScript it follows the job as the edition job pages do (progress.js over
`/staff/sources/{id}.json`), announcing its start and its outcome in a polite live region and moving no
focus. Adding a library asks its address what it is first (within the harvest's time limit for one page),
so a wrong address is an error on the form, not a source that can never be harvested.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from ..harvest import HarvestError, jobs, register, store
from ..i18n import gettext
from ..ingest.errors import N_
from ..settings import Settings
from .helpers import db_for, not_found
from .render import render
from .staff_jobs import checked_text
from .staff_session import StaffContext, staff_page

log = logging.getLogger(__name__)

PROTOCOLS = {store.OAI: N_("OAI-PMH"), store.OPDS: N_("OPDS 2.0")}
STATUSES = {store.OK: N_("Finished"), store.FAILED: N_("Failed"), store.RUNNING: N_("Running")}


def _describe(source: dict, db, settings: Settings) -> dict:
    status_label = gettext(STATUSES[source["last_status"]]) if source.get("last_status") else None
    return {
        **source,
        "protocol_label": gettext(PROTOCOLS.get(source["protocol"], N_("OPDS 2.0"))),
        "status_label": status_label,
        "job": describe_job(source, settings),
        "runs": [
            {**run, "status_label": gettext(STATUSES.get(run["status"], N_("Failed")))}
            for run in store.recent_runs(db, source["id"])
        ],
    }


def describe_job(source: dict, settings: Settings) -> dict:
    """The source's harvest job in words, as the page and its JSON give it: every state said, never blank."""
    status = jobs.live_job(source, settings)
    if status == jobs.QUEUED:
        text = gettext("Waiting for a worker to start it.")
    elif status == jobs.RUNNING:
        text = gettext("Running since %(time)s.", time=source["job_since"])
    else:
        text = gettext("No harvest is waiting or running.")
    if source.get("last_status") == store.FAILED:
        final = gettext(
            "The harvest of %(name)s failed: %(error)s",
            name=source["name"],
            error=source.get("last_error") or gettext("no reason was recorded."),
        )
    elif source.get("last_status") == store.OK:
        final = gettext(
            "The harvest of %(name)s has finished: it holds %(count)s records here.",
            name=source["name"],
            count=source.get("record_count") or 0,
        )
    else:
        final = gettext("The harvest of %(name)s has stopped.", name=source["name"])
    last = gettext("Never")
    if source.get("last_run_at"):
        label = gettext(STATUSES.get(source.get("last_status"), N_("Failed")))
        said = str(source["last_run_at"]).replace("T", " ").replace("+00:00", " UTC")  # as the page says it
        last = f"{said}: {label}"
    return {
        "status": status or "none",
        "live": status is not None,
        "status_text": text,
        "notice": gettext("The harvest of %(name)s is running.", name=source["name"])
        if status == jobs.RUNNING
        else "",
        "finished": status is None,
        "final_text": final if status is None else "",
        "milestone": 0,
        "record_count": source.get("record_count") or 0,
        "last_harvest_text": last,
        "json_url": f"/staff/sources/{source['id']}.json",
    }


def _page(request: Request, staff: StaffContext, *, errors=None, values=None, status: int = 200) -> Response:
    db = db_for(request)
    locale = request.scope.get("locale", "en")
    settings = request.state.settings
    context = staff.page(
        sources=[_describe(s, db, settings) for s in store.sources(db)],
        checked_text=checked_text(locale),
        errors=errors or [],
        values=values or {"url": "", "name": ""},
        started=request.query_params.get("started"),
        running=request.query_params.get("running"),
    )
    return render(request, "staff_sources.html", context, status=status)


def sources(request: Request, staff: StaffContext) -> Response:
    if request.method != "POST":
        return _page(request, staff)
    values = {
        "url": str(staff.form.get("url") or "").strip()[:2000],
        "name": str(staff.form.get("name") or "").strip()[:200],
    }
    try:
        source = register(db_for(request), request.state.settings, values["url"], values["name"] or None)
    except HarvestError as error:
        errors = [{"field_id": "url", "message": error.message}]
        return _page(request, staff, errors=errors, values=values, status=400)
    return _start(request, staff, source)


def harvest_now(request: Request, staff: StaffContext) -> Response:
    source = store.source(db_for(request), request.path_params["source_id"])
    if source is None:
        raise not_found()
    return _start(request, staff, source)


def job_json(request: Request, staff: StaffContext) -> Response:
    """What progress.js polls: the source's job, in the staff member's words."""
    source = store.source(db_for(request), request.path_params["source_id"])
    if source is None:
        return JSONResponse({"error": gettext("There is no such library.")}, status_code=404)
    job = describe_job(source, request.state.settings)
    job["checked_text"] = checked_text(request.scope.get("locale", "en"))
    return JSONResponse(job, headers={"Cache-Control": "no-store"})


def _start(request: Request, staff: StaffContext, source: dict) -> Response:
    """Queue a harvest and go back to the list at once; never a second one while one waits or runs."""
    db = db_for(request)
    anchor = f"#source-{source['id']}"
    if jobs.request(db, request.state.settings, source["id"]) != jobs.STARTED:
        return RedirectResponse(f"/staff/sources?running={source['id']}{anchor}", status_code=303)
    try:
        request.state.queue.enqueue_harvest(source["id"], request.scope.get("locale", "en"))
    except Exception:  # Redis down or unreachable: say so, and leave nothing marked as waiting
        log.exception("could not queue a harvest of source %s", source["id"])
        jobs.withdraw(db, source["id"])
        message = gettext(
            "The job queue could not be reached, so the harvest of %(name)s was not started. Try again in "
            "a minute; if it keeps failing, check that the queue (Redis) is running.",
            name=source["name"],
        )
        errors = [{"field_id": f"harvest-{source['id']}", "message": message}]
        return _page(request, staff, errors=errors, status=503)
    return RedirectResponse(f"/staff/sources?started={source['id']}{anchor}", status_code=303)


sources_page = staff_page(sources)
harvest_now_page = staff_page(harvest_now)
job_json_page = staff_page(job_json)
