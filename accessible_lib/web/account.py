"""The reader's home (`/account`), changing email and password, and the routes of every account page.

A changed email address takes effect only when the link mailed to the new address is followed (until then
the account keeps the old one); both changes ask for the current password, so a browser left signed in is
not enough to take the account over. A new password ends every other session of the account.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .. import passkeys, readers
from ..i18n import gettext
from . import account_mail, csrf
from .account_limits import limits_for
from .account_session import client_address, render_form, session_token
from .account_sign_up import field_errors, link_expired, too_many_mails
from .helpers import db_for

DONE = {"password", "email", "passkey", "passkey-removed"}


def _sign_in_first(request: Request) -> RedirectResponse:
    here = request.url.path if request.method == "GET" else "/account"
    return RedirectResponse(f"/account/sign-in?next={quote(here, safe='')}", status_code=303)


def _account(request: Request) -> readers.ReaderAccount | None:
    reader = request.state.reader
    return readers.get_reader(db_for(request), reader.id) if reader is not None else None


def eligibility_words(account: readers.ReaderAccount, today: date | None = None) -> str:
    """The reader's role and eligibility as a sentence (what they may read, and until when)."""
    if account.role == "organisation":
        return gettext("Organisation account: a school or association that vouches for its members.")
    if account.role == "eligible":
        if not account.eligible_until:
            return gettext(
                "Eligible reader: you may read every book, those only for print-disabled readers too."
            )
        until = account.eligible_until[:10]
        if readers.is_eligible(account, today):
            return gettext(
                "Eligible reader until %(date)s: you may read every book, those only for print-disabled "
                "readers too.",
                date=until,
            )
        return gettext(
            "Your eligibility ended on %(date)s. You may read every book that is not only for "
            "print-disabled readers.",
            date=until,
        )
    return gettext(
        "Reader: you may read every book that is not only for print-disabled readers. Books only for "
        "print-disabled readers need a confirmed eligibility."
    )


def _application_state(request: Request, account: readers.ReaderAccount) -> dict:
    """The eligibility application in words, for the section `_eligibility_state.html` shows."""
    from .. import eligibility
    from .account_eligibility import state_words

    state = eligibility.state_of(db_for(request), account)
    return {"kind": state.kind, "words": state_words(state), "role": account.role}


async def home(request: Request) -> Response:
    account = await run_in_threadpool(_account, request)
    if account is None:
        return _sign_in_first(request)
    done = request.query_params.get("done")
    keys = await run_in_threadpool(passkeys.passkeys_for, db_for(request), account.id)
    context = {
        "account": account,
        "passkeys": keys,
        "eligibility": eligibility_words(account),
        "application_state": await run_in_threadpool(_application_state, request, account),
        "done": done if done in DONE else "",
    }
    return render_form(request, "account_home.html", context)


async def password_page(request: Request) -> Response:
    account = await run_in_threadpool(_account, request)
    if account is None:
        return _sign_in_first(request)
    if request.method == "GET":
        return render_form(request, "account_password.html", {"errors": []})
    form = await csrf.checked_form(request, max_fields=20)  # first: a forged form learns nothing
    current = str(form.get("current_password") or "")
    new = str(form.get("new_password") or "")
    errors, _ = field_errors(lambda: readers.check_password(new, field="new_password"))
    db = db_for(request)
    if not current:
        errors.insert(0, {"field_id": "current_password", "message": gettext("Enter your current password.")})
    elif await run_in_threadpool(readers.authenticate, db, account.email, current) is None:
        message = gettext("Your current password is not right.")
        errors.insert(0, {"field_id": "current_password", "message": message})
    if errors:
        return render_form(request, "account_password.html", {"errors": errors}, status=400)
    await run_in_threadpool(readers.set_password, db, account.id, new, keep_session=session_token(request))
    return RedirectResponse("/account?done=password", status_code=303)


async def email_page(request: Request) -> Response:
    account = await run_in_threadpool(_account, request)
    if account is None:
        return _sign_in_first(request)
    if request.method == "GET":
        return render_form(request, "account_email.html", {"email": "", "errors": []})
    form = await csrf.checked_form(request, max_fields=20)  # first: a forged form learns nothing
    typed = str(form.get("email") or "").strip()
    current = str(form.get("current_password") or "")
    errors, (email,) = field_errors(lambda: readers.check_email(typed))
    db = db_for(request)
    if not current:
        errors.append({"field_id": "current_password", "message": gettext("Enter your current password.")})
    elif await run_in_threadpool(readers.authenticate, db, account.email, current) is None:
        errors.append(
            {"field_id": "current_password", "message": gettext("Your current password is not right.")}
        )
    if not errors and email == account.email:
        errors.append({"field_id": "email", "message": gettext("This is already your email address.")})
    if not errors:
        wait = limits_for(request).mail_wait(client_address(request), email)
        if wait:
            errors.append({"field_id": "email", "message": too_many_mails(wait)})
    if errors:
        return render_form(request, "account_email.html", {"email": typed, "errors": errors}, status=400)
    limits_for(request).mail_sent(client_address(request), email)

    def compose():
        if readers.find_reader(db, email) is not None:
            return account_mail.address_taken(request, email)  # the page does not say so; the mail does
        token = readers.issue_token(db, account.id, readers.CHANGE_EMAIL, email)
        return account_mail.confirm_new_address(request, email, account.name, token)

    await account_mail.deliver(request, await run_in_threadpool(compose))
    return RedirectResponse("/account/check-email?for=change-email", status_code=303)


async def confirm_email(request: Request) -> Response:
    """GET of the link mailed to the new address: the account's address becomes the new one."""
    token = request.path_params["token"]
    db = db_for(request)

    def confirm() -> bool:
        redeemed = readers.redeem_token(db, token, readers.CHANGE_EMAIL)
        if redeemed is None:
            return False
        try:
            readers.set_email(db, redeemed.reader_id, redeemed.email)
        except readers.ReaderError:  # taken by an account made since the link was sent
            return False
        return True

    if not await run_in_threadpool(confirm):
        raise link_expired("/account/email", gettext("Change your email address again"))
    target = "/account?done=email" if request.state.reader is not None else "/account/sign-in?next=%2Faccount"
    response = RedirectResponse(target, status_code=303)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def account_routes() -> list[Route]:
    from . import account_passkeys, account_reset, account_sign_in, account_sign_up

    return [
        Route("/account", home, name="account"),
        Route("/account/sign-in", account_sign_in.sign_in_page, methods=["GET", "POST"], name="sign_in"),
        Route("/account/sign-out", account_sign_in.sign_out, methods=["POST"], name="sign_out"),
        Route("/account/sign-up", account_sign_up.sign_up_page, methods=["GET", "POST"], name="sign_up"),
        Route("/account/check-email", account_sign_up.check_email_page, name="check_email"),
        Route("/account/verify/{token}", account_sign_up.verify, name="verify_email"),
        Route("/account/reset", account_reset.request_page, methods=["GET", "POST"], name="reset_request"),
        Route("/account/reset/{token}", account_reset.reset_page, methods=["GET", "POST"], name="reset"),
        Route("/account/password", password_page, methods=["GET", "POST"], name="change_password"),
        Route("/account/email", email_page, methods=["GET", "POST"], name="change_email"),
        Route("/account/email/confirm/{token}", confirm_email, name="confirm_email"),
        Route("/account/passkeys/options", account_passkeys.register_options, methods=["POST"]),
        Route("/account/passkeys", account_passkeys.register, methods=["POST"], name="add_passkey"),
        Route(
            "/account/passkeys/{passkey_id:int}/remove",
            account_passkeys.remove,
            methods=["POST"],
            name="remove_passkey",
        ),
        Route("/account/passkey-sign-in/options", account_passkeys.sign_in_options, methods=["POST"]),
        Route("/account/passkey-sign-in", account_passkeys.sign_in, methods=["POST"], name="passkey_sign_in"),
    ]
