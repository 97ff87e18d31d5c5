"""The catalogue schema as named migrations, applied in order and never edited once released.

Add a new migration at the end for every change; sqlite-utils records which ones have run.
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("accessible_lib")


@migrations()
def m001_catalogue(db: Database) -> None:
    db["books"].create(
        {
            "id": int,
            "title": str,
            "subtitle": str,
            "language": str,
            "description": str,
            "publisher": str,
            "date": str,
            "rights": str,  # "public-domain" or "restricted"
            "rights_statement": str,  # dc:rights as the source says it
            "source_format": str,  # "epub" or "txt"
            "source_name": str,  # file name as the librarian gave it
            "source_path": str,  # copy kept under the data directory, relative to it
            "checksum": str,  # sha256 of the source file: duplicates are recognised by it
            "added_at": str,  # ISO 8601, UTC
            "chapter_count": int,
            "word_count": int,
            "char_count": int,
        },
        pk="id",
        not_null={"title", "checksum", "added_at"},
        defaults={"rights": "public-domain", "chapter_count": 0, "word_count": 0, "char_count": 0},
    )
    db["books"].create_index(["checksum"], unique=True)
    db["books"].create_index(["added_at"])
    db["books"].create_index(["language"])

    db["book_authors"].create(
        {"book_id": int, "position": int, "name": str, "role": str},
        pk=("book_id", "position"),
        foreign_keys=[("book_id", "books", "id")],
    )
    db["book_authors"].create_index(["name"])

    db["book_subjects"].create(
        {"book_id": int, "subject": str},
        pk=("book_id", "subject"),
        foreign_keys=[("book_id", "books", "id")],
    )
    db["book_subjects"].create_index(["subject"])

    db["book_identifiers"].create(
        {"book_id": int, "scheme": str, "value": str},
        pk=("book_id", "scheme", "value"),
        foreign_keys=[("book_id", "books", "id")],
    )

    db["chapters"].create(
        {
            "id": int,
            "book_id": int,
            "position": int,  # 1-based reading order
            "level": int,  # nesting level from the table of contents, 1 = top
            "title": str,
            "lang": str,  # BCP 47, set only when it differs from the book's
            "html": str,  # sanitised semantic HTML
            "text": str,  # plain text, paragraphs separated by blank lines
            "word_count": int,
            "char_count": int,
        },
        pk="id",
        foreign_keys=[("book_id", "books", "id")],
    )
    db["chapters"].create_index(["book_id", "position"], unique=True)

    db["toc_entries"].create(
        {
            "id": int,
            "book_id": int,
            "position": int,
            "level": int,
            "title": str,
            "chapter_position": int,
            "fragment": str,
        },
        pk="id",
        foreign_keys=[("book_id", "books", "id")],
    )
    db["toc_entries"].create_index(["book_id", "position"], unique=True)

    db["resources"].create(
        {"id": int, "book_id": int, "name": str, "media_type": str, "data": bytes},
        pk="id",
        foreign_keys=[("book_id", "books", "id")],
    )
    db["resources"].create_index(["book_id", "name"], unique=True)

    db["editions"].create(
        {
            "id": int,
            "book_id": int,
            "format": str,
            "options": str,  # JSON
            "status": str,  # queued, running, done, failed
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        foreign_keys=[("book_id", "books", "id")],
    )
    db["editions"].create_index(["book_id", "format"])


@migrations()
def m002_search(db: Database) -> None:
    """Full-text search tables (see accessible_lib/search.py for why they look as they do)."""
    from . import search

    search.create_search_tables(db)
    search.rebuild_index(db)


@migrations()
def m003_edition_jobs(db: Database) -> None:
    """Editions become durable jobs: progress, a lease that a running worker renews, retries, output files.

    The lease, not the queue, is the truth about running work: Huey does not redeliver a task whose worker was
    killed (coleifer/huey#559), so an edition whose lease expired is requeued by a periodic check.
    """
    editions = db["editions"]
    for name, kind in [
        ("options_key", str),  # canonical JSON of the options: (book, format, options_key) is unique
        ("progress", int),  # 0-100
        ("step", str),  # what is being done now, for people
        ("eta_seconds", int),  # estimated time left, from the measured speed
        ("error", str),  # why it failed, in words staff can act on
        ("attempts", int),
        ("lease_token", str),  # the holder of the current attempt; reports with another token are ignored
        ("lease_expires_at", float),  # unix time
        ("retry_at", float),  # unix time before which a queued retry must not start
        ("requested_by", str),
        ("queued_at", str),
        ("started_at", str),
        ("finished_at", str),
        ("storage_key", str),  # where the published files are, for the storage backend
        ("total_bytes", int),
    ]:
        editions.add_column(name, kind)
    db.execute("UPDATE editions SET options_key = coalesce(options, '{}'), progress = 0, attempts = 0")
    editions.create_index(["book_id", "format", "options_key"], unique=True)
    editions.create_index(["status"])
    db["edition_files"].create(
        {
            "id": int,
            "edition_id": int,
            "position": int,
            "name": str,  # file name inside the edition's storage directory
            "media_type": str,
            "size": int,
            "sha256": str,
        },
        pk="id",
        foreign_keys=[("edition_id", "editions", "id")],
    )
    db["edition_files"].create_index(["edition_id", "position"], unique=True)


@migrations()
def m004_staff(db: Database) -> None:
    """Staff accounts: who may upload, edit and request editions. Only argon2 hashes are stored."""
    db["staff_users"].create(
        {
            "id": int,
            "username": str,  # lower case, see auth.normalise_username
            "password_hash": str,  # argon2id, in the PHC string format argon2-cffi writes
            "created_at": str,
            "last_login_at": str,
        },
        pk="id",
        not_null={"username", "password_hash", "created_at"},
    )
    db["staff_users"].create_index(["username"], unique=True)


@migrations()
def m005_chapter_audio_files(db: Database) -> None:
    """What a file of an edition is for: the MP3 edition also publishes each chapter's MP3 for the player on
    the book page ("listen"), with its chapter number, title and length in seconds."""
    files = db["edition_files"]
    for name, kind in [("role", str), ("chapter", int), ("title", str), ("seconds", float)]:
        files.add_column(name, kind)


@migrations()
def m006_chapters_from_contents(db: Database) -> None:
    """Chapters follow the book's table of contents (issue 10), so a book remembers which version of the
    chapter splitting made its chapters: `accessible-lib import` of the same file again, or
    `accessible-lib rebuild-chapters`, rebuilds books an older one made. Back matter (Project Gutenberg's
    header and licence) is a chapter `kind`; editions made from chapters that were since rebuilt are
    `outdated_at`, kept and served until staff rebuild them."""
    db["books"].add_column("ingest_version", int, not_null_default=1)
    db["chapters"].add_column("kind", str, not_null_default="body")
    db["editions"].add_column("outdated_at", str)


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
    from . import identifiers

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


@migrations()
def m014_calibre(db: Database) -> None:
    """Calibre libraries (issue 12): what a Calibre record holds that ours did not (author sort, series and
    its index), and which Calibre book each of our books came from, so importing the same library again
    updates its books instead of adding them twice. A Calibre book is known by its library's uuid and its own
    uuid, not by a path: the library can move. No foreign key to books: a book deleted here is simply
    imported again as new."""
    books = db["books"]
    books.add_column("author_sort", str)
    books.add_column("series", str)
    books.add_column("series_index", float)
    db["book_authors"].add_column("sort", str)
    db["calibre_books"].create(
        {
            "library_uuid": str,
            "book_uuid": str,
            "book_id": int,
            "metadata_hash": str,  # of the record as last imported: a change updates ours
            "file_checksum": str,  # sha256 of the file last ingested, None for a metadata-only record
            "calibre_added_at": str,  # Calibre's timestamp and last_modified, ISO 8601
            "calibre_modified_at": str,
            "imported_at": str,
        },
        pk=("library_uuid", "book_uuid"),
        not_null={"book_id"},
    )
    db["calibre_books"].create_index(["book_id"])


@migrations()
def m015_search_fold(db: Database) -> None:
    """Search as Chinese and English readers type (issue 12): Traditional and Simplified characters are
    folded together in every index, titles and authors get pinyin keys (a new `book_fts` column), and the
    words of titles and authors are kept for "Did you mean". Every index is rebuilt: the chapter index holds
    folded text now, through the same SQL function as before (see search.py and search_chinese.py)."""
    from . import search

    search.recreate_book_index(db)


@migrations()
def m016_oai(db: Database) -> None:
    """OAI-PMH (issue 12, part 4): when each book's record last changed, and the books deleted since.

    A harvester asks for the records changed `from` a date, so every book needs a datestamp that moves
    whenever anything its record shows changes: its row (title, rights, ...), its authors, subjects and
    identifiers, and its finished editions (the formats it lists). Triggers keep `books.modified_at`, rather
    than each writer remembering to: staff edits, the Calibre import, rights CSVs, re-imports and code not
    written yet all change it the same way. An UPDATE that sets `modified_at` itself is left as it is.

    A deleted book must still be reported as deleted (deletedRecord "persistent"), so its id, when and its
    language and subjects (for the sets) stay in `oai_tombstones`. Book ids can be reused by SQLite: a new
    book with a tombstone's id takes the identifier back, and the tombstone goes.
    """
    now = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"
    db["books"].add_column("modified_at", str)
    db.execute(f"UPDATE books SET modified_at = coalesce(strftime('%Y-%m-%dT%H:%M:%SZ', added_at), {now})")
    db["books"].create_index(["modified_at", "id"])
    db["oai_tombstones"].create(
        {"book_id": int, "deleted_at": str, "language": str, "subjects": str},  # subjects: JSON list
        pk="book_id",
        not_null={"deleted_at"},
    )
    db["oai_tombstones"].create_index(["deleted_at", "book_id"])
    # `modified_at IS NOT now`: no update at all when it is already this second, so that the triggers, which
    # fire each other (sqlite-utils turns recursive triggers on), stop.
    touch = f"UPDATE books SET modified_at = {now} WHERE id = {{row}}.book_id AND modified_at IS NOT {now};"
    statements = [
        f"""CREATE TRIGGER oai_book_added AFTER INSERT ON books WHEN NEW.modified_at IS NULL BEGIN
              UPDATE books SET modified_at = {now} WHERE id = NEW.id;
            END""",
        """CREATE TRIGGER oai_book_id_reused AFTER INSERT ON books
              WHEN EXISTS (SELECT 1 FROM oai_tombstones WHERE book_id = NEW.id) BEGIN
              DELETE FROM oai_tombstones WHERE book_id = NEW.id;
            END""",
        f"""CREATE TRIGGER oai_book_changed AFTER UPDATE ON books
              WHEN NEW.modified_at IS OLD.modified_at BEGIN
              UPDATE books SET modified_at = {now} WHERE id = NEW.id AND modified_at IS NOT {now};
            END""",
        f"""CREATE TRIGGER oai_book_deleted AFTER DELETE ON books BEGIN
              INSERT OR REPLACE INTO oai_tombstones (book_id, deleted_at, language, subjects)
              VALUES (OLD.id, {now}, OLD.language,
                      (SELECT json_group_array(subject) FROM book_subjects WHERE book_id = OLD.id));
            END""",
    ]
    for table in ("book_authors", "book_subjects", "book_identifiers"):
        statements += [
            f"CREATE TRIGGER oai_{table}_added AFTER INSERT ON {table} BEGIN {touch.format(row='NEW')} END",
            f"CREATE TRIGGER oai_{table}_removed AFTER DELETE ON {table} BEGIN {touch.format(row='OLD')} END",
            f"""CREATE TRIGGER oai_{table}_changed AFTER UPDATE ON {table} BEGIN
                  {touch.format(row="OLD")} {touch.format(row="NEW")}
                END""",
        ]
    statements += [
        f"""CREATE TRIGGER oai_edition_finished AFTER UPDATE OF status ON editions
              WHEN (NEW.status = 'done') IS NOT (OLD.status = 'done') BEGIN {touch.format(row="NEW")} END""",
        f"""CREATE TRIGGER oai_edition_removed AFTER DELETE ON editions
              WHEN OLD.status = 'done' BEGIN {touch.format(row="OLD")} END""",
    ]
    for statement in statements:
        db.execute(statement)


@migrations()
def m017_harvest(db: Database) -> None:
    """The union catalogue (issue 12, part 5): other libraries' records, harvested over OAI-PMH or OPDS 2.0.

    A harvested record is a row of `books` like any other, so search, browse and the book page find it with
    no code of their own; `source_id` says which library holds it (NULL: our own book), `remote_id` is its
    identifier there (OAI identifier, OPDS metadata.identifier) and `remote_url` the record's page there.
    Such a book has no chapters, files or editions here: it is metadata that links out, and it is left out of
    our own OPDS and OAI-PMH feeds (re-exporting other libraries' records would send them round in circles).
    A record the source deletes is withdrawn (`harvest_deleted_at` set), not deleted, so shelves and links
    that point at it keep a row; it comes back if the source brings it back.

    A run stages what it fetched in `harvest_staging` and applies it to `books` only once every page has
    been fetched and parsed, so a run stopped by a broken or hostile feed changes nothing; `harvest_sources`
    keeps where the next run starts (`last_datestamp`, advanced only by a run that completed) and
    `harvest_runs` what each run did or why it failed, for staff."""
    db["harvest_sources"].create(
        {
            "id": int,
            "name": str,  # the library as readers see it: "Held by <name>"
            "base_url": str,  # what `accessible-lib harvest URL` was given, normalised
            "protocol": str,  # "oai" or "opds"
            "home_url": str,  # the library's own site, for the "Held by" link
            "added_at": str,
            "last_datestamp": str,  # OAI-PMH: `from` of the next run (responseDate of the last complete one)
            "last_run_at": str,
            "last_success_at": str,
            "last_status": str,  # "ok", "failed" or "running"
            "last_error": str,
            "record_count": int,  # records it holds here, withdrawn ones not counted
        },
        pk="id",
        not_null={"name", "base_url", "protocol", "added_at"},
        defaults={"record_count": 0},
    )
    db["harvest_sources"].create_index(["base_url"], unique=True)
    db["harvest_runs"].create(
        {
            "id": int,
            "source_id": int,
            "started_at": str,
            "finished_at": str,
            "status": str,  # "running", "ok" or "failed"
            "incremental_from": str,  # the `from` it asked for, None for a full harvest
            "pages": int,
            "added": int,
            "updated": int,
            "deleted": int,
            "error": str,  # the translated message staff and the command line saw
        },
        pk="id",
        not_null={"source_id", "started_at", "status"},
        defaults={"pages": 0, "added": 0, "updated": 0, "deleted": 0},
        foreign_keys=[("source_id", "harvest_sources", "id")],
    )
    db["harvest_runs"].create_index(["source_id", "id"])
    db["harvest_staging"].create(
        {"run_id": int, "seq": int, "remote_id": str, "deleted": int, "record": str},  # record: JSON
        pk=("run_id", "seq"),
    )
    books = db["books"]
    books.add_column("source_id", int)
    books.add_column("remote_id", str)
    books.add_column("remote_url", str)
    books.add_column("harvest_deleted_at", str)
    books.add_column(
        "harvest_hash", str
    )  # of the record as last harvested: an unchanged one is not rewritten
    books.create_index(["source_id", "remote_id"], unique=True)


@migrations()
def m018_reading_prefs(db: Database) -> None:
    """Reading preferences kept in the reader's account (issue 13, part 4): text size, theme, spacing, line
    length and font, in the compact form of `reading_prefs.encode` ("text_size:200.theme:contrast"). A column,
    not a table: one short value per reader, read at sign-in, exported and deleted with the account.
    NULL: never saved (the browser's cookie is kept at sign-in); "": saved as the defaults."""
    db["readers"].add_column("reading_prefs", str)


@migrations()
def m020_stats(db: Database) -> None:
    """Statistics (issue 14, parts 1 and 2), as daily counts only: no column names a reader (see stats.py).

    `stats_daily`: this library's figures, one row per day, metric and key (a query, a format), added to by
    an UPSERT. `stats_salts` and `stats_seen`: today's salt and the salted digests of the readers already
    counted as active today, deleted once the day is over. `stats_members`: the daily figures member
    libraries sent (rollup.py), replaced whole for each day they send again. `rollup_state`: how far this
    library's own sending to its parent has got, and when to try again after a failure."""
    db["stats_daily"].create(
        {"day": str, "metric": str, "key": str, "count": int},
        pk=("day", "metric", "key"),
        not_null={"day", "metric", "key", "count"},
        defaults={"key": "", "count": 0},
    )
    db["stats_daily"].create_index(["metric", "day"])
    db["stats_salts"].create({"day": str, "salt": str}, pk="day", not_null={"salt"})
    db["stats_seen"].create({"day": str, "digest": str}, pk=("day", "digest"))
    db["stats_members"].create(
        {"member": str, "day": str, "metric": str, "key": str, "value": float, "received_at": str},
        pk=("member", "day", "metric", "key"),
        not_null={"value", "received_at"},
    )
    db["stats_members"].create_index(["day"])
    db["rollup_state"].create(
        {
            "id": int,  # always 1: one parent
            "accepted_through": str,  # the last day the parent accepted; everything after it is sent again
            "failures": int,  # failed attempts in a row, for the backoff
            "next_attempt_at": float,  # unix time; none before it after a failure
            "last_error": str,
            "last_sent_at": str,
        },
        pk="id",
    )


@migrations()
def m023_pronunciations(db: Database) -> None:
    """The pronunciation dictionary (issue 13, part 3): readings that every speech engine and Chinese braille
    use instead of their own guesses. book_id NULL: every book. Seeded with the table voices/chinese.py held
    before (何曾, 落下, 只 after a number), so speech does not change the day the dictionary arrives."""
    # A copy of voices.chinese.READINGS as it was, not an import: a released migration never changes.
    numbers = {"一": "yi4", "两": "liang3", "三": "san1", "四": "si4", "五": "wu3", "六": "liu4", "七": "qi1",
               "八": "ba1", "九": "jiu3", "十": "shi2", "几": "ji3", "半": "ban4", "每": "mei3"}  # fmt: skip
    starter = {"何曾": "he2 ceng2", "落下": "luo4 xia4"} | {n + "只": f"{p} zhi1" for n, p in numbers.items()}
    db.execute(
        """CREATE TABLE pronunciations (
            id INTEGER PRIMARY KEY,
            lang TEXT NOT NULL,
            written TEXT NOT NULL,
            reading TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('pinyin', 'respelling', 'phonemes')),
            whole_word INTEGER NOT NULL DEFAULT 1,
            case_sensitive INTEGER NOT NULL DEFAULT 0,
            book_id INTEGER REFERENCES books(id) ON DELETE CASCADE,
            note TEXT NOT NULL DEFAULT '',
            created_by TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            updated_by TEXT NOT NULL DEFAULT '',
            updated_at TEXT NOT NULL
        )"""
    )
    db.execute(
        "CREATE UNIQUE INDEX pronunciations_unique ON pronunciations (lang, written, IFNULL(book_id, 0))"
    )
    now = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"
    for written, reading in starter.items():
        db.execute(
            f"""INSERT INTO pronunciations (lang, written, reading, kind, note, created_by, created_at,
                updated_by, updated_at) VALUES ('zh', ?, ?, 'pinyin', 'starter', 'migration', {now},
                'migration', {now})""",
            [written, reading],
        )


@migrations()
def m026_scale(db: Database) -> None:
    """A catalogue version (issue 12, part 1): one number that moves with every change a reader's lists
    could show, so each web process can keep its browse counts until the catalogue changes.

    `books.modified_at` is not enough: it counts seconds, and two changes in one second (a book withdrawn
    just after the lists were counted) would leave a withdrawn book listed. A counter bumped by triggers
    moves on every change, from every writer (staff pages, imports, the rights CSV, harvests, other
    processes), and reading it is one row.

    Also two indexes for the browse pages' title order.
    """
    # A browse list of books is in title order, 20 at a time: with these indexes SQLite reads the first
    # 20 in order instead of sorting every book of a language (half the catalogue) or every book at all.
    db.execute("CREATE INDEX books_title_order ON books (title COLLATE NOCASE, id)")
    db.execute("CREATE INDEX books_language_title_order ON books (language, title COLLATE NOCASE, id)")
    db.execute("CREATE TABLE catalogue_version (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL)")
    db.execute("INSERT INTO catalogue_version (id, n) VALUES (1, 0)")
    bump = "UPDATE catalogue_version SET n = n + 1 WHERE id = 1;"
    for table in ("books", "book_authors", "book_subjects", "editions"):
        for event in ("INSERT", "UPDATE", "DELETE"):
            # An edition's progress is written often while it builds; only its status shows in a list.
            what = "UPDATE OF status" if (table, event) == ("editions", "UPDATE") else event
            db.execute(
                f"CREATE TRIGGER catalogue_version_{table}_{event.lower()} AFTER {what} ON {table} "
                f"BEGIN {bump} END"
            )


@migrations()
def m027_harvest_jobs(db: Database) -> None:
    """Harvests run as jobs on the queue, by a worker, not in a thread of the web process.

    `job_status` is the harvest job of a source as staff see it: "queued" (asked for, waiting for a worker),
    "running" (a worker has it) or NULL (none); `job_since` is when it entered that state. Asking for a
    harvest sets "queued" only where there is no job, in one statement, so two clicks (or two web processes)
    never queue two harvests of the same library. A job older than the harvest time limit is taken for one
    whose worker was killed, and may be asked for again."""
    db["harvest_sources"].add_column("job_status", str)
    db["harvest_sources"].add_column("job_since", str)


@migrations()
def m029_search(db: Database) -> None:
    """`book_words`: the words each book holds anywhere, one row per book, so that "every phrase somewhere
    in the book" is one FTS5 query instead of a lookup per book and phrase (search_presence.py). Filling it
    reads every chapter through the search text function once: minutes at 150,000 books."""
    from . import search, search_presence

    search.register_functions(db.conn)
    search_presence.create(db, search.TOKENIZE)
    search_presence.rebuild(db)


@migrations()
def m028_pages(db: Database) -> None:
    """The catalogue version (m026_scale) also moves with the rest of what a book's page shows: its
    identifiers, contents, chapter titles and the library that holds a harvested record. Anonymous
    visitors' book pages are kept per version (web/page_cache.py), so a change to any of these must be
    seen at once, as a change to the book's own row is. Chapter text is not on the book page: an UPDATE of
    a chapter's html (a re-render) does not move it.

    Also two indexes for what each web process computes as it starts and after each change: new arrivals
    in order without sorting every book, and the visible books' counts (the book count, the languages
    and formats lists, the visible ids the subject and author lists join) from a small covering index
    instead of the wide rows."""
    db.execute("CREATE INDEX books_newest ON books (added_at DESC, id DESC)")
    db.execute(
        "CREATE INDEX books_visible_counts ON books (rights_status, source_id, language, chapter_count)"
    )
    bump = "UPDATE catalogue_version SET n = n + 1 WHERE id = 1;"
    watched = {
        "book_identifiers": ("INSERT", "UPDATE", "DELETE"),
        "toc_entries": ("INSERT", "UPDATE", "DELETE"),
        "chapters": ("INSERT", "UPDATE OF position, level, title, kind, word_count", "DELETE"),
        "harvest_sources": ("UPDATE OF name, home_url", "DELETE"),
    }
    for table, events in watched.items():
        for event in events:
            name = f"catalogue_version_{table}_{event.split()[0].lower()}"
            db.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN {bump} END")


@migrations()
def m030_zh_pairs(db: Database) -> None:
    """`chapter_pairs`: each run of Chinese characters in chapter text indexed as its overlapping pairs, so a
    Chinese phrase is a few short lists instead of the position lists of its common characters
    (search_pairs.py). Filling it reads every chapter through the pairs function once: minutes at 150,000
    books (docs/scaling.md)."""
    from . import search, search_pairs

    search.register_functions(db.conn)
    search_pairs.create(db, f"((book_id << {search.CHAPTER_BITS}) + position)")
    db.execute(f"INSERT INTO {search_pairs.TABLE} ({search_pairs.TABLE}) VALUES ('rebuild')")
    search.optimize_indexes(db)  # every index in one segment: each term looked up once, not once a segment


@migrations()
def m031_chapter_marks(db: Database) -> None:
    """`chapter_marks`: each chapter's reading-page content, fitted and with its sentences marked, kept so
    the chapter page does not redo that work (two thirds of its CPU) on every visit (web/stored_marks.py).
    A row is used only while its `key` (a digest of everything the marks depend on) matches the chapter;
    a stale or missing row is computed as before. Empty here: `accessible-lib fill-marks` fills it, and
    imports and rebuilds fill their own books. A deleted chapter takes its row with it."""
    db.execute(
        """CREATE TABLE chapter_marks (
               book_id INTEGER NOT NULL,
               position INTEGER NOT NULL,
               key TEXT NOT NULL,
               html TEXT NOT NULL,
               title_html TEXT NOT NULL,
               sentences INTEGER NOT NULL,
               PRIMARY KEY (book_id, position)
           )"""
    )
    db.execute(
        "CREATE TRIGGER chapter_marks_chapter_delete AFTER DELETE ON chapters BEGIN "
        "DELETE FROM chapter_marks WHERE book_id = old.book_id AND position = old.position; END"
    )


@migrations()
def m032_search(db: Database) -> None:
    """`book_pairs`: the Chinese character pairs of every record, as `chapter_pairs` holds those of chapters,
    so a Chinese phrase finds records through short lists (search_pairs.py). Filled from `book_fts`: records
    are small, seconds at 150,000 books."""
    from . import search, search_pairs

    search.register_functions(db.conn)
    search_pairs.create_book_table(db)
    search_pairs.rebuild_records(db)
    db.execute(f"INSERT INTO {search_pairs.BOOK_TABLE} ({search_pairs.BOOK_TABLE}) VALUES ('optimize')")
