"""The reading preferences page (`/preferences`): text size, theme, spacing, line length and font.

Why a plain form and full-page POSTs: the readers who need this page most (low vision, dyslexia, switch and
voice users) are the ones most likely to browse with scripts off or with assistive technology that copes
badly with a page rewriting itself. Every choice is a radio button with a visible label; "Preview" shows the
whole page with the choices applied without keeping them, "Save" keeps them, "Reset to defaults" forgets
them. Nothing is dragged and nothing times out.

Where they are kept: a cookie for every visitor (read on every page by `render.page_context`), and for a
signed-in reader the account as well, so a new device picks them up at sign-in. At sign-in the account wins
over the browser's cookie; an account that never saved any adopts the cookie's (`adopt_at_sign_in`). Each
save writes both.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .. import reading_prefs
from . import csrf
from .helpers import db_for
from .render import render
from .staff_session import safe_next

DONE = {"saved", "reset"}
ACTIONS = {"save", "preview", "reset"}
_MAX_BACK = 500


def _back(target: object) -> str:
    """A page of this site to go back to after saving ("" if none): never another host, never this page."""
    if not isinstance(target, str) or len(target) > _MAX_BACK:
        return ""
    path = safe_next(target, "")
    return "" if not path or path.startswith("/preferences") else path


def _came_from(request: Request) -> str:
    """The page whose header link the reader followed (the Referer, sent for this site only), so that the
    confirmation can offer the way back to the chapter they were reading."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.url.netloc:
        return ""
    return _back(referer.path + (f"?{referer.query}" if referer.query else ""))


def current(request: Request) -> dict[str, str]:
    """The preferences this browser's cookie holds (the account's were copied into it at sign-in)."""
    return reading_prefs.parse(request.cookies.get(reading_prefs.COOKIE))


def set_cookie(request: Request, response: Response, prefs: dict[str, str]) -> None:
    """Remember `prefs` in this browser for a year; the defaults need no cookie, so it is deleted."""
    secure = request.url.scheme == "https"
    value = reading_prefs.encode(prefs)
    if value:
        response.set_cookie(
            reading_prefs.COOKIE,
            value,
            max_age=reading_prefs.MAX_AGE,
            path="/",
            httponly=True,
            samesite="lax",
            secure=secure,
        )
    else:
        response.delete_cookie(reading_prefs.COOKIE, path="/", httponly=True, samesite="lax", secure=secure)


async def adopt_at_sign_in(request: Request, response: Response, reader_id: int) -> None:
    """At sign-in: the account's preferences become this browser's; an account without any keeps (and
    stores) the ones this browser already had, so setting up the page before signing in is not lost."""
    db = db_for(request)
    stored = await run_in_threadpool(reading_prefs.for_reader, db, reader_id)
    if stored is not None:
        set_cookie(request, response, reading_prefs.parse(stored))
        return
    prefs = current(request)
    if reading_prefs.encode(prefs):
        await run_in_threadpool(reading_prefs.save_for_reader, db, reader_id, prefs)


def _page(
    request: Request,
    prefs: dict[str, str],
    *,
    errors: list[dict] | None = None,
    notice: str = "",
    applied: dict[str, str] | None = None,
    status: int = 200,
    back: str = "",
) -> Response:
    """The form showing `prefs`; the page itself is laid out with `applied` (the saved ones unless a
    preview)."""
    context = {
        "prefs": prefs,
        "preferences": reading_prefs.PREFERENCES,
        "errors": errors or [],
        "error_for": {error["field_id"].rpartition("-")[0]: error for error in errors or []},
        "notice": notice,
        "csrf_token": csrf.token(request),
        "signed_in": request.state.reader is not None,
        "back": back,
    }
    if applied is not None:
        context["reading_attributes"] = reading_prefs.html_attributes(applied)
    response = render(request, "preferences.html", context, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


async def preferences_page(request: Request) -> Response:
    if request.method == "GET":
        done = request.query_params.get("done")
        if done in DONE:
            return _page(request, current(request), notice=done, back=_back(request.query_params.get("back")))
        return _page(request, current(request), back=_came_from(request))
    form = await csrf.checked_form(request)
    back = _back(form.get("back"))
    action = form.get("action") or "save"
    if action not in ACTIONS:
        action = "save"
    if action == "reset":
        prefs = dict(reading_prefs.DEFAULTS)
    else:
        prefs, errors = reading_prefs.from_form(form)
        if errors:
            return _page(request, prefs, errors=errors, status=400, back=back)
        if action == "preview":
            return _page(request, prefs, notice="preview", applied=prefs, back=back)
    reader = request.state.reader
    if reader is not None:
        await run_in_threadpool(reading_prefs.save_for_reader, db_for(request), reader.id, prefs)
    target = f"/preferences?done={'reset' if action == 'reset' else 'saved'}"
    if back:
        target += f"&back={quote(back, safe='')}"
    response = RedirectResponse(target, 303)
    set_cookie(request, response, prefs)
    return response


def preferences_routes() -> list[Route]:
    return [Route("/preferences", preferences_page, methods=["GET", "POST"], name="preferences")]
