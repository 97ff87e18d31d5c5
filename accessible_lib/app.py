"""The web application factory: `create_app(settings)` builds everything, nothing at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from . import browsing, i18n, stats
from .caches import use_data_dir
from .db import open_database
from .editions.listen_stream import ListenService
from .errors import UserError
from .jobs.queue import EditionQueue
from .metrics import Metrics, RequestMetrics
from .settings import Settings
from .web import routes
from .web.render import render_error, templates_for

log = logging.getLogger(__name__)

MMAP_BYTES = 2**31 - 2**16  # SQLite's own ceiling for mmap_size (SQLITE_MAX_MMAP_SIZE) unless built larger
CACHE_KIB = 32 * 1024


class Connections:
    """One SQLite connection per thread: sqlite3 objects must not be shared across threads."""

    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()
        # Migrate once, at start-up, before any request reads the schema.
        open_database(path).close()

    def get(self):
        db = getattr(self._local, "db", None)
        if db is None:
            db = open_database(self.path, migrate=False)
            # Reads of a big catalogue (gigabytes of chapter text and its index) straight from the OS page
            # cache through mmap, without a copy into SQLite's own cache per connection; a larger page
            # cache for what is not mapped (the default 2 MB holds little of a 150,000-book index).
            db.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
            db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            # synchronous stays FULL (SQLite's default): a staff edit, a sign-up or a rights change that
            # was answered "saved" survives a power cut. Only the day's reading and search counts commit
            # without waiting for the disk (stats.count_all).
            self._local.db = db
        return db


class Library(Starlette):
    """The app with three layers outside even Starlette's error handling, so that they hold for the 500
    page too: the request metrics, request id and access log (metrics.py), the trusted proxy's headers
    (`trusted_proxies`: the scheme and client address every part of the app sees, for Secure cookies and
    per-address throttles) and the security headers (web/headers.py)."""

    trusted_proxies: str = ""
    metrics: Metrics | None = None
    pending_counts: stats.PendingCounts | None = None

    def build_middleware_stack(self) -> ASGIApp:
        from .web.headers import SecurityHeadersMiddleware

        app: ASGIApp = SecurityHeadersMiddleware(super().build_middleware_stack())
        if self.trusted_proxies.strip():
            from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

            hosts = [host.strip() for host in self.trusted_proxies.split(",") if host.strip()]
            app = ProxyHeadersMiddleware(app, trusted_hosts=hosts)
        if self.metrics is not None:
            # Outermost: it times and counts every response, the 500 page and the proxy's refusals too.
            app = RequestMetrics(app, self.metrics)
        return app


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    use_data_dir(settings)  # the braille reading pages segment Chinese with jieba, whose cache goes there
    metrics = Metrics(settings.database_path)
    pending_counts = stats.PendingCounts()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict]:
        # Instant listening speaks in this process's own engines (children), stopped when it ends.
        listening = ListenService(settings)
        connections = Connections(settings.database_path)
        threading.Thread(target=_warm_lists, args=[settings.database_path], daemon=True).start()
        flushing = asyncio.create_task(_flush_counts_now_and_then(pending_counts, connections))
        try:
            yield {
                "settings": settings,
                "connections": connections,
                "pending_counts": pending_counts,
                "catalogues": i18n.load_catalogues(),
                "templates": templates_for(settings),
                # The web process only enqueues; conversions run in workers (`accessible-lib worker`).
                "queue": EditionQueue(settings),
                "metrics": metrics,
                "listening": listening,
                # Chapter pages rendered at once by this process (web/reader.py, docs/scaling.md).
                "chapter_turns": anyio.CapacityLimiter(max(1, settings.chapters_at_once)),
                # Search pages and feeds made at once by this process (web/helpers.in_search_turn).
                "search_turns": anyio.CapacityLimiter(max(1, settings.searches_at_once)),
            }
        finally:
            flushing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flushing
            pending_counts.flush(connections.get())  # the last few seconds' counts, as the process stops
            listening.close()

    async def user_error(request: Request, exc: Exception) -> object:
        assert isinstance(exc, UserError)
        return render_error(request, exc.status, title=exc.title, message=exc.message, links=exc.links)

    async def http_error(request: Request, exc: Exception) -> object:
        assert isinstance(exc, HTTPException)
        return render_error(request, exc.status_code, headers=getattr(exc, "headers", None))

    async def server_error(request: Request, exc: Exception) -> object:
        log.exception("unhandled error on %s", request.url.path, exc_info=exc)
        return render_error(request, 500, exception=exc if settings.debug else None)

    app = Library(
        debug=False,  # our own 500 page shows the traceback when settings.debug is on
        routes=[
            *routes(),
            Mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static"),
        ],
        lifespan=lifespan,
        exception_handlers={UserError: user_error, HTTPException: http_error, Exception: server_error},
        middleware=[i18n_middleware(), csrf_middleware(), reader_middleware(), page_cache_middleware()],
    )
    app.trusted_proxies = settings.trusted_proxies
    app.metrics = metrics
    app.pending_counts = pending_counts
    return app


def _warm_lists(path: Path) -> None:
    """The browse lists and home page counts computed once as the process starts, in a thread of its own
    with its own connection (browsing.warm_reader_lists); a failure only leaves them to the first reader."""
    try:
        db = open_database(path, migrate=False)
        try:
            browsing.warm_reader_lists(db)
        finally:
            db.close()
    except Exception:
        log.warning("could not compute the browse lists at start-up", exc_info=True)


async def _flush_counts_now_and_then(pending: stats.PendingCounts, connections: Connections) -> None:
    """Chapter reads and searches counted in memory, added to the catalogue every few seconds in a worker
    thread (each thread has its own connection), so no page waits for the writer lock (PendingCounts)."""
    while True:
        await asyncio.sleep(pending.FLUSH_SECONDS)
        await run_in_threadpool(lambda: pending.flush(connections.get()))


def create_served_app() -> Starlette:
    """The app as each web process of `accessible-lib serve` builds it: with the logging `serve` set up in
    the first process, which a process started afresh does not inherit."""
    from .logs import configure_logging

    settings = Settings.from_env()
    configure_logging(settings)
    return create_app(settings)


def csrf_middleware():
    from starlette.middleware import Middleware

    from .web.csrf import CSRFCookieMiddleware

    return Middleware(CSRFCookieMiddleware)


def reader_middleware():
    """Who the reader is (`request.state.reader`), for every page and every `access.may_read`."""
    from starlette.middleware import Middleware

    from .web.account_session import ReaderSessionMiddleware

    return Middleware(ReaderSessionMiddleware)


def page_cache_middleware():
    """Anonymous visitors' home, browse and book pages from memory (web/page_cache.py): innermost, so the
    language is chosen and the CSRF layer sets the cookie of a token it hands out."""
    from starlette.middleware import Middleware

    from .web.page_cache import PageCacheMiddleware

    return Middleware(PageCacheMiddleware)


def i18n_middleware():
    from starlette.middleware import Middleware

    from .web.render import LocaleMiddleware

    return Middleware(LocaleMiddleware)
