"""Rendering pages: the interface language of each request, templates, and the error page.

The language is chosen once per request (cookie, then Accept-Language) and held in a context variable, so
gettext works the same in templates, in view code and in error messages raised deep inside the app.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from urllib.parse import quote, urlencode

import jinja2
from markupsafe import Markup
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import i18n, reading_prefs
from ..settings import Settings
from . import csrf
from .staff_session import signed_in

# The owner keeps page templates at the top of the checkout, beside the code that fills them.
TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
SITE_NAME = "Accessible Library"  # msgid; translated in templates through _()


def _locale_for(headers: Headers, settings: Settings | None) -> str:
    cookies = {}
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        cookies[name] = value
    default = settings.default_locale if settings else "en"
    return i18n.choose_locale(cookies.get(i18n.COOKIE), headers.get("accept-language"), default)


class LocaleMiddleware:
    """Activates the request's interface language for everything that runs inside the request."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.get("state", {})
        locale = _locale_for(Headers(scope=scope), state.get("settings"))
        scope["locale"] = locale
        catalogues = state.get("catalogues", {})
        token = i18n.activate(catalogues.get(locale) or i18n.current())
        try:
            await self.app(scope, receive, send)
        finally:
            i18n._current.reset(token)


def templates_for(settings: Settings) -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        # Templates change with a deploy, which restarts the processes: no stat() of every template and
        # include on every page (eight on a book page) to see whether it changed, except when debugging.
        auto_reload=settings.debug,
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
        # A missing value prints nothing, never Python's "None" (a screen reader reads it out as a word);
        # tests/test_no_none.py checks that no page needs this, by finding no empty cell either.
        finalize=lambda value: "" if value is None else value,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: i18n.current().gettext(message),
        lambda singular, plural, n: i18n.current().ngettext(singular, plural, n),
        newstyle=True,
    )
    env.filters["urlquote"] = lambda value: quote(str(value), safe="")
    return Jinja2Templates(env=env)


def page_context(request: Request) -> dict:
    """What base.html needs on every page: language, the switch to the other language, the current URL."""
    locale = request.scope.get("locale") or _locale_for(request.headers, request.state.settings)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    switch = [
        {
            "code": lang.code,
            "lang": lang.lang,
            "name": lang.name,
            "href": f"/language/{lang.code}?next={quote(here, safe='')}",
        }
        for lang in i18n.LANGUAGES
        if lang.code != locale
    ]

    def url_with(**changes: object) -> str:
        """This page's URL with some query parameters changed (None removes one)."""
        params = dict(request.query_params)
        for name, value in changes.items():
            if value is None:
                params.pop(name, None)
            else:
                params[name] = str(value)
        return request.url.path + (f"?{urlencode(params)}" if params else "")

    reader = getattr(request.state, "reader", None)
    reader_token = getattr(request.state, "reader_token", None)
    return {
        "url_with": url_with,
        "staff_signed_in": signed_in(request),
        # The header's "Your account" and sign-out button (its CSRF token is the session's).
        "reader": reader,
        "reader_csrf_token": csrf.token(request) if reader is not None and reader_token else "",
        "page_url": lambda number: url_with(page=None if number == 1 else number),
        "locale": locale,
        "page_lang": i18n.BY_CODE[locale].lang,
        "language_switch": switch,
        "current_path": request.url.path,
        "search_query": "",
        "language_name": lambda tag: i18n.language_name(tag, locale),
        # The reader's text size, theme, spacing and font as data- attributes on <html> (reading.css).
        "reading_attributes": reading_prefs.html_attributes(
            reading_prefs.parse(request.cookies.get(reading_prefs.COOKIE))
        ),
    }


def render(request: Request, template: str, context: dict, *, status: int = 200, headers=None) -> Response:
    templates: Jinja2Templates = request.state.templates
    full = page_context(request)
    full.update(context)
    return templates.TemplateResponse(request, template, full, status_code=status, headers=headers)


def render_error(
    request: Request,
    status: int,
    *,
    title: str | None = None,
    message: str | None = None,
    exception: BaseException | None = None,
    headers=None,
    links: list[dict] | None = None,
) -> Response:
    """The one error page: a clear <h1>, what happened, where to go next; a traceback only in debug."""
    catalogues = getattr(request.state, "catalogues", {})
    locale = _locale_for(request.headers, getattr(request.state, "settings", None))
    token = i18n.activate(catalogues.get(locale) or i18n.current())
    try:
        context = {
            "status": status,
            "title": title,
            "message": message,
            "links": links or [],
            "traceback": Markup.escape("".join(traceback.format_exception(exception))) if exception else None,
        }
        return render(request, "error.html", context, status=status, headers=headers)
    finally:
        i18n._current.reset(token)
