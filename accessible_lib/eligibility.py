"""Who may read `eligible-only` books: applications, their evidence and decisions (organisations vouching
for their members: vouching.py).

The law that lets the library make accessible copies (the Marrakesh Treaty; China's Copyright Law art.
24(12)) lets it give them only to beneficiary persons, so a reader applies with a category and one piece of
evidence, and staff decide. Why it is built like this:

- The decision is the application's (`status`, `decided_until`, `reason`); what the pages and `access.py`
  check is the reader's role, which a decision sets through `readers.set_role`. The reader's latest
  application is what `/account` tells them ("pending", "approved until ...", "denied: ...").
- A denial takes back an eligibility the reader had (the evidence did not hold), except for an
  organisation account, whose role is not an eligibility.
- A librarian may decide with no application (the CLI's `readers approve|deny` for a reader who never
  applied): a decided application of kind "staff" is recorded, so the reader's page says what happened.
- Disability data is sensitive personal data: this module never logs; the category, certificate number and
  files are shown only to the reader and reviewing staff, and every staff look is in `evidence_views`.
- A certificate number is checked for form only (its length, the citizen ID's ISO 7064 MOD 11-2 check
  character, its date of birth, the category and grade digits): whether it was really issued is for staff
  to judge, as no public register can be asked.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlite_utils import Database

from . import readers
from .i18n import TranslatableError
from .ingest.errors import N_

CATEGORIES = ("blind", "low-vision", "physical", "reading", "other")
CATEGORY_LABELS = {
    "blind": N_("Blind"),
    "low-vision": N_("Low vision"),
    "physical": N_("A physical disability that prevents holding a book or turning pages"),
    "reading": N_("A perceptual or reading disability, such as dyslexia"),
    "other": N_("Another print disability"),
}
STATEMENT = "statement"
CERTIFICATE = "certificate"
ORGANISATION = "organisation"
STAFF = "staff"
EVIDENCE_KINDS = (STATEMENT, CERTIFICATE, ORGANISATION, STAFF)

PENDING = "pending"
APPROVED = "approved"
DENIED = "denied"

MAX_OTHER_CHARS = 500
MAX_REASON_CHARS = 2000

# Chinese disability certificate (残疾人证号): the 18-character citizen ID, then category and grade.
CERTIFICATE_CHARS = 20
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"  # ISO 7064 MOD 11-2 as GB 11643 writes it: the sum mod 11 indexes this
CERTIFICATE_CATEGORIES = "1234567"  # 视力, 听力, 言语, 肢体, 智力, 精神, 多重
CERTIFICATE_GRADES = "1234"


class EligibilityError(TranslatableError, ValueError):
    """A value that cannot be used; `field` names the form field it belongs to."""

    def __init__(self, message: str, *, field: str = "", **params: object):
        super().__init__(message, **params)
        self.field = field


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in {"Cc", "Cf", "Cs"} and ch not in "\n\t" for ch in text)


# --- Checking what people type ---


def check_category(category: str, other: str = "") -> tuple[str, str]:
    """(category, the reader's description for "other", else empty)."""
    if category not in CATEGORIES:
        raise EligibilityError(N_("Choose the kind of print disability you have."), field="category")
    if category != "other":
        return category, ""
    described = " ".join(unicodedata.normalize("NFC", other).split())
    if not described:
        raise EligibilityError(N_("Describe the print disability you have."), field="category_other")
    if len(described) > MAX_OTHER_CHARS or _has_control(described):
        raise EligibilityError(
            N_("The description is at most %(maximum)d characters long."),
            field="category_other",
            maximum=MAX_OTHER_CHARS,
        )
    return category, described


def id_check_character(first17: str) -> str:
    """The 18th character of a citizen ID (GB 11643, ISO 7064 MOD 11-2) for its first 17 digits."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def normalise_certificate(number: str) -> str:
    """Full-width digits become ASCII, spaces and hyphens go, a lower-case x becomes X."""
    text = unicodedata.normalize("NFKC", number)
    return "".join(ch for ch in text if not ch.isspace() and ch != "-").upper()


def check_certificate(number: str, *, field: str = "certificate_number", today: date | None = None) -> str:
    """The normalised number, or EligibilityError naming the part that is wrong."""
    value = normalise_certificate(number)
    if not value:
        raise EligibilityError(N_("Enter your disability certificate number."), field=field)
    if len(value) != CERTIFICATE_CHARS:
        raise EligibilityError(
            N_(
                "A disability certificate number has 20 characters: the 18 of the citizen ID, then the "
                "category and the grade. You entered %(count)d."
            ),
            field=field,
            count=len(value),
        )
    if not value[:17].isascii() or not value[:17].isdigit():
        raise EligibilityError(
            N_("The first 17 characters of a disability certificate number are digits."), field=field
        )
    if value[17] not in "0123456789X":
        raise EligibilityError(N_("The 18th character is a digit or X."), field=field)
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        born = None
    today = today or datetime.now(UTC).date()
    if born is None or born > today or born.year < 1900:
        raise EligibilityError(
            N_("Characters 7 to 14 are the date of birth (year, month, day), and %(digits)s is not one."),
            field=field,
            digits=value[6:14],
        )
    if id_check_character(value[:17]) != value[17]:
        raise EligibilityError(
            N_(
                "The 18th character, the check character of the citizen ID, does not match the 17 before "
                "it. Look for a mistyped digit."
            ),
            field=field,
        )
    if value[18] not in CERTIFICATE_CATEGORIES:
        raise EligibilityError(
            N_("The 19th character is the disability category, a digit from 1 to 7."), field=field
        )
    if value[19] not in CERTIFICATE_GRADES:
        raise EligibilityError(
            N_("The 20th character is the disability grade, a digit from 1 to 4."), field=field
        )
    return value


def check_reason(reason: str) -> str:
    cleaned = unicodedata.normalize("NFC", reason).strip()
    if not cleaned:
        raise EligibilityError(N_("Give the reason, so the reader knows what to do."), field="reason")
    if len(cleaned) > MAX_REASON_CHARS or _has_control(cleaned):
        raise EligibilityError(
            N_("The reason is at most %(maximum)d characters long."), field="reason", maximum=MAX_REASON_CHARS
        )
    return cleaned


def check_until(text: str, *, today: date | None = None, field: str = "until") -> date | None:
    """An optional end date (YYYY-MM-DD); empty means no end. A past date is allowed from the CLI only."""
    text = text.strip()
    if not text:
        return None
    try:
        until = date.fromisoformat(text)
    except ValueError:
        raise EligibilityError(
            N_("Enter the date as year-month-day, for example 2030-12-31."), field=field
        ) from None
    return until


# --- Applications ---


@dataclass(frozen=True)
class Application:
    id: int
    reader_id: int
    category: str
    category_other: str | None
    evidence_kind: str
    certificate_number: str | None
    organisation_id: int | None
    status: str
    submitted_at: str
    decided_at: str | None
    decided_by: str | None
    decided_until: str | None
    reason: str | None

    @property
    def until(self) -> date | None:
        return date.fromisoformat(self.decided_until[:10]) if self.decided_until else None


_COLUMNS = (
    "id, reader_id, category, category_other, evidence_kind, certificate_number, organisation_id, status, "
    "submitted_at, decided_at, decided_by, decided_until, reason"
)


def get_application(db: Database, application_id: int) -> Application | None:
    row = db.execute(
        f"SELECT {_COLUMNS} FROM eligibility_applications WHERE id = ?", [application_id]
    ).fetchone()
    return Application(*row) if row else None


def latest_application(db: Database, reader_id: int) -> Application | None:
    row = db.execute(
        f"SELECT {_COLUMNS} FROM eligibility_applications WHERE reader_id = ? ORDER BY id DESC LIMIT 1",
        [reader_id],
    ).fetchone()
    return Application(*row) if row else None


def pending_application(db: Database, reader_id: int) -> Application | None:
    row = db.execute(
        f"SELECT {_COLUMNS} FROM eligibility_applications WHERE reader_id = ? AND status = ? "
        "ORDER BY id DESC LIMIT 1",
        [reader_id, PENDING],
    ).fetchone()
    return Application(*row) if row else None


def pending_applications(db: Database) -> list[Application]:
    """The review queue, oldest first (first come, first served)."""
    return [
        Application(*row)
        for row in db.execute(
            f"SELECT {_COLUMNS} FROM eligibility_applications WHERE status = ? ORDER BY submitted_at, id",
            [PENDING],
        )
    ]


def submit(
    db: Database,
    reader_id: int,
    category: str,
    *,
    other: str = "",
    kind: str,
    certificate_number: str | None = None,
    organisation_id: int | None = None,
) -> int:
    """A new pending application. Raises EligibilityError when one is already waiting."""
    category, other = check_category(category, other)
    if kind not in EVIDENCE_KINDS:
        raise EligibilityError(N_("Choose the evidence you give."), field="evidence")
    with db.conn:
        if pending_application(db, reader_id) is not None:
            raise EligibilityError(
                N_("You already have an application waiting for review."), field="category"
            )
        cursor = db.execute(
            "INSERT INTO eligibility_applications (reader_id, category, category_other, evidence_kind, "
            "certificate_number, organisation_id, status, submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                reader_id,
                category,
                other or None,
                kind,
                certificate_number,
                organisation_id,
                PENDING,
                now_iso(),
            ],
        )
        return cursor.lastrowid


def add_evidence_file(
    db: Database,
    application_id: int,
    reader_id: int,
    stored_name: str,
    media_type: str,
    size: int,
    sha256: str,
) -> None:
    with db.conn:
        db.execute(
            "INSERT INTO eligibility_evidence (application_id, reader_id, stored_name, media_type, size, "
            "sha256, uploaded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [application_id, reader_id, stored_name, media_type, size, sha256, now_iso()],
        )


@dataclass(frozen=True)
class EvidenceFile:
    application_id: int
    reader_id: int
    stored_name: str
    media_type: str
    size: int
    uploaded_at: str

    @property
    def extension(self) -> str:
        return {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}.get(self.media_type, "bin")


def evidence_file(db: Database, application_id: int) -> EvidenceFile | None:
    row = db.execute(
        "SELECT application_id, reader_id, stored_name, media_type, size, uploaded_at "
        "FROM eligibility_evidence WHERE application_id = ?",
        [application_id],
    ).fetchone()
    return EvidenceFile(*row) if row else None


def _decide(db: Database, application_id: int, status: str, by: str, until: date | None, reason: str | None):
    db.execute(
        "UPDATE eligibility_applications SET status = ?, decided_at = ?, decided_by = ?, decided_until = ?, "
        "reason = ? WHERE id = ?",
        [status, now_iso(), by, until.isoformat() if until else None, reason, application_id],
    )


def approve(db: Database, application_id: int, *, by: str, until: date | None = None) -> Application:
    """Approve a pending application: the reader becomes eligible (until `until`, inclusive, if given)."""
    application = get_application(db, application_id)
    if application is None or application.status != PENDING:
        raise EligibilityError(N_("This application was already decided."), field="")
    with db.conn:
        _decide(db, application_id, APPROVED, by, until, None)
    account = readers.get_reader(db, application.reader_id)
    if account is not None and account.role != "organisation":
        readers.set_role(db, application.reader_id, "eligible", eligible_until=until)
    return get_application(db, application_id)  # type: ignore[return-value]


def deny(db: Database, application_id: int, *, by: str, reason: str) -> Application:
    """Deny a pending application with a reason the reader is shown; an eligibility they had ends."""
    reason = check_reason(reason)
    application = get_application(db, application_id)
    if application is None or application.status != PENDING:
        raise EligibilityError(N_("This application was already decided."), field="")
    with db.conn:
        _decide(db, application_id, DENIED, by, None, reason)
    account = readers.get_reader(db, application.reader_id)
    if account is not None and account.role == "eligible":
        readers.set_role(db, application.reader_id, "reader")
    return get_application(db, application_id)  # type: ignore[return-value]


def decide_without_application(
    db: Database, reader_id: int, *, approved: bool, by: str, until: date | None = None, reason: str = ""
) -> Application:
    """A librarian's decision for a reader with no pending application (from the CLI): recorded as a
    decided application of kind "staff", so the reader's page says what happened."""
    if not approved:
        reason = check_reason(reason)
    with db.conn:
        cursor = db.execute(
            "INSERT INTO eligibility_applications (reader_id, category, evidence_kind, status, submitted_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [reader_id, "other", STAFF, PENDING, now_iso()],
        )
        application_id = cursor.lastrowid
    if approved:
        return approve(db, application_id, by=by, until=until)
    return deny(db, application_id, by=by, reason=reason)


# --- What the reader is told ---

NOT_APPLIED = "not-applied"
STATE_APPROVED = "approved"
STATE_EXPIRED = "expired"


@dataclass(frozen=True)
class State:
    """The reader's eligibility in words-to-be: `kind` is one of not-applied, pending, approved, expired,
    denied; `until` and `reason` fill in the sentence."""

    kind: str
    until: str = ""
    reason: str = ""
    application: Application | None = None


def state_of(db: Database, account: readers.ReaderAccount, today: date | None = None) -> State:
    application = latest_application(db, account.id)
    if application is not None and application.status == PENDING:
        return State(PENDING, application=application)
    if application is not None and application.status == DENIED:
        return State(DENIED, reason=application.reason or "", application=application)
    if account.role == "eligible":
        until = (account.eligible_until or "")[:10]
        kind = STATE_APPROVED if readers.is_eligible(account, today) else STATE_EXPIRED
        return State(kind, until=until, application=application)
    return State(NOT_APPLIED, application=application)


# --- Staff looking at evidence ---


def log_view(db: Database, application: Application, staff_username: str, action: str) -> None:
    with db.conn:
        db.execute(
            "INSERT INTO evidence_views (application_id, reader_id, staff_username, action, viewed_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [application.id, application.reader_id, staff_username, action, now_iso()],
        )


def log_views(db: Database, applications: list[Application], staff_username: str, action: str) -> None:
    now = now_iso()
    with db.conn:
        db.conn.executemany(
            "INSERT INTO evidence_views (application_id, reader_id, staff_username, action, viewed_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [(a.id, a.reader_id, staff_username, action, now) for a in applications],
        )


def recent_views(db: Database, limit: int = 200, offset: int = 0) -> list[dict]:
    rows = db.execute(
        "SELECT id, application_id, staff_username, action, viewed_at FROM evidence_views "
        "ORDER BY id DESC LIMIT ? OFFSET ?",
        [limit, offset],
    ).fetchall()
    keys = ("id", "application_id", "staff_username", "action", "viewed_at")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def view_count(db: Database) -> int:
    return db.execute("SELECT count(*) FROM evidence_views").fetchone()[0]
