"""Staff accounts and sessions: argon2 password hashes, a signed session cookie, a CSRF token per session.

Why it looks like this:

- The cookie is signed (itsdangerous) and carries the user id, a fingerprint of the password hash (so
  changing a password signs out every other session), the CSRF token, and the token of a server-side
  session (`sessions.py`, the table readers' sessions use too). Signing out deletes that session, so a
  copy of the cookie taken earlier stops working at once, not only when its timed signature runs out
  after `SESSION_SECONDS`.
- Signed-out visitors get a session too (without a user), so that the sign-in form has a CSRF token: a
  login CSRF attack would otherwise sign a librarian in to an attacker's account.
- The secret key is the `secret_key` setting, or a random key made once and kept in the data directory with
  0600 permissions, so that sessions survive a restart without anyone having to configure anything.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlite_utils import Database

from . import sessions
from .i18n import TranslatableError
from .ingest.errors import N_
from .settings import Settings

MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024  # argon2 hashes anything, but a megabyte "password" is only a way to burn CPU
SESSION_SECONDS = 12 * 3600
SESSION_SALT = "accessible-lib.staff-session"
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")

_hasher = PasswordHasher()
# Verified when the username is unknown, so that a wrong name takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class StaffError(TranslatableError, ValueError):
    """A username or password that cannot be used; `msgid` and `params` for translation at display."""


@dataclass(frozen=True)
class StaffUser:
    id: int
    username: str
    password_hash: str
    is_admin: bool = False  # an administrator manages staff accounts (staff_accounts.py) and sees settings

    @property
    def fingerprint(self) -> str:
        return password_fingerprint(self.password_hash)


# --- The secret key ---


def secret_key_for(settings: Settings) -> str:
    """The key that signs sessions (and worker reports): the setting, else one kept in data_dir/secret_key."""
    if settings.secret_key:
        return settings.secret_key
    return _stored_secret(settings.data_dir / "secret_key")


@lru_cache(maxsize=16)
def _stored_secret(path: Path) -> str:
    """Read the key, or make it. Written to a private temporary file and hard-linked into place, so that two
    processes starting together agree on one key and neither ever reads half of it."""
    if path.exists():
        return _read_secret(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret-")  # mode 0600
    try:
        with os.fdopen(handle, "w") as file:
            file.write(secrets.token_urlsafe(48) + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
    finally:
        Path(temporary).unlink(missing_ok=True)
    return _read_secret(path)


def _read_secret(path: Path) -> str:
    key = path.read_text(encoding="utf-8").strip()
    if len(key) < 32:
        raise RuntimeError(f"{path} holds no usable secret key; delete it to have a new one made")
    return key


# --- Accounts ---


def normalise_username(username: str) -> str:
    """Usernames compare without regard to case or Unicode width; stored in lower case."""
    return unicodedata.normalize("NFKC", username).strip().lower()


def check_username(username: str) -> str:
    name = normalise_username(username)
    if not _USERNAME.match(name):
        raise StaffError(
            N_(
                "A username is 1 to 64 letters a-z, digits, dots, hyphens or underscores, "
                "starting with a letter or digit."
            )
        )
    return name


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise StaffError(
            N_("The password must be at least %(minimum)d characters long."), minimum=MIN_PASSWORD_CHARS
        )
    if len(password) > MAX_PASSWORD_CHARS:
        raise StaffError(
            N_("The password must be at most %(maximum)d characters long."), maximum=MAX_PASSWORD_CHARS
        )


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def create_staff(db: Database, username: str, password: str, *, replace: bool = False) -> int:
    """Add a staff member (or, with `replace`, set a new password for an existing one); return the id."""
    name = check_username(username)
    check_password(password)
    password_hash = _hasher.hash(password)
    with db.conn:
        row = db.execute("SELECT id FROM staff_users WHERE username = ?", [name]).fetchone()
        if row is not None:
            if not replace:
                raise StaffError(N_("A staff member called %(name)s already exists."), name=name)
            db.execute("UPDATE staff_users SET password_hash = ? WHERE id = ?", [password_hash, row[0]])
            sessions.end_all(db, sessions.STAFF, row[0])
            return row[0]
        cursor = db.execute(
            "INSERT INTO staff_users (username, password_hash, created_at) VALUES (?, ?, ?)",
            [name, password_hash, _now_iso()],
        )
        return cursor.lastrowid


def get_staff(db: Database, user_id: int) -> StaffUser | None:
    row = db.execute(
        "SELECT id, username, password_hash, is_admin FROM staff_users WHERE id = ?", [user_id]
    ).fetchone()
    return StaffUser(row[0], row[1], row[2], bool(row[3])) if row else None


def authenticate(db: Database, username: str, password: str) -> StaffUser | None:
    """The staff member with this name and password, or None. Records the sign-in time."""
    name = normalise_username(username)
    row = db.execute(
        "SELECT id, username, password_hash FROM staff_users WHERE username = ?", [name]
    ).fetchone()
    if len(password) > MAX_PASSWORD_CHARS:
        return None
    try:
        _hasher.verify(row[2] if row else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    user = StaffUser(*row)
    with db.conn:
        if _hasher.check_needs_rehash(user.password_hash):
            user = StaffUser(user.id, user.username, _hasher.hash(password))
            db.execute("UPDATE staff_users SET password_hash = ? WHERE id = ?", [user.password_hash, user.id])
        db.execute("UPDATE staff_users SET last_login_at = ? WHERE id = ?", [_now_iso(), user.id])
    return user


def password_fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


# --- Sessions ---


@dataclass(frozen=True)
class Session:
    """What the cookie says: a CSRF token always; once signed in, a user id, password fingerprint and the
    token of the server-side session (which signing out deletes)."""

    csrf_token: str
    user_id: int | None = None
    fingerprint: str | None = None
    token: str | None = None

    @classmethod
    def new(cls, user: StaffUser | None = None, token: str | None = None) -> Session:
        if user is None:
            return cls(secrets.token_urlsafe(32))
        return cls(secrets.token_urlsafe(32), user.id, user.fingerprint, token)


def start_session(db: Database, user: StaffUser) -> Session:
    """Signing in: a new server-side session and a new cookie (nothing from before carries over)."""
    return Session.new(user, sessions.start(db, sessions.STAFF, user.id))


def end_session(db: Database, session: Session | None) -> None:
    """Signing out: the server forgets the session, whoever holds a copy of the cookie."""
    if session is not None and session.token:
        sessions.end(db, session.token)


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SESSION_SALT)


def dump_session(secret: str, session: Session) -> str:
    return _serializer(secret).dumps(
        {"c": session.csrf_token, "u": session.user_id, "f": session.fingerprint, "t": session.token}
    )


def load_session(secret: str, cookie: str | None, *, max_age: int = SESSION_SECONDS) -> Session | None:
    """The session in a cookie, or None when it is missing, forged, malformed or older than `max_age`."""
    if not cookie:
        return None
    try:
        data = _serializer(secret).loads(cookie, max_age=max_age)
    except BadSignature:  # also SignatureExpired
        return None
    if not isinstance(data, dict) or not isinstance(data.get("c"), str) or not data["c"]:
        return None
    user_id = data.get("u")
    if user_id is not None and not isinstance(user_id, int):
        return None
    token = data.get("t") if user_id is not None and isinstance(data.get("t"), str) else None
    return Session(data["c"], user_id, data.get("f") if user_id is not None else None, token)


def csrf_matches(session: Session | None, given: object) -> bool:
    return (
        session is not None
        and isinstance(given, str)
        and bool(given)
        and hmac.compare_digest(session.csrf_token.encode(), given.encode())
    )


def user_for_session(db: Database, session: Session | None) -> StaffUser | None:
    """The signed-in staff member: still existing, with the password the session was made with, and with
    a server-side session that has not ended."""
    if session is None or session.user_id is None or not session.token:
        return None
    live = sessions.find(db, sessions.STAFF, session.token)
    if live is None or live.account_id != session.user_id:
        return None
    user = get_staff(db, session.user_id)
    if user is None or not session.fingerprint:
        return None
    if not hmac.compare_digest(user.fingerprint, session.fingerprint):
        return None
    return user


# --- Slowing down password guessing ---


class LoginThrottle:
    """At most `limit` failed sign-ins per (address, username) and `address_limit` per address in `window`
    seconds; success forgets the (address, username) count only, so signing in to one's own account between
    guesses at another's does not reset the address's count.

    The counts are kept in SQLite (throttle.Limiter; `connect` gives the catalogue connection, else a private
    in-memory one): none is dropped before its window ends, so a flood of new usernames or addresses cannot
    reset a throttled one, and the per-address limit stops one address from trying name after name.
    It slows an online guesser down, which is all it is for; argon2 does the rest.
    """

    def __init__(
        self,
        limit: int = 5,
        window: float = 15 * 60,
        *,
        address_limit: int = 20,
        connect: Callable[[], Database] | None = None,
        bucket: str = "login",
    ):
        from .throttle import Limiter

        self.limit = limit
        self.window = window
        self.address_limit = address_limit
        self.bucket = bucket
        self._limiter = Limiter(connect)

    def _pair(self, address: str, username: str) -> str:
        return f"{address}\n{normalise_username(username)}"

    def address_wait_seconds(self, address: str, *, now: float | None = None) -> float:
        """0 when this address may try again; else how long until it may, whatever the username."""
        return self._limiter.wait_seconds(
            self.bucket + "-address", address, limit=self.address_limit, window=self.window, now=now
        )

    def wait_seconds(self, address: str, username: str, *, now: float | None = None) -> float:
        """0 when a sign-in may be tried now; else how long until it may."""
        pair = self._limiter.wait_seconds(
            self.bucket, self._pair(address, username), limit=self.limit, window=self.window, now=now
        )
        return max(pair, self.address_wait_seconds(address, now=now))

    def failed(self, address: str, username: str, *, now: float | None = None) -> None:
        self._limiter.hit(self.bucket, self._pair(address, username), window=self.window, now=now)
        self._limiter.hit(self.bucket + "-address", address, window=self.window, now=now)

    def succeeded(self, address: str, username: str) -> None:
        self._limiter.forget(self.bucket, self._pair(address, username))
