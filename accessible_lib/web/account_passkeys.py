"""Passkeys on the web: adding one on `/account`, signing in with one on `/account/sign-in`.

The ceremonies need the browser's WebAuthn API, so they are JSON endpoints driven by /static/passkeys.js,
each POST carrying the page's CSRF token in an `X-CSRF-Token` header; their messages come back translated
and are put in a live region. Removing a passkey is a plain form, and without JavaScript the passkey
buttons are not shown at all: signing in with email and password always works.

Signing in with a passkey starts a new session exactly as a password does (`account_sign_in.start_session`).
"""

from __future__ import annotations

import hashlib
import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from .. import passkeys, readers
from ..i18n import gettext
from . import csrf
from .account_limits import limits_for
from .account_mail import base_url
from .account_session import client_address, session_token, set_session_cookie
from .account_sign_in import start_session
from .helpers import db_for
from .preferences import adopt_at_sign_in
from .staff_session import safe_next

REGISTER = "register"
SIGN_IN = "sign-in"
MAX_BODY = 64 * 1024


def _challenges(request: Request) -> passkeys.Challenges:
    state = request.app.state
    store = getattr(state, "passkey_challenges", None)
    if store is None:
        store = state.passkey_challenges = passkeys.Challenges()
    return store


def _browser(request: Request) -> str:
    """Whose challenge: the session, or the visitor's CSRF token (the sign-in page always has one, and every
    ceremony's request has matched it before this is asked)."""
    token = session_token(request) or csrf.token(request)
    return hashlib.sha256(token.encode()).hexdigest() if token else ""


def _rp(request: Request) -> passkeys.RelyingParty:
    return passkeys.RelyingParty.for_url(base_url(request), gettext("Accessible Library"))


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


def _failed() -> JSONResponse:
    return _error(
        gettext("The passkey could not be used. Try again, or sign in with your email and password.")
    )


async def _json_body(request: Request) -> dict | None:
    body = await request.body()
    if len(body) > MAX_BODY:
        return None
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _refused() -> JSONResponse:
    return _error(
        gettext("This page had expired. Reload it and try again."),
        status=403,
    )


def _csrf_ok(request: Request) -> bool:
    return csrf.matches(request, request.headers.get("x-csrf-token"))


# --- Adding a passkey (signed in) ---


async def register_options(request: Request) -> Response:
    reader = request.state.reader
    if reader is None:
        return _error(gettext("Sign in first."), status=401)
    if not _csrf_ok(request):
        return _refused()
    db = db_for(request)
    options, challenge = await run_in_threadpool(
        passkeys.registration_options, db, _rp(request), reader.id, reader.email, reader.name
    )
    _challenges(request).put(REGISTER, _browser(request), challenge, reader.id)
    return Response(options, media_type="application/json", headers={"Cache-Control": "no-store"})


async def register(request: Request) -> Response:
    reader = request.state.reader
    if reader is None:
        return _error(gettext("Sign in first."), status=401)
    if not _csrf_ok(request):
        return _refused()
    data = await _json_body(request)
    taken = _challenges(request).take(REGISTER, _browser(request))
    if data is None or taken is None or taken[1] != reader.id:
        return _failed()
    credential = data.get("credential")
    name = data.get("name") if isinstance(data.get("name"), str) else ""
    try:
        await run_in_threadpool(
            passkeys.register,
            db_for(request),
            _rp(request),
            reader.id,
            taken[0],
            json.dumps(credential),
            name,
        )
    except passkeys.PasskeyError:
        return _failed()
    return JSONResponse({"redirect": "/account?done=passkey"})


async def remove(request: Request) -> Response:
    reader = request.state.reader
    await csrf.checked_form(request, max_fields=20)  # first, as every POST
    if reader is None:
        return RedirectResponse("/account/sign-in?next=%2Faccount", status_code=303)
    passkey_id = request.path_params["passkey_id"]
    await run_in_threadpool(passkeys.delete_passkey, db_for(request), reader.id, passkey_id)
    return RedirectResponse("/account?done=passkey-removed", status_code=303)


# --- Signing in with a passkey ---


async def sign_in_options(request: Request) -> Response:
    if not _csrf_ok(request):
        return _refused()
    options, challenge = passkeys.authentication_options(_rp(request))
    _challenges(request).put(SIGN_IN, _browser(request), challenge)
    return Response(options, media_type="application/json", headers={"Cache-Control": "no-store"})


async def sign_in(request: Request) -> Response:
    if not _csrf_ok(request):
        return _refused()
    limits = limits_for(request)
    address = client_address(request)
    if limits.address_wait(address):
        return _error(gettext("Too many attempts to sign in. Wait a few minutes and try again."), status=429)
    data = await _json_body(request)
    taken = _challenges(request).take(SIGN_IN, _browser(request))
    if data is None or taken is None or not isinstance(data.get("credential"), dict):
        return _failed()
    db = db_for(request)
    try:
        reader_id = await run_in_threadpool(
            passkeys.authenticate, db, _rp(request), taken[0], data["credential"]
        )
    except passkeys.PasskeyError:
        limits.address_failed(address)
        return _failed()
    account = await run_in_threadpool(readers.get_reader, db, reader_id)
    if account is None or not account.verified:
        return _failed()
    keep = data.get("keep") is True
    token = await start_session(request, account, keep)
    target = safe_next(data.get("next") if isinstance(data.get("next"), str) else None, "/account")
    response = JSONResponse({"redirect": target})
    set_session_cookie(request, response, token, persistent=keep)
    await adopt_at_sign_in(request, response, account.id)
    return response
