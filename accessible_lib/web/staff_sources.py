"""Other libraries' catalogues, for staff: each source, its last harvest and its errors, and "harvest now".

A harvest can take minutes, so the button does not make staff wait on the page: the run starts once the
answer (a redirect back to this page) is sent, in the web process's thread pool, and the page says it is
running until it ends. Adding a library asks its address what it is first (within the harvest's time limit
for one page), so a wrong address is an error on the form, not a source that can never be harvested.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import db as database
from ..harvest import HarvestError, harvest_source, register, store
from ..i18n import gettext
from ..ingest.errors import N_
from ..settings import Settings
from .helpers import db_for, not_found
from .render import render
from .staff_session import StaffContext, staff_page

log = logging.getLogger(__name__)

PROTOCOLS = {store.OAI: N_("OAI-PMH"), store.OPDS: N_("OPDS 2.0")}
STATUSES = {store.OK: N_("Finished"), store.FAILED: N_("Failed"), store.RUNNING: N_("Running")}


def _describe(source: dict, db) -> dict:
    return {
        **source,
        "protocol_label": gettext(PROTOCOLS.get(source["protocol"], N_("OPDS 2.0"))),
        "status_label": gettext(STATUSES[source["last_status"]]) if source.get("last_status") else None,
        "runs": [
            {**run, "status_label": gettext(STATUSES.get(run["status"], N_("Failed")))}
            for run in store.recent_runs(db, source["id"])
        ],
    }


def _page(request: Request, staff: StaffContext, *, errors=None, values=None, status: int = 200) -> Response:
    db = db_for(request)
    context = staff.page(
        sources=[_describe(s, db) for s in store.sources(db)],
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
    return _start(request, source)


def harvest_now(request: Request, staff: StaffContext) -> Response:
    source = store.source(db_for(request), request.path_params["source_id"])
    if source is None:
        raise not_found()
    return _start(request, source)


def _start(request: Request, source: dict) -> Response:
    """Back to the list at once; the harvest runs after the answer is sent, unless one is running already."""
    settings = request.state.settings
    anchor = f"#source-{source['id']}"
    if _running(source, settings):
        return RedirectResponse(f"/staff/sources?running={source['id']}{anchor}", status_code=303)
    response = RedirectResponse(f"/staff/sources?started={source['id']}{anchor}", status_code=303)
    store.mark_running(db_for(request), source["id"])
    response.background = BackgroundTask(_harvest_in_background, settings, source["id"])
    return response


def _running(source: dict, settings: Settings) -> bool:
    """A run started within the harvest time limit and not ended: a second one would only repeat it."""
    if source.get("last_status") != store.RUNNING or not source.get("last_run_at"):
        return False
    started = datetime.fromisoformat(source["last_run_at"])
    return datetime.now(UTC) - started < timedelta(seconds=settings.harvest_time_limit_seconds)


def _harvest_in_background(settings: Settings, source_id: int) -> None:
    db = database.open_database(settings.database_path)
    try:
        harvest_source(db, settings, source_id)
    except HarvestError as error:  # kept on the source and its run: staff see it on the page
        log.warning("harvest of source %s failed: %s", source_id, error.message)
    finally:
        db.close()


sources_page = staff_page(sources)
harvest_now_page = staff_page(harvest_now)
