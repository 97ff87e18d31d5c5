"""Running one conversion: the contract between whoever asks (a queue worker, `accessible-lib convert`)
and the converters.

A converter is `convert(book, options, workspace, progress) -> files`: `book` is the dict from
`editions.export`, `options` are already normalised, files are written into `workspace` only, and `progress`
is called as work advances. The caller decides what progress means (a lease renewal, a progress bar) and
may raise `Stop` from it to abandon the work; nothing here knows about queues or databases.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from braille import chinese as braille_chinese
from voices import lexicon
from voices.lexicon import Entry

from ..identifiers import edition_identifier
from .export import book_identifier
from .formats import EditionFormat, get_format, normalise_options

Progress = Callable[[float, str], None]
Converter = Callable[[dict, dict, Path, Progress], list[dict]]


class Stop(Exception):
    """Raised by a progress callback to abandon a conversion (the queue does so when its lease is lost)."""


def run_conversion(book: dict, format: str, options: dict, workspace: Path, progress: Progress) -> list[dict]:
    """Convert `book` into `workspace`; return its files as {name, media_type, size, sha256}.

    Raises KeyError for an unknown format, formats.OptionError (a ValueError) for bad options, Stop when
    `progress` stopped it, and whatever the converter raised for a book it cannot convert.
    """
    fmt = get_format(format)
    options = normalise_options(fmt, options)
    converter = load_converter(fmt)
    if not book.get("edition_identifier"):  # a payload queued before identifiers, or `accessible-lib convert`
        book = {**book, "edition_identifier": edition_identifier(book_identifier(book), fmt.name, options)}
    workspace = Path(workspace)
    with book_lexicon(book):
        files = converter(book, options, workspace, _Forward(progress))
    for record in files:
        path = workspace / record["name"]
        if path.parent != workspace or not path.is_file() or path.stat().st_size != record["size"]:
            raise RuntimeError(
                f"converter {fmt.converter} reported a file it did not write: {record['name']}"
            )
    return files


@contextlib.contextmanager
def book_lexicon(book: dict) -> Iterator[None]:
    """The book's pronunciation entries (export's `pronunciations`) for speech and Chinese braille while it
    converts; a payload without them keeps the starter readings."""
    if book.get("pronunciations") is None:
        yield
        return
    entries = [Entry(**entry) for entry in book["pronunciations"]]
    before = braille_chinese.readings()
    with lexicon.use(entries) as active:
        braille_chinese.set_readings(active.chinese_readings())
        try:
            yield
        finally:
            braille_chinese.set_readings(before)


def load_converter(fmt: EditionFormat) -> Converter:
    module_name, _, function = fmt.converter.partition(":")
    if not module_name or not function:
        raise LookupError(f"edition format {fmt.name!r} names no converter")
    return getattr(importlib.import_module(module_name), function)


class _Forward:
    """Progress as people expect it: between 0 and 1 and never going backwards."""

    def __init__(self, progress: Progress):
        self._progress = progress
        self._done = 0.0

    def __call__(self, fraction: float, step: str) -> None:
        self._done = max(self._done, min(1.0, max(0.0, float(fraction))))
        self._progress(self._done, step)


class OutputFile:
    """A new file in the workspace whose size and sha256 are counted as it is written.

    It cannot seek, so `zipfile` writes it front to back (with data descriptors) and the checksum never
    needs a second read of the file. Closing flushes it to disk.
    """

    def __init__(self, workspace: Path, name: str, media_type: str):
        if Path(name).name != name or name.startswith("."):
            raise ValueError(f"not a plain file name: {name!r}")
        self.name = name
        self.media_type = media_type
        self.size = 0
        self._digest = hashlib.sha256()
        self._file = open(Path(workspace) / name, "xb")  # noqa: SIM115 - closed by close()

    def write(self, data: bytes) -> int:
        self._file.write(data)
        self._digest.update(data)
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def record(self) -> dict:
        return {
            "name": self.name,
            "media_type": self.media_type,
            "size": self.size,
            "sha256": self._digest.hexdigest(),
        }

    def __enter__(self) -> OutputFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
