"""Reader accounts: who they are, their password, their role, and the one-time links mailed to them.

The API other parts of the library use (eligibility review, the shelf, personalised downloads):
`add_reader`, `get_reader`, `find_reader`, `list_readers`, `authenticate`, `set_role`, `set_eligible_until`,
`set_password`, `set_email`, `set_name`, `set_locale`, `is_eligible`, `as_reader` (the `access.Reader` the
pages see), and the link tokens `issue_token` / `redeem_token`.

Why it looks like this:

- Passwords follow NIST SP 800-63B: at least 8 characters and no rules about their composition (a long
  passphrase is easier to type with a braille keyboard or by voice than "Tr0ub4dor&3"), argon2id hashes,
  compared after Unicode NFKC normalisation so the same passphrase typed on another keyboard still matches.
- An email address is the account's name; it is compared in lower case. An account made by signing up is
  not usable until its address is verified by the emailed link; a reader added by a librarian is.
- Eligibility is a role with an optional end date: `eligible` means role "eligible" and not expired. The
  review flow (who approves, on what evidence) is built on top of `set_role` / `set_eligible_until`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlite_utils import Database

from . import access, sessions
from .i18n import TranslatableError
from .ingest.errors import N_

ROLES = ("reader", "eligible", "organisation")
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024  # argon2 hashes anything, but a megabyte "password" is only a way to burn CPU
MAX_NAME_CHARS = 200
MAX_EMAIL_CHARS = 254  # RFC 5321's limit on a forward path

VERIFY = "verify"
RESET = "reset"
CHANGE_EMAIL = "change-email"
TOKEN_SECONDS = {VERIFY: 3 * 24 * 3600, RESET: 3600, CHANGE_EMAIL: 24 * 3600}

# Deliberately loose: something@something.something, no spaces or control characters. The emailed link is
# the real check; a stricter pattern only turns away addresses that work.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))  # verified for unknown addresses: the same time taken


class ReaderError(TranslatableError, ValueError):
    """A value a reader cannot use; `field` names the form field it belongs to."""

    def __init__(self, message: str, *, field: str = "", **params: object):
        super().__init__(message, **params)
        self.field = field


@dataclass(frozen=True)
class ReaderAccount:
    id: int
    email: str
    name: str
    password_hash: str = field(repr=False)  # never in a log line or a traceback
    role: str
    eligible_until: str | None
    email_verified_at: str | None
    locale: str
    created_at: str
    last_login_at: str | None

    @property
    def verified(self) -> bool:
        return bool(self.email_verified_at)


_COLUMNS = (
    "id, email, name, password_hash, role, eligible_until, email_verified_at, locale, created_at, "
    "last_login_at"
)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- Checking what people type ---


def normalise_email(email: str) -> str:
    return unicodedata.normalize("NFKC", email).strip().lower()


def check_email(email: str) -> str:
    address = normalise_email(email)
    if not address:
        raise ReaderError(N_("Enter your email address."), field="email")
    if len(address) > MAX_EMAIL_CHARS or not _EMAIL.match(address) or _has_control(address):
        raise ReaderError(
            N_("Enter an email address in the form name@example.com."),
            field="email",
        )
    return address


def check_name(name: str) -> str:
    cleaned = " ".join(unicodedata.normalize("NFC", name).split())
    if not cleaned:
        raise ReaderError(N_("Enter your name."), field="name")
    if len(cleaned) > MAX_NAME_CHARS or _has_control(cleaned):
        raise ReaderError(
            N_("A name is at most %(maximum)d characters long."), field="name", maximum=MAX_NAME_CHARS
        )
    return cleaned


def normalise_password(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def check_password(password: str, *, field: str = "password") -> None:
    if not password:
        raise ReaderError(N_("Enter a password."), field=field)
    if len(password) < MIN_PASSWORD_CHARS:
        raise ReaderError(
            N_("The password must be at least %(minimum)d characters long."),
            field=field,
            minimum=MIN_PASSWORD_CHARS,
        )
    if len(password) > MAX_PASSWORD_CHARS:
        raise ReaderError(
            N_("The password must be at most %(maximum)d characters long."),
            field=field,
            maximum=MAX_PASSWORD_CHARS,
        )


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in {"Cc", "Cf", "Cs"} for ch in text)


def hash_password(password: str) -> str:
    return _hasher.hash(normalise_password(password))


def _password_matches(password_hash: str | None, password: str) -> bool:
    if len(password) > MAX_PASSWORD_CHARS:
        return False
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, normalise_password(password)) and bool(
            password_hash
        )
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# --- Accounts ---


def add_reader(
    db: Database,
    email: str,
    name: str,
    password: str,
    *,
    role: str = "reader",
    verified: bool = True,
    locale: str = "en",
    eligible_until: date | None = None,
) -> int:
    """Add a reader and return the id. Raises ReaderError for a bad value or an address already used."""
    address = check_email(email)
    cleaned = check_name(name)
    check_password(password)
    _check_role(role)
    now = _now_iso()
    with db.conn:
        if db.execute("SELECT 1 FROM readers WHERE email = ?", [address]).fetchone():
            raise ReaderError(
                N_("A reader with the email %(email)s already exists."), field="email", email=address
            )
        cursor = db.execute(
            "INSERT INTO readers (email, name, password_hash, role, eligible_until, email_verified_at, "
            "locale, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                address,
                cleaned,
                hash_password(password),
                role,
                eligible_until.isoformat() if eligible_until else None,
                now if verified else None,
                locale,
                now,
            ],
        )
        return cursor.lastrowid


def _row(row) -> ReaderAccount | None:
    return ReaderAccount(*row) if row else None


def get_reader(db: Database, reader_id: int) -> ReaderAccount | None:
    return _row(db.execute(f"SELECT {_COLUMNS} FROM readers WHERE id = ?", [reader_id]).fetchone())


def find_reader(db: Database, email: str) -> ReaderAccount | None:
    """The reader with this address (in any case), or None."""
    address = normalise_email(email)
    return _row(db.execute(f"SELECT {_COLUMNS} FROM readers WHERE email = ?", [address]).fetchone())


def list_readers(db: Database) -> list[ReaderAccount]:
    return [ReaderAccount(*row) for row in db.execute(f"SELECT {_COLUMNS} FROM readers ORDER BY id")]


def authenticate(db: Database, email: str, password: str) -> ReaderAccount | None:
    """The reader with this address and password, or None; an unknown address takes as long as a wrong
    password. The caller decides what an unverified account may do."""
    account = find_reader(db, email)
    if not _password_matches(account.password_hash if account else None, password) or account is None:
        return None
    if _hasher.check_needs_rehash(account.password_hash):
        with db.conn:
            db.execute(
                "UPDATE readers SET password_hash = ? WHERE id = ?", [hash_password(password), account.id]
            )
    return account


def record_sign_in(db: Database, reader_id: int, locale: str | None = None) -> None:
    with db.conn:
        db.execute(
            "UPDATE readers SET last_login_at = ?, locale = coalesce(?, locale) WHERE id = ?",
            [_now_iso(), locale, reader_id],
        )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ReaderError(N_("Unknown role %(role)s."), field="role", role=role)


def set_role(db: Database, reader_id: int, role: str, *, eligible_until: date | None = None) -> None:
    """Make the reader a plain reader, an eligible reader (until a date, or for good) or an organisation."""
    _check_role(role)
    with db.conn:
        db.execute(
            "UPDATE readers SET role = ?, eligible_until = ? WHERE id = ?",
            [role, eligible_until.isoformat() if eligible_until else None, reader_id],
        )


def set_eligible_until(db: Database, reader_id: int, until: date | None) -> None:
    with db.conn:
        db.execute(
            "UPDATE readers SET eligible_until = ? WHERE id = ?",
            [until.isoformat() if until else None, reader_id],
        )


def set_password(db: Database, reader_id: int, password: str, *, keep_session: str | None = None) -> None:
    """A new password; every other session of the reader ends (someone who knew the old one is out)."""
    check_password(password)
    with db.conn:
        db.execute("UPDATE readers SET password_hash = ? WHERE id = ?", [hash_password(password), reader_id])
    sessions.end_all(db, sessions.READER, reader_id, keep_token=keep_session)


def set_email(db: Database, reader_id: int, email: str) -> None:
    """A new, verified address (after its emailed link was followed). Raises ReaderError if it is taken."""
    address = check_email(email)
    with db.conn:
        other = db.execute("SELECT id FROM readers WHERE email = ?", [address]).fetchone()
        if other and other[0] != reader_id:
            raise ReaderError(
                N_("A reader with the email %(email)s already exists."), field="email", email=address
            )
        db.execute(
            "UPDATE readers SET email = ?, email_verified_at = ? WHERE id = ?",
            [address, _now_iso(), reader_id],
        )


def set_name(db: Database, reader_id: int, name: str) -> None:
    cleaned = check_name(name)
    with db.conn:
        db.execute("UPDATE readers SET name = ? WHERE id = ?", [cleaned, reader_id])


def set_locale(db: Database, reader_id: int, locale: str) -> None:
    with db.conn:
        db.execute("UPDATE readers SET locale = ? WHERE id = ?", [locale, reader_id])


def mark_verified(db: Database, reader_id: int) -> None:
    with db.conn:
        db.execute(
            "UPDATE readers SET email_verified_at = coalesce(email_verified_at, ?) WHERE id = ?",
            [_now_iso(), reader_id],
        )


def replace_unverified(db: Database, reader_id: int, name: str, password: str, locale: str) -> None:
    """Signing up again with an address never verified: the newest sign-up wins, and links mailed for an
    earlier one stop working (whoever made it did not own the address)."""
    with db.conn:
        db.execute(
            "UPDATE readers SET name = ?, password_hash = ?, locale = ? "
            "WHERE id = ? AND email_verified_at IS NULL",
            [check_name(name), hash_password(password), locale, reader_id],
        )
        db.execute("DELETE FROM reader_tokens WHERE reader_id = ? AND purpose = ?", [reader_id, VERIFY])


# --- Eligibility as the pages see it ---


def is_eligible(account: ReaderAccount, today: date | None = None) -> bool:
    """Role "eligible" and not past `eligible_until` (the last day on which it still holds)."""
    if account.role != "eligible":
        return False
    if not account.eligible_until:
        return True
    today = today or datetime.now(UTC).date()
    return date.fromisoformat(account.eligible_until[:10]) >= today


def as_reader(account: ReaderAccount, today: date | None = None) -> access.Reader:
    return access.Reader(
        id=account.id,
        name=account.name,
        email=account.email,
        role=account.role,
        eligible=is_eligible(account, today),
    )


# --- One-time links ---


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def issue_token(db: Database, reader_id: int, purpose: str, email: str, *, seconds: int | None = None) -> str:
    """A token for an emailed link; only its hash is kept. Earlier unused links for the same purpose stop
    working, so only the newest mail counts."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC).replace(microsecond=0)
    expires = now + timedelta(seconds=seconds if seconds is not None else TOKEN_SECONDS[purpose])
    with db.conn:
        db.execute("DELETE FROM reader_tokens WHERE expires_at < ?", [now.isoformat()])
        db.execute(
            "DELETE FROM reader_tokens WHERE reader_id = ? AND purpose = ? AND used_at IS NULL",
            [reader_id, purpose],
        )
        db.execute(
            "INSERT INTO reader_tokens (token_hash, reader_id, purpose, email, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [_token_hash(token), reader_id, purpose, email, now.isoformat(), expires.isoformat()],
        )
    return token


@dataclass(frozen=True)
class Redeemed:
    reader_id: int
    email: str


def peek_token(db: Database, token: str, purpose: str) -> Redeemed | None:
    """Whether a link still works, without using it up (the reset page shows its form first)."""
    if not token or len(token) > 200:
        return None
    row = db.execute(
        "SELECT reader_id, email, expires_at, used_at FROM reader_tokens "
        "WHERE token_hash = ? AND purpose = ?",
        [_token_hash(token), purpose],
    ).fetchone()
    if row is None or row[3] or datetime.fromisoformat(row[2]) <= datetime.now(UTC):
        return None
    return Redeemed(row[0], row[1])


def redeem_token(db: Database, token: str, purpose: str) -> Redeemed | None:
    """Use a link: the reader and address it was for, or None when it is unknown, used or expired.
    Marked used in the same statement that checks it, so two clicks at once cannot both succeed."""
    if not token or len(token) > 200:
        return None
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    with db.conn:
        cursor = db.execute(
            "UPDATE reader_tokens SET used_at = ? WHERE token_hash = ? AND purpose = ? AND used_at IS NULL "
            "AND expires_at > ?",
            [now, _token_hash(token), purpose, now],
        )
        if cursor.rowcount != 1:
            return None
        row = db.execute(
            "SELECT reader_id, email FROM reader_tokens WHERE token_hash = ?", [_token_hash(token)]
        ).fetchone()
    return Redeemed(row[0], row[1])


def token_was_used(db: Database, token: str, purpose: str) -> bool:
    """Whether this link was already followed (a verify link opened twice is not an error)."""
    if not token or len(token) > 200:
        return False
    row = db.execute(
        "SELECT used_at FROM reader_tokens WHERE token_hash = ? AND purpose = ?",
        [_token_hash(token), purpose],
    ).fetchone()
    return bool(row and row[0])
