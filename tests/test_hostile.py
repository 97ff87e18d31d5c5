"""Every hostile file has one right outcome, stated here: rejected for a stated reason, or imported safely.

The issue's words: zip bombs, zip-slip, billion laughs and external entities, broken zips, missing
container or package, absolute and escaping paths, non-UTF-8 names; in little memory, nothing written
outside the data directory, no external entity resolved and no URL opened, and the catalogue unchanged
after a rejection. An imported book keeps its text and loses every script, event handler and reference
outside itself. Bombs are generated here: the corpus holds none. The time limits only catch a hang (a
bomb expanded instead of refused) and leave room for a busy machine; speed is for benchmarks.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from accessible_lib.catalogue import add_book
from accessible_lib.db import open_database
from accessible_lib.ingest.epub import read_epub
from accessible_lib.ingest.errors import IngestError
from accessible_lib.settings import Settings
from tests.test_ingest_epub import make_epub, xhtml

HOSTILE = Path(__file__).parent / "corpus" / "hostile"
ARCHIVE_SUFFIXES = {".epub", ".zip", ".z01", ".notzip"}
HOSTILE_FILES = sorted(p for p in HOSTILE.rglob("*") if p.suffix in ARCHIVE_SUFFIXES)
TABLES = ["books", "book_authors", "book_subjects", "book_identifiers", "chapters", "toc_entries",
          "resources"]  # fmt: skip
SECRET = "TOP-SECRET-7f3a9c"
HANG_SECONDS = 120  # far above the second or so each file takes: only a runaway parse gets near it

# Why a file is rejected: the English msgid of the IngestError, by a short name.
REASONS = {
    "empty": "The file is empty.",
    "not-zip": "The file is not a ZIP archive (an EPUB is a ZIP).",
    "split": "The file is one part of a split ZIP archive; join the parts first.",
    "name-encoding": "A file name inside the archive is not valid UTF-8 (%(name)s).",
    "duplicate-entry": "The archive holds two entries named %(name)s.",
    "symlink": "The archive holds a symbolic link (%(name)s); an EPUB never does.",
    "no-container": "The EPUB has no META-INF/container.xml, so its contents cannot be found.",
    "no-package": "The package document %(name)s named in container.xml is missing.",
    "no-chapters": "The EPUB has no readable chapters.",
    "entities": "The file %(name)s declares XML entities, which can hide a denial-of-service attack or "
    "read other files; it is refused.",
    "bomb-ratio": "An entry would expand %(ratio)d times its compressed size, more than the limit of "
    "%(limit)d: the file looks like a zip bomb.",
    "damaged": "The entry %(name)s is damaged and cannot be read.",
    "bomb-total": "The archive would expand to more than %(limit)d bytes: the file looks like a zip bomb.",
    "too-many-entries": "The archive holds %(count)d entries, more than the limit of %(limit)d.",
}
MINIMAL = ("Minimal EPUB 3.0", 1, "Call me Ishmael.")  # epubcheck's fixture book: one chapter, "Loomings"


def rejected(reason: str) -> tuple[str, str]:
    return ("rejected", reason)


def imported(title: str, chapters: int | None, phrase: str) -> tuple[str, str, int | None, str]:
    """Imported with this title and number of chapters (None: a real book, however it is split), `phrase`
    in the text, and nothing active left."""
    return ("imported", title, chapters, phrase)


# Each file's outcome, decided by reading the file (see tests/corpus/SOURCES.md for where each comes from).
# epubcheck's "-error" verdicts are about conformance: a fault that cannot hurt (a wrong mimetype, a name
# that would clash on a case-insensitive disk: nothing is ever extracted) is tolerated, as reading systems
# do, and the book imported. A file that is not an EPUB, or whose chapters lie outside it, is rejected.
EXPECTED = {
    # container.xml holds an unexpected element, but names the package: readable.
    "epubcheck-ocf/ocf-container-content-model-error.epub": imported(*MINIMAL),
    "epubcheck-ocf/ocf-container-file-missing-fatal.epub": rejected("no-container"),
    # A Word document renamed .epub: a ZIP, but no container.
    "epubcheck-ocf/ocf-container-not-ocf-error.epub": rejected("no-container"),
    # encryption.xml holds a container document, so nothing is encrypted: readable.
    "epubcheck-ocf/ocf-encryption-content-model-error.epub": imported(*MINIMAL),
    # "|" and other names Windows forbids: harmless, nothing is written to disk.
    "epubcheck-ocf/ocf-filename-character-forbidden-error.epub": imported(*MINIMAL),
    "epubcheck-ocf/ocf-filename-character-forbidden-non-publication-resource-error.epub": imported(*MINIMAL),
    "epubcheck-ocf/ocf-filename-character-non-ascii-usage.epub": imported(*MINIMAL),
    "epubcheck-ocf/ocf-filename-character-space-warning.epub": imported(*MINIMAL),
    # Names equal after Unicode normalisation or case folding: distinct entries in memory, the spine
    # names one (normalisation) or both (case folding) as chapters.
    "epubcheck-ocf/ocf-filename-duplicate-after-canonical-normalization-error.epub": imported(*MINIMAL),
    "epubcheck-ocf/ocf-filename-duplicate-after-common-case-folding-error.epub": imported(
        "Minimal EPUB 3.0", 2, "Call me Ishmael."
    ),
    "epubcheck-ocf/ocf-filename-duplicate-after-compatibility-normalization-valid.epub": imported(
        "Minimal EPUB 3.0", 2, "Call me Ishmael."
    ),
    "epubcheck-ocf/ocf-filename-duplicate-after-full-case-folding-error.epub": imported(
        "Minimal EPUB 3.0", 2, "Call me Ishmael."
    ),
    # Two entries with the very same name: which one is the chapter is ambiguous.
    "epubcheck-ocf/ocf-filename-duplicate-zip-entry-error.epub": rejected("duplicate-entry"),
    # Latin-1 bytes in a name without the UTF-8 flag: the name's encoding is unknown.
    "epubcheck-ocf/ocf-filename-not-utf8-error.epub": rejected("name-encoding"),
    "epubcheck-ocf/ocf-filename-utf8-valid.epub": imported(*MINIMAL),
    "epubcheck-ocf/ocf-filepath-not-utf8-error.epub": rejected("name-encoding"),
    "epubcheck-ocf/ocf-filepath-utf8-valid.epub": imported(*MINIMAL),
    "epubcheck-ocf/ocf-meta-inf-with-publication-resource-error.epub": imported(*MINIMAL),
    # A missing or wrong mimetype entry is noted and tolerated: the container says where the book is.
    "epubcheck-ocf/ocf-mimetype-file-incorrect-value-error.epub": imported(*MINIMAL),
    "epubcheck-ocf/ocf-mimetype-file-leading-spaces-error.epub": imported(*MINIMAL),
    "epubcheck-ocf/ocf-mimetype-file-missing-error.epub": imported(*MINIMAL),
    "epubcheck-ocf/ocf-mimetype-file-trailing-newline-error.epub": imported(*MINIMAL),
    "epubcheck-ocf/ocf-mimetype-file-trailing-spaces-error.epub": imported(*MINIMAL),
    # The obfuscated resource is an XML file outside the spine; the chapter is plain.
    "epubcheck-ocf/ocf-obfuscation-not-font-error.epub": imported(*MINIMAL),
    "epubcheck-ocf/ocf-package-document-missing-fatal.epub": rejected("no-package"),
    # The manifest's chapter climbs out of the container ("../../../../EPUB/...", "/EPUB/..."): there is no
    # chapter inside the book, and nothing outside it is read.
    "epubcheck-ocf/ocf-url-leaking-in-opf-error.epub": rejected("no-chapters"),
    "epubcheck-ocf/ocf-url-path-absolute-error.epub": rejected("no-chapters"),
    "epubcheck-ocf/ocf-zip-mimetype-entry-extra-field-error.epub": imported(*MINIMAL),
    "epubcheck-ocf/ocf-zip-unreadable-empty-fatal.epub": rejected("empty"),
    "epubcheck-ocf/ocf-zip-unreadable-image-with-epub-extension-fatal.epub": rejected("not-zip"),
    "epubcheck-ocf/ocf-zip-unreadable-no-end-header-fatal.epub": rejected("not-zip"),
    "epubcheck-ocf/ocf-zip-valid.epub": imported(*MINIMAL),
    # A whole book whose only fault is the order of the ZIP's entries.
    "realworld/moby-dick-mimetype-not-first.epub": imported("Moby-Dick", None, "Call me Ishmael."),
    # The package names chapters, titlepage and nav that the archive does not hold: only images are there.
    "realworld/readium-tiny3-bad-nonascii-filenames.epub": rejected("no-chapters"),
    "w3c-epub-tests/mol-tts_single.epub": imported("mol-tts_single", 2, "Call me Ishmael."),
    # Images that climb out of the container lose their source and keep their description.
    "w3c-epub-tests/ocf-url_link-leaking-relative.epub": imported(
        "ocf-url_link-leaking-relative", 1, "Photo of a large medieval building"
    ),
    "w3c-epub-tests/ocf-url_link-path-absolute.epub": imported(
        "ocf-url_link-path-absolute", 1, "Photo of a large medieval building"
    ),
    # Scripts that compute URLs: the scripts go, the text stays.
    "w3c-epub-tests/ocf-url_parse-leaking-relative.epub": imported(
        "ocf-url_parse-leaking-relative", 1, "does not support scripting"
    ),
    "w3c-epub-tests/ocf-url_parse-path-absolute.epub": imported(
        "ocf-url_parse-path-absolute", 1, "does not support scripting"
    ),
    "w3c-epub-tests/ocf-zip-mult.z01": rejected("split"),
    "w3c-epub-tests/pkg-lang_but_not_content.epub": imported(
        "Le contenu n'est pas automatiquement français", 1, "Le mieux est l'ennemi du bien"
    ),
    # An SVG in a data: URL, with no description: dropped.
    "w3c-epub-tests/pub-data-urls_top-level-content.epub": imported(
        "pub-data-urls_top-level-content", 2, "Data URL not opening"
    ),
    # iframes onto file:///var/log/...: gone; the text naming them stays.
    "w3c-epub-tests/pub-file-urls.epub": imported("pub-file-urls", 1, "file:///var/log/lastlog"),
    "w3c-epub-tests/pub-xml-external-id.epub": rejected("entities"),
    # An unclosed <p>: the HTML parser recovers the text, as a browser would; the reader loses nothing.
    "w3c-epub-tests/pub-xml-non-validating_unclosed.epub": imported(
        "pub-xml-non-validating_unclosed", 1, "This paragraph has an unclosed tag."
    ),
    "w3c-epub-tests/scr-support.epub": imported("scr-support", 1, "does not support scripting"),
    "w3c-epub-tests/sec-untrusted-consent_scripting.epub": imported(
        "sec-untrusted-consent_scripting", 1, "No script has been executed."
    ),
    # Go's archive/zip test files: ZIPs, some odd, none an EPUB.
    "zip-format/go-crc32-not-streamed.zip": rejected("no-container"),
    "zip-format/go-dd.zip": rejected("no-container"),
    "zip-format/go-dupdir.zip": rejected("no-container"),
    "zip-format/go-readme.notzip": rejected("not-zip"),
    "zip-format/go-subdir.zip": rejected("no-container"),
    "zip-format/go-symlink.zip": rejected("symlink"),
    # The central directory's size field is wrong: Python's zipfile (rightly, for untrusted input) refuses it.
    "zip-format/go-test-baddirsz.zip": rejected("not-zip"),
    "zip-format/go-test-prefix.zip": rejected("no-container"),
    "zip-format/go-test-trailing-junk.zip": rejected("no-container"),
    "zip-format/go-unix.zip": rejected("no-container"),
    "zip-format/go-utf8-7zip.zip": rejected("no-container"),
    "zip-format/go-utf8-infozip.zip": rejected("no-container"),
    # UTF-8 bytes without the UTF-8 flag: by the format the encoding is unknown (Go says NonUTF8 too).
    "zip-format/go-utf8-osx.zip": rejected("name-encoding"),
    "zip-format/go-utf8-winrar.zip": rejected("no-container"),
    "zip-format/go-utf8-winzip.zip": rejected("no-container"),
    "zip-format/go-zip64-2.zip": rejected("no-container"),
    "zip-format/go-zip64.zip": rejected("no-container"),
}
# Not archives at all (loose XML and XSLT attacks, epubcheck's feature file): the importer refuses them by
# their suffix before reading a byte; tests/test_hostile_cli.py checks that.
NOT_ARCHIVES = sorted(p for p in HOSTILE.rglob("*") if p.is_file() and p.suffix not in ARCHIVE_SUFFIXES)
# Left in the HTML of an imported book, any of these could run code or reach outside the book.
ACTIVE_TAGS = ["script", "iframe", "frame", "object", "embed", "applet", "form", "link", "meta", "style",
               "base"]  # fmt: skip
URL_ATTRIBUTES = ["href", "src", "srcset", "xlink:href", "data", "action", "formaction", "poster",
                  "background", "cite", "longdesc"]  # fmt: skip


def raw_zip(entries: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A ZIP written by hand: (name, deflated data, crc, declared size, method) per entry.

    zipfile cannot store pre-compressed data or lie about sizes; an attacker's tool can.
    """
    local, central = bytearray(), bytearray()
    for name, data, crc, size, method in entries:
        encoded = name.encode()
        header = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0x800, method, 0, 0, crc,
                             len(data), size, len(encoded), 0)  # fmt: skip
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0x800, method, 0, 0,
                               crc, len(data), size, len(encoded), 0, 0, 0, 0, 0, len(local))  # fmt: skip
        central += encoded
        local += header + encoded + data
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central),
                      len(local), 0)  # fmt: skip
    return bytes(local + central + end)


def zeros_deflated(megabytes: int) -> tuple[bytes, int]:
    """Deflate data and CRC of `megabytes` MiB of zeros, built from one compressed block repeated."""
    chunk = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(chunk, crc)
    return block * megabytes + final, crc


def generated_hostile_files(folder: Path, port: int, secret_file: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    data, crc = zeros_deflated(1024)
    bomb = folder / "bomb-1gb-zeros.epub"
    mimetype = b"application/epub+zip"
    bomb.write_bytes(raw_zip([("mimetype", mimetype, zlib.crc32(mimetype), len(mimetype), 0),
                              ("OEBPS/zeros.xhtml", data, crc, 1 << 30, 8)]))  # fmt: skip
    small, small_crc = zeros_deflated(64)
    liar = folder / "bomb-size-lies.epub"
    liar.write_bytes(raw_zip([("OEBPS/zeros.xhtml", small, small_crc, 1000, 8)]))
    many = folder / "too-many-entries.epub"
    with zipfile.ZipFile(many, "w") as archive:
        for index in range(Settings().max_zip_entries + 1):
            archive.writestr(f"f{index}.txt", "")
    laughs = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    doctype = f'<!DOCTYPE html [<!ENTITY lol0 "lol">{laughs}]>'
    billion = xhtml("<p>&lol9;</p>").replace("<html", doctype + "<html", 1)
    make_epub(folder / "billion-laughs.epub", {"c.xhtml": billion})
    url = f"http://127.0.0.1:{port}/"
    for name, system_id in (("file", secret_file.as_uri()), ("http", url + "entity")):
        entity = f'<!DOCTYPE html [<!ENTITY xxe SYSTEM "{system_id}">]>'
        chapter = xhtml("<p>&xxe;</p>").replace("<html", entity + "<html", 1)
        make_epub(folder / f"external-entity-{name}.epub", {"c.xhtml": chapter})
        opf_entity = f'<!DOCTYPE package [<!ENTITY xxe SYSTEM "{system_id}">]>'
        metadata = "<dc:title>&xxe;</dc:title><dc:language>en</dc:language>"
        path = make_epub(folder / f"external-entity-opf-{name}.epub", {"c.xhtml": xhtml("<p>x</p>")},
                         metadata=metadata)  # fmt: skip
        _inject_doctype(path, "OEBPS/content.opf", opf_entity)
    # Harmless-looking references to outside things: must import, and load none of them.
    outside = (
        f'<p><img src="{url}img.png" alt="remote"/><img src="{secret_file.as_uri()}" alt="local"/>'
        f'<a href="{url}link">a link</a> <a href="{secret_file}">abs</a></p>'
        f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{secret_file.as_uri()}" '
        'parse="text"/>'
    )
    dtd = f'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.1//EN" "{url}xhtml11.dtd">'
    page = xhtml(outside, head=f'<title>t</title><link rel="stylesheet" href="{url}s.css"/>')
    make_epub(folder / "external-references.epub", {"c.xhtml": page.replace("<html", dtd + "<html", 1)})
    return sorted(folder.iterdir())


def _inject_doctype(path: Path, name: str, doctype: str) -> None:
    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    text = entries[name].decode()
    entries[name] = text.replace("<package", doctype + "<package", 1).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry, data in entries.items():
            archive.writestr(entry, data)


class Listener:
    """A local HTTP-ish server that only counts connections: any connection is a failure."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.socket.close()


@pytest.fixture(scope="module")
def listener():
    server = Listener()
    yield server
    server.close()


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("secret") / "secret.txt"
    path.write_text(SECRET)
    return path


@pytest.fixture(scope="module")
def generated(tmp_path_factory, listener, secret_file) -> list[Path]:
    return generated_hostile_files(tmp_path_factory.mktemp("generated"), listener.port, secret_file)


def _counts(db) -> dict[str, int]:
    return {table: db[table].count for table in TABLES}


def _check_one(path: Path, db) -> str:
    before = _counts(db)
    started = time.monotonic()
    try:
        book = read_epub(path, Settings(), checksum=f"{hash(path):x}", source_name=path.name)
    except IngestError as error:
        assert str(error).strip() and error.translated().strip()
        assert _counts(db) == before
        outcome = ("rejected", next(k for k, msgid in REASONS.items() if msgid == error.msgid))
    else:
        add_book(db, book)
        assert _counts(db)["books"] == before["books"] + 1
        outcome = ("imported", book.title)
    assert time.monotonic() - started < HANG_SECONDS
    return outcome


def assert_nothing_active(html: str) -> None:
    """No script, no event handler, no reference to anything outside the book (a URL with a scheme, an
    absolute path, a path climbing out); `resource:` and `chapter:` name the book's own files and chapters."""
    soup = BeautifulSoup(html, "html.parser")
    assert not soup.find_all(ACTIVE_TAGS), soup.find_all(ACTIVE_TAGS)[:3]
    for tag in soup.find_all(True):
        for name, value in tag.attrs.items():
            assert not name.lower().startswith("on"), (tag.name, name)
            if name.lower() in URL_ATTRIBUTES:
                for url in str(value).split():
                    url = url.removeprefix("resource:").removeprefix("chapter:")  # the book's own
                    assert ":" not in url.split("/")[0] and not url.startswith(("/", "../")), (name, url)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_has_its_expected_outcome(name: str, tmp_path: Path) -> None:
    path = HOSTILE / name
    db = open_database(tmp_path / "catalogue.db")
    kind, *expected = EXPECTED[name]
    try:
        book = read_epub(path, Settings(), checksum="1", source_name=path.name)
    except IngestError as error:
        assert kind == "rejected", f"rejected, but should import: {error}"
        assert error.msgid == REASONS[expected[0]], str(error)
        assert error.translated().strip() and "\n" not in str(error)
        return
    assert kind == "imported", f"imported, but should be rejected ({expected[0]})"
    title, chapters, phrase = expected
    add_book(db, book)
    assert db["books"].count == 1
    assert db.execute("SELECT title FROM books").fetchone()[0] == title
    rows = list(db["chapters"].rows)
    assert len(rows) == chapters if chapters is not None else len(rows) > 10
    html = "".join(row["html"] for row in rows)
    assert phrase in BeautifulSoup(html, "html.parser").get_text(" ")
    assert_nothing_active(html)


def test_every_corpus_file_has_an_expected_outcome() -> None:
    assert sorted(str(p.relative_to(HOSTILE)) for p in HOSTILE_FILES) == sorted(EXPECTED)
    assert {reason for kind, reason, *_ in EXPECTED.values() if kind == "rejected"} <= set(REASONS)


def test_a_rejection_changes_nothing(tmp_path: Path) -> None:
    db = open_database(tmp_path / "catalogue.db")
    _check_one(HOSTILE / "epubcheck-ocf/ocf-zip-valid.epub", db)
    for name, (kind, *_) in EXPECTED.items():
        if kind == "rejected":
            assert _check_one(HOSTILE / name, db)[0] == "rejected"
    assert _counts(db)["books"] == 1


def test_generated_attacks(generated: list[Path], listener, secret_file, tmp_path: Path) -> None:
    db = open_database(tmp_path / "catalogue.db")
    outcomes = {path.name: _check_one(path, db) for path in generated}
    assert outcomes == {
        "bomb-1gb-zeros.epub": ("rejected", "bomb-total"),
        # zipfile reads no further than the declared 1000 bytes, whose checksum is then wrong
        "bomb-size-lies.epub": ("rejected", "damaged"),
        "too-many-entries.epub": ("rejected", "too-many-entries"),
        "billion-laughs.epub": ("rejected", "entities"),
        "external-entity-file.epub": ("rejected", "entities"),
        "external-entity-http.epub": ("rejected", "entities"),
        "external-entity-opf-file.epub": ("rejected", "entities"),
        "external-entity-opf-http.epub": ("rejected", "entities"),
        "external-references.epub": ("imported", "Test Book"),
    }
    html = "".join(row["html"] for row in db["chapters"].rows)
    assert "remote" in html and "local" in html and "a link" in html
    assert "127.0.0.1" not in html and "file:" not in html and "<img" not in html
    assert_nothing_active(html)
    assert SECRET not in json.dumps(outcomes) + html
    assert listener.connections == 0


CHILD = """
import json, sys, time
from pathlib import Path
from accessible_lib.catalogue import add_book
from accessible_lib.db import open_database
from accessible_lib.ingest.epub import read_epub
from accessible_lib.ingest.errors import IngestError
from accessible_lib.settings import Settings
data = Path(sys.argv[1])
settings = Settings.from_env({}, data_dir=data)
db = open_database(settings.database_path)
for index, name in enumerate(sys.argv[2:]):
    started = time.monotonic()
    try:
        book = read_epub(Path(name), settings, checksum=str(index), source_name=Path(name).name)
        add_book(db, book)
        outcome = "imported"
    except IngestError as error:
        outcome = "rejected: " + str(error)
    print(json.dumps({"file": name, "outcome": outcome, "seconds": time.monotonic() - started}))
# The peak of this program's own memory: VmHWM belongs to the address space exec made, while ru_maxrss
# (and wait4's) also counts what the forking test process held before exec.
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"peak_kb": int(hwm.split()[1])}))
"""


@pytest.mark.slow
def test_whole_folder_in_one_process_stays_small_and_writes_nowhere_else(
    generated: list[Path], listener, secret_file, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    data = tmp_path / "data"
    files = [str(p) for p in HOSTILE_FILES + generated]
    corpus_before = sorted((p, p.stat().st_mtime_ns) for p in HOSTILE.rglob("*"))
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(empty), "TMPDIR": str(empty),
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(Path(__file__).parent.parent)}  # fmt: skip
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data), *files],
        cwd=empty,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    with child.stdout, child.stderr:
        stdout = child.stdout.read()
        stderr = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    assert child.returncode == 0, stderr.decode()[-2000:]
    *results, peak = [json.loads(line) for line in stdout.decode().splitlines()]
    assert [r["file"] for r in results] == files
    assert all(r["seconds"] < HANG_SECONDS for r in results)
    assert 20 * 1024 < peak["peak_kb"] < 300 * 1024, peak
    assert usage.ru_utime < 10 * 60  # a hang guard: the folder takes seconds of CPU
    assert list(empty.iterdir()) == []
    assert {p.name for p in data.iterdir()} <= {"catalogue.db", "catalogue.db-wal", "catalogue.db-shm"}
    assert sorted((p, p.stat().st_mtime_ns) for p in HOSTILE.rglob("*")) == corpus_before
    assert SECRET not in stdout.decode() + stderr.decode()
    assert listener.connections == 0
