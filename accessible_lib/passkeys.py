"""Passkeys (WebAuthn) for reader accounts: a sign-in that needs no typing, through the `webauthn` package.

Why passkeys: typing an email address and a password is slow with a braille keyboard, a switch or a
head pointer, and error-prone by voice; a passkey is one confirmation on the reader's own phone or computer
(fingerprint, face, PIN or the device's screen lock). Passkeys are discoverable credentials, so signing in
asks for nothing first: the browser offers the reader's passkeys for this site.

Only the credential's public key and id are stored. Each ceremony has a one-time challenge, kept in memory
for `CHALLENGE_SECONDS` and bound to the browser that asked for it (the web app runs as one process; a
challenge lost to a restart only means pressing the button again).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlite_utils import Database
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

CHALLENGE_SECONDS = 5 * 60
MAX_CREDENTIAL_JSON = 64 * 1024
MAX_NAME_CHARS = 100


class PasskeyError(ValueError):
    """The browser's answer could not be verified (wrong challenge, origin, signature, unknown passkey)."""


@dataclass(frozen=True)
class Passkey:
    id: int
    reader_id: int
    credential_id: str
    name: str
    created_at: str
    last_used_at: str | None


@dataclass(frozen=True)
class RelyingParty:
    """Who the passkeys belong to: the site's host name (`rp_id`) and its origin, from the public address."""

    rp_id: str
    origin: str
    name: str

    @classmethod
    def for_url(cls, base_url: str, name: str) -> RelyingParty:
        parts = urlsplit(base_url)
        return cls(parts.hostname or "localhost", f"{parts.scheme}://{parts.netloc}", name)


# --- Challenges ---


class Challenges:
    """One-time challenges by (purpose, browser key); taking one removes it."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], tuple[bytes, int | None, float]] = {}
        self._lock = threading.Lock()

    def put(self, purpose: str, browser: str, challenge: bytes, reader_id: int | None = None) -> None:
        now = time.monotonic()
        with self._lock:
            for key in [k for k, v in self._items.items() if v[2] < now]:
                del self._items[key]
            if len(self._items) > 10_000:  # a flood of requests: the oldest go first
                for key in sorted(self._items, key=lambda k: self._items[k][2])[:5_000]:
                    del self._items[key]
            self._items[(purpose, browser)] = (challenge, reader_id, now + CHALLENGE_SECONDS)

    def take(self, purpose: str, browser: str) -> tuple[bytes, int | None] | None:
        with self._lock:
            item = self._items.pop((purpose, browser), None)
        if item is None or item[2] < time.monotonic():
            return None
        return item[0], item[1]


# --- Stored passkeys ---


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def passkeys_for(db: Database, reader_id: int) -> list[Passkey]:
    rows = db.execute(
        "SELECT id, reader_id, credential_id, name, created_at, last_used_at FROM reader_passkeys "
        "WHERE reader_id = ? ORDER BY id",
        [reader_id],
    )
    return [Passkey(*row) for row in rows]


def delete_passkey(db: Database, reader_id: int, passkey_id: int) -> bool:
    with db.conn:
        cursor = db.execute(
            "DELETE FROM reader_passkeys WHERE id = ? AND reader_id = ?", [passkey_id, reader_id]
        )
    return cursor.rowcount == 1


# --- Registration: a signed-in reader adds a passkey ---


def registration_options(
    db: Database, rp: RelyingParty, reader_id: int, email: str, display_name: str
) -> tuple[str, bytes]:
    """(options as JSON for navigator.credentials.create, the challenge to keep)."""
    existing = db.execute("SELECT credential_id FROM reader_passkeys WHERE reader_id = ?", [reader_id])
    options = generate_registration_options(
        rp_id=rp.rp_id,
        rp_name=rp.name,
        user_name=email,
        user_id=f"reader-{reader_id}".encode(),
        user_display_name=display_name,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(row[0])) for row in existing
        ],
    )
    return options_to_json(options), options.challenge


def register(
    db: Database, rp: RelyingParty, reader_id: int, challenge: bytes, credential_json: str, name: str
) -> Passkey:
    if len(credential_json) > MAX_CREDENTIAL_JSON:
        raise PasskeyError("credential too large")
    try:
        verified = verify_registration_response(
            credential=credential_json,
            expected_challenge=challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=rp.origin,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as error:
        raise PasskeyError(str(error)) from None
    credential_id = bytes_to_base64url(verified.credential_id)
    name = " ".join(name.split())[:MAX_NAME_CHARS] or _now_iso()[:10]
    with db.conn:
        if db.execute("SELECT 1 FROM reader_passkeys WHERE credential_id = ?", [credential_id]).fetchone():
            raise PasskeyError("this passkey is already registered")
        cursor = db.execute(
            "INSERT INTO reader_passkeys (reader_id, credential_id, public_key, sign_count, name, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [reader_id, credential_id, verified.credential_public_key, verified.sign_count, name, _now_iso()],
        )
    return Passkey(cursor.lastrowid, reader_id, credential_id, name, _now_iso(), None)


# --- Authentication: signing in with a passkey ---


def authentication_options(rp: RelyingParty) -> tuple[str, bytes]:
    """Options with no list of credentials: the browser offers the reader's discoverable passkeys."""
    options = generate_authentication_options(
        rp_id=rp.rp_id,
        challenge=secrets.token_bytes(32),
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return options_to_json(options), options.challenge


def authenticate(db: Database, rp: RelyingParty, challenge: bytes, credential: dict) -> int:
    """Verify the browser's assertion; returns the reader id. Raises PasskeyError."""
    credential_id = credential.get("id") if isinstance(credential, dict) else None
    if not isinstance(credential_id, str) or len(credential_id) > 1024:
        raise PasskeyError("no credential id")
    row = db.execute(
        "SELECT id, reader_id, public_key, sign_count FROM reader_passkeys WHERE credential_id = ?",
        [credential_id],
    ).fetchone()
    if row is None:
        raise PasskeyError("unknown passkey")
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=rp.origin,
            credential_public_key=row[2],
            credential_current_sign_count=row[3],
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as error:
        raise PasskeyError(str(error)) from None
    with db.conn:
        db.execute(
            "UPDATE reader_passkeys SET sign_count = ?, last_used_at = ? WHERE id = ?",
            [verified.new_sign_count, _now_iso(), row[0]],
        )
    return row[1]
