"""Bringing files into the catalogue: one file or whole folders, each either imported whole or not at all.

A librarian importing a shelf of files should get a report, not a traceback: every file ends as
"imported", "duplicate" or "rejected" with a reason they can act on, and one bad file never stops the rest.
The original is kept under the data directory so nothing they brought in is lost, whatever our parsers
make of it today.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlite_utils import Database

from . import access, catalogue, chapter_marks
from .i18n import gettext
from .ingest import SUPPORTED_EXTENSIONS, check_supported, file_checksum, ingest_file
from .ingest.errors import N_, IngestError
from .settings import Settings

log = logging.getLogger(__name__)

IMPORTED = "imported"
DUPLICATE = "duplicate"
REBUILT = "rebuilt"  # already in the catalogue, but its chapters were made by an older ingester
REJECTED = "rejected"
# What `--rights` and the upload form accept: the statuses, and "restricted", the old name of eligible-only.
RIGHTS = (*access.RIGHTS_STATUSES, *access.LEGACY_STATUSES)


@dataclass
class ImportResult:
    path: str
    status: str  # IMPORTED, DUPLICATE, REBUILT or REJECTED
    book_id: int | None = None
    title: str | None = None
    language: str | None = None
    chapter_count: int | None = None
    reason: str | None = None  # translated, for rejected files (and duplicates: which book)

    def as_dict(self) -> dict:
        return asdict(self)


def import_file(db: Database, settings: Settings, path: Path, *, rights: str | None = None) -> ImportResult:
    """Import one file. Never raises for a bad file: the result says what happened.

    `rights` is the new book's rights status; without one, the default_rights setting's.
    """
    path = Path(path)
    shown = str(path)
    status = access.parse_status(rights or settings.default_rights)
    if status is None:
        return ImportResult(
            shown,
            REJECTED,
            reason=gettext(
                N_("“%(value)s” is not a rights status (check ACCESSIBLE_LIB_DEFAULT_RIGHTS)."),
                value=(rights or settings.default_rights)[:60],
            ),
        )
    try:
        check_supported(path, settings)
        checksum = file_checksum(path)
        existing = catalogue.find_by_checksum(db, checksum)
        if existing is not None:
            if catalogue.needs_rebuild(db, existing):
                return rebuild_book(db, settings, existing, path=path, shown=shown)
            return _duplicate(db, shown, existing)
        book = ingest_file(path, settings, source_name=path.name, checksum=checksum)
        book.rights = status
        source_path = _keep_source(settings, path, checksum)
        try:
            book_id = catalogue.add_book(db, book, source_path=source_path)
        except catalogue.DuplicateBook as duplicate:
            return _duplicate(db, shown, duplicate.book_id)
        except BaseException:
            _forget_source(settings, source_path)
            raise
        _keep_marks(db, book_id)
    except IngestError as error:
        return ImportResult(shown, REJECTED, reason=error.translated())
    except Exception as error:  # a parser bug must not stop the other files of the batch
        log.exception("unexpected failure importing %s", path)
        detail = f"{type(error).__name__}: {error}"
        return ImportResult(
            shown, REJECTED, reason=gettext(N_("The file could not be read: %(detail)s"), detail=detail)
        )
    return ImportResult(
        shown,
        IMPORTED,
        book_id=book_id,
        title=book.title,
        language=book.language,
        chapter_count=sum(1 for chapter in book.chapters if chapter.kind != "back"),
    )


def rebuild_book(
    db: Database, settings: Settings, book_id: int, *, path: Path | None = None, shown: str | None = None
) -> ImportResult:
    """Make a book's chapters again from its file (`path`, else the copy kept when it was imported),
    keeping its id and record; its editions are marked outdated. Never raises for a bad file."""
    row = db.execute(
        "SELECT source_path, source_name, checksum, rights FROM books WHERE id = ?", [book_id]
    ).fetchone()
    if row is None:
        return ImportResult(shown or str(book_id), REJECTED, reason=gettext(N_("There is no such book.")))
    source_path, source_name, checksum, rights = row
    if path is None:
        path = settings.data_dir / source_path if source_path else None
    shown = shown or str(path or book_id)
    if path is None or not path.is_file():
        return ImportResult(
            shown, REJECTED, book_id=book_id, reason=gettext(N_("The book's source file is missing."))
        )
    try:
        book = ingest_file(path, settings, source_name=source_name or path.name, checksum=checksum)
        book.rights = rights or "public-domain"
        catalogue.rebuild_contents(db, book_id, book)
        _keep_marks(db, book_id)
    except IngestError as error:
        return ImportResult(shown, REJECTED, book_id=book_id, reason=error.translated())
    except Exception as error:  # one book's failure must not stop the others
        log.exception("unexpected failure rebuilding book %s", book_id)
        detail = f"{type(error).__name__}: {error}"
        return ImportResult(
            shown, REJECTED, book_id=book_id,
            reason=gettext(N_("The file could not be read: %(detail)s"), detail=detail),
        )  # fmt: skip
    title, language, chapter_count = db.execute(
        "SELECT title, language, chapter_count FROM books WHERE id = ?", [book_id]
    ).fetchone()
    return ImportResult(shown, REBUILT, book_id=book_id, title=title, language=language,
                        chapter_count=chapter_count)  # fmt: skip


def _duplicate(db: Database, shown: str, book_id: int) -> ImportResult:
    row = db.execute("SELECT title, language, chapter_count FROM books WHERE id = ?", [book_id]).fetchone()
    title, language, chapter_count = row if row else (None, None, None)
    return ImportResult(
        shown,
        DUPLICATE,
        book_id=book_id,
        title=title,
        language=language,
        chapter_count=chapter_count,
        reason=gettext(N_("Already in the catalogue as “%(title)s”."), title=title or book_id),
    )


def _keep_source(settings: Settings, path: Path, checksum: str) -> str:
    """Copy the original to sources/<checksum>.<ext> atomically; return its path relative to data_dir.

    Written to a temporary file in the same directory, then renamed: a crash leaves either no copy or a
    whole one, never half a file under the final name.
    """
    settings.sources_dir.mkdir(parents=True, exist_ok=True)
    target = settings.sources_dir / f"{checksum}{path.suffix.lower()}"
    relative = target.relative_to(settings.data_dir).as_posix()
    if target.exists():
        return relative
    handle, temporary = tempfile.mkstemp(dir=settings.sources_dir, prefix=".import-")
    try:
        with os.fdopen(handle, "wb") as copy, path.open("rb") as source:
            while chunk := source.read(1024 * 1024):
                copy.write(chunk)
            copy.flush()
            os.fsync(copy.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return relative


def _forget_source(settings: Settings, relative: str) -> None:
    """Remove the copy of a file whose import failed: a rejected file leaves nothing behind.

    No other book can share the copy, since copies are named by checksum and checksums are unique.
    """
    (settings.data_dir / relative).unlink(missing_ok=True)


def collect_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files to import: folders are searched recursively in sorted order.

    Inside a folder only books (.epub, .txt) are taken, hidden files and folders skipped, so that a
    README or SOURCES.md beside the books is not reported as a rejected book. A file named explicitly is
    always tried, and rejected with a reason if it is not a book.
    """
    for path in paths:
        path = Path(path)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                relative = child.relative_to(path).parts
                if (
                    child.is_file()
                    and child.suffix.lower() in SUPPORTED_EXTENSIONS
                    and not any(part.startswith(".") for part in relative)
                ):
                    yield child
        else:
            yield path


def import_paths(
    db: Database, settings: Settings, paths: Iterable[Path], *, rights: str | None = None
) -> Iterator[ImportResult]:
    """Import every file under `paths`, yielding one result per file as it is done."""
    for path in collect_files(paths):
        if not path.exists():
            yield ImportResult(str(path), REJECTED, reason=gettext(N_("There is no file at this path.")))
            continue
        yield import_file(db, settings, path, rights=rights)


def replace_file(
    db: Database, settings: Settings, book_id: int, path: Path, *, shown: str | None = None
) -> ImportResult:
    """Make `path` the book's file: ingest it, keep its copy, rebuild the chapters, keeping the book's id and
    record. For a record that had no file yet (a metadata-only book from Calibre) and for a file changed
    since it was imported. Never raises for a bad file; a file already in the catalogue as another book is
    refused, since one file is one book."""
    path = Path(path)
    shown = shown or str(path)
    row = db.execute("SELECT checksum, source_path, rights FROM books WHERE id = ?", [book_id]).fetchone()
    if row is None:
        return ImportResult(shown, REJECTED, reason=gettext(N_("There is no such book.")))
    old_checksum, old_source, rights = row
    try:
        check_supported(path, settings)
        checksum = file_checksum(path)
        other = catalogue.find_by_checksum(db, checksum)
        if other is not None and other != book_id:
            reason = _duplicate(db, shown, other).reason
            return ImportResult(shown, REJECTED, book_id=book_id, reason=reason)
        book = ingest_file(path, settings, source_name=path.name, checksum=checksum)
        book.rights = rights or "public-domain"
        source_path = _keep_source(settings, path, checksum)
        try:
            with db.conn:  # the file's fields and its chapters change together (rebuild_contents commits)
                db.execute(
                    "UPDATE books SET checksum = ?, source_path = ?, source_name = ?, source_format = ?, "
                    "language = coalesce(language, ?) WHERE id = ?",
                    [checksum, source_path, book.source_name, book.source_format, book.language, book_id],
                )
                catalogue.rebuild_contents(db, book_id, book)
        except BaseException:
            if source_path != old_source:
                _forget_source(settings, source_path)
            raise
        _keep_marks(db, book_id)
    except IngestError as error:
        return ImportResult(shown, REJECTED, book_id=book_id, reason=error.translated())
    except Exception as error:  # one book's failure must not stop the others
        log.exception("unexpected failure replacing the file of book %s", book_id)
        detail = f"{type(error).__name__}: {error}"
        return ImportResult(
            shown, REJECTED, book_id=book_id,
            reason=gettext(N_("The file could not be read: %(detail)s"), detail=detail),
        )  # fmt: skip
    if old_source and old_source != source_path and old_checksum != checksum:
        _forget_source(settings, old_source)  # named by the old checksum: no other book shares it
    title, language, chapter_count = db.execute(
        "SELECT title, language, chapter_count FROM books WHERE id = ?", [book_id]
    ).fetchone()
    return ImportResult(shown, REBUILT, book_id=book_id, title=title, language=language,
                        chapter_count=chapter_count)  # fmt: skip


def _keep_marks(db: Database, book_id: int) -> None:
    """The new chapters' reading-page content, fitted and marked now so their first readers do not wait
    for it (chapter_marks.py). After the chapters are committed: a failure here never undoes an
    import; the page then computes the content itself."""
    try:
        chapter_marks.store_book(db, book_id)
    except Exception:  # noqa: BLE001
        log.exception("could not keep the marked chapters of book %s", book_id)
