"""Readers and their rights (m007-m013): accounts, passkeys, rights, identifiers, downloads, shelves,
security and eligibility.
"""

from __future__ import annotations

from sqlite_utils import Database

from ._registry import migrations


@migrations()
def m007_readers(db: Database) -> None:
    """Reader accounts (issue 11, part 1), the one-time links mailed to them, and server-side sessions.

    Only hashes of secrets are stored: argon2 for passwords, sha256 for the random tokens of sessions and
    emailed links (they are long and random, so a fast hash is enough, and a leaked database signs no one
    in). `sessions` is shared by readers and staff (`kind`), so signing out deletes the row and a copied
    cookie stops working. `eligible_until` is the end of an approved eligibility (a date, inclusive); the
    eligibility review fills it in.
    """
    db["readers"].create(
        {
            "id": int,
            "email": str,  # lower case, see readers.normalise_email
            "name": str,
            "password_hash": str,  # argon2id
            "role": str,  # "reader", "eligible" or "organisation"
            "eligible_until": str,  # ISO date; empty: no end (only meaningful for role "eligible")
            "email_verified_at": str,  # empty until the emailed link was followed
            "locale": str,  # interface language for mails sent when the reader is not on the site
            "created_at": str,
            "last_login_at": str,
        },
        pk="id",
        not_null={"email", "name", "password_hash", "role", "created_at"},
        defaults={"role": "reader", "locale": "en"},
    )
    db["readers"].create_index(["email"], unique=True)

    db["reader_tokens"].create(
        {
            "id": int,
            "token_hash": str,  # sha256 hex of the token in the emailed link
            "reader_id": int,
            "purpose": str,  # "verify", "reset" or "change-email"
            "email": str,  # the address the link was sent to (the new one, for a change of email)
            "created_at": str,
            "expires_at": str,
            "used_at": str,
        },
        pk="id",
        not_null={"token_hash", "reader_id", "purpose", "created_at", "expires_at"},
        foreign_keys=[("reader_id", "readers", "id")],
    )
    db["reader_tokens"].create_index(["token_hash"], unique=True)
    db["reader_tokens"].create_index(["reader_id", "purpose"])

    db["sessions"].create(
        {
            "id": int,
            "token_hash": str,  # sha256 hex of the cookie's value
            "kind": str,  # "reader" or "staff"
            "account_id": int,  # readers.id or staff_users.id
            "persistent": int,  # 1: "keep me signed in" (a dated cookie); 0: a browser-session cookie
            "created_at": str,
            "expires_at": str,  # the server forgets the session after this, whatever the cookie says
            "last_seen_at": str,
        },
        pk="id",
        not_null={"token_hash", "kind", "account_id", "created_at", "expires_at"},
        defaults={"persistent": 0},
    )
    db["sessions"].create_index(["token_hash"], unique=True)
    db["sessions"].create_index(["kind", "account_id"])
    db["sessions"].create_index(["expires_at"])

    # Administrators (who will manage staff accounts and settings) are staff with this flag; nothing reads it
    # yet, and `accessible-lib create-staff` makes ordinary staff.
    db["staff_users"].add_column("is_admin", int, not_null_default=0)


@migrations()
def m007_reader_passkeys(db: Database) -> None:
    """Passkeys (WebAuthn) of reader accounts: a sign-in that needs no typing. Only the public key is kept;
    the private key never leaves the reader's device. `credential_id` is base64url, as browsers send it."""
    db["reader_passkeys"].create(
        {
            "id": int,
            "reader_id": int,
            "credential_id": str,
            "public_key": bytes,  # COSE key, as the webauthn package returns it
            "sign_count": int,
            "name": str,  # what the reader calls it ("my phone"), or the date it was added
            "created_at": str,
            "last_used_at": str,
        },
        pk="id",
        not_null={"reader_id", "credential_id", "public_key", "created_at"},
        defaults={"sign_count": 0},
        foreign_keys=[("reader_id", "readers", "id")],
    )
    db["reader_passkeys"].create_index(["credential_id"], unique=True)
    db["reader_passkeys"].create_index(["reader_id"])


@migrations()
def m008_rights(db: Database) -> None:
    """Rights per book (issue 11, part 3): a status that decides who may read the book (`access.py`), the
    licence of an openly licensed book, who holds the rights and a note for staff. Books marked
    "restricted" before become `eligible-only`, which is what that meant; `rights` stays, kept in step, for
    older scripts that read it."""
    books = db["books"]
    books.add_column("rights_status", str, not_null_default="public-domain")
    for name in ("licence_name", "licence_url", "rights_holder", "rights_note"):
        books.add_column(name, str)
    db.execute("UPDATE books SET rights_status = 'eligible-only' WHERE rights = 'restricted'")
    books.create_index(["rights_status"])


@migrations()
def m009_identifiers(db: Database) -> None:
    """Persistent identifiers (issue 11, part 6): every book and edition gets one that survives re-import,
    rebuilt chapters and staff edits, resolvable at /id/... (see accessible_lib/identifiers.py). Books
    already here get theirs now: their file's valid ISBN or UUID, else a minted urn:uuid."""
    from .. import identifiers

    db["books"].add_column("identifier", str)
    db["editions"].add_column("identifier", str)
    identifiers.assign_missing(db)
    db["books"].create_index(["identifier"], unique=True)
    db["editions"].create_index(["identifier"], unique=True)


@migrations()
def m010_downloads(db: Database) -> None:
    """The download log (issue 11, part 4): each personalised download of a restricted book's edition file
    gets an id, printed on the copy's title page and written into its metadata. The row is all the state a
    download has: the stamped bytes are made again from it for every request, so a resumed download (a
    Range request to the link carrying the id) gets the same bytes; staff look a leaked copy up by its id."""
    db["downloads"].create(
        {
            "id": str,  # the download id as printed: 12 digits in groups of four, "4821-9930-1174"
            "reader_id": int,
            "reader_name": str,  # as stamped: a later change of name must not change the copy's bytes
            "edition_id": int,
            "file_name": str,
            "created_at": str,  # ISO 8601, UTC
            "sha256": str,  # of the stamped bytes, once served whole (or computed by a staff look-up)
            "size": int,  # of the stamped file
        },
        pk="id",
        not_null={"reader_id", "reader_name", "edition_id", "file_name", "created_at"},
        foreign_keys=[("edition_id", "editions", "id")],
    )
    db["downloads"].create_index(["reader_id", "created_at"])
    db["downloads"].create_index(["edition_id"])


@migrations()
def m011_shelf(db: Database) -> None:
    """The reader's shelf (issue 11, part 5): favourites, bookmarks, the last reading and listening position
    per book (which is also the reading history), and downloads. Rows go with their reader (ON DELETE
    CASCADE), so deleting an account leaves nothing of its shelf behind; see accessible_lib/shelf.py."""
    reader = "reader_id INTEGER NOT NULL REFERENCES readers(id) ON DELETE CASCADE"
    book = "book_id INTEGER NOT NULL REFERENCES books(id) ON DELETE CASCADE"
    script = f"""
        CREATE TABLE shelf_favourites (
            {reader}, {book}, added_at TEXT NOT NULL, PRIMARY KEY (reader_id, book_id));
        CREATE TABLE shelf_bookmarks (
            id INTEGER PRIMARY KEY, {reader}, {book},
            chapter INTEGER,          -- chapter position (1-based) of a reading bookmark
            paragraph INTEGER,        -- paragraph in that chapter (1-based), NULL: the chapter itself
            audio_chapter INTEGER,    -- chapter (1-based, in the player's list) of a listening bookmark
            audio_seconds REAL,       -- and the time in it
            note TEXT,
            created_at TEXT NOT NULL);
        CREATE INDEX shelf_bookmarks_reader ON shelf_bookmarks (reader_id, book_id);
        CREATE TABLE shelf_reading (
            {reader}, {book}, chapter INTEGER NOT NULL, paragraph INTEGER,
            first_read_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (reader_id, book_id));
        CREATE INDEX shelf_reading_recent ON shelf_reading (reader_id, updated_at);
        CREATE TABLE shelf_listening (
            {reader}, {book}, edition_id INTEGER REFERENCES editions(id) ON DELETE SET NULL,
            chapter INTEGER NOT NULL, seconds REAL NOT NULL, rate REAL NOT NULL DEFAULT 1,
            updated_at TEXT NOT NULL, PRIMARY KEY (reader_id, book_id));
        CREATE INDEX shelf_listening_recent ON shelf_listening (reader_id, updated_at);
        CREATE TABLE shelf_downloads (
            id INTEGER PRIMARY KEY, {reader}, {book},
            edition_id INTEGER REFERENCES editions(id) ON DELETE SET NULL,
            format TEXT, file_name TEXT, downloaded_at TEXT NOT NULL);
        CREATE INDEX shelf_downloads_recent ON shelf_downloads (reader_id, downloaded_at);
        """
    for statement in script.split(";"):  # one by one: executescript would commit the migration's transaction
        if statement.strip():
            db.execute(statement)


@migrations()
def m012_security(db: Database) -> None:
    """Counters that must hold across web processes and restarts (issue 11, part 7): failed sign-ins and
    braille requests per address or account (`throttle_events`, kept until they leave their window, so a
    flood of new names cannot push old failures out), and the nonces of signed worker reports already
    seen (`worker_nonces`, kept while their timestamp is still accepted), so a captured report cannot be
    sent again."""
    db["throttle_events"].create(
        {"bucket": str, "key": str, "at": float, "expires_at": float},
        not_null={"bucket", "key", "at", "expires_at"},
    )
    db["throttle_events"].create_index(["bucket", "key", "at"])
    db["throttle_events"].create_index(["expires_at"])
    db["worker_nonces"].create({"nonce": str, "expires_at": float}, pk="nonce", not_null={"expires_at"})
    db["worker_nonces"].create_index(["expires_at"])


@migrations()
def m013_eligibility(db: Database) -> None:
    """Eligibility to read `eligible-only` books (issue 11, part 2): applications, their evidence, the
    organisations that vouch for members, and who among staff looked at evidence.

    Every table that holds a reader's data has a `reader_id` column: `personal_data.py` finds the rows of a
    reader for export and deletion by that name, so a later table that follows the rule is included without
    changing it. Only metadata of an uploaded statement is here; the file is under the data directory
    (`evidence/`), by a random name. `decided_until` is inclusive, like `readers.eligible_until`.
    """
    db["eligibility_applications"].create(
        {
            "id": int,
            "reader_id": int,
            "category": str,  # eligibility.CATEGORIES
            "category_other": str,  # the reader's own words when category is "other"
            "evidence_kind": str,  # "statement", "certificate", "organisation" or "staff" (no evidence)
            "certificate_number": str,  # 残疾人证号, normalised
            "organisation_id": int,  # readers.id of the vouching organisation
            "status": str,  # "pending", "approved" or "denied"
            "submitted_at": str,
            "decided_at": str,
            "decided_by": str,  # staff username, or "cli"
            "decided_until": str,  # ISO date, approved applications only; empty: no end
            "reason": str,  # why it was denied, shown to the reader
        },
        pk="id",
        not_null={"reader_id", "category", "evidence_kind", "status", "submitted_at"},
        foreign_keys=[("reader_id", "readers", "id")],
    )
    db["eligibility_applications"].create_index(["reader_id", "id"])
    db["eligibility_applications"].create_index(["status", "submitted_at"])

    db["eligibility_evidence"].create(
        {
            "id": int,
            "application_id": int,
            "reader_id": int,
            "stored_name": str,  # random file name under <data_dir>/evidence
            "media_type": str,  # from the file's first bytes, never from its name
            "size": int,
            "sha256": str,
            "uploaded_at": str,
        },
        pk="id",
        not_null={"application_id", "reader_id", "stored_name", "media_type", "size", "uploaded_at"},
        foreign_keys=[("application_id", "eligibility_applications", "id"), ("reader_id", "readers", "id")],
    )
    db["eligibility_evidence"].create_index(["application_id"], unique=True)

    db["organisation_vouches"].create(
        {
            "id": int,
            "organisation_id": int,  # readers.id of the organisation account
            "reader_id": int,  # the member vouched for
            "application_id": int,
            "vouched_at": str,
        },
        pk="id",
        not_null={"organisation_id", "reader_id", "application_id", "vouched_at"},
        foreign_keys=[("reader_id", "readers", "id"), ("application_id", "eligibility_applications", "id")],
    )
    db["organisation_vouches"].create_index(["organisation_id"])
    db["organisation_vouches"].create_index(["reader_id"])

    # The audit of staff looking at evidence: no disability data, only who, when and which application.
    db["evidence_views"].create(
        {
            "id": int,
            "application_id": int,
            "reader_id": int,  # whose evidence: they see this log in their export
            "staff_username": str,
            "action": str,  # "queue", "review" or "download"
            "viewed_at": str,
        },
        pk="id",
        not_null={"application_id", "reader_id", "staff_username", "action", "viewed_at"},
    )
    db["evidence_views"].create_index(["viewed_at"])
