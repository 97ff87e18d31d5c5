"""An organisation's own page (`/account/organisation`): vouching for members, one or many at a time.

A school or association for print-disabled people knows its members' disabilities; its vouching is the
evidence of an application that staff still review. One member by email, or many by a CSV file: the file
is checked row by row first and, if any row cannot be used, nothing at all is changed and every bad row is
named by its line number, so the organisation fixes the file and sends it again whole.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import eligibility, vouching
from ..errors import UserError
from ..i18n import gettext, ngettext
from . import csrf, form_upload
from .account_eligibility import sign_in_first, signed_in_account
from .account_session import render_form
from .helpers import db_for

CSV_FIELD = "members"
MAX_CSV_BYTES = vouching.MAX_CSV_BYTES


def _require_organisation(account) -> None:
    """A form's token is checked before this, as on every POST: a forged form is refused as forged."""
    if account is not None and account.role != "organisation":
        raise UserError(
            gettext("Only an organisation account can vouch for members. Library staff make them."),
            title=gettext("This page is for organisations"),
            status=403,
            links=[{"href": "/account", "text": gettext("Back to your account")}],
        )


def _page(request: Request, account, *, values=None, errors=None, status=200) -> Response:
    db = db_for(request)
    done = request.query_params.get("done", "")
    context = {
        "account": account,
        "values": values or {"email": "", "category": "", "category_other": ""},
        "errors": errors or [],
        "categories": [(code, gettext(eligibility.CATEGORY_LABELS[code])) for code in eligibility.CATEGORIES],
        "members": vouching.vouched_members(db, account.id),
        "done_count": int(done) if done.isdigit() and int(done) < 100_000 else None,
        "csv_columns": ", ".join(vouching.CSV_COLUMNS),
        "category_codes": ", ".join(eligibility.CATEGORIES),
    }
    return render_form(request, "account_organisation.html", context, status=status)


def _row_errors(problems: list[tuple], field_id: str) -> list[dict]:
    errors = []
    for line, error in problems:
        message = vouching.message_of(error)
        if line:
            message = gettext("Line %(line)d: %(text)s", line=line, text=message)
        errors.append({"field_id": field_id, "message": message})
    return errors


async def organisation_page(request: Request) -> Response:
    account = await run_in_threadpool(signed_in_account, request)
    if account is None:
        return sign_in_first(request)
    if request.method == "GET":
        _require_organisation(account)
        return await run_in_threadpool(_page, request, account)
    form = await csrf.checked_form(request, max_fields=20)  # first: a forged form learns nothing
    _require_organisation(account)
    values = {
        "email": str(form.get("email") or ""),
        "category": str(form.get("category") or ""),
        "category_other": str(form.get("category_other") or ""),
    }
    vouch = vouching.Vouch(1, values["email"], values["category"], values["category_other"])

    def run():
        try:
            return vouching.vouch(db_for(request), account.id, [vouch])
        except vouching.VouchErrors as problems:
            return [
                {"field_id": error.field or "email", "message": error.translated()}
                for _, error in problems.errors
            ]

    outcome = await run_in_threadpool(run)
    if outcome and isinstance(outcome[0], dict):
        return await run_in_threadpool(_page, request, account, values=values, errors=outcome, status=400)
    return RedirectResponse("/account/organisation?done=1", status_code=303)


async def organisation_csv(request: Request) -> Response:
    account = await run_in_threadpool(signed_in_account, request)
    if account is None:
        return sign_in_first(request)
    try:
        form = await form_upload.read_form(
            request,
            file_field=CSV_FIELD,
            max_file_bytes=MAX_CSV_BYTES,
            check_csrf=lambda given: csrf.matches(request, given),
            csrf_field=csrf.FIELD,
        )
    except form_upload.CsrfRefused:
        raise csrf.refused() from None
    except (form_upload.BodyTooLarge, form_upload.Malformed):
        _require_organisation(account)
        message = gettext("The file is larger than 1 MB or was cut off. Nothing was changed.")
        errors = [{"field_id": CSV_FIELD, "message": message}]
        return await run_in_threadpool(_page, request, account, errors=errors, status=400)
    _require_organisation(account)
    upload = form.file
    if upload is None or upload.too_large or not upload.data:
        message = (
            gettext("The file is larger than 1 MB. Nothing was changed.")
            if upload is not None and upload.too_large
            else gettext("Choose a CSV file of members.")
        )
        errors = [{"field_id": CSV_FIELD, "message": message}]
        return await run_in_threadpool(_page, request, account, errors=errors, status=400)
    data = bytes(upload.data)

    def run():
        try:
            vouches = vouching.parse_vouch_csv(data)
            return len(vouching.vouch(db_for(request), account.id, vouches))
        except vouching.VouchErrors as problems:
            return _row_errors(problems.errors, CSV_FIELD)

    outcome = await run_in_threadpool(run)
    if isinstance(outcome, list):
        summary = ngettext(
            "%(num)d line cannot be used, so nothing was changed.",
            "%(num)d lines cannot be used, so nothing was changed.",
            len(outcome),
        )
        errors = [{"field_id": CSV_FIELD, "message": summary}, *outcome]
        return await run_in_threadpool(_page, request, account, errors=errors, status=400)
    return RedirectResponse(f"/account/organisation?done={outcome}", status_code=303)
