"""The first schema: books, chapters, search, edition jobs and staff (m001-m006)."""

from __future__ import annotations

from sqlite_utils import Database

from ._registry import migrations


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
    from .. import search

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
