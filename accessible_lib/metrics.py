"""Prometheus metrics: the web app's requests, measured as they happen, and the edition jobs, read from the
catalogue each time /metrics is scraped.

Why two kinds. Requests are served by this process, so a counter and a histogram in memory are exact. Jobs run
in worker processes, often on other machines without a shared disk (ACCESSIBLE_LIB_REPORT_URL), so counters in
the workers would need Prometheus' multiprocess mode (a shared directory of per-process files, cleaned at each
start) or a scrape target on every worker. The catalogue already records every job's format, state, attempts,
start and end, so a collector reads them at scrape time: one place to scrape, nothing lost when a worker dies,
and the figures survive a restart. What that costs: the job figures describe the catalogue's current state, so
an edition made again leaves the "done" histogram until it is done again (Prometheus takes the dip as a
counter reset), and times have the catalogue's one-second resolution.

With several web processes (`accessible-lib serve`, ACCESSIBLE_LIB_WEB_PROCESSES), a scrape reaches one of
them, so each process's own counters would show a random share. `serve` then gives the processes one
directory (PROMETHEUS_MULTIPROC_DIR, in the data directory, emptied at each start): prometheus-client writes
every counter and histogram there, and /metrics adds up all the processes', those of a process that died
included, so no request goes uncounted.

Request labels are the route's template (`/books/{book_id:int}`), never the path, so a crawler cannot make a
new series per URL; a path no route matches is counted as `unmatched`.
"""

from __future__ import annotations

import logging
import os
import secrets
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import logs
from .db import sqlite_uri
from .editions import formats

log = logging.getLogger("accessible_lib.access")

UNMATCHED = "unmatched"
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
# Seconds: pages take milliseconds, downloads of whole audio books take minutes.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
# Seconds: a braille edition of a short book takes one, a whole novel read aloud hours.
BUILD_BUCKETS = (1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400, 28800)
RECENT_EDITIONS = 20  # the speed of conversion is measured over each format's last this many editions
EDITION_STATUSES = ("queued", "running", "done", "failed")
# No `_created` series beside each counter and histogram: Prometheus does not need them, and they double
# what every scrape carries.
disable_created_metrics()
_REQUEST_ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class Metrics:
    """One registry per app (tests build many apps in one process; the global registry would mix them)."""

    def __init__(self, database_path: Path):
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "accessible_lib_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "accessible_lib_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response (a download's last byte), by route "
            "template and method.",
            ["route", "method"],
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.catalogue = CatalogueCollector(database_path)
        self.registry.register(self.catalogue)
        self.shared_dir = os.environ.get(SHARED_DIR_VARIABLE) or None

    def exposition(self) -> CollectorRegistry:
        """The registry /metrics shows: this process's, or every web process's when they share a directory."""
        if self.shared_dir is None:
            return self.registry
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.shared_dir)
        registry.register(self.catalogue)
        return registry


SHARED_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's own name; read when it is imported


def share_between_processes(directory: Path) -> None:
    """Before the web processes start (and before they import prometheus-client): one empty directory for
    all their counters. Files of an earlier run would add its requests to this one's."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.db"):
        old.unlink()
    os.environ[SHARED_DIR_VARIABLE] = str(directory)


def route_label(scope: Scope, root_path: str = "") -> str:
    """The template of the route that answered (a Mount's own path for what it serves); `unmatched` when
    none did. `root_path` is the application's mount point as the request arrived (routing extends the
    scope's own with the Mount's path)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED
    return root_path + path or "/"


def _request_id(scope: Scope) -> str:
    """A proxy's id (nginx's $request_id as X-Request-ID) when it looks like one, else a new one."""
    for name, value in scope.get("headers") or ():
        if name == b"x-request-id":
            given = value.decode("latin-1")
            if 0 < len(given) <= 64 and set(given) <= _REQUEST_ID_CHARS:
                return given
    return uuid.uuid4().hex


class RequestMetrics:
    """Outermost ASGI layer: times each request, counts it by route and status, gives it a request id (in
    the logs and the X-Request-ID response header) and writes the access log line."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        root_path = scope.get("root_path") or ""
        request_id = _request_id(scope)
        token = logs.request_id.set(request_id)
        status = 500  # unless a response starts: an exception that escaped every handler

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration = time.perf_counter() - started
            route = route_label(scope, root_path)
            method = scope.get("method", "GET") if scope.get("method") in METHODS else "other"
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route, method).observe(duration)
            log.info(
                "%s %s %s %.1f ms",
                method,
                route,
                status,
                duration * 1000,
                extra={
                    "route": route,
                    "method": method,
                    "status": status,
                    "duration_ms": round(duration * 1000, 1),
                },
            )
            logs.request_id.reset(token)


def format_kind(name: str) -> str:
    """speech, braille or text: which engine's speed an edition of this format measures."""
    fmt = formats.FORMATS.get(name)
    converter = fmt.converter if fmt is not None else ""
    if ".audio:" in converter:
        return "speech"
    if ".braille_edition:" in converter:
        return "braille"
    return "text"


_DURATION = "(julianday(e.finished_at) - julianday(e.started_at)) * 86400.0"


class CatalogueCollector(Collector):
    """Queue depth, jobs by state, build times and conversion speed, read from the catalogue per scrape.

    Its own read-only connection each time: a scrape must never take the catalogue's write lock, and the
    scrape may come on any thread."""

    def __init__(self, database_path: Path):
        self.database_path = database_path

    def describe(self) -> Iterator:
        return iter(())  # computed per scrape; nothing to check at registration

    def collect(self) -> Iterator:
        try:
            conn = sqlite3.connect(sqlite_uri(self.database_path, "ro"), uri=True, timeout=5)
        except sqlite3.Error:
            log.exception("metrics: the catalogue cannot be opened")
            return
        try:
            yield from self._collect(conn)
        except sqlite3.Error:
            log.exception("metrics: the catalogue cannot be read")
        finally:
            conn.close()

    def _collect(self, conn: sqlite3.Connection) -> Iterator:
        by_status = GaugeMetricFamily(
            "accessible_lib_editions",
            "Editions by format and state (queued, running, done, failed): failed ones gave up after every "
            "attempt.",
            labels=["format", "status"],
        )
        counts = {(f, s): 0 for f in formats.FORMATS for s in EDITION_STATUSES}
        for fmt, status, count in conn.execute("SELECT format, status, count(*) FROM editions GROUP BY 1, 2"):
            counts[(fmt, status)] = count
        for (fmt, status), count in sorted(counts.items()):
            by_status.add_metric([fmt, status], count)
        yield by_status

        depth, oldest = conn.execute(
            "SELECT count(*), min(queued_at) FROM editions WHERE status = 'queued'"
        ).fetchone()
        yield GaugeMetricFamily(
            "accessible_lib_queue_depth",
            "Editions waiting for a worker (queued, retries included).",
            value=depth,
        )
        wait = 0.0
        if oldest:
            (wait,) = conn.execute(
                "SELECT max(0, (julianday('now') - julianday(?)) * 86400.0)", [oldest]
            ).fetchone()
        yield GaugeMetricFamily(
            "accessible_lib_queue_oldest_wait_seconds",
            "How long the longest-waiting queued edition has waited; 0 when none waits.",
            value=round(wait or 0.0, 3),
        )

        retries = GaugeMetricFamily(
            "accessible_lib_edition_failed_attempts",
            "Attempts that failed, over the editions in the catalogue: every attempt of a failed edition, "
            "the ones before the last of a done edition.",
            labels=["format"],
        )
        for fmt, failed in conn.execute(
            "SELECT format, sum(CASE WHEN status = 'failed' THEN attempts ELSE max(attempts - 1, 0) END) "
            "FROM editions WHERE status IN ('done', 'failed') GROUP BY format"
        ):
            retries.add_metric([fmt], failed or 0)
        yield retries

        yield self._build_times(conn)
        yield self._speed(conn)

    def _build_times(self, conn: sqlite3.Connection) -> HistogramMetricFamily:
        family = HistogramMetricFamily(
            "accessible_lib_edition_build_seconds",
            "Time the successful attempt of each done edition took, by format.",
            labels=["format"],
        )
        buckets = ", ".join(f"sum({_DURATION} <= {bound})" for bound in BUILD_BUCKETS)
        rows = conn.execute(
            f"SELECT e.format, count(*), sum({_DURATION}), {buckets} FROM editions e "
            "WHERE e.status = 'done' AND e.started_at IS NOT NULL AND e.finished_at IS NOT NULL GROUP BY 1"
        )
        for fmt, count, total, *within in rows:
            pairs = [(str(bound), n or 0) for bound, n in zip(BUILD_BUCKETS, within, strict=True)]
            family.add_metric([fmt], [*pairs, ("+Inf", count)], sum_value=max(total or 0.0, 0.0))
        return family

    def _speed(self, conn: sqlite3.Connection) -> GaugeMetricFamily:
        """Characters of the books' text per second of conversion, over each format's latest editions: the
        speed of speech synthesis (kind="speech") and of braille translation (kind="braille")."""
        family = GaugeMetricFamily(
            "accessible_lib_edition_chars_per_second",
            f"Characters converted per second, over each format's last {RECENT_EDITIONS} done editions "
            "(each counted as at least one second); kind is speech, braille or text.",
            labels=["format", "kind"],
        )
        rows = conn.execute(
            "SELECT format, sum(chars), sum(max(seconds, 1.0)) FROM ("
            f" SELECT e.format, b.char_count AS chars, {_DURATION} AS seconds,"
            "  row_number() OVER (PARTITION BY e.format ORDER BY e.finished_at DESC) AS n"
            " FROM editions e JOIN books b ON b.id = e.book_id"
            " WHERE e.status = 'done' AND e.started_at IS NOT NULL AND e.finished_at IS NOT NULL"
            f") WHERE n <= {RECENT_EDITIONS} GROUP BY format"
        )
        for fmt, chars, seconds in rows:
            family.add_metric([fmt, format_kind(fmt)], round((chars or 0) / seconds, 3) if seconds else 0.0)
        return family


def token_matches(expected: str, authorization: str | None) -> bool:
    """Whether an Authorization header carries `Bearer <expected>` (compared in constant time)."""
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and secrets.compare_digest(given.strip().encode(), expected.encode())
