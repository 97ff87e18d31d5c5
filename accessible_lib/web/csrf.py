"""CSRF tokens for every form, signed-in or not: a signed double-submit cookie.

Why this way: a reader who has not signed in (or a site with no reader accounts) has no server-side session
to keep a token in, yet the braille form on the book page changes state and must not be sent from another
site. So the token lives in a cookie of its own, signed with the secret key (a value this site did not
make is refused), and every POST form carries the same token in a hidden field; another site can make a
browser send the cookie but cannot read it to copy it into the form. SameSite=Lax keeps the cookie off
cross-site POSTs as well. Staff pages keep the token in their session (staff_session.py) and check that;
any form may use this one, including reader sign-in (against login CSRF): call `rotate` when the visitor
signs in or out, so that a token planted before signing in is worthless after.

Use: `csrf.token(request)` in the page's context (`<input type="hidden" name="csrf_token" ...>`); in the
POST handler, `await csrf.checked_form(request)` gives the form or raises the translated 403.
`CSRFCookieMiddleware` sets the cookie on the response when a page made a new token.
"""

from __future__ import annotations

import hmac
import secrets

from itsdangerous import BadSignature, Signer
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import auth
from ..errors import UserError
from ..i18n import gettext

COOKIE = "csrf"
FIELD = "csrf_token"  # the same field name as the staff forms: one name for every form of the site
MAX_AGE = 30 * 24 * 3600  # a page left open for days can still be sent
_SALT = "accessible-lib.csrf"
_NEW = "accessible_lib.csrf.new"  # scope key: a token made during this request, for the middleware


def _signer(request: Request) -> Signer:
    return Signer(auth.secret_key_for(request.state.settings), salt=_SALT)


def _from_cookie(request: Request) -> str | None:
    value = request.cookies.get(COOKIE)
    if not value or len(value) > 200:
        return None
    try:
        token = _signer(request).unsign(value).decode()
    except (BadSignature, UnicodeDecodeError):
        return None
    return token or None


def token(request: Request) -> str:
    """The token for this visitor's forms: the one in their cookie, or a new one the response will set."""
    made = request.scope.get(_NEW)
    if made:
        return made
    current = _from_cookie(request)
    if current:
        return current
    made = request.scope[_NEW] = secrets.token_urlsafe(32)
    return made


def rotate(request: Request, response: Response) -> str:
    """A new token, set on `response` at once (sign-in, sign-out); the old one stops working."""
    made = request.scope[_NEW] = secrets.token_urlsafe(32)
    _set_cookie(request.url.scheme == "https", _signer(request).sign(made).decode(), response.raw_headers)
    request.scope[_NEW + ".sent"] = True
    return made


def matches(request: Request, given: object) -> bool:
    """Whether `given` (the form's field) is this visitor's token, as their signed cookie says."""
    expected = _from_cookie(request)
    return (
        expected is not None
        and isinstance(given, str)
        and bool(given)
        and hmac.compare_digest(expected.encode(), given.encode())
    )


def refused() -> UserError:
    """The translated 403 page for a form without its token, on every page of the site (staff pages too)."""
    return UserError(
        gettext(
            "This form had expired or did not come from this site, so nothing was changed. "
            "Go back, reload the page and try again."
        ),
        title=gettext("The form could not be accepted"),
        status=403,
    )


async def checked_form(
    request: Request, *, max_fields: int = 50, max_part_size: int = 1024 * 1024
) -> FormData:
    """The POSTed form (no files), once its token matched; else the 403 page, and nothing is changed."""
    form = await request.form(max_files=0, max_fields=max_fields, max_part_size=max_part_size)
    if not matches(request, form.get(FIELD)):
        raise refused()
    return form


def _set_cookie(secure: bool, value: str, raw_headers: list[tuple[bytes, bytes]]) -> None:
    cookie = Response()
    cookie.set_cookie(COOKIE, value, max_age=MAX_AGE, path="/", httponly=True, samesite="lax", secure=secure)
    raw_headers.extend(h for h in cookie.raw_headers if h[0] == b"set-cookie")


class CSRFCookieMiddleware:
    """Sets the cookie when a page handed out a new token, whatever kind of response the page made."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            made = scope.get(_NEW)
            if message["type"] == "http.response.start" and made and not scope.get(_NEW + ".sent"):
                request = Request(scope)
                headers = list(message.get("headers", []))
                _set_cookie(scope.get("scheme") == "https", _signer(request).sign(made).decode(), headers)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


READ_ONLY_PROTOCOL = "accessible_lib_read_only_protocol"


def read_only_protocol(endpoint):
    """Mark a route whose POST is a machine protocol's read-only request, so it takes no token.

    Why that is safe, and only then: a CSRF token stops another site from making a visitor's browser
    change something with the visitor's cookies. A route marked so must change nothing and answer the same
    whoever sends it (it reads no session), like OAI-PMH, whose harvesters may send any request as a GET
    or as a POST of the same arguments. tests/test_security.py walks every POST route: each one either
    refuses a form without its token or carries this mark, and then the walk checks it changed nothing.
    """
    setattr(endpoint, READ_ONLY_PROTOCOL, True)
    return endpoint
