"""The reader's session on a request: the middleware that sets `request.state.reader`, and its cookie.

Why a middleware: every page, and every check of `access.may_read`, needs to know who is asking, so the
question is answered once per request before any route runs (one indexed read of the sessions table, only
for requests that carry the cookie; static files are skipped).

The cookie, `reader_session`, is HttpOnly, SameSite=Lax, and Secure when the request came over https: the
random token of a server-side session (`sessions.py`). "Keep me signed in" makes it a dated cookie for 30
days; otherwise it is a browser-session cookie.

The account forms' CSRF tokens are the site's one mechanism (csrf.py), for visitors and signed-in readers
alike; signing in and out rotates the token (`csrf.rotate`), so one planted before is worthless after.
"""

from __future__ import annotations

from http.cookies import SimpleCookie

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import readers, sessions, stats
from . import basic_auth, csrf
from .render import render

COOKIE = "reader_session"


def _cookies(scope: Scope) -> dict[str, str]:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            jar = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed header is a visitor without cookies, not an error page
                return {}
            return {key: morsel.value for key, morsel in jar.items()}
    return {}


def _lookup(state: dict, token: str):
    db = state["connections"].get()
    session = sessions.find(db, sessions.READER, token)
    if session is None:
        return None
    account = readers.get_reader(db, session.account_id)
    if account is None or not account.verified:
        return None
    stats.reader_seen(db, account.id)  # counted once a day, without keeping who (stats.py)
    return readers.as_reader(account)


def _seen(state: dict, reader_id: int) -> None:
    stats.reader_seen(state["connections"].get(), reader_id)


class ReaderSessionMiddleware:
    """Sets `request.state.reader` (an `access.Reader` or None) and `request.state.reader_token`; a reading
    app without the cookie may sign in with HTTP Basic on its own paths (basic_auth.py)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["reader"] = None
        state["reader_token"] = None
        if not scope.get("path", "").startswith("/static/"):
            token = _cookies(scope).get(COOKIE)
            if token and "connections" in state:
                reader = await run_in_threadpool(_lookup, state, token)
                if reader is not None:
                    state["reader"] = reader
                    state["reader_token"] = token
            if state["reader"] is None and "connections" in state and basic_auth.applies(scope["path"]):
                request = Request(scope)
                if "authorization" in request.headers:
                    signed_in = await basic_auth.sign_in(request)
                    if isinstance(signed_in, Response):
                        await signed_in(scope, receive, send)
                        return
                    state["reader"] = signed_in  # this request only: no session, no cookie
                    await run_in_threadpool(_seen, state, signed_in.id)  # a reading app's reader is active
        await self.app(scope, receive, send)


def session_token(request: Request) -> str | None:
    return getattr(request.state, "reader_token", None)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session_cookie(request: Request, response: Response, token: str, *, persistent: bool) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=sessions.PERSISTENT_SECONDS if persistent else None,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    csrf.rotate(request, response)  # signed in: a form token from before (perhaps planted) stops working


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request))
    csrf.rotate(request, response)


def render_form(request: Request, template: str, context: dict, *, status: int = 200) -> Response:
    """A page with a form: its CSRF token filled in (csrf.py's middleware sets the cookie when it is new),
    kept out of caches."""
    response = render(request, template, {"csrf_token": csrf.token(request), **context}, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""
