"""HTTP Basic sign-in for reading apps, as `/opds/authentication` declares (OPDS Authentication 1.0).

A reading app cannot fill in the sign-in form, so on the paths an app fetches (feeds under `/opds`, files
under `/editions/`) a request with `Authorization: Basic` and no session cookie is signed in for that
request alone: no session is started and no cookie is set, so nothing outlives the request. The password is
checked by the same code and held back by the same limits as the sign-in form, so Basic is no faster way to
guess a password. Basic sends the password in the clear, so it is refused over plain http except from the
machine itself (a TLS proxy in front, as the README says, makes the request https).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from .. import access, readers
from ..i18n import gettext
from .account_limits import limits_for
from .helpers import db_for

REALM = "Accessible Library"  # ASCII: a header cannot carry the translated name


def applies(path: str) -> bool:
    """Only what a reading app fetches: pages keep their sign-in form and session."""
    return path == "/opds" or path.startswith("/opds/") or path.startswith("/editions/")


def credentials(request: Request) -> tuple[str, str] | None:
    """(email, password) from `Authorization: Basic`, or None when there is none or it is malformed."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    email, colon, password = decoded.partition(":")
    return (email.strip(), password) if colon else None


def wants_opds(request: Request) -> bool:
    """A reading app (it asks for OPDS), not a browser: it gets 401 and the way to sign in, not a page."""
    return "opds" in request.headers.get("accept", "").lower()


def _private(request: Request) -> bool:
    """Whether the password cannot be read on its way: https, or a client on this very machine."""
    if request.url.scheme == "https":
        return True
    try:
        return ipaddress.ip_address(request.client.host if request.client else "").is_loopback
    except ValueError:
        return False


def challenge(request: Request, message: str | None = None) -> Response:
    """401 with the authentication document as body (OPDS Authentication 1.0, section 2.1)."""
    from .opds2 import authentication

    document = json.loads(authentication(request).body)
    if message:
        document["description"] = message
    return Response(
        json.dumps(document, ensure_ascii=False),
        status_code=401,
        media_type="application/opds-authentication+json",
        headers={
            "WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"',
            "Cache-Control": "no-store",
        },
    )


async def sign_in(request: Request) -> access.Reader | Response:
    """The reader the credentials name, or the 401 to send instead; never says whether the email exists."""
    given = credentials(request)
    wrong = gettext("The email or password is not right. Check them and try again.")
    if given is None or not given[0] or not given[1]:
        return challenge(request, wrong)
    if not _private(request):
        return challenge(
            request,
            gettext("Sign in only over https: over plain http your password could be read on its way."),
        )
    email, password = given
    limits = limits_for(request)
    address = request.client.host if request.client else ""
    key = readers.normalise_email(email)
    wait = limits.sign_in_wait(address, key)
    if wait:
        message = gettext(
            "Too many attempts to sign in. Wait %(minutes)d minutes and try again, or choose a new password.",
            minutes=max(1, round(wait / 60)),
        )
        return challenge(request, message)
    account = await run_in_threadpool(readers.authenticate, db_for(request), email, password)
    if account is None:
        limits.sign_in_failed(address, key)
        return challenge(request, wrong)
    limits.sign_in_succeeded(address, key)
    if not account.verified:
        return challenge(request, wrong)
    return readers.as_reader(account)
