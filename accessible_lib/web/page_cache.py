"""Rendered pages kept for visitors who have not signed in: the home, browse and book pages, served from
memory without the thread pool.

Why: these pages are the same for every visitor who has not signed in, yet each one costs a few
milliseconds of queries and template work in a worker thread; under 50 clients at once they queue behind
each other (and behind chapters and searches) in the thread pool. A kept page is answered from the event
loop at once.

What a kept page may depend on is its key: the address asked for (scheme, host, path and query), the
interface language chosen for the request, and the reading preferences (text size, theme, spacing, font:
attributes on <html>). Nothing else of the visitor. A request that carries a reader's or staff member's
session cookie, or an Authorization header, is never answered from here nor kept: its page may show the
reader's shelf, the sign-out form with its token, staff links. The book page's braille form carries the
visitor's CSRF token: the kept page holds a placeholder, replaced as it is served by each visitor's own
token (`csrf.token`: the one in their cookie, or a new one the CSRF middleware then sets), so no visitor
ever gets another's token.

Each kept page remembers the catalogue version it was made at (`catalogue_memo.version`, one row to read);
at any other version it is made again. Migration m028_pages makes the version move with everything a book
page shows. Only 200 HTML answers that set no cookie and are not marked no-store are kept; least recently
used pages go first past `page_cache_mb` (0 turns the cache off). Several visitors asking at once for a
page not yet kept wait for one rendering of it, and the web processes of one machine share what they
render (shared_pages.py), so a page is rendered once for all of them.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass

from starlette.requests import Request, cookie_parser
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import catalogue_memo, reading_prefs
from . import csrf
from .shared_pages import SharedPages

# The home page, the browse pages (facet list, values, books) and book pages; never chapters (their
# number makes a cache useless) nor anything a visitor's session changes.
KEPT_PATHS = re.compile(r"/(?:browse(?:/.*)?|books/\d+)?")
# Pages the shared file keeps per MB of `page_cache_mb` (on disk, about 10 KB a page).
SHARED_ROWS_PER_MB = 256
# Cookies that make a request somebody's: never served from the cache, never kept.
SESSION_COOKIES = ("reader_session", "staff_session")


@dataclass(frozen=True)
class KeptPage:
    version: int
    status: int
    headers: tuple[tuple[bytes, bytes], ...]  # without content-length: set as it is served
    body: bytes
    has_token: bool  # holds the CSRF placeholder
    route: object = None  # the route that made it: the request metrics count a kept page under it

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers) + 200


class PageCache:
    """The kept pages of one process, least recently used first. Used only from the event loop."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.bytes = 0
        self._pages: OrderedDict[tuple, KeptPage] = OrderedDict()
        self._rendering: dict[tuple, asyncio.Future] = {}

    def get(self, key: tuple, version: int) -> KeptPage | None:
        page = self._pages.get(key)
        if page is None:
            return None
        if page.version != version:
            self._drop(key)
            return None
        self._pages.move_to_end(key)
        return page

    def put(self, key: tuple, page: KeptPage) -> None:
        if page.size > self.max_bytes // 4:
            return
        if key in self._pages:
            self._drop(key)
        self._pages[key] = page
        self.bytes += page.size
        while self.bytes > self.max_bytes and self._pages:
            self._drop(next(iter(self._pages)))

    def _drop(self, key: tuple) -> None:
        self.bytes -= self._pages.pop(key).size

    def __len__(self) -> int:
        return len(self._pages)


def anonymous(scope: Scope, cookies: dict[str, str]) -> bool:
    if any(cookies.get(name) for name in SESSION_COOKIES):
        return False
    return not any(name == b"authorization" for name, _ in scope.get("headers") or ())


def _cookies(scope: Scope) -> dict[str, str]:
    for name, value in scope.get("headers") or ():
        if name == b"cookie":
            return cookie_parser(value.decode("latin-1"))
    return {}


def page_key(scope: Scope, cookies: dict[str, str]) -> tuple:
    """What the page may differ by for visitors who have not signed in (see the module docstring)."""
    prefs = str(reading_prefs.html_attributes(reading_prefs.parse(cookies.get(reading_prefs.COOKIE))))
    # The address the request came to: a book page's permanent link is absolute, on it, when the site has
    # no `public_url`; a page asked for with another Host header must never be served to anyone else.
    host = next((value for name, value in scope.get("headers") or () if name == b"host"), b"")
    where = (
        scope.get("scheme"),
        host,
        scope.get("root_path", ""),
        scope["path"],
        scope.get("query_string", b""),
    )
    return (*where, scope.get("locale"), prefs)


class PageCacheMiddleware:
    """Serves and keeps anonymous visitors' home, browse and book pages (see the module docstring).

    It sits inside the locale, CSRF and reader-session layers: the language is chosen, and the CSRF layer
    sets the cookie of a token this layer hands out."""

    def __init__(self, app: ASGIApp):
        self.app = app
        self.cache: PageCache | None = None
        self.shared: SharedPages | None = None
        self.placeholder = "page-cache-token-" + secrets.token_hex(16)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET" or not KEPT_PATHS.fullmatch(scope["path"]):
            await self.app(scope, receive, send)
            return
        state = scope.get("state") or {}
        settings = state.get("settings")
        if settings is None or settings.page_cache_mb <= 0 or "connections" not in state:
            await self.app(scope, receive, send)
            return
        cookies = _cookies(scope)
        if not anonymous(scope, cookies):
            await self.app(scope, receive, send)
            return
        if self.cache is None:
            self.cache = PageCache(settings.page_cache_mb * 1024 * 1024)
            self.shared = SharedPages(settings, settings.page_cache_mb * SHARED_ROWS_PER_MB)
        # One indexed row, read on the event loop: cheaper than handing the request to a thread.
        version = catalogue_memo.version(state["connections"].get())
        key = page_key(scope, cookies)
        page = self.cache.get(key, version) or self._from_shared(key, version, scope)
        while page is None and key in self.cache._rendering:  # someone is making it: wait for theirs
            page = await asyncio.shield(self.cache._rendering[key])
            if page is None:  # theirs could not be kept: make our own
                break
            if page.version != version:
                page = None
        if page is None:
            page = await self._render(scope, receive, send, key, version)
            if page is None:
                return  # answered as it came, not kept
        await self._serve(scope, send, page)

    def _from_shared(self, key: tuple, version: int, scope: Scope) -> KeptPage | None:
        """A page another web process made (shared_pages.py), kept here from now on."""
        assert self.cache is not None and self.shared is not None
        found = self.shared.get(repr(key), version)
        if found is None:
            return None
        status, headers, body, has_token = found
        page = KeptPage(version, status, tuple(headers), body, has_token, _route_for(scope))
        self.cache.put(key, page)
        return page

    async def _render(self, scope, receive, send, key, version) -> KeptPage | None:
        """The page made by the app with the placeholder for the CSRF token; kept if it may be."""
        assert self.cache is not None
        waiting: asyncio.Future = asyncio.get_running_loop().create_future()
        mine = key not in self.cache._rendering
        if mine:
            self.cache._rendering[key] = waiting
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        scope[csrf._NEW] = self.placeholder  # the page's csrf.token(): replaced as it is served
        page = None
        try:
            await self.app(scope, receive, capture)
            assert start is not None
            body = b"".join(chunks)
            headers = tuple((k, v) for k, v in start.get("headers", []) if k != b"content-length")
            has_token = self.placeholder.encode() in body
            page = KeptPage(version, start["status"], headers, body, has_token, scope.get("route"))
            if self._keepable(page):
                self.cache.put(key, page)
                assert self.shared is not None
                self.shared.put(repr(key), version, page.status, page.headers, page.body, page.has_token)
                return page
            await self._serve(scope, send, page)
            page = None
            return None
        finally:
            if scope.get(csrf._NEW) == self.placeholder:
                del scope[csrf._NEW]
            if mine:
                self.cache._rendering.pop(key, None)
                waiting.set_result(page)

    @staticmethod
    def _keepable(page: KeptPage) -> bool:
        headers = dict(page.headers)
        return (
            page.status == 200
            and headers.get(b"content-type", b"").startswith(b"text/html")
            and not any(k == b"set-cookie" for k, _ in page.headers)
            and b"no-store" not in headers.get(b"cache-control", b"")
        )

    async def _serve(self, scope: Scope, send: Send, page: KeptPage) -> None:
        if "route" not in scope:  # answered here, not by the router: metrics count it under its route
            scope["route"] = page.route or _route_for(scope)
        body = page.body
        if scope.get(csrf._NEW) == self.placeholder:
            scope.pop(csrf._NEW)
        if page.has_token:  # this visitor's own token; the CSRF layer sets its cookie when it is new
            body = body.replace(self.placeholder.encode(), csrf.token(Request(scope)).encode())
        headers = [*page.headers, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": page.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _route_for(scope: Scope) -> object:
    """The app's route that answers this path (for a page another process made)."""
    app = scope.get("app")
    for route in getattr(getattr(app, "router", None), "routes", ()):
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return route
    return None
