"""Internal routes through which a worker on another machine hands over an edition's files.

Such a worker shares no disk with the library (jobs/uploader.py). It sends each file in chunks, signed like
its reports (web/worker_api.py: HMAC of timestamp, nonce, method, path and body under the shared secret key,
each nonce taken once), the signature binding the chunk's Content-Range too, so a captured chunk cannot be
replayed or written at another offset. Chunks go into the attempt's staging area on disk
(editions/staging.py), never held whole in memory beyond one chunk. The worker asks how much of a file has
arrived and goes on from there, so a dropped connection or a restarted web app costs one chunk.

Nothing sent is visible until the worker commits: the web app then checks that every listed file is there
with its size and sha256 (and nothing else), publishes the area by the same atomic rename as a local worker,
and records the edition done, all under the attempt's lease token: an attempt that lost its lease (presumed
dead, another one started) can neither add a chunk nor publish.

    GET  /internal/editions/ID/uploads/TOKEN/files/NAME   -> {"size": bytes arrived}
    PUT  /internal/editions/ID/uploads/TOKEN/files/NAME   Content-Range: bytes START-END/TOTAL -> {"size"}
    POST /internal/editions/ID/uploads/TOKEN/commit       {"storage_key", "files"} -> {"ok"}
"""

from __future__ import annotations

import errno
import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..editions import staging, store
from ..editions.storage import LocalStorage, check_key
from .helpers import db_for
from .worker_api import BadReport, Refused, files_of_report, refused, verified_bytes, verified_json

MAX_CHUNK_BYTES = 32 * 1024 * 1024  # a worker sends 8 MiB by default (ACCESSIBLE_LIB_UPLOAD_CHUNK_BYTES)
MAX_FILE_BYTES = 64 * 1024**3  # a long audio book zipped is a few GB; far above, it is not an edition
_RANGE = re.compile(r"\Abytes ([0-9]{1,15})-([0-9]{1,15})/([0-9]{1,15})\Z")
_EMPTY = re.compile(r"\Abytes \*/0\Z")
LOST = "this attempt no longer holds the edition; stop"


def _chunk_range(header: str, length: int) -> tuple[int, int]:
    """(start, total) of a chunk from its Content-Range; an empty file is sent as `bytes */0`."""
    if _EMPTY.match(header) and length == 0:
        return 0, 0
    match = _RANGE.match(header)
    if not match:
        raise BadReport("Content-Range must be `bytes START-END/TOTAL`")
    start, end, total = (int(group) for group in match.groups())
    if end - start + 1 != length or length == 0 or end >= total:
        raise BadReport("Content-Range does not match the body")
    if total > MAX_FILE_BYTES:
        raise Refused(413, f"a file of an edition may not be larger than {MAX_FILE_BYTES} bytes")
    return start, total


def _names(request: Request) -> tuple[int, str, str | None]:
    params = request.path_params
    try:
        token = staging.check_token(params["token"])
        name = staging.check_name(params["name"]) if "name" in params else None
    except staging.BadUpload as exc:
        raise BadReport(str(exc)) from None
    return params["edition_id"], token, name


def _area(request: Request, edition_id: int, token: str):
    if not staging.holds_lease(db_for(request), edition_id, token):
        raise Refused(410, LOST)
    return staging.area(request.state.settings.editions_dir, edition_id, token)


def _size(request: Request, edition_id: int, token: str, name: str) -> dict:
    return {"size": staging.staged_size(_area(request, edition_id, token), name)}


def _write(request: Request, edition_id: int, token: str, name: str, start: int, body: bytes) -> dict:
    area = _area(request, edition_id, token)
    try:
        return {"size": staging.write_chunk(area, name, start, body)}
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise Refused(507, "the library's disk is full") from None
        raise


async def file_status(request: Request) -> JSONResponse:
    """How much of a file has arrived, for a worker resuming after a failure."""
    try:
        await verified_bytes(request, limit=0)
        edition_id, token, name = _names(request)
        return JSONResponse(await run_in_threadpool(_size, request, edition_id, token, name))
    except Refused as exc:
        return refused(exc)
    except BadReport as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)


async def put_chunk(request: Request) -> JSONResponse:
    content_range = request.headers.get("content-range", "")
    try:
        body = await verified_bytes(request, limit=MAX_CHUNK_BYTES, covered=content_range)
        edition_id, token, name = _names(request)
        start, _total = _chunk_range(content_range, len(body))
        answer = await run_in_threadpool(_write, request, edition_id, token, name, start, body)
    except staging.GapError as exc:  # the worker goes on from what is there
        return JSONResponse({"error": str(exc), "size": exc.size}, status_code=409)
    except Refused as exc:
        return refused(exc)
    except BadReport as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse(answer)


def _commit(request: Request, edition_id: int, token: str, key: str, files: list[dict]) -> dict:
    db = db_for(request)
    settings = request.state.settings
    # A fresh lease first: no other attempt can start while the files are checked and published.
    if not store.renew(db, edition_id, token, lease_seconds=settings.lease_seconds):
        return {"ok": False, "error": LOST}
    area = staging.area(settings.editions_dir, edition_id, token)
    found = staging.problems(area, files)
    if found:
        raise BadReport("the upload is not the edition: " + "; ".join(found[:10]))
    if not store.renew(db, edition_id, token, lease_seconds=settings.lease_seconds):
        return {"ok": False, "error": LOST}
    LocalStorage(settings.editions_dir).publish(area, key)
    return {"ok": store.complete(db, edition_id, token, storage_key=key, files=files)}


async def commit(request: Request) -> JSONResponse:
    """Publish the attempt's upload as the edition, only if it is whole and the attempt still holds it."""
    try:
        payload = await verified_json(request)
        edition_id, token, _ = _names(request)
        try:
            key = check_key(payload.get("storage_key"))
        except ValueError as exc:
            raise BadReport(str(exc)) from None
        files = files_of_report(payload)
        names = [record["name"] for record in files]
        if not files or len(set(names)) != len(names):
            raise BadReport("files must name each file of the edition once")
        for name in names:
            try:
                staging.check_name(name)
            except staging.BadUpload as exc:
                raise BadReport(str(exc)) from None
        answer = await run_in_threadpool(_commit, request, edition_id, token, key, files)
    except Refused as exc:
        return refused(exc)
    except BadReport as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse(answer)


def upload_routes() -> list[Route]:
    base = "/internal/editions/{edition_id:int}/uploads/{token}"
    return [
        Route(base + "/files/{name}", file_status, methods=["GET"], name="worker_upload_status"),
        Route(base + "/files/{name}", put_chunk, methods=["PUT"], name="worker_upload_chunk"),
        Route(base + "/commit", commit, methods=["POST"], name="worker_upload_commit"),
    ]
