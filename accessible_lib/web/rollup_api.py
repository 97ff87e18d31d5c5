"""POST /internal/rollup: a member library sends its daily statistics (rollup.py).

A machine route, like the workers' (worker_api.py): no form and no CSRF token, but a signature under the
key this library shares with that member; anything unsigned, signed with an unknown key or stale is a 401
and nothing is stored. Errors are answered in JSON, for the sender's log.
"""

from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .. import rollup
from .helpers import db_for
from .worker_api import Refused, _limited_body
from .worker_api import refused as _refused


async def receive(request: Request) -> JSONResponse:
    try:
        body = await _limited_body(request)
        found = rollup.member_for(
            request.state.settings, request.headers, request.method, request.url.path, body
        )
        if found is None:
            raise Refused(401, "bad or missing signature")
        member, signed = found
        try:
            data = json.loads(body)
        except ValueError:
            return JSONResponse({"error": "the body is not JSON"}, status_code=400)
        days = await run_in_threadpool(rollup.receive, db_for(request), member, signed, data)
    except Refused as exc:
        return _refused(exc)
    except rollup.BadRollup as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    except LookupError as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)
    return JSONResponse({"ok": True, "member": member, "days": days})


def routes() -> list[Route]:
    return [Route(rollup.PATH, receive, methods=["POST"], name="rollup")]
