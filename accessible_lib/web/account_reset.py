"""Choosing a new password by a one-time emailed link.

The request page answers the same whether or not the address has an account; the mail tells the owner of
the address what to do. The link works once and for an hour (`readers.TOKEN_SECONDS`); it is checked when
the page opens (so a dead link says so before anything is typed) and used up only when the new password is
saved. Saving it ends every session of the account, and, since the link proved the mailbox is the
reader's, confirms an address never confirmed.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import readers
from ..i18n import gettext
from . import account_mail, csrf
from .account_limits import limits_for
from .account_session import client_address, render_form
from .account_sign_up import field_errors, link_expired, too_many_mails
from .helpers import db_for


def _request_form(request: Request, *, email: str = "", errors: list[dict] | None = None, status=200):
    context = {"email": email, "errors": errors or []}
    return render_form(request, "account_reset_request.html", context, status=status)


async def request_page(request: Request) -> Response:
    if request.method == "GET":
        return _request_form(request)
    form = await csrf.checked_form(request, max_fields=20)  # first: a forged form learns nothing
    typed = str(form.get("email") or "").strip()
    errors, (email,) = field_errors(lambda: readers.check_email(typed))
    if errors:
        return _request_form(request, email=typed, errors=errors, status=400)
    limits = limits_for(request)
    address = client_address(request)
    wait = limits.mail_wait(address, email)
    if wait:
        errors = [{"field_id": "email", "message": too_many_mails(wait)}]
        return _request_form(request, email=typed, errors=errors, status=429)
    limits.mail_sent(address, email)

    def compose():
        db = db_for(request)
        account = readers.find_reader(db, email)
        if account is None:
            return account_mail.no_account(request, email)
        token = readers.issue_token(db, account.id, readers.RESET, account.email)
        return account_mail.reset_password(request, account.email, account.name, token)

    message = await run_in_threadpool(compose)
    await account_mail.deliver(request, message)
    return RedirectResponse("/account/check-email?for=reset", status_code=303)


def _dead_link():
    return link_expired("/account/reset", gettext("Ask for a new link"))


async def reset_page(request: Request) -> Response:
    token = request.path_params["token"]
    db = db_for(request)
    if request.method == "GET":
        if await run_in_threadpool(readers.peek_token, db, token, readers.RESET) is None:
            raise _dead_link()
        return _reset_form(request, token)
    form = await csrf.checked_form(request, max_fields=20)  # first: a forged form learns nothing
    password = str(form.get("password") or "")
    errors, _ = field_errors(lambda: readers.check_password(password))
    if errors:
        if await run_in_threadpool(readers.peek_token, db, token, readers.RESET) is None:
            raise _dead_link()
        return _reset_form(request, token, errors=errors, status=400)

    def save() -> bool:
        redeemed = readers.redeem_token(db, token, readers.RESET)
        if redeemed is None:
            return False
        readers.set_password(db, redeemed.reader_id, password)  # ends every session of the account
        readers.mark_verified(db, redeemed.reader_id)
        return True

    if not await run_in_threadpool(save):
        raise _dead_link()
    return RedirectResponse("/account/sign-in?done=password-reset", status_code=303)


def _reset_form(request: Request, token: str, *, errors: list[dict] | None = None, status: int = 200):
    response = render_form(
        request, "account_reset.html", {"token": token, "errors": errors or []}, status=status
    )
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in this page's address
    return response
