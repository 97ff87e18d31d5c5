"""Signed worker reports: a worker on another machine proves it shares the library's secret key.

The signature covers a timestamp, the method, the path and the body, so a captured report can be neither
replayed later nor sent to another edition's route.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Accessible-Lib-Signature"
TIMESTAMP_HEADER = "X-Accessible-Lib-Timestamp"
MAX_SKEW_SECONDS = 300


def signature(secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    message = b"\n".join([timestamp.encode(), method.upper().encode(), path.encode(), body])
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, method: str, path: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """Headers to send with a report."""
    timestamp = str(int(time.time() if now is None else now))
    return {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, method, path, body),
    }


def verify(
    secret: str, headers: dict[str, str], method: str, path: str, body: bytes, *, now: float | None = None
) -> bool:
    """True when the headers carry a fresh signature of this request made with `secret`."""
    if not secret:
        return False
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    given = headers.get(SIGNATURE_HEADER, "")
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    now = time.time() if now is None else now
    if abs(now - sent_at) > MAX_SKEW_SECONDS:
        return False
    return hmac.compare_digest(given, signature(secret, timestamp, method, path, body))
