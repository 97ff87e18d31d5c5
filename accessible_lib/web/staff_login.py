"""Signing in and out. The sign-in form has its CSRF token like every other form (against login CSRF)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import auth
from ..i18n import gettext
from .helpers import db_for
from .render import render
from .staff_session import (
    CSRF_FIELD,
    clear_session,
    csrf_refused,
    read_session,
    safe_next,
    set_session,
)


def _throttle(request: Request) -> auth.LoginThrottle:
    state = request.app.state
    throttle = getattr(state, "staff_login_throttle", None)
    if throttle is None:
        throttle = state.staff_login_throttle = auth.LoginThrottle()
    return throttle


def _login_form(
    request: Request,
    session: auth.Session,
    *,
    username: str = "",
    errors: list[dict] | None = None,
    status: int = 200,
) -> Response:
    context = {
        "csrf_token": session.csrf_token,
        "next": safe_next(request.query_params.get("next")),
        "username": username,
        "errors": errors or [],
        "signed_out": request.query_params.get("signed_out") == "1",
    }
    response = render(request, "staff_login.html", context, status=status)
    set_session(request, response, session)
    return response


async def login_page(request: Request) -> Response:
    session = read_session(request)
    if request.method == "GET":
        if session is not None and session.user_id is not None:
            user = await run_in_threadpool(auth.user_for_session, db_for(request), session)
            if user is not None:
                return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
        return _login_form(request, session or auth.Session.new())
    form = await request.form(max_files=0, max_fields=20)
    if not auth.csrf_matches(session, form.get(CSRF_FIELD)):
        raise csrf_refused()
    assert session is not None
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    errors = []
    if not username:
        errors.append({"field_id": "username", "message": gettext("Enter your username.")})
    if not password:
        errors.append({"field_id": "password", "message": gettext("Enter your password.")})
    if errors:
        return _login_form(request, session, username=username, errors=errors, status=400)
    address = request.client.host if request.client else ""
    throttle = _throttle(request)
    wait = throttle.wait_seconds(address, username)
    if wait:
        message = gettext(
            "Too many failed attempts to sign in with this username. Wait %(minutes)d minutes and try again.",
            minutes=max(1, round(wait / 60)),
        )
        errors = [{"field_id": "username", "message": message}]
        return _login_form(request, session, username=username, errors=errors, status=429)
    user = await run_in_threadpool(auth.authenticate, db_for(request), username, password)
    if user is None:
        throttle.failed(address, username)
        message = gettext("The username or password is not right. Check them and try again.")
        errors = [{"field_id": "username", "message": message}]
        return _login_form(request, session, username=username, errors=errors, status=400)
    throttle.succeeded(address, username)

    # A new session, with a new CSRF token: nothing from before signing in carries over.
    def rotate() -> auth.Session:
        auth.end_session(db_for(request), session)  # a session this browser held before ends here
        return auth.start_session(db_for(request), user)

    new_session = await run_in_threadpool(rotate)
    response = RedirectResponse(safe_next(str(form.get("next") or "")), status_code=303)
    set_session(request, response, new_session)
    return response


async def logout(request: Request) -> Response:
    session = read_session(request)
    form = await request.form(max_files=0, max_fields=20)
    if session is None or session.user_id is None:
        return RedirectResponse("/staff/login", status_code=303)
    if not auth.csrf_matches(session, form.get(CSRF_FIELD)):
        raise csrf_refused()
    await run_in_threadpool(auth.end_session, db_for(request), session)
    response = RedirectResponse("/staff/login?signed_out=1", status_code=303)
    clear_session(response)
    return response
