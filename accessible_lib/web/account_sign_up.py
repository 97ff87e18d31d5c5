"""Creating a reader account, and confirming its address by the emailed link.

Why the page after sign-up is the same whatever happened: whether an address already has an account is
told only to the owner of the address, by mail ("you already have an account: sign in or choose a new
password"), so the form cannot be used to find out who reads here. Signing up again with an address that
was never confirmed replaces the unconfirmed account (whoever made it did not own the address), and links
mailed for the earlier sign-up stop working.

Following the link confirms the address and nothing else: the reader then signs in, so a link opened by a
mail scanner or on someone else's device signs no one in.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import i18n, readers, stats
from ..errors import UserError
from ..i18n import gettext
from . import account_mail, csrf
from .account_limits import limits_for
from .account_session import client_address, render_form
from .helpers import db_for
from .render import render


def _form(request: Request, *, values: dict | None = None, errors: list[dict] | None = None, status=200):
    values = values or {"name": "", "email": ""}
    context = {"name": values["name"], "email": values["email"], "errors": errors or []}
    return render_form(request, "account_sign_up.html", context, status=status)


def field_errors(*checks) -> tuple[list[dict], list]:
    """Run each check; (an error per field that failed, the values of those that passed)."""
    errors, results = [], []
    for check in checks:
        try:
            results.append(check())
        except readers.ReaderError as error:
            errors.append({"field_id": error.field, "message": error.translated()})
            results.append(None)
    return errors, results


def too_many_mails(wait: float) -> str:
    return gettext(
        "Too many mails were asked for in a short time. Wait %(minutes)d minutes and try again.",
        minutes=max(1, round(wait / 60)),
    )


async def sign_up_page(request: Request) -> Response:
    if request.method == "GET":
        return _form(request)
    form = await csrf.checked_form(request, max_fields=20)  # first: a forged form learns nothing
    values = {"name": str(form.get("name") or "").strip(), "email": str(form.get("email") or "").strip()}
    password = str(form.get("password") or "")
    errors, (name, email, _) = field_errors(
        lambda: readers.check_name(values["name"]),
        lambda: readers.check_email(values["email"]),
        lambda: readers.check_password(password),
    )
    if errors:
        return _form(request, values=values, errors=errors, status=400)
    limits = limits_for(request)
    address = client_address(request)
    wait = limits.mail_wait(address, email)
    if wait:
        errors = [{"field_id": "email", "message": too_many_mails(wait)}]
        return _form(request, values=values, errors=errors, status=429)
    limits.mail_sent(address, email)
    locale = request.scope.get("locale") or "en"
    locale = locale if locale in i18n.BY_CODE else "en"
    message = await run_in_threadpool(_sign_up, request, name, email, password, locale)
    await account_mail.deliver(request, message)
    return RedirectResponse("/account/check-email?for=sign-up", status_code=303)


def _sign_up(request: Request, name: str, email: str, password: str, locale: str):
    db = db_for(request)
    account = readers.find_reader(db, email)
    if account is not None and account.verified:
        return account_mail.already_registered(request, account.email, account.name)
    if account is None:
        try:
            reader_id = readers.add_reader(db, email, name, password, verified=False, locale=locale)
        except readers.ReaderError:  # the same address signed up a moment ago, in another request
            account = readers.find_reader(db, email)
            return account_mail.already_registered(request, email, account.name if account else name)
    else:
        reader_id = account.id
        readers.replace_unverified(db, reader_id, name, password, locale)
    token = readers.issue_token(db, reader_id, readers.VERIFY, email)
    return account_mail.verify_address(request, email, name, token)


CHECK_EMAIL = {"sign-up", "reset", "change-email"}


async def check_email_page(request: Request) -> Response:
    """Where every form that sends a mail ends, the same whether the address has an account or not."""
    purpose = request.query_params.get("for")
    return render(request, "account_check_email.html", {"purpose": purpose if purpose in CHECK_EMAIL else ""})


def link_expired(again_href: str, again_text: str) -> UserError:
    return UserError(
        gettext("This link has expired or was already used. Links from our mails work only for a while."),
        title=gettext("This link no longer works"),
        status=400,
        links=[{"href": again_href, "text": again_text}],
    )


async def verify(request: Request) -> Response:
    """GET of the emailed link: confirm the address, then send the reader to sign in."""
    token = request.path_params["token"]
    db = db_for(request)

    def confirm() -> str:
        redeemed = readers.redeem_token(db, token, readers.VERIFY)
        if redeemed is not None:
            readers.mark_verified(db, redeemed.reader_id)
            stats.count(db, stats.NEW_READERS)
            return "verified"
        if readers.token_was_used(db, token, readers.VERIFY):
            return "already-verified"  # opened twice, or first by a mail scanner: nothing is wrong
        return ""

    outcome = await run_in_threadpool(confirm)
    if not outcome:
        raise link_expired("/account/sign-in", gettext("Sign in to have a new link sent"))
    response = RedirectResponse(f"/account/sign-in?done={outcome}", status_code=303)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
