"""A worker with no shared disk: it converts on its own disk, then uploads the files to the web app.

Chosen when a worker reports over HTTP (ACCESSIBLE_LIB_REPORT_URL) and its editions directory is not the
web app's (ACCESSIBLE_LIB_SHARED_EDITIONS false, the default). The web app's side is web/worker_uploads.py:
each file goes in signed chunks of ACCESSIBLE_LIB_UPLOAD_CHUNK_BYTES, each chunk's offset in a signed
Content-Range; a chunk that fails (a dropped connection, the web app restarting) is sent again at the same
offset, and each file starts where the web app says it has got to, so nothing is sent twice but that chunk.
The commit names every file with its size and sha256, and the web app publishes only when all of them match.
Until then nothing is visible; a worker killed mid-upload leaves an area that no key points to, removed at
the next recovery once its lease is gone, and the edition is built again by whichever worker takes it.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from ..editions.runner import Stop
from ..editions.storage import LocalStorage
from ..i18n import gettext
from ..settings import Settings
from . import signing
from .config import report_url
from .reporters import ReportRefused

log = logging.getLogger(__name__)

MAX_CHUNK_BYTES = 32 * 1024 * 1024  # what the web app accepts in one request
TRIES = 6  # with the waits below, about a minute of the web app being away before the attempt fails


class Transient(Exception):
    """The web app could not be reached or answered 5xx: worth sending the same request again."""


class UploadRefused(RuntimeError):
    """The web app would not take the upload as sent; the attempt fails (and is retried later)."""


class LeaseLost(Stop):
    """Another attempt holds the edition now: this one stops and publishes nothing."""


class _Answer(Exception):
    def __init__(self, status: int, body: dict):
        super().__init__(f"{status}: {body.get('error', '')}")
        self.status = status
        self.body = body


class UploadStorage:
    """Workspaces in the worker's own editions directory; `upload` and `commit` hand them to the web app."""

    def __init__(self, settings: Settings, *, base_url: str | None = None):
        if not settings.secret_key:
            raise ReportRefused(
                "ACCESSIBLE_LIB_SECRET_KEY must be set, to the same value as the web app's, for a worker "
                "that uploads editions."
            )
        self.local = LocalStorage(settings.editions_dir)
        self.base_url = (base_url or report_url(settings)).rstrip("/")
        self.secret = settings.secret_key
        self.chunk_bytes = min(max(int(settings.upload_chunk_bytes), 4096), MAX_CHUNK_BYTES)
        self.timeout = 60.0

    # The workspace side is the local storage's: a private directory, dropped after the upload.
    def new_workspace(self) -> Path:
        return self.local.new_workspace()

    def discard(self, workspace: Path) -> None:
        self.local.discard(workspace)

    def sweep(self, *, older_than_seconds: float = 24 * 3600) -> int:
        return self.local.sweep(older_than_seconds=older_than_seconds)

    def upload(
        self,
        workspace: Path,
        edition_id: int,
        token: str,
        files: list[dict],
        progress: Callable[[float, str], None] = lambda fraction, step: None,
    ) -> None:
        """Send every file; raises LeaseLost, UploadRefused, ReportRefused, or Transient after the retries."""
        total = sum(record["size"] for record in files) or 1
        done = 0
        for record in files:
            base = f"/internal/editions/{edition_id}/uploads/{token}/files/{record['name']}"
            size = self._call("GET", base)["size"]
            path = Path(workspace) / record["name"]
            with open(path, "rb") as file:
                while True:
                    file.seek(size)
                    chunk = file.read(self.chunk_bytes)
                    if record["size"] == 0:
                        covered = "bytes */0"
                    elif not chunk:
                        break
                    else:
                        covered = f"bytes {size}-{size + len(chunk) - 1}/{record['size']}"
                    try:
                        size = self._call("PUT", base, chunk, covered=covered)["size"]
                    except _Answer as exc:
                        if exc.status == 409 and isinstance(exc.body.get("size"), int):
                            size = exc.body["size"]  # the web app has less than we thought: go on from there
                            continue
                        raise
                    progress(1.0, _sending(done + size, total))
                    if record["size"] == 0 or size >= record["size"]:
                        break
            done += record["size"]

    def commit(self, edition_id: int, token: str, *, storage_key: str, files: list[dict]) -> bool:
        """Ask the web app to check and publish the upload; False when the lease was lost meanwhile."""
        body = json.dumps({"storage_key": storage_key, "files": files}).encode()
        # The web app reads every file once to check its sha256: allow for gigabytes.
        timeout = max(self.timeout, sum(f["size"] for f in files) / (50 * 1024 * 1024))
        try:
            answer = self._call(
                "POST", f"/internal/editions/{edition_id}/uploads/{token}/commit", body, timeout=timeout
            )
        except LeaseLost:
            return False
        return bool(answer.get("ok"))

    def _call(self, method: str, path: str, body: bytes = b"", *, covered: str = "", timeout=None) -> dict:
        retrying = Retrying(
            retry=retry_if_exception_type(Transient),
            stop=stop_after_attempt(TRIES),
            wait=wait_exponential(multiplier=0.5, max=30),
            reraise=True,
        )
        try:
            return retrying(self._once, method, path, body, covered, timeout or self.timeout)
        except _Answer as exc:
            if exc.status == 409 and "size" in exc.body:
                raise
            if exc.status == 410:
                raise LeaseLost(exc.body.get("error", "")) from None
            if exc.status in (401, 403):
                raise ReportRefused(
                    f"the library at {self.base_url} refused the worker's upload ({exc.status}): check "
                    "that ACCESSIBLE_LIB_SECRET_KEY is the same for the worker and the web app"
                ) from None
            raise UploadRefused(
                f"the library refused the upload ({exc.status}): {exc.body.get('error', '')}"
            ) from None

    def _once(self, method: str, path: str, body: bytes, covered: str, timeout: float) -> dict:
        """One signed request (a new nonce each time, so a retry is a new request)."""
        url = self.base_url + quote(path)
        headers = signing.sign(self.secret, method, path, body, covered=covered)
        if covered:
            headers["Content-Range"] = covered
        if method != "GET":
            headers["Content-Type"] = "application/json" if method == "POST" else "application/octet-stream"
        request = urllib.request.Request(url, data=body if method != "GET" else None, headers=headers)
        request.method = method
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                answer = json.loads(exc.read() or b"{}")
            except ValueError:
                answer = {}
            if exc.code >= 500 and exc.code != 507:
                log.warning("upload %s %s: %s, trying again", method, path, exc.code)
                raise Transient(f"{exc.code} from the library") from exc
            raise _Answer(exc.code, answer if isinstance(answer, dict) else {}) from None
        except (urllib.error.URLError, OSError) as exc:
            log.warning("upload %s %s: %s, trying again", method, path, exc)
            raise Transient(str(exc)) from exc


def _sending(sent: int, total: int) -> str:
    return gettext(
        "Sending the files to the library: %(sent)s of %(total)s MB",
        sent=f"{sent / 1e6:,.1f}",
        total=f"{total / 1e6:,.1f}",
    )


def worker_storage(settings: Settings):
    """The storage a worker builds into: the web app's own directory, or an upload to it."""
    if report_url(settings) and not settings.shared_editions:
        return UploadStorage(settings)
    return LocalStorage(settings.editions_dir)
