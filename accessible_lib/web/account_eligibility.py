"""Applying to read books only for print-disabled readers (`/account/eligibility`), and the reader's state.

The form takes a category and one piece of evidence: a certifying professional's statement (a file) or a
Chinese disability certificate number; vouching by an organisation is started by the organisation on its
own page, and the form says so. The body is read as it streams in (`form_upload`), so a file over the
limit is refused while it arrives; a refused form keeps what was typed, stores nothing, and says which
field is wrong. The reader may download their own statement again; staff see it through the review queue.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from .. import eligibility, evidence, readers
from ..errors import UserError
from ..i18n import gettext
from ..settings import Settings
from . import csrf, form_upload
from .account_session import render_form
from .helpers import db_for, not_found
from .staff_upload import size_text

STATEMENT_FIELD = "statement"
DONE = {"applied"}


def sign_in_first(request: Request) -> RedirectResponse:
    here = request.url.path if request.method == "GET" else "/account"
    return RedirectResponse(f"/account/sign-in?next={quote(here, safe='')}", status_code=303)


def signed_in_account(request: Request) -> readers.ReaderAccount | None:
    reader = request.state.reader
    return readers.get_reader(db_for(request), reader.id) if reader is not None else None


def state_words(state: eligibility.State) -> str:
    """The reader's eligibility in one sentence, as `/account` and the application page say it."""
    if state.kind == eligibility.PENDING:
        return gettext("Your application is waiting for review by the library's staff.")
    if state.kind == eligibility.DENIED:
        return gettext("Your application was not approved. The reason: %(reason)s", reason=state.reason)
    if state.kind == eligibility.STATE_APPROVED:
        if state.until:
            return gettext("Approved until %(date)s.", date=state.until)
        return gettext("Approved, with no end date.")
    if state.kind == eligibility.STATE_EXPIRED:
        return gettext("Your approval ended on %(date)s. You may apply again.", date=state.until)
    return gettext("You have not applied.")


def _limit_words(request: Request) -> str:
    settings: Settings = request.state.settings
    return size_text(settings.max_evidence_bytes, request.scope.get("locale", "en"))


def _page(request: Request, account, *, values=None, errors=None, status=200) -> Response:
    db = db_for(request)
    state = eligibility.state_of(db, account)
    own_file = None
    if state.application is not None:
        own_file = eligibility.evidence_file(db, state.application.id)
    done = request.query_params.get("done")
    context = {
        "account": account,
        "state": state,
        "state_words": state_words(state),
        "own_file": own_file,
        "categories": [(code, gettext(eligibility.CATEGORY_LABELS[code])) for code in eligibility.CATEGORIES],
        "values": values or {"category": "", "category_other": "", "evidence": "", "certificate_number": ""},
        "errors": errors or [],
        "size_limit": _limit_words(request),
        "done": done if done in DONE else "",
    }
    return render_form(request, "account_eligibility.html", context, status=status)


async def eligibility_page(request: Request) -> Response:
    account = await run_in_threadpool(signed_in_account, request)
    if account is None:
        return sign_in_first(request)
    if request.method == "POST":
        return await _apply(request, account)
    return await run_in_threadpool(_page, request, account)


def _file_error(request: Request, upload: form_upload.UploadedFile | None) -> str | None:
    if upload is not None and upload.too_large:
        return gettext(
            "The file is larger than %(limit)s, the largest accepted. Nothing was kept: send a smaller "
            "copy (a scan at a lower resolution, or a PDF).",
            limit=_limit_words(request),
        )
    if upload is None or upload.size == 0:
        return gettext("Choose the file of the statement.")
    if evidence.media_type_of(upload.head) is None:
        return gettext(
            "The file is not a PDF, JPEG or PNG. Nothing was kept: send the statement as one of those."
        )
    return None


async def _apply(request: Request, account: readers.ReaderAccount) -> Response:
    settings: Settings = request.state.settings
    folder = evidence.directory(settings)
    stored_name = evidence.new_name()
    try:
        form = await form_upload.read_form(
            request,
            file_field=STATEMENT_FIELD,
            max_file_bytes=settings.max_evidence_bytes,
            check_csrf=lambda given: csrf.matches(request, given),
            csrf_field=csrf.FIELD,
            new_path=lambda _name: folder / stored_name,
        )
    except form_upload.CsrfRefused:
        raise csrf.refused() from None
    except form_upload.BodyTooLarge:
        errors = [{"field_id": STATEMENT_FIELD, "message": _file_error(request, _too_large())}]
        return await run_in_threadpool(_page, request, account, errors=errors, status=413)
    except form_upload.Malformed:
        raise UserError(gettext("The form was cut off or malformed; nothing was kept."), status=400) from None
    upload = form.file
    values = {
        "category": form.fields.get("category", ""),
        "category_other": form.fields.get("category_other", ""),
        "evidence": form.fields.get("evidence", ""),
        "certificate_number": form.fields.get("certificate_number", ""),
    }
    kept = False
    try:
        outcome = await run_in_threadpool(_store, request, account, values, upload, stored_name)
        kept = not isinstance(outcome, list) and values["evidence"] == eligibility.STATEMENT
    finally:
        if upload is not None and not kept:
            upload.discard()  # a refused form, or a file sent with another kind of evidence: not kept
    if isinstance(outcome, list):
        return await run_in_threadpool(_page, request, account, values=values, errors=outcome, status=400)
    return RedirectResponse("/account/eligibility?done=applied", status_code=303)


def _too_large() -> form_upload.UploadedFile:
    return form_upload.UploadedFile(too_large=True)


def _store(request, account, values, upload, stored_name) -> list[dict] | int:
    """Check the whole form; store the application (and its file's metadata) or return the errors."""
    errors = []
    db = db_for(request)
    try:
        eligibility.check_category(values["category"], values["category_other"])
    except eligibility.EligibilityError as error:
        errors.append({"field_id": error.field, "message": error.translated()})
    kind = values["evidence"]
    number = None
    if kind == eligibility.CERTIFICATE:
        try:
            number = eligibility.check_certificate(values["certificate_number"])
        except eligibility.EligibilityError as error:
            errors.append({"field_id": error.field, "message": error.translated()})
    elif kind == eligibility.STATEMENT:
        problem = _file_error(request, upload)
        if problem:
            errors.append({"field_id": STATEMENT_FIELD, "message": problem})
    else:
        errors.append({"field_id": "evidence-statement", "message": gettext("Choose the evidence you give.")})
    if account.role == "organisation":
        errors.insert(
            0, {"field_id": "category", "message": gettext("An organisation account cannot apply.")}
        )
    if errors:
        return errors
    try:
        application_id = eligibility.submit(
            db,
            account.id,
            values["category"],
            other=values["category_other"],
            kind=kind,
            certificate_number=number,
        )
    except eligibility.EligibilityError as error:
        return [{"field_id": error.field or "category", "message": error.translated()}]
    if kind == eligibility.STATEMENT and upload is not None and upload.path is not None:
        eligibility.add_evidence_file(
            db,
            application_id,
            account.id,
            stored_name,
            evidence.media_type_of(upload.head) or "",
            upload.size,
            evidence.sha256_of(upload.path),
        )
    return application_id


def evidence_response(settings: Settings, found: eligibility.EvidenceFile) -> Response:
    """The stored file as a download only: attachment, nosniff, never cached, no script may run in it."""
    path = evidence.path_for(settings, found.stored_name)
    if path is None or not path.is_file():
        raise not_found()
    return FileResponse(
        path,
        media_type=found.media_type,
        filename=f"evidence-{found.application_id}.{found.extension}",
        content_disposition_type="attachment",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Referrer-Policy": "no-referrer",
        },
    )


async def own_evidence(request: Request) -> Response:
    """The reader's own statement, for them only; anyone else gets the same 404 as for no file."""
    reader = request.state.reader
    if reader is None:
        return sign_in_first(request)
    found = await run_in_threadpool(
        eligibility.evidence_file, db_for(request), request.path_params["application_id"]
    )
    if found is None or found.reader_id != reader.id:
        raise not_found()
    return evidence_response(request.state.settings, found)
