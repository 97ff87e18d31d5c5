"""Switching the interface language by a plain link, remembered in a cookie for a year."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse

from .. import i18n
from .helpers import not_found


def _safe_next(target: str | None) -> str:
    """Only paths on this site: never an open redirect to another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def choose_language(request: Request):
    code = request.path_params["code"]
    if code not in i18n.BY_CODE:
        raise not_found()
    response = RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
    response.set_cookie(i18n.COOKIE, code, max_age=365 * 24 * 3600, httponly=True, samesite="lax")
    return response
