"""Reading the next batch's files in a second process while this batch is written to the catalogue.

Parsing a book and copying its file cost about as much as writing and indexing it, and SQLite has one
writer: on a machine of two cores, a second process reading batch n+1 while the first writes batch n
nearly halves an import's time. The worker runs the same ingest as `import` (`ingest_file`); it writes
nothing but a temporary copy of each file it read into the sources folder, which the batch names or removes
(batch.py). Problems come back as message ids and parameters, translated in the importing process's
language. A library of one batch or less is read in the importing process: a worker costs its start.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import tempfile
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..i18n import gettext
from ..ingest import file_checksum, ingest_file
from ..ingest.errors import IngestError
from ..ingest.model import IngestedBook
from ..search import search_text
from ..settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Ingested:
    """The first of a record's files that the ingest accepted (EPUB before TXT), and why others were not."""

    book: IngestedBook | None = None
    checksum: str | None = None
    path: Path | None = None
    copy: Path | None = None  # a temporary copy of `path` in the sources folder, not yet anyone's
    search_texts: list[tuple[str | None, str]] | None = None  # the chapters as the search index takes them
    problems: list[tuple[str, str, dict]] = field(default_factory=list)  # (file name, msgid, params)

    def reasons(self) -> list[str]:
        return [f"{name}: {gettext(msgid, **params)}" for name, msgid, params in self.problems]

    def discard(self) -> None:
        if self.copy is not None:
            self.copy.unlink(missing_ok=True)
            self.copy = None


def ingest_record(settings: Settings, files: list[Path], language: str | None, copy: bool) -> Ingested:
    """Ingest the first file that the ingest accepts; `copy`: also copy it into the sources folder."""
    found = Ingested()
    for path in files:
        try:
            checksum = file_checksum(path)
            book = ingest_file(path, settings, source_name=path.name, checksum=checksum, language=language)
        except IngestError as error:
            found.problems.append((path.name, error.msgid, error.params))
            continue
        except Exception as error:  # a parser bug must not stop the rest of the library
            log.exception("unexpected failure importing %s", path)
            found.problems.append((path.name, "%(detail)s", {"detail": f"{type(error).__name__}: {error}"}))
            continue
        found.book, found.checksum, found.path = book, checksum, path
        found.search_texts = [(search_text(c.title), search_text(c.text)) for c in book.chapters]
        if copy and not (settings.sources_dir / f"{checksum}{path.suffix.lower()}").exists():
            found.copy = _temporary_copy(settings, path)
        return found
    return found


def _temporary_copy(settings: Settings, path: Path) -> Path:
    settings.sources_dir.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=settings.sources_dir, prefix=".import-")
    os.close(handle)
    try:
        shutil.copyfile(path, temporary)  # the kernel copies (copy_file_range/sendfile), not Python
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return Path(temporary)


def ingest_records(settings: Settings, wanted: list[tuple[list[Path], str | None]]) -> list[Ingested]:
    """`ingest_record` for each (files, language) of a batch, with copies: the worker's task."""
    return [ingest_record(settings, files, language, True) for files, language in wanted]


class Prefetch:
    """Batches handed to a worker process one ahead (`start`, then `take` in the same order), or read in
    this process when `worker` is False."""

    def __init__(self, settings: Settings, *, worker: bool):
        self.settings = settings
        # spawn, not fork: the importing process holds an open catalogue and a progress thread
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(1, mp_context=context) if worker else None
        self._queue: list[Future | list[tuple[list[Path], str | None]]] = []

    def start(self, wanted: list[tuple[list[Path], str | None]]) -> None:
        if self._pool is None:
            self._queue.append(wanted)
        else:
            self._queue.append(self._pool.submit(ingest_records, self.settings, wanted))

    def take(self) -> list[Ingested]:
        item = self._queue.pop(0)
        if isinstance(item, Future):
            return item.result()
        return ingest_records(self.settings, item)

    def close(self) -> None:
        """Stop the worker; copies of batches never taken are removed."""
        for item in self._queue:
            if isinstance(item, Future):
                try:
                    for ingested in item.result():
                        ingested.discard()
                except Exception:  # noqa: BLE001 - the worker's failure was already reported, or is moot
                    pass
        self._queue = []
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
