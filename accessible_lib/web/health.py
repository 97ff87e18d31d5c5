"""Routes for the machines that run the library: /healthz, /readyz and /metrics.

They answer JSON or Prometheus text, never a page, and need no session and no CSRF token (GET only): a load
balancer, systemd or Prometheus calls them. /healthz says only that the process answers (restart it if not);
/readyz says whether it can do its work, so a balancer sends readers elsewhere while the database, queue or
storage is away. /metrics is not for everyone (it shows how busy the library is and what fails): it answers
requests from this machine that no proxy forwarded, or, when ACCESSIBLE_LIB_METRICS_TOKEN is set, requests
that carry that token as a bearer token (Prometheus' `authorization` setting), from anywhere.
"""

from __future__ import annotations

import ipaddress

from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import readiness
from ..metrics import token_matches

NO_STORE = {"Cache-Control": "no-store"}
_FORWARDED = ("x-forwarded-for", "forwarded", "x-real-ip")


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"}, headers=NO_STORE)


async def readyz(request: Request) -> JSONResponse:
    checks = await run_in_threadpool(readiness.run_checks, request.state.settings)
    ready = all(outcome == "ok" for outcome in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
        headers=NO_STORE,
    )


def _from_this_machine(request: Request) -> bool:
    """A loopback client, and no proxy header: a proxy on this machine forwards the whole internet."""
    if any(name in request.headers for name in _FORWARDED):
        return False
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def metrics(request: Request) -> Response:
    token = request.state.settings.metrics_token
    if token:
        if not token_matches(token, request.headers.get("authorization")):
            return JSONResponse(
                {"error": "send the metrics token as Authorization: Bearer TOKEN"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="accessible-lib metrics"', **NO_STORE},
            )
    elif not _from_this_machine(request):
        return JSONResponse(
            {"error": "metrics are served only to this machine unless ACCESSIBLE_LIB_METRICS_TOKEN is set"},
            status_code=403,
            headers=NO_STORE,
        )
    registry = request.state.metrics.exposition()
    body = await run_in_threadpool(generate_latest, registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers=NO_STORE)


def routes() -> list[Route]:
    return [
        Route("/healthz", healthz, name="healthz"),
        Route("/readyz", readyz, name="readyz"),
        Route("/metrics", metrics, name="metrics"),
    ]
