"""The staff review queue for eligibility: pending applications, one application, the decision, the log.

Why every page that shows evidence writes to `evidence_views`: disability data is sensitive personal data,
and the library must be able to say who looked at whose evidence and when. The queue shows each
application's evidence (so it logs a "queue" view of each one listed), the review page logs "review", and
a download of a statement logs "download". The log holds no disability data, and staff can read it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import eligibility, readers, vouching
from ..eligibility_mail import send_decision
from ..i18n import gettext
from ..ingest.errors import N_
from .account_eligibility import evidence_response
from .account_mail import base_url
from .helpers import db_for, not_found, page_number
from .render import render
from .staff_session import StaffContext, staff_page

PRIVATE = {"Cache-Control": "no-store"}  # pages that show disability data stay out of every cache
DONE = {"approved", "approved-no-mail", "denied", "denied-no-mail", "organisation"}
LOG_PAGE_SIZE = 100


def _describe(db, applications: list[eligibility.Application]) -> list[dict]:
    """What a reviewer sees of each application: the reader, the category in words, the evidence."""
    organisations = vouching.organisation_names(
        db, {a.organisation_id for a in applications if a.organisation_id}
    )
    rows = []
    for application in applications:
        account = readers.get_reader(db, application.reader_id)
        rows.append(
            {
                "application": application,
                "name": account.name if account else "",
                "email": account.email if account else "",
                "category": gettext(
                    eligibility.CATEGORY_LABELS.get(application.category, application.category)
                ),
                "file": eligibility.evidence_file(db, application.id),
                "organisation": organisations.get(application.organisation_id or 0, ""),
            }
        )
    return rows


def queue(request: Request, staff: StaffContext) -> Response:
    db = db_for(request)
    pending = eligibility.pending_applications(db)
    eligibility.log_views(db, pending, staff.user.username, "queue")
    done = request.query_params.get("done")
    context = staff.page(rows=_describe(db, pending), done=done if done in DONE else "")
    return render(request, "staff_eligibility.html", context, headers=PRIVATE)


def _application(request: Request) -> eligibility.Application:
    found = eligibility.get_application(db_for(request), request.path_params["application_id"])
    if found is None:
        raise not_found()
    return found


def _review(request: Request, staff: StaffContext, application, *, errors=None, values=None, status=200):
    db = db_for(request)
    eligibility.log_view(db, application, staff.user.username, "review")
    context = staff.page(
        row=_describe(db, [application])[0],
        errors=errors or [],
        values=values or {"until": "", "reason": ""},
    )
    return render(request, "staff_application.html", context, status=status, headers=PRIVATE)


def review(request: Request, staff: StaffContext) -> Response:
    return _review(request, staff, _application(request))


def decide(request: Request, staff: StaffContext) -> Response:
    """POST of the review page: approve (optionally until a date) or deny with a reason."""
    application = _application(request)
    form = staff.form
    assert form is not None
    values = {"until": str(form.get("until") or ""), "reason": str(form.get("reason") or "")}
    db = db_for(request)
    if application.status != eligibility.PENDING:
        errors = [{"field_id": "decision", "message": gettext("This application was already decided.")}]
        return _review(request, staff, application, errors=errors, values=values, status=409)
    action = form.get("decision")
    try:
        if action == "approve":
            until = eligibility.check_until(values["until"])
            if until is not None and until < _today():
                raise eligibility.EligibilityError(
                    N_("The end date is in the past: leave it empty or give a later date."), field="until"
                )
            decided = eligibility.approve(db, application.id, by=staff.user.username, until=until)
        elif action == "deny":
            decided = eligibility.deny(db, application.id, by=staff.user.username, reason=values["reason"])
        else:
            raise eligibility.EligibilityError(N_("Choose approve or deny."), field="decision")
    except eligibility.EligibilityError as error:
        errors = [{"field_id": error.field or "decision", "message": error.translated()}]
        return _review(request, staff, application, errors=errors, values=values, status=400)
    account = readers.get_reader(db, decided.reader_id)
    sent = account is not None and send_decision(
        request.state.settings,
        account,
        decided,
        base_url=base_url(request),
        catalogues=getattr(request.state, "catalogues", None),
    )
    outcome = "approved" if decided.status == eligibility.APPROVED else "denied"
    return RedirectResponse(f"/staff/eligibility?done={outcome}{'' if sent else '-no-mail'}", status_code=303)


def _today():
    return datetime.now(UTC).date()


def download(request: Request, staff: StaffContext) -> Response:
    application = _application(request)
    found = eligibility.evidence_file(db_for(request), application.id)
    if found is None:
        raise not_found()
    eligibility.log_view(db_for(request), application, staff.user.username, "download")
    return evidence_response(request.state.settings, found)


def view_log(request: Request, staff: StaffContext) -> Response:
    db = db_for(request)
    page = page_number(request)
    total = eligibility.view_count(db)
    views = eligibility.recent_views(db, LOG_PAGE_SIZE, (page - 1) * LOG_PAGE_SIZE)
    pages = max(1, -(-total // LOG_PAGE_SIZE))
    context = staff.page(views=views, total=total, page=page, pages=pages)
    return render(request, "staff_evidence_log.html", context)


def organisations(request: Request, staff: StaffContext) -> Response:
    """Organisation accounts: list them, and make an existing reader's account one."""
    db = db_for(request)
    errors: list[dict] = []
    email = ""
    if request.method == "POST":
        assert staff.form is not None
        email = str(staff.form.get("email") or "").strip()
        account = readers.find_reader(db, email) if email else None
        if account is None:
            message = gettext("No account has this email address. The organisation signs up first.")
            errors.append({"field_id": "email", "message": message})
        elif account.role == "eligible":
            message = gettext(
                "This account is an eligible reader's; an organisation needs an account of its own."
            )
            errors.append({"field_id": "email", "message": message})
        else:
            readers.set_role(db, account.id, "organisation")
            return RedirectResponse("/staff/organisations?done=organisation", status_code=303)
    rows = db.execute(
        "SELECT id, name, email FROM readers WHERE role = 'organisation' ORDER BY name"
    ).fetchall()
    done = request.query_params.get("done")
    context = staff.page(
        organisations=[{"id": r[0], "name": r[1], "email": r[2]} for r in rows],
        errors=errors,
        email=email,
        done=done if done in DONE else "",
    )
    return render(request, "staff_organisations.html", context, status=400 if errors else 200)


queue_page = staff_page(queue)
review_page = staff_page(review)
decide_page = staff_page(decide)
download_page = staff_page(download)
view_log_page = staff_page(view_log)
organisations_page = staff_page(organisations)
