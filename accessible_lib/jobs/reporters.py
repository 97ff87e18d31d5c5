"""How a worker tells the catalogue about its job: directly, or through the web app over HTTP.

The catalogue has one writer. A worker on the same machine may open it (`CatalogueReporter`); a worker on
another machine must not need the SQLite file at all, so it sends the same calls to the web app, which
writes them (`HttpReporter`, answered by `web/worker_api.py`). Both speak the `Reporter` protocol, so the
task code cannot tell them apart.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from sqlite_utils import Database

from ..db import open_database
from ..editions import store
from ..i18n import ngettext
from ..settings import Settings
from . import signing
from .config import report_url

# A retry's Huey task and the catalogue may read slightly different clocks (another machine).
CLOCK_TOLERANCE_SECONDS = 2.0


@dataclass(frozen=True)
class Claim:
    """A started attempt: its lease token and its number (1 for the first attempt)."""

    token: str
    attempt: int


class Reporter(Protocol):
    def claim(self, edition_id: int, *, lease_seconds: float) -> Claim | None:
        """Start an attempt; None when the edition is done, held by a live lease or waiting for its retry."""

    def renew(
        self,
        edition_id: int,
        token: str,
        *,
        lease_seconds: float,
        progress: int | None = None,
        step: str | None = None,
        eta_seconds: int | None = None,
    ) -> bool:
        """Extend the lease and record progress; False when the lease was lost: stop at once."""

    def complete(self, edition_id: int, token: str, *, storage_key: str, files: list[dict]) -> bool: ...

    def fail(self, edition_id: int, token: str, *, error: str, retry_at: float | None) -> bool: ...

    def recover(self) -> dict[str, list[int]]:
        """Requeue editions whose lease expired and enqueue queued editions missing from the queue."""


def claim_edition(db: Database, edition_id: int, *, lease_seconds: float, max_attempts: int) -> Claim | None:
    """store.claim, with two guards.

    A queued retry is not started before its time (a stray duplicate task may come early). And an edition
    whose attempts all ended without a word (the worker was killed, or crashed in a converter's native
    code) is failed rather than started again, so one poisonous book cannot take workers down forever.
    """
    row = db.execute("SELECT status, retry_at FROM editions WHERE id = ?", [edition_id]).fetchone()
    if row is None:
        return None
    status, retry_at = row
    if status == store.QUEUED and retry_at is not None and retry_at > time.time() + CLOCK_TOLERANCE_SECONDS:
        return None
    token = store.claim(db, edition_id, lease_seconds=lease_seconds)
    if token is None:
        return None
    (attempts,) = db.execute("SELECT attempts FROM editions WHERE id = ?", [edition_id]).fetchone()
    if attempts > max_attempts:
        store.fail(db, edition_id, token, error=interrupted_message(attempts - 1), retry_at=None)
        return None
    return Claim(token, attempts)


def interrupted_message(times: int) -> str:
    return ngettext(
        "%(num)d attempt ended without finishing: its worker was stopped or crashed.",
        "%(num)d attempts ended without finishing; the last one's worker was stopped or crashed.",
        times,
    )


class CatalogueReporter:
    """Writes through editions/store.py. One short-lived connection per call: the lease renewer runs in a
    thread of its own, and worker processes are forked, so no connection is ever shared."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def _open(self) -> Database:
        return open_database(self.settings.database_path, migrate=False)

    def claim(self, edition_id: int, *, lease_seconds: float) -> Claim | None:
        db = self._open()
        try:
            return claim_edition(
                db, edition_id, lease_seconds=lease_seconds, max_attempts=self.settings.max_attempts
            )
        finally:
            db.close()

    def renew(
        self,
        edition_id: int,
        token: str,
        *,
        lease_seconds: float,
        progress: int | None = None,
        step: str | None = None,
        eta_seconds: int | None = None,
    ) -> bool:
        db = self._open()
        try:
            return store.renew(
                db,
                edition_id,
                token,
                lease_seconds=lease_seconds,
                progress=progress,
                step=step,
                eta_seconds=eta_seconds,
            )
        finally:
            db.close()

    def complete(self, edition_id: int, token: str, *, storage_key: str, files: list[dict]) -> bool:
        db = self._open()
        try:
            return store.complete(db, edition_id, token, storage_key=storage_key, files=files)
        finally:
            db.close()

    def fail(self, edition_id: int, token: str, *, error: str, retry_at: float | None) -> bool:
        db = self._open()
        try:
            return store.fail(db, edition_id, token, error=error, retry_at=retry_at)
        finally:
            db.close()

    def recover(self) -> dict[str, list[int]]:
        from .recovery import recover

        return recover(self.settings)


class ReportRefused(RuntimeError):
    """The web app would not take the worker's report: a configuration problem, not a passing one."""


class HttpReporter:
    """Sends each call, signed with the shared secret key, to the web app's internal routes."""

    def __init__(self, base_url: str, secret: str, *, timeout: float = 30.0, tries: int = 4):
        if not secret:
            raise ReportRefused(
                "ACCESSIBLE_LIB_SECRET_KEY must be set, to the same value as the web app's, for a worker "
                "that reports over HTTP."
            )
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.timeout = timeout
        self.tries = tries

    def _post(self, path: str, payload: dict) -> dict:
        url = self.base_url + path
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        headers.update(signing.sign(self.secret, "POST", urlsplit(url).path, body))
        for attempt in range(1, self.tries + 1):
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read() or b"{}")
            except urllib.error.HTTPError as exc:
                if exc.code in (401, 403):
                    raise ReportRefused(
                        f"the library at {self.base_url} refused the worker's report ({exc.code}): check "
                        "that ACCESSIBLE_LIB_SECRET_KEY is the same for the worker and the web app"
                    ) from exc
                if exc.code < 500 or attempt == self.tries:
                    raise
            except (urllib.error.URLError, OSError):
                if attempt == self.tries:
                    raise
            # The web app may be restarting: wait a little longer each time, well within one lease.
            time.sleep(0.5 * 2 ** (attempt - 1))
            headers.update(signing.sign(self.secret, "POST", urlsplit(url).path, body))
        raise AssertionError("unreachable")

    def claim(self, edition_id: int, *, lease_seconds: float) -> Claim | None:
        answer = self._post(f"/internal/editions/{edition_id}/claim", {"lease_seconds": lease_seconds})
        if not answer.get("token"):
            return None
        return Claim(answer["token"], int(answer["attempt"]))

    def renew(
        self,
        edition_id: int,
        token: str,
        *,
        lease_seconds: float,
        progress: int | None = None,
        step: str | None = None,
        eta_seconds: int | None = None,
    ) -> bool:
        answer = self._post(
            f"/internal/editions/{edition_id}/renew",
            {
                "token": token,
                "lease_seconds": lease_seconds,
                "progress": progress,
                "step": step,
                "eta_seconds": eta_seconds,
            },
        )
        return bool(answer.get("ok"))

    def complete(self, edition_id: int, token: str, *, storage_key: str, files: list[dict]) -> bool:
        answer = self._post(
            f"/internal/editions/{edition_id}/complete",
            {"token": token, "storage_key": storage_key, "files": files},
        )
        return bool(answer.get("ok"))

    def fail(self, edition_id: int, token: str, *, error: str, retry_at: float | None) -> bool:
        answer = self._post(
            f"/internal/editions/{edition_id}/fail", {"token": token, "error": error, "retry_at": retry_at}
        )
        return bool(answer.get("ok"))

    def recover(self) -> dict[str, list[int]]:
        return self._post("/internal/recover", {})


def reporter_for(settings: Settings) -> Reporter:
    """Over HTTP when a report URL is set (the worker cannot or must not open the catalogue), else direct."""
    url = report_url(settings)
    if url:
        return HttpReporter(url, settings.secret_key)
    return CatalogueReporter(settings)
