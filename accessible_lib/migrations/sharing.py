"""Sharing with other libraries (m014-m017): the Calibre import, folded search, the OAI-PMH provider and
harvests.
"""

from __future__ import annotations

from sqlite_utils import Database

from ._registry import migrations


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
    from .. import search

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
