"""The reader's session on a request: the middleware that sets `request.state.reader`, cookies, CSRF.

Why a middleware: every page, and every check of `access.may_read`, needs to know who is asking, so the
question is answered once per request before any route runs (one indexed read of the sessions table, only
for requests that carry the cookie; static files are skipped).

Two cookies, both HttpOnly, SameSite=Lax, and Secure when the request came over https:
- `reader_session`: the random token of a server-side session (`sessions.py`). "Keep me signed in" makes it
  a dated cookie for 30 days; otherwise it is a browser-session cookie.
- `form_token`: for visitors who have not signed in, a random value whose HMAC is the CSRF token of their
  forms (sign in, sign up, reset). Signed-in readers' forms carry the HMAC of the session token instead.
"""

from __future__ import annotations

from http.cookies import SimpleCookie

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import auth, readers, sessions, stats
from . import basic_auth
from .render import render
from .staff_session import csrf_refused

COOKIE = "reader_session"
FORM_COOKIE = "form_token"
CSRF_FIELD = "csrf_token"


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


def secret(request: Request) -> str:
    return auth.secret_key_for(request.state.settings)


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


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request))


def csrf_for_page(request: Request) -> tuple[str, str | None]:
    """(the CSRF token for this page's forms, a new `form_token` cookie value to set, or None)."""
    token = session_token(request)
    if token:
        return sessions.csrf_token(secret(request), token), None
    anonymous = request.cookies.get(FORM_COOKIE)
    new = None
    if not anonymous or len(anonymous) > 100:
        anonymous = new = sessions.new_anonymous_token()
    return sessions.csrf_token(secret(request), anonymous), new


def header_csrf(request: Request) -> str:
    """The token of the sign-out button in every page's header (only shown to a signed-in reader)."""
    token = session_token(request)
    return sessions.csrf_token(secret(request), token) if token else ""


def check_csrf(request: Request, given: object) -> None:
    """Refuse (403, nothing changed) a POST whose token matches neither the session nor the anonymous
    cookie."""
    key = secret(request)
    for token in (session_token(request), request.cookies.get(FORM_COOKIE)):
        if token and sessions.csrf_matches(key, token, given):
            return
    raise csrf_refused()


def render_form(request: Request, template: str, context: dict, *, status: int = 200) -> Response:
    """A page with a form: its CSRF token filled in, the anonymous cookie set when it is new."""
    token, new_cookie = csrf_for_page(request)
    response = render(request, template, {"csrf_token": token, **context}, status=status)
    response.headers["Cache-Control"] = "no-store"
    if new_cookie:
        response.set_cookie(
            FORM_COOKIE, new_cookie, path="/", httponly=True, samesite="lax", secure=_secure(request)
        )
    return response


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""
