"""Signed worker reports: a worker on another machine proves it shares the library's secret key.

The signature covers a timestamp, a nonce, the method, the path and the body, so a captured report can be
neither sent to another edition's route nor replayed: the timestamp bounds when it is accepted, and the
web app remembers each nonce for that long (web/worker_api.py), so the same report is taken only once.
Every header is checked for form before anything is computed: a forged or garbled header is a refusal,
never an error in the web app.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

SIGNATURE_HEADER = "X-Accessible-Lib-Signature"
TIMESTAMP_HEADER = "X-Accessible-Lib-Timestamp"
NONCE_HEADER = "X-Accessible-Lib-Nonce"
MAX_SKEW_SECONDS = 300

_TIMESTAMP = re.compile(r"\A[0-9]{1,12}\Z")
_NONCE = re.compile(r"\A[0-9a-f]{32}\Z")
_SIGNATURE = re.compile(r"\A[0-9a-f]{64}\Z")


@dataclass(frozen=True)
class Signed:
    """A request whose signature checked out: the receiver must still refuse a nonce it has seen."""

    nonce: str
    sent_at: int

    @property
    def remember_until(self) -> float:
        """After this its timestamp is too old to be accepted, so the nonce need not be kept."""
        return self.sent_at + MAX_SKEW_SECONDS + 1


def signature(
    secret: str, timestamp: str, nonce: str, method: str, path: str, body: bytes, covered: str = ""
) -> str:
    """`covered`: a header whose value the signature must also bind (an upload's Content-Range, so that a
    signed chunk cannot be moved to another offset); empty for the reports, whose message is unchanged."""
    parts = [timestamp.encode(), nonce.encode(), method.upper().encode(), path.encode()]
    if covered:
        parts.append(covered.encode())
    message = b"\n".join([*parts, body])
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(
    secret: str, method: str, path: str, body: bytes, *, now: float | None = None, covered: str = ""
) -> dict[str, str]:
    """Headers to send with a report; each call makes a new nonce, so a retry is a new request."""
    timestamp = str(int(time.time() if now is None else now))
    nonce = secrets.token_hex(16)
    return {
        TIMESTAMP_HEADER: timestamp,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: signature(secret, timestamp, nonce, method, path, body, covered),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    method: str,
    path: str,
    body: bytes,
    *,
    now: float | None = None,
    covered: str = "",
) -> Signed | None:
    """The signed request when the headers carry a fresh, well-formed signature of it made with `secret`;
    None for anything else (missing, malformed, stale or wrong)."""
    if not secret:
        return None
    timestamp = headers.get(TIMESTAMP_HEADER) or ""
    nonce = headers.get(NONCE_HEADER) or ""
    given = headers.get(SIGNATURE_HEADER) or ""
    if not (_TIMESTAMP.match(timestamp) and _NONCE.match(nonce) and _SIGNATURE.match(given)):
        return None
    sent_at = int(timestamp)
    now = time.time() if now is None else now
    if abs(now - sent_at) > MAX_SKEW_SECONDS:
        return None
    if not hmac.compare_digest(given, signature(secret, timestamp, nonce, method, path, body, covered)):
        return None
    return Signed(nonce, sent_at)
