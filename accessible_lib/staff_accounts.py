"""Administrators managing staff accounts: listing, adding, removing, granting and revoking administrator.

Why the guards are in SQL: "not the last administrator" is checked in the same statement that changes the
row, so two administrators revoking each other at the same moment cannot leave the library with none.
Removing an account or revoking administrator ends every session of that account (sessions.py), so a
cookie copied earlier stops working at once, not when it would have expired.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from . import auth, sessions
from .ingest.errors import N_

MISSING = N_("There is no such staff account. It may have been removed already.")
OWN_ACCOUNT = N_("You cannot remove your own account. Another administrator can.")


@dataclass(frozen=True)
class StaffAccount:
    """What an administrator sees of an account: never its password hash."""

    id: int
    username: str
    is_admin: bool
    created_at: str
    last_login_at: str | None


def list_accounts(db: Database) -> list[StaffAccount]:
    rows = db.execute(
        "SELECT id, username, is_admin, created_at, last_login_at FROM staff_users ORDER BY username"
    ).fetchall()
    return [StaffAccount(r[0], r[1], bool(r[2]), r[3], r[4]) for r in rows]


def find(db: Database, username: str) -> StaffAccount | None:
    name = auth.normalise_username(username)
    return next((a for a in list_accounts(db) if a.username == name), None)


def get(db: Database, account_id: int) -> StaffAccount | None:
    return next((a for a in list_accounts(db) if a.id == account_id), None)


def create(db: Database, username: str, password: str, *, admin: bool = False, replace: bool = False) -> int:
    """auth.create_staff (same rules), then administrator or not."""
    account_id = auth.create_staff(db, username, password, replace=replace)
    if admin:
        with db.conn:
            db.execute("UPDATE staff_users SET is_admin = 1 WHERE id = ?", [account_id])
    return account_id


_OTHER_ADMINS = "(SELECT count(*) FROM staff_users WHERE is_admin = 1 AND id != ?) > 0"


def set_admin(db: Database, account_id: int, admin: bool, *, keep_token: str | None = None) -> None:
    """Grant or revoke administrator. Revoking ends the account's sessions (but `keep_token`'s, for an
    administrator who revokes their own right while other administrators remain)."""
    with db.conn:
        if admin:
            db.execute("UPDATE staff_users SET is_admin = 1 WHERE id = ?", [account_id])
            return
        cursor = db.execute(
            f"UPDATE staff_users SET is_admin = 0 WHERE id = ? AND (is_admin = 0 OR {_OTHER_ADMINS})",
            [account_id, account_id],
        )
        if cursor.rowcount == 0:
            raise _last_admin_error(db, account_id)
    sessions.end_all(db, sessions.STAFF, account_id, keep_token=keep_token)


def remove(db: Database, account_id: int, *, acting_id: int | None = None) -> None:
    """Delete a staff account and end its sessions; never one's own, never the last administrator."""
    if acting_id is not None and account_id == acting_id:
        raise auth.StaffError(OWN_ACCOUNT)
    with db.conn:
        cursor = db.execute(
            f"DELETE FROM staff_users WHERE id = ? AND (is_admin = 0 OR {_OTHER_ADMINS})",
            [account_id, account_id],
        )
        if cursor.rowcount == 0:
            raise _last_admin_error(db, account_id)
    sessions.end_all(db, sessions.STAFF, account_id)


def _last_admin_error(db: Database, account_id: int) -> auth.StaffError:
    if get(db, account_id) is None:
        return auth.StaffError(MISSING)
    return auth.StaffError(N_("This is the last administrator. Make another account an administrator first."))
