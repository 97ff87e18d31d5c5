"""The reader's own data: download all of it as JSON (`/account/export`), or delete the account.

Disability data is sensitive personal data, so the reader can see everything the library holds about them
and take it away. Deleting asks for the password (a browser left signed in is not enough), removes every
row that names the reader and their evidence files (`personal_data.py`), and ends every session.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from .. import personal_data, readers
from ..i18n import gettext
from . import csrf
from .account_eligibility import sign_in_first, signed_in_account
from .account_session import clear_session_cookie, render_form
from .helpers import db_for
from .render import render


async def export_page(request: Request) -> Response:
    account = await run_in_threadpool(signed_in_account, request)
    if account is None:
        return sign_in_first(request)
    body = await run_in_threadpool(personal_data.export_json, db_for(request), account.id)
    day = datetime.now(UTC).date().isoformat()
    return Response(
        body,
        media_type="application/json; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="accessible-library-account-{day}.json"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


async def delete_page(request: Request) -> Response:
    account = await run_in_threadpool(signed_in_account, request)
    if account is None:
        return sign_in_first(request)
    if request.method == "GET":
        return render_form(request, "account_delete.html", {"errors": []})
    form = await csrf.checked_form(request, max_fields=20)  # first: a forged form learns nothing
    password = str(form.get("password") or "")
    db = db_for(request)
    message = ""
    if not password:
        message = gettext("Enter your password to delete your account.")
    elif await run_in_threadpool(readers.authenticate, db, account.email, password) is None:
        message = gettext("Your password is not right, so nothing was deleted.")
    if message:
        errors = [{"field_id": "password", "message": message}]
        return render_form(request, "account_delete.html", {"errors": errors}, status=400)
    await run_in_threadpool(personal_data.delete_reader, db, request.state.settings, account.id)
    request.state.reader = None
    response = render(request, "account_deleted.html", {"reader": None})
    clear_session_cookie(request, response)
    response.headers["Cache-Control"] = "no-store"
    return response
