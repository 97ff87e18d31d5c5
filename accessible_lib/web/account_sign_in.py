"""Signing a reader in and out.

Every sign-in starts a new server-side session and ends the one the browser held before (session fixation:
a token planted in the browser before signing in is never the signed-in one). Signing out deletes the
session on the server, so a copy of the cookie taken earlier stops working too.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import i18n, readers, sessions, stats
from ..i18n import gettext
from . import account_mail, csrf
from .account_limits import limits_for
from .account_session import (
    COOKIE,
    clear_session_cookie,
    client_address,
    render_form,
    session_token,
    set_session_cookie,
)
from .helpers import db_for
from .preferences import adopt_at_sign_in
from .staff_session import safe_next

NOTICES = {"signed-out", "verified", "password-reset", "already-verified"}


def _form(
    request: Request,
    *,
    email: str = "",
    keep: bool = False,
    errors: list[dict] | None = None,
    status: int = 200,
    next_path: str | None = None,
) -> Response:
    notice = request.query_params.get("done")
    context = {
        "email": email,
        "keep": keep,
        "next": safe_next(next_path or request.query_params.get("next"), "/account"),
        "errors": errors or [],
        "notice": notice if notice in NOTICES else "",
    }
    return render_form(request, "account_sign_in.html", context, status=status)


def _minutes(seconds: float) -> int:
    return max(1, round(seconds / 60))


async def sign_in_page(request: Request) -> Response:
    if request.method == "GET":
        if request.state.reader is not None and not request.query_params.get("done"):
            return RedirectResponse(safe_next(request.query_params.get("next"), "/account"), status_code=303)
        return _form(request)
    form = await csrf.checked_form(request, max_fields=20)  # first: a forged form learns nothing
    email = str(form.get("email") or "").strip()
    password = str(form.get("password") or "")
    keep = form.get("keep") == "yes"
    next_path = str(form.get("next") or "")
    errors = []
    if not email:
        errors.append({"field_id": "email", "message": gettext("Enter your email address.")})
    if not password:
        errors.append({"field_id": "password", "message": gettext("Enter your password.")})
    if errors:
        return _form(request, email=email, keep=keep, errors=errors, status=400, next_path=next_path)
    limits = limits_for(request)
    address = client_address(request)
    key = readers.normalise_email(email)
    wait = limits.sign_in_wait(address, key)
    if wait:
        message = gettext(
            "Too many attempts to sign in. Wait %(minutes)d minutes and try again, or choose a new password.",
            minutes=_minutes(wait),
        )
        errors = [{"field_id": "email", "message": message}]
        return _form(request, email=email, keep=keep, errors=errors, status=429, next_path=next_path)
    db = db_for(request)
    account = await run_in_threadpool(readers.authenticate, db, email, password)
    if account is None:
        limits.sign_in_failed(address, key)
        message = gettext("The email or password is not right. Check them and try again.")
        errors = [{"field_id": "email", "message": message}]
        return _form(request, email=email, keep=keep, errors=errors, status=400, next_path=next_path)
    limits.sign_in_succeeded(address, key)
    if not account.verified:
        return await _unverified(request, account, email, keep, next_path)
    token = await start_session(request, account, keep)
    response = RedirectResponse(safe_next(next_path, "/account"), status_code=303)
    set_session_cookie(request, response, token, persistent=keep)
    await adopt_at_sign_in(request, response, account.id)
    return response


async def start_session(request: Request, account: readers.ReaderAccount, keep: bool) -> str:
    """A new session for a reader who just proved who they are (password or passkey); the browser's
    earlier session, if any, ends, so nothing from before signing in carries over."""
    db = db_for(request)
    locale = request.scope.get("locale") or "en"
    old = session_token(request) or request.cookies.get(COOKIE)

    def start() -> str:
        if old:
            sessions.end(db, old)
        readers.record_sign_in(db, account.id, locale if locale in i18n.BY_CODE else None)
        stats.count(db, stats.SIGN_INS)
        return sessions.start(db, sessions.READER, account.id, persistent=keep)

    return await run_in_threadpool(start)


async def _unverified(
    request: Request, account: readers.ReaderAccount, email: str, keep: bool, next_path: str
) -> Response:
    """The right password for an address never verified: say so, and mail a new link (within the limits)."""
    limits = limits_for(request)
    address = client_address(request)
    if not limits.mail_wait(address, account.email):
        limits.mail_sent(address, account.email)
        token = await run_in_threadpool(
            readers.issue_token, db_for(request), account.id, readers.VERIFY, account.email
        )
        await account_mail.deliver(
            request, account_mail.verify_address(request, account.email, account.name, token)
        )
    message = gettext(
        "Your email address is not confirmed yet. We have sent you a mail with a link: open it, then sign in."
    )
    errors = [{"field_id": "email", "message": message}]
    return _form(request, email=email, keep=keep, errors=errors, status=400, next_path=next_path)


async def sign_out(request: Request) -> Response:
    await csrf.checked_form(request, max_fields=20)  # first: a forged form learns nothing
    token = session_token(request)
    if token is None:
        return RedirectResponse("/account/sign-in", status_code=303)
    await run_in_threadpool(sessions.end, db_for(request), token)
    response = RedirectResponse("/account/sign-in?done=signed-out", status_code=303)
    clear_session_cookie(request, response)
    return response
