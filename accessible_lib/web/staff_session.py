"""The staff session on a request: the cookie, and the guard that every /staff page goes through.

The guard runs before the page: not signed in means a 303 to the sign-in page (with `next=` so the
librarian lands where they were going); a POST without the session's CSRF token is refused with a clear 403
before the page sees its form. Pages get a `StaffContext` with the user and the token for their forms.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import auth
from .csrf import refused as csrf_refused  # one 403 page for a form without its token, staff's or not
from .helpers import db_for

COOKIE = "staff_session"
CSRF_FIELD = "csrf_token"


@dataclass
class StaffContext:
    """Who is signed in, the token their forms carry, and the POSTed form (already CSRF-checked)."""

    user: auth.StaffUser
    session: auth.Session
    form: FormData | None = None

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token

    def page(self, **context: object) -> dict:
        """A template context with what every staff page needs."""
        return {
            "staff_signed_in": True,
            "staff_user": self.user.username,
            "staff_is_admin": self.user.is_admin,
            "csrf_token": self.csrf_token,
            **context,
        }


def secret(request: Request) -> str:
    return auth.secret_key_for(request.state.settings)


def read_session(request: Request) -> auth.Session | None:
    return auth.load_session(secret(request), request.cookies.get(COOKIE))


def signed_in(request: Request) -> bool:
    """For the site header: whether the request carries a valid signed-in session cookie (no database read).

    Only decides whether to show the link to the staff pages; the pages themselves check the account.
    """
    try:
        session = read_session(request)
    except Exception:  # the header must never break a public page
        return False
    return session is not None and session.user_id is not None


def set_session(request: Request, response: Response, session: auth.Session) -> None:
    response.set_cookie(
        COOKIE,
        auth.dump_session(secret(request), session),
        max_age=auth.SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def clear_session(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")


def safe_next(target: str | None, default: str = "/staff") -> str:
    """Only paths on this site: never an open redirect to another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def login_redirect(request: Request) -> RedirectResponse:
    # After signing in, a GET goes back where it was; a POST cannot be replayed, so it goes to the dashboard.
    if request.method == "GET":
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    else:
        here = "/staff"
    return RedirectResponse(f"/staff/login?next={quote(here, safe='')}", status_code=303)


StaffHandler = Callable[[Request, StaffContext], Response]
AsyncStaffHandler = Callable[[Request, StaffContext], Awaitable[Response]]


def staff_page(handler: StaffHandler) -> Callable[[Request], Awaitable[Response]]:
    """Guard a page whose handler is a plain function: it runs in the thread pool, like the public pages."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        context = await _guard(request, read_form=True)
        if isinstance(context, Response):
            return context
        return await run_in_threadpool(handler, request, context)

    return endpoint


def staff_stream_page(handler: AsyncStaffHandler) -> Callable[[Request], Awaitable[Response]]:
    """Guard a page that reads its own request body (the upload): its form is not read here, so the handler
    must check the CSRF token itself (with `auth.csrf_matches`) before it keeps anything."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        context = await _guard(request, read_form=False)
        if isinstance(context, Response):
            return context
        return await handler(request, context)

    return endpoint


async def _guard(request: Request, *, read_form: bool) -> StaffContext | Response:
    session = read_session(request)
    user = await run_in_threadpool(lambda: auth.user_for_session(db_for(request), session))
    if user is None or session is None:
        return login_redirect(request)
    form = None
    if request.method == "POST" and read_form:
        form = await request.form(max_files=0, max_fields=200)
        if not auth.csrf_matches(session, form.get(CSRF_FIELD)):
            raise csrf_refused()
    return StaffContext(user, session, form)
