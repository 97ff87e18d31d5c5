"""Setting the rights of many books at once from a CSV file (the spreadsheet a rights department keeps).

All or nothing, as `accessible-lib rights import`: every row is checked first, and one wrong row changes
no book, so a half-applied spreadsheet never leaves the library in a state nobody decided. The errors come
back in the page's error summary, each numbered by the row a spreadsheet shows, all of them at once.

The body is read here, with a limit, before the form is parsed: the staff guard's form reader refuses files.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import auth, rights
from ..errors import UserError
from ..i18n import gettext
from .helpers import db_for
from .render import render
from .staff_session import CSRF_FIELD, StaffContext, csrf_refused, staff_stream_page

FIELD = "csv_file"
SHOWN_ERRORS = 100  # a whole wrong column makes one error per row: the first hundred say what is wrong
BODY_SLACK = 64 * 1024  # the multipart framing and the CSRF field around the file


def _page(request: Request, staff: StaffContext, *, errors: list[str], status: int = 200) -> Response:
    summary = [{"field_id": FIELD, "message": message} for message in errors[:SHOWN_ERRORS]]
    more = len(errors) - len(summary)
    done = request.query_params.get("done", "")
    context = staff.page(
        errors=summary,
        more=more,
        field_error=gettext("The file has problems, so no book was changed.") if errors else "",
        done=int(done) if done.isdigit() else None,
        columns=rights.CSV_COLUMNS,
        limit_mb=rights.MAX_CSV_BYTES // (1024 * 1024),
    )
    return render(request, "staff_rights.html", context, status=status)


async def rights_page(request: Request, staff: StaffContext) -> Response:
    if request.method == "GET":
        return _page(request, staff, errors=[])
    data, token = await _read_upload(request)
    if not auth.csrf_matches(staff.session, token):
        raise csrf_refused()
    if data is None:
        return _page(request, staff, errors=[gettext("Choose a CSV file to upload.")], status=400)
    changed, errors = await run_in_threadpool(rights.import_csv, db_for(request), data)
    if errors:
        return _page(request, staff, errors=[str(error) for error in errors], status=400)
    return RedirectResponse(f"/staff/rights?done={changed}", status_code=303)


async def _read_upload(
    request: Request, max_bytes: int = rights.MAX_CSV_BYTES
) -> tuple[bytes | None, str | None]:
    """The uploaded file's bytes (None when no file was chosen) and the form's CSRF token; the pronunciation
    dictionary's import reads its CSV the same way."""
    limit = max_bytes + BODY_SLACK
    too_large = UserError(
        gettext("The file is larger than %(limit)d MB.", limit=max(1, max_bytes // (1024 * 1024))),
        title=gettext("The file is too large"),
        status=413,
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large

    async def replay() -> dict:
        return {"type": "http.request", "body": bytes(body), "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=1, max_fields=5)
    except Exception:  # not a form at all (a hand-made request): the CSRF check below refuses it
        return None, None
    token = form.get(CSRF_FIELD)
    upload = form.get(FIELD)
    if upload is None or isinstance(upload, str):
        return None, token if isinstance(token, str) else None
    data = await upload.read(max_bytes + 1)
    await form.close()
    return (data or None), token if isinstance(token, str) else None


staff_rights_page = staff_stream_page(rights_page)
