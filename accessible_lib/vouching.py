"""Organisations vouching for their members: one member by form or many by CSV, each becoming a pending
application whose evidence is the organisation, for staff to decide like any other (eligibility.py).

A CSV is all or nothing: if one line cannot be used, nothing is changed and every bad line is named, so
the organisation fixes its spreadsheet and sends it again without wondering who went through.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from . import readers
from .csv_upload import RowError, read_rows
from .eligibility import (
    ORGANISATION,
    PENDING,
    EligibilityError,
    check_category,
    now_iso,
    pending_application,
)
from .i18n import gettext
from .ingest.errors import N_

MAX_CSV_ROWS = 2000
MAX_CSV_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Vouch:
    line: int  # 1 for a single vouch; the CSV line number otherwise (the header is line 1)
    email: str
    category: str
    other: str


def check_vouch(db: Database, organisation_id: int, email: str, category: str, other: str, line: int = 1):
    """The member's account for a vouch, or EligibilityError saying what is wrong."""
    address = email.strip()
    try:
        address = readers.check_email(address)
    except readers.ReaderError as error:
        raise EligibilityError(error.msgid, field="email", **error.params) from None
    category, other = check_category(category.strip(), other)
    account = readers.find_reader(db, address)
    if account is None or not account.verified:
        raise EligibilityError(
            N_("No reader with a confirmed account has the email %(email)s: they sign up first."),
            field="email",
            email=address,
        )
    if account.id == organisation_id or account.role == "organisation":
        raise EligibilityError(
            N_("%(email)s is an organisation account, not a member."), field="email", email=address
        )
    if pending_application(db, account.id) is not None:
        raise EligibilityError(
            N_("%(email)s already has an application waiting for review."), field="email", email=address
        )
    return account, category, other


def vouch(db: Database, organisation_id: int, vouches: list[Vouch]) -> list[int]:
    """Vouch for every member or, if one row cannot be used, for none: (line, EligibilityError) raised as
    `VouchErrors`. Each member gets a pending application whose evidence is this organisation."""
    errors: list[tuple[int, EligibilityError | RowError]] = []
    checked = []
    seen: dict[str, int] = {}
    for row in vouches:
        try:
            account, category, other = check_vouch(db, organisation_id, row.email, row.category, row.other)
        except EligibilityError as error:
            errors.append((row.line, error))
            continue
        if account.email in seen:
            errors.append(
                (
                    row.line,
                    EligibilityError(
                        N_("%(email)s is also on line %(line)d."),
                        email=account.email,
                        line=seen[account.email],
                    ),
                )
            )
            continue
        seen[account.email] = row.line
        checked.append((account, category, other))
    if errors:
        raise VouchErrors(errors)
    ids = []
    now = now_iso()
    with db.conn:
        for account, category, other in checked:
            cursor = db.execute(
                "INSERT INTO eligibility_applications (reader_id, category, category_other, evidence_kind, "
                "organisation_id, status, submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [account.id, category, other or None, ORGANISATION, organisation_id, PENDING, now],
            )
            db.execute(
                "INSERT INTO organisation_vouches (organisation_id, reader_id, application_id, vouched_at) "
                "VALUES (?, ?, ?, ?)",
                [organisation_id, account.id, cursor.lastrowid, now],
            )
            ids.append(cursor.lastrowid)
    return ids


class VouchErrors(Exception):
    """Every line that cannot be used, each with its error: an EligibilityError (a member's row) or a
    csv_upload.RowError (the file itself), both said by `message_of`."""

    def __init__(self, errors: list[tuple[int, EligibilityError | RowError]]):
        super().__init__(f"{len(errors)} rows cannot be used")
        self.errors = errors


CSV_COLUMNS = ("email", "category", "description")


def parse_vouch_csv(data: bytes) -> list[Vouch]:
    """Rows of a members' CSV, read as every staff upload is (csv_upload: UTF-8 with or without its byte
    order mark, a header naming the columns email, category and, for "other", description). Raises
    VouchErrors with line numbers for what cannot be read at all."""
    rows, problems = read_rows(
        data,
        columns=CSV_COLUMNS,
        required=("email", "category"),
        max_bytes=MAX_CSV_BYTES,
        max_rows=MAX_CSV_ROWS,
        columns_message=gettext(
            "The first line must name the columns email and category, and description for another "
            "disability; no other column."
        ),
        too_many_message=gettext("At most %(maximum)d members at a time.", maximum=MAX_CSV_ROWS),
    )
    problems += [values for _, values in rows if isinstance(values, RowError)]
    if problems:
        raise VouchErrors([(problem.row, problem) for problem in problems])
    vouches = [
        Vouch(number, values["email"], values["category"], values.get("description", ""))
        for number, values in rows
    ]
    if not vouches:
        raise VouchErrors([(2, EligibilityError(N_("The file has no members after its first line.")))])
    return vouches


def organisation_names(db: Database, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    return dict(db.execute(f"SELECT id, name FROM readers WHERE id IN ({marks})", sorted(ids)).fetchall())


def vouched_members(db: Database, organisation_id: int) -> list[dict]:
    """The organisation's members it vouched for and where each application stands (no category: the
    organisation knows it, and the page need not repeat it)."""
    rows = db.execute(
        "SELECT r.name, r.email, a.status, v.vouched_at FROM organisation_vouches v "
        "JOIN readers r ON r.id = v.reader_id JOIN eligibility_applications a ON a.id = v.application_id "
        "WHERE v.organisation_id = ? ORDER BY v.id DESC LIMIT 500",
        [organisation_id],
    ).fetchall()
    return [dict(zip(("name", "email", "status", "vouched_at"), row, strict=True)) for row in rows]


def message_of(error: EligibilityError | RowError) -> str:
    """What to say of a line that cannot be used, in the reader's language."""
    return error.translated() if isinstance(error, EligibilityError) else error.message
