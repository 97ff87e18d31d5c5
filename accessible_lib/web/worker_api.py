"""Internal routes through which workers on other machines report on their jobs.

The catalogue has one writer, this web app; a worker that cannot open the SQLite file (another machine, a
Redis queue) sends its claim, renewals, completion or failure here instead (jobs.reporters.HttpReporter).
Each request is signed with an HMAC of its timestamp, path and body under the secret key, which both sides
must be given explicitly (ACCESSIBLE_LIB_SECRET_KEY): without one these routes refuse everything.

Anyone can reach these routes, so they are careful before trusting anything: the body is limited before it
is read (a Content-Length over the limit is refused at once, and the stream is counted as it comes, for a
sender that lies or sends none), a missing or malformed signature is a 401, and a signed report is taken
once: its nonce is remembered in the catalogue for as long as its timestamp is accepted, and a second
request with it is a 409.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..editions import store
from ..editions.storage import check_key
from ..jobs import signing
from ..jobs.reporters import claim_edition
from .helpers import db_for

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_ERROR_CHARS = 2000
# The largest report is a completed edition's file list: a few hundred bytes a file, a few hundred files.
MAX_BODY_BYTES = 2 * 1024 * 1024


class BadReport(ValueError):
    pass


class Refused(Exception):
    """A request that is not taken: its status and a short reason for the worker's log."""

    def __init__(self, status: int, error: str):
        super().__init__(error)
        self.status = status
        self.error = error


async def _limited_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit() or len(declared) > 12:
            raise Refused(400, "bad Content-Length")
        if int(declared) > limit:
            raise Refused(413, f"the body is larger than {limit} bytes")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Refused(413, f"the body is larger than {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:  # a worker's connection dropped mid-chunk: nothing was taken, it sends again
        raise Refused(400, "the body was cut off") from None
    return b"".join(chunks)


def _first_time(request: Request, signed: signing.Signed) -> bool:
    """Remember the nonce until its timestamp is too old to be accepted; False when it was seen before."""
    db = db_for(request)
    try:
        with db.conn:
            db.execute("DELETE FROM worker_nonces WHERE expires_at < ?", [time.time()])
            db.execute(
                "INSERT INTO worker_nonces (nonce, expires_at) VALUES (?, ?)",
                [signed.nonce, signed.remember_until],
            )
    except sqlite3.IntegrityError:
        return False
    return True


async def verified_bytes(request: Request, *, limit: int = MAX_BODY_BYTES, covered: str = "") -> bytes:
    """The body, once its size, signature and nonce have passed; `covered`, a header value the signature
    binds too (web/worker_uploads.py: an upload chunk's Content-Range)."""
    body = await _limited_body(request, limit)
    secret = request.state.settings.secret_key
    # The decoded path as the router matched it (request.url.path re-quotes some characters).
    path = request.scope["path"]
    signed = signing.verify(secret, request.headers, request.method, path, body, covered=covered)
    if signed is None:
        raise Refused(401, "bad or missing signature")
    if not await run_in_threadpool(_first_time, request, signed):
        raise Refused(409, "this signed request was already received")
    return body


async def verified_json(request: Request) -> dict:
    body = await verified_bytes(request)
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        raise BadReport("the body is not JSON") from None
    if not isinstance(payload, dict):
        raise BadReport("the body is not a JSON object")
    return payload


def _lease_seconds(payload: dict) -> float:
    value = payload.get("lease_seconds")
    if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= 24 * 3600:
        raise BadReport("lease_seconds must be a number of seconds")
    return float(value)


def _token(payload: dict) -> str:
    token = payload.get("token")
    if not isinstance(token, str) or not token:
        raise BadReport("token is missing")
    return token


def _optional_int(payload: dict, name: str) -> int | None:
    value = payload.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadReport(f"{name} must be a whole number")
    return value


def files_of_report(payload: dict) -> list[dict]:
    files = payload.get("files")
    if not isinstance(files, list):
        raise BadReport("files must be a list")
    clean = []
    for record in files:
        if not isinstance(record, dict):
            raise BadReport("each file must be an object")
        name, media_type, size, sha256 = (record.get(k) for k in ("name", "media_type", "size", "sha256"))
        if not (isinstance(name, str) and name and "/" not in name and not name.startswith(".")):
            raise BadReport("a file has no plain name")
        if not isinstance(media_type, str) or not isinstance(size, int) or size < 0:
            raise BadReport(f"file {name}: media_type and size are required")
        if not isinstance(sha256, str) or not _SHA256.match(sha256):
            raise BadReport(f"file {name}: sha256 must be 64 hex digits")
        extra = {k: record[k] for k in ("role", "chapter", "title", "seconds") if record.get(k) is not None}
        if not (
            isinstance(extra.get("role", ""), str)
            and isinstance(extra.get("chapter", 0), int)
            and isinstance(extra.get("title", ""), str)
            and isinstance(extra.get("seconds", 0.0), int | float)
        ):
            raise BadReport(f"file {name}: role, chapter, title or seconds has the wrong type")
        clean.append({"name": name, "media_type": media_type, "size": size, "sha256": sha256, **extra})
    return clean


def _act(request: Request, action: str, edition_id: int, payload: dict) -> dict:
    db = db_for(request)
    settings = request.state.settings
    if action == "claim":
        claim = claim_edition(
            db, edition_id, lease_seconds=_lease_seconds(payload), max_attempts=settings.max_attempts
        )
        return {"token": claim.token, "attempt": claim.attempt} if claim else {"token": None}
    if action == "renew":
        progress = _optional_int(payload, "progress")
        step = payload.get("step")
        held = store.renew(
            db,
            edition_id,
            _token(payload),
            lease_seconds=_lease_seconds(payload),
            progress=None if progress is None else min(max(progress, 0), 100),
            step=step[:500] if isinstance(step, str) else None,
            eta_seconds=_optional_int(payload, "eta_seconds"),
        )
        return {"ok": held}
    if action == "complete":
        try:
            key = check_key(payload.get("storage_key"))
        except ValueError as exc:
            raise BadReport(str(exc)) from None
        done = store.complete(
            db, edition_id, _token(payload), storage_key=key, files=files_of_report(payload)
        )
        return {"ok": done}
    if action == "fail":
        error = payload.get("error")
        retry_at = payload.get("retry_at")
        if not isinstance(error, str) or not error:
            raise BadReport("error must say what went wrong")
        if retry_at is not None and (isinstance(retry_at, bool) or not isinstance(retry_at, int | float)):
            raise BadReport("retry_at must be a unix time or null")
        failed = store.fail(db, edition_id, _token(payload), error=error[:MAX_ERROR_CHARS], retry_at=retry_at)
        return {"ok": failed}
    raise LookupError(action)


async def edition_report(request: Request) -> JSONResponse:
    """POST /internal/editions/{edition_id}/{claim|renew|complete|fail}"""
    action = request.path_params["action"]
    if action not in ("claim", "renew", "complete", "fail"):
        return JSONResponse({"error": "unknown action"}, status_code=404)
    try:
        payload = await verified_json(request)
        answer = await run_in_threadpool(_act, request, action, request.path_params["edition_id"], payload)
    except Refused as exc:
        return refused(exc)
    except BadReport as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse(answer)


async def recover_report(request: Request) -> JSONResponse:
    """POST /internal/recover: a remote worker's periodic check, run here where the catalogue is."""
    from ..jobs.recovery import recover

    try:
        await verified_json(request)
    except Refused as exc:
        return refused(exc)
    except BadReport as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    settings = request.state.settings
    queue = getattr(request.state, "queue", None)
    return JSONResponse(await run_in_threadpool(recover, settings, queue))


def refused(exc: Refused) -> JSONResponse:
    headers = {"WWW-Authenticate": 'HMAC realm="accessible-lib workers"'} if exc.status == 401 else None
    return JSONResponse({"error": exc.error}, status_code=exc.status, headers=headers)


def routes() -> list[Route]:
    from .worker_uploads import upload_routes

    return [
        *upload_routes(),
        Route(
            "/internal/editions/{edition_id:int}/{action}",
            edition_report,
            methods=["POST"],
            name="worker_report",
        ),
        Route("/internal/recover", recover_report, methods=["POST"], name="worker_recover"),
    ]
