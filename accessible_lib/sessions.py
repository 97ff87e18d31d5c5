"""Server-side sessions for readers and staff: the cookie holds a random token, the table only its hash.

Why a table and not a signed cookie: signing out must end the session for good, so that a copied cookie
stops working at once, and changing a password must end every other session of the account. A signed
cookie cannot be taken back before it expires; a row can be deleted.

- The token is 32 random bytes; the table keeps its sha256 (a fast hash is enough for a random secret of
  that length), so a copy of the database signs no one in.
- A session is made only when someone signs in, and every sign-in makes a new one (session fixation: a
  token planted before signing in is never promoted). Visitors who have not signed in have no row.
- Forms are protected by the site's one CSRF mechanism (web/csrf.py), whose token is rotated whenever a
  reader signs in or out.
- "Keep me signed in" sessions last `PERSISTENT_SECONDS` from sign-in; others end after `IDLE_SECONDS`
  without a request (the expiry slides, written at most every `TOUCH_SECONDS` to spare the database).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlite_utils import Database

PERSISTENT_SECONDS = 30 * 24 * 3600
IDLE_SECONDS = 12 * 3600
TOUCH_SECONDS = 5 * 60
READER = "reader"
STAFF = "staff"


@dataclass(frozen=True)
class ServerSession:
    id: int
    kind: str
    account_id: int
    persistent: bool
    expires_at: datetime


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def start(db: Database, kind: str, account_id: int, *, persistent: bool = False) -> str:
    """A new session for the account; returns the token for the cookie (never stored)."""
    token = secrets.token_urlsafe(32)
    now = _now()
    expires = now + timedelta(seconds=PERSISTENT_SECONDS if persistent else IDLE_SECONDS)
    with db.conn:
        # Forgotten sessions are removed here, at sign-in, so the table never grows without bound.
        db.execute("DELETE FROM sessions WHERE expires_at < ?", [_iso(now)])
        db.execute(
            "INSERT INTO sessions (token_hash, kind, account_id, persistent, created_at, expires_at, "
            "last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [token_hash(token), kind, account_id, int(persistent), _iso(now), _iso(expires), _iso(now)],
        )
    return token


def find(db: Database, kind: str, token: str | None) -> ServerSession | None:
    """The live session of this kind whose cookie holds `token`, or None (unknown, ended or expired)."""
    if not token or len(token) > 200:
        return None
    row = db.execute(
        "SELECT id, kind, account_id, persistent, expires_at FROM sessions WHERE token_hash = ? AND kind = ?",
        [token_hash(token), kind],
    ).fetchone()
    if row is None:
        return None
    expires = datetime.fromisoformat(row[4])
    now = _now()
    if expires <= now:
        return None
    session = ServerSession(row[0], row[1], row[2], bool(row[3]), expires)
    if not session.persistent:
        fresh = now + timedelta(seconds=IDLE_SECONDS)
        if (fresh - expires).total_seconds() >= TOUCH_SECONDS:
            with db.conn:
                db.execute(
                    "UPDATE sessions SET expires_at = ?, last_seen_at = ? WHERE id = ?",
                    [_iso(fresh), _iso(now), session.id],
                )
            session = ServerSession(session.id, kind, session.account_id, False, fresh)
    return session


def end(db: Database, token: str | None) -> None:
    """Sign out: the session is gone on the server, whoever holds a copy of the cookie."""
    if not token:
        return
    with db.conn:
        db.execute("DELETE FROM sessions WHERE token_hash = ?", [token_hash(token)])


def end_all(db: Database, kind: str, account_id: int, *, keep_token: str | None = None) -> None:
    """End every session of an account (a changed password or email), except the one making the change."""
    with db.conn:
        db.execute(
            "DELETE FROM sessions WHERE kind = ? AND account_id = ? AND token_hash != ?",
            [kind, account_id, token_hash(keep_token) if keep_token else ""],
        )


def count(db: Database, kind: str, account_id: int) -> int:
    return db.execute(
        "SELECT count(*) FROM sessions WHERE kind = ? AND account_id = ?", [kind, account_id]
    ).fetchone()[0]
